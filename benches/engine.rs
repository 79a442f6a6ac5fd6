//! The per-event hot path: decode, score and learn, on OCSF API Activity JSON.
//!
//! Groups (throughput in events):
//! - `decode/ocsf`: bytes → `Event` only;
//! - `score_update/warm` and `score_update/cold`: `Engine::process` on decoded events, against
//!   100k established baselines, or against credentials never seen before;
//! - `path/warm` and `path/cold`: the whole per-event path, bytes → verdict;
//! - `parse_limit/ocsf`: serde_json skipping the same bytes with no further work — the floor any
//!   JSON decoder pays.
//!
//! Setup (corpus generation, warming 100k baselines) is outside the timed closures.

use std::net::{IpAddr, Ipv4Addr};

use credence_detect::{DetectConfig, Engine, KeySpace, LearnPolicy};
use credence_event::ocsf::ApiActivity;
use credence_event::{Decoder, Format, GeoPoint, Pseudonymizer};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

/// Credentials resident in the warm engine (a thousand in `--test` smoke mode, which only checks
/// that the benchmarks run).
fn warm_credentials() -> usize {
    if std::env::args().any(|a| a == "--test") {
        1_000
    } else {
        100_000
    }
}
/// Events per timed batch.
const BATCH: usize = 10_000;
/// 2026-03-02T00:00:00Z.
const START_MS: i64 = 1_772_409_600_000;

const OPS: [(&str, &str, &str); 6] = [
    ("GET /v1/orders/{id}", "GET", "orders-api"),
    ("GET /v1/orders", "GET", "orders-api"),
    ("POST /v1/orders", "POST", "orders-api"),
    ("GET /v1/customers/{id}", "GET", "customers-api"),
    ("PUT /v1/customers/{id}", "PUT", "customers-api"),
    ("GET /v1/catalog/items", "GET", "catalog-api"),
];
const CITIES: [(&str, &str, f64, f64, u32); 4] = [
    ("US", "Ashburn", 39.04, -77.49, 14618),
    ("DE", "Frankfurt", 50.11, 8.68, 16509),
    ("GB", "London", 51.51, -0.13, 8075),
    ("JP", "Tokyo", 35.68, 139.69, 2516),
];

/// Serialised OCSF records: `n` events spread over `creds` credentials, in time order from
/// `start_ms`, each credential with its own home city, address and client.
fn corpus(n: usize, creds: usize, cred_offset: usize, start_ms: i64, span_ms: i64, seed: u64) -> Vec<Vec<u8>> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let c = cred_offset + rng.gen_range(0..creds);
        let (country, city, lat, lon, asn) = CITIES[c % CITIES.len()];
        let (op, method, service) = OPS[rng.gen_range(0..OPS.len())];
        let key = format!("ck_live_{c:016x}");
        let user = format!("svc-{c}");
        let uid = format!("evt-{seed}-{i}");
        let path = format!("/v1/orders/{}", rng.gen_range(0..100_000));
        let ip = IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + (c as u32) * 256 + 7));
        let ua = format!("orders-client/{}.{}", c % 7, c % 3);
        let rec = ApiActivity {
            time_ms: start_ms + (i as i64 * span_ms) / n as i64,
            uid: &uid,
            credential_uid: &key,
            user_uid: &user,
            issuer: Some("team-orders"),
            operation: op,
            service,
            http_method: method,
            path: &path,
            status: if rng.gen_ratio(1, 50) { 404 } else { 200 },
            error: None,
            bytes_out: rng.gen_range(200..20_000),
            ip,
            asn: Some(asn),
            country: Some(country),
            city: Some(city),
            geo: GeoPoint::new(lat, lon),
            user_agent: &ua,
        };
        out.push(serde_json::to_vec(&rec).expect("serialisable"));
    }
    out
}

fn pseudonymizer() -> Pseudonymizer {
    Pseudonymizer::new(&[42u8; 32]).expect("long enough")
}

fn engine() -> Engine {
    Engine::new(DetectConfig::default(), KeySpace::from_pseudonymizer(&pseudonymizer()))
}

/// An engine holding `warm_credentials()` established baselines (80 events each over five days).
fn warm_engine(decoder: &Decoder) -> Engine {
    let e = engine();
    let history = corpus(warm_credentials() * 80, warm_credentials(), 0, START_MS, 5 * 86_400_000, 1);
    for msg in &history {
        let ev = decoder.decode_one(msg).expect("valid");
        e.process(&ev, LearnPolicy::Default);
    }
    e
}

fn benches(c: &mut Criterion) {
    let decoder = Decoder::new(Format::Ocsf, pseudonymizer());
    let after = START_MS + 5 * 86_400_000;
    let live = corpus(BATCH, warm_credentials(), 0, after, 60_000, 2);
    let avg = live.iter().map(Vec::len).sum::<usize>() / live.len();
    eprintln!("corpus: {} events, {avg} bytes on average", live.len());

    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("ocsf", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for m in &live {
                n += decoder.decode_one(m).map_or(0, |e| e.operation.len());
            }
            n
        })
    });
    g.finish();

    let mut g = c.benchmark_group("parse_limit");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("ocsf", |b| {
        b.iter(|| {
            let mut n = 0usize;
            for m in &live {
                n += serde_json::from_slice::<serde::de::IgnoredAny>(m).map_or(0, |_| 1);
            }
            n
        })
    });
    g.finish();

    let warm = warm_engine(&decoder);
    let decoded: Vec<_> = live.iter().map(|m| decoder.decode_one(m).expect("valid")).collect();
    let mut g = c.benchmark_group("score_update");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("warm", |b| {
        b.iter(|| decoded.iter().map(|e| warm.process(e, LearnPolicy::Default).score as u64).sum::<u64>())
    });
    let cold = corpus(BATCH, BATCH * 100, warm_credentials() * 10, after, 60_000, 3);
    let cold_decoded: Vec<_> = cold.iter().map(|m| decoder.decode_one(m).expect("valid")).collect();
    g.bench_function("cold", |b| {
        b.iter_batched(
            engine,
            |e| cold_decoded.iter().map(|ev| e.process(ev, LearnPolicy::Default).score as u64).sum::<u64>(),
            BatchSize::LargeInput,
        )
    });
    g.finish();

    let mut g = c.benchmark_group("path");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("warm", |b| {
        b.iter(|| {
            let mut s = 0u64;
            for m in &live {
                if let Ok(e) = decoder.decode_one(m) {
                    s += warm.process(&e, LearnPolicy::Default).score as u64;
                }
            }
            s
        })
    });
    g.bench_function("cold", |b| {
        b.iter_batched(
            engine,
            |e| {
                let mut s = 0u64;
                for m in &cold {
                    if let Ok(ev) = decoder.decode_one(m) {
                        s += e.process(&ev, LearnPolicy::Default).score as u64;
                    }
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();
    eprintln!(
        "memory: {} resident baselines, about {} bytes each (baseline + map slot + allocator)",
        warm.len(),
        Engine::bytes_per_baseline()
    );
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
