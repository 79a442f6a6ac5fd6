//! `credence replay`: stream files (or stdin) of one format through the engine on event time and
//! write findings as OCSF JSON lines.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::PathBuf;

use anyhow::Context as _;
use credence_detect::{DetectConfig, Engine, KeySpace, Severity};
use credence_event::lifecycle::LifecycleEvent;
use credence_event::{DecodeError, Decoder, FieldMapping, Format, Pseudonymizer};
use credence_finding::incident::{IncidentUpdate, Incidents};
use credence_finding::ocsf::render_incident;
use credence_finding::ocsf::{render, Product};
use credence_finding::suppress::Suppressions;
use credence_finding::{Aggregator, FindingUpdate};
use credence_state::snapshot;

use crate::input::{self, for_each_message};
use crate::pipeline::{Output, Pipeline, Summary};
use crate::render::alert_text;

/// Decode errors printed individually; the rest are only counted in the summary.
const MAX_SHOWN_ERRORS: u32 = 20;

/// `credence replay` arguments.
#[derive(Debug, clap::Args)]
pub struct ReplayArgs {
    /// Input format: ocsf, cloudtrail, kong, envoy or mapped.
    #[arg(long, short)]
    pub format: Format,
    /// Lifecycle records (JSON lines: time, credential_uid, action, reason), applied in event-time
    /// order.
    #[arg(long)]
    pub lifecycle: Option<PathBuf>,
    /// Write findings here instead of stdout.
    #[arg(long, short)]
    pub out: Option<PathBuf>,
    /// Field mapping for `--format mapped` (TOML: one JSON pointer per canonical field).
    #[arg(long)]
    pub mapping: Option<PathBuf>,
    /// File holding the pseudonymisation key (else CREDENCE_PSEUDONYM_KEY; else a public demo key,
    /// which only suits already-anonymised data).
    #[arg(long)]
    pub key_file: Option<PathBuf>,
    /// Detection settings (TOML, the `[detect]` table of the daemon configuration).
    #[arg(long)]
    pub detect_config: Option<PathBuf>,
    /// Lowest severity reported: informational, low, medium, high, critical.
    #[arg(long, default_value = "low", value_parser = parse_severity)]
    pub min_severity: Severity,
    /// Write findings as readable text instead of OCSF JSON.
    #[arg(long)]
    pub human: bool,
    /// State directory: start from the snapshot in it, if any, and save the state there at the
    /// end (open findings stay open), so a later replay (or `credence run`, through
    /// `[state] initial_snapshot`) continues where this one stopped.
    #[arg(long)]
    pub state: Option<PathBuf>,
    /// GeoIP city database (MaxMind format, `.mmdb`: GeoLite2-City, DB-IP City Lite, ...): the
    /// country, city and coordinates of events whose log carries an IP address only.
    #[arg(long)]
    pub geoip_city: Option<PathBuf>,
    /// GeoIP ASN database (`.mmdb`: GeoLite2-ASN, DB-IP ASN Lite, ...): the autonomous system and
    /// its organisation.
    #[arg(long)]
    pub geoip_asn: Option<PathBuf>,
    /// Suppression rules (TOML, `[[rule]]` tables; the daemon's `[suppressions] file`): findings
    /// they cover are written with status Suppressed. Rules apply by event time, so a replay of
    /// last month applies them as they stood then.
    #[arg(long)]
    pub suppressions: Option<PathBuf>,
    /// Also write incidents: findings of one principal at most `--incident-window-secs` apart
    /// roll up into one OCSF Incident Finding (class 2005), written beside the findings.
    #[arg(long)]
    pub incidents: bool,
    /// With `--incidents`: how far apart two findings of a principal may be to be one incident,
    /// seconds.
    #[arg(long, default_value_t = 86_400)]
    pub incident_window_secs: u64,
    /// Also write the run's summary as JSON to this file: messages, events, findings, and every
    /// record not replayed, by reason (decode errors by type, records set aside for their time).
    #[arg(long)]
    pub report_json: Option<PathBuf>,
    /// Input files, or `-` for stdin; gzip-compressed ones (CloudTrail's `.json.gz`) are read as
    /// they are.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

/// Parses a severity name.
pub fn parse_severity(s: &str) -> Result<Severity, String> {
    Severity::ALL
        .into_iter()
        .find(|v| v.as_str() == s)
        .ok_or_else(|| format!("unknown severity `{s}` (informational, low, medium, high, critical)"))
}

/// Loads detection settings from a TOML file whose top level is the `[detect]` table or holds one.
pub fn load_detect_config(path: Option<&PathBuf>) -> anyhow::Result<DetectConfig> {
    let Some(p) = path else { return Ok(DetectConfig::default()) };
    let text = std::fs::read_to_string(p).with_context(|| format!("reading {}", p.display()))?;
    let table: toml::Table = toml::from_str(&text).with_context(|| format!("parsing {}", p.display()))?;
    let inner = table.get("detect").cloned().unwrap_or(toml::Value::Table(table));
    let cfg: DetectConfig =
        inner.try_into().with_context(|| format!("invalid detection settings in {}", p.display()))?;
    let problems = cfg.problems();
    anyhow::ensure!(problems.is_empty(), "invalid detection settings: {}", problems.join("; "));
    Ok(cfg)
}

/// Runs a replay. Returns the summary.
pub fn run(args: ReplayArgs) -> anyhow::Result<Summary> {
    let pseudonymizer = match crate::keys::load(args.key_file.as_deref())? {
        Some(p) => p,
        None => {
            eprintln!("warning: no pseudonymisation key given (--key-file or CREDENCE_PSEUDONYM_KEY); using the public demo key");
            Pseudonymizer::insecure_demo()
        }
    };
    let decoder = match args.format {
        Format::Mapped => {
            let path = args.mapping.as_ref().context("--format mapped needs --mapping FILE")?;
            let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
            let mapping: FieldMapping = toml::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
            mapping.validate().map_err(|e| anyhow::anyhow!("invalid mapping {}: {e}", path.display()))?;
            Decoder::mapped(mapping, pseudonymizer.clone())
        }
        f => Decoder::new(f, pseudonymizer.clone()),
    };
    let cfg = load_detect_config(args.detect_config.as_ref())?;
    let catalogue = crate::config::read_catalogue(cfg.catalogue_file.as_deref())
        .map_err(|p| anyhow::anyhow!("invalid operation risk catalogue:\n{}", p.join("\n")))?;
    let engine = Engine::with_catalogue(cfg, KeySpace::from_pseudonymizer(&pseudonymizer), catalogue);
    let format = decoder.format();
    let mut pipeline = Pipeline::new(
        decoder,
        engine,
        Aggregator::new(credence_finding::aggregate::DEFAULT_WINDOW_MS, args.min_severity),
    );
    if let Some(geoip) = crate::config::open_geoip(args.geoip_city.clone(), args.geoip_asn.clone())? {
        pipeline.set_enricher(geoip.enricher());
    }
    // History: nothing in it can be dated after now (and the stream's own clock bounds the rest).
    pipeline.set_wall_clock(wall_clock_ms());
    if let Some(dir) = &args.state {
        load_state(dir, &mut pipeline)?;
    }

    if let Some(path) = &args.lifecycle {
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let mut records = Vec::new();
        let mut n = 0u64;
        // Framed as the events are: a bad line (cut, not UTF-8) costs that record only.
        for_each_message(input::open(file)?, |m| {
            n += 1;
            let decoded = std::str::from_utf8(m)
                .map_err(|e| DecodeError::InvalidUtf8(e.valid_up_to()))
                .and_then(|line| LifecycleEvent::decode(line, &pseudonymizer));
            match decoded {
                Ok(ev) => records.push(LifecycleEvent {
                    time_ms: ev.time_ms,
                    credential: ev.credential,
                    action: ev.action,
                    reason: ev.reason.map(|r| std::borrow::Cow::Owned(r.into_owned())),
                }),
                Err(e) => eprintln!("warning: {}: record {n}: skipped lifecycle record: {e}", path.display()),
            }
        })
        .with_context(|| format!("reading {}", path.display()))?;
        pipeline.schedule_lifecycle(records);
    }

    let mut out: Box<dyn Write> = match &args.out {
        Some(p) => Box::new(BufWriter::new(File::create(p).with_context(|| format!("creating {}", p.display()))?)),
        None => Box::new(BufWriter::new(io::stdout().lock())),
    };
    let suppressions = match &args.suppressions {
        Some(p) => crate::config::read_suppressions(p)
            .map_err(|e| anyhow::anyhow!("invalid suppression rules:\n{}", e.join("\n")))?,
        None => Suppressions::default(),
    };
    let mut suppressed = 0u64;
    let mut incidents = (args.incidents && args.incident_window_secs > 0)
        .then(|| Incidents::new(args.incident_window_secs.saturating_mul(1000).min(i64::MAX as u64) as i64));
    let mut incidents_opened = 0u64;
    let product = Product::default();
    let mut write_error: Option<io::Error> = None;
    let human = args.human;
    let mut shown_errors = 0u32;
    let mut emit = |o: Output<'_>| {
        let skipped = match &o {
            Output::DecodeError(e) => Some(e.to_string()),
            Output::Skipped(s) => Some(format!("{} ({})", s, s.reason.as_str())),
            _ => None,
        };
        if let Some(why) = skipped {
            shown_errors += 1;
            if shown_errors <= MAX_SHOWN_ERRORS {
                eprintln!("warning: skipped a record: {why}");
            }
        }
        let u = match o {
            Output::Finding(u) => Some(u),
            // The close record, with the finding's final counts.
            Output::Closed(f) => Some(FindingUpdate::close(f)),
            Output::DecodeError(_) | Output::Skipped(_) => None,
        };
        if let Some(mut u) = u {
            u.suppressed = suppressions.check(&u.finding);
            suppressed += u64::from(u.suppressed.is_some());
            let r = if human {
                out.write_all(alert_text(&u).as_bytes())
            } else {
                write_json(&mut out, &render(&u, &product))
            };
            if let Err(e) = r {
                write_error.get_or_insert(e);
            }
            for iu in incidents.as_mut().map(|i| i.observe(&u)).unwrap_or_default() {
                incidents_opened += u64::from(iu.activity == credence_finding::Activity::Create);
                if let Err(e) = write_incident(&mut out, &iu, human, &product) {
                    write_error.get_or_insert(e);
                }
            }
        }
    };
    // A file that cannot be opened, or read to its end (a truncated download among a bucket's
    // files), is reported and the others are still replayed; the run fails at its end.
    let mut unreadable = 0usize;
    let progress = crate::progress::Progress::files(&args.files);
    // Inputs of which not one record could be read, each with what it looks like.
    let mut unusable = Vec::new();
    for (i, path) in args.files.iter().enumerate() {
        let before = pipeline.summary().clone();
        let mut first: Option<Vec<u8>> = None;
        let read = (|| -> anyhow::Result<u64> {
            let reader = if path.as_os_str() == "-" {
                input::open(io::stdin().lock())
            } else {
                let f = File::open(path).context("opening")?;
                input::open(progress.wrap(f))
            };
            Ok(for_each_message(reader?, |m| {
                progress.event(|| None);
                if first.is_none() {
                    first = Some(m.to_vec());
                }
                pipeline.process(m, &mut emit)
            })?)
        })();
        if let Err(e) = read {
            let others = if args.files.len() > i + 1 { "; going on with the other files" } else { "" };
            eprintln!("error: {}: {e:#}{others}", path.display());
            unreadable += 1;
        }
        let now = pipeline.summary();
        let errors = now.errors() - before.errors();
        let scored_or_held =
            (now.events + now.skips() + pipeline.held() as u64).saturating_sub(before.events + before.skips());
        if errors > 0 && scored_or_held == 0 {
            let hint = first.as_deref().map_or_else(String::new, |m| format_hint(m, format));
            let name = path.display();
            let msg = format!("{name}: none of its {errors} records could be read as {format}{hint}");
            eprintln!("error: {msg}");
            unusable.push(msg);
        }
    }
    progress.finish();
    match &args.state {
        // Open findings stay open, to go on in the next run.
        Some(_) => pipeline.suspend(&mut emit),
        None => pipeline.finish(&mut emit),
    }
    // Incidents are not kept in the state: the end of the input ends them.
    for iu in incidents.as_mut().map(Incidents::finish).unwrap_or_default() {
        if let Err(e) = write_incident(&mut out, &iu, human, &product) {
            write_error.get_or_insert(e);
        }
    }
    if let Some(e) = write_error {
        return Err(e).context("writing findings");
    }
    out.flush().context("writing findings")?;
    let summary = pipeline.summary().clone();
    eprint!("{}", summary_text(&summary, pipeline.engine().len()));
    if incidents.is_some() {
        eprintln!(
            "incidents: {incidents_opened} opened (findings of one principal within {} s of each other)",
            args.incident_window_secs
        );
    }
    if args.suppressions.is_some() {
        eprintln!("suppressed: {suppressed} finding records (written with status Suppressed)");
    }
    if let Some(dir) = &args.state {
        let saved = snapshot::save(dir, &pipeline)?;
        eprintln!(
            "state: saved {} records ({} baselines, {} open findings) in {} ({:.1} MB)",
            saved.records,
            pipeline.engine().len(),
            pipeline.aggregator().open_count(),
            dir.join(snapshot::FILE_NAME).display(),
            saved.bytes as f64 / 1e6
        );
    }
    if let Some(p) = &args.report_json {
        let report = summary_json(&summary, pipeline.engine().len(), unreadable, &unusable);
        std::fs::write(p, serde_json::to_vec_pretty(&report)?).with_context(|| format!("writing {}", p.display()))?;
    }
    if unreadable > 0 {
        anyhow::bail!("{unreadable} of {} input files could not be read to their end (above)", args.files.len());
    }
    if !unusable.is_empty() {
        anyhow::bail!("{} of {} inputs held no record readable as {format} (above)", unusable.len(), args.files.len());
    }
    Ok(summary)
}

