//! AWS CloudTrail records: S3 delivery files (`{"Records":[...]}`), single records, JSON arrays of
//! records, and EventBridge envelopes (`{"detail-type":"AWS API Call via CloudTrail","detail":{}}`).
//!
//! Mapping:
//! - credential: `userIdentity.accessKeyId` (`AKIA…` AccessKey, `ASIA…` TemporaryKey, other
//!   Other). Without one (service events, console sign-ins, service-invoked calls) the identity
//!   stands in, kind Principal: `userIdentity.arn`, `principalId`, `userName`, `invokedBy`, then
//!   `eventSource`.
//! - subject: for a temporary key, the role session it belongs to (`userIdentity.arn`, else
//!   `sessionContext.sessionIssuer.arn`, in the Session namespace), so a fresh key issued to a
//!   stolen session is judged against that session's history; otherwise the credential.
//! - peer_group: `sessionContext.sessionIssuer.arn`; else the role of an assumed-role ARN
//!   (`arn:aws:iam::<account>:role/<name>`); else the account id of the ARN or
//!   `userIdentity.accountId`.
//! - principal: `userIdentity.arn`, `userName`, `principalId`, `invokedBy`.
//! - operation: `eventName`; service: `eventSource`; time: `eventTime` (Panther's `p_event_time`,
//!   then Logstash's and Elastic's `@timestamp` as fallbacks; a time without zone is UTC).
//! - outcome: success without `errorCode`, else [`Outcome::from_error_code`]; a sign-in event
//!   whose `responseElements` report `"Failure"` (no `errorCode` is logged for those) is AuthFailed.
//! - origin: `sourceIPAddress` when it parses as an IP, else kept as `origin.host` (AWS service
//!   hostnames such as `ec2.amazonaws.com`, `AWS Internal`, anonymised garbage).
//! - resource: the first `resources[].ARN`; else an S3 ARN from `requestParameters.bucketName`
//!   (and `key`); else the first of a fixed list of identifying request parameters
//!   ([`RequestParameters`]). Secret-bearing parameters are never read.
//! - bytes_out: `additionalEventData.bytesTransferredOut`; event_uid: `eventID`, else `requestID`.
//! - request: [`RequestFacts`] from the few `requestParameters` that decide a call's risk (sharing
//!   with `all` or an account, public policies and ACLs, ranges open to the Internet,
//!   `withDecryption`, `userData`, `layers`) and, for an IAM or root user's sign-in,
//!   `additionalEventData.MFAUsed`, and whether the call came through a VPC endpoint
//!   (`vpcEndpointId`); see
//!   `cloudtrail/facts.rs`.
//!
//! Lower-case key variants (`eventname`, `useridentity`, as data-lake exports write them) are
//! accepted for the top-level and identity fields.

use std::borrow::Cow;
use std::fmt;
use std::marker::PhantomData;

