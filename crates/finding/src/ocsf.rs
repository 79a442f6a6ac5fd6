//! Rendering findings as OCSF 1.8 Detection Findings (class_uid 2004).

use credence_detect::attack::ATTACK_VERSION;
use credence_detect::{Attack, Category, Detector, Severity};
use credence_event::time::format_rfc3339_ms;
use serde_json::{json, Map, Value};

use crate::aggregate::{Activity, Finding, FindingUpdate};
use std::fmt::Write as _;

/// OCSF schema version written.
pub const OCSF_VERSION: &str = "1.8.0";
/// Detection Finding class uid.
pub const DETECTION_FINDING: u32 = 2004;

/// Product metadata for every finding.
#[derive(Clone, Debug)]
pub struct Product {
    /// Product version.
    pub version: String,
    /// Where the finding was produced (pod or host name), if known.
    pub instance: Option<String>,
}

impl Default for Product {
    fn default() -> Self {
        Product { version: env!("CARGO_PKG_VERSION").to_string(), instance: None }
    }
}

fn confidence_id(c: u8) -> u8 {
    match c {
        0..=39 => 1,
        40..=74 => 2,
        _ => 3,
    }
}

fn risk_level(score: u8) -> (u8, &'static str) {
    match score {
        0..=39 => (0, "Info"),
        40..=59 => (1, "Low"),
        60..=79 => (2, "Medium"),
        80..=94 => (3, "High"),
        _ => (4, "Critical"),
    }
}

pub(crate) fn title(f: &Finding) -> String {
    let primary = f.primary();
    // A catalogued operation's own title says more than its detector's.
    let head = match f.signals.first().and_then(|s| s.advice.as_ref()) {
        Some(a) => a.title.as_str(),
        None => primary.title(),
    };
    let others: Vec<_> = f.detectors().skip(1).map(Detector::as_str).collect();
    if let Some(net) = spray_network(f) {
        return format!("{head} ({net})");
    }
    if others.is_empty() {
        head.to_string()
    } else {
        format!("{head} (with {})", others.join(", "))
    }
}

/// The source network a key-spray finding is about (its subject), when it is one.
fn spray_network(f: &Finding) -> Option<&str> {
    (f.primary() == Detector::KeySpray).then_some(f.principal.as_deref()).flatten()
}

/// One OCSF `attack` object: the tactic, the technique and, for a sub-technique, the
/// sub-technique (whose name OCSF writes parent first, as ATT&CK does).
fn attack(a: &Attack) -> Value {
    let (uid, name) = a.technique();
    let mut v = json!({
        "tactic": { "uid": a.tactic.uid(), "name": a.tactic.name() },
        "technique": { "uid": uid, "name": name },
        "version": ATTACK_VERSION,
    });
    if let Some((uid, name)) = a.sub_technique() {
        v["sub_technique"] = json!({ "uid": uid, "name": name });
    }
    v
}

/// OCSF Incident Finding.
pub const INCIDENT_FINDING: u32 = 2005;

