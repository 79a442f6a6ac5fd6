//! `credence run`'s admin server against a real Apache Kafka broker (tests/kafka/kafka.sh),
//! through the real binary: `/metrics` counts what the daemon did (events scored, dead letters,
//! decode errors by type, findings, deliveries, commits), `/healthz` answers, `/readyz` turns 200
//! once the consumer has its partitions and 503 once shutdown begins.

mod support;

use std::collections::BTreeMap;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::Duration;

use support::stream::{self, Kind};
use support::{io, kafka, wait_for, wait_until_consumed, Daemon, TestTopics};

/// `GET path`: status and body, or `None` if nothing listens yet.
fn get(port: u16, path: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(s, "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").ok()?;
    let mut text = String::new();
    s.read_to_string(&mut text).ok()?;
    let status = text.split(' ').nth(1)?.parse().ok()?;
    let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    Some((status, body))
}

/// Samples of the Prometheus text format: `name{labels}` → value.
fn samples(body: &str) -> BTreeMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .filter_map(|l| {
            let (k, v) = l.rsplit_once(' ')?;
            Some((k.to_string(), v.parse().ok()?))
        })
        .collect()
}

/// The sum of every sample of `name` whose labels contain each of `labels` (`k="v"`).
fn sum(s: &BTreeMap<String, f64>, name: &str, labels: &[&str]) -> f64 {
    s.iter()
        .filter(|(k, _)| k.as_str() == name || k.starts_with(&format!("{name}{{")))
        .filter(|(k, _)| labels.iter().all(|l| k.contains(l)))
        .map(|(_, v)| v)
        .sum()
}

#[test]
fn metrics_and_health_endpoints_report_the_daemon() {
    let k = kafka();
    let t = TestTopics::create(&k.env, "metrics", 2);
    let s0 = stream::build("metrics", 600, 10, 9);
    let mut s = s0.clone();
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &s.lifecycle);
    io::produce(&k.env.bootstrap, &t.input, &mut s.items, None);
    let bad: Vec<&stream::Item> = s.items.iter().filter(|i| matches!(i.kind, Kind::Poison(_))).collect();
    let good = s.items.len() - bad.len();
    let ghosts = s.items.iter().filter(|i| i.kind == Kind::Ghost).count();
    assert!(!bad.is_empty() && ghosts > 0);

    // Two scoring workers over the two partitions: every count is the sum of both.
    let mut daemon = Daemon::start(&t.config(&k.env, ""), &[("CREDENCE_DAEMON__SCORING_WORKERS", "2")]);
    let port: u16 = daemon.admin_addr().rsplit_once(':').and_then(|(_, p)| p.parse().ok()).expect("admin port");
    let health = wait_for(Duration::from_secs(30), || get(port, "/healthz"));
    assert_eq!(health.map(|h| h.0), Some(200), "/healthz; log:\n{}", daemon.logs());
    wait_until_consumed(&k.env, &mut daemon, &t, Duration::from_secs(60));
    let ready = wait_for(Duration::from_secs(20), || get(port, "/readyz").filter(|r| r.0 == 200));
    assert!(ready.is_some(), "/readyz not 200 once consumed: {:?}; log:\n{}", get(port, "/readyz"), daemon.logs());

    // Counters move on the hot path; the baseline gauges within their 10 s refresh.
    let scrape = || samples(&get(port, "/metrics").expect("/metrics").1);
    let m = wait_for(Duration::from_secs(30), || {
        let m = scrape();
        let lag = m.keys().filter(|k| k.starts_with("credence_consumer_lag_messages{")).count();
        (sum(&m, "credence_baselines_active", &[]) > 0.0 && lag == 2).then_some(m)
    })
    .unwrap_or_else(|| panic!("baseline and lag gauges never refreshed: {:#?}", scrape()));
    let topic = format!("topic=\"{}\"", t.input);
    assert_eq!(sum(&m, "credence_consumer_lag_messages", &[&topic]), 0.0, "everything consumed: no lag");
    assert_eq!(
        sum(&m, "credence_messages_consumed_total", &[&topic, "format=\"ocsf\""]),
        s.items.len() as f64,
        "{m:#?}"
    );
    assert_eq!(sum(&m, "credence_events_decoded_total", &[&topic]), good as f64);
    assert_eq!(sum(&m, "credence_events_scored_total", &[&topic]), good as f64);
    assert_eq!(sum(&m, "credence_messages_dead_lettered_total", &[]), bad.len() as f64);
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for item in &bad {
        if let Kind::Poison(t) = item.kind {
            *by_type.entry(t).or_default() += 1;
        }
    }
    for (error_type, n) in &by_type {
        let label = format!("error_type=\"{error_type}\"");
        assert_eq!(sum(&m, "credence_decode_errors_total", &[&label]), *n as f64, "{error_type}: {m:#?}");
    }
    assert_eq!(
        sum(&m, "credence_findings_raised_total", &["detector=\"ghost_credential\""]),
        ghosts as f64,
        "one ghost finding per ghost use"
    );
    assert_eq!(sum(&m, "credence_alerts_delivered_total", &["sink=\"kafka\""]), ghosts as f64);
    assert_eq!(sum(&m, "credence_alerts_delivered_total", &["sink=\"dead_letter\""]), bad.len() as f64);
    assert_eq!(sum(&m, "credence_alerts_failed_total", &[]), 0.0);
    assert!(sum(&m, "credence_commits_total", &["result=\"ok\""]) > 0.0);
    assert_eq!(sum(&m, "credence_consumer_partitions_assigned", &[]), 2.0);
    assert_eq!(sum(&m, "credence_event_processing_seconds_count", &[]), s.items.len() as f64);
    assert_eq!(sum(&m, "credence_event_end_to_end_seconds_count", &[]), s.items.len() as f64);
    // Quantiles of the last minute (hdrhistogram), set with the gauges: present and ordered.
    for family in ["credence_event_processing_quantile_seconds", "credence_event_end_to_end_quantile_seconds"] {
        let q: Vec<f64> =
            ["0.5", "0.9", "0.99", "0.999"].iter().map(|q| sum(&m, family, &[&format!("quantile=\"{q}\"")])).collect();
        assert_eq!(m.keys().filter(|k| k.starts_with(&format!("{family}{{"))).count(), 4, "{family}");
        assert!(q.iter().all(|v| v.is_finite() && *v >= 0.0) && q.windows(2).all(|w| w[0] <= w[1]), "{family}: {q:?}");
    }
    assert!(sum(&m, "credence_event_processing_quantile_seconds", &["quantile=\"0.5\""]) > 0.0);
    assert_eq!(sum(&m, "credence_baselines_capacity", &[]), 1_000_000.0, "the default max_credentials");
    assert_eq!(sum(&m, "credence_build_info", &[&format!("version=\"{}\"", env!("CARGO_PKG_VERSION"))]), 1.0);
    assert!(sum(&m, "credence_memory_limit_bytes", &[]) > 0.0, "a limit, or +Inf");
    assert!(sum(&m, "credence_baselines", &[]) > 0.0, "baselines by state");
    assert!(sum(&m, "credence_process_resident_memory_bytes", &[]) > 0.0, "process metrics");
    assert!(m.keys().any(|k| k.starts_with("credence_process_cpu_seconds_total")));
    // No label carries a credential or an address.
    let body = get(port, "/metrics").expect("/metrics").1;
    assert!(!body.contains("ghost-metrics-") && !body.contains("198.51."), "a credential or address in a label");
    assert_eq!(get(port, "/nope").map(|r| r.0), Some(404));

    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()), "{}", daemon.logs());
}
