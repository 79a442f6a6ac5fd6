//! The temporary-credential binding (issue 18): a session credential (an AWS `ASIA…` key of an
//! assumed role or an instance profile) is bound to the network and client of its first use
//! from the Internet; a use of the same key from another network while it lives is someone else
//! holding it ([`Detector::StolenSession`]: GuardDuty's `InstanceCredentialExfiltration`, outside
//! or inside AWS). It needs no history: a temporary key lives hours, and every key is new.
//! Another network with another client family is High; with the bound client's family, Medium
//! (a workload moved with its key live, or a thief with the same SDK: [`OTHER_NETWORK_SCORE`]).
//!
//! Bound per presented key, not per role session: a session name is often shared (every GitHub
//! Actions job of a repository assumes its role as `GitHubActions`, from whichever runner), while
//! a key is issued to one caller. The binding is kept in memory only, beside the baselines: a
//! restart forgets it, and the next use of each live key binds it again; the check is symmetric
//! (whichever party comes second is caught), so a key in use by two parties is still found, one
//! call later at worst.
//!
//! What never binds nor trips it (AWS acting for the session, or a place that is not on the
//! Internet):
//! - a source that is no IP address: an AWS service principal (`ec2.amazonaws.com`) or
//!   `AWS Internal`;
//! - a user agent that is AWS itself (`AWS Internal`, `*.amazonaws.com`: a service calling with
//!   the session's forward access);
//! - a call through a VPC endpoint (`vpcEndpointId`), and private, shared (carrier-grade NAT),
//!   loopback and link-local addresses: the instance's own addresses inside its VPC change with
//!   its interfaces and say nothing of where it is. The public side of the same instance (its
//!   NAT gateway or public address) binds when it first shows.

use std::collections::HashMap;
use std::hash::BuildHasherDefault;
use std::net::IpAddr;

use credence_event::time::format_rfc3339_ms;
use credence_event::{CredentialKind, Event, Pseudonym, RequestFacts};

use crate::attack::{Attack, Tactic};
use crate::baseline::to_ms;
use crate::keys::{self, PseudonymHasher};
use crate::verdict::{Detector, Signal};

/// The longest any AWS temporary credential lives: 36 hours (`GetSessionToken` and
/// `GetFederationToken` for an IAM user; role sessions at most 12 hours, instance-profile keys
/// about 6). A binding older than this belongs to a key that can no longer be used.
pub const MAX_SESSION_SECS: u32 = 36 * 3600;

/// Score of a use from another network with the bound client's family: the middle of the Medium
/// band (75–86). The workload itself moves now and then with its key live (a redeploy into new
/// subnets, a failover to another NAT or provider: the simulator's `DeployIpChange` does it to a
/// whole fleet), and a thief may use the same SDK: worth a look, not an emergency, as a new
/// origin with the usual client is (`Engine::judge` caps both at Medium).
pub const OTHER_NETWORK_SCORE: u8 = 80;
/// Score when the client differs too: someone else's tool somewhere else, the shape of the
/// theft; in the High band (87–95), so corroborating evidence lifts it to Critical.
pub const OTHER_NETWORK_AND_CLIENT_SCORE: u8 = 92;

/// Where and with what a temporary key was first used from the Internet.
#[derive(Clone, Debug)]
struct Binding {
    /// Network key ([`keys::network`]: the IPv4 /24 or the IPv6 /64).
    net: u32,
    /// The first public address, for evidence.
    ip: IpAddr,
    /// Its autonomous system, when enriched: the network the key is bound to beside its /24.
    asn: Option<u32>,
    /// Client family (the user agent's product token, lower-case), for evidence.
    client: Box<str>,
    /// Baseline clock of the first use.
    since: u32,
}

/// Bindings of the live temporary keys, by presented credential.
#[derive(Debug, Default)]
pub struct Sessions {
    bound: HashMap<Pseudonym, Binding, BuildHasherDefault<PseudonymHasher>>,
}