use serde::de::{Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::json::BStr;
use crate::mapped::lenient::{narrow, parse_datetime_text, records, First, Number, Obj, Records, Text};
use crate::{parse_ip, CredentialKind, DecodeError, Decoder, Event, Namespace, Origin, Outcome, RequestFacts};

#[derive(Deserialize, Default)]
#[serde(default)]
struct Raw<'a> {
    #[serde(borrow, rename = "recipientAccountId", alias = "recipientaccountid")]
    recipient_account: Text<'a>,
    #[serde(borrow, rename = "awsRegion", alias = "awsregion")]
    region: Text<'a>,
    #[serde(borrow, rename = "eventTime", alias = "eventtime")]
    event_time: Text<'a>,
    #[serde(borrow)]
    p_event_time: Text<'a>,
    /// Logstash's and Elastic's event time: Logstash's `cloudtrail` codec moves `eventTime` here.
    #[serde(borrow, rename = "@timestamp")]
    at_timestamp: Text<'a>,
    #[serde(borrow, rename = "eventName", alias = "eventname")]
    event_name: Text<'a>,
    #[serde(borrow, rename = "eventSource", alias = "eventsource")]
    event_source: Text<'a>,
    #[serde(borrow, rename = "eventID", alias = "eventid")]
    event_id: Text<'a>,
    #[serde(borrow, rename = "requestID", alias = "requestid")]
    request_id: Text<'a>,
    #[serde(borrow, rename = "errorCode", alias = "errorcode")]
    error_code: Text<'a>,
    #[serde(borrow, rename = "sourceIPAddress", alias = "sourceipaddress")]
    source_ip: Text<'a>,
    #[serde(borrow, rename = "userAgent", alias = "useragent")]
    user_agent: Text<'a>,
    #[serde(borrow, rename = "userIdentity", alias = "useridentity")]
    user_identity: Obj<UserIdentity<'a>>,
    /// Present when the call came through a VPC endpoint (the source address is then private).
    #[serde(borrow, rename = "vpcEndpointId", alias = "vpcendpointid")]
    vpc_endpoint_id: Text<'a>,
    #[serde(borrow)]
    resources: First<Resource<'a>>,
    #[serde(borrow, rename = "requestParameters", alias = "requestparameters")]
    request_parameters: Obj<RequestParameters<'a>>,
    #[serde(borrow, rename = "responseElements", alias = "responseelements")]
    response_elements: Obj<SignInResult<'a>>,
    #[serde(borrow, rename = "additionalEventData", alias = "additionaleventdata")]
    additional: Obj<AdditionalEventData<'a>>,
    /// An S3 delivery file.
    #[serde(borrow, rename = "Records")]
    records: Option<Vec<&'a RawValue>>,
    /// An EventBridge envelope.
    #[serde(borrow)]
    detail: Option<&'a RawValue>,
    #[serde(borrow, rename = "detail-type")]
    detail_type: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct UserIdentity<'a> {
    /// `IAMUser`, `Root`, `AssumedRole`, `FederatedUser`, `AWSService`, ...
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
    #[serde(borrow, rename = "principalId", alias = "principalid")]
    principal_id: Text<'a>,
    #[serde(borrow)]
    arn: Text<'a>,
    #[serde(borrow, rename = "accountId", alias = "accountid")]
    account_id: Text<'a>,
    #[serde(borrow, rename = "accessKeyId", alias = "accesskeyid")]
    access_key_id: Text<'a>,
    #[serde(borrow, rename = "userName", alias = "username")]
    user_name: Text<'a>,
    #[serde(borrow, rename = "invokedBy", alias = "invokedby")]
    invoked_by: Text<'a>,
    #[serde(borrow, rename = "sessionContext", alias = "sessioncontext")]
    session_context: Obj<SessionContext<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct SessionContext<'a> {
    #[serde(borrow, rename = "sessionIssuer", alias = "sessionissuer")]
    session_issuer: Obj<Arn<'a>>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Arn<'a> {
    #[serde(borrow)]
    arn: Text<'a>,
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct Resource<'a> {
    #[serde(borrow, rename = "ARN", alias = "arn")]
    arn: Text<'a>,
    /// `AWS::S3::Bucket`, `AWS::KMS::Key`, ...
    #[serde(borrow, rename = "type")]
    kind: Text<'a>,
}

/// The short resource type of a CloudFormation-style type name (`AWS::S3::Bucket` → `bucket`),
/// for the common ones; `None` for others.
fn resource_type_of(kind: &str) -> Option<&'static str> {
    Some(match kind.rsplit("::").next()? {
        "Bucket" => "bucket",
        "Object" => "object",
        "Trail" => "trail",
        "Secret" => "secret",
        "Key" => "key",
        "Role" => "role",
        "User" => "user",
        "Group" => "group",
        "Policy" | "ManagedPolicy" => "policy",
        "Instance" => "instance",
        "Snapshot" | "DBSnapshot" | "DBClusterSnapshot" => "snapshot",
        "Volume" => "volume",
        "Image" => "image",
        "Function" => "function",
        "DBInstance" => "db_instance",
        "DBCluster" => "db_cluster",
        "Table" => "table",
        "Topic" => "topic",
        "Queue" => "queue",
        "LogGroup" => "log_group",
        "Parameter" => "parameter",
        _ => return None,
    })
}

