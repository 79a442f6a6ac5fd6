//! `credence demo` (the simulator through the full pipeline, with readable alerts and a scored
//! report) and `credence simulate` (the same stream written to disk).

use std::io::{self, Write};
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use credence_detect::{DetectConfig, Engine, KeySpace, Severity};
use credence_event::lifecycle::LifecycleEvent;
use credence_event::{Decoder, Format, Pseudonymizer};
use credence_finding::pipeline::{Output, Pipeline};
use credence_finding::{aggregate::DEFAULT_WINDOW_MS, Activity, Aggregator, Finding};
use credence_sim::eval::{Evaluation, ObservedFinding, Report};
use credence_sim::{SimConfig, SimItem, Simulator};

use crate::progress::Progress;
use crate::render::alert_text;
use crate::replay::summary_text;

/// Simulator size options shared by `demo` and `simulate`.
#[derive(Debug, clap::Args)]
pub struct SimArgs {
    /// Credentials in the simulated population.
    #[arg(long, default_value_t = SimConfig::default().credentials)]
    pub credentials: u32,
    /// Simulated days.
    #[arg(long, default_value_t = SimConfig::default().days)]
    pub days: u32,
    /// Incidents injected per kind.
    #[arg(long, default_value_t = SimConfig::default().incidents_per_kind)]
    pub incidents_per_kind: u32,
    /// Random seed (same seed, same stream).
    #[arg(long, default_value_t = SimConfig::default().seed)]
    pub seed: u64,
    /// Simulate world N instead of the demo's: its own archetype mix, operation vocabulary,
    /// activity level and attack repertoire, drawn from N (which is also the seed).
    #[arg(long, conflicts_with = "seed")]
    pub world: Option<u64>,
}

impl SimArgs {
    fn config(&self) -> SimConfig {
        let base = self.world.map_or_else(|| SimConfig { seed: self.seed, ..SimConfig::default() }, SimConfig::world);
        SimConfig {
            credentials: self.credentials,
            days: self.days,
            incidents_per_kind: self.incidents_per_kind,
            ..base
        }
    }
}

/// `credence demo` arguments.
#[derive(Debug, clap::Args)]
pub struct DemoArgs {
    #[command(flatten)]
    pub sim: SimArgs,
    /// Print every new finding in full (by default Low findings get one line each).
    #[arg(long)]
    pub verbose: bool,
    /// Print no alerts, only the report.
    #[arg(long)]
    pub quiet: bool,
    /// After the report, print the findings that match no injected incident (false alarms, and
    /// findings on benign confounders).
    #[arg(long)]
    pub show_unmatched: bool,
    /// Also write the evaluation report as JSON to this file.
    #[arg(long)]
    pub report_json: Option<PathBuf>,
}

/// `credence simulate` arguments.
#[derive(Debug, clap::Args)]
pub struct SimulateArgs {
    #[command(flatten)]
    pub sim: SimArgs,
    /// Directory to write `events.ocsf.jsonl`, `lifecycle.jsonl` and the truth table into.
    #[arg(long)]
    pub out: PathBuf,
}

/// Detection settings for the simulator's streams: the defaults. (Until issue 19 the dormancy
/// threshold was set to the simulator's; dormancy is now judged against each credential's own
/// cadence above the default floor, and a world's silences are not told to the detector.)
pub fn demo_detect_config(_sim: &SimConfig) -> DetectConfig {
    DetectConfig::default()
}

