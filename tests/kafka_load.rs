//! Load measurement through the real broker, ignored by default (it writes ~500 MB to Kafka):
//!
//! ```sh
//! cargo test --release --test kafka_load -- --ignored --nocapture
//! ```
//!
//! Produces a simulator stream (about 500k events) to a 4-partition topic keyed by credential,
//! reads it once with a bare rdkafka consumer (the ceiling), then runs one daemon over it and
//! reports events per second from its first to its last committed offset.

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::ClientConfig;
use support::{io, kafka, unique, Daemon, TestTopics};

fn bare_consume_rate(bootstrap: &str, topic: &str, total: i64) -> f64 {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", bootstrap)
        .set("group.id", unique("credence-load-bare"))
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    c.subscribe(&[topic]).expect("subscribe");
    let mut n = 0i64;
    let mut started = None;
    while n < total {
        if let Some(Ok(_)) = c.poll(Duration::from_millis(500)) {
            started.get_or_insert_with(Instant::now);
            n += 1;
        }
    }
    n as f64 / started.map_or(1.0, |s: Instant| s.elapsed().as_secs_f64())
}

#[test]
#[ignore = "load measurement: run with --release --ignored"]
fn daemon_throughput_through_kafka() {
    let k = kafka();
    let dir = std::env::temp_dir().join(unique("credence-load"));
    let sim = Command::new(env!("CARGO_BIN_EXE_credence"))
        .args(["simulate", "--credentials", "600", "--days", "10", "--seed", "11", "--out"])
        .arg(&dir)
        .output()
        .expect("simulate");
    assert!(sim.status.success(), "{}", String::from_utf8_lossy(&sim.stderr));
    let text = std::fs::read_to_string(dir.join("events.ocsf.jsonl")).expect("events");
    let lifecycle: Vec<String> =
        std::fs::read_to_string(dir.join("lifecycle.jsonl")).expect("lifecycle").lines().map(String::from).collect();
    let mut items: Vec<support::stream::Item> = text
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("JSON");
            let key = v["actor"]["user"]["credential_uid"].as_str().unwrap_or("").to_string();
            support::stream::Item::raw(&key, l.as_bytes().to_vec())
        })
        .collect();
    drop(text);
    let total = items.len() as i64;
    let t = TestTopics::create(&k.env, "load", 4);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &lifecycle);
    let produced = Instant::now();
    io::produce(&k.env.bootstrap, &t.input, &mut items, None);
    eprintln!("produced {total} events in {:?}", produced.elapsed());
    drop(items);

    let bare = bare_consume_rate(&k.env.bootstrap, &t.input, total);

    let mut daemon = Daemon::start(&t.config(&k.env, ""), &[]);
    let mut first: Option<(Instant, i64)> = None;
    let deadline = Instant::now() + Duration::from_secs(600);
    let (end, done) = loop {
        daemon.assert_running();
        let c: i64 = io::committed(&k.env.bootstrap, &t.group, &t.input).values().sum();
        let now = Instant::now();
        if c > 0 && first.is_none() {
            first = Some((now, c));
        }
        if c >= total {
            break (now, c);
        }
        assert!(now < deadline, "only {c} of {total} committed");
        std::thread::sleep(Duration::from_millis(100));
    };
    let (start, at_start) = first.expect("progress");
    let rate = (done - at_start) as f64 / (end - start).as_secs_f64();
    let from_launch = total as f64 / (end - daemon.started).as_secs_f64();
    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()));
    let stopped = daemon.log_line("credence stopped").expect("final line");
    eprintln!(
        "{total} events: daemon {rate:.0} events/s steady ({from_launch:.0}/s from launch), \
         bare rdkafka consumer {bare:.0} msgs/s; daemon totals {stopped}"
    );
    assert!(rate > 5_000.0, "{rate:.0} events/s");
    let _ = std::fs::remove_dir_all(&dir);
}
