//! The shipped Grafana dashboard and Prometheus rules (`helm/credence/files/`) on the real
//! Prometheus server (`tests/prometheus/setup.sh` installs it), scraping the real `credence run`
//! that reads a real Kafka broker (tests/kafka/kafka.sh): every metric the two files name
//! exists, every metric the daemon exports is on the dashboard, every expression evaluates (and
//! every panel shows data), every rule group is loaded and healthy, the counts are right, and
//! the alerts fire on the trouble in the stream (dead letters, decode errors) and on nothing else.

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;
use support::prometheus::{self, http_get, Prometheus};
use support::stream::{self, Kind};
use support::{io, kafka, repo, wait_for, wait_until_consumed, Daemon, TestTopics};

const DASHBOARD: &str = "helm/credence/files/dashboards/credence.json";
const RULES: &str = "helm/credence/files/rules/credence.rules.yaml";

/// Grafana's built-in variables, with values for a test that has scraped every second for
/// tens of seconds: rate windows hold many scrapes.
const BUILTINS: [(&str, &str); 4] =
    [("__rate_interval", "1m"), ("__interval", "15s"), ("__range", "5m"), ("__range_s", "300")];

/// Alerts whose state depends on how loaded the machine is (latency), left out of the check that
/// nothing but the expected alerts is active.
const TIMING_ALERTS: [&str; 2] = ["CredenceProcessingLatencyHigh", "CredenceDetectionDelayed"];

/// The alerts the test stream must trigger: it holds malformed messages (one in nine).
const EXPECTED_ALERTS: [&str; 2] = ["CredenceDeadLetters", "CredenceDecodeErrorRatioHigh"];

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// prometheus.yml: scrape the daemon every second as job `credence`, evaluate the shipped rules
/// every second.
fn config(admin: &str) -> String {
    format!(
        r#"
global:
  scrape_interval: 1s
  scrape_timeout: 1s
  evaluation_interval: 1s
rule_files:
  - "{rules}"
scrape_configs:
  - job_name: credence
    static_configs:
      - targets: ["{admin}"]
        # As Kubernetes service discovery labels a pod's series.
        labels:
          namespace: security
"#,
        rules = repo().join(RULES).display()
    )
}

/// Metric names in a PromQL expression: identifiers outside quoted strings that are `up` or
/// start with `credence_` (histogram series keep their `_bucket`/`_sum`/`_count` suffix: they
/// are series names too).
fn metric_names(expr: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut chars = expr.chars().peekable();
    let mut ident = String::new();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        if let Some(q) = quote {
            if c == '\\' {
                chars.next();
            } else if c == q {
                quote = None;
            }
            continue;
        }
        if c.is_ascii_alphanumeric() || c == '_' || c == ':' {
            ident.push(c);
            continue;
        }
        if ident == "up" || ident.starts_with("credence_") {
            names.insert(std::mem::take(&mut ident));
        }
        ident.clear();
        if c == '"' || c == '\'' || c == '`' {
            quote = Some(c);
        }
    }
    if ident == "up" || ident.starts_with("credence_") {
        names.insert(ident);
    }
    names
}

/// `expr` with Grafana's variables replaced (`$name`, `${name}`, `${name:format}`, `[[name]]`);
/// panics if a `$` is left, i.e. the dashboard uses a variable it does not define.
fn substitute(expr: &str, vars: &BTreeMap<String, String>) -> String {
    let mut names: Vec<&String> = vars.keys().collect();
    names.sort_by_key(|n| std::cmp::Reverse(n.len()));
    let mut out = expr.to_string();
    for name in names {
        let value = &vars[name];
        out = out.replace(&format!("[[{name}]]"), value).replace(&format!("${{{name}}}"), value);
        while let Some(at) = out.find(&format!("${{{name}:")) {
            let end = at + out[at..].find('}').expect("closing brace");
            out.replace_range(at..=end, value);
        }
        // `$name` not followed by more of an identifier.
        let pattern = format!("${name}");
        let mut from = 0;
        while let Some(at) = out[from..].find(&pattern).map(|i| i + from) {
            let next = out[at + pattern.len()..].chars().next();
            if next.is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
                from = at + pattern.len();
            } else {
                out.replace_range(at..at + pattern.len(), value);
                from = at + value.len();
            }
        }
    }
    assert!(!out.contains('$'), "an undefined variable in the dashboard expression {expr:?} → {out:?}");
    out
}

