//! A 30-second broker outage in the middle of a stream: the daemon rides it out without a
//! restart and loses nothing. Its own test binary, as it stops the broker every other Kafka test
//! uses (the tests' broker lock keeps them apart).

mod support;

use std::process::Command;
use std::time::{Duration, Instant};

use support::io;
use support::stream::{self, Kind};
use support::{kafka, kafka_sh, wait_until_consumed, Daemon, TestTopics};

/// Starts the broker again even if the test fails half-way.
struct BrokerBack;

impl Drop for BrokerBack {
    fn drop(&mut self) {
        let _ = Command::new("bash").arg(support::repo().join("tests/kafka/kafka.sh")).arg("start").status();
    }
}

#[test]
fn broker_outage_of_30_seconds_is_ridden_out() {
    let k = kafka();
    let t = TestTopics::create(&k.env, "outage", 2);
    let s = stream::build("outage", 6000, 1, 6);
    io::produce_lines(&k.env.bootstrap, &t.lifecycle, &s.lifecycle);
    // Produced all along, outage included: the producer's messages wait in its queue meanwhile.
    let producer = {
        let (bootstrap, topic, mut items) = (k.env.bootstrap.clone(), t.input.clone(), s.items.clone());
        std::thread::spawn(move || {
            io::produce(&bootstrap, &topic, &mut items, Some(300));
            items
        })
    };
    let mut daemon = Daemon::start(&t.config(&k.env, ""), &[]);
    support::wait_for(Duration::from_secs(30), || {
        daemon.assert_running();
        (io::committed(&k.env.bootstrap, &t.group, &t.input).values().sum::<i64>() >= 300).then_some(())
    })
    .expect("the daemon makes progress");

    let _back = BrokerBack;
    kafka_sh(&["stop"]);
    let stopped = Instant::now();
    while stopped.elapsed() < Duration::from_secs(30) {
        daemon.assert_running();
        std::thread::sleep(Duration::from_millis(500));
    }
    kafka_sh(&["start"]);
    eprintln!("broker back after {:?}", stopped.elapsed());

    let items = producer.join().expect("producer");
    let took = wait_until_consumed(&k.env, &mut daemon, &t, Duration::from_secs(120));
    eprintln!("caught up {took:?} after the producer finished");
    daemon.sigterm();
    assert!(daemon.wait_exit(Duration::from_secs(15)).is_some_and(|s| s.success()), "{}", daemon.logs());

    let alerts = io::read_all(&k.env.bootstrap, &t.alerts);
    let dlq = io::read_all(&k.env.bootstrap, &t.dead_letter);
    assert_eq!(stream::check_traces(&items, &alerts, &dlq, None), items.len());
    let ghosts = items.iter().filter(|i| i.kind == Kind::Ghost).count();
    assert!(alerts.len() >= ghosts);
    // It noticed the outage (librdkafka's connection errors, as warnings) and went on.
    let warnings = daemon.log_lines().iter().filter(|l| l["level"] == "WARN").count();
    assert!(warnings > 0, "{}", daemon.logs());
    assert!(!daemon.logs().contains("\"level\":\"ERROR\""), "{}", daemon.logs());
}
