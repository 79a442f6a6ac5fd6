//! The operation risk catalogue: what an API call means as a MITRE ATT&CK tactic and technique,
//! and how risky a first call is, with no baseline needed (`crates/detect/catalogue.toml`, built
//! in; a user's file in the same format extends or overrides it). One classifier for the whole
//! engine: the day-one detector (`RiskyOperation`) and the behavioural privilege detector both
//! read their operation's class from here.
//!
//! Rules match AWS calls by service and action name (listed calls, or a verb and the noun it acts
//! on) and REST routes by method and path segments, with request facts (shared publicly,
//! decrypted, ...) where the parameters decide. The first rule that matches wins; a user's rules
//! are tried first. Classification is cached per operation key, so it costs one atomic load once
//! an operation has been seen.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

use credence_event::RequestFacts;
use serde::Deserialize;

use crate::attack::{is_technique_id, Attack, Tactic};
use crate::verdict::Severity;

mod words;
use words::{route, without_api_version, words};

/// The built-in catalogue's text, embedded at compile time.
pub const BUILTIN: &str = include_str!("../../catalogue.toml");

/// What an operation does, as the behavioural detectors need to know it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpClass {
    /// Changes who may do what: identities, credentials, policies, roles, trust (ATT&CK Account
    /// Manipulation T1098, Create Account T1136, Trust Modification T1484, Modify Authentication
    /// Process T1556).
    Privilege,
    /// Weakens a security control: audit logs, detectors, firewalls, organization guardrails
    /// (Impair Defenses T1562, Modify Cloud Resource Hierarchy T1666).
    Tamper,
    /// Lists or describes things (the Discovery tactic).
    Discovery,
    /// Anything else.
    Other,
}

/// What the catalogue says about one operation.
#[derive(Clone, Debug, PartialEq)]
pub struct Entry {
    /// The ATT&CK tactic and technique.
    pub attack: Attack,
    /// How risky a first call is; `Informational` means "not risky".
    pub severity: Severity,
    /// How risky a first call is on a credential with no history to judge it by (not established,
    /// no mature peer group): lower for calls every workload makes when it starts.
    pub new_credential: Severity,
    /// A short title for a finding ("CloudTrail trail stopped or deleted").
    pub title: String,
    /// Why this severity, in one line.
    pub reason: String,
    /// What to do first.
    pub remediation: String,
    /// The provider's documentation of the call, when the rule names one.
    pub docs: Option<String>,
}

impl Entry {
    /// The operation's class, from its technique.
    pub fn class(&self) -> OpClass {
        if self.severity == Severity::Informational {
            return OpClass::Other;
        }
        let (parent, _) = self.attack.technique();
        match (self.attack.tactic, parent) {
            (Tactic::Discovery, _) => OpClass::Discovery,
            (_, "T1562" | "T1666") => OpClass::Tamper,
            (_, "T1098" | "T1136" | "T1484" | "T1556") => OpClass::Privilege,
            _ => OpClass::Other,
        }
    }
}

/// Problems found in a catalogue file, every one of them, each with its line where known.
#[derive(Debug, thiserror::Error)]
#[error("invalid operation risk catalogue:\n{}", .problems.join("\n"))]
pub struct CatalogueError {
    /// One line per problem.
    pub problems: Vec<String>,
}

/// ATT&CK technique names by id.
type Techniques = BTreeMap<String, String>;

/// The file format (see the header of `catalogue.toml`).
#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields, default)]
struct File {
    techniques: Techniques,
    aws: Vec<toml::Spanned<RawRule>>,
    rest: Vec<toml::Spanned<RawRule>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    #[serde(default)]
    services: Vec<String>,
    #[serde(default)]
    operations: Vec<String>,
    #[serde(default)]
    verbs: Vec<String>,
    #[serde(default)]
    methods: Vec<String>,
    #[serde(default)]
    nouns: Vec<String>,
    #[serde(default)]
    under: Vec<String>,
    #[serde(default)]
    facts: Vec<String>,
    tactic: Tactic,
    technique: String,
    severity: Severity,
    new_credential: Option<Severity>,
    title: String,
    reason: String,
    remediation: String,
    docs: Option<String>,
}

/// Which operations a rule reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Style {
    Aws,
    Rest,
}

