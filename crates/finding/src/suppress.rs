//! Suppression rules with expiry: what an analyst has judged expected, for a while.
//!
//! A rule names what it silences (credentials, principals, detectors, ATT&CK tactics, source
//! networks or autonomous systems, operations), why, who decided and until when. A finding that a
//! live rule covers is still recorded, with OCSF status `Suppressed` and the rule in its
//! `status_detail`, and counted; it is not routed to people (webhooks, Slack, PagerDuty).
//!
//! Two choices make a rule safe to leave in place:
//! - **Every given criterion must cover the whole finding.** A rule for `enumeration` covers a
//!   finding whose detectors are all `enumeration`; the same finding escalating with
//!   `exfiltration` breaks through, as does a source outside the rule's networks. A list criterion
//!   covers a finding when each of the finding's values matches one entry.
//! - **Every rule expires**, by event time: it applies to a finding whose latest anomalous event
//!   falls in `[created, expires)`. A replay of last month's logs applies the rules as they stood
//!   then; a rule that has expired stops applying by itself, with no one to remember to delete it.
//!
//! Rules come from a TOML file (`[[rule]]` tables); see [`Suppressions::from_toml`].

use std::net::IpAddr;
use std::sync::Arc;

use credence_detect::{Detector, Severity, Tactic};
use credence_event::time::parse_rfc3339_ms;
use globset::{Glob, GlobSet, GlobSetBuilder};
use ipnet::IpNet;
use serde::Deserialize;

use crate::Finding;

/// One `[[rule]]` as written.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleSpec {
    id: String,
    reason: String,
    author: String,
    /// RFC 3339; the rule applies from then on (default: since ever).
    created: Option<String>,
    /// RFC 3339; required.
    expires: String,
    #[serde(default)]
    credentials: Vec<String>,
    #[serde(default)]
    principals: Vec<String>,
    #[serde(default)]
    detectors: Vec<Detector>,
    #[serde(default)]
    tactics: Vec<Tactic>,
    #[serde(default)]
    networks: Vec<IpNet>,
    #[serde(default)]
    asns: Vec<u32>,
    #[serde(default)]
    operations: Vec<String>,
    /// Findings above this severity are not covered (default: any severity is).
    max_severity: Option<Severity>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    #[serde(default)]
    rule: Vec<RuleSpec>,
}

/// A suppression rule, parsed.
#[derive(Clone, Debug)]
pub struct Rule {
    /// Its id, unique in its file: the `rule` label of the suppression counter and the finding's
    /// `status_detail`.
    pub id: Arc<str>,
    /// Why the findings it covers are expected.
    pub reason: Arc<str>,
    /// Who decided.
    pub author: Arc<str>,
    /// Applies to findings whose latest anomalous event is at or after this (epoch ms).
    pub created_ms: i64,
    /// ... and before this.
    pub expires_ms: i64,
    credentials: Vec<String>,
    principals: Option<GlobSet>,
    detectors: Vec<Detector>,
    tactics: Vec<Tactic>,
    networks: Vec<IpNet>,
    asns: Vec<u32>,
    operations: Option<GlobSet>,
    /// Findings above this severity are not covered (none: any severity is).
    max_severity: Option<Severity>,
}

/// A finding's suppression: the rule that covers it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppressed {
    /// The rule's id.
    pub rule: Arc<str>,
    /// The rule's reason.
    pub reason: Arc<str>,
    /// The rule's author.
    pub author: Arc<str>,
}

impl Rule {
    /// Whether the rule covers `f` (every criterion given covers the whole finding, and the
    /// finding's latest anomalous event falls in the rule's lifetime).
    pub fn covers(&self, f: &Finding) -> bool {
        (self.created_ms..self.expires_ms).contains(&f.last_ms)
            && self.max_severity.is_none_or(|m| f.severity <= m)
            && (self.credentials.is_empty() || self.credentials.contains(&f.credential.to_string()))
            && self.principals.as_ref().is_none_or(|g| f.principal.as_deref().is_some_and(|p| g.is_match(p)))
            && (self.detectors.is_empty() || f.detectors().all(|d| self.detectors.contains(&d)))
            && (self.tactics.is_empty() || {
                let mut attacks = f.attacks().peekable();
                attacks.peek().is_some() && attacks.all(|a| self.tactics.contains(&a.tactic))
            })
            && (self.networks.is_empty()
                || !f.sources.is_empty()
                    && f.sources.iter().all(|s| {
                        s.address.parse::<IpAddr>().is_ok_and(|ip| self.networks.iter().any(|n| n.contains(&ip)))
                    }))
            && (self.asns.is_empty()
                || !f.sources.is_empty() && f.sources.iter().all(|s| s.asn.is_some_and(|a| self.asns.contains(&a))))
            && self.operations.as_ref().is_none_or(|g| {
                // The finding's operations, else (an older finding) its sources' operations.
                let mut ops: Vec<&str> = f.context.operations.iter().map(String::as_str).collect();
                if ops.is_empty() {
                    ops = f.sources.iter().map(|s| s.operation.as_str()).collect();
                }
                !ops.is_empty() && ops.iter().all(|o| g.is_match(o))
            })
    }