impl Sessions {
    /// Keys bound.
    pub fn len(&self) -> usize {
        self.bound.len()
    }

    /// Whether no key is bound.
    pub fn is_empty(&self) -> bool {
        self.bound.is_empty()
    }

    /// The signal for a use of a bound key from another network, if this is one. Read-only.
    pub fn judge(&self, e: &Event<'_>, t: u32) -> Option<Signal> {
        if e.credential_kind != CredentialKind::TemporaryKey || self.bound.is_empty() {
            return None;
        }
        let b = self.bound.get(&e.credential).filter(|b| t.saturating_sub(b.since) <= MAX_SESSION_SECS)?;
        let ip = public_place(e)?;
        if same_network(b, ip, e.origin.asn) {
            return None;
        }
        let client = client_family(e.user_agent.as_deref());
        let other_client = client != *b.client;
        let score = if other_client { OTHER_NETWORK_AND_CLIENT_SCORE } else { OTHER_NETWORK_SCORE };
        let asn = |a: Option<u32>| a.map_or(String::new(), |a| format!(" (AS{a})"));
        let observed = format!(
            "{} from {}{} with client {} at {}: the same temporary key from a second network{}",
            e.operation,
            network_text(ip),
            asn(e.origin.asn),
            shown(&client),
            format_rfc3339_ms(e.time_ms),
            if other_client { " and client" } else { "" },
        );
        let baseline = format!(
            "key bound at {} to {}{} with client {}, its first use from the Internet; a session credential stays with the machine it was issued to",
            format_rfc3339_ms(to_ms(b.since)),
            network_text(b.ip),
            asn(b.asn),
            shown(&b.client),
        );
        Some(Signal::new(Detector::StolenSession, score, observed, baseline).with_attack(attack_of(e)))
    }

    /// Binds a temporary key at its first use from the Internet; keeps at most `max` keys (a key
    /// past that goes unbound until expired ones are swept: memory stays bounded whatever arrives).
    pub fn learn(&mut self, e: &Event<'_>, t: u32, max: usize) {
        if e.credential_kind != CredentialKind::TemporaryKey || self.bound.contains_key(&e.credential) {
            return;
        }
        let Some(ip) = public_place(e) else { return };
        if self.bound.len() >= max {
            self.sweep(t);
            if self.bound.len() >= max {
                return;
            }
        }
        let client = client_family(e.user_agent.as_deref()).into();
        self.bound.insert(e.credential, Binding { net: keys::network(ip), ip, asn: e.origin.asn, client, since: t });
    }

    /// Drops the bindings of keys that can no longer be valid ([`MAX_SESSION_SECS`]). Returns how
    /// many were dropped.
    pub fn sweep(&mut self, now: u32) -> usize {
        let before = self.bound.len();
        self.bound.retain(|_, b| now.saturating_sub(b.since) <= MAX_SESSION_SECS);
        before - self.bound.len()
    }
}

/// Whether a public address is on the bound key's network: the same /24 (IPv6 /64), or, when
/// enrichment names both autonomous systems, the same one. A workload's egress spans several
/// /24s of its provider (NAT gateways of several zones, a pool of addresses, a new public address
/// after a restart); its autonomous system stays. What this gives up: a thief inside the same
/// provider (a stolen instance key used from the attacker's own instance in the same cloud) is
/// seen only without enrichment, by its /24.
fn same_network(b: &Binding, ip: IpAddr, asn: Option<u32>) -> bool {
    keys::network(ip) == b.net || (b.asn.is_some() && b.asn == asn)
}

/// The public address a call came from, if it is one the binding judges: none for AWS acting for
/// the session and for addresses inside a private network (see the module's list).
fn public_place(e: &Event<'_>) -> Option<IpAddr> {
    let ip = e.origin.ip?;
    if e.request.contains(RequestFacts::VPC_ENDPOINT) || is_internal(ip) {
        return None;
    }
    if e.user_agent.as_deref().is_some_and(|ua| ua == "AWS Internal" || ua.ends_with(".amazonaws.com")) {
        return None;
    }
    Some(ip)
}

