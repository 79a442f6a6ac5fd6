//! The per-event hot path, stage by stage. `cargo bench --bench engine`; `-- --test` is the smoke
//! mode CI runs (every benchmark once, small engines).
//!
//! Groups (throughput in events):
//! - `decode/{ocsf,cloudtrail,kong,envoy,mapped}`: bytes → `Event` (pseudonymised) per format, on
//!   records shaped like each source's real ones (the gateway fixtures of `crates/event/tests/data`
//!   with their fields varied);
//! - `parse_limit/{ocsf_borrowed,ocsf_skip}`: serde_json reading the same OCSF bytes into a
//!   borrowed struct of the fields Credence reads (`&str`: the corpus has no escapes) with no
//!   further work, and skipping them (`IgnoredAny`): what reading the JSON at all costs;
//!   `parse_limit/{simd_json,sonic_rs,sonic_rs_lazy}`: the SIMD parsers on the same bytes, into
//!   the same struct through serde (simd-json parses a copy in place, with reused buffers), and
//!   sonic-rs's lazy reader fetching only the same fields by path (`get_many`);
//! - `score_update/{warm,cold,resident_1m}`: `Engine::process` on decoded events against 100k
//!   established baselines, against credentials never seen before, and with 1M credentials
//!   resident;
//! - `path/{warm,cold}`: the whole per-event path, bytes → verdict;
//! - `path_vs_parse/warm`: `path/warm` and `parse_limit/ocsf_borrowed` in alternation, a batch of
//!   each in turn over the same bytes; prints the quartiles of their ratio.
//!
//! Setup (corpora, warming engines) is outside the timed closures and runs only for the groups
//! selected. Live traffic arrives at the warm history's own rate, so the population-wide surge
//! allowance stays at 1, and each timed pass over it is shifted later in time (one add per event)
//! so that repeated passes are new traffic, not a burst of the same minutes.

use std::cell::OnceCell;
use std::hint::black_box;
use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use credence_detect::{DetectConfig, Engine, KeySpace, LearnPolicy};
use credence_event::ocsf::ApiActivity;
use credence_event::{Decoder, Event, FieldMapping, Format, GeoPoint, Pseudonymizer};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion, Throughput};
use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;
use serde::Deserialize;
use serde_json::{json, Value};

#[path = "common/vocabulary.rs"]
mod vocabulary;
use vocabulary::{CITIES, OPS, START_MS};

fn smoke() -> bool {
    std::env::args().any(|a| a == "--test")
}

/// Credentials resident in the warm engine (a thousand in smoke mode).
fn warm_credentials() -> usize {
    if smoke() {
        1_000
    } else {
        100_000
    }
}

/// Credentials resident in the large engine (ten thousand in smoke mode).
fn large_credentials() -> usize {
    if smoke() {
        10_000
    } else {
        1_000_000
    }
}

/// Events per timed batch.
const BATCH: usize = 10_000;
/// Warm history: events per credential over `HISTORY_MS`.
const HISTORY_EVENTS: usize = 80;
const HISTORY_MS: i64 = 5 * 86_400_000;

/// One API call, before it is written in some format: credential `c` has its own home city,
/// address and client.
struct Call {
    c: usize,
    time_ms: i64,
    op: usize,
    id: u32,
    status: u16,
    bytes: u64,
    uid: String,
}

impl Call {
    fn key(&self) -> String {
        format!("ck_live_{:016x}", self.c)
    }
    fn ip(&self) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000u32 + (self.c as u32) * 256 + 7))
    }
    fn agent(&self) -> String {
        format!("orders-client/{}.{}", self.c % 7, self.c % 3)
    }
    fn path(&self) -> String {
        let (op, _, _) = OPS[self.op];
        op.split_once(' ').map_or(op, |(_, p)| p).replace("{id}", &self.id.to_string())
    }
    fn rfc3339(&self) -> String {
        credence_event::time::format_rfc3339_ms(self.time_ms)
    }
}