    fn suppressed(&self) -> Suppressed {
        Suppressed { rule: self.id.clone(), reason: self.reason.clone(), author: self.author.clone() }
    }
}

/// A set of suppression rules.
#[derive(Clone, Debug, Default)]
pub struct Suppressions {
    rules: Vec<Rule>,
}

impl Suppressions {
    /// Parses a rules file: `[[rule]]` tables with `id`, `reason`, `author`, `expires` (RFC 3339)
    /// and at least one criterion among `credentials` (pseudonyms, as findings show them),
    /// `principals` (globs), `detectors`, `tactics` (`defense-evasion`, ...), `networks` (CIDR),
    /// `asns`, `operations` (globs: `s3:List*`, `GET /v1/users/*`); optional `created` (RFC 3339)
    /// and `max_severity`. Every problem is reported, each with its rule.
    pub fn from_toml(text: &str) -> Result<Suppressions, Vec<String>> {
        let file: File = toml::from_str(text).map_err(|e| vec![e.to_string()])?;
        let mut problems = Vec::new();
        let mut rules = Vec::with_capacity(file.rule.len());
        for (i, spec) in file.rule.into_iter().enumerate() {
            let name =
                if spec.id.trim().is_empty() { format!("rule {}", i + 1) } else { format!("rule {:?}", spec.id) };
            match Rule::parse(spec) {
                Ok(r) if rules.iter().any(|o: &Rule| o.id == r.id) => {
                    problems.push(format!("{name}: the id is used twice"))
                }
                Ok(r) => rules.push(r),
                Err(errs) => problems.extend(errs.into_iter().map(|e| format!("{name}: {e}"))),
            }
        }
        if problems.is_empty() {
            Ok(Suppressions { rules })
        } else {
            Err(problems)
        }
    }

    /// The rules.
    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The first rule (in file order) that covers `f`.
    pub fn check(&self, f: &Finding) -> Option<Suppressed> {
        self.rules.iter().find(|r| r.covers(f)).map(Rule::suppressed)
    }
}

