//! Credence simulator: a seeded, streaming generator of realistic, labelled API access events.
//!
//! A population of credentials (machine services, people, CI pipelines, B2B partners, mobile app
//! installs) generates heavy-tailed traffic with diurnal and weekly cycles. On top of it the
//! simulator injects labelled incidents (stolen keys, impossible travel, enumeration,
//! exfiltration, privilege escalation, ghost and dormant credentials, …) and benign confounders
//! (deploy address changes, a new endpoint for everyone, a global surge, travel) that a good
//! detector must not escalate.
//!
//! ```
//! use credence_sim::{SimConfig, SimItem, Simulator};
//!
//! let sim = Simulator::new(SimConfig { credentials: 50, days: 6, ..SimConfig::small() });
//! let incidents = sim.truth().incidents().count();
//! for item in sim.take(100) {
//!     if let SimItem::Event(e) = item {
//!         let line = serde_json::to_string(&e.record()).unwrap();
//!         assert!(line.contains("\"class_uid\":6003"));
//!     }
//! }
//! # let _ = incidents;
//! ```
//!
//! # Stream
//!
//! [`Simulator`] is an iterator of [`SimItem`]s in non-decreasing time order: [`SimEvent`]s (one
//! OCSF API Activity record each, via [`SimEvent::record`]) and [`SimLifecycle`] records
//! (`created`, `revoked`, `expired`, `rotated`, via [`SimLifecycle::record`]). [`write_dir`]
//! writes `events.ocsf.jsonl`, `lifecycle.jsonl` and `truth.json`.
//!
//! # Truth
//!
//! [`Simulator::truth`] lists every scenario up front ([`Label`]: kind, raw credential ids,
//! rolled-up sessions for temporary keys, principal, peer group, window). Events that belong to a
//! scenario carry its id ([`SimEvent::label`]). `dormant_reactivation` labels assume a dormancy
//! threshold of [`SimConfig::dormancy_days`] (default 7): dormant credentials go silent on day
//! 1–2 and return at least that long (by default at least 10 days) later. [`eval`] scores a
//! detector's findings against the truth.
//!
//! Everything is synthetic: credential ids have real-looking shapes (`AKIA…`, `ASIA…`,
//! `ck_live_…`) but are random; AS numbers are those of well-known networks while the addresses
//! are random public-looking prefixes allocated per run.

mod archetypes;
mod behaviour;
pub mod catalogue;
mod config;
pub mod eval;
pub mod geo;
mod item;
mod names;
mod population;
mod schedule;
mod script;
mod stream;
mod text;
mod truth;
mod write;

pub use config::{ArchetypeMix, SimConfig, DAY_MS, DEFAULT_START_MS, HOUR_MS, MINUTE_MS};
pub use item::{SimEvent, SimItem, SimLifecycle};
pub use population::Archetype;
pub use stream::{PopulationStats, Simulator};
pub use truth::{Label, ScenarioKind, Truth};
pub use write::{write_dir, write_streams, WriteStats};
