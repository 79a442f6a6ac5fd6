use super::*;
use crate::{ErrorType, Format, Pseudonymizer};

/// An EC2 instance-role session (temporary key) denied `GetPasswordData`, shaped like CloudTrail's
/// documented AssumedRole records.
const ASSUMED_ROLE_DENIED: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"AssumedRole",
  "principalId":"AROAEXAMPLEROLEID:i-0a1b2c3d4e5f67890","arn":"arn:aws:sts::111122223333:assumed-role/web-role/i-0a1b2c3d4e5f67890",
  "accountId":"111122223333","accessKeyId":"ASIAEXAMPLEKEY000001","sessionContext":{"sessionIssuer":{"type":"Role",
  "principalId":"AROAEXAMPLEROLEID","arn":"arn:aws:iam::111122223333:role/service/web-role","accountId":"111122223333",
  "userName":"web-role"},"attributes":{"creationDate":"2024-07-30T21:00:00Z","mfaAuthenticated":"false"},
  "ec2RoleDelivery":"2.0"}},"eventTime":"2024-07-30T21:31:21Z","eventSource":"ec2.amazonaws.com",
  "eventName":"GetPasswordData","awsRegion":"us-east-1","sourceIPAddress":"203.0.113.77",
  "userAgent":"aws-cli/2.17.0 Python/3.11.9","errorCode":"Client.UnauthorizedOperation",
  "errorMessage":"You are not authorized to perform this operation.","requestParameters":{"instanceId":"i-0fedcba9876543210"},
  "responseElements":null,"requestID":"b20c2df5-71d5-441e-84c8-b424f1c78ffb",
  "eventID":"450230d4-b39e-4a18-a6a0-d07a6e2105cb","readOnly":true,"eventType":"AwsApiCall","managementEvent":true,
  "recipientAccountId":"111122223333","eventCategory":"Management"}"#;

/// An IAM user's long-lived key downloading an object, logged by S3 with its own hostname source.
const USER_GET_OBJECT: &str = r#"{"eventVersion":"1.09","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEUSER",
  "arn":"arn:aws:iam::111122223333:user/alice","accountId":"111122223333","accessKeyId":"AKIAIOSFODNN7EXAMPLE",
  "userName":"alice"},"eventTime":"2024-07-30 21:31:22Z","eventSource":"s3.amazonaws.com","eventName":"GetObject",
  "awsRegion":"us-east-1","sourceIPAddress":"athena.amazonaws.com","userAgent":"athena.amazonaws.com",
  "requestParameters":{"bucketName":"reports","key":"2024/q2.csv","Host":"reports.s3.amazonaws.com"},
  "responseElements":null,"additionalEventData":{"bytesTransferredIn":0,"bytesTransferredOut":"52311"},
  "requestID":"R1","eventID":"E2","readOnly":true,"resources":null,"eventType":"AwsApiCall"}"#;

fn decoder() -> Decoder {
    Decoder::new(Format::Cloudtrail, Pseudonymizer::insecure_demo())
}

fn decode_all(input: &str) -> Vec<Result<Event<'_>, DecodeError>> {
    let mut out = Vec::new();
    decoder().decode(input.as_bytes(), &mut out);
    out
}