#[derive(Deserialize, Default)]
#[serde(default)]
struct AdditionalEventData<'a> {
    #[serde(rename = "bytesTransferredOut")]
    bytes_out: Number,
    /// `"Yes"` or `"No"` on console sign-ins.
    #[serde(borrow, rename = "MFAUsed")]
    mfa_used: Text<'a>,
    /// Present on sign-ins federated through a SAML identity provider, which does its own MFA.
    #[serde(rename = "SamlProviderArn")]
    saml_provider: facts::Present,
}

/// Request parameters that name the resource acted on, in order of preference (the target of an
/// attachment before the thing attached), and those that decide a request's risk, folded into
/// [`RequestFacts`] as they are parsed (see `cloudtrail/facts.rs`). Nothing else is read:
/// parameters such as `masterUserPassword` or `sSHPublicKey` never leave the input.
#[derive(Deserialize, Default)]
#[serde(default, rename_all = "camelCase")]
struct RequestParameters<'a> {
    // What decides the risk.
    launch_permission: facts::Grantees,
    create_volume_permission: facts::Grantees,
    values_to_add: facts::AddedGrantees,
    bucket_policy: facts::PublicPolicy,
    /// Resource policies logged as objects (KMS `PutKeyPolicy`, Secrets Manager
    /// `PutResourcePolicy`, OpenSearch `accessPolicies`); logged as strings, they are not parsed.
    policy: facts::PublicPolicy,
    resource_policy: facts::PublicPolicy,
    access_policies: facts::PublicPolicy,
    #[serde(rename = "AccessControlPolicy")]
    access_control_policy: facts::GrantsEveryone,
    #[serde(rename = "x-amz-acl")]
    canned_acl: facts::PublicCannedAcl,
    #[serde(borrow)]
    principal: Text<'a>,
    cidr_ip: facts::OpenToInternet,
    cidr_ipv6: facts::OpenToInternet,
    ip_permissions: facts::OpenToInternet,
    with_decryption: facts::Flag,
    user_data: facts::Present,
    layers: facts::Present,
    // What names the resource.
    #[serde(borrow)]
    bucket_name: Text<'a>,
    #[serde(borrow)]
    key: Text<'a>,
    #[serde(borrow)]
    secret_id: Text<'a>,
    #[serde(borrow)]
    instance_id: Text<'a>,
    #[serde(borrow)]
    function_name: Text<'a>,
    #[serde(borrow, rename = "dBInstanceIdentifier")]
    db_instance: Text<'a>,
    #[serde(borrow, rename = "dBSnapshotIdentifier")]
    db_snapshot: Text<'a>,
    #[serde(borrow, rename = "dBClusterIdentifier")]
    db_cluster: Text<'a>,
    #[serde(borrow)]
    snapshot_id: Text<'a>,
    #[serde(borrow)]
    image_id: Text<'a>,
    #[serde(borrow)]
    user_name: Text<'a>,
    #[serde(borrow)]
    role_name: Text<'a>,
    #[serde(borrow)]
    group_name: Text<'a>,
    #[serde(borrow)]
    role_arn: Text<'a>,
    #[serde(borrow)]
    policy_arn: Text<'a>,
    #[serde(borrow)]
    trail_name: Text<'a>,
    #[serde(borrow)]
    name: Text<'a>,
    #[serde(borrow)]
    model_id: Text<'a>,
    #[serde(borrow)]
    target: Text<'a>,
    #[serde(borrow)]
    group_id: Text<'a>,
    #[serde(borrow)]
    key_id: Text<'a>,
    #[serde(borrow)]
    topic_arn: Text<'a>,
    #[serde(borrow)]
    queue_url: Text<'a>,
    #[serde(borrow)]
    table_name: Text<'a>,
    #[serde(borrow)]
    log_group_name: Text<'a>,
    #[serde(borrow)]
    resource_arn: Text<'a>,
}