/// A dashboard's panels, rows' nested panels included.
fn panels(list: &Value) -> Vec<&Value> {
    let mut out = Vec::new();
    for p in list.as_array().into_iter().flatten() {
        out.push(p);
        out.extend(panels(&p["panels"]));
    }
    out
}

/// Every query of the dashboard: (where, expression, must it return data).
fn dashboard_queries(d: &Value) -> Vec<(String, String, bool)> {
    let mut out = Vec::new();
    for p in panels(&d["panels"]) {
        for t in p["targets"].as_array().into_iter().flatten() {
            let title = p["title"].as_str().unwrap_or("?");
            let expr = t["expr"].as_str().unwrap_or_else(|| panic!("panel {title:?}: a target without expr"));
            out.push((format!("panel {title:?} target {}", t["refId"]), expr.to_string(), true));
        }
    }
    for a in d["annotations"]["list"].as_array().into_iter().flatten() {
        if let Some(expr) = a["expr"].as_str() {
            // An annotation query marks events (restarts): none happen here.
            out.push((format!("annotation {:?}", a["name"]), expr.to_string(), false));
        }
    }
    out
}

/// The dashboard's variables and the query of each query variable (`label_values(...)`).
fn dashboard_variables(d: &Value) -> Vec<(String, Option<String>)> {
    d["templating"]["list"]
        .as_array()
        .expect("templating.list")
        .iter()
        .map(|v| {
            let name = v["name"].as_str().expect("variable name").to_string();
            let query = match &v["query"] {
                Value::String(q) if v["type"] == "query" => Some(q.clone()),
                Value::Object(o) if v["type"] == "query" => o.get("query").and_then(Value::as_str).map(str::to_string),
                _ => None,
            };
            (name, query)
        })
        .collect()
}

/// Names of the groups and the alerting rules of the rules file, read from its text (no YAML
/// parser here: the lines are `  - name: X` and `      - alert: X`).
fn rules_file_names(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut groups = BTreeSet::new();
    let mut alerts = BTreeSet::new();
    for line in text.lines() {
        if let Some(g) = line.strip_prefix("  - name: ") {
            groups.insert(g.trim().to_string());
        } else if let Some(a) = line.trim_start().strip_prefix("- alert: ") {
            alerts.insert(a.trim().to_string());
        } else {
            assert!(!line.trim_start().starts_with("- record: "), "recording rules: extend this test");
        }
    }
    (groups, alerts)
}

/// Active alerts by name: state (`pending` or `firing`).
fn active_alerts(prom: &Prometheus) -> BTreeMap<String, String> {
    let data = prom.api("/api/v1/alerts").expect("/api/v1/alerts");
    data["alerts"]
        .as_array()
        .expect("alerts")
        .iter()
        .map(|a| {
            (a["labels"]["alertname"].as_str().unwrap_or("?").to_string(), a["state"].as_str().unwrap_or("?").into())
        })
        .collect()
}

