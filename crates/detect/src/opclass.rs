//! What an operation does, judged from its name: the signal for privilege escalation and
//! enumeration that works across AWS-style action names and REST routes alike.

/// The class of an operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpClass {
    /// Changes who may do what: identities, credentials, policies, roles, permissions.
    Privilege,
    /// Weakens a security control: stops or deletes audit logs, detectors, flow logs, keys.
    Tamper,
    /// Lists or describes many things.
    Discovery,
    /// Anything else.
    Other,
}

/// Verbs that change state, as prefixes of an action name or as HTTP methods.
const WRITE_VERBS: &[&str] = &[
    "create",
    "put",
    "attach",
    "update",
    "add",
    "set",
    "enable",
    "upload",
    "associate",
    "grant",
    "assume",
    "pass",
    "delete",
    "detach",
    "remove",
    "post",
    "patch",
    "reset",
    "modify",
];

/// Nouns of the privilege domain.
const PRIVILEGE_NOUNS: &[&str] = &[
    "policy",
    "policies",
    "role",
    "accesskey",
    "access-key",
    "access_key",
    "loginprofile",
    "permission",
    "grant",
    "privilege",
    "admin",
    "credential",
    "mfa",
    "password",
    "apikey",
    "api-key",
    "api_key",
    "token",
    "secret",
    "serviceaccount",
    "membership",
    "acl",
    "trust",
    "sso",
];

/// Verbs that switch something off.
const DISABLE_VERBS: &[&str] = &["stop", "delete", "disable", "deactivate", "remove", "leave", "schedulekeydeletion"];

/// Nouns of security controls: audit trails, log pipelines, threat detectors, encryption keys.
const CONTROL_NOUNS: &[&str] = &[
    "trail",
    "logging",
    "flowlog",
    "loggroup",
    "logstream",
    "eventselector",
    "detector",
    "guardduty",
    "securityhub",
    "configrecorder",
    "deliverychannel",
    "audit",
    "querylogging",
    "macie",
    "inspector",
    "organization",
    "key",
    "firewall",
    "waf",
];

/// Read-many verbs.
const DISCOVERY_VERBS: &[&str] = &["list", "describe", "search", "scan", "enumerate", "getall", "lookup"];

/// Classifies an operation (`AttachUserPolicy`, `POST /admin/roles`, `iam:CreateAccessKey`).
/// Called only when a value is new to a baseline, so it may allocate.
pub fn classify(service: Option<&str>, operation: &str, http_method: Option<&str>) -> OpClass {
    let op = operation.to_ascii_lowercase();
    let action = op.rsplit(':').next().unwrap_or(&op);
    let method = http_method.map(str::to_ascii_uppercase);
    let first_word = action.split([' ', '/']).next().unwrap_or("");
    // The HTTP method speaks for REST routes only: AWS-style actions (`ListPolicies`) travel as
    // POST whatever they do.
    let route_like = action.contains(['/', ' ']);
    let rest_write = route_like
        && (matches!(first_word, "post" | "put" | "patch" | "delete")
            || matches!(method.as_deref(), Some("POST" | "PUT" | "PATCH" | "DELETE")));
    let verb_write = WRITE_VERBS.iter().any(|v| action.starts_with(v)) || rest_write;
    let iam_service = service.is_some_and(|s| {
        let s = s.to_ascii_lowercase();
        s.starts_with("iam") || s.starts_with("sts") || s.contains("identity") || s.starts_with("sso")
    });
    let privileged_noun = PRIVILEGE_NOUNS.iter().any(|n| action.contains(n));
    let disabling = DISABLE_VERBS.iter().any(|v| action.starts_with(v))
        || action.starts_with("put") && action.contains("eventselector");
    if disabling && CONTROL_NOUNS.iter().any(|n| action.contains(n)) {
        return OpClass::Tamper;
    }
    if verb_write && (privileged_noun || (iam_service && !action.starts_with("get"))) {
        return OpClass::Privilege;
    }
    let rest_read = route_like && (matches!(first_word, "get") || matches!(method.as_deref(), Some("GET" | "HEAD")));
    if DISCOVERY_VERBS.iter().any(|v| action.starts_with(v)) || (rest_read && action.contains("list")) {
        return OpClass::Discovery;
    }
    OpClass::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_aws_and_rest() {
        let p = |s: Option<&str>, o: &str, m: Option<&str>| classify(s, o, m);
        assert_eq!(p(Some("iam.amazonaws.com"), "CreateAccessKey", None), OpClass::Privilege);
        assert_eq!(p(Some("iam.amazonaws.com"), "AttachUserPolicy", None), OpClass::Privilege);
        assert_eq!(p(Some("iam.amazonaws.com"), "GetUser", None), OpClass::Other);
        assert_eq!(p(None, "PUT /v1/users/{id}/permissions", Some("PUT")), OpClass::Privilege);
        assert_eq!(p(None, "POST /admin/roles", Some("POST")), OpClass::Privilege);
        assert_eq!(p(Some("s3.amazonaws.com"), "PutObject", None), OpClass::Other);
        assert_eq!(p(Some("ec2.amazonaws.com"), "DescribeInstances", None), OpClass::Discovery);
        assert_eq!(p(Some("s3.amazonaws.com"), "ListBuckets", None), OpClass::Discovery);
        assert_eq!(p(None, "GET /v1/orders/{id}", Some("GET")), OpClass::Other);
        assert_eq!(p(Some("secretsmanager.amazonaws.com"), "GetSecretValue", None), OpClass::Other);
        assert_eq!(p(Some("cloudtrail.amazonaws.com"), "StopLogging", None), OpClass::Tamper);
        assert_eq!(p(Some("cloudtrail.amazonaws.com"), "DeleteTrail", None), OpClass::Tamper);
        assert_eq!(p(Some("cloudtrail.amazonaws.com"), "PutEventSelectors", None), OpClass::Tamper);
        assert_eq!(p(Some("ec2.amazonaws.com"), "DeleteFlowLogs", None), OpClass::Tamper);
        assert_eq!(p(Some("organizations.amazonaws.com"), "LeaveOrganization", None), OpClass::Tamper);
        assert_eq!(p(Some("s3.amazonaws.com"), "DeleteObject", None), OpClass::Other);
        // AWS query APIs are POSTs whatever they do.
        assert_eq!(p(Some("iam.amazonaws.com"), "ListPolicies", Some("POST")), OpClass::Discovery);
        assert_eq!(p(Some("secretsmanager.amazonaws.com"), "DescribeSecret", Some("POST")), OpClass::Discovery);
        assert_eq!(p(Some("iam.amazonaws.com"), "AttachRolePolicy", Some("POST")), OpClass::Privilege);
    }
}