impl<'a> RequestParameters<'a> {
    /// What the parameters say about the request's risk.
    fn facts(&self) -> RequestFacts {
        let mut f = self.launch_permission.0.union(self.create_volume_permission.0).union(self.values_to_add.0);
        f = f.union(facts::principal_fact(self.principal.0.as_deref()));
        let public = self.bucket_policy.0
            || self.policy.0
            || self.resource_policy.0
            || self.access_policies.0
            || self.access_control_policy.0
            || self.canned_acl.0
            || self.cidr_ip.0
            || self.cidr_ipv6.0
            || self.ip_permissions.0;
        f.set_if(public, RequestFacts::PUBLIC);
        f.set_if(self.with_decryption.0, RequestFacts::DECRYPTED);
        f.set_if(self.user_data.0, RequestFacts::USER_DATA);
        f.set_if(self.layers.0, RequestFacts::LAYERS);
        f
    }

    /// The resource acted on and its type (when the parameter says it).
    fn resource(self) -> Option<(Cow<'a, str>, Option<&'static str>)> {
        if let Some(bucket) = self.bucket_name.get() {
            return Some(match self.key.get() {
                Some(key) => (Cow::Owned(format!("arn:aws:s3:::{bucket}/{key}")), Some("object")),
                None => (Cow::Owned(format!("arn:aws:s3:::{bucket}")), Some("bucket")),
            });
        }
        [
            (self.secret_id, Some("secret")),
            (self.instance_id, Some("instance")),
            (self.function_name, Some("function")),
            (self.db_instance, Some("db_instance")),
            (self.db_snapshot, Some("snapshot")),
            (self.db_cluster, Some("db_cluster")),
            (self.snapshot_id, Some("snapshot")),
            (self.image_id, Some("image")),
            (self.user_name, Some("user")),
            (self.role_name, Some("role")),
            (self.group_name, Some("group")),
            (self.role_arn, Some("role")),
            (self.policy_arn, Some("policy")),
            (self.trail_name, Some("trail")),
            (self.name, None),
            (self.model_id, Some("model")),
            (self.target, None),
            (self.group_id, Some("security_group")),
            (self.key_id, Some("key")),
            (self.topic_arn, Some("topic")),
            (self.queue_url, Some("queue")),
            (self.table_name, Some("table")),
            (self.log_group_name, Some("log_group")),
            (self.resource_arn, None),
        ]
        .into_iter()
        .find_map(|(t, kind)| t.get().map(|v| (v, kind)))
    }
}

/// The first top-level `responseElements` key whose value is `"Failure"`: sign-in events
/// (`{"ConsoleLogin":"Failure"}`) report failure this way instead of with an `errorCode`.
#[derive(Default)]
struct SignInResult<'a> {
    failed: Option<Cow<'a, str>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for SignInResult<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = SignInResult<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = SignInResult::default();
                while let Some(key) = map.next_key::<BStr<'de>>()? {
                    let value = map.next_value::<Text<'de>>()?;
                    if out.failed.is_none() && value.0.as_deref() == Some("Failure") {
                        out.failed = Some(key.into_cow());
                    }
                }
                Ok(out)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

pub(crate) fn decode<'a>(
    decoder: &Decoder,
    text: &'a str,
    ingest: Option<i64>,
    out: &mut Vec<Result<Event<'a>, DecodeError>>,
) {
    let d = Ctx { decoder, ingest };
    match records(text) {
        Ok(Records::One(rec)) => decode_value(d, rec, true, out),
        Ok(Records::Many(recs)) => recs.into_iter().for_each(|r| decode_value(d, r.get(), true, out)),
        Err(e) => out.push(Err(DecodeError::json(e))),
    }
}