/// Renders one incident record as OCSF Incident Finding (class 2005) JSON: its findings in
/// `finding_info_list`, their ATT&CK tactics and techniques in `attacks`.
pub fn render_incident(update: &crate::incident::IncidentUpdate, product: &Product) -> Value {
    let i = &update.incident;
    let (activity_id, activity_name) = update.activity.ocsf();
    let record_uid = match update.activity {
        Activity::Close => format!("{}-closed", i.uid),
        _ => format!("{}-r{}", i.uid, i.revision),
    };
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "uid": record_uid,
        "product": { "name": "Credence", "vendor_name": "Credence", "version": product.version },
        "log_name": "credence.incidents",
    });
    if let Some(inst) = &product.instance {
        metadata["loggers"] =
            json!([{ "name": "credence", "uid": inst, "product": { "name": "Credence", "version": product.version } }]);
    }
    let mut attacks: Vec<&Attack> = Vec::new();
    for a in i.members.iter().flat_map(|m| &m.attacks) {
        if !attacks.contains(&a) {
            attacks.push(a);
        }
    }
    let list: Vec<Value> = i
        .members
        .iter()
        .map(|m| {
            let mut v = json!({
                "uid": m.uid,
                "title": m.title,
                "types": m.detectors.iter().map(|d| d.as_str()).collect::<Vec<_>>(),
                "first_seen_time": m.first_ms,
                "last_seen_time": m.last_ms,
                "product_uid": "credence",
            });
            if !m.attacks.is_empty() {
                v["attacks"] = Value::Array(m.attacks.iter().map(attack).collect());
            }
            v
        })
        .collect();
    let who = i.principal.clone().unwrap_or_else(|| format!("credential {}", i.credential));
    let tactics: Vec<&str> = i.tactics().iter().map(|t| t.name()).collect();
    let chain: Vec<&str> = i.members.iter().map(|m| m.title.as_str()).collect();
    let minutes = (i.last_ms - i.first_ms).max(0) / 60_000;
    let mut desc = format!(
        "{} findings on {who} within {} h {} min: {}.",
        i.findings,
        minutes / 60,
        minutes % 60,
        chain.join(" → ")
    );
    if !tactics.is_empty() {
        desc.push_str(&format!(" ATT&CK tactics: {}.", tactics.join(", ")));
    }
    if i.tactics().len() >= crate::incident::TACTICS_TO_ESCALATE {
        desc.push_str(
            " Severity raised one level above the worst finding: the chain spans several stages of an intrusion.",
        );
    }
    let title = format!("Incident: {} findings on {who}", i.findings);
    let message = match update.activity {
        Activity::Close => format!("{title} (closed: no new finding within the window)"),
        _ => title.clone(),
    };
    let severity = i.severity;
    let priority_id = match severity {
        Severity::Informational | Severity::Low => 1,
        Severity::Medium => 2,
        Severity::High => 3,
        Severity::Critical => 4,
    };
    let mut v = json!({
        "class_uid": INCIDENT_FINDING,
        "class_name": "Incident Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": INCIDENT_FINDING * 100 + activity_id,
        "type_name": format!("Incident Finding: {activity_name}"),
        "time": i.last_ms,
        "start_time": i.first_ms,
        "end_time": i.last_ms,
        "severity_id": severity.id(),
        "severity": severity.caption(),
        "priority_id": priority_id,
        "priority": severity.caption(),
        // Reviewed by no one yet: new until an analyst says otherwise.
        "status_id": 1,
        "status": "New",
        "verdict_id": 4,
        "verdict": "Suspicious",
        // OCSF wants an assignee or a group; Credence assigns no one: triage does.
        "assignee_group": { "name": "unassigned", "desc": "Not yet assigned: raised by Credence for triage." },
        "desc": desc,
        "message": message,
        "metadata": metadata,
        "finding_info_list": list,
        "unmapped": { "credence": { "findings": i.findings, "credential": i.credential } },
    });
    if !attacks.is_empty() {
        v["attacks"] = Value::Array(attacks.into_iter().map(attack).collect());
    }
    if let Some(p) = &i.principal {
        v["unmapped"]["credence"]["principal"] = json!(p);
    }
    v
}

/// What to do, one action per line, each once: a catalogued operation's remediation, else its
/// detector's; and the documentation the catalogue cites.
fn remediation(f: &Finding) -> Value {
    let mut steps: Vec<&str> = Vec::new();
    let mut references: Vec<&str> = Vec::new();
    for s in &f.signals {
        let step = s.advice.as_ref().map_or(s.detector.remediation(), |a| a.remediation.as_str());
        if !steps.contains(&step) {
            steps.push(step);
        }
        if let Some(d) = s.advice.as_ref().and_then(|a| a.docs.as_deref()) {
            if !references.contains(&d) {
                references.push(d);
            }
        }
    }
    let mut v = json!({ "desc": steps.iter().map(|s| format!("- {s}")).collect::<Vec<_>>().join("\n") });
    if !references.is_empty() {
        v["references"] = json!(references);
    }
    v
}