/// Calls `g` with a finding as the evaluation sees it.
fn observed<R>(f: &Finding, g: impl FnOnce(&ObservedFinding<'_>) -> R) -> R {
    let detectors: Vec<&str> = f.detectors().map(|d| d.as_str()).collect();
    g(&ObservedFinding {
        credential: f.credential,
        subject: f.subject,
        first_time_ms: f.first_ms,
        last_time_ms: f.last_ms,
        severity: f.severity.id(),
        detectors: &detectors,
    })
}

/// Runs the simulator's stream through a pipeline, handing every output to `on_output`. Returns
/// the evaluation report against the simulator's truth. Shared by `demo` and the detection tests.
pub fn evaluate(
    sim: Simulator,
    pseudonymizer: &Pseudonymizer,
    mut on_event: impl FnMut(i64),
    mut on_output: impl FnMut(&Output<'_>, i64, &Evaluation),
) -> (Report, Pipeline) {
    let cfg = sim.config().clone();
    let mut eval = Evaluation::new(sim.truth(), pseudonymizer);
    let decoder = Decoder::new(Format::Ocsf, pseudonymizer.clone());
    let engine = Engine::new(demo_detect_config(&cfg), KeySpace::from_pseudonymizer(pseudonymizer));
    let mut pipeline = Pipeline::new(decoder, engine, Aggregator::new(DEFAULT_WINDOW_MS, Severity::Low));
    let mut buf = Vec::with_capacity(1024);
    let mut handle = |o: Output<'_>, now: i64, eval: &mut Evaluation| {
        if let Output::Closed(f) = &o {
            observed(f, |x| eval.add(x));
        }
        on_output(&o, now, eval);
    };
    for item in sim {
        let now = item.time_ms();
        match item {
            SimItem::Event(e) => {
                on_event(now);
                // Through the real OCSF bytes, so the demo exercises the decoder too. The
                // simulator is the source: an event arrives at its own time, as with a live feed.
                e.write_json(&mut buf);
                pipeline.process_at(&buf, Some(now), &mut |o| handle(o, now, &mut eval));
            }
            SimItem::Lifecycle(l) => {
                let line = serde_json::to_string(&l.record()).expect("lifecycle records serialise");
                if let Ok(ev) = LifecycleEvent::decode(&line, pseudonymizer) {
                    pipeline.lifecycle(&ev);
                }
            }
        }
    }
    let end = cfg.end_ms();
    pipeline.finish(&mut |o| handle(o, end, &mut eval));
    (eval.report(), pipeline)
}

/// Runs the demo.
pub fn run_demo(args: DemoArgs) -> anyhow::Result<Report> {
    let cfg = args.sim.config();
    let sim = Simulator::new(cfg.clone());
    let truth = sim.truth().clone();
    eprintln!(
        "simulating {} credentials over {} days with {} incidents and {} benign confounders (seed {})",
        cfg.credentials,
        cfg.days,
        truth.incidents().count(),
        truth.confounders().count(),
        cfg.seed
    );
    let pseudonymizer = Pseudonymizer::insecure_demo();
    let span = (cfg.end_ms() - cfg.start_ms).max(1) as u64;
    let progress = Progress::simulated(span / 60_000);
    let started = Instant::now();
    let mut shown = 0u64;
    let mut unmatched = Vec::new();
    let start_ms = cfg.start_ms;
    let on_event = |now: i64| {
        progress.event(|| {
            let minute = ((now - start_ms).max(0) as u64) / 60_000;
            Some((minute, credence_event::time::format_rfc3339_ms(now)[..16].replace('T', " ")))
        });
    };
    let (report, pipeline) = evaluate(sim, &pseudonymizer, on_event, |o, _now, eval| {
        if let (true, Output::Closed(f)) = (args.show_unmatched, o) {
            let labels = observed(f, |x| eval.matches(x));
            let benign = labels.iter().all(|&l| truth.label(l).is_none_or(|x| x.kind.is_confounder()));
            if benign {
                unmatched.push(alert_text(&credence_finding::FindingUpdate::close(f.clone())));
            }
        }
        let Output::Finding(u) = o else { return };
        if args.quiet || u.activity != Activity::Create {
            return;
        }
        shown += 1;
        let f = &u.finding;
        // Alerts go to stdout (kept when piped); the progress bar to stderr, suspended meanwhile.
        let text = if args.verbose || f.severity >= Severity::Medium {
            alert_text(u)
        } else {
            format!(
                "[LOW] {} {} on {} ({})",
                credence_event::time::format_rfc3339_ms(f.first_ms),
                f.primary().title(),
                f.credential,
                f.principal.as_deref().unwrap_or("-")
            )
        };
        progress.suspend(|| println!("{}", text.trim_end()));
    });
    progress.finish();
    let secs = started.elapsed().as_secs_f64();
    let s = pipeline.summary();
    let mut err = io::stderr().lock();
    write!(err, "{}", summary_text(s, pipeline.engine().len()))?;
    writeln!(
        err,
        "processed {} events in {secs:.1} s ({:.0} events/s, decode + score + learn + aggregate, one thread)",
        s.events,
        s.events as f64 / secs.max(1e-9)
    )?;
    writeln!(err, "\n── detection quality against the simulator's truth ──\n{report}")?;
    if let Some(path) = &args.report_json {
        let json = serde_json::to_vec_pretty(&report).context("serialising the report")?;
        std::fs::write(path, json).with_context(|| format!("writing {}", path.display()))?;
    }
    if args.show_unmatched {
        writeln!(
            err,
            "── {} findings matching no injected incident (false alarms and confounders) ──",
            unmatched.len()
        )?;
        for u in &unmatched {
            writeln!(err, "{u}")?;
        }
    }
    Ok(report)
}

/// Writes the simulated stream to a directory.
pub fn run_simulate(args: SimulateArgs) -> anyhow::Result<()> {
    let cfg = args.sim.config();
    std::fs::create_dir_all(&args.out).with_context(|| format!("creating {}", args.out.display()))?;
    let stats = credence_sim::write_dir(&cfg, &args.out).with_context(|| format!("writing {}", args.out.display()))?;
    eprintln!("wrote {stats:?} to {}", args.out.display());
    Ok(())
}