/// A compiled rule.
#[derive(Clone, Debug)]
struct Rule {
    style: Style,
    services: Vec<String>,
    /// Lower case, without API version.
    operations: Vec<String>,
    /// Lower-case first words (AWS) or upper-case methods (REST).
    verbs: Vec<String>,
    nouns: Vec<Vec<String>>,
    under: Vec<Vec<String>>,
    facts: RequestFacts,
    entry: Entry,
}

/// An operation as the catalogue reads it.
#[derive(Clone, Copy, Debug)]
pub struct Op<'a> {
    /// The service, as logged (`cloudtrail.amazonaws.com`, a gateway service).
    pub service: Option<&'a str>,
    /// The operation, as logged (`StopLogging`, `POST /v1/api-keys`).
    pub operation: &'a str,
    /// The HTTP method, when logged apart from the operation.
    pub method: Option<&'a str>,
    /// What the decoder read from the request's parameters.
    pub facts: RequestFacts,
}

/// Most rules a catalogue may hold: the cache stores a rule's index in 16 bits.
const MAX_RULES: usize = u16::MAX as usize - 1;
/// Slots of the classification cache, a power of two: an estate calls hundreds to a few thousand
/// distinct operations, so 4,096 slots (32 KiB) keep collisions rare, and a collision only costs
/// a classification again.
const CACHE_SLOTS: usize = 4096;
/// Marks a filled cache slot (its other bits may all be zero).
const FILLED: u64 = 1 << 63;
/// Bits of a cache slot holding its key (operation key, facts, method).
const KEY_BITS: u32 = 43;

/// The operation risk catalogue of one engine: the rules (shared) and a classification cache of
/// its own, keyed by the engine's operation keys.
#[derive(Debug)]
pub struct Catalogue {
    rules: Arc<[Rule]>,
    cache: Box<[AtomicU64]>,
}

impl Clone for Catalogue {
    /// The same rules with an empty cache: operation keys differ between engines' key spaces.
    fn clone(&self) -> Catalogue {
        Catalogue::from_rules(self.rules.clone())
    }
}

impl Default for Catalogue {
    fn default() -> Catalogue {
        Catalogue::builtin()
    }
}

impl Catalogue {
    fn from_rules(rules: Arc<[Rule]>) -> Catalogue {
        Catalogue { rules, cache: (0..CACHE_SLOTS).map(|_| AtomicU64::new(0)).collect() }
    }

    /// The built-in rules and techniques, compiled once per process.
    fn builtin_parts() -> &'static (Arc<[Rule]>, Techniques) {
        static PARTS: OnceLock<(Arc<[Rule]>, Techniques)> = OnceLock::new();
        PARTS.get_or_init(|| {
            let (rules, techniques) = compile(BUILTIN, &BTreeMap::new())
                .unwrap_or_else(|e| panic!("the built-in catalogue is valid (tested): {e}"));
            (rules.into(), techniques)
        })
    }

    /// The built-in catalogue.
    pub fn builtin() -> Catalogue {
        Catalogue::from_rules(Catalogue::builtin_parts().0.clone())
    }

    /// The built-in catalogue extended by a user's file (`text`, same format): its rules are
    /// tried first, its `[techniques]` add to the built-in ones.
    pub fn with_overrides(text: &str) -> Result<Catalogue, CatalogueError> {
        let (builtin, techniques) = Catalogue::builtin_parts();
        let (mut rules, _) = compile(text, techniques)?;
        rules.extend(builtin.iter().cloned());
        if rules.len() > MAX_RULES {
            return Err(CatalogueError { problems: vec![format!("{} rules; at most {MAX_RULES}", rules.len())] });
        }
        Ok(Catalogue::from_rules(rules.into()))
    }

    /// Rules held.
    pub fn len(&self) -> usize {
        self.rules.len()
    }

    /// Whether no rule is held.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// What the catalogue says of `op`, whose engine key is `key` (see `KeySpace::operation`);
    /// `None` when no rule matches. Cached: one atomic load once the operation has been seen.
    pub fn classify(&self, key: u32, op: Op<'_>) -> Option<&Entry> {
        let method = if words::is_route(op.operation) { method_code(op) } else { 0 };
        let packed = u64::from(key) | u64::from(op.facts.bits()) << 32 | u64::from(method) << 40;
        let slot = &self.cache[slot_of(key, op.facts.bits(), method)];
        let held = slot.load(Ordering::Relaxed);
        let index = if held & FILLED != 0 && held & ((1 << KEY_BITS) - 1) == packed {
            (held >> 44) as u16
        } else {
            let found = self.find(op).map_or(0, |i| i as u16 + 1);
            slot.store(FILLED | u64::from(found) << 44 | packed, Ordering::Relaxed);
            found
        };
        index.checked_sub(1).map(|i| &self.rules[usize::from(i)].entry)
    }

    /// The first rule matching `op`, without the cache.
    fn find(&self, op: Op<'_>) -> Option<usize> {
        let service = op.service.map(short_service);
        if words::is_route(op.operation) {
            let r = route(op.operation, op.method);
            self.rules
                .iter()
                .position(|rule| rule.style == Style::Rest && rule.matches_route(service.as_deref(), &r, op))
        } else {
            // `iam:CreateAccessKey` names its service itself.
            let (prefix, name) = match op.operation.split_once(':') {
                Some((s, n)) => (Some(s.to_ascii_lowercase()), n),
                None => (None, op.operation),
            };
            let service = service.or(prefix);
            let name = without_api_version(name.trim());
            let lower = name.to_ascii_lowercase();
            let w = words(name);
            self.rules.iter().position(|rule| {
                rule.style == Style::Aws && rule.matches_action(service.as_deref(), &lower, &w, op.facts)
            })
        }
    }
}