/// `n` calls spread over `creds` credentials (numbered from `offset`), in time order from
/// `start_ms` over `span_ms`.
fn calls(n: usize, creds: usize, offset: usize, start_ms: i64, span_ms: i64, seed: u64) -> impl Iterator<Item = Call> {
    let mut rng = Pcg64Mcg::seed_from_u64(seed);
    (0..n).map(move |i| Call {
        c: offset + rng.gen_range(0..creds),
        time_ms: start_ms + (i as i64 * span_ms) / n as i64,
        op: rng.gen_range(0..OPS.len()),
        id: rng.gen_range(0..100_000),
        status: if rng.gen_ratio(1, 50) { 404 } else { 200 },
        bytes: rng.gen_range(200..20_000),
        uid: format!("evt-{seed}-{i}"),
    })
}

fn ocsf(call: &Call) -> Vec<u8> {
    let (country, city, lat, lon, asn) = CITIES[call.c % CITIES.len()];
    let (op, method, service) = OPS[call.op];
    let (key, user, path, ua) = (call.key(), format!("svc-{}", call.c), call.path(), call.agent());
    let rec = ApiActivity {
        time_ms: call.time_ms,
        uid: &call.uid,
        credential_uid: &key,
        user_uid: &user,
        issuer: Some("team-orders"),
        operation: op,
        service,
        http_method: method,
        path: &path,
        status: call.status,
        error: None,
        bytes_out: call.bytes,
        ip: call.ip(),
        asn: Some(asn),
        country: Some(country),
        city: Some(city),
        geo: GeoPoint::new(lat, lon),
        user_agent: &ua,
    };
    serde_json::to_vec(&rec).expect("serialisable")
}

fn cloudtrail(call: &Call) -> Vec<u8> {
    let (op, _, service) = OPS[call.op];
    let name = op.replace(['/', '{', '}', ' '], "");
    let ok = call.status < 400;
    let mut rec = json!({
        "eventVersion": "1.09",
        "userIdentity": {
            "type": "IAMUser",
            "principalId": format!("AIDA{:016X}", call.c),
            "arn": format!("arn:aws:iam::123456789012:user/svc-{}", call.c),
            "accountId": "123456789012",
            "accessKeyId": format!("AKIA{:016X}", call.c),
            "userName": format!("svc-{}", call.c)
        },
        "eventTime": credence_event::time::format_rfc3339_ms(call.time_ms / 1000 * 1000).replace(".000", ""),
        "eventSource": format!("{service}.amazonaws.com"),
        "eventName": name,
        "awsRegion": "eu-west-1",
        "sourceIPAddress": call.ip().to_string(),
        "userAgent": format!("aws-sdk-go-v2/1.30.{} os/linux lang/go#1.22", call.c % 7),
        "requestParameters": {"id": call.id.to_string(), "maxResults": 50},
        "responseElements": null,
        "requestID": call.uid,
        "eventID": format!("{:08x}-0000-4000-8000-{:012x}", call.c, call.id),
        "readOnly": op.starts_with("GET"),
        "eventType": "AwsApiCall",
        "managementEvent": true,
        "recipientAccountId": "123456789012",
        "eventCategory": "Management",
        "tlsDetails": {
            "tlsVersion": "TLSv1.3",
            "cipherSuite": "TLS_AES_128_GCM_SHA256",
            "clientProvidedHostHeader": format!("{service}.eu-west-1.amazonaws.com")
        }
    });
    if !ok {
        rec["errorCode"] = json!("ResourceNotFoundException");
        rec["errorMessage"] = json!("The specified resource does not exist.");
    }
    serde_json::to_vec(&rec).expect("serialisable")
}