/// Decodes one JSON value: a record, or (when `unwrap`) an S3 delivery file or EventBridge
/// envelope around records. Envelopes are unwrapped one level only.
/// The decoder and the ingest time, passed down together.
#[derive(Clone, Copy)]
struct Ctx<'d> {
    decoder: &'d Decoder,
    ingest: Option<i64>,
}

fn decode_value<'a>(decoder: Ctx<'_>, text: &'a str, unwrap: bool, out: &mut Vec<Result<Event<'a>, DecodeError>>) {
    let raw: Raw<'a> = match serde_json::from_str(text) {
        Ok(raw) => raw,
        Err(e) => return out.push(Err(DecodeError::json(e))),
    };
    if unwrap && raw.event_name.0.is_none() {
        if let Some(recs) = raw.records {
            return recs.into_iter().for_each(|r| decode_value(decoder, r.get(), false, out));
        }
        if let Some(detail) = raw.detail {
            return match raw.detail_type.get() {
                Some(t) if !t.contains("CloudTrail") => out.push(Err(DecodeError::WrongFormat {
                    format: "cloudtrail",
                    reason: "EventBridge event is not from CloudTrail".into(),
                })),
                _ => decode_value(decoder, detail.get(), false, out),
            };
        }
    }
    out.push(decode_record(decoder, raw));
}

/// Splits an ARN into (partition, account, resource) with borrowed parts.
fn arn_parts(arn: &str) -> Option<(&str, &str, &str)> {
    let mut it = arn.splitn(6, ':');
    match (it.next(), it.next(), it.next(), it.next(), it.next(), it.next()) {
        (Some("arn"), Some(partition), Some(_service), Some(_region), Some(account), Some(resource)) => {
            Some((partition, account, resource))
        }
        _ => None,
    }
}

/// The peer group an identity ARN implies: the role of an assumed-role session, else the account.
fn peer_of_arn<'a>(arn: &Cow<'a, str>) -> Option<Cow<'a, str>> {
    let (partition, account, resource) = arn_parts(arn)?;
    if let Some(rest) = resource.strip_prefix("assumed-role/") {
        let role = rest.split('/').next().filter(|r| !r.is_empty())?;
        return Some(Cow::Owned(format!("arn:{partition}:iam::{account}:role/{role}")));
    }
    (!account.is_empty()).then(|| narrow(arn.clone(), |s| arn_parts(s).map_or(s, |(_, account, _)| account)))
}

