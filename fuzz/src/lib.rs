//! The fuzz targets' bodies (shared with the stable regression test).
#[path = "../targets.rs"]
mod targets;
pub use targets::*;