/// A short human summary: what happened, to whom, how unusual, how sure.
pub fn description(f: &Finding) -> String {
    let who = f.principal.as_deref().unwrap_or("unknown principal");
    let mut d = format!(
        "Credential {} ({who}) {} between {} and {}: {} anomalous request(s). Score {}/100, confidence {}/100, lifecycle state {}.",
        f.credential,
        match f.category {
            Category::Security => "behaved anomalously",
            Category::Operational => "showed an operational anomaly",
        },
        format_rfc3339_ms(f.first_ms),
        format_rfc3339_ms(f.last_ms),
        f.count,
        f.score,
        f.confidence,
        f.state.as_str(),
    );
    if let Some(h) = &f.context.key_hint {
        let _ = write!(d, " Access key {h}.");
    }
    if !f.context.operations.is_empty() {
        let _ = write!(d, " Operations: {}.", f.context.operations.join(", "));
    }
    for s in &f.signals {
        d.push_str(&format!(" [{}] observed {}; baseline: {}.", s.detector.as_str(), s.observed, s.baseline));
    }
    d
}

/// OCSF `resources[]`: what the finding's events acted on.
fn resources(f: &Finding) -> Vec<Value> {
    let region = match f.context.regions.as_slice() {
        [one] => Some(one.as_str()),
        _ => None,
    };
    f.context
        .resources
        .iter()
        .map(|r| {
            let mut v = json!({ "uid": r.name, "name": short_name(&r.name) });
            if let Some(k) = &r.kind {
                v["type"] = json!(k);
            }
            if let Some(a) = &f.context.account {
                v["owner"] = json!({ "account": { "uid": a, "type": "AWS Account", "type_id": 10 } });
            }
            if let Some(region) = region {
                v["region"] = json!(region);
            }
            v
        })
        .collect()
}

/// The last part of an ARN or path: `arn:aws:cloudtrail:us-east-1:1:trail/main` → `main`.
fn short_name(name: &str) -> &str {
    let tail = name.rsplit(':').next().unwrap_or(name);
    match tail.rsplit_once('/') {
        Some((_, last)) if !last.is_empty() && !name.starts_with("arn:aws:s3") => last,
        _ => tail,
    }
}

