//! Reading operation names and routes as words, so rules match by meaning rather than spelling:
//! `DeleteResolverQueryLogConfig` is *delete* + *resolver query log config*; `POST
//! /v2/orgs/123/api-keys` is *POST* on *api key* under *org*. Used when a rule file is loaded and
//! when an operation is classified for the first time (results are cached), never per event.

/// The lower-case words of a CamelCase name or a phrase (`FlowLogs`, `flow logs`, `flow-logs`,
/// `flow_logs` all give `[flow, log]`): split at case changes and at anything not a letter or
/// digit, an acronym kept whole (`SAMLProvider` is `saml provider`), version words (`V2`)
/// dropped, the last word made singular.
pub(crate) fn words(s: &str) -> Vec<String> {
    let chars: Vec<char> = s.chars().collect();
    let mut out: Vec<String> = Vec::new();
    let mut cur = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if !c.is_alphanumeric() {
            flush(&mut cur, &mut out);
            continue;
        }
        let prev = i.checked_sub(1).map(|j| chars[j]);
        let next = chars.get(i + 1).copied();
        let boundary = c.is_uppercase()
            && prev.is_some_and(|p| {
                p.is_lowercase() || p.is_ascii_digit() || (p.is_uppercase() && next.is_some_and(char::is_lowercase))
            });
        if boundary {
            flush(&mut cur, &mut out);
        }
        cur.extend(c.to_lowercase());
    }
    flush(&mut cur, &mut out);
    out.retain(|w| !is_version(w));
    if let Some(last) = out.last_mut() {
        *last = singular(last);
    }
    out
}

fn flush(cur: &mut String, out: &mut Vec<String>) {
    if !cur.is_empty() {
        out.push(std::mem::take(cur));
    }
}

/// `v1`, `v2`, `v1beta1`, `v2alpha`: a version, not a word.
fn is_version(w: &str) -> bool {
    let Some(rest) = w.strip_prefix('v') else { return false };
    let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
    digits > 0 && rest[digits..].bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.')
}

/// A plural noun made singular the simple English way (`policies` → `policy`, `addresses` →
/// `address`, `logs` → `log`); words that only look plural (`access`, `status`, `analysis`) and
/// short words (`aws`, `kms`) are left alone.
fn singular(w: &str) -> String {
    if w.len() > 4 && w.ends_with("ies") {
        format!("{}y", &w[..w.len() - 3])
    } else if w.ends_with("sses") {
        w[..w.len() - 2].to_owned()
    } else if w.len() > 3 && w.ends_with('s') && !w.ends_with("ss") && !w.ends_with("us") && !w.ends_with("is") {
        w[..w.len() - 1].to_owned()
    } else {
        w.to_owned()
    }
}

/// An AWS action name without the API version some services append to it in CloudTrail
/// (Lambda's `AddPermission20150331v2`, `UpdateFunctionCode20150331v2`).
pub(crate) fn without_api_version(name: &str) -> &str {
    let b = name.as_bytes();
    let mut end = b.len();
    // `v` and digits after the date.
    let tail = b.iter().rev().take_while(|c| c.is_ascii_digit()).count();
    if tail > 0 && end > tail && b[end - tail - 1] == b'v' {
        let before = end - tail - 1;
        if before >= 8 && b[before - 8..before].iter().all(u8::is_ascii_digit) {
            end = before;
        }
    }
    // The date itself: eight digits after a letter.
    if end > 8 && b[end - 8..end].iter().all(u8::is_ascii_digit) && b[end - 9].is_ascii_alphabetic() {
        end -= 8;
    }
    &name[..end]
}

/// An HTTP method as a route rule names it, upper case.
pub(crate) fn method(m: &str) -> String {
    m.trim().to_ascii_uppercase()
}

/// Whether the operation is a route (`GET /v1/orders/{id}`, `/admin/users`) rather than an action
/// name (`DescribeInstances`, `iam:CreateAccessKey`).
pub(crate) fn is_route(operation: &str) -> bool {
    operation.contains('/')
}

/// A route read for matching: its method (from the operation's first word, else the logged one)
/// and its segments as words, ids and versions set aside.
#[derive(Debug, Default, PartialEq)]
pub(crate) struct Route {
    pub method: String,
    pub segments: Vec<Vec<String>>,
}