fn fixture(name: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/event/tests/data").join(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Records of the gateway formats: a real fixture record with the call's fields written in.
struct Templates {
    kong: Value,
    envoy: Value,
    apigw: Value,
}

impl Templates {
    fn load() -> Templates {
        let kong: Value = serde_json::from_str(&fixture("kong-http-log-batch.json")).expect("kong fixture");
        let first = |text: String| serde_json::from_str(text.lines().next().expect("a line")).expect("fixture");
        Templates {
            kong: kong[0].clone(),
            envoy: first(fixture("istio-access.jsonl")),
            apigw: first(fixture("apigateway-access.jsonl")),
        }
    }

    fn kong(&self, call: &Call) -> Vec<u8> {
        let (_, method, _) = OPS[call.op];
        let mut r = self.kong.clone();
        r["authenticated_entity"]["id"] = json!(call.key());
        r["client_ip"] = json!(call.ip().to_string());
        r["started_at"] = json!(call.time_ms);
        r["request"]["uri"] = json!(call.path());
        r["request"]["method"] = json!(method);
        r["request"]["id"] = json!(call.uid);
        r["request"]["headers"]["user-agent"] = json!(call.agent());
        r["response"]["status"] = json!(call.status);
        r["response"]["size"] = json!(call.bytes);
        serde_json::to_vec(&r).expect("serialisable")
    }

    fn envoy(&self, call: &Call) -> Vec<u8> {
        let (_, method, _) = OPS[call.op];
        let mut r = self.envoy.clone();
        r["downstream_peer_uri_san"] = json!(format!("spiffe://cluster.local/ns/orders/sa/svc-{}", call.c));
        r["downstream_remote_address"] = json!(format!("{}:45678", call.ip()));
        r["start_time"] = json!(call.rfc3339());
        r["method"] = json!(method);
        r["path"] = json!(call.path());
        r["request_id"] = json!(call.uid);
        r["user_agent"] = json!(call.agent());
        r["response_code"] = json!(call.status);
        r["bytes_sent"] = json!(call.bytes);
        serde_json::to_vec(&r).expect("serialisable")
    }

    fn apigw(&self, call: &Call) -> Vec<u8> {
        let (op, method, _) = OPS[call.op];
        let mut r = self.apigw.clone();
        r["apiKeyId"] = json!(call.key());
        r["ip"] = json!(call.ip().to_string());
        r["requestTimeEpoch"] = json!(call.time_ms);
        r["httpMethod"] = json!(method);
        r["resourcePath"] = json!(op.split_once(' ').map_or(op, |(_, p)| p));
        r["path"] = json!(format!("/prod{}", call.path()));
        r["requestId"] = json!(call.uid);
        r["userAgent"] = json!(call.agent());
        r["status"] = json!(call.status.to_string());
        r["responseLength"] = json!(call.bytes.to_string());
        serde_json::to_vec(&r).expect("serialisable")
    }
}

/// The OCSF attributes Credence reads, borrowed: the parse limit's target.
#[allow(dead_code)] // Read by serde only: the point is the cost of filling it.
#[derive(Deserialize)]
struct OcsfFields<'a> {
    class_uid: Option<u32>,
    time: Option<f64>,
    #[serde(borrow)]
    actor: Option<Actor<'a>>,
    #[serde(borrow)]
    api: Option<Api<'a>>,
    #[serde(borrow)]
    http_request: Option<HttpRequest<'a>>,
    http_response: Option<HttpResponse>,
    #[serde(borrow)]
    src_endpoint: Option<Endpoint<'a>>,
    #[serde(borrow)]
    resources: Option<Vec<Named<'a>>>,
    status_id: Option<u8>,
    #[serde(borrow)]
    metadata: Option<Metadata<'a>>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct Actor<'a> {
    #[serde(borrow)]
    user: Option<User<'a>>,
    #[serde(borrow)]
    session: Option<Session<'a>>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct User<'a> {
    #[serde(borrow)]
    uid: Option<&'a str>,
    #[serde(borrow)]
    credential_uid: Option<&'a str>,
    #[serde(borrow)]
    r#type: Option<&'a str>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct Session<'a> {
    #[serde(borrow)]
    issuer: Option<&'a str>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct Api<'a> {
    #[serde(borrow)]
    operation: Option<&'a str>,
    #[serde(borrow)]
    service: Option<Named<'a>>,
    #[serde(borrow)]
    request: Option<Uid<'a>>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct Named<'a> {
    #[serde(borrow)]
    name: Option<&'a str>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct Uid<'a> {
    #[serde(borrow)]
    uid: Option<&'a str>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct HttpRequest<'a> {
    #[serde(borrow)]
    http_method: Option<&'a str>,
    #[serde(borrow)]
    user_agent: Option<&'a str>,
    #[serde(borrow)]
    url: Option<Url<'a>>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct Url<'a> {
    #[serde(borrow)]
    path: Option<&'a str>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct HttpResponse {
    code: Option<i64>,
    length: Option<u64>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct Endpoint<'a> {
    #[serde(borrow)]
    ip: Option<&'a str>,
    #[serde(borrow)]
    location: Option<Location<'a>>,
    autonomous_system: Option<AutonomousSystem>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct Location<'a> {
    #[serde(borrow)]
    country: Option<&'a str>,
    #[serde(borrow)]
    city: Option<&'a str>,
    lat: Option<f64>,
    long: Option<f64>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct AutonomousSystem {
    number: Option<u32>,
}
#[allow(dead_code)]
#[derive(Deserialize)]
struct Metadata<'a> {
    #[serde(borrow)]
    uid: Option<&'a str>,
}

/// The paths of [`OcsfFields`], for sonic-rs's lazy reader; all but `actor.user.type` are in
/// the corpus.
fn ocsf_pointer_tree() -> (sonic_rs::PointerTree, usize) {
    use sonic_rs::pointer;
    let paths = [
        pointer!["class_uid"].to_vec(),
        pointer!["time"].to_vec(),
        pointer!["actor", "user", "uid"].to_vec(),
        pointer!["actor", "user", "credential_uid"].to_vec(),
        pointer!["actor", "user", "type"].to_vec(),
        pointer!["actor", "session", "issuer"].to_vec(),
        pointer!["api", "operation"].to_vec(),
        pointer!["api", "service", "name"].to_vec(),
        pointer!["api", "request", "uid"].to_vec(),
        pointer!["http_request", "http_method"].to_vec(),
        pointer!["http_request", "user_agent"].to_vec(),
        pointer!["http_request", "url", "path"].to_vec(),
        pointer!["http_response", "code"].to_vec(),
        pointer!["http_response", "length"].to_vec(),
        pointer!["src_endpoint", "ip"].to_vec(),
        pointer!["src_endpoint", "location", "country"].to_vec(),
        pointer!["src_endpoint", "location", "city"].to_vec(),
        pointer!["src_endpoint", "location", "lat"].to_vec(),
        pointer!["src_endpoint", "location", "long"].to_vec(),
        pointer!["src_endpoint", "autonomous_system", "number"].to_vec(),
        pointer!["resources", 0, "uid"].to_vec(),
        pointer!["status_id"].to_vec(),
        pointer!["metadata", "uid"].to_vec(),
    ];
    let mut tree = sonic_rs::PointerTree::new();
    for path in &paths {
        tree.add_path(path.iter());
    }
    (tree, paths.len() - 1)
}

fn pseudonymizer() -> Pseudonymizer {
    Pseudonymizer::new(&[42u8; 32]).expect("long enough")
}

fn engine() -> Engine {
    Engine::new(DetectConfig::default(), KeySpace::from_pseudonymizer(&pseudonymizer()))
}

/// An engine holding `creds` baselines, each taught `per_cred` events over `HISTORY_MS`,
/// generated and learned in chunks (the history is never held whole).
fn warmed(decoder: &Decoder, creds: usize, per_cred: usize) -> Engine {
    let mut e = engine();
    let total = creds * per_cred;
    let mut chunk = Vec::with_capacity(100_000);
    let mut history = calls(total, creds, 0, START_MS, HISTORY_MS, 1).peekable();
    while history.peek().is_some() {
        chunk.clear();
        chunk.extend(history.by_ref().take(100_000).map(|c| ocsf(&c)));
        for msg in &chunk {
            e.process(&decoder.decode_one(msg).expect("valid"), LearnPolicy::Default);
        }
    }
    e
}

/// Live traffic: OCSF events over the first `creds` credentials after the history, at its rate,
/// and a clock that moves each timed pass over them later by their span, so that repeating the
/// same events never piles them into the same minutes (a burst no real stream has).
struct Live {
    msgs: Vec<Vec<u8>>,
    span_ms: i64,
    passes: std::cell::Cell<i64>,
}

impl Live {
    fn new(creds: usize, per_cred: usize) -> Live {
        let span_ms = (BATCH as i64 * HISTORY_MS / (creds * per_cred) as i64).max(1_000);
        let msgs = calls(BATCH, creds, 0, START_MS + HISTORY_MS, span_ms, 2).map(|c| ocsf(&c)).collect();
        Live { msgs, span_ms, passes: std::cell::Cell::new(0) }
    }

    /// The time shift of the next pass, ms.
    fn next_shift(&self) -> i64 {
        self.passes.set(self.passes.get() + 1);
        self.passes.get() * self.span_ms
    }

    /// One pass of the messages through decoding and `e`, shifted: the whole per-event path.
    fn path(&self, e: &mut Engine, decoder: &Decoder) -> u64 {
        let shift = self.next_shift();
        let mut s = 0u64;
        for m in &self.msgs {
            if let Ok(mut ev) = decoder.decode_one(m) {
                ev.time_ms += shift;
                s += e.process(&ev, LearnPolicy::Default).score as u64;
            }
        }
        s
    }

    /// One pass of `decoded` (these events, whose own times are `base`) through `e`, shifted.
    fn process_shifted(&self, e: &mut Engine, decoded: &mut [Event<'_>], base: &[i64]) -> u64 {
        let shift = self.next_shift();
        let mut s = 0u64;
        for (ev, t) in decoded.iter_mut().zip(base) {
            ev.time_ms = t + shift;
            s += e.process(ev, LearnPolicy::Default).score as u64;
        }
        s
    }
}

/// The parse limit: `serde_json` reading the fields Credence reads into a borrowed struct, with
/// no further work. As the decoders read: the message checked as UTF-8 once, then parsed as text
/// (faster than `from_slice`, which checks each string as it meets it).
fn parse_limit(msgs: &[Vec<u8>]) -> usize {
    msgs.iter()
        .map(|m| {
            std::str::from_utf8(m)
                .ok()
                .and_then(|t| serde_json::from_str::<OcsfFields<'_>>(t).ok())
                .map_or(0, |f| f.status_id.map_or(1, usize::from))
        })
        .sum()
}

fn report_verdicts(name: &str, e: &Engine, decoder: &Decoder, msgs: &[Vec<u8>]) {
    // Scored without learning: the timed runs see the same engine.
    let (mut signalled, mut alerts) = (0, 0);
    for m in msgs {
        let v = e.score(&decoder.decode_one(m).expect("valid"));
        signalled += usize::from(!v.signals.is_empty());
        alerts += usize::from(v.is_alert());
    }
    eprintln!(
        "{name}: {} baselines; of {} live events {signalled} raise a signal, {alerts} alert",
        e.len(),
        msgs.len()
    );
}

fn benches(c: &mut Criterion) {
    let pseudo = pseudonymizer();
    let ocsf_decoder = Decoder::new(Format::Ocsf, pseudo.clone());
    let templates = Templates::load();
    let sample: Vec<Call> = calls(BATCH, warm_credentials(), 0, START_MS + HISTORY_MS, 600_000, 2).collect::<Vec<_>>();

    let mapping: FieldMapping = toml::from_str(&fixture("apigateway-mapping.toml")).expect("mapping");
    let formats: Vec<(&str, Decoder, Vec<Vec<u8>>)> = vec![
        ("ocsf", ocsf_decoder.clone(), sample.iter().map(ocsf).collect()),
        ("cloudtrail", Decoder::new(Format::Cloudtrail, pseudo.clone()), sample.iter().map(cloudtrail).collect()),
        ("kong", Decoder::new(Format::Kong, pseudo.clone()), sample.iter().map(|c| templates.kong(c)).collect()),
        ("envoy", Decoder::new(Format::Envoy, pseudo.clone()), sample.iter().map(|c| templates.envoy(c)).collect()),
        ("mapped", Decoder::mapped(mapping, pseudo.clone()), sample.iter().map(|c| templates.apigw(c)).collect()),
    ];
    let mut g = c.benchmark_group("decode");
    g.throughput(Throughput::Elements(BATCH as u64));
    for (name, decoder, msgs) in &formats {
        let avg = msgs.iter().map(Vec::len).sum::<usize>() / msgs.len();
        let valid = msgs.iter().filter(|m| decoder.decode_one(m).is_ok()).count();
        assert_eq!(valid, msgs.len(), "{name}: every benchmark record decodes");
        eprintln!("decode/{name}: {} records, {avg} bytes on average", msgs.len());
        g.bench_function(*name, |b| {
            b.iter(|| msgs.iter().map(|m| decoder.decode_one(m).map_or(0, |e| e.operation.len())).sum::<usize>())
        });
    }
    g.finish();

    let ocsf_msgs = &formats[0].2;
    let mut g = c.benchmark_group("parse_limit");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("ocsf_borrowed", |b| b.iter(|| parse_limit(ocsf_msgs)));
    g.bench_function("ocsf_skip", |b| {
        b.iter(|| ocsf_msgs.iter().filter(|m| serde_json::from_slice::<serde::de::IgnoredAny>(m).is_ok()).count())
    });
    g.bench_function("simd_json", |b| {
        let (mut copy, mut buffers) = (Vec::with_capacity(4096), simd_json::Buffers::new(4096));
        b.iter(|| {
            let mut n = 0;
            for m in ocsf_msgs {
                copy.clear();
                copy.extend_from_slice(m);
                let Ok(mut de) = simd_json::Deserializer::from_slice_with_buffers(&mut copy, &mut buffers) else {
                    continue;
                };
                n += OcsfFields::deserialize(&mut de).map_or(0, |f| f.status_id.map_or(1, usize::from));
            }
            n
        })
    });
    g.bench_function("sonic_rs", |b| {
        b.iter(|| {
            ocsf_msgs
                .iter()
                .map(|m| sonic_rs::from_slice::<OcsfFields<'_>>(m).map_or(0, |f| f.status_id.map_or(1, usize::from)))
                .sum::<usize>()
        })
    });
    let (tree, in_corpus) = ocsf_pointer_tree();
    for m in ocsf_msgs.iter().take(100) {
        let found = sonic_rs::get_many(m.as_slice(), &tree).expect("valid").iter().flatten().count();
        assert_eq!(found, in_corpus, "the lazy reader finds the fields serde fills");
    }
    g.bench_function("sonic_rs_lazy", |b| {
        use sonic_rs::JsonValueTrait;
        b.iter(|| {
            let mut n = 0;
            for m in ocsf_msgs {
                let Ok(fields) = sonic_rs::get_many(m.as_slice(), &tree) else { continue };
                // Read each value as the decoder would: strings borrowed, numbers parsed.
                n += fields.iter().flatten().filter(|v| v.as_str().is_some() || v.as_f64().is_some()).count();
            }
            n
        })
    });
    g.finish();

    // Engines are built on first use: only the selected benchmarks pay for them.
    let warm_cell = OnceCell::new();
    let warm = || {
        warm_cell.get_or_init(|| {
            let e = warmed(&ocsf_decoder, warm_credentials(), HISTORY_EVENTS);
            let live = Live::new(warm_credentials(), HISTORY_EVENTS);
            report_verdicts("warm", &e, &ocsf_decoder, &live.msgs);
            (std::cell::RefCell::new(e), live)
        })
    };
    let cold_msgs: Vec<Vec<u8>> =
        calls(BATCH, BATCH * 100, 10_000_000, START_MS + HISTORY_MS, 600_000, 3).map(|c| ocsf(&c)).collect();
    let cold_decoded: Vec<_> = cold_msgs.iter().map(|m| ocsf_decoder.decode_one(m).expect("valid")).collect();

    let mut g = c.benchmark_group("score_update");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("warm", |b| {
        let (e, live) = warm();
        let mut decoded: Vec<_> = live.msgs.iter().map(|m| ocsf_decoder.decode_one(m).expect("valid")).collect();
        let base: Vec<i64> = decoded.iter().map(|ev| ev.time_ms).collect();
        let e = &mut *e.borrow_mut();
        b.iter(|| live.process_shifted(e, &mut decoded, &base))
    });
    g.bench_function("cold", |b| {
        b.iter_batched(
            engine,
            |mut e| cold_decoded.iter().map(|ev| e.process(ev, LearnPolicy::Default).score as u64).sum::<u64>(),
            BatchSize::LargeInput,
        )
    });
    // A million credentials, each past its first events (12 over the history: `learning`); live
    // traffic over all of them, so most lookups miss the CPU caches.
    let large_cell = OnceCell::new();
    g.bench_function("resident_1m", |b| {
        // Criterion calls this once per sample: the engine is filled on the first call only.
        let (e, live) = large_cell.get_or_init(|| {
            let per_cred = 12;
            let e = warmed(&ocsf_decoder, large_credentials(), per_cred);
            let live = Live::new(large_credentials(), per_cred);
            report_verdicts("resident_1m", &e, &ocsf_decoder, &live.msgs);
            eprintln!("resident_1m: about {} bytes per baseline", Engine::bytes_per_baseline());
            (std::cell::RefCell::new(e), live)
        });
        let mut decoded: Vec<_> = live.msgs.iter().map(|m| ocsf_decoder.decode_one(m).expect("valid")).collect();
        let base: Vec<i64> = decoded.iter().map(|ev| ev.time_ms).collect();
        let e = &mut *e.borrow_mut();
        b.iter(|| live.process_shifted(e, &mut decoded, &base))
    });
    g.finish();

    let mut g = c.benchmark_group("path");
    g.throughput(Throughput::Elements(BATCH as u64));
    g.bench_function("warm", |b| {
        let (e, live) = warm();
        let e = &mut *e.borrow_mut();
        b.iter(|| live.path(e, &ocsf_decoder))
    });
    g.bench_function("cold", |b| {
        b.iter_batched(
            engine,
            |mut e| {
                let mut s = 0u64;
                for m in &cold_msgs {
                    if let Ok(ev) = ocsf_decoder.decode_one(m) {
                        s += e.process(&ev, LearnPolicy::Default).score as u64;
                    }
                }
                s
            },
            BatchSize::LargeInput,
        )
    });
    g.finish();

    // The path and the parse limit in alternation, a batch of each in turn over the very same
    // bytes: this machine's speed drifts by up to 2x within minutes, which two benches run one
    // after the other cannot tell from a difference between them. Criterion reports the path's
    // rate; each pair's ratio (path time over parse time) is kept and their quartiles printed.
    let mut g = c.benchmark_group("path_vs_parse");
    g.throughput(Throughput::Elements(BATCH as u64));
    let ratios = std::cell::RefCell::new(Vec::new());
    g.bench_function("warm", |b| {
        let (e, live) = warm();
        let e = &mut *e.borrow_mut();
        b.iter_custom(|iters| {
            let mut path = Duration::ZERO;
            for _ in 0..iters {
                let t0 = Instant::now();
                black_box(parse_limit(&live.msgs));
                let t1 = Instant::now();
                black_box(live.path(e, &ocsf_decoder));
                let t2 = Instant::now();
                ratios.borrow_mut().push((t2 - t1).as_secs_f64() / (t1 - t0).as_secs_f64());
                path += t2 - t1;
            }
            path
        })
    });
    g.finish();
    let mut ratios = ratios.into_inner();
    if !ratios.is_empty() {
        ratios.sort_by(f64::total_cmp);
        let q = |p: f64| ratios[((ratios.len() - 1) as f64 * p).round() as usize];
        eprintln!(
            "path_vs_parse/warm: the path took {:.2}x the parse limit's time (median of {} interleaved pairs; quartiles {:.2}-{:.2})",
            q(0.5),
            ratios.len(),
            q(0.25),
            q(0.75)
        );
    }
}

criterion_group!(engine_benches, benches);
criterion_main!(engine_benches);