/// One JSON line.
fn write_json(out: &mut dyn Write, v: &serde_json::Value) -> io::Result<()> {
    serde_json::to_writer(&mut *out, v).map_err(io::Error::from)?;
    out.write_all(b"\n")
}

/// An incident record, as OCSF or as text.
fn write_incident(out: &mut dyn Write, iu: &IncidentUpdate, human: bool, product: &Product) -> io::Result<()> {
    if human {
        out.write_all(crate::render::incident_text(iu).as_bytes())
    } else {
        write_json(out, &render_incident(iu, product))
    }
}

/// The machine's clock, epoch ms.
fn wall_clock_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(i64::MAX, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

/// What an input none of whose records could be read looks like, judged by its first message:
/// `": this looks like CloudTrail: try --format cloudtrail"`, or why its first record failed.
pub fn format_hint(first: &[u8], tried: Format) -> String {
    let probe = Pseudonymizer::insecure_demo();
    for f in [Format::Cloudtrail, Format::Ocsf, Format::Kong, Format::Envoy] {
        if f == tried {
            continue;
        }
        let mut out = Vec::new();
        Decoder::new(f, probe.clone()).decode(first, &mut out);
        if out.iter().any(Result::is_ok) {
            let name = match f {
                Format::Cloudtrail => "CloudTrail",
                Format::Ocsf => "OCSF API Activity",
                Format::Kong => "a Kong log",
                Format::Envoy => "an Envoy access log",
                Format::Mapped => "mapped",
            };
            return format!(": this looks like {name}: try --format {f}");
        }
    }
    let mut out = Vec::new();
    Decoder::new(tried, probe).decode(first, &mut out);
    match out.into_iter().find_map(Result::err) {
        // Its records are of the format's shape, each with a bad or missing field.
        Some(e @ (DecodeError::MissingField(_) | DecodeError::InvalidField { .. })) => format!(" (the first: {e})"),
        Some(e) => format!(" (the first: {e}); it looks like none of the supported formats either (ocsf, cloudtrail, kong, envoy; or --format mapped with a field mapping)"),
        None => String::new(),
    }
}

/// The summary as JSON (`--report-json`).
pub fn summary_json(s: &Summary, credentials: usize, unreadable: usize, unusable: &[String]) -> serde_json::Value {
    let by = |m: Vec<(&str, u64)>| {
        m.into_iter().map(|(k, v)| (k.to_string(), serde_json::Value::from(v))).collect::<serde_json::Map<_, _>>()
    };
    serde_json::json!({
        "messages": s.messages,
        "events": s.events,
        "lifecycle_records": s.lifecycle,
        "credentials": credentials,
        "event_time": s.time_range.map(|(a, b)| [credence_event::time::format_rfc3339_ms(a), credence_event::time::format_rfc3339_ms(b)]),
        "findings": s.findings(),
        "finding_updates": s.finding_updates,
        "findings_by_severity": by(s.findings_by_severity.iter().map(|(k, v)| (k.as_str(), *v)).collect()),
        "findings_by_detector": by(s.findings_by_detector.iter().map(|(k, v)| (k.as_str(), *v)).collect()),
        "not_replayed": {
            "decode_errors": by(s.decode_errors.iter().map(|(k, v)| (k.as_str(), *v)).collect()),
            "set_aside": by(s.skipped.iter().map(|(k, v)| (k.as_str(), *v)).collect()),
            "total": s.errors() + s.skips(),
        },
        "unreadable_files": unreadable,
        "unusable_inputs": unusable,
    })
}

/// Loads the snapshot in `dir`, if there is one, into the pipeline; says what it found. Damaged
/// records are skipped and counted; a snapshot cut short, of another key or of an unknown format
/// is an error.
fn load_state(dir: &std::path::Path, pipeline: &mut Pipeline) -> anyhow::Result<()> {
    let Some(loaded) = snapshot::load(dir, pipeline)? else {
        eprintln!("state: no snapshot in {} yet; starting afresh", dir.display());
        return Ok(());
    };
    let clock = pipeline.clock().latest_ms;
    eprintln!(
        "state: loaded {} records ({} baselines, {} open findings) from {}, event time {}",
        loaded.stats.records,
        pipeline.engine().len(),
        pipeline.aggregator().open_count(),
        dir.join(snapshot::FILE_NAME).display(),
        if clock == i64::MIN { "none yet".to_string() } else { credence_event::time::format_rfc3339_ms(clock) }
    );
    let lost = loaded.stats.lost() + loaded.mismatched;
    if loaded.stats.damaged > 0 || lost > 0 {
        eprintln!(
            "warning: state: the snapshot is damaged: {lost} of its {} records could not be read back and were skipped; the credentials they held start afresh",
            loaded.stats.written
        );
    }
    Ok(())
}

/// The end-of-run summary.
pub fn summary_text(s: &Summary, credentials: usize) -> String {
    use std::fmt::Write as _;
    let mut t = String::new();
    let _ = writeln!(t, "── credence summary ──");
    let _ = writeln!(
        t,
        "messages {}  events {}  lifecycle records {}  credentials {}",
        s.messages, s.events, s.lifecycle, credentials
    );
    if let Some((a, b)) = s.time_range {
        let _ = writeln!(
            t,
            "event time {} → {}",
            credence_event::time::format_rfc3339_ms(a),
            credence_event::time::format_rfc3339_ms(b)
        );
    }
    let sev: Vec<String> = s.findings_by_severity.iter().rev().map(|(k, v)| format!("{} {v}", k.as_str())).collect();
    let _ = writeln!(
        t,
        "findings {} ({})  updates {}",
        s.findings(),
        if sev.is_empty() { "none".into() } else { sev.join(", ") },
        s.finding_updates
    );
    if !s.findings_by_detector.is_empty() {
        let det: Vec<String> = s.findings_by_detector.iter().map(|(k, v)| format!("{} {v}", k.as_str())).collect();
        let _ = writeln!(t, "by detector: {}", det.join(", "));
    }
    let errs: Vec<String> = s.decode_errors.iter().map(|(k, v)| format!("{} {v}", k.as_str())).collect();
    let _ = writeln!(
        t,
        "decode errors {}{}",
        s.errors(),
        if errs.is_empty() { String::new() } else { format!(" ({})", errs.join(", ")) }
    );
    if s.skips() > 0 {
        let skips: Vec<String> = s.skipped.iter().map(|(k, v)| format!("{} {v}", k.as_str())).collect();
        let _ = writeln!(
            t,
            "set aside for their time {} ({}): not scored, the clock not moved",
            s.skips(),
            skips.join(", ")
        );
    }
    t
}