impl Rule {
    fn parse(s: RuleSpec) -> Result<Rule, Vec<String>> {
        let mut errs = Vec::new();
        for (field, value) in [("id", &s.id), ("reason", &s.reason), ("author", &s.author)] {
            if value.trim().is_empty() {
                errs.push(format!("`{field}` is empty: every rule says what it is, why and who decided"));
            }
        }
        let time = |field: &str, v: &str, errs: &mut Vec<String>| {
            let t = parse_rfc3339_ms(v);
            if t.is_none() {
                errs.push(format!("`{field}` = {v:?} is not an RFC 3339 time (2026-12-31T00:00:00Z)"));
            }
            t
        };
        let created_ms = s.created.as_deref().map_or(Some(i64::MIN), |v| time("created", v, &mut errs));
        let expires_ms = time("expires", &s.expires, &mut errs);
        if let (Some(c), Some(e)) = (created_ms, expires_ms) {
            if e <= c {
                errs.push("`expires` is not after `created`".into());
            }
        }
        for c in &s.credentials {
            if c.len() != 32 || !c.bytes().all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()) {
                errs.push(format!(
                    "credential {c:?} is not a pseudonym (32 lower-case hex digits, as findings show it; \
                     `credence pseudonym` derives one): raw credential values never belong in a file"
                ));
            }
        }
        let globs = |field: &str, patterns: &[String], errs: &mut Vec<String>| -> Option<GlobSet> {
            if patterns.is_empty() {
                return None;
            }
            let mut b = GlobSetBuilder::new();
            for p in patterns {
                match Glob::new(p) {
                    Ok(g) => {
                        b.add(g);
                    }
                    Err(e) => errs.push(format!("{field}: {e}")),
                }
            }
            b.build().map_err(|e| errs.push(format!("{field}: {e}"))).ok()
        };
        let principals = globs("principals", &s.principals, &mut errs);
        let operations = globs("operations", &s.operations, &mut errs);
        let criteria = s.credentials.len()
            + s.principals.len()
            + s.detectors.len()
            + s.tactics.len()
            + s.networks.len()
            + s.asns.len()
            + s.operations.len();
        if criteria == 0 {
            errs.push(
                "no criterion (credentials, principals, detectors, tactics, networks, asns, operations): \
                 a rule would silence every finding"
                    .into(),
            );
        }
        match (errs.is_empty(), created_ms, expires_ms) {
            (true, Some(created_ms), Some(expires_ms)) => Ok(Rule {
                id: s.id.into(),
                reason: s.reason.into(),
                author: s.author.into(),
                created_ms,
                expires_ms,
                credentials: s.credentials,
                principals,
                detectors: s.detectors,
                tactics: s.tactics,
                networks: s.networks,
                asns: s.asns,
                operations,
                max_severity: s.max_severity,
            }),
            _ => Err(errs),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::aggregate::Aggregator;
    use crate::ocsf::{render, Product};
    use crate::FindingUpdate;
    use credence_detect::{CredentialState, Signal, Verdict};
    use credence_event::{Event, Pseudonymizer};

    /// 2026-12-01T00:00:00Z.
    const T0: i64 = 1_796_083_200_000;

    /// A finding of `detectors` on `principal`'s key from `ip`, calling `op`, at `t`.
    fn finding(detectors: &[Detector], ip: &str, op: &str, t: i64) -> FindingUpdate {
        let p = Pseudonymizer::insecure_demo();
        let mut e = Event::new(t, p.credential("AKIAEXAMPLEKEY"), op);
        e.principal = Some("arn:aws:iam::1:role/ci-runner".into());
        e.origin.ip = Some(ip.parse().unwrap());
        e.origin.asn = Some(64500);
        let signals =
            detectors.iter().map(|d| Signal::new(*d, 70, format!("{d:?}"), "usual: nothing like it".into())).collect();
        let v = Verdict {
            score: 70,
            confidence: 80,
            severity: Some(Severity::Medium),
            signals,
            state: CredentialState::Established,
            network: None,
        };
        Aggregator::new(3_600_000, Severity::Low).observe(&e, &v).expect("a finding")
    }

    fn rules(text: &str) -> Suppressions {
        Suppressions::from_toml(text).unwrap_or_else(|e| panic!("{}", e.join("\n")))
    }

    const CI_RUNNER: &str = r#"
        [[rule]]
        id = "ci-runner-listing"
        reason = "the new CI runner lists buckets at every deploy (CHG-1234)"
        author = "alice@example.com"
        created = "2026-12-01T00:00:00Z"
        expires = "2026-12-08T00:00:00Z"
        principals = ["arn:aws:iam::*:role/ci-*"]
        detectors = ["enumeration", "new_origin"]
        networks = ["203.0.113.0/24"]
        operations = ["s3:List*", "ListBuckets"]
    "#;

    #[test]
    fn a_rule_covers_what_it_names_while_it_lives() {
        let s = rules(CI_RUNNER);
        let f = finding(&[Detector::Enumeration], "203.0.113.7", "ListBuckets", T0 + 3_600_000);
        let hit = s.check(&f.finding).expect("covered");
        assert_eq!(&*hit.rule, "ci-runner-listing");
        // Expired by event time (the finding's latest event), or not yet created.
        let late = finding(&[Detector::Enumeration], "203.0.113.7", "ListBuckets", T0 + 7 * 86_400_000);
        assert_eq!(s.check(&late.finding), None, "expired");
        let early = finding(&[Detector::Enumeration], "203.0.113.7", "ListBuckets", T0 - 1);
        assert_eq!(s.check(&early.finding), None, "not yet created");
    }

    #[test]
    fn anything_the_rule_does_not_name_breaks_through() {
        let s = rules(CI_RUNNER);
        let t = T0 + 3_600_000;
        // Another detector beside the named one: an escalation is not silenced.
        let f = finding(&[Detector::Enumeration, Detector::Exfiltration], "203.0.113.7", "ListBuckets", t);
        assert_eq!(s.check(&f.finding), None, "escalation");
        // A source outside the networks.
        assert_eq!(s.check(&finding(&[Detector::Enumeration], "198.51.100.7", "ListBuckets", t).finding), None);
        // An operation outside the patterns.
        assert_eq!(s.check(&finding(&[Detector::Enumeration], "203.0.113.7", "GetObject", t).finding), None);
    }

    #[test]
    fn a_suppressed_finding_is_recorded_as_suppressed_not_alerted() {
        let s = rules(CI_RUNNER);
        let mut u = finding(&[Detector::Enumeration], "203.0.113.7", "ListBuckets", T0 + 60_000);
        u.suppressed = s.check(&u.finding);
        let json = render(&u, &Product::default());
        assert_eq!(json["status_id"], 3);
        assert_eq!(json["status"], "Suppressed");
        assert_eq!(json["is_alert"], false);
        let detail = json["status_detail"].as_str().expect("status_detail");
        assert!(
            detail.contains("ci-runner-listing") && detail.contains("alice@example.com") && detail.contains("CHG-1234")
        );
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/ocsf");
        let schema = crate::schema::OcsfSchema::load(&dir).expect("the OCSF schema in ../shared/ocsf");
        let violations = schema.validate(&json);
        assert!(violations.is_empty(), "{}", violations.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"));
    }

    #[test]
    fn bad_rules_are_refused_each_with_its_reason() {
        let errs = Suppressions::from_toml(
            r#"
            [[rule]]
            id = "everything"
            reason = "noise"
            author = "bob"
            expires = "2027-01-01T00:00:00Z"

            [[rule]]
            id = "raw"
            reason = "the deploy key"
            author = ""
            expires = "next week"
            credentials = ["AKIAIOSFODNN7EXAMPLE"]

            [[rule]]
            id = "backwards"
            reason = "r"
            author = "a"
            created = "2027-01-01T00:00:00Z"
            expires = "2026-01-01T00:00:00Z"
            asns = [64500]
            "#,
        )
        .expect_err("refused");
        let all = errs.join("\n");
        assert!(all.contains(r#"rule "everything": no criterion"#), "{all}");
        assert!(all.contains(r#"rule "raw": `author` is empty"#), "{all}");
        assert!(all.contains(r#"rule "raw": `expires` = "next week""#), "{all}");
        assert!(all.contains(r#"rule "raw": credential "AKIAIOSFODNN7EXAMPLE" is not a pseudonym"#), "{all}");
        assert!(all.contains(r#"rule "backwards": `expires` is not after `created`"#), "{all}");
        // A missing field or an unknown one is the parser's error.
        assert!(Suppressions::from_toml("[[rule]]\nid = \"x\"\n").is_err());
        assert!(Suppressions::from_toml("[[rule]]\nid='x'\nreason='r'\nauthor='a'\nexpires='2027-01-01T00:00:00Z'\nasns=[1]\nnetwork=['10.0.0.0/8']\n").is_err());
    }

    #[test]
    fn credentials_asns_tactics_and_severity_bound() {
        let f = finding(&[Detector::NewOrigin], "203.0.113.7", "GetObject", T0);
        let cred = f.finding.credential.to_string();
        let text = format!(
            "[[rule]]\nid='k'\nreason='r'\nauthor='a'\nexpires='2030-01-01T00:00:00Z'\ncredentials=['{cred}']\nasns=[64500]\nmax_severity='medium'\n"
        );
        assert!(rules(&text).check(&f.finding).is_some());
        let mut high = f.finding.clone();
        high.severity = Severity::High;
        assert!(rules(&text).check(&high).is_none(), "above max_severity");
        let other_asn = text.replace("asns=[64500]", "asns=[64501]");
        assert!(rules(&other_asn).check(&f.finding).is_none());
        // new_origin is Initial Access: a rule for Discovery alone does not cover it.
        let tactic = text.replace("asns=[64500]", "tactics=['discovery']");
        assert!(rules(&tactic).check(&f.finding).is_none());
        let tactic = text.replace("asns=[64500]", "tactics=['initial-access']");
        assert!(rules(&tactic).check(&f.finding).is_some());
    }
}