/// Whether an address is not on the public Internet: private (RFC 1918, IPv6 unique local),
/// shared address space (RFC 6598, carrier-grade NAT), loopback, link-local, unspecified.
fn is_internal(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_internal(IpAddr::V4(v4)),
            None => {
                let first = v6.segments()[0];
                v6.is_loopback() || v6.is_unspecified() || first & 0xfe00 == 0xfc00 || first & 0xffc0 == 0xfe80
            }
        },
    }
}

/// A client's family: the product token of its user agent, lower-case, version dropped
/// (`aws-cli/2.17.0 Python/3.11` → `aws-cli`; `[Boto3/1.34 …]` → `boto3`), so an update of the
/// same tool is the same client. Empty when no agent is logged.
fn client_family(ua: Option<&str>) -> String {
    let ua = ua.unwrap_or("").trim_start_matches(['[', ' ']);
    let end = ua.find(['/', ' ', ';', '(', ']']).unwrap_or(ua.len());
    ua[..end].to_ascii_lowercase()
}

fn shown(client: &str) -> &str {
    if client.is_empty() {
        "(none logged)"
    } else {
        client
    }
}

/// A network as text: the IPv4 /24 or the IPv6 /64 of an address.
fn network_text(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, c, _] = v4.octets();
            format!("{a}.{b}.{c}.0/24")
        }
        IpAddr::V6(v6) => {
            let s = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", s[0], s[1], s[2], s[3])
        }
    }
}

/// The technique a stolen session is evidence of. An instance profile's session is named after
/// its instance (`assumed-role/<role>/i-…`): its key was taken from the instance metadata
/// service, Unsecured Credentials: Cloud Instance Metadata API (T1552.005, Credential Access).
/// Any other session's key used elsewhere is Use Alternate Authentication Material: Application
/// Access Token (T1550.001, Defense Evasion: a stolen token stands in for the sign-in).
fn attack_of(e: &Event<'_>) -> Attack {
    let instance = e
        .principal
        .as_deref()
        .and_then(|p| p.rsplit('/').next().filter(|_| p.contains(":assumed-role/")))
        .is_some_and(|session| session.starts_with("i-"));
    if instance {
        Attack::new(Tactic::CredentialAccess, "T1552.005", "Unsecured Credentials: Cloud Instance Metadata API")
    } else {
        Attack::new(
            Tactic::DefenseEvasion,
            "T1550.001",
            "Use Alternate Authentication Material: Application Access Token",
        )
    }
}

#[cfg(test)]
mod tests {
    use std::borrow::Cow;

    use credence_event::Pseudonymizer;

    use super::*;

    const T0: i64 = 1_722_588_235_000;

