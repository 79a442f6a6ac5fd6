//! Request facts from CloudTrail `requestParameters` (see [`RequestFacts`]): read while the record
//! is parsed, into a few bits, without keeping or allocating for any parameter.
//!
//! Each type here is a field of `RequestParameters` that folds its value into facts with a serde
//! visitor; strings are compared in place (`visit_str` borrows serde_json's scratch buffer even
//! for escaped strings), sequences are walked element by element, nothing is collected.
//!
//! Sources, for the shapes CloudTrail logs:
//! - EC2 `ModifySnapshotAttribute` / `ModifyImageAttribute`: `createVolumePermission` /
//!   `launchPermission` with `add.items[]` of `{userId}` or `{group: "all"}`
//!   (<https://docs.aws.amazon.com/AWSEC2/latest/APIReference/API_ModifySnapshotAttribute.html>,
//!   `API_ModifyImageAttribute.html`).
//! - RDS `ModifyDBSnapshotAttribute` / `ModifyDBClusterSnapshotAttribute`: `valuesToAdd[]` of
//!   account ids or `all` (<https://docs.aws.amazon.com/AmazonRDS/latest/APIReference/API_ModifyDBSnapshotAttribute.html>).
//! - S3 `PutBucketPolicy`: the policy as an object under `bucketPolicy`; `PutBucketAcl`:
//!   `AccessControlPolicy` grants to the `AllUsers` / `AuthenticatedUsers` groups or a canned
//!   `x-amz-acl` (<https://docs.aws.amazon.com/AmazonS3/latest/userguide/acl-overview.html>).
//! - Lambda `AddPermission`: `principal` (`*`, an account id, or a service)
//!   (<https://docs.aws.amazon.com/lambda/latest/api/API_AddPermission.html>).
//! - EC2 `AuthorizeSecurityGroupIngress`: `cidrIp` / `cidrIpv6`, or `ipPermissions` ranges.
//! - SSM `GetParameter(s)` / `GetParametersByPath`: `withDecryption`
//!   (<https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_GetParameters.html>).
//! - EC2 `ModifyInstanceAttribute`: `userData`; Lambda `UpdateFunctionConfiguration`: `layers`.
//! - Console sign-ins: `additionalEventData.MFAUsed`
//!   (<https://docs.aws.amazon.com/awscloudtrail/latest/userguide/cloudtrail-event-reference-aws-console-sign-in-events.html>).

use std::fmt;
use std::marker::PhantomData;

use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::json::BStr;
use crate::mapped::lenient::Text;
use crate::RequestFacts;

