use super::*;
use crate::keys::KeySpace;

fn keys() -> KeySpace {
    KeySpace::new([1; 16])
}

/// Classifies a call through `c`, as the engine does.
fn classify<'c>(c: &'c Catalogue, service: Option<&str>, operation: &str, facts: RequestFacts) -> Option<&'c Entry> {
    let key = keys().operation(service, operation);
    c.classify(key, Op { service, operation, method: None, facts })
}

/// (tactic, technique, severity) of an AWS call, or `None`.
fn aws(service: &str, op: &str, facts: RequestFacts) -> Option<(Tactic, String, Severity)> {
    let c = Catalogue::builtin();
    let svc = format!("{service}.amazonaws.com");
    classify(&c, Some(&svc), op, facts).map(|e| (e.attack.tactic, e.attack.technique.clone(), e.severity))
}

fn rest(op: &str) -> Option<(Tactic, String, Severity)> {
    let c = Catalogue::builtin();
    classify(&c, Some("some-api"), op, RequestFacts::NONE)
        .map(|e| (e.attack.tactic, e.attack.technique.clone(), e.severity))
}

fn is(t: Tactic, technique: &str, s: Severity) -> Option<(Tactic, String, Severity)> {
    Some((t, technique.to_owned(), s))
}

use Severity::{Critical, High, Informational, Low, Medium};
use Tactic::*;

const NONE: RequestFacts = RequestFacts::NONE;

#[test]
fn aws_calls_are_classified_by_meaning() {
    assert_eq!(aws("cloudtrail", "StopLogging", NONE), is(DefenseEvasion, "T1562.008", Critical));
    assert_eq!(aws("cloudtrail", "PutEventSelectors", NONE), is(DefenseEvasion, "T1562.008", High));
    assert_eq!(aws("ec2", "DeleteFlowLogs", NONE), is(DefenseEvasion, "T1562.008", High));
    assert_eq!(aws("guardduty", "DeleteDetector", NONE), is(DefenseEvasion, "T1562.001", Critical));
    assert_eq!(aws("guardduty", "CreateDetector", NONE), None, "enabling detection is no evasion");
    assert_eq!(aws("securityhub", "DisableSecurityHub", NONE), is(DefenseEvasion, "T1562.001", High));
    assert_eq!(aws("organizations", "LeaveOrganization", NONE), is(DefenseEvasion, "T1666", High));
    // Verb and noun: calls no rule names, classified by what they do.
    assert_eq!(aws("eks", "DeleteLogging", NONE), is(DefenseEvasion, "T1562.008", Medium));
    assert_eq!(aws("iam", "DeleteLoginProfile", NONE), None, "a login profile is not a log");
    assert_eq!(aws("dynamodb", "DeleteTable", NONE), is(Impact, "T1485", Medium));
    assert_eq!(aws("s3", "DeleteBucketPolicy", NONE), None, "deletes a policy, not the bucket");
    assert_eq!(aws("rds", "DeleteDBClusterSnapshot", NONE), is(Impact, "T1490", Medium));
    assert_eq!(aws("iam", "CreateAccessKey", NONE), is(Persistence, "T1098.001", High));
    assert_eq!(aws("iam", "UpdateLoginProfile", NONE), is(PrivilegeEscalation, "T1098", High));
    assert_eq!(aws("iam", "AttachRolePolicy", NONE), is(PrivilegeEscalation, "T1098.003", High));
    assert_eq!(aws("iam", "TagRole", NONE), is(PrivilegeEscalation, "T1098", Low));
    assert_eq!(aws("iam", "ListUsers", NONE), is(Discovery, "T1087.004", Low));
    assert_eq!(aws("iam", "ListPolicies", NONE), is(Discovery, "T1069.003", Low));
    assert_eq!(aws("secretsmanager", "GetSecretValue", NONE), is(CredentialAccess, "T1555.006", Medium));
    assert_eq!(aws("ec2", "GetPasswordData", NONE), is(CredentialAccess, "T1552", High));
    assert_eq!(aws("ec2", "DescribeInstances", NONE), is(Discovery, "T1580", Low));
    assert_eq!(aws("s3", "GetObject", NONE), None);
    assert_eq!(aws("s3", "PutObject", NONE), None);
    assert_eq!(aws("sts", "AssumeRole", NONE), None);
    assert_eq!(aws("ssm", "SendCommand", NONE), is(Execution, "T1651", Medium));
    assert_eq!(aws("ec2-instance-connect", "SendSSHPublicKey", NONE), is(LateralMovement, "T1021.008", Medium));
    assert_eq!(aws("kms", "ScheduleKeyDeletion", NONE), is(Impact, "T1485", High));
    assert_eq!(aws("bedrock", "PutUseCaseForModelAccess", NONE), is(Impact, "T1496.004", Medium));
    // CloudTrail's versioned Lambda names.
    assert_eq!(aws("lambda", "UpdateFunctionCode20150331v2", NONE), is(Persistence, "T1525", Medium));
    // A service prefix in the name instead of an eventSource.
    let c = Catalogue::builtin();
    let e = classify(&c, None, "iam:CreateLoginProfile", NONE).unwrap();
    assert_eq!(e.attack.technique, "T1098.001");
}