/// Renders one finding record as OCSF JSON.
pub fn render(update: &FindingUpdate, product: &Product) -> Value {
    let f = &update.finding;
    let (activity_id, activity_name) = update.activity.ocsf();
    // Closed by Credence when its window passed without anomalies; OCSF's statuses are a
    // reviewer's (new, in progress, resolved...), so "Closed" is `Other`.
    // A finding a suppression rule covers is recorded as OCSF's "Suppressed", whatever its
    // activity (the activity says whether it opened, changed or closed).
    let (status_id, status) = match (&update.suppressed, update.activity) {
        (Some(_), _) => (3, "Suppressed"),
        (None, Activity::Close) => (99, "Closed"),
        (None, _) => (1, "New"),
    };
    let status_detail =
        update.suppressed.as_ref().map(|s| format!("suppressed by rule {:?} of {}: {}", &*s.rule, s.author, s.reason));
    let severity: Severity = f.severity;
    let (risk_level_id, risk_level_name) = risk_level(f.score);
    let credential = f.credential.to_string();
    let mut user = Map::new();
    user.insert("credential_uid".into(), json!(credential));
    user.insert("programmatic_credentials".into(), json!([{ "uid": credential, "type": "pseudonymised" }]));
    match f.principal.as_deref() {
        Some(p) => {
            user.insert("uid".into(), json!(p));
            user.insert("name".into(), json!(p));
        }
        None => {
            user.insert("uid".into(), json!(f.subject.to_string()));
        }
    }
    if let Some(g) = f.peer_group.as_deref() {
        user.insert("groups".into(), json!([{ "name": g }]));
    }
    let related: Vec<Value> =
        f.related.iter().map(|id| json!({ "uid": id, "product_uid": "credence", "type_uid": 600300 + 99 })).collect();
    let anomalies: Vec<Value> = f
        .signals
        .iter()
        .map(|s| json!({ "observation_parameter": s.detector.as_str(), "observations": [ { "value": s.observed } ] }))
        .collect();
    let baselines: Vec<Value> = f
        .signals
        .iter()
        .map(|s| json!({ "observation_parameter": s.detector.as_str(), "observations": [ { "value": s.baseline } ] }))
        .collect();
    let evidences: Vec<Value> = f
        .sources
        .iter()
        .map(|s| {
            let mut ep = Map::new();
            if s.address.parse::<std::net::IpAddr>().is_ok() {
                ep.insert("ip".into(), json!(s.address));
            } else {
                ep.insert("hostname".into(), json!(s.address));
            }
            let mut loc = Map::new();
            if let Some(c) = &s.country {
                loc.insert("country".into(), json!(c));
            }
            if let Some(c) = &s.city {
                loc.insert("city".into(), json!(c));
            }
            if let Some(g) = s.geo {
                loc.insert("coordinates".into(), json!([g.lon, g.lat]));
            }
            if !loc.is_empty() {
                ep.insert("location".into(), Value::Object(loc));
            }
            if let Some(a) = s.asn {
                let mut asn = json!({ "number": a });
                if let Some((_, org)) = f.context.as_orgs.iter().find(|(n, _)| *n == a) {
                    asn["name"] = json!(org);
                }
                ep.insert("autonomous_system".into(), asn);
            }
            let mut api = json!({ "operation": s.operation });
            if let Some(svc) = &s.service {
                api["service"] = json!({ "name": svc });
            }
            let mut ev = json!({ "src_endpoint": ep, "api": api });
            if let Some(ua) = &s.user_agent {
                ev["http_request"] = json!({ "user_agent": ua });
            }
            ev
        })
        .collect();
    let types: Vec<&str> = f.detectors().map(Detector::as_str).collect();
    let attacks: Vec<Value> = f.attacks().map(attack).collect();
    let cloud = f.context.account.as_ref().map(|a| {
        let mut c = json!({ "provider": "AWS", "account": { "uid": a, "type": "AWS Account", "type_id": 10 } });
        if let Some(r) = f.context.regions.first() {
            c["region"] = json!(r);
        }
        c
    });
    let profiles = if cloud.is_some() { json!(["host", "cloud"]) } else { json!(["host"]) };
    let record_uid = match update.activity {
        Activity::Close => format!("{}-closed", f.uid),
        _ => format!("{}-r{}", f.uid, f.revision),
    };
    let mut metadata = json!({
        "version": OCSF_VERSION,
        "uid": record_uid,
        "product": { "name": "Credence", "vendor_name": "Credence", "version": product.version },
        "profiles": profiles,
        "log_name": "credence.findings",
    });
    if let Some(i) = &product.instance {
        metadata["loggers"] = json!([{ "name": "credence", "uid": i }]);
        metadata["loggers"][0]["product"] = json!({ "name": "Credence", "version": product.version });
    }
    let title = title(f);
    let message = match update.activity {
        Activity::Create => title.clone(),
        Activity::Update if update.changes.is_empty() => title.clone(),
        Activity::Update => {
            let new: Vec<String> = update.changes.iter().map(ToString::to_string).collect();
            format!("{title} (new: {})", new.join("; "))
        }
        Activity::Close => format!("{title} (closed after {} anomalous request(s))", f.count),
    };
    let mut finding = json!({
        "class_uid": DETECTION_FINDING,
        "class_name": "Detection Finding",
        "category_uid": 2,
        "category_name": "Findings",
        "activity_id": activity_id,
        "activity_name": activity_name,
        "type_uid": DETECTION_FINDING * 100 + activity_id,
        "type_name": format!("Detection Finding: {activity_name}"),
        "time": f.last_ms,
        "start_time": f.first_ms,
        "end_time": f.last_ms,
        "count": f.count,
        "severity_id": severity.id(),
        "severity": severity.caption(),
        "confidence_id": confidence_id(f.confidence),
        "confidence_score": f.confidence,
        "risk_score": f.score,
        "risk_level_id": risk_level_id,
        "risk_level": risk_level_name,
        "status_id": status_id,
        "status": status,
        "is_alert": update.activity != Activity::Close && update.suppressed.is_none(),
        "message": message,
        "metadata": metadata,
        "finding_info": {
            "uid": f.uid,
            "title": title,
            "desc": description(f),
            "types": types,
            "analytic": {
                "uid": format!("credence.{}", f.primary().as_str()),
                "name": f.primary().as_str(),
                "type_id": 2,
                "type": "Behavioral",
            },
            "first_seen_time": f.first_ms,
            "last_seen_time": f.last_ms,
            "created_time": f.first_ms,
            "modified_time": f.last_ms,
            "related_events": related,
            "related_events_count": f.count,
        },
        "anomaly_analyses": [ {
            "analysis_targets": [ { "name": credential, "type": "credential" } ],
            "anomalies": anomalies,
            "baselines": baselines,
        } ],
        "actor": { "user": Value::Object(user) },
        "evidences": evidences,
        "remediation": remediation(f),
        "unmapped": {
            "credence": {
                "subject": f.subject.to_string(),
                "category": match f.category { Category::Security => "security", Category::Operational => "operational" },
                "lifecycle_state": f.state.as_str(),
                "revision": f.revision,
                "detector_scores": detector_scores(f),
                "operations": f.context.operations,
            }
        },
    });
    if !attacks.is_empty() {
        finding["finding_info"]["attacks"] = Value::Array(attacks);
    }
    let resources = resources(f);
    if !resources.is_empty() {
        finding["resources"] = Value::Array(resources);
    }
    if let Some(c) = cloud {
        finding["cloud"] = c;
    }
    if let Some(d) = status_detail {
        finding["status_detail"] = json!(d);
    }
    let extra = &mut finding["unmapped"]["credence"];
    if !update.changes.is_empty() {
        extra["changes"] = json!(update.changes.iter().map(ToString::to_string).collect::<Vec<_>>());
    }
    if let Some(h) = &f.context.key_hint {
        extra["key_hint"] = json!(h);
    }
    if let Some(net) = spray_network(f) {
        // The subject is a source network, not a credential: no user or credential is named (the
        // keys tried belong to no one, and are counted, never listed); the network is the target.
        extra["subject_kind"] = json!("network");
        extra["network"] = json!(net);
    }
    if f.context.regions.len() > 1 {
        extra["regions"] = json!(f.context.regions);
    }
    if let Some(net) = spray_network(f) {
        finding["anomaly_analyses"][0]["analysis_targets"] = json!([{ "name": net, "type": "network" }]);
        if let Some(o) = finding.as_object_mut() {
            o.remove("actor");
        }
    }
    finding
}

