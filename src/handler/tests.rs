//! Tests of the whole core path: one per row of the contract, with fake platform seams.

use std::collections::HashMap;
use std::time::Duration;

use futures::executor::block_on;
use serde_json::{json, Value};

use super::*;
use crate::config::tests::{vars, MapVars, KEY};
use crate::testing::*;

/// A body given whole.
struct Bytes(Result<Vec<u8>, BodyError>);

impl Body for Bytes {
    fn read(self, mut into: BodyBuffer) -> LocalBoxFuture<'static, Result<Vec<u8>, BodyError>> {
        let result = self
            .0
            .and_then(|b| into.push(&b))
            .map(|()| into.into_bytes());
        Box::pin(async move { result })
    }
}

const EMAILS: [(&str, &str); 3] = [
    ("m1", "m1@corp.example"),
    ("m2", "m2@corp.example"),
    ("v1", "v1@site.example"),
];

fn config() -> Vec<(&'static str, &'static str)> {
    vec![
        ("api_key", KEY),
        ("atlassian_org_id", "org-1"),
        ("atlassian_admin_api_key", "admin-secret-value"),
        ("confluence_url", "https://acme.atlassian.net"),
        ("confluence_email", "bot@acme.example"),
        ("confluence_api_token", "site-token-value"),
    ]
}

/// [`config`] with the admin source asked first (`auto` asks Confluence first).
fn admin_first() -> Vec<(&'static str, &'static str)> {
    let mut v = config();
    v.push(("email_sources", "admin,confluence"));
    v
}

/// The fake upstream: admin knows m*, Confluence shows v* and hides h*.
fn upstream(req: &crate::platform::OutboundRequest) -> Reply {
    let body: Value = serde_json::from_slice(&req.body).unwrap();
    let ids: Vec<String> = serde_json::from_value(body["accountIds"].clone()).unwrap();
    let email = |id: &str| {
        EMAILS
            .iter()
            .find(|(i, _)| *i == id)
            .map(|(_, e)| e.to_string())
    };
    if req.url.contains("/admin/") {
        let data: Vec<Value> = ids
            .iter()
            .filter(|id| id.starts_with('m'))
            .filter_map(|id| email(id).map(|e| json!({"accountId": id, "email": e})))
            .collect();
        json(200, json!({"data": data, "links": {}}))
    } else {
        let results: Vec<Value> = ids
            .iter()
            .filter(|id| id.starts_with('v') || id.starts_with('h'))
            .map(|id| json!({"accountId": id, "email": email(id).unwrap_or_default()}))
            .collect();
        json(200, json!({"results": results}))
    }
}

struct Harness {
    vars: MapVars,
    transport: FakeTransport,
    runtime: std::rc::Rc<FakeRuntime>,
}

impl Harness {
    fn new() -> Harness {
        Harness::with(config(), upstream)
    }

    fn with(
        config: Vec<(&'static str, &'static str)>,
        script: impl Fn(&crate::platform::OutboundRequest) -> Reply + 'static,
    ) -> Harness {
        let runtime = FakeRuntime::new();
        Harness {
            vars: vars(&config),
            transport: FakeTransport::new(runtime.clone(), script),
            runtime,
        }
    }

    fn send(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &[u8])],
        body: &[u8],
    ) -> (Response, RequestLog) {
        let request = Request {
            method: method.to_string(),
            path_with_query: path.to_string(),
            headers: headers
                .iter()
                .map(|(n, v)| (n.to_string(), v.to_vec()))
                .collect(),
            body: Bytes(Ok(body.to_vec())),
        };
        let platform = Platform {
            variables: &self.vars,
            transport: &self.transport,
            runtime: &*self.runtime,
        };
        block_on(handle(request, &platform))
    }

    fn post(&self, body: &str) -> (Response, RequestLog) {
        self.send(
            "POST",
            "/",
            &[("X-Api-Key", KEY.as_bytes())],
            body.as_bytes(),
        )
    }

    fn upstream_calls(&self) -> usize {
        self.transport.calls.borrow().len()
    }
}