#[test]
fn request_facts_decide_where_the_parameters_do() {
    let (public, shared) = (RequestFacts::PUBLIC, RequestFacts::SHARED);
    assert_eq!(aws("ec2", "ModifySnapshotAttribute", public), is(Exfiltration, "T1537", Critical));
    assert_eq!(aws("ec2", "ModifySnapshotAttribute", shared), is(Exfiltration, "T1537", High));
    assert_eq!(aws("ec2", "ModifySnapshotAttribute", NONE), is(Exfiltration, "T1537", Low));
    assert_eq!(aws("rds", "ModifyDBSnapshotAttribute", shared), is(Exfiltration, "T1537", High));
    assert_eq!(aws("s3", "PutBucketPolicy", public), is(Exfiltration, "T1537", Critical));
    assert_eq!(aws("s3", "PutBucketPolicy", NONE), is(PrivilegeEscalation, "T1098", Low));
    assert_eq!(aws("kms", "PutKeyPolicy", public), is(Exfiltration, "T1537", High), "any resource policy");
    assert_eq!(aws("ec2", "AuthorizeSecurityGroupIngress", public), is(DefenseEvasion, "T1562.007", High));
    assert_eq!(aws("ec2", "AuthorizeSecurityGroupIngress", NONE), None);
    assert_eq!(aws("ssm", "GetParameters", RequestFacts::DECRYPTED), is(CredentialAccess, "T1555.006", Medium));
    assert_eq!(aws("ssm", "GetParameters", NONE), None);
    assert_eq!(aws("ec2", "ModifyInstanceAttribute", RequestFacts::USER_DATA), is(Execution, "T1651", High));
    assert_eq!(aws("ec2", "ModifyInstanceAttribute", NONE), is(DefenseEvasion, "T1578.005", Low));
    assert_eq!(aws("lambda", "AddPermission20150331v2", public), is(Persistence, "T1098", High));
    assert_eq!(aws("lambda", "AddPermission20150331v2", NONE), is(PrivilegeEscalation, "T1098", Low));
    assert_eq!(aws("signin", "ConsoleLogin", RequestFacts::NO_MFA), is(InitialAccess, "T1078.004", Medium));
    assert_eq!(aws("signin", "ConsoleLogin", NONE), None);
}

