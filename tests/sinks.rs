//! The HTTP sinks through the real binary and a real broker, against real HTTP servers this test
//! starts: a signed generic webhook (whose receiver fails its first requests and answers one too
//! slowly), Slack (whose receiver goes away and comes back), PagerDuty (Events API v2), each with
//! its routing rule; and a sink nobody answers, whose records end on the dead-letter topic. Every
//! routed finding record reaches its sink (at least once), signatures verify, and every input
//! offset is still committed.

mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use hmac::{Hmac, Mac};
use sha2::Sha256;
use support::io;
use support::receiver::{Behaviour, Receiver};
use support::stream;
use support::{kafka, unique, wait_until_consumed, Daemon, TestTopics};

/// The webhook's signing key (in the daemon's environment only).
const SIGNING_KEY: &str = "sinks-test-signing-key-0123456789abcdef";
/// The PagerDuty routing key (in a file).
const ROUTING_KEY: &str = "R0UT1NGKEY0123456789ABCDEFGHIJKL";

fn uid(v: &serde_json::Value) -> String {
    v["finding_info"]["uid"].as_str().expect("uid").to_string()
}

#[test]
fn findings_reach_their_http_sinks_signed_retried_and_routed() {
    let k = kafka();
    let t = TestTopics::create(&k.env, "sinks", 2);
    let s = {
        let mut s = stream::build("sinks", 1200, 20, 0);
        io::produce_lines(&k.env.bootstrap, &t.lifecycle, &s.lifecycle);
        io::produce(&k.env.bootstrap, &t.input, &mut s.items, None);
        s
    };
    let webhook = Receiver::start(Behaviour { fail_first: 3, slow: Some((5, Duration::from_secs(3))) });
    let mut slack = Receiver::start(Behaviour::default());
    let pagerduty = Receiver::start(Behaviour::default());
    // A port nobody listens on: every attempt is refused.
    let nobody = { std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr") };
    let dir = std::env::temp_dir().join(unique("credence-sinks"));
    std::fs::create_dir_all(&dir).expect("dir");
    std::fs::write(dir.join("webhook.url"), webhook.url()).expect("url file");
    std::fs::write(dir.join("routing.key"), ROUTING_KEY).expect("key file");
    let sinks = format!(
        r#"
[[sinks]]
name = "soc-webhook"
kind = "webhook"
url_file = "{webhook_url}"
secret_env = "TEST_WEBHOOK_KEY"
min_severity = "low"
timeout_ms = 1000
max_attempts = 10

[[sinks]]
name = "slack"
kind = "slack"
url_env = "TEST_SLACK_URL"
min_severity = "high"
detectors = ["ghost_credential"]
finding_url = "https://credence.example/findings/{{uid}}"

[[sinks]]
name = "pager"
kind = "pagerduty"
endpoint = "{pagerduty}"
secret_file = "{routing}"
min_severity = "critical"
categories = ["security"]

[[sinks]]
name = "broken"
kind = "webhook"
url_env = "TEST_BROKEN_URL"
secret_env = "TEST_WEBHOOK_KEY"
min_severity = "low"
max_attempts = 2
timeout_ms = 500
"#,
        webhook_url = dir.join("webhook.url").display(),
        pagerduty = pagerduty.url(),
        routing = dir.join("routing.key").display(),
    );
    let slack_url = slack.url();
    let broken_url = format!("http://{nobody}/");
    let env = [
        ("TEST_WEBHOOK_KEY", SIGNING_KEY),
        ("TEST_SLACK_URL", slack_url.as_str()),
        ("TEST_BROKEN_URL", broken_url.as_str()),
    ];
    // Slack is away when the first findings come, and back a few seconds later.
    slack.pause();
    let mut daemon = Daemon::start(&t.config(&k.env, &sinks), &env);
    std::thread::sleep(Duration::from_secs(8));
    slack.resume();
    wait_until_consumed(&k.env, &mut daemon, &t, Duration::from_secs(120));
    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(20)).is_some_and(|s| s.success()), "{}", daemon.logs());

    let alerts: Vec<serde_json::Value> = io::read_all(&k.env.bootstrap, &t.alerts).iter().map(|m| m.json()).collect();
    let all: BTreeSet<String> = alerts.iter().map(uid).collect();
    let ghosts = s.items.iter().filter(|i| i.kind == stream::Kind::Ghost).count();
    assert!(all.len() >= ghosts / 2 && !all.is_empty(), "{} findings for {ghosts} ghost uses", all.len());

    // The webhook: every finding, signed over timestamp and body, after 500s and a timeout.
    let got = webhook.received();
    assert!(webhook.seen() > got.len(), "the receiver's failures were retried");
    let mut hooked = BTreeSet::new();
    for r in &got {
        let ts = &r.headers["x-credence-timestamp"];
        let mut mac = Hmac::<Sha256>::new_from_slice(SIGNING_KEY.as_bytes()).expect("key");
        mac.update(ts.as_bytes());
        mac.update(b".");
        mac.update(&r.body);
        let want = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
        assert_eq!(r.headers["x-credence-signature"], want, "a signature that does not verify");
        let age = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64
            - ts.parse::<i64>().expect("timestamp");
        assert!((0..600).contains(&age), "timestamp {ts}");
        hooked.insert(uid(&r.json()));
    }
    assert_eq!(hooked, all, "the webhook missed findings");

    // Slack: the routed ones (ghost credentials, high or above), readable, with the link; none
    // lost while it was away (its failures were counted).
    let slack_failed = daemon
        .log_lines()
        .iter()
        .any(|l| l["message"] == "HTTP sink request failed; retrying with backoff" && l["sink"] == "slack");
    assert!(slack_failed, "Slack was never found away:\n{}", daemon.logs());
    let routed: BTreeSet<String> = alerts
        .iter()
        .filter(|v| v["severity_id"].as_u64().unwrap_or(0) >= 4)
        .filter(|v| v.to_string().contains("ghost_credential"))
        .map(uid)
        .collect();
    assert!(!routed.is_empty());
    let mut slacked = BTreeSet::new();
    for r in slack.received() {
        let text = r.json()["text"].as_str().expect("a text message").to_string();
        assert!(text.contains("CRITICAL") || text.contains("HIGH"), "{text}");
        assert!(text.contains("credential `"), "{text}");
        let link = text.split("https://credence.example/findings/").nth(1).expect("a link");
        slacked.insert(link.split('|').next().expect("uid").to_string());
    }
    assert_eq!(slacked, routed, "Slack's findings");

    // PagerDuty: Events API v2, trigger, dedup key = the finding's uid, critical only; a resolve
    // for each of them that closed.
    let critical: BTreeSet<String> = alerts.iter().filter(|v| v["severity_id"].as_u64() == Some(5)).map(uid).collect();
    let closed: BTreeSet<String> =
        alerts.iter().filter(|v| v["severity_id"].as_u64() == Some(5) && v["activity_id"] == 3).map(uid).collect();
    let mut paged = BTreeSet::new();
    let mut resolved = BTreeSet::new();
    for r in pagerduty.received() {
        let e = r.json();
        assert_eq!(e["routing_key"], ROUTING_KEY);
        if e["event_action"] == "resolve" {
            resolved.insert(e["dedup_key"].as_str().expect("dedup_key").to_string());
            continue;
        }
        assert_eq!(e["event_action"], "trigger");
        let p = &e["payload"];
        for field in ["summary", "source", "severity"] {
            assert!(p[field].as_str().is_some_and(|s| !s.is_empty()), "{field} in {e}");
        }
        assert!(["critical", "error", "warning", "info"].contains(&p["severity"].as_str().unwrap_or("")), "{e}");
        assert!(p["summary"].as_str().unwrap_or("").len() <= 1024, "PagerDuty's summary limit");
        paged.insert(e["dedup_key"].as_str().expect("dedup_key").to_string());
    }
    assert_eq!(paged, critical, "PagerDuty's findings");
    assert_eq!(resolved, closed, "PagerDuty resolves the findings that closed");

    // The sink nobody answers: its records are on the dead-letter topic, marked.
    let dlq = io::read_all(&k.env.bootstrap, &t.dead_letter);
    let dead: BTreeSet<String> = dlq
        .iter()
        .filter(|m| m.header("credence.sink") == "broken")
        .map(|m| m.header("credence.finding_uid").to_string())
        .collect();
    assert_eq!(dead, all, "the broken sink's records dead-lettered");
    assert!(!daemon.logs().contains(SIGNING_KEY) && !daemon.logs().contains(ROUTING_KEY), "a secret in the log");
    let _ = std::fs::remove_dir_all(&dir);
}