/// The scalar visits of a lenient visitor: each yields `$v` (the value of "nothing found").
macro_rules! ignore_scalars {
    ($t:ty, $v:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<$t, E> {
            Ok($v)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<$t, E> {
            Ok($v)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<$t, E> {
            Ok($v)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<$t, E> {
            Ok($v)
        }
        fn visit_unit<E: de::Error>(self) -> Result<$t, E> {
            Ok($v)
        }
        fn visit_none<E: de::Error>(self) -> Result<$t, E> {
            Ok($v)
        }
    };
}

/// Deepest nesting a scan descends into: the shapes above are at most five levels deep; anything
/// deeper is skipped rather than walked.
const MAX_DEPTH: u8 = 8;

/// Whether a string is an address range that covers the whole Internet (`0.0.0.0/0`, `::/0`; any
/// address with a `/0` prefix length covers everything).
pub(super) fn is_whole_internet(cidr: &str) -> bool {
    cidr.trim().ends_with("/0")
}

/// Whether `s` names an AWS account: twelve digits, or an account's root ARN.
fn is_account(s: &str) -> bool {
    (s.len() == 12 && s.bytes().all(|b| b.is_ascii_digit())) || (s.starts_with("arn:aws") && s.ends_with(":root"))
}

/// Walks any JSON value and reports whether some string in it satisfies `P`. Map keys are not
/// tested, only values.
struct Scan<P> {
    depth: u8,
    pred: PhantomData<P>,
}

/// A test on one string.
trait Pred {
    fn test(s: &str) -> bool;
}

impl<'de, P: Pred> de::DeserializeSeed<'de> for Scan<P> {
    type Value = bool;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, P: Pred> Visitor<'de> for Scan<P> {
    type Value = bool;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    ignore_scalars!(bool, false);
    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        Ok(P::test(v))
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<bool, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<bool, A::Error> {
        let mut found = false;
        if self.depth >= MAX_DEPTH {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(false);
        }
        while let Some(hit) = seq.next_element_seed(Scan::<P> { depth: self.depth + 1, pred: PhantomData })? {
            found |= hit;
        }
        Ok(found)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<bool, A::Error> {
        let mut found = false;
        while map.next_key::<IgnoredAny>()?.is_some() {
            if self.depth >= MAX_DEPTH {
                map.next_value::<IgnoredAny>()?;
            } else {
                found |= map.next_value_seed(Scan::<P> { depth: self.depth + 1, pred: PhantomData })?;
            }
        }
        Ok(found)
    }
}

/// Implements `Deserialize` for a `bool` newtype that is true when some string in the value
/// satisfies `$test`.
macro_rules! scanned {
    ($(#[$doc:meta])* $name:ident, $test:expr) => {
        $(#[$doc])*
        #[derive(Default, Clone, Copy)]
        pub(super) struct $name(pub bool);

        impl Pred for $name {
            fn test(s: &str) -> bool {
                let f: fn(&str) -> bool = $test;
                f(s)
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(Scan::<$name> { depth: 0, pred: PhantomData }).map($name)
            }
        }
    };
}

scanned!(
    /// Some address range in the value is the whole Internet (`ipPermissions`, `cidrIp`).
    OpenToInternet,
    is_whole_internet
);
scanned!(
    /// Some grantee in the value is S3's `AllUsers` or `AuthenticatedUsers` group.
    GrantsEveryone,
    |s| s.ends_with("/global/AllUsers") || s.ends_with("/global/AuthenticatedUsers")
);
scanned!(
    /// A canned ACL that opens the bucket (`public-read`, `public-read-write`, `authenticated-read`).
    PublicCannedAcl,
    |s| s.starts_with("public-read") || s == "authenticated-read"
);
scanned!(
    /// Some principal in the value is everyone (`"*"`, or `{"AWS": "*"}`).
    Everyone,
    |s| s.trim() == "*"
);

/// Present with any value but `null`.
#[derive(Default, Clone, Copy)]
pub(super) struct Present(pub bool);

impl<'de> Deserialize<'de> for Present {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Option::<IgnoredAny>::deserialize(d).map(|v| Present(v.is_some()))
    }
}

/// A boolean given as `true` or `"true"`.
#[derive(Default, Clone, Copy)]
pub(super) struct Flag(pub bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Flag, E> {
                Ok(Flag(v.eq_ignore_ascii_case("true")))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_none<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Flag, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Flag, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Flag(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Flag, A::Error> {
                while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(Flag(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// Who a sharing request adds: `PUBLIC` for `all`, `SHARED` for an account. Reads EC2's
/// `{"add": {"items": [{"userId": …} | {"group": "all"}]}}` (and the same without `items`) and
/// RDS's `valuesToAdd: ["all" | account id]`; removals are not grants.
#[derive(Default, Clone, Copy)]
pub(super) struct Grantees(pub RequestFacts);

/// The state of a walk through a sharing request.
#[derive(Clone, Copy)]
struct GranteeWalk {
    depth: u8,
    /// Inside an `add` (or a list that only adds, such as `valuesToAdd`).
    adding: bool,
}

impl GranteeWalk {
    fn fact_of(value: &str, key: Option<&str>) -> RequestFacts {
        let v = value.trim();
        match key {
            _ if v.eq_ignore_ascii_case("all") => RequestFacts::PUBLIC,
            Some("userId") | Some("UserId") | None if is_account(v) => RequestFacts::SHARED,
            _ => RequestFacts::NONE,
        }
    }
}

impl<'de> de::DeserializeSeed<'de> for GranteeWalk {
    type Value = RequestFacts;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<RequestFacts, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for GranteeWalk {
    type Value = RequestFacts;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a permission change")
    }
    ignore_scalars!(RequestFacts, RequestFacts::NONE);
    fn visit_str<E: de::Error>(self, v: &str) -> Result<RequestFacts, E> {
        Ok(if self.adding { GranteeWalk::fact_of(v, None) } else { RequestFacts::NONE })
    }
    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<RequestFacts, D::Error> {
        d.deserialize_any(self)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<RequestFacts, A::Error> {
        let mut facts = RequestFacts::NONE;
        if self.depth >= MAX_DEPTH {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(facts);
        }
        while let Some(f) = seq.next_element_seed(GranteeWalk { depth: self.depth + 1, ..self })? {
            facts = facts.union(f);
        }
        Ok(facts)
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<RequestFacts, A::Error> {
        let mut facts = RequestFacts::NONE;
        while let Some(key) = map.next_key::<BStr<'de>>()? {
            let key = key.0;
            if self.depth >= MAX_DEPTH || key.eq_ignore_ascii_case("remove") {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let adding = self.adding || key.eq_ignore_ascii_case("add");
            if adding && matches!(&*key, "userId" | "UserId" | "group" | "Group") {
                let v = map.next_value::<Text<'de>>()?;
                facts = facts.union(v.0.map_or(RequestFacts::NONE, |v| GranteeWalk::fact_of(&v, Some(&key))));
            } else {
                facts = facts.union(map.next_value_seed(GranteeWalk { depth: self.depth + 1, adding })?);
            }
        }
        Ok(facts)
    }
}

impl<'de> Deserialize<'de> for Grantees {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(GranteeWalk { depth: 0, adding: false }).map(Grantees)
    }
}

/// A list that only adds grantees (`valuesToAdd`).
#[derive(Default, Clone, Copy)]
pub(super) struct AddedGrantees(pub RequestFacts);

impl<'de> Deserialize<'de> for AddedGrantees {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(GranteeWalk { depth: 0, adding: true }).map(AddedGrantees)
    }
}

/// A resource policy that allows everyone: some statement with `"Effect": "Allow"`, a principal
/// of `*` and no `Condition`. A condition (an organisation id, a VPC endpoint, a source address)
/// usually narrows such a statement to something that is not public, and the common
/// `"Effect": "Deny", "Principal": "*"` statements (refusing plain HTTP) deny rather than allow.
#[derive(Default, Clone, Copy)]
pub(super) struct PublicPolicy(pub bool);

#[derive(Deserialize, Default)]
#[serde(default)]
struct Statement {
    #[serde(rename = "Effect")]
    effect: Flagged<AllowWord>,
    #[serde(rename = "Principal")]
    principal: Everyone,
    #[serde(rename = "Condition")]
    condition: Present,
}

/// The word `Allow`.
#[derive(Default, Clone, Copy)]
struct AllowWord;

impl Pred for AllowWord {
    fn test(s: &str) -> bool {
        s.eq_ignore_ascii_case("allow")
    }
}

/// A `bool` that is true when a string in the value satisfies `P`.
#[derive(Default, Clone, Copy)]
struct Flagged<P>(bool, PhantomData<P>);

impl<'de, P: Pred> Deserialize<'de> for Flagged<P> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(Scan::<P> { depth: 0, pred: PhantomData }).map(|b| Flagged(b, PhantomData))
    }
}

impl<'de> Deserialize<'de> for PublicPolicy {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        /// The policy document: its `Statement`, one object or a list of them.
        struct Doc;
        impl<'de> Visitor<'de> for Doc {
            type Value = PublicPolicy;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a policy document")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<PublicPolicy, A::Error> {
                let mut public = false;
                while let Some(key) = map.next_key::<BStr<'de>>()? {
                    if key.0 == "Statement" {
                        public |= map.next_value::<Statements>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(PublicPolicy(public))
            }
            ignore_scalars!(PublicPolicy, PublicPolicy(false));
            fn visit_str<E: de::Error>(self, _: &str) -> Result<PublicPolicy, E> {
                // A policy logged as a JSON string is not parsed a second time.
                Ok(PublicPolicy(false))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<PublicPolicy, D::Error> {
                d.deserialize_any(self)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<PublicPolicy, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(PublicPolicy(false))
            }
        }
        d.deserialize_any(Doc)
    }
}

/// One statement or a list of them; true when one of them makes the policy public.
struct Statements(bool);

impl<'de> Deserialize<'de> for Statements {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Statements;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("policy statements")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Statements, A::Error> {
                let s = Statement::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Statements(s.effect.0 && s.principal.0 && !s.condition.0))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Statements, A::Error> {
                let mut public = false;
                while let Some(s) = seq.next_element::<Statements>()? {
                    public |= s.0;
                }
                Ok(Statements(public))
            }
            ignore_scalars!(Statements, Statements(false));
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Statements, E> {
                Ok(Statements(false))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Statements, D::Error> {
                d.deserialize_any(self)
            }
        }
        d.deserialize_any(V)
    }
}

/// Lambda's `principal`: `PUBLIC` for `*`, `SHARED` for an account; a service principal
/// (`s3.amazonaws.com`), how functions are usually wired to their triggers, is neither.
pub(super) fn principal_fact(principal: Option<&str>) -> RequestFacts {
    match principal.map(str::trim) {
        Some("*") => RequestFacts::PUBLIC,
        Some(p) if is_account(p) => RequestFacts::SHARED,
        _ => RequestFacts::NONE,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grantees(json: &str) -> RequestFacts {
        serde_json::from_str::<Grantees>(json).unwrap().0
    }

    #[test]
    fn sharing_grants_tell_public_from_an_account() {
        assert_eq!(grantees(r#"{"add":{"items":[{"userId":"111122223333"}]}}"#), RequestFacts::SHARED);
        assert_eq!(grantees(r#"{"add":{"items":[{"group":"all"}]}}"#), RequestFacts::PUBLIC);
        assert_eq!(grantees(r#"{"add":[{"group":"all"},{"userId":"111122223333"}]}"#).bits(), 0b11);
        assert_eq!(grantees(r#"{"remove":{"items":[{"group":"all"}]}}"#), RequestFacts::NONE, "unsharing");
        assert_eq!(grantees(r#"{"add":{}}"#), RequestFacts::NONE);
        assert_eq!(grantees("null"), RequestFacts::NONE);
        let added = |j: &str| serde_json::from_str::<AddedGrantees>(j).unwrap().0;
        assert_eq!(added(r#"["all"]"#), RequestFacts::PUBLIC);
        assert_eq!(added(r#"["503161813013"]"#), RequestFacts::SHARED);
        assert_eq!(added(r#"[]"#), RequestFacts::NONE);
    }

    #[test]
    fn only_an_unconditional_allow_to_everyone_is_a_public_policy() {
        let public = |j: &str| serde_json::from_str::<PublicPolicy>(j).unwrap().0;
        assert!(public(
            r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Resource":"arn:aws:s3:::b/*"}]}"#
        ));
        assert!(public(
            r#"{"Statement":{"Effect":"Allow","Principal":{"AWS":["arn:aws:iam::1:root","*"]},"Action":"s3:*"}}"#
        ));
        // Deny-insecure-transport: Principal * but a denial.
        assert!(!public(
            r#"{"Statement":[{"Effect":"Deny","Principal":"*","Action":"s3:*","Resource":"*","Condition":{"Bool":{"aws:SecureTransport":"false"}}}]}"#
        ));
        // Narrowed to an organisation.
        assert!(!public(
            r#"{"Statement":[{"Effect":"Allow","Principal":"*","Action":"s3:GetObject","Condition":{"StringEquals":{"aws:PrincipalOrgID":"o-1"}}}]}"#
        ));
        // A named role; a Resource of * is not a principal.
        assert!(!public(
            r#"{"Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::1:role/r"},"Action":"s3:*","Resource":"*"}]}"#
        ));
        assert!(!public(r#""{\"Statement\":[]}""#));
    }

    #[test]
    fn scans_find_open_ranges_and_public_grantees() {
        let open = |j: &str| serde_json::from_str::<OpenToInternet>(j).unwrap().0;
        assert!(open(
            r#"{"items":[{"ipProtocol":"tcp","fromPort":22,"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]}"#
        ));
        assert!(open(r#""::/0""#));
        assert!(!open(r#"{"items":[{"ipRanges":{"items":[{"cidrIp":"10.0.0.0/8"}]}}]}"#));
        let acl = |j: &str| serde_json::from_str::<GrantsEveryone>(j).unwrap().0;
        assert!(acl(
            r#"{"AccessControlList":{"Grant":[{"Grantee":{"URI":"http://acs.amazonaws.com/groups/global/AllUsers"},"Permission":"READ"}]}}"#
        ));
        assert!(!acl(r#"{"AccessControlList":{"Grant":[{"Grantee":{"ID":"abc"},"Permission":"FULL_CONTROL"}]}}"#));
        let canned = |j: &str| serde_json::from_str::<PublicCannedAcl>(j).unwrap().0;
        assert!(canned(r#"["public-read"]"#) && !canned(r#"["private"]"#));
        assert_eq!(principal_fact(Some("*")), RequestFacts::PUBLIC);
        assert_eq!(principal_fact(Some("111122223333")), RequestFacts::SHARED);
        assert_eq!(principal_fact(Some("s3.amazonaws.com")), RequestFacts::NONE);
    }

    #[test]
    fn deep_values_are_skipped_not_walked() {
        let deep = format!("{}\"0.0.0.0/0\"{}", "[".repeat(40), "]".repeat(40));
        assert!(!serde_json::from_str::<OpenToInternet>(&deep).unwrap().0);
    }
}