fn body(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

fn assert_error(r: &Response, status: u16, code: &str) {
    assert_eq!(r.status, status, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(body(r)["error"], code);
    assert_eq!(r.header("content-type"), Some("application/json"));
}

#[test]
fn resolves_in_first_appearance_order_without_duplicates() {
    let h = Harness::new();
    let (r, log) = h.post(r#"{"accountIds": ["v1", "m2", "u1", "m1", "v1", "h1", "m2"]}"#);
    assert_eq!(r.status, 200);
    assert_eq!(
        body(&r),
        json!([
            {"accountId": "v1", "emailAddress": "v1@site.example"},
            {"accountId": "m2", "emailAddress": "m2@corp.example"},
            {"accountId": "m1", "emailAddress": "m1@corp.example"},
        ])
    );
    assert_eq!(
        (log.ids_requested, log.ids_distinct, log.unresolved),
        (7, 5, 2)
    );
    // auto: Confluence first (v1), then admin for what is left (m2, m1).
    assert_eq!(log.resolved, vec![("confluence", 1), ("admin", 2)]);
    assert_eq!(log.upstream_calls, 2);
}

#[test]
fn include_unresolved_lists_nulls_in_order() {
    let h = Harness::new();
    let (r, _) = h.post(r#"{"accountIds": ["h1", "m1", "u1"], "includeUnresolved": true}"#);
    assert_eq!(
        body(&r),
        json!([
            {"accountId": "h1", "emailAddress": null},
            {"accountId": "m1", "emailAddress": "m1@corp.example"},
            {"accountId": "u1", "emailAddress": null},
        ])
    );
}

#[test]
fn empty_email_is_never_an_email() {
    let h = Harness::new();
    let (r, _) = h.post(r#"{"accountIds": ["h1"]}"#);
    assert_eq!(body(&r), json!([]));
}

#[test]
fn empty_list_makes_no_upstream_call() {
    let h = Harness::new();
    let (r, _) = h.post(r#"{"accountIds": []}"#);
    assert_eq!((r.status, body(&r)), (200, json!([])));
    assert_eq!(h.upstream_calls(), 0);
}

#[test]
fn missing_and_wrong_keys_get_the_same_401() {
    let h = Harness::new();
    let (missing, _) = h.send("POST", "/", &[], br#"{"accountIds": ["m1"]}"#);
    let (wrong, _) = h.send(
        "POST",
        "/",
        &[("x-api-key", b"wrong-key-wrong-key-wrong-key-wrong")],
        br#"{"accountIds": ["m1"]}"#,
    );
    let (empty, _) = h.send(
        "POST",
        "/",
        &[("x-api-key", b"")],
        br#"{"accountIds": ["m1"]}"#,
    );
    assert_error(&missing, 401, "unauthorized");
    assert_eq!(missing.body, wrong.body);
    assert_eq!(missing.body, empty.body);
    assert_eq!(h.upstream_calls(), 0);
}

#[test]
fn key_header_name_is_case_insensitive() {
    let h = Harness::new();
    let (r, _) = h.send(
        "POST",
        "/",
        &[("X-API-KEY", KEY.as_bytes())],
        br#"{"accountIds": []}"#,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn repeated_key_header_is_refused() {
    let h = Harness::new();
    let (r, _) = h.send(
        "POST",
        "/",
        &[("x-api-key", KEY.as_bytes()), ("x-api-key", KEY.as_bytes())],
        br#"{"accountIds": []}"#,
    );
    assert_error(&r, 401, "unauthorized");
}

#[test]
fn rotation_accepts_both_keys_including_hashed() {
    use sha2::Digest;
    let new_key = "the-new-key-after-rotation-0123456789";
    let digest: String = sha2::Sha256::digest(new_key.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let both = Box::leak(format!("{KEY}, sha256:{digest}").into_boxed_str());
    let mut c = config();
    c[0] = ("api_key", both);
    let h = Harness::with(c, upstream);
    for key in [KEY, new_key] {
        let (r, _) = h.send(
            "POST",
            "/",
            &[("x-api-key", key.as_bytes())],
            br#"{"accountIds": []}"#,
        );
        assert_eq!(r.status, 200, "{key}");
    }
}

#[test]
fn not_configured_fails_closed_before_auth_and_body() {
    // No api_key: nobody can authenticate, so every lookup is 503 naming it.
    let h = Harness::with(vec![("atlassian_org_id", "org-1")], upstream);
    let (r, log) = h.post(r#"{"accountIds": ["m1"]}"#);
    assert_error(&r, 503, "not_configured");
    let message = body(&r)["message"].as_str().unwrap().to_string();
    assert!(message.contains("api_key"), "{message}");
    assert_eq!(log.ids_requested, 0, "body not read");
    // A valid api_key and a broken rest: the key is checked first (401 for a wrong one, without
    // reading the rest); a key holder gets 503 naming what to fix, before the body is read.
    let h = Harness::with(
        vec![("api_key", KEY), ("atlassian_org_id", "org-1")],
        upstream,
    );
    let (r, _) = h.send("POST", "/", &[("x-api-key", b"wrong")], b"{}");
    assert_error(&r, 401, "unauthorized");
    let (r, log) = h.post(r#"{"accountIds": ["m1"]}"#);
    assert_error(&r, 503, "not_configured");
    let message = body(&r)["message"].as_str().unwrap().to_string();
    assert!(message.contains("atlassian_admin_api_key"), "{message}");
    assert_eq!(log.ids_requested, 0, "body not read");
}

#[test]
fn not_configured_never_shows_values() {
    let mut c = config();
    c[0] = ("api_key", "too-short-secret");
    let h = Harness::with(c, upstream);
    let (r, _) = h.post(r#"{"accountIds": ["m1"]}"#);
    assert_error(&r, 503, "not_configured");
    assert!(!String::from_utf8_lossy(&r.body).contains("too-short-secret"));
}

#[test]
fn health_is_liveness_and_always_ok() {
    for h in [Harness::new(), Harness::with(vec![], upstream)] {
        let (ok, _) = h.send("GET", "/health", &[], b"");
        assert_eq!((ok.status, body(&ok)), (200, json!({"status": "ok"})));
    }
}

#[test]
fn health_ready_reports_public_settings_without_a_key() {
    let (ok, _) = Harness::new().send("GET", "/health/ready", &[], b"");
    assert_eq!((ok.status, body(&ok)), (200, json!({"status": "ready"})));
    // Secrets unset but every public setting fine: ready (secrets are /admin/status's to tell).
    let (ok, _) = Harness::with(
        vec![
            ("confluence_url", "https://a.atlassian.net"),
            ("confluence_email", "bot@a.example"),
        ],
        upstream,
    )
    .send("GET", "/health/ready", &[], b"");
    assert_eq!(ok.status, 200);
    let (bad, _) = Harness::with(
        vec![
            ("confluence_url", "https://a.atlassian.net"),
            ("max_account_ids", "0"),
        ],
        upstream,
    )
    .send("GET", "/health/ready", &[], b"");
    assert_eq!(bad.status, 503);
    assert_eq!(
        body(&bad),
        json!({"status": "not_configured", "missing": ["confluence_email"], "invalid": ["max_account_ids"]})
    );
    let (r, _) = Harness::new().send("POST", "/health/ready", &[], b"");
    assert_error(&r, 405, "method_not_allowed");
    assert_eq!(r.header("allow"), Some("GET"));
}

/// Variables that count every read, by name.
struct Counting {
    inner: MapVars,
    reads: std::cell::RefCell<Vec<String>>,
}

impl crate::platform::Variables for Counting {
    fn get(&self, name: &str) -> Result<Option<String>, crate::platform::VariableError> {
        self.reads.borrow_mut().push(name.to_string());
        self.inner.get(name)
    }
}

/// The variables one request reads, with the test configuration.
fn reads(method: &str, path: &str, headers: &[(&str, &[u8])], body: &[u8]) -> Vec<String> {
    reads_with(config(), method, path, headers, body)
}

/// The variables one request reads with `settings`, in order, each time it asks the provider.
fn reads_with(
    settings: Vec<(&str, &str)>,
    method: &str,
    path: &str,
    headers: &[(&str, &[u8])],
    body: &[u8],
) -> Vec<String> {
    let vars = Counting {
        inner: vars(&settings),
        reads: Default::default(),
    };
    let runtime = FakeRuntime::new();
    // Lookups get the fake directory; /admin/status's live checks an empty page.
    let transport = FakeTransport::new(runtime.clone(), |req| {
        let lookup = serde_json::from_slice::<Value>(&req.body)
            .is_ok_and(|body| body.get("accountIds").is_some());
        if lookup {
            upstream(req)
        } else {
            json(200, json!({"data": [], "results": []}))
        }
    });
    let platform = Platform {
        variables: &vars,
        transport: &transport,
        runtime: &*runtime,
    };
    let request = Request {
        method: method.into(),
        path_with_query: path.into(),
        headers: headers
            .iter()
            .map(|(n, v)| (n.to_string(), v.to_vec()))
            .collect(),
        body: Bytes(Ok(body.to_vec())),
    };
    block_on(handle(request, &platform));
    vars.reads.into_inner()
}

/// `names`, sorted, for comparing sets of reads.
fn sorted(mut names: Vec<String>) -> Vec<String> {
    names.sort();
    names
}

/// The non-secret settings: what readiness checks.
fn public_settings() -> Vec<String> {
    crate::config::ALL_VARIABLES
        .iter()
        .filter(|n| !crate::config::SECRET_VARIABLES.contains(n))
        .map(|n| n.to_string())
        .collect()
}

#[test]
fn requests_without_a_valid_key_read_no_secret_but_api_key() {
    let wrong: &[u8] = b"wrong-key-wrong-key-wrong-key-wrong";
    let lookup = br#"{"accountIds": ["m1"]}"#;
    // Liveness reads nothing at all.
    assert_eq!(reads("GET", "/health", &[], b""), Vec::<String>::new());
    // Readiness reads each non-secret setting once, and nothing else: never more reads than
    // the settings it checks (a secret's companion, looked at to assume it, is read once).
    assert_eq!(
        sorted(reads("GET", "/health/ready", &[], b"")),
        sorted(public_settings())
    );
    // A lookup or an admin status without a valid key reads api_key, once, and nothing else.
    for (method, path) in [("POST", "/"), ("GET", "/admin/status")] {
        assert_eq!(reads(method, path, &[], lookup), vec!["api_key"], "{path}");
        assert_eq!(
            reads(method, path, &[("x-api-key", wrong)], lookup),
            vec!["api_key"],
            "{path}"
        );
    }
    // The page, unknown routes and wrong methods read nothing.
    for (method, path) in [("GET", "/admin"), ("GET", "/nope"), ("PUT", "/")] {
        assert_eq!(
            reads(method, path, &[], b""),
            Vec::<String>::new(),
            "{path}"
        );
    }
}

#[test]
fn a_key_holder_reads_each_variable_once_and_only_what_the_request_needs() {
    let key: &[(&str, &[u8])] = &[("x-api-key", KEY.as_bytes())];
    let all: Vec<String> = crate::config::ALL_VARIABLES
        .iter()
        .map(|n| n.to_string())
        .collect();
    // A lookup (with ids, or none) and /admin/status read api_key first, alone, then every
    // other variable once: `auto` needs every source setting to decide which sources run, and
    // the status page lists them all.
    for (method, path, body) in [
        ("POST", "/", &br#"{"accountIds": ["m1", "v1"]}"#[..]),
        ("POST", "/", &br#"{"accountIds": []}"#[..]),
        ("GET", "/admin/status", &b""[..]),
    ] {
        let read = reads(method, path, key, body);
        assert_eq!(read[0], "api_key", "{path}");
        assert_eq!(sorted(read), sorted(all.clone()), "{path}");
    }
    // With the sources named, the other source's settings are not read at all.
    let mut admin_only = config();
    admin_only.push(("email_sources", "admin"));
    let read = reads_with(
        admin_only.clone(),
        "POST",
        "/",
        key,
        br#"{"accountIds": ["m1"]}"#,
    );
    let expected: Vec<String> = all
        .iter()
        .filter(|n| !n.starts_with("confluence_"))
        .cloned()
        .collect();
    assert_eq!(sorted(read), sorted(expected.clone()));
    let ready = reads_with(admin_only, "GET", "/health/ready", &[], b"");
    let expected_ready: Vec<String> = public_settings()
        .into_iter()
        .filter(|n| expected.contains(n))
        .collect();
    assert_eq!(sorted(ready), sorted(expected_ready));
    let mut confluence_only = config();
    confluence_only.push(("email_sources", "confluence"));
    let read = reads_with(confluence_only, "POST", "/", key, br#"{"accountIds": []}"#);
    assert!(
        !read
            .iter()
            .any(|n| n.starts_with("atlassian_org") || n == "atlassian_admin_api_key"),
        "{read:?}"
    );
}

#[test]
fn the_log_names_which_key_was_used_by_position() {
    let two = format!("{KEY}, {}", "Zr7Lm2Nv8Bt4WyXk3_pQ9-aB");
    let mut c = config();
    c[0] = ("api_key", Box::leak(two.into_boxed_str()));
    let h = Harness::with(c, |_| json(200, json!({"data": [], "results": []})));
    let (_, first) = h.post(r#"{"accountIds": []}"#);
    assert_eq!(first.key, Some(1));
    let (_, second) = h.send(
        "POST",
        "/",
        &[("x-api-key", b"Zr7Lm2Nv8Bt4WyXk3_pQ9-aB")],
        br#"{"accountIds": []}"#,
    );
    assert_eq!(second.key, Some(2));
    let line = second.to_line();
    assert!(line.contains(r#""key":2"#), "{line}");
    let (_, status) = h.send(
        "GET",
        "/admin/status",
        &[("x-api-key", KEY.as_bytes())],
        b"",
    );
    assert_eq!(status.key, Some(1));
    let (_, anonymous) = h.send("POST", "/", &[], b"{}");
    assert_eq!(anonymous.key, None);
    assert!(!anonymous.to_line().contains("\"key\""));
}

/// A body that never finishes arriving.
struct Trickle;

impl Body for Trickle {
    fn read(self, _: BodyBuffer) -> LocalBoxFuture<'static, Result<Vec<u8>, BodyError>> {
        Box::pin(future::pending())
    }
}

#[test]
fn a_trickled_body_ends_at_the_request_deadline() {
    let mut c = config();
    c.push(("request_timeout_ms", "3000"));
    let h = Harness::with(c, upstream);
    let platform = Platform {
        variables: &h.vars,
        transport: &h.transport,
        runtime: &*h.runtime,
    };
    let start = h.runtime.now.get();
    let request = Request {
        method: "POST".into(),
        path_with_query: "/".into(),
        headers: vec![("x-api-key".into(), KEY.as_bytes().to_vec())],
        body: Trickle,
    };
    let (r, log) = block_on(handle(request, &platform));
    assert_error(&r, 408, "request_timeout");
    assert_eq!(log.error, Some("request_timeout"));
    assert_eq!(h.runtime.now.get() - start, Duration::from_millis(3000));
    assert_eq!(h.upstream_calls(), 0);
}

#[test]
fn unsendable_headers_become_a_bare_500_with_the_security_headers() {
    assert!(headers_are_sendable(&[("x-a".into(), "b c\t".into())]));
    for bad in [
        ("x-a".to_string(), "line\r\nbreak".to_string()),
        ("x a".into(), "v".into()),
        ("".into(), "v".into()),
        ("x-a".into(), "caf\u{e9}".into()),
    ] {
        assert!(!headers_are_sendable(std::slice::from_ref(&bad)), "{bad:?}");
    }
    let r = fallback_response("req-1");
    assert_eq!(r.status, 500);
    assert!(r.body.is_empty());
    for (name, value) in FALLBACK_HEADERS {
        assert_eq!(r.header(name), Some(value));
    }
    assert_eq!(r.header("x-request-id"), Some("req-1"));
    assert!(headers_are_sendable(&r.headers));
    // Every answer the handler builds is sendable.
    let h = Harness::new();
    for (method, path) in [
        ("GET", "/health"),
        ("GET", "/health/ready"),
        ("GET", "/admin"),
        ("GET", "/admin/app.js"),
        ("GET", "/nope"),
        ("PUT", "/admin"),
    ] {
        let (r, _) = h.send(method, path, &[], b"");
        assert!(headers_are_sendable(&r.headers), "{path}");
    }
}

#[test]
fn upstream_memory_is_bounded_with_a_wide_margin() {
    // The largest legitimate page: users-bulk for 250 ids, every field at its longest.
    let user = json!({
        "accountId": "a".repeat(128),
        "accountType": "atlassian",
        "accountStatus": "active",
        "email": format!("{}@{}", "e".repeat(64), "d".repeat(189)),
        "displayName": "n".repeat(255),
        "publicName": "p".repeat(255),
        "timeZone": "America/Argentina/ComodRivadavia",
        "isExternalCollaborator": false,
        "personalSpaceId": "9".repeat(20),
        "profilePicture": {"path": format!("/wiki/aa-avatar/{}", "x".repeat(128)), "width": 48, "height": 48, "isDefault": false},
        "_links": {"self": format!("https://site.atlassian.net/wiki/rest/api/user?accountId={}", "a".repeat(128))},
    });
    let page =
        json!({"results": vec![user; 250], "_links": {"base": "https://site.atlassian.net/wiki"}});
    let largest = serde_json::to_vec(&page).unwrap().len();
    assert!(
        largest * 4 <= MAX_RESPONSE_BYTES,
        "{largest} bytes × 4 > {MAX_RESPONSE_BYTES}"
    );
    // One instance: every upstream call in flight at once, plus the request body, must stay
    // well inside the SpinKube manifests' 256Mi limit (half of it, for the runtime's own use).
    let worst = MAX_RESPONSE_BYTES * 32 + MAX_BODY_BYTES;
    assert!(worst <= 128 * 1024 * 1024, "{worst}");
}

#[test]
fn unknown_path_is_404() {
    let (r, log) = Harness::new().send("GET", "/users/m1@corp.example", &[], b"");
    assert_error(&r, 404, "not_found");
    assert_eq!(log.route, "unknown");
}

#[test]
fn other_methods_are_405_with_allow() {
    let h = Harness::new();
    for method in ["GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS"] {
        let (r, _) = h.send(method, "/", &[("x-api-key", KEY.as_bytes())], b"");
        assert_error(&r, 405, "method_not_allowed");
        assert_eq!(r.header("allow"), Some("POST"));
    }
    let (r, _) = h.send("POST", "/health", &[], b"");
    assert_eq!(r.header("allow"), Some("GET"));
}

#[test]
fn query_string_does_not_change_the_route() {
    let (r, _) = Harness::new().send(
        "POST",
        "/?x=1",
        &[("x-api-key", KEY.as_bytes())],
        br#"{"accountIds": []}"#,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn a_compressed_body_is_415_naming_the_accepted_coding() {
    let h = Harness::new();
    for coding in [&b"gzip"[..], b"br", b"deflate", b"identity, gzip"] {
        let (r, log) = h.send(
            "POST",
            "/",
            &[
                ("x-api-key", KEY.as_bytes()),
                ("content-type", b"application/json"),
                ("Content-Encoding", coding),
            ],
            // A gzip member header: never decoded, never parsed.
            b"\x1f\x8b\x08\x00\x00\x00\x00\x00",
        );
        assert_error(&r, 415, "unsupported_content_encoding");
        assert_eq!(r.header("accept-encoding"), Some("identity"));
        assert_eq!(log.error, Some("unsupported_content_encoding"));
    }
    assert_eq!(h.upstream_calls(), 0);
    let (r, _) = h.send(
        "POST",
        "/",
        &[
            ("x-api-key", KEY.as_bytes()),
            ("content-encoding", b"identity"),
        ],
        br#"{"accountIds": ["m1"]}"#,
    );
    assert_eq!(r.status, 200);
    // The key is checked first: no key, no word about the coding.
    let (r, _) = h.send("POST", "/", &[("content-encoding", b"gzip")], b"");
    assert_error(&r, 401, "unauthorized");
}

#[test]
fn wrong_content_type_is_415() {
    let h = Harness::new();
    for ct in [
        &b"text/plain"[..],
        b"application/x-www-form-urlencoded",
        b"multipart/form-data",
    ] {
        let (r, _) = h.send(
            "POST",
            "/",
            &[("x-api-key", KEY.as_bytes()), ("content-type", ct)],
            br#"{"accountIds": []}"#,
        );
        assert_error(&r, 415, "unsupported_media_type");
    }
    let (r, _) = h.send(
        "POST",
        "/",
        &[
            ("x-api-key", KEY.as_bytes()),
            ("Content-Type", b"application/json; charset=utf-8"),
        ],
        br#"{"accountIds": []}"#,
    );
    assert_eq!(r.status, 200);
}

#[test]
fn oversized_body_is_413_by_length_and_by_reading() {
    let h = Harness::new();
    let (by_header, log) = h.send(
        "POST",
        "/",
        &[
            ("x-api-key", KEY.as_bytes()),
            ("content-length", b"1048577"),
        ],
        b"{}",
    );
    assert_error(&by_header, 413, "payload_too_large");
    assert_eq!(log.ids_requested, 0);
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let (by_reading, _) = h.send("POST", "/", &[("x-api-key", KEY.as_bytes())], &big);
    assert_error(&by_reading, 413, "payload_too_large");
    let mut exact = br#"{"accountIds": []}"#.to_vec();
    exact.resize(MAX_BODY_BYTES, b' ');
    let (at_limit, _) = h.send("POST", "/", &[("x-api-key", KEY.as_bytes())], &exact);
    assert_eq!(at_limit.status, 200);
}

#[test]
fn invalid_json_and_ids_are_400() {
    let h = Harness::new();
    assert_error(&h.post("{").0, 400, "invalid_json");
    let (r, _) = h.post(r#"{"accountIds": "m1"}"#);
    assert_error(&r, 400, "invalid_json");
    assert_eq!(
        body(&r)["message"],
        "accountIds must be an array of strings."
    );
    let (r, _) = h.post(r#"{"accountIds": ["m1", " "]}"#);
    assert_error(&r, 400, "invalid_account_id");
    assert!(body(&r)["message"]
        .as_str()
        .unwrap()
        .contains("accountIds[1]"));
    assert_eq!(h.upstream_calls(), 0);
}

#[test]
fn too_many_distinct_ids_is_400() {
    let mut c = config();
    c.push(("max_account_ids", "2"));
    let h = Harness::with(c, upstream);
    assert_eq!(
        h.post(r#"{"accountIds": ["a", "b", "a", "b"]}"#).0.status,
        200
    );
    assert_error(
        &h.post(r#"{"accountIds": ["a", "b", "c"]}"#).0,
        400,
        "too_many_account_ids",
    );
    assert_eq!(
        h.upstream_calls(),
        2,
        "only the accepted request went upstream"
    );
}

#[test]
fn upstream_auth_refusal_is_502_auth_failed() {
    let h = Harness::with(admin_first(), |_| json(401, json!({"message": "nope"})));
    let (r, _) = h.post(r#"{"accountIds": ["m1"]}"#);
    assert_error(&r, 502, "upstream_auth_failed");
    assert!(body(&r)["message"]
        .as_str()
        .unwrap()
        .contains("atlassian_admin_api_key"));
}

#[test]
fn persistent_server_errors_are_502_and_never_a_partial_200() {
    // Admin works; Confluence keeps failing: no 200 with only the admin ids.
    let h = Harness::with(admin_first(), |req| {
        if req.url.contains("/admin/") {
            upstream(req)
        } else {
            json(500, json!({}))
        }
    });
    let (r, log) = h.post(r#"{"accountIds": ["m1", "v1"]}"#);
    assert_error(&r, 502, "upstream_error");
    assert_eq!(log.upstream_calls, 4);
    assert_eq!(log.retries, 2);
    assert!(!String::from_utf8_lossy(&r.body).contains("m1@corp.example"));
}

#[test]
fn rate_limit_past_deadline_is_503_with_retry_after() {
    let h = Harness::with(config(), |_| {
        with_header(json(429, json!({})), "Retry-After", "60")
    });
    let (r, _) = h.post(r#"{"accountIds": ["m1"]}"#);
    assert_error(&r, 503, "upstream_rate_limited");
    assert_eq!(r.header("retry-after"), Some("60"));
}

#[test]
fn rate_limit_then_success_is_200() {
    let n = std::cell::Cell::new(0);
    let h = Harness::with(config(), move |req| {
        n.set(n.get() + 1);
        if n.get() == 1 {
            with_header(json(429, json!({})), "Retry-After", "1")
        } else {
            upstream(req)
        }
    });
    let (r, log) = h.post(r#"{"accountIds": ["m1"]}"#);
    assert_eq!(r.status, 200);
    assert_eq!(log.retries, 1);
}

#[test]
fn the_log_names_the_rate_limit_reason_of_a_throttled_answer() {
    let n = std::cell::Cell::new(0);
    let h = Harness::with(config(), move |req| {
        n.set(n.get() + 1);
        match n.get() {
            1 => with_header(
                with_header(json(429, json!({})), "Retry-After", "1"),
                "RateLimit-Reason",
                "confluence-quota-tenant-based",
            ),
            _ => with_header(upstream(req), "X-RateLimit-NearLimit", "true"),
        }
    });
    let (r, log) = h.post(r#"{"accountIds": ["v1"]}"#);
    assert_eq!(r.status, 200);
    assert_eq!(
        log.rate_limit_reason.as_deref(),
        Some("confluence-quota-tenant-based")
    );
    assert!(log.near_limit);
    let line: Value = serde_json::from_str(&log.to_line()).unwrap();
    assert_eq!(line["rateLimitReason"], "confluence-quota-tenant-based");
    // A request Atlassian did not throttle logs neither field.
    let (_, quiet) = Harness::new().post(r#"{"accountIds": ["v1"]}"#);
    let line: Value = serde_json::from_str(&quiet.to_line()).unwrap();
    assert!(line.get("rateLimitReason").is_none() && line.get("nearLimit").is_none());
}

#[test]
fn hang_past_deadline_is_504_inside_the_deadline() {
    let mut c = config();
    c.push(("request_timeout_ms", "2000"));
    let h = Harness::with(c, |_| Reply::Hang);
    let start = h.runtime.now.get();
    let (r, _) = h.post(r#"{"accountIds": ["m1"]}"#);
    assert_error(&r, 504, "upstream_timeout");
    assert!(h.runtime.now.get() - start <= Duration::from_millis(2000));
}

#[test]
fn every_response_has_a_request_id_and_no_store() {
    let h = Harness::new();
    let (own, _) = h.send("GET", "/health", &[("x-request-id", b"abc-123")], b"");
    assert_eq!(own.header("x-request-id"), Some("abc-123"));
    let (unsafe_id, _) = h.send("GET", "/health", &[("x-request-id", b"<script>")], b"");
    let generated = unsafe_id.header("x-request-id").unwrap();
    assert_eq!(generated.len(), 32);
    assert!(generated.bytes().all(|b| b.is_ascii_hexdigit()));
    let (long, _) = h.send(
        "GET",
        "/health",
        &[("x-request-id", "a".repeat(65).as_bytes())],
        b"",
    );
    assert_ne!(long.header("x-request-id").unwrap().len(), 65);
    let (err, _) = h.send("GET", "/nope", &[], b"");
    assert!(err.header("x-request-id").is_some());
    assert_eq!(err.header("cache-control"), Some("no-store"));
}

#[test]
fn log_line_holds_no_secret_email_or_id() {
    let h = Harness::new();
    let wrong_key: &[u8] = b"wrong-key-that-is-long-enough-000";
    let lines = [
        h.post(r#"{"accountIds": ["m1", "v1", "h1"]}"#).1.to_line(),
        h.send("POST", "/", &[("x-api-key", wrong_key)], b"{}")
            .1
            .to_line(),
        h.send("user@evil.example", "/m1", &[], b"").1.to_line(),
    ];
    for line in &lines {
        for secret in [
            KEY,
            "admin-secret-value",
            "site-token-value",
            "wrong-key-that",
            "@",
            "m1",
            "v1",
            "h1",
        ] {
            assert!(!line.contains(secret), "{secret} in {line}");
        }
    }
    let v: Value = serde_json::from_str(&lines[0]).unwrap();
    assert_eq!(v["status"], 200);
    assert_eq!(v["route"], "/");
    assert_eq!(v["method"], "POST");
}

#[test]
fn error_bodies_hold_no_secret_or_email() {
    let h = Harness::with(config(), |_| {
        Reply::Respond(crate::platform::OutboundResponse {
            status: 400,
            headers: vec![],
            body: b"<html>m1@corp.example admin-secret-value</html>".to_vec(),
        })
    });
    let (r, _) = h.post(r#"{"accountIds": ["m1"]}"#);
    assert_error(&r, 502, "upstream_error");
    let text = String::from_utf8_lossy(&r.body);
    assert!(
        !text.contains('@') && !text.contains("admin-secret") && !text.contains("m1"),
        "{text}"
    );
}

#[test]
fn unused_map_helper_compiles() {
    // MapVars is shared with config tests; keep the import honest.
    let _ = MapVars(HashMap::new());
}

#[test]
fn a_body_buffer_starts_at_the_declared_size_and_never_grows_past_the_limit() {
    // A declared size is reserved once, capped at the limit.
    let declared = BodyBuffer::new(1000, Some(600));
    assert_eq!(declared.bytes.capacity(), 600);
    assert_eq!(BodyBuffer::new(1000, Some(5000)).bytes.capacity(), 1000);
    assert_eq!(BodyBuffer::new(1000, Some(u64::MAX)).bytes.capacity(), 1000);
    let mut exact = BodyBuffer::new(1000, Some(600));
    for _ in 0..6 {
        exact.push(&[b'x'; 100]).unwrap();
    }
    assert_eq!(
        exact.bytes.capacity(),
        600,
        "no growth when the size was declared"
    );
    // Undeclared: doubles as chunks arrive, but stops at the limit, not at twice the chunk sum.
    let mut grown = BodyBuffer::new(1000, None);
    for _ in 0..3 {
        grown.push(&[b'x'; 300]).unwrap();
    }
    assert_eq!(grown.bytes.capacity(), 1000);
    grown.push(&[b'x'; 100]).unwrap();
    assert_eq!(grown.bytes.len(), 1000);
    // One byte more is refused, keeping what was read.
    assert_eq!(grown.push(b"x"), Err(BodyError::TooLarge));
    assert_eq!(grown.into_bytes().len(), 1000);
    let mut small = BodyBuffer::new(1000, None);
    assert_eq!(small.push(&[0; 1001]), Err(BodyError::TooLarge));
    assert_eq!(small.bytes.capacity(), 0);
}
