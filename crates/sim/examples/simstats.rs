//! Prints stream sizes, label counts and generation speed for a configuration.
//!
//! `cargo run --release -p credence-sim --example simstats -- [small] [--seed=N] [--labels] [--build-only]`

use std::collections::BTreeMap;
use std::time::Instant;

use credence_sim::{SimConfig, SimItem, Simulator};

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut cfg = if args.iter().any(|a| a == "small") { SimConfig::small() } else { SimConfig::default() };
    if let Some(seed) = args.iter().find_map(|a| a.strip_prefix("--seed=")) {
        cfg.seed = seed.parse().expect("--seed=N");
    }
    if args.iter().any(|a| a == "--build-only") {
        let sim = Simulator::new(cfg);
        println!("{}", serde_json::to_string(&sim.stats()).unwrap_or_default());
        return;
    }
    let t0 = Instant::now();
    let sim = Simulator::new(cfg.clone());
    let build = t0.elapsed();
    println!("config: {} credentials, {} days; built in {build:?}", cfg.credentials, cfg.days);
    println!("stats: {}", serde_json::to_string(&sim.stats()).unwrap_or_default());
    let labels = sim.truth().labels.len();
    let truth = sim.truth().clone();
    let t1 = Instant::now();
    let (mut events, mut lifecycle, mut labelled) = (0u64, 0u64, vec![0u64; labels]);
    let mut per_day: BTreeMap<i64, u64> = BTreeMap::new();
    for item in sim {
        match item {
            SimItem::Event(e) => {
                events += 1;
                *per_day.entry((e.time_ms() - cfg.start_ms) / 86_400_000).or_default() += 1;
                if let Some(l) = e.label() {
                    labelled[l as usize] += 1;
                }
            }
            SimItem::Lifecycle(_) => lifecycle += 1,
        }
    }
    let dt = t1.elapsed();
    println!(
        "events: {events}, lifecycle: {lifecycle}, in {dt:?} = {:.2} M events/s",
        events as f64 / dt.as_secs_f64() / 1e6
    );
    println!("per day: {:?}", per_day.values().collect::<Vec<_>>());
    if args.iter().any(|a| a == "--labels") {
        for l in &truth.labels {
            println!(
                "{:>3} {:<22} ev={:<6} inj={:<5} {} .. {}  {}",
                l.id,
                l.kind.as_str(),
                labelled[l.id as usize],
                l.injected_events,
                credence_event::time::format_rfc3339_ms(l.start_ms),
                credence_event::time::format_rfc3339_ms(l.end_ms),
                l.detail
            );
        }
    }
}