#[test]
fn rest_routes_are_classified_whatever_their_versions_ids_and_plurals() {
    assert_eq!(rest("POST /v2/orgs/123/api-keys"), is(Persistence, "T1098.001", High));
    assert_eq!(rest("POST /v1/api_key"), is(Persistence, "T1098.001", High));
    assert_eq!(rest("PUT /admin/users/{id}/roles"), is(PrivilegeEscalation, "T1098.003", High));
    assert_eq!(rest("PUT /v1/users/{id}/permissions"), is(PrivilegeEscalation, "T1098.003", High));
    assert_eq!(rest("POST /admin/roles"), is(PrivilegeEscalation, "T1098.003", High));
    assert_eq!(rest("DELETE /webhooks/9"), is(DefenseEvasion, "T1562", Low));
    assert_eq!(rest("POST /v3/repos/:repo/hooks"), is(Exfiltration, "T1567.004", Medium));
    assert_eq!(rest("POST /v1/users"), is(Persistence, "T1136.003", Medium));
    assert_eq!(
        rest("POST /api/v1/users/8a7b6c5d-1111-2222-3333-444455556666/password-reset"),
        is(PrivilegeEscalation, "T1098", Medium)
    );
    assert_eq!(rest("DELETE /v1/users/{id}/mfa"), is(Persistence, "T1556.006", High));
    assert_eq!(rest("DELETE /v1/audit-logs/{id}"), is(DefenseEvasion, "T1562.008", High));
    assert_eq!(rest("POST /v1/exports"), is(Collection, "T1213", Medium));
    assert_eq!(rest("GET /v1/exports/{id}"), is(Exfiltration, "T1567", Medium));
    assert_eq!(rest("PUT /admin/settings"), is(PrivilegeEscalation, "T1098", Medium));
    assert_eq!(rest("GET /admin/users"), is(Discovery, "T1087", Low));
    assert_eq!(rest("GET /v1/users/{id}"), is(Discovery, "T1087", Low));
    assert_eq!(rest("GET /v1/secret/data/payments-db"), is(CredentialAccess, "T1552", Medium));
    // Authentication is not credential creation.
    assert_eq!(rest("POST /oauth2/token"), is(InitialAccess, "T1078", Informational));
    assert_eq!(rest("POST /v1/sessions"), is(InitialAccess, "T1078", Informational));
    // Business routes: nothing.
    assert_eq!(rest("PUT /v2/me/push-token"), None, "a device's push token is no credential");
    assert_eq!(rest("POST /v1/audit-events"), None, "writing audit events is not tampering with them");
    assert_eq!(rest("GET /v1/orders/{id}"), None);
    assert_eq!(rest("DELETE /v1/stock/reservations/{id}"), None);
    assert_eq!(rest("POST /v1/reports"), None);
    // The method logged apart from the route.
    let c = Catalogue::builtin();
    let (svc, path) = (Some("gw"), "/v2/orgs/7/api-keys");
    let key = keys().operation(svc, path);
    let e = c.classify(key, Op { service: svc, operation: path, method: Some("post"), facts: NONE });
    assert_eq!(e.map(|e| e.severity), Some(High));
}

#[test]
fn classes_follow_the_technique() {
    let c = Catalogue::builtin();
    let class = |s: Option<&str>, o: &str| classify(&c, s, o, NONE).map_or(OpClass::Other, Entry::class);
    assert_eq!(class(Some("iam.amazonaws.com"), "CreateAccessKey"), OpClass::Privilege);
    assert_eq!(class(Some("iam.amazonaws.com"), "AttachUserPolicy"), OpClass::Privilege);
    assert_eq!(class(Some("iam.amazonaws.com"), "CreateServiceLinkedRole"), OpClass::Privilege);
    assert_eq!(class(Some("iam.amazonaws.com"), "GetUser"), OpClass::Discovery);
    assert_eq!(class(None, "PUT /v1/users/{id}/permissions"), OpClass::Privilege);
    assert_eq!(class(None, "POST /admin/roles"), OpClass::Privilege);
    assert_eq!(class(Some("s3.amazonaws.com"), "PutObject"), OpClass::Other);
    assert_eq!(class(Some("ec2.amazonaws.com"), "DescribeInstances"), OpClass::Discovery);
    assert_eq!(class(Some("s3.amazonaws.com"), "ListBuckets"), OpClass::Discovery);
    assert_eq!(class(Some("secretsmanager.amazonaws.com"), "GetSecretValue"), OpClass::Other);
    assert_eq!(class(Some("secretsmanager.amazonaws.com"), "DescribeSecret"), OpClass::Discovery);
    assert_eq!(class(Some("cloudtrail.amazonaws.com"), "StopLogging"), OpClass::Tamper);
    assert_eq!(class(Some("cloudtrail.amazonaws.com"), "PutEventSelectors"), OpClass::Tamper);
    assert_eq!(class(Some("ec2.amazonaws.com"), "DeleteFlowLogs"), OpClass::Tamper);
    assert_eq!(class(Some("organizations.amazonaws.com"), "LeaveOrganization"), OpClass::Tamper);
    assert_eq!(class(Some("ec2.amazonaws.com"), "RunInstances"), OpClass::Other, "creating instances is no tampering");
    assert_eq!(class(Some("lambda.amazonaws.com"), "UpdateFunctionCode"), OpClass::Other);
    assert_eq!(class(None, "POST /oauth/token"), OpClass::Other);
}

