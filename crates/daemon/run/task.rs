//! Partition tasks (Kafka Streams' `StreamTask`): one per assigned input partition, owning that
//! partition's pipeline (decoder, engine with its baselines, peer profiles and population view,
//! open findings, clock) behind `&mut`. Created when the partition is assigned, its state first
//! read back from the partition's changelog ([`super::restore`]); moved to the scoring worker it
//! is placed on; closed when the partition is revoked.

use std::sync::Arc;

use credence_detect::state::Seed;
use credence_detect::{Catalogue, DetectConfig, Engine, KeySpace, Severity};
use credence_event::{Decoder, Pseudonymizer};
use credence_finding::parts::{Part, PartOwned};
use credence_finding::pipeline::{FindingSeed, Pipeline};
use credence_finding::Aggregator;

use super::offsets::PartitionKey;

/// One assigned input partition's work and state.
#[derive(Debug)]
pub struct Task {
    /// The partition.
    pub key: PartitionKey,
    /// Its assignment epoch.
    pub epoch: u32,
    /// Decode, score, learn, fold into findings.
    pub pipeline: Pipeline,
    /// Event time of the last lifecycle record queued into the pipeline.
    pub lifecycle_horizon: i64,
}

impl Task {
    /// Baselines held: the task's weight when placing it.
    pub fn load(&self) -> usize {
        self.pipeline.engine().len()
    }
}

/// The initial snapshot, for partitions whose changelog is empty: its baselines (and their
/// subjects' open findings), taken by the first task that meets each subject, and the rest of its
/// parts (peer profiles, population, clock), copied into each such task.
#[derive(Debug)]
pub struct SeedState {
    /// Baselines to take.
    pub baselines: Arc<Seed>,
    /// Their subjects' open findings, taken with them.
    pub findings: Arc<FindingSeed>,
    /// Every other part.
    pub parts: Vec<(Part, PartOwned)>,
}

/// Builds tasks' pipelines: what every task of the process shares.
#[derive(Debug)]
pub struct TaskFactory {
    /// Decoders, by input.
    pub decoders: Vec<Decoder>,
    /// Detection settings.
    pub detect: DetectConfig,
    /// The operation risk catalogue (each engine gets the same rules, with a cache of its own).
    pub catalogue: Catalogue,
    /// For the value keys.
    pub pseudonymizer: Pseudonymizer,
    /// Finding window, ms.
    pub window_ms: i64,
    /// Lowest severity reported.
    pub min_severity: Severity,
    /// Whether changes are tracked for a changelog.
    pub changelog: bool,
    /// The initial snapshot, if any.
    pub seed: Option<SeedState>,
    /// The GeoIP databases, if configured: each pipeline gets an enricher (a cache of its own).
    pub geoip: Option<credence_event::geoip::GeoIp>,
}

impl TaskFactory {
    /// An empty pipeline for input `input`.
    pub fn pipeline(&self, input: usize) -> Pipeline {
        let keys = KeySpace::from_pseudonymizer(&self.pseudonymizer);
        let engine = Engine::with_catalogue(self.detect.clone(), keys, self.catalogue.clone());
        let mut pipeline =
            Pipeline::new(self.decoders[input].clone(), engine, Aggregator::new(self.window_ms, self.min_severity));
        if let Some(g) = &self.geoip {
            pipeline.set_enricher(g.enricher());
        }
        pipeline
    }

    /// Starts a pipeline whose changelog was empty from the seed, if there is one; true if so.
    pub fn seed(&self, pipeline: &mut Pipeline) -> bool {
        let Some(seed) = &self.seed else { return false };
        for (part, value) in &seed.parts {
            // Checked against this key space when the seed was loaded.
            let _ = pipeline.restore(*part, Some(value.clone()));
        }
        pipeline.set_seed(seed.baselines.clone(), seed.findings.clone());
        true
    }
}