fn decode_record<'a>(ctx: Ctx<'_>, raw: Raw<'a>) -> Result<Event<'a>, DecodeError> {
    let decoder = ctx.decoder;
    let operation = raw.event_name.get().ok_or(DecodeError::MissingField("eventName"))?;
    let time_ms = match raw.event_time.get().or(raw.p_event_time.get()).or(raw.at_timestamp.get()) {
        Some(text) => match (parse_datetime_text(&text), ctx.ingest) {
            (Some(t), _) => t,
            (None, Some(t)) => t,
            (None, None) => return Err(DecodeError::invalid("eventTime", "not RFC 3339")),
        },
        None => ctx.ingest.ok_or(DecodeError::MissingField("eventTime"))?,
    };
    let service = raw.event_source.get();

    let ui = raw.user_identity.0.unwrap_or_default();
    // MFAUsed speaks of IAM's own MFA: an IAM user's or the root user's sign-in.
    let iam_sign_in = matches!(ui.kind.0.as_deref(), Some("IAMUser" | "Root"));
    let arn = ui.arn.get();
    let issuer = ui.session_context.0.and_then(|c| c.session_issuer.0).and_then(|i| i.arn.get());
    let (user_name, principal_id, invoked_by) = (ui.user_name.get(), ui.principal_id.get(), ui.invoked_by.get());

    let pseudo = decoder.pseudonymizer();
    let account_id = ui.account_id.get();
    let account = raw.recipient_account.get().or_else(|| account_id.clone());
    let mut key_hint = None;
    let (credential, kind) = match ui.access_key_id.get() {
        Some(key) => {
            key_hint = crate::KeyHint::of_aws_key_id(&key);
            let kind = if key.starts_with("AKIA") {
                CredentialKind::AccessKey
            } else if key.starts_with("ASIA") {
                CredentialKind::TemporaryKey
            } else {
                CredentialKind::Other
            };
            (pseudo.credential(&key), kind)
        }
        None => {
            let stand_in = [&arn, &principal_id, &user_name, &invoked_by, &service, &account]
                .into_iter()
                .find_map(|c| c.as_deref())
                .ok_or(DecodeError::MissingField("userIdentity"))?;
            (pseudo.credential(stand_in), CredentialKind::Principal)
        }
    };
    let subject = match (kind, arn.as_deref().or(issuer.as_deref())) {
        (CredentialKind::TemporaryKey, Some(session)) => pseudo.pseudonymize(Namespace::Session, session),
        _ => credential,
    };
    let peer_group = issuer.or_else(|| arn.as_ref().and_then(peer_of_arn)).or(account_id);
    let principal = arn.or(user_name).or(principal_id).or(invoked_by);

    let mut origin = Origin::default();
    if let Some(src) = raw.source_ip.get() {
        match parse_ip(&src) {
            Some(ip) => origin.ip = Some(ip),
            None => origin.host = Some(src),
        }
    }

    let error_code = raw.error_code.get();
    let signin_failed = raw.response_elements.0.and_then(|r| r.failed).is_some_and(|k| k == operation);
    let outcome = match error_code.as_deref() {
        Some(code) => Outcome::from_error_code(code),
        None if signin_failed => {
            if operation.contains("Login") || operation.contains("Mfa") || operation.contains("Role") {
                Outcome::AuthFailed
            } else {
                Outcome::ClientError
            }
        }
        None => Outcome::Success,
    };
    let params = raw.request_parameters.0;
    let mut request = params.as_ref().map_or(RequestFacts::NONE, RequestParameters::facts);
    let additional = raw.additional.0;
    let no_mfa = iam_sign_in
        && additional.as_ref().is_some_and(|a| {
            !a.saml_provider.0 && a.mfa_used.0.as_deref().is_some_and(|m| m.eq_ignore_ascii_case("no"))
        });
    request.set_if(no_mfa, RequestFacts::NO_MFA);
    request.set_if(raw.vpc_endpoint_id.get().is_some(), RequestFacts::VPC_ENDPOINT);
    let (resource, resource_type) = match raw.resources.0.and_then(|r| Some((r.arn.get()?, r.kind.get()))) {
        Some((arn, kind)) => (Some(arn), kind.as_deref().and_then(resource_type_of)),
        None => params.and_then(RequestParameters::resource).map_or((None, None), |(r, t)| (Some(r), t)),
    };
    // CloudTrail's own calls name their trail `name`.
    let resource_type = resource_type
        .or_else(|| (resource.is_some() && service.as_deref() == Some("cloudtrail.amazonaws.com")).then_some("trail"));

    Ok(Event {
        time_ms,
        credential,
        subject,
        credential_kind: kind,
        principal,
        peer_group,
        origin,
        user_agent: raw.user_agent.get(),
        operation,
        service,
        resource,
        http_method: None,
        http_status: None,
        outcome,
        error_code,
        bytes_out: additional.and_then(|a| a.bytes_out.as_u64()),
        request,
        event_uid: raw.event_id.get().or(raw.request_id.get()),
        cloud: crate::CloudContext { account, region: raw.region.get(), resource_type, key_hint },
    })
}

mod facts;
#[cfg(test)]
mod tests;
