//! `credence state`: look inside saved state.

use std::path::PathBuf;

use anyhow::Context as _;
use credence_detect::state::{Key, Owned};
use credence_detect::{DetectConfig, Engine, KeySpace};
use credence_event::Pseudonym;
use credence_finding::parts::{Part, PartOwned};
use credence_state::inspect::{profile, render_text};
use credence_state::snapshot::{self, Reader};

/// Credentials listed in a summary, most recently active first.
const RECENT_SHOWN: usize = 20;

/// `credence state` subcommands.
#[derive(Debug, clap::Subcommand)]
pub enum StateCommand {
    /// What a snapshot holds: a summary, or one credential's baseline (what is normal for it).
    Inspect(InspectArgs),
}

/// `credence state inspect` arguments.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    /// State directory (holding `credence.snapshot`), or the snapshot file itself.
    pub dir: PathBuf,
    /// A credential's raw identifier (API key id, access key id): pseudonymised with the key of
    /// `--key-file` or CREDENCE_PSEUDONYM_KEY, never stored or printed.
    #[arg(long, conflicts_with = "pseudonym")]
    pub credential: Option<String>,
    /// A credential's pseudonym (32 hex digits, as in findings).
    #[arg(long)]
    pub pseudonym: Option<String>,
    /// File holding the pseudonymisation key (for `--credential`).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long)]
    pub json: bool,
}

/// Runs a `credence state` subcommand.
pub fn run(cmd: StateCommand) -> anyhow::Result<()> {
    match cmd {
        StateCommand::Inspect(args) => inspect(args),
    }
}

fn inspect(args: InspectArgs) -> anyhow::Result<()> {
    let path = if args.dir.is_dir() { args.dir.join(snapshot::FILE_NAME) } else { args.dir.clone() };
    let wanted = match (&args.credential, &args.pseudonym) {
        (Some(raw), _) => {
            let p = crate::keys::load(args.key_file.as_deref())?
                .context("--credential needs the pseudonymisation key (--key-file or CREDENCE_PSEUDONYM_KEY)")?;
            Some(p.credential(raw))
        }
        (None, Some(hex)) => Some(Pseudonym::from_hex(hex).context("a pseudonym is 32 hex digits")?),
        (None, None) => None,
    };
    let file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader = Reader::new(std::io::BufReader::new(file), &path, None)?;
    // The values' keys need no key space to be read back: any will do for looking inside.
    let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([0; 16]));
    let (mut clock, mut findings, mut peers) = (None, 0u64, 0u64);
    // A temporary credential is judged under its session (the subject): an open finding on it
    // tells which.
    let mut subject_of = None;
    while let Some((part, value)) = reader.next_part()? {
        match (part, value) {
            (Part::Clock, PartOwned::Clock(c)) => clock = Some(c),
            (Part::Finding(_), PartOwned::Finding(f)) => {
                findings += 1;
                if wanted == Some(f.credential) {
                    subject_of = Some(f.subject);
                }
            }
            (Part::Engine(k @ Key::Peer(_)), PartOwned::Engine(v @ Owned::Peer(_))) => {
                peers += 1;
                let _ = engine.restore(k, Some(v));
            }
            (Part::Engine(k), PartOwned::Engine(v)) => {
                let _ = engine.restore(k, Some(v));
            }
            _ => {}
        }
    }
    let stats = reader.stats();
    let now_ms = clock.map_or(0, |c| c.latest_ms);
    match wanted {
        Some(wanted) => {
            let subject = match subject_of {
                Some(s) if engine.baseline(wanted).is_none() => s,
                _ => wanted,
            };
            let b = engine.baseline(subject).with_context(|| {
                format!("no baseline for credential {wanted} in {} (never seen, evicted, or a temporary credential judged under its session: inspect the session's pseudonym)", path.display())
            })?;
            let prof = profile(subject, b, engine.population(), engine.config(), now_ms);
            if args.json {
                println!("{}", serde_json::to_string_pretty(&prof)?);
            } else {
                print!("{}", render_text(&prof));
            }
        }
        None => {
            let states = engine.states(now_ms);
            let mut recent: Vec<_> = engine.baselines().collect();
            recent.sort_by_key(|(p, b)| (std::cmp::Reverse(b.last_seen), *p));
            recent.truncate(RECENT_SHOWN);
            let recent: Vec<serde_json::Value> = recent
                .iter()
                .map(|(p, b)| {
                    serde_json::json!({
                        "pseudonym": p.to_string(),
                        "state": b.state_at(engine.config(), credence_detect::baseline::to_secs(now_ms)).as_str(),
                        "events": b.events,
                        "last_seen": credence_event::time::format_rfc3339_ms(credence_detect::baseline::to_ms(b.last_seen)),
                    })
                })
                .collect();
            let summary = serde_json::json!({
                "file": path.display().to_string(),
                "event_time": clock.filter(|c| c.latest_ms != i64::MIN).map(|c| credence_event::time::format_rfc3339_ms(c.latest_ms)),
                "baselines": engine.len(),
                "by_state": states.iter().filter(|(_, n)| *n > 0).map(|(s, n)| (s.as_str(), *n)).collect::<std::collections::BTreeMap<_, _>>(),
                "peer_groups": peers,
                "open_findings": findings,
                "records": stats.records,
                "damaged": stats.damaged,
                "recently_active": recent,
            });
            if args.json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                println!("{}", path.display());
                println!("  event time     {}", summary["event_time"].as_str().unwrap_or("none"));
                let by_state: Vec<String> =
                    states.iter().filter(|(_, n)| *n > 0).map(|(s, n)| format!("{} {n}", s.as_str())).collect();
                println!("  baselines      {} ({})", engine.len(), by_state.join(", "));
                println!("  peer groups    {peers}");
                println!("  open findings  {findings}");
                println!("  records        {} ({} damaged, skipped)", stats.records, stats.damaged);
                println!("  recently active");
                for r in &recent {
                    println!(
                        "    {}  {:<11} {:>8} events, last {}",
                        r["pseudonym"].as_str().unwrap_or(""),
                        r["state"].as_str().unwrap_or(""),
                        r["events"],
                        r["last_seen"].as_str().unwrap_or("")
                    );
                }
                println!(
                    "  one credential: credence state inspect {} --credential RAW_ID | --pseudonym HEX",
                    args.dir.display()
                );
            }
        }
    }
    Ok(())
}