#[test]
fn temporary_key_rolls_up_to_its_role_session() {
    let d = decoder();
    let e = d.decode_one(ASSUMED_ROLE_DENIED.as_bytes()).unwrap();
    let session = "arn:aws:sts::111122223333:assumed-role/web-role/i-0a1b2c3d4e5f67890";
    assert_eq!(e.credential, d.pseudonymizer().credential("ASIAEXAMPLEKEY000001"));
    assert_eq!(e.credential_kind, CredentialKind::TemporaryKey);
    assert_eq!(e.subject, d.pseudonymizer().pseudonymize(Namespace::Session, session));
    assert_eq!(e.principal.as_deref(), Some(session));
    assert_eq!(e.peer_group.as_deref(), Some("arn:aws:iam::111122223333:role/service/web-role"));
    assert_eq!(e.time_ms, 1_722_375_081_000);
    assert_eq!(e.operation, "GetPasswordData");
    assert_eq!(e.service.as_deref(), Some("ec2.amazonaws.com"));
    assert_eq!(e.outcome, Outcome::Denied);
    assert_eq!(e.error_code.as_deref(), Some("Client.UnauthorizedOperation"));
    assert_eq!(e.resource.as_deref(), Some("i-0fedcba9876543210"));
    assert_eq!(e.origin.ip, Some("203.0.113.77".parse().unwrap()));
    assert_eq!(e.event_uid.as_deref(), Some("450230d4-b39e-4a18-a6a0-d07a6e2105cb"));
    assert_eq!((e.http_method, e.http_status), (None, None));
    assert!(matches!(e.operation, Cow::Borrowed(_)));

    // The next hourly key for the same session is a new credential but the same subject.
    let rotated = ASSUMED_ROLE_DENIED.replace("ASIAEXAMPLEKEY000001", "ASIAEXAMPLEKEY000002");
    let e2 = d.decode_one(rotated.as_bytes()).unwrap();
    assert_ne!(e2.credential, e.credential);
    assert_eq!(e2.subject, e.subject);

    // A call through a VPC endpoint says so: its private source address is no place on the
    // Internet (the temporary-credential binding leaves it aside).
    assert!(!e.request.contains(RequestFacts::VPC_ENDPOINT));
    let private = ASSUMED_ROLE_DENIED
        .replace(r#""sourceIPAddress":"203.0.113.77""#, r#""sourceIPAddress":"10.0.3.17","vpcEndpointId":"vpce-0abc""#);
    let e3 = d.decode_one(private.as_bytes()).unwrap();
    assert!(e3.request.contains(RequestFacts::VPC_ENDPOINT));
}

#[test]
fn long_lived_key_s3_object_and_hostname_source() {
    let d = decoder();
    let e = d.decode_one(USER_GET_OBJECT.as_bytes()).unwrap();
    assert_eq!(e.credential_kind, CredentialKind::AccessKey);
    assert_eq!(e.subject, e.credential);
    assert_eq!(e.principal.as_deref(), Some("arn:aws:iam::111122223333:user/alice"));
    assert_eq!(e.peer_group.as_deref(), Some("111122223333"));
    assert_eq!(e.time_ms, 1_722_375_082_000);
    assert_eq!(e.outcome, Outcome::Success);
    assert_eq!(e.origin.ip, None);
    assert_eq!(e.origin.host.as_deref(), Some("athena.amazonaws.com"));
    assert_eq!(e.resource.as_deref(), Some("arn:aws:s3:::reports/2024/q2.csv"));
    assert_eq!(e.bytes_out, Some(52_311));
    assert_eq!(e.event_uid.as_deref(), Some("E2"));
}

#[test]
fn envelopes_files_and_arrays() {
    let s3_file = format!(r#"{{"Records":[{ASSUMED_ROLE_DENIED},{USER_GET_OBJECT}]}}"#);
    assert_eq!(decode_all(&s3_file).iter().filter(|r| r.is_ok()).count(), 2);
    let array = format!("[{USER_GET_OBJECT},{ASSUMED_ROLE_DENIED},{USER_GET_OBJECT}]");
    assert_eq!(decode_all(&array).iter().filter(|r| r.is_ok()).count(), 3);
    let bridge = format!(
        r#"{{"version":"0","id":"6a7e8feb-b491-4cf7-a9f1-bf3703467718","detail-type":"AWS API Call via CloudTrail",
        "source":"aws.ec2","account":"111122223333","time":"2024-07-30T21:31:21Z","region":"us-east-1",
        "resources":[],"detail":{ASSUMED_ROLE_DENIED}}}"#
    );
    let out = decode_all(&bridge);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().unwrap().operation, "GetPasswordData");
    let other =
        r#"{"detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","detail":{"state":"running"}}"#;
    assert_eq!(decode_all(other)[0].as_ref().unwrap_err().error_type(), ErrorType::WrongFormat);
    assert!(decode_all(r#"{"Records":[]}"#).is_empty());
}

#[test]
fn one_bad_record_costs_only_itself() {
    let no_time = USER_GET_OBJECT.replace(r#""eventTime":"2024-07-30 21:31:22Z","#, "");
    let bad_time = USER_GET_OBJECT.replace("2024-07-30 21:31:22Z", "Jul 30, 2024");
    let file =
        format!(r#"{{"Records":[{USER_GET_OBJECT},{no_time},7,{bad_time},{{"eventTime":"2024-07-30T21:31:22Z"}}]}}"#);
    let out = decode_all(&file);
    assert_eq!(out.len(), 5);
    assert!(out[0].is_ok());
    assert_eq!(out[1].as_ref().unwrap_err(), &DecodeError::MissingField("eventTime"));
    assert_eq!(out[2].as_ref().unwrap_err().error_type(), ErrorType::InvalidJson);
    assert_eq!(out[3].as_ref().unwrap_err().error_type(), ErrorType::InvalidField);
    assert_eq!(out[4].as_ref().unwrap_err(), &DecodeError::MissingField("eventName"));
    for r in &out {
        if let Err(e) = r {
            assert!(!e.to_string().contains("AKIA"), "{e}");
        }
    }
    assert_eq!(decode_all("{")[0].as_ref().unwrap_err().error_type(), ErrorType::InvalidJson);
    assert_eq!(decode_all("[{},").len(), 1);
    assert_eq!(decode_all("null")[0].as_ref().unwrap_err().error_type(), ErrorType::InvalidJson);
}

#[test]
fn identities_without_keys_stand_in_as_principals() {
    let d = decoder();
    let service_event = r#"{"eventVersion":"1.08","userIdentity":{"accountId":"111122223333","invokedBy":"AWS Internal"},
        "eventTime":"2024-07-30T21:31:21Z","eventSource":"kms.amazonaws.com","eventName":"RotateKey",
        "sourceIPAddress":"AWS Internal","resources":[{"accountId":"111122223333","type":"AWS::KMS::Key",
        "ARN":"arn:aws:kms:us-east-1:111122223333:key/1234abcd"}],"eventType":"AwsServiceEvent"}"#;
    let e = d.decode_one(service_event.as_bytes()).unwrap();
    assert_eq!(e.credential_kind, CredentialKind::Principal);
    assert_eq!(e.credential, d.pseudonymizer().credential("AWS Internal"));
    assert_eq!(e.principal.as_deref(), Some("AWS Internal"));
    assert_eq!(e.peer_group.as_deref(), Some("111122223333"));
    assert_eq!(e.origin.host.as_deref(), Some("AWS Internal"));
    assert_eq!(e.resource.as_deref(), Some("arn:aws:kms:us-east-1:111122223333:key/1234abcd"));

    let bare =
        r#"{"eventTime":"2024-07-30T21:31:21Z","eventSource":"guardduty.amazonaws.com","eventName":"CreateIPSet"}"#;
    let e = d.decode_one(bare.as_bytes()).unwrap();
    assert_eq!(e.credential, d.pseudonymizer().credential("guardduty.amazonaws.com"));
    let nothing = r#"{"eventTime":"2024-07-30T21:31:21Z","eventName":"X","userIdentity":{}}"#;
    assert_eq!(d.decode_one(nothing.as_bytes()).unwrap_err(), DecodeError::MissingField("userIdentity"));
}

#[test]
fn console_login_failure_is_an_auth_failure() {
    let d = decoder();
    let login = r#"{"eventVersion":"1.08","userIdentity":{"type":"IAMUser","principalId":"AIDAEXAMPLEUSER",
        "accountId":"111122223333","accessKeyId":"","userName":"bob"},"eventTime":"2024-07-30T21:31:21Z",
        "eventSource":"signin.amazonaws.com","eventName":"ConsoleLogin","sourceIPAddress":"08.1.250.216",
        "userAgent":"Mozilla/5.0","errorMessage":"Failed authentication","requestParameters":null,
        "responseElements":{"ConsoleLogin":"Failure"},"additionalEventData":{"MFAUsed":"No"},"eventType":"AwsConsoleSignIn"}"#;
    let e = d.decode_one(login.as_bytes()).unwrap();
    assert_eq!(e.outcome, Outcome::AuthFailed);
    assert_eq!(e.credential_kind, CredentialKind::Principal);
    assert_eq!(e.credential, d.pseudonymizer().credential("AIDAEXAMPLEUSER"));
    assert_eq!(e.principal.as_deref(), Some("bob"));
    assert_eq!(e.origin.ip, None, "08.1.250.216 is not a valid address");
    assert_eq!(e.origin.host.as_deref(), Some("08.1.250.216"));
    let ok = login.replace(r#"{"ConsoleLogin":"Failure"}"#, r#"{"ConsoleLogin":"Success"}"#);
    assert_eq!(d.decode_one(ok.as_bytes()).unwrap().outcome, Outcome::Success);
}

#[test]
fn lower_case_exports_and_outcomes() {
    let d = decoder();
    let rec = r#"{"awsregion":"us-east-1","eventid":"abc-123","eventname":"ModifyInstanceAttribute",
        "eventsource":"ec2.amazonaws.com","eventtime":"2022-07-17 04:50:23","eventtype":"AwsApiCall",
        "useridentity":{"arn":"arn:aws:sts::111122223333:assumed-role/ops/jane","accesskeyid":"ASIAEXAMPLEKEY000003"},
        "errorCode":"ThrottlingException","requestParameters":{"instanceId":"i-1","userData":"c2VjcmV0"}}"#;
    let e = d.decode_one(rec.as_bytes()).unwrap();
    assert_eq!(e.time_ms, 1_658_033_423_000);
    assert_eq!(e.credential_kind, CredentialKind::TemporaryKey);
    assert_eq!(e.peer_group.as_deref(), Some("arn:aws:iam::111122223333:role/ops"));
    assert_eq!(e.outcome, Outcome::Throttled);
    assert!(!e.outcome.is_access_failure());
    let expired = rec.replace("ThrottlingException", "ExpiredToken");
    assert_eq!(d.decode_one(expired.as_bytes()).unwrap().outcome, Outcome::Expired);
    let denied = rec.replace("ThrottlingException", "AccessDenied");
    assert_eq!(d.decode_one(denied.as_bytes()).unwrap().outcome, Outcome::Denied);
}