#[test]
fn dashboard_and_rules_work_on_the_real_prometheus_scraping_the_daemon() {
    // Before anything else: without the server this test fails, telling how to install it.
    prometheus::binary();
    let dashboard: Value = serde_json::from_str(&read(DASHBOARD)).expect("the dashboard is JSON");
    let rules_text = read(RULES);

    let k = kafka();
    let t = TestTopics::create(&k.env, "prometheus", 2);
    let mut s = stream::build("prometheus", 600, 10, 9);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &s.lifecycle);
    // A webhook sink, so that its metrics are scraped too.
    let receiver = support::receiver::Receiver::start(support::receiver::Behaviour::default());
    let sink = "[[sinks]]\nname = \"soc-webhook\"\nurl_env = \"TEST_WEBHOOK_URL\"\nsecret_env = \"TEST_WEBHOOK_KEY\"\nmin_severity = \"low\"\n";
    let webhook_url = receiver.url();
    // A suppression rule for the ghost uses from 198.51.0.0/24 (the stream's first 250 messages),
    // so that the suppression panels have data.
    let rules = std::env::temp_dir().join(support::unique("credence-prometheus-rules"));
    std::fs::write(
        &rules,
        "[[rule]]\nid = \"pentest\"\nreason = \"the agreed test\"\nauthor = \"soc\"\nexpires = \"2099-01-01T00:00:00Z\"\n\
         detectors = [\"ghost_credential\"]\nnetworks = [\"198.51.0.0/24\"]\n",
    )
    .expect("rules file");
    let rules_path = rules.display().to_string();
    let env = [
        ("TEST_WEBHOOK_URL", webhook_url.as_str()),
        ("TEST_WEBHOOK_KEY", "prometheus-test-signing-key-0123456789"),
        ("CREDENCE_ALERTS__SUPPRESSIONS_FILE", rules_path.as_str()),
    ];
    let mut daemon = Daemon::start(&t.config(&k.env, sink), &env);
    let admin = daemon.admin_addr();
    let admin_port: u16 = admin.rsplit_once(':').and_then(|(_, p)| p.parse().ok()).expect("admin port");
    let health = wait_for(Duration::from_secs(30), || http_get(admin_port, "/healthz").filter(|r| r.0 == 200));
    assert!(health.is_some(), "/healthz; log:\n{}", daemon.logs());

    let mut prom = Prometheus::start(&config(&admin));
    // A scrape before any event, as in production where the daemon runs before the traffic:
    // then increase() and rate() see the counters move.
    let first = wait_for(Duration::from_secs(20), || {
        prom.assert_running();
        let up = prom.value(r#"up{job="credence"}"#);
        let consumed = prom.value(r#"sum(credence_messages_consumed_total{job="credence"})"#);
        (up == 1.0 && consumed == 0.0).then_some(())
    });
    assert!(first.is_some(), "Prometheus never scraped the idle daemon; log:\n{}", prom.logs());

    io::produce(&k.env.bootstrap, &t.input, &mut s.items, None);
    let bad: Vec<&stream::Item> = s.items.iter().filter(|i| matches!(i.kind, Kind::Poison(_))).collect();
    let good = s.items.len() - bad.len();
    let ghosts = s.items.iter().filter(|i| i.kind == Kind::Ghost).count();
    assert!(!bad.is_empty() && ghosts > 0);
    wait_until_consumed(&k.env, &mut daemon, &t, Duration::from_secs(60));

    // Until Prometheus holds the final counts and the daemon's 10-second gauges (baselines, lag,
    // latency quantiles) have refreshed since.
    let settled = wait_for(Duration::from_secs(30), || {
        prom.assert_running();
        let consumed = prom.value(r#"sum(credence_messages_consumed_total{job="credence"})"#);
        let baselines = prom.value(r#"sum(credence_baselines_active{job="credence"})"#);
        let lag = prom.value(r#"count(credence_consumer_lag_messages{job="credence"})"#);
        let e2e = prom.value(r#"credence_event_end_to_end_quantile_seconds{job="credence", quantile="0.99"}"#);
        (consumed == s.items.len() as f64 && baselines > 0.0 && lag == 2.0 && e2e > 0.0).then_some(())
    });
    assert!(
        settled.is_some(),
        "Prometheus never saw the daemon settle: consumed {}, baselines {}, lag series {}, p99 end-to-end {}",
        prom.value("sum(credence_messages_consumed_total)"),
        prom.value("sum(credence_baselines_active)"),
        prom.value("count(credence_consumer_lag_messages)"),
        prom.value(r#"credence_event_end_to_end_quantile_seconds{quantile="0.99"}"#),
    );

    let mut vars: BTreeMap<String, String> = BUILTINS.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let test_values =
        [("datasource", "prometheus"), ("namespace", "security"), ("job", "credence"), ("instance", admin.as_str())];
    let variables = dashboard_variables(&dashboard);
    for (name, _) in &variables {
        let value = test_values.iter().find(|(n, _)| n == name).map(|(_, v)| *v);
        let value = value.unwrap_or_else(|| panic!("dashboard variable ${name}: give it a test value here"));
        vars.insert(name.clone(), value.to_string());
    }
    let queries = dashboard_queries(&dashboard);
    assert!(queries.len() >= 30, "only {} dashboard queries", queries.len());

    // Rules as Prometheus loaded them.
    let rules_api = prom.api("/api/v1/rules").expect("/api/v1/rules");
    let groups = rules_api["groups"].as_array().expect("groups").clone();
    let rules: Vec<&Value> = groups.iter().flat_map(|g| g["rules"].as_array().expect("rules")).collect();
    let (file_groups, file_alerts) = rules_file_names(&rules_text);
    let loaded_groups: BTreeSet<String> =
        groups.iter().map(|g| g["name"].as_str().unwrap_or("?").to_string()).collect();
    let loaded_alerts: BTreeSet<String> = rules.iter().map(|r| r["name"].as_str().unwrap_or("?").to_string()).collect();
    assert_eq!(loaded_groups, file_groups, "rule groups loaded vs in {RULES}");
    assert_eq!(loaded_alerts, file_alerts, "alerts loaded vs in {RULES}");
    assert_eq!(rules.len(), file_alerts.len(), "an alert name used twice?");

    // (a) Every metric named by the dashboard or the rules exists.
    let mut names = BTreeSet::new();
    for (_, expr, _) in &queries {
        names.extend(metric_names(expr));
    }
    let dashboard_names = names.clone();
    for r in &rules {
        names.extend(metric_names(r["query"].as_str().expect("rule query")));
    }
    assert!(names.contains("up") && names.len() >= 25, "{names:?}");
    let missing: Vec<&String> =
        names.iter().filter(|n| prom.series(&format!(r#"{{__name__="{n}", job="credence"}}"#)).is_empty()).collect();
    assert!(missing.is_empty(), "named by the dashboard or the rules but not exported by the daemon: {missing:?}");

    // ... and every metric the daemon exports is on the dashboard (a histogram by any of its series).
    let exported: Vec<String> = prom
        .api(&format!("/api/v1/label/__name__/values?match[]={}", prometheus::encode(r#"{job="credence"}"#)))
        .expect("metric names")
        .as_array()
        .expect("names")
        .iter()
        .filter_map(|n| n.as_str().filter(|n| n.starts_with("credence_")).map(str::to_string))
        .collect();
    assert!(exported.len() >= 25, "{exported:?}");
    let family =
        |n: &str| ["_bucket", "_sum", "_count"].iter().find_map(|s| n.strip_suffix(s)).unwrap_or(n).to_string();
    let shown: BTreeSet<String> = dashboard_names.iter().map(|n| family(n)).collect();
    let not_shown: Vec<&String> = exported.iter().filter(|n| !shown.contains(&family(n))).collect();
    assert!(not_shown.is_empty(), "exported by the daemon but on no panel of {DASHBOARD}: {not_shown:?}");

    // (b) Every dashboard query evaluates, and every panel shows data; the variables list the
    // daemon.
    let mut problems = Vec::new();
    for (place, expr, must_have_data) in &queries {
        let q = substitute(expr, &vars);
        match prom.query(&q) {
            Err(e) => problems.push(format!("{place}: {e}\n    {q}")),
            Ok(r) if r.is_empty() && *must_have_data => problems.push(format!("{place}: no data\n    {q}")),
            Ok(_) => {}
        }
    }
    for (name, query) in &variables {
        let Some(query) = query else { continue };
        let q = substitute(query, &vars);
        let (selector, label) = q
            .strip_prefix("label_values(")
            .and_then(|r| r.strip_suffix(')'))
            .and_then(|r| r.rsplit_once(','))
            .unwrap_or_else(|| panic!("variable ${name}: not label_values(selector, label): {q}"));
        let values: BTreeSet<String> =
            prom.series(selector.trim()).iter().filter_map(|s| s[label.trim()].as_str().map(str::to_string)).collect();
        if !values.contains(&vars[name]) {
            problems.push(format!("variable ${name}: {q} lists {values:?}, not {:?}", vars[name]));
        }
    }
    // Every rule expression evaluates (the rules API below says the same of the last evaluation).
    for r in &rules {
        let q = r["query"].as_str().expect("rule query");
        if let Err(e) = prom.query(q) {
            problems.push(format!("rule {}: {e}\n    {q}", r["name"]));
        }
    }
    assert!(problems.is_empty(), "{} problems:\n{}", problems.len(), problems.join("\n"));

    // (c) Every rule group is loaded and healthy, every rule evaluated without error.
    let rules_api = prom.api("/api/v1/rules").expect("/api/v1/rules");
    for g in rules_api["groups"].as_array().expect("groups") {
        assert!(g["file"].as_str().is_some_and(|f| f.ends_with("credence.rules.yaml")), "{g}");
        for r in g["rules"].as_array().expect("rules") {
            let name = &r["name"];
            assert_eq!(r["health"], "ok", "rule {name}: {r}");
            assert!(r["lastError"].as_str().unwrap_or("").is_empty(), "rule {name}: {}", r["lastError"]);
            let evaluated = r["lastEvaluation"].as_str().unwrap_or("0001");
            assert!(!evaluated.starts_with("0001"), "rule {name} never evaluated: {r}");
        }
    }

    // (d) The counts, as Prometheus stored them.
    let v = |q: &str| prom.value(&q.replace("JOB", r#"job="credence""#));
    let topic = format!(r#"topic="{}""#, t.input);
    assert_eq!(
        v(&format!(r#"sum(credence_messages_consumed_total{{JOB, {topic}, format="ocsf"}})"#)),
        s.items.len() as f64
    );
    assert_eq!(v("sum(credence_events_decoded_total{JOB})"), good as f64);
    assert_eq!(v("sum(credence_events_scored_total{JOB})"), good as f64);
    assert_eq!(v("sum(credence_messages_dead_lettered_total{JOB})"), bad.len() as f64);
    assert_eq!(v("sum(credence_decode_errors_total{JOB})"), bad.len() as f64);
    let mut by_type: BTreeMap<&str, usize> = BTreeMap::new();
    for item in &bad {
        if let Kind::Poison(t) = item.kind {
            *by_type.entry(t).or_default() += 1;
        }
    }
    for (error_type, n) in &by_type {
        let q = format!(r#"sum(credence_decode_errors_total{{JOB, error_type="{error_type}"}})"#);
        assert_eq!(v(&q), *n as f64, "{error_type}");
    }
    assert_eq!(v(r#"sum(credence_findings_raised_total{JOB, detector="ghost_credential"})"#), ghosts as f64);
    assert_eq!(v(r#"sum(credence_alerts_delivered_total{JOB, sink="kafka"})"#), ghosts as f64);
    // The ghost uses of the first 250 messages come from 198.51.0.0/24: one finding each,
    // suppressed.
    let from_rule_net = s
        .items
        .iter()
        .filter(|i| i.kind == stream::Kind::Ghost)
        .filter(|i| i.key.rsplit('-').next().and_then(|n| n.parse::<usize>().ok()).is_some_and(|n| n < 250))
        .count();
    assert!(from_rule_net > 0 && from_rule_net < ghosts);
    assert_eq!(v(r#"sum(credence_findings_suppressed_total{JOB, rule="pentest"})"#), from_rule_net as f64);
    assert_eq!(v("max(credence_suppression_rules{JOB})"), 1.0);
    assert_eq!(v(r#"sum(credence_alerts_delivered_total{JOB, sink="dead_letter"})"#), bad.len() as f64);
    assert_eq!(v("sum(credence_alerts_failed_total{JOB})"), 0.0);
    assert_eq!(v("sum(credence_event_processing_seconds_count{JOB})"), s.items.len() as f64);
    assert_eq!(v("sum(credence_consumer_partitions_assigned{JOB})"), 2.0);
    assert_eq!(v("sum(credence_consumer_lag_messages{JOB})"), 0.0, "everything consumed");
    assert!(v(r#"sum(credence_commits_total{JOB, result="ok"})"#) > 0.0);
    assert!(v("sum(credence_baselines_capacity{JOB})") >= v("sum(credence_baselines_active{JOB})"));
    let version = format!(r#"credence_build_info{{JOB, version="{}"}}"#, env!("CARGO_PKG_VERSION"));
    assert_eq!(v(&version), 1.0, "build info");
    // The dashboard's decode-error ratio: one message in nine is malformed.
    let ratio = v("sum(credence_decode_errors_total{JOB}) / (sum(credence_decode_errors_total{JOB}) \
                   + sum(credence_events_decoded_total{JOB}))");
    assert!((ratio - bad.len() as f64 / s.items.len() as f64).abs() < 1e-9, "{ratio}");

    // (e) The rules see the malformed messages, and nothing else is wrong.
    let alerts = wait_for(Duration::from_secs(20), || {
        let a = active_alerts(&prom);
        EXPECTED_ALERTS.iter().all(|e| a.contains_key(*e)).then_some(a)
    })
    .unwrap_or_else(|| {
        panic!("expected {EXPECTED_ALERTS:?} to be pending or firing; active: {:?}", active_alerts(&prom))
    });
    let unexpected: Vec<(&String, &String)> = alerts
        .iter()
        .filter(|(n, _)| !EXPECTED_ALERTS.contains(&n.as_str()) && !TIMING_ALERTS.contains(&n.as_str()))
        .collect();
    assert!(unexpected.is_empty(), "alerts active on a healthy daemon: {unexpected:?}");

    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()), "{}", daemon.logs());
}

#[test]
fn metric_names_are_read_from_expressions() {
    let names = metric_names(
        r#"sum(rate(credence_a_total{job=~".*credence_x.*"}[5m])) / on (job) up{job="credence"} + absent(up)"#,
    );
    assert_eq!(names, BTreeSet::from(["credence_a_total".to_string(), "up".to_string()]));
    let vars = BTreeMap::from([("job".to_string(), "credence".to_string()), ("__range".to_string(), "5m".to_string())]);
    assert_eq!(
        substitute(r#"x{job=~"$job"}[$__range] ${job} [[job]]"#, &vars),
        r#"x{job=~"credence"}[5m] credence credence"#
    );
}