/// Each detector's strongest score (signals are strongest first).
fn detector_scores(f: &Finding) -> Map<String, Value> {
    let mut m = Map::new();
    for s in &f.signals {
        m.entry(s.detector.as_str()).or_insert(json!(s.score));
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregator;
    use crate::schema::OcsfSchema;
    use credence_detect::{CredentialState, Signal, Verdict};
    use credence_event::{Country, Event, GeoPoint, Pseudonymizer};

    fn schema() -> OcsfSchema {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ocsf");
        OcsfSchema::load(&dir).expect("the OCSF schema in ../shared/ocsf must load")
    }

    #[test]
    fn rendered_findings_validate_against_ocsf_and_hold_no_raw_credential() {
        let raw = "AKIAIOSFODNN7EXAMPLE";
        let p = Pseudonymizer::insecure_demo();
        let mut e = Event::new(1_772_409_600_000, p.credential(raw), "GetObject");
        e.principal = Some("arn:aws:iam::1:user/alice".into());
        e.peer_group = Some("team-data".into());
        e.service = Some("s3.amazonaws.com".into());
        e.event_uid = Some("evt-9".into());
        e.user_agent = Some("python-requests/2.31".into());
        e.origin.ip = Some("203.0.113.9".parse().unwrap());
        e.origin.country = Country::parse("BR");
        e.origin.city = Some("São Paulo".into());
        e.origin.asn = Some(64500);
        e.origin.geo = GeoPoint::new(-23.5, -46.6);
        let v = Verdict {
            score: 91,
            confidence: 88,
            severity: Some(Severity::High),
            signals: vec![
                Signal::new(
                    Detector::NewOrigin,
                    80,
                    "origin country BR AS64500".into(),
                    "country never used in 41 days; usual: US 97%, CA 3%".into(),
                ),
                Signal::new(Detector::NewClient, 50, "ua".into(), "usual".into()),
            ],
            state: CredentialState::Established,
            network: None,
        };
        let mut agg = Aggregator::new(3_600_000, Severity::Low);
        let u = agg.observe(&e, &v).unwrap();
        let json = render(&u, &Product { instance: Some("pod-1".into()), ..Product::default() });
        let violations = schema().validate(&json);
        assert!(violations.is_empty(), "{}", violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"));
        let text = json.to_string();
        assert!(!text.contains(raw));
        assert_eq!(json["finding_info"]["related_events"][0]["uid"], "evt-9");
        assert_eq!(json["actor"]["user"]["credential_uid"], p.credential(raw).to_string());
        assert_eq!(json["severity_id"], 4);
        assert!(json["finding_info"]["desc"].as_str().unwrap().contains("usual: US 97%"));
        // Both detectors speak of the same technique: one attack.
        let attacks = json["finding_info"]["attacks"].as_array().unwrap();
        assert_eq!(attacks.len(), 1, "{attacks:?}");
        assert_eq!(attacks[0]["tactic"], json!({ "uid": "TA0001", "name": "Initial Access" }));
        assert_eq!(attacks[0]["technique"], json!({ "uid": "T1078", "name": "Valid Accounts" }));
        assert_eq!(attacks[0]["sub_technique"]["uid"], "T1078.004");
        assert_eq!(attacks[0]["sub_technique"]["name"], "Valid Accounts: Cloud Accounts");
    }

    /// A key spray: one finding for the network however many keys, valid OCSF, the network as
    /// its target and no credential or key named anywhere.
    #[test]
    fn a_key_spray_renders_as_one_finding_about_its_network() {
        use credence_detect::{DetectConfig, Engine, KeySpace, LearnPolicy};
        use credence_event::{CredentialKind, Outcome};
        let p = Pseudonymizer::insecure_demo();
        let mut engine = Engine::new(DetectConfig::default(), KeySpace::new([3; 16]));
        let mut agg = Aggregator::new(3_600_000, Severity::Low);
        let mut updates = Vec::new();
        for i in 0..80 {
            let raw = format!("sk_live_guess_{i:04}");
            let mut e = Event::new(1_772_409_600_000 + i * 500, p.credential(&raw), "GET /v1/orders");
            e.outcome = Outcome::AuthFailed;
            e.credential_kind = CredentialKind::ApiKey;
            e.origin.ip = Some(format!("203.0.113.{}", i % 7 + 1).parse().unwrap());
            let v = engine.process(&e, LearnPolicy::Default);
            updates.extend(agg.observe(&e, &v));
        }
        assert!(engine.is_empty(), "no baseline is made for a rejected key");
        assert_eq!(agg.open_count(), 1);
        let last = updates.last().unwrap();
        assert_eq!((updates.len(), last.finding.severity), (2, Severity::High), "created, then escalated");
        let json = render(last, &Product::default());
        let violations = schema().validate(&json);
        assert!(violations.is_empty(), "{}", violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"));
        let text = json.to_string();
        assert!(!text.contains("sk_live_guess"));
        assert!(!text.contains(&p.credential("sk_live_guess_0000").to_string()));
        assert!(json.get("actor").is_none());
        assert_eq!(
            json["anomaly_analyses"][0]["analysis_targets"][0],
            json!({ "name": "203.0.113.0/24", "type": "network" })
        );
        assert_eq!(json["unmapped"]["credence"]["subject_kind"], "network");
        assert_eq!(json["finding_info"]["attacks"][0]["technique"]["uid"], "T1110");
        assert_eq!(json["finding_info"]["attacks"][0]["tactic"]["uid"], "TA0006");
        assert!(json["finding_info"]["title"].as_str().unwrap().ends_with("(203.0.113.0/24)"));
    }

    /// A finding on catalogued operations: each technique in `attacks`, the catalogue's title and
    /// remediation with its documentation, and still valid OCSF.
    #[test]
    fn catalogued_operations_render_their_techniques_and_advice() {
        use credence_detect::{Advice, Attack, Tactic};
        let p = Pseudonymizer::insecure_demo();
        let e = Event::new(1_772_409_600_000, p.credential("AKIAEXAMPLE"), "StopLogging");
        let advice = |title: &str, docs: &str| Advice {
            title: title.into(),
            remediation: format!("Undo: {title}."),
            docs: Some(docs.into()),
        };
        let stop = Signal {
            advice: Some(advice("CloudTrail trail stopped or deleted", "https://docs.aws.amazon.com/a")),
            ..Signal::new(Detector::PrivilegeEscalation, 97, "first call of StopLogging".into(), "none".into())
                .with_attack(Attack::new(
                    Tactic::DefenseEvasion,
                    "T1562.008",
                    "Impair Defenses: Disable or Modify Cloud Logs",
                ))
        };
        let key = Signal {
            advice: Some(advice("New credential added to an IAM user", "https://docs.aws.amazon.com/b")),
            ..Signal::new(Detector::PrivilegeEscalation, 90, "first call of CreateAccessKey".into(), "none".into())
                .with_attack(Attack::new(
                    Tactic::Persistence,
                    "T1098.001",
                    "Account Manipulation: Additional Cloud Credentials",
                ))
        };
        let verdict = |s: Signal| Verdict {
            score: s.score,
            confidence: 80,
            severity: Some(Severity::Critical),
            signals: vec![s],
            state: CredentialState::New,
            network: None,
        };
        let mut agg = Aggregator::new(3_600_000, Severity::Low);
        agg.observe(&e, &verdict(stop)).unwrap();
        let widened = agg.observe(&e, &verdict(key)).expect("a new technique widens the finding");
        let json = render(&widened, &Product::default());
        let violations = schema().validate(&json);
        assert!(violations.is_empty(), "{}", violations.iter().map(|v| v.to_string()).collect::<Vec<_>>().join("\n"));
        assert_eq!(json["finding_info"]["title"], "CloudTrail trail stopped or deleted");
        let attacks = json["finding_info"]["attacks"].as_array().unwrap();
        let techniques: Vec<&str> = attacks.iter().map(|a| a["sub_technique"]["uid"].as_str().unwrap()).collect();
        assert_eq!(techniques, ["T1562.008", "T1098.001"]);
        assert_eq!(attacks[1]["tactic"]["uid"], "TA0003");
        assert_eq!(attacks[0]["version"], credence_detect::attack::ATTACK_VERSION);
        let remediation = &json["remediation"];
        assert!(remediation["desc"].as_str().unwrap().contains("Undo: New credential added to an IAM user."));
        assert_eq!(
            remediation["references"],
            json!(["https://docs.aws.amazon.com/a", "https://docs.aws.amazon.com/b"])
        );
        assert_eq!(json["finding_info"]["types"], json!(["privilege_escalation"]), "each detector once");
    }
}