/// Every operation a built-in rule lists, as AWS spells it, reaches that rule with the rule's
/// facts: none is shadowed by an earlier rule (a verb-and-noun rule, or one needing fewer facts).
#[test]
fn no_builtin_rule_is_shadowed() {
    let file: File = toml::from_str(BUILTIN).unwrap();
    let c = Catalogue::builtin();
    let mut checked = 0;
    for raw in file.aws.iter().map(|r| r.get_ref()) {
        let service = raw.services.first().map(|s| format!("{s}.amazonaws.com"));
        let facts = raw.facts.iter().fold(NONE, |f, n| f.union(RequestFacts::by_name(n).unwrap()));
        for op in &raw.operations {
            let got = c.find(Op { service: service.as_deref(), operation: op, method: None, facts });
            let title = got.map(|i| c.rules[i].entry.title.as_str());
            assert_eq!(title, Some(raw.title.as_str()), "{service:?} {op} {facts:?}");
            checked += 1;
        }
    }
    assert!(checked > 80, "{checked}");
}

#[test]
fn every_builtin_rule_cites_its_sources() {
    let c = Catalogue::builtin();
    for r in c.rules.iter() {
        let e = &r.entry;
        assert!(!e.attack.name.is_empty(), "{}", e.title);
        assert!(e.docs.as_deref().is_some_and(|d| d.starts_with("https://")), "{}: no documentation", e.title);
        if r.style == Style::Aws && !r.operations.is_empty() && r.services.iter().all(|s| s != "rds-db") {
            assert!(e.docs.as_deref().is_some_and(|d| d.contains("docs.aws.amazon.com")), "{}", e.title);
        }
    }
}

#[test]
fn a_users_file_extends_and_overrides_the_builtin_rules() {
    let text = r#"
[techniques]
"T1199" = "Trusted Relationship"

# GetSecretValue is routine here: every service reads its secrets at start-up.
[[aws]]
services = ["secretsmanager"]
operations = ["GetSecretValue"]
tactic = "credential-access"
technique = "T1555.006"
severity = "low"
title = "Secret read"
reason = "routine in this estate"
remediation = "None."

[[rest]]
methods = ["POST"]
nouns = ["partner-link"]
tactic = "initial-access"
technique = "T1199"
severity = "high"
title = "Partner trust created"
reason = "links a partner tenant to ours"
remediation = "Confirm with the partner team."
"#;
    let c = Catalogue::with_overrides(text).unwrap();
    assert_eq!(c.len(), Catalogue::builtin().len() + 2);
    let secret = classify(&c, Some("secretsmanager.amazonaws.com"), "GetSecretValue", NONE).unwrap();
    assert_eq!((secret.severity, secret.title.as_str()), (Low, "Secret read"));
    let link = classify(&c, Some("partners"), "POST /v1/partner-links", NONE).unwrap();
    assert_eq!(link.attack, Attack::new(InitialAccess, "T1199", "Trusted Relationship"));
    // The rest of the built-in catalogue still applies.
    let stop = classify(&c, Some("cloudtrail.amazonaws.com"), "StopLogging", NONE).unwrap();
    assert_eq!(stop.severity, Critical);
}