/// Reads `GET /v2/orgs/123/api-keys?limit=5` as `GET` and `[[org], [api, key]]`.
pub(crate) fn route(operation: &str, http_method: Option<&str>) -> Route {
    let op = operation.trim();
    let (method_word, path) = match op.split_once(' ') {
        Some((m, p)) if !m.contains('/') => (Some(m), p.trim()),
        _ => (None, op),
    };
    let method = method_word.or(http_method).map(self::method).unwrap_or_default();
    let path = path.split(['?', '#']).next().unwrap_or("");
    let segments =
        path.split('/').filter(|s| !s.is_empty() && !is_id(s)).map(words).filter(|w| !w.is_empty()).collect();
    Route { method, segments }
}

/// Whether a path segment is an identifier or a version rather than a noun: a template
/// (`{id}`, `:id`, `<id>`, a regex group), a number, a UUID, a date, a long token with digits in
/// it (`cus_9sdf8s7d`, `i-0abc1234`), a version (`v2`, `v1beta1`).
fn is_id(s: &str) -> bool {
    let first = s.as_bytes()[0];
    if matches!(first, b'{' | b':' | b'<' | b'(' | b'*' | b'$' | b'@') {
        return true;
    }
    let digits = s.bytes().filter(u8::is_ascii_digit).count();
    if digits == s.len() || is_version(&s.to_ascii_lowercase()) {
        return true;
    }
    // Random-looking ids carry digits and run long; nouns rarely do either (`oauth2`, `2fa`).
    digits > 0 && s.len() >= 8
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(s: &str) -> Vec<String> {
        words(s)
    }

    #[test]
    fn names_split_into_singular_words() {
        assert_eq!(w("DeleteResolverQueryLogConfig"), ["delete", "resolver", "query", "log", "config"]);
        assert_eq!(w("DeleteFlowLogs"), ["delete", "flow", "log"]);
        assert_eq!(w("CreateSAMLProvider"), ["create", "saml", "provider"]);
        assert_eq!(w("CreateIPSet"), ["create", "ip", "set"]);
        assert_eq!(w("DeleteDBInstance"), ["delete", "db", "instance"]);
        assert_eq!(w("ListAttachedUserPolicies"), ["list", "attached", "user", "policy"]);
        assert_eq!(w("GetAccountAuthorizationDetails"), ["get", "account", "authorization", "detail"]);
        assert_eq!(w("ListObjectsV2"), ["list", "object"]);
        assert_eq!(w("DeleteLoginProfile"), ["delete", "login", "profile"], "login is not log");
        assert_eq!(w("GetStatus"), ["get", "status"]);
        assert_eq!(w("DescribeAddresses"), ["describe", "address"]);
        assert_eq!(w("flow logs"), w("flow-logs"));
        assert_eq!(w("api_keys"), ["api", "key"]);
        assert_eq!(w("apiKeys"), ["api", "key"]);
        assert_eq!(w("StopLogging"), ["stop", "logging"]);
    }

    #[test]
    fn api_versions_are_not_part_of_the_name() {
        assert_eq!(without_api_version("AddPermission20150331v2"), "AddPermission");
        assert_eq!(without_api_version("UpdateFunctionCode20150331"), "UpdateFunctionCode");
        assert_eq!(without_api_version("ListObjectsV2"), "ListObjectsV2");
        assert_eq!(without_api_version("DescribeInstances"), "DescribeInstances");
        assert_eq!(without_api_version("12345678"), "12345678");
    }

    #[test]
    fn routes_keep_their_nouns_and_drop_ids_and_versions() {
        let r = route("POST /v2/orgs/123/api-keys?limit=5", None);
        assert_eq!(r.method, "POST");
        assert_eq!(r.segments, vec![vec!["org"], vec!["api", "key"]]);
        let r = route("/admin/users/{id}/roles", Some("put"));
        assert_eq!(r.method, "PUT");
        assert_eq!(r.segments, vec![vec!["admin"], vec!["user"], vec!["role"]]);
        let r = route("DELETE /webhooks/9", None);
        assert_eq!(r.segments, vec![vec!["webhook"]]);
        let r = route("GET /api/v1beta1/users/:userId/tokens/3f2b8c1e-9a7d-4c2e-8f00-1a2b3c4d5e6f", None);
        assert_eq!(r.segments, vec![vec!["api"], vec!["user"], vec!["token"]]);
        let r = route("GET /2013-04-01/hostedzone/Z1D633PJN98FT9", None);
        assert_eq!(r.segments, vec![vec!["hostedzone"]]);
        let r = route("POST /oauth2/token", None);
        assert_eq!(r.segments, vec![vec!["oauth2"], vec!["token"]], "oauth2 is a word, not an id");
        assert_eq!(route("PUT /v2/me/push-token", None).segments.last().unwrap(), &["push", "token"]);
        assert!(is_route("GET /x") && is_route("/x") && !is_route("iam:CreateUser") && !is_route("ListUsers"));
    }
}
