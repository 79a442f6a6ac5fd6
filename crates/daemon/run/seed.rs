//! `[state] initial_snapshot`: a snapshot of replayed history (`credence replay --state DIR`)
//! that partitions with an empty changelog start from: a new deployment's day one.

use std::path::Path;
use std::sync::Arc;

use anyhow::Context as _;
use credence_detect::state::{Key, Owned, Seed};
use credence_finding::parts::{Part, PartOwned};
use credence_finding::pipeline::FindingSeed;
use credence_state::snapshot::{self, Reader};

use super::events::state::SeedLoaded;
use super::events::InternalEvent;
use super::metrics::Metrics;
use super::task::SeedState;

/// Reads the snapshot at `path` (a state directory or the file): baselines and their subjects'
/// open findings into the shared seeds, the other parts (peer profiles, population, clock) to be
/// copied into each seeded task. Refused when it is of another key.
pub fn load(path: &Path, fingerprint: u64, metrics: &Metrics) -> anyhow::Result<SeedState> {
    let file = if path.is_dir() { path.join(snapshot::FILE_NAME) } else { path.to_path_buf() };
    let mut reader = Reader::open(&file, fingerprint).context("state.initial_snapshot")?;
    let seed = Seed::default();
    let findings = FindingSeed::default();
    let mut parts = Vec::new();
    while let Some((part, value)) = reader.next_part().context("state.initial_snapshot")? {
        match (part, value) {
            (Part::Engine(Key::Baseline(k)), PartOwned::Engine(Owned::Baseline(b))) => seed.insert(k, b),
            (Part::Finding(k), PartOwned::Finding(f)) => findings.insert(k, *f),
            (part, value) => parts.push((part, value)),
        }
    }
    let stats = reader.stats();
    SeedLoaded { path: &file, baselines: seed.len(), damaged: stats.damaged, metrics }.emit();
    Ok(SeedState { baselines: Arc::new(seed), findings: Arc::new(findings), parts })
}
