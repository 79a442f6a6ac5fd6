//! OCSF Detection Findings: folding per-event verdicts into findings ([`Aggregator`]), rendering
//! them as OCSF 1.8 Detection Finding (class 2004) JSON ([`ocsf`]), and checking JSON against the
//! OCSF schema ([`schema`]). [`pipeline::Pipeline`] composes decoder, engine and aggregator into
//! the synchronous per-event path every command shares.

pub mod aggregate;
pub mod event_time;
pub mod incident;
pub mod ocsf;
pub mod parts;
pub mod pipeline;
pub mod schema;
pub mod suppress;

pub use aggregate::{Activity, Aggregator, Change, Context, Finding, FindingUpdate, ResourceRef};