#[test]
fn bad_files_are_refused_with_every_problem_and_its_line() {
    let syntax = "[[aws]]\noperations = [\"StopLogging\"\ntactic = \"defense-evasion\"\n";
    let e = Catalogue::with_overrides(syntax).unwrap_err();
    assert!(e.to_string().contains("line 2") || e.to_string().contains("line 3"), "{e}");

    let unknown_field = "[[aws]]\noperation = \"StopLogging\"\n";
    assert!(Catalogue::with_overrides(unknown_field).unwrap_err().to_string().contains("unknown field"));

    let bad_tactic = r#"[[aws]]
operations = ["X"]
tactic = "defence-evasion"
technique = "T1562"
severity = "high"
title = "t"
reason = "r"
remediation = "m"
"#;
    let e = Catalogue::with_overrides(bad_tactic).unwrap_err().to_string();
    assert!(e.contains("defence-evasion") && e.contains("line 3"), "{e}");

    let semantic = r#"
[techniques]
"T15" = "Too short"

[[aws]]
operations = ["X"]
tactic = "impact"
technique = "T9999"
severity = "high"
title = "t"
reason = "r"
remediation = "m"

[[aws]]
services = ["s3"]
facts = ["private"]
tactic = "impact"
technique = "T1485"
severity = "low"
title = "t"
reason = "r"
remediation = "m"

[[rest]]
methods = ["DELETE"]
tactic = "impact"
technique = "T1485"
severity = "low"
title = ""
reason = "r"
remediation = "m"
"#;
    let e = Catalogue::with_overrides(semantic).unwrap_err();
    let all = e.problems.join("\n");
    assert!(all.contains("\"T15\" is not an ATT&CK technique id"), "{all}");
    assert!(all.contains("line 5:") && all.contains("T9999"), "{all}");
    assert!(all.contains("line 14:") && all.contains("unknown fact \"private\""), "{all}");
    assert!(all.contains("line 14:") && all.contains("name `operations`"), "{all}");
    assert!(all.contains("line 24:") && all.contains("a method alone"), "{all}");
    assert!(all.contains("line 24:") && all.contains("`title` must be one non-empty line"), "{all}");
    assert_eq!(e.problems.len(), 6, "{all}");
}

/// The cache answers by operation key, facts and method: the same call with other facts, or the
/// same route with another method, is classified afresh.
#[test]
fn the_cache_keeps_facts_and_methods_apart() {
    let c = Catalogue::builtin();
    let svc = Some("ec2.amazonaws.com");
    for _ in 0..3 {
        let share = classify(&c, svc, "ModifySnapshotAttribute", RequestFacts::SHARED).unwrap();
        let public = classify(&c, svc, "ModifySnapshotAttribute", RequestFacts::PUBLIC).unwrap();
        let neither = classify(&c, svc, "ModifySnapshotAttribute", NONE).unwrap();
        assert_eq!((share.severity, public.severity, neither.severity), (High, Critical, Low));
    }
    let path = "/v1/api-keys";
    let key = keys().operation(Some("gw"), path);
    let at = |m| c.classify(key, Op { service: Some("gw"), operation: path, method: Some(m), facts: NONE });
    for _ in 0..2 {
        assert_eq!(at("POST").map(|e| e.severity), Some(High));
        assert_eq!(at("GET").map(|e| e.severity), Some(Low));
    }
    // A clone shares the rules, not the cache.
    let other = c.clone();
    assert_eq!(other.len(), c.len());
    assert!(other.cache.iter().all(|s| s.load(Ordering::Relaxed) == 0));
}