/// The method's code in a cache key (0 for none or an unusual one).
fn method_code(op: Op<'_>) -> u8 {
    let first = op.operation.trim_start().split(' ').next().unwrap_or("");
    let m = if first.contains('/') { op.method.unwrap_or("") } else { first };
    ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]
        .iter()
        .position(|x| x.eq_ignore_ascii_case(m))
        .map_or(0, |i| i as u8 + 1)
}

fn slot_of(key: u32, facts: u8, method: u8) -> usize {
    // Operation keys are keyed SipHash values, uniform already: mixing in facts and method is
    // enough to spread the variants of one operation.
    let mixed = key ^ u32::from(facts).wrapping_mul(0x9E37_79B9) ^ u32::from(method) << 24;
    mixed as usize & (CACHE_SLOTS - 1)
}

/// `cloudtrail.amazonaws.com` → `cloudtrail`; other services lower-cased as logged.
fn short_service(s: &str) -> String {
    let s = s.trim().to_ascii_lowercase();
    match s.find(".amazonaws.com") {
        Some(i) => s[..i].to_owned(),
        None => s,
    }
}

impl Rule {
    fn service_ok(&self, service: Option<&str>) -> bool {
        self.services.is_empty() || service.is_some_and(|s| self.services.iter().any(|x| x == s))
    }

    fn matches_action(&self, service: Option<&str>, name: &str, w: &[String], facts: RequestFacts) -> bool {
        if !facts.contains(self.facts) || !self.service_ok(service) {
            return false;
        }
        if self.operations.iter().any(|o| o == name) {
            return true;
        }
        if self.verbs.is_empty() && self.nouns.is_empty() {
            return false;
        }
        let Some((verb, rest)) = w.split_first() else { return false };
        (self.verbs.is_empty() || self.verbs.iter().any(|v| v == verb))
            && (self.nouns.is_empty() || self.nouns.iter().any(|n| rest.ends_with(n)))
    }

    fn matches_route(&self, service: Option<&str>, r: &words::Route, op: Op<'_>) -> bool {
        if !op.facts.contains(self.facts) || !self.service_ok(service) {
            return false;
        }
        if !self.verbs.is_empty() && !self.verbs.contains(&r.method) {
            return false;
        }
        let last = r.segments.last();
        (self.nouns.is_empty() || last.is_some_and(|l| self.nouns.iter().any(|n| n == l)))
            && (self.under.is_empty() || r.segments.iter().any(|s| self.under.iter().any(|u| u == s)))
    }
}

/// Line (1-based) of a byte offset in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].bytes().filter(|&b| b == b'\n').count() + 1
}