#[test]
fn arn_helpers() {
    assert_eq!(arn_parts("arn:aws:iam::123:user/a:b"), Some(("aws", "123", "user/a:b")));
    assert_eq!(arn_parts("not-an-arn"), None);
    let arn = Cow::Borrowed("arn:aws-cn:sts::123:assumed-role/r/s");
    assert_eq!(peer_of_arn(&arn).as_deref(), Some("arn:aws-cn:iam::123:role/r"));
    let user = Cow::Borrowed("arn:aws:iam::123:user/u");
    assert!(matches!(peer_of_arn(&user), Some(Cow::Borrowed("123"))));
    assert_eq!(peer_of_arn(&Cow::Borrowed("arn:aws:sts::123:assumed-role/")), None);
    assert_eq!(peer_of_arn(&Cow::Owned("arn:aws:iam::9:root".into())).as_deref(), Some("9"));
}

/// A record with `requestParameters` replaced by `params`.
fn with_params(params: &str) -> String {
    USER_GET_OBJECT.replace(
        r#""requestParameters":{"bucketName":"reports","key":"2024/q2.csv","Host":"reports.s3.amazonaws.com"}"#,
        &format!(r#""requestParameters":{params}"#),
    )
}

#[test]
fn request_facts_are_read_from_the_parameters_that_decide_risk() {
    let d = decoder();
    let facts = |params: &str| d.decode_one(with_params(params).as_bytes()).unwrap().request;
    assert_eq!(facts(r#"{"bucketName":"b","x-amz-acl":["public-read"]}"#), RequestFacts::PUBLIC);
    assert_eq!(facts(r#"{"bucketName":"b","x-amz-acl":["private"]}"#), RequestFacts::NONE);
    assert_eq!(
        facts(r#"{"groupId":"sg-1","ipPermissions":{"items":[{"ipRanges":{"items":[{"cidrIp":"0.0.0.0/0"}]}}]}}"#),
        RequestFacts::PUBLIC
    );
    assert_eq!(facts(r#"{"name":"/db/password","withDecryption":"true"}"#), RequestFacts::DECRYPTED);
    assert_eq!(facts(r#"{"name":"/db/password","withDecryption":false}"#), RequestFacts::NONE);
    assert_eq!(
        facts(r#"{"functionName":"f","principal":"s3.amazonaws.com","action":"lambda:InvokeFunction"}"#),
        RequestFacts::NONE
    );
    // The resource is still named.
    let record = with_params(r#"{"snapshotId":"snap-1","createVolumePermission":{"add":{"items":[{"group":"all"}]}}}"#);
    let e = d.decode_one(record.as_bytes()).unwrap();
    assert_eq!((e.request, e.resource.as_deref()), (RequestFacts::PUBLIC, Some("snap-1")));
}

/// Parameters of unexpected shapes cost nothing but their facts: the record still decodes.
#[test]
fn odd_parameter_shapes_do_not_cost_the_record() {
    let d = decoder();
    for params in [
        r#"{"withDecryption":{"x":1},"launchPermission":"all","bucketPolicy":5,"valuesToAdd":{"a":"all"}}"#,
        r#"{"ipPermissions":[1,true,null],"principal":["*"],"userData":null,"layers":null,"policy":[""]}"#,
        r#"{"createVolumePermission":{"add":{"items":[{"userId":12},{"group":null}]}},"AccessControlPolicy":[]}"#,
        r#"{"bucketPolicy":{"Statement":[1,"x",{"Effect":["Allow"],"Principal":{"AWS":[3,"*"]}}]}}"#,
    ] {
        let record = with_params(params);
        let e = d.decode_one(record.as_bytes()).unwrap_or_else(|err| panic!("{params}: {err}"));
        assert_eq!(e.operation, "GetObject");
    }
}

/// Regression (issue 21): CloudTrail records shipped through Logstash (its `cloudtrail` codec
/// moves `eventTime` to `@timestamp`) or Elastic carry `@timestamp` and no `eventTime`; every one
/// was rejected as missing its time.
#[test]
fn logstash_and_elastic_records_take_their_time_from_at_timestamp() {
    let shipped = USER_GET_OBJECT.replace(
        r#""eventTime":"2024-07-30 21:31:22Z","#,
        r#""@timestamp":"2024-07-30T21:31:22.000Z","@version":"1","#,
    );
    let out = decode_all(&shipped);
    assert_eq!(out.len(), 1);
    assert_eq!(out[0].as_ref().expect("decoded").time_ms, 1_722_375_082_000);
    // `eventTime` wins when both are there.
    let both = USER_GET_OBJECT.replace(r#""eventTime""#, r#""@timestamp":"2030-01-01T00:00:00Z","eventTime""#);
    assert_eq!(decode_all(&both)[0].as_ref().expect("decoded").time_ms, 1_722_375_082_000);
}

/// A key id of spaces identifies nothing: the record falls back to its principal, as without a key.
#[test]
fn a_blank_access_key_id_is_absent() {
    let blank = USER_GET_OBJECT.replace("AKIAIOSFODNN7EXAMPLE", "   ");
    let e = decode_all(&blank).pop().expect("one").expect("decoded");
    assert_eq!(e.credential_kind, CredentialKind::Principal);
    assert_ne!(e.credential, decoder().pseudonymizer().credential("   "));
}

/// A time no RFC 3339 timestamp can write is an error, not a clamp.
#[test]
fn a_time_beyond_year_9999_is_an_invalid_field() {
    let far = USER_GET_OBJECT.replace("2024-07-30 21:31:22Z", "+10000-01-01T00:00:00Z");
    let err = decode_all(&far).pop().expect("one").expect_err("refused");
    assert_eq!(err.error_type(), ErrorType::InvalidField);
}