    fn event<'a>(p: &Pseudonymizer, key: &str, ip: &str, ua: &'a str, at_secs: i64) -> Event<'a> {
        let mut e = Event::new(T0 + at_secs * 1000, p.credential(key), "DescribeInstances");
        e.credential_kind = CredentialKind::TemporaryKey;
        e.principal = Some(Cow::Borrowed("arn:aws:sts::1:assumed-role/web/i-0a1b2c3d4e5f67890"));
        e.origin.ip = ip.parse().ok();
        e.user_agent = Some(Cow::Borrowed(ua));
        e
    }

    /// Binds `first` and judges `next`, as the engine does (judge, then learn).
    fn after(s: &mut Sessions, first: &Event<'_>, next: &Event<'_>) -> Option<Signal> {
        let t = |e: &Event<'_>| crate::baseline::to_secs(e.time_ms);
        s.learn(first, t(first), 100);
        let signal = s.judge(next, t(next));
        s.learn(next, t(next), 100);
        signal
    }

    #[test]
    fn a_second_network_trips_the_binding_with_what_was_bound_and_what_was_seen() {
        let p = Pseudonymizer::insecure_demo();
        let mut s = Sessions::default();
        let owner = event(&p, "ASIAEXAMPLE0001", "18.236.253.47", "aws-sdk-go-v2/1.30.3 os/linux", 0);
        let same = event(&p, "ASIAEXAMPLE0001", "18.236.253.9", "aws-cli/2.17.0 Python/3.11", 60);
        assert_eq!(after(&mut s, &owner, &same), None, "the same /24, another tool of the instance");

        let thief = event(&p, "ASIAEXAMPLE0001", "198.51.100.23", "aws-cli/2.17.0 Python/3.11", 120);
        let signal = s.judge(&thief, crate::baseline::to_secs(thief.time_ms)).expect("another network");
        assert_eq!(signal.detector, Detector::StolenSession);
        assert_eq!(signal.score, OTHER_NETWORK_AND_CLIENT_SCORE);
        assert!(
            signal.observed.contains("198.51.100.0/24") && signal.observed.contains("aws-cli"),
            "{}",
            signal.observed
        );
        assert!(signal.baseline.contains("18.236.253.0/24") && signal.baseline.contains("aws-sdk-go-v2"));
        assert_eq!(signal.attack.as_ref().map(|a| a.technique.as_str()), Some("T1552.005"));
        // Another key of the same session is bound on its own.
        let other_key = event(&p, "ASIAEXAMPLE0002", "198.51.100.23", "aws-cli/2.17.0", 130);
        assert_eq!(s.judge(&other_key, crate::baseline::to_secs(other_key.time_ms)), None);
    }

    #[test]
    fn aws_acting_for_the_session_and_private_addresses_neither_bind_nor_trip() {
        let p = Pseudonymizer::insecure_demo();
        let mut s = Sessions::default();
        let owner = event(&p, "ASIAEXAMPLE0001", "18.236.253.47", "Boto3/1.34.1", 0);
        let mut service = event(&p, "ASIAEXAMPLE0001", "", "AWS Internal", 10);
        service.origin.host = Some(Cow::Borrowed("ec2.amazonaws.com"));
        let forwarded = event(&p, "ASIAEXAMPLE0001", "52.95.4.1", "cloudformation.amazonaws.com", 20);
        let vpc_move = event(&p, "ASIAEXAMPLE0001", "10.0.7.12", "Boto3/1.34.1", 30);
        let cgnat = event(&p, "ASIAEXAMPLE0001", "100.72.1.4", "Boto3/1.34.1", 35);
        let ula = event(&p, "ASIAEXAMPLE0001", "fd00:ec2::23", "Boto3/1.34.1", 36);
        let mut endpoint = event(&p, "ASIAEXAMPLE0001", "52.95.9.9", "Boto3/1.34.1", 40);
        endpoint.request.set_if(true, RequestFacts::VPC_ENDPOINT);
        for benign in [&service, &forwarded, &vpc_move, &cgnat, &ula, &endpoint] {
            assert_eq!(after(&mut s, &owner, benign), None, "{:?}", benign.origin);
        }
        // None of them bound a key of their own either: a private first use leaves the key free
        // to bind at its first public one.
        let mut fresh = Sessions::default();
        let private_first = event(&p, "ASIAEXAMPLE0003", "10.0.7.12", "Boto3/1.34.1", 0);
        fresh.learn(&private_first, 0, 100);
        assert!(fresh.is_empty());
    }

    #[test]
    fn with_enrichment_the_autonomous_system_is_the_network() {
        let p = Pseudonymizer::insecure_demo();
        let mut s = Sessions::default();
        let with_asn = |ip, asn, at| {
            let mut e = event(&p, "ASIAEXAMPLE0001", ip, "Boto3/1.34.1", at);
            e.origin.asn = Some(asn);
            e
        };
        let owner = with_asn("18.236.253.47", 16509, 0);
        assert_eq!(after(&mut s, &owner, &with_asn("52.10.44.3", 16509, 10)), None, "another /24 of the same provider");
        let elsewhere = with_asn("198.51.100.23", 64500, 20);
        let signal = s.judge(&elsewhere, crate::baseline::to_secs(elsewhere.time_ms)).expect("another provider");
        assert!(signal.observed.contains("(AS64500)") && signal.baseline.contains("(AS16509)"), "{signal:?}");
        assert_eq!(signal.score, OTHER_NETWORK_SCORE, "the same client family");
    }

    #[test]
    fn only_temporary_keys_bind_and_bindings_end_with_the_longest_session() {
        let p = Pseudonymizer::insecure_demo();
        let mut s = Sessions::default();
        let mut long_lived = event(&p, "AKIAEXAMPLE0001", "18.236.253.47", "aws-cli/2", 0);
        long_lived.credential_kind = CredentialKind::AccessKey;
        s.learn(&long_lived, 0, 100);
        assert!(s.is_empty(), "a long-lived key roams with its owner: the baselines judge it");

        let first = event(&p, "ASIAEXAMPLE0001", "18.236.253.47", "aws-cli/2", 0);
        let t0 = crate::baseline::to_secs(first.time_ms);
        s.learn(&first, t0, 100);
        let late = event(&p, "ASIAEXAMPLE0001", "198.51.100.23", "aws-cli/2", i64::from(MAX_SESSION_SECS) + 60);
        assert_eq!(s.judge(&late, t0 + MAX_SESSION_SECS + 60), None, "no key outlives 36 hours");
        assert_eq!(s.sweep(t0 + MAX_SESSION_SECS + 60), 1);
        // The store is bounded: a key past `max` goes unbound.
        s.learn(&first, t0, 1);
        s.learn(&event(&p, "ASIAEXAMPLE0002", "18.236.253.47", "aws-cli/2", 1), t0 + 1, 1);
        assert_eq!(s.len(), 1);
    }

    /// Through the engine: another client from another network is High on a key's second call,
    /// with no history; the bound client from another network is a move, Medium.
    #[test]
    fn the_engine_raises_another_client_elsewhere_high_and_a_move_medium() {
        use crate::{DetectConfig, Engine, KeySpace, LearnPolicy, Severity};
        let p = Pseudonymizer::insecure_demo();
        let severity_after = |second: &Event<'_>| {
            let mut engine = Engine::new(DetectConfig::default(), KeySpace::from_pseudonymizer(&p));
            let first = event(&p, "ASIAEXAMPLE0001", "18.236.253.47", "aws-sdk-go-v2/1.30.3", 0);
            assert_eq!(engine.process(&first, LearnPolicy::Default).severity, None);
            let v = engine.process(second, LearnPolicy::Default);
            assert_eq!(v.primary(), Some(Detector::StolenSession), "{v:?}");
            v.severity
        };
        let thief = event(&p, "ASIAEXAMPLE0001", "198.51.100.23", "aws-cli/2.17.0", 60);
        assert_eq!(severity_after(&thief), Some(Severity::High));
        let moved = event(&p, "ASIAEXAMPLE0001", "198.51.100.23", "aws-sdk-go-v2/1.30.3", 60);
        assert_eq!(severity_after(&moved), Some(Severity::Medium));
    }

    #[test]
    fn client_families_drop_versions_and_brackets() {
        assert_eq!(client_family(Some("aws-cli/2.17.0 Python/3.11.9")), "aws-cli");
        assert_eq!(client_family(Some("[Boto3/1.34.1 md/Botocore#1.34.1]")), "boto3");
        assert_eq!(client_family(Some("stratus-red-team_c763d13b")), "stratus-red-team_c763d13b");
        assert_eq!(client_family(None), "");
    }
}