/// Compiles a catalogue file against the techniques already known (`known`, which its own
/// `[techniques]` extend). Returns its rules and the techniques it knows.
fn compile(text: &str, known: &Techniques) -> Result<(Vec<Rule>, Techniques), CatalogueError> {
    let file: File = toml::from_str(text).map_err(|e| CatalogueError { problems: vec![e.to_string()] })?;
    let mut problems = Vec::new();
    let mut techniques = known.clone();
    for (id, name) in &file.techniques {
        if !is_technique_id(id) {
            problems.push(format!("[techniques]: {id:?} is not an ATT&CK technique id (T1234 or T1234.001)"));
        } else if id.contains('.') && !name.contains(": ") {
            problems.push(format!("[techniques]: {id} is a sub-technique: name it \"Technique: Sub-technique\""));
        }
        techniques.insert(id.clone(), name.clone());
    }
    let mut rules = Vec::new();
    let spanned = file.aws.into_iter().map(|r| (Style::Aws, r)).chain(file.rest.into_iter().map(|r| (Style::Rest, r)));
    for (style, r) in spanned {
        let line = line_of(text, r.span().start);
        match rule(style, r.into_inner(), &techniques) {
            Ok(rule) => rules.push(rule),
            Err(errs) => problems.extend(errs.into_iter().map(|e| format!("line {line}: {e}"))),
        }
    }
    if problems.is_empty() {
        Ok((rules, techniques))
    } else {
        Err(CatalogueError { problems })
    }
}

/// Validates and compiles one rule.
fn rule(style: Style, r: RawRule, techniques: &Techniques) -> Result<Rule, Vec<String>> {
    let mut problems = Vec::new();
    let kind = if style == Style::Aws { "[[aws]]" } else { "[[rest]]" };
    let name = techniques.get(&r.technique);
    if name.is_none() {
        problems.push(format!("{kind}: technique {:?} is not in [techniques]", r.technique));
    }
    let mut facts = RequestFacts::NONE;
    for f in &r.facts {
        match RequestFacts::by_name(f) {
            Some(x) => facts = facts.union(x),
            None => problems.push(format!(
                "{kind}: unknown fact {f:?} (known: {})",
                RequestFacts::NAMED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
            )),
        }
    }
    match style {
        Style::Aws => {
            if !r.methods.is_empty() || !r.under.is_empty() {
                problems.push(format!("{kind}: `methods` and `under` are for [[rest]] rules"));
            }
            if r.operations.is_empty() && r.verbs.is_empty() && r.nouns.is_empty() {
                problems.push(format!("{kind}: name `operations`, or `verbs` and/or `nouns`, to match"));
            }
        }
        Style::Rest => {
            if !r.operations.is_empty() || !r.verbs.is_empty() {
                problems.push(format!("{kind}: `operations` and `verbs` are for [[aws]] rules; use `methods`"));
            }
            if r.nouns.is_empty() && r.under.is_empty() {
                problems.push(format!("{kind}: name `nouns` and/or `under`: a method alone matches every route"));
            }
        }
    }
    if r.new_credential.is_some_and(|n| n > r.severity) {
        problems.push(format!("{kind}: `new_credential` may lower the severity, not raise it"));
    }
    for (field, text) in [("title", &r.title), ("reason", &r.reason), ("remediation", &r.remediation)] {
        if text.trim().is_empty() || text.contains('\n') {
            problems.push(format!("{kind}: `{field}` must be one non-empty line"));
        }
    }
    let phrases = |v: &[String]| -> Vec<Vec<String>> { v.iter().map(|p| words(p)).filter(|w| !w.is_empty()).collect() };
    let verbs = match style {
        Style::Aws => r.verbs.iter().map(|v| v.to_ascii_lowercase()).collect(),
        Style::Rest => r.methods.iter().map(|m| words::method(m)).collect(),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Ok(Rule {
        style,
        services: r.services.iter().map(|s| short_service(s)).collect(),
        operations: r.operations.iter().map(|o| without_api_version(o.trim()).to_ascii_lowercase()).collect(),
        verbs,
        nouns: phrases(&r.nouns),
        under: phrases(&r.under),
        facts,
        entry: Entry {
            attack: Attack::new(r.tactic, &r.technique, name.map_or("", String::as_str)),
            severity: r.severity,
            new_credential: r.new_credential.unwrap_or(r.severity),
            title: r.title,
            reason: r.reason,
            remediation: r.remediation,
            docs: r.docs,
        },
    })
}

#[cfg(test)]
mod tests;
