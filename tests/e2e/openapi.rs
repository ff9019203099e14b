//! `openapi.yaml` against the running component: every documented status of `POST /` and
//! `GET /health` is driven through the compiled `.wasm` (fake-atlassian faults for the 5xx
//! rows), and each answer's status, headers and body are checked against the document. The
//! document describes only what the API accepts: every other method on a listed path is driven
//! too, and must answer the `405` of `#/components/responses/MethodNotAllowed` with `Allow`
//! naming exactly the path's operations.
//!
//! The schemas are checked by the small validator below rather than a JSON Schema crate: the
//! document uses a handful of keywords, and the validator refuses any keyword it does not know,
//! so the spec cannot grow a rule that silently goes unchecked. An undocumented status, a
//! missing required header or a body that drifts from its schema fails the test.

use std::collections::{BTreeSet, HashSet};
use std::path::Path;

use anyhow::{anyhow, bail, ensure, Context, Result};
use fake_atlassian::{Endpoint, Fault, RetryAfter};
use identity_accessor::error::ApiError;
use identity_accessor::upstream::SourceKind;
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

/// The OpenAPI document, as JSON.
pub struct Spec {
    doc: Value,
}

/// The operation keys of an OpenAPI path item.
const HTTP_METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "options", "head", "patch", "trace",
];

/// Keywords that only annotate; anything else a schema holds must be checked below.
const ANNOTATIONS: &[&str] = &[
    "description",
    "title",
    "default",
    "examples",
    "example",
    "format",
    "deprecated",
    "readOnly",
    "writeOnly",
    "$comment",
];

impl Spec {
    /// Loads `openapi.yaml` from the repository root.
    pub fn load() -> Result<Spec> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("openapi.yaml");
        let text = std::fs::read_to_string(&path).context("read openapi.yaml")?;
        let doc: Value = serde_yaml::from_str(&text).context("parse openapi.yaml")?;
        ensure!(
            doc["openapi"]
                .as_str()
                .is_some_and(|v| v.starts_with("3.1")),
            "openapi.yaml is OpenAPI 3.1"
        );
        Ok(Spec { doc })
    }

    /// Follows `$ref` (local only) until a node without one.
    fn deref<'a>(&'a self, mut node: &'a Value) -> Result<&'a Value> {
        for _ in 0..16 {
            let Some(target) = node.get("$ref").and_then(Value::as_str) else {
                return Ok(node);
            };
            node = self.pointer(target)?;
        }
        bail!("$ref chain too long")
    }

    fn pointer(&self, reference: &str) -> Result<&Value> {
        let pointer = reference
            .strip_prefix('#')
            .ok_or_else(|| anyhow!("non-local $ref {reference}"))?;
        self.doc
            .pointer(pointer)
            .ok_or_else(|| anyhow!("unresolved $ref {reference}"))
    }

    /// The documented response of `method path` for `status`, or an error if undocumented.
    pub fn response(&self, path: &str, method: &str, status: u16) -> Result<&Value> {
        let op = self.doc["paths"][path]
            .get(method.to_ascii_lowercase())
            .ok_or_else(|| anyhow!("{method} {path} is not documented"))?;
        let response = op["responses"]
            .get(status.to_string())
            .ok_or_else(|| anyhow!("{method} {path} answered undocumented status {status}"))?;
        self.deref(response)
    }

    /// The methods `path` lists as operations, uppercase and sorted (what `Allow` must name).
    pub fn operations(&self, path: &str) -> Vec<String> {
        let mut methods: Vec<String> = self.doc["paths"][path]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(key, _)| HTTP_METHODS.contains(&key.as_str()))
            .map(|(key, _)| key.to_ascii_uppercase())
            .collect();
        methods.sort();
        methods
    }

    /// The documented statuses of `method path`.
    pub fn statuses(&self, path: &str, method: &str) -> Vec<u16> {
        self.doc["paths"][path][method.to_ascii_lowercase()]["responses"]
            .as_object()
            .map(|r| r.keys().filter_map(|k| k.parse().ok()).collect())
            .unwrap_or_default()
    }

    /// The `error` codes a response's JSON schema allows (empty when it is not an error).
    pub fn error_codes(&self, response: &Value) -> Result<BTreeSet<String>> {
        let mut codes = BTreeSet::new();
        if let Some(schema) = response.pointer("/content/application~1json/schema") {
            self.collect_codes(schema, &mut codes)?;
        }
        Ok(codes)
    }

    fn collect_codes(&self, schema: &Value, codes: &mut BTreeSet<String>) -> Result<()> {
        let schema = self.deref(schema)?;
        if let Some(values) = schema.pointer("/properties/error/enum") {
            for v in values.as_array().into_iter().flatten() {
                codes.insert(v.as_str().unwrap_or_default().to_string());
            }
        }
        for part in schema["allOf"].as_array().into_iter().flatten() {
            self.collect_codes(part, codes)?;
        }
        Ok(())
    }

    /// Checks one answer against the documented response; returns the body as JSON.
    pub fn check(
        &self,
        response: &Value,
        what: &str,
        headers: &HeaderMap,
        body: &[u8],
    ) -> Result<Value> {
        let declared = response["headers"].as_object().cloned().unwrap_or_default();
        for (name, header) in &declared {
            let header = self.deref(header)?;
            match headers.get(name.as_str()) {
                None if header["required"] == true => {
                    bail!("{what}: required header {name} is missing")
                }
                None => {}
                Some(value) => {
                    let value = Value::String(value.to_str()?.to_string());
                    self.validate_at(&header["schema"], &value, &format!("{what}: header {name}"))?
                }
            }
        }
        let Some(content) = response["content"].as_object() else {
            ensure!(body.is_empty(), "{what}: a body where none is documented");
            return Ok(Value::Null);
        };
        let content_type = headers
            .get("content-type")
            .ok_or_else(|| anyhow!("{what}: no Content-Type"))?
            .to_str()?;
        let essence = content_type.split(';').next().unwrap_or("").trim();
        let media = content
            .get(essence)
            .ok_or_else(|| anyhow!("{what}: undocumented Content-Type {content_type}"))?;
        if essence != "application/json" {
            return Ok(Value::Null);
        }
        let json: Value = serde_json::from_slice(body)
            .with_context(|| format!("{what}: not JSON: {}", String::from_utf8_lossy(body)))?;
        self.validate_at(&media["schema"], &json, &format!("{what}: body"))?;
        Ok(json)
    }

    fn validate_at(&self, schema: &Value, value: &Value, what: &str) -> Result<()> {
        let mut errors = Vec::new();
        self.validate(schema, value, "$", &mut errors)?;
        ensure!(
            errors.is_empty(),
            "{what} breaks the schema: {errors:?} in {value}"
        );
        Ok(())
    }

    /// Validates `value` against `schema`, pushing one message per broken rule. Fails (rather
    /// than passing) on a keyword it does not implement.
    pub fn validate(
        &self,
        schema: &Value,
        value: &Value,
        at: &str,
        errors: &mut Vec<String>,
    ) -> Result<()> {
        let Some(schema) = schema.as_object() else {
            match schema {
                Value::Bool(true) => return Ok(()),
                Value::Bool(false) => {
                    errors.push(format!("{at}: no value allowed"));
                    return Ok(());
                }
                _ => bail!("{at}: a schema must be an object or a boolean"),
            }
        };
        for (keyword, rule) in schema {
            match keyword.as_str() {
                "$ref" => {
                    let target = self.pointer(rule.as_str().unwrap_or_default())?;
                    self.validate(target, value, at, errors)?;
                }
                "type" => {
                    let types: Vec<&str> = match rule {
                        Value::String(t) => vec![t.as_str()],
                        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
                        _ => bail!("{at}: bad type keyword"),
                    };
                    if !types.iter().any(|t| has_type(value, t)) {
                        errors.push(format!("{at}: {value} is not of type {types:?}"));
                    }
                }
                "enum" => {
                    let allowed = rule.as_array().ok_or_else(|| anyhow!("bad enum"))?;
                    if !allowed.contains(value) {
                        errors.push(format!("{at}: {value} is not one of {rule}"));
                    }
                }
                "const" => {
                    if rule != value {
                        errors.push(format!("{at}: {value} is not {rule}"));
                    }
                }
                "required" => {
                    if let Some(object) = value.as_object() {
                        for name in rule.as_array().into_iter().flatten() {
                            let name = name.as_str().unwrap_or_default();
                            if !object.contains_key(name) {
                                errors.push(format!("{at}: missing {name}"));
                            }
                        }
                    }
                }
                "properties" => {
                    if let (Some(object), Some(props)) = (value.as_object(), rule.as_object()) {
                        for (name, sub) in props {
                            if let Some(v) = object.get(name) {
                                self.validate(sub, v, &format!("{at}.{name}"), errors)?;
                            }
                        }
                    }
                }
                "additionalProperties" => {
                    if let Some(object) = value.as_object() {
                        let known = schema.get("properties").and_then(Value::as_object);
                        for (name, v) in object {
                            if known.is_some_and(|k| k.contains_key(name)) {
                                continue;
                            }
                            self.validate(rule, v, &format!("{at}.{name}"), errors)?;
                        }
                    }
                }
                "items" => {
                    for (i, item) in value.as_array().into_iter().flatten().enumerate() {
                        self.validate(rule, item, &format!("{at}[{i}]"), errors)?;
                    }
                }
                "minItems" | "maxItems" => {
                    if let Some(items) = value.as_array() {
                        let n = rule.as_u64().ok_or_else(|| anyhow!("bad {keyword}"))? as usize;
                        let ok = if keyword == "minItems" {
                            items.len() >= n
                        } else {
                            items.len() <= n
                        };
                        if !ok {
                            errors
                                .push(format!("{at}: {} items breaks {keyword} {n}", items.len()));
                        }
                    }
                }
                "minLength" | "maxLength" => {
                    if let Some(s) = value.as_str() {
                        let n = rule.as_u64().ok_or_else(|| anyhow!("bad {keyword}"))? as usize;
                        let len = s.chars().count();
                        let ok = if keyword == "minLength" {
                            len >= n
                        } else {
                            len <= n
                        };
                        if !ok {
                            errors.push(format!("{at}: length {len} breaks {keyword} {n}"));
                        }
                    }
                }
                "pattern" => {
                    if let Some(s) = value.as_str() {
                        let pattern = rule.as_str().ok_or_else(|| anyhow!("bad pattern"))?;
                        let re = regex_lite::Regex::new(pattern)
                            .with_context(|| format!("pattern {pattern}"))?;
                        if !re.is_match(s) {
                            errors.push(format!("{at}: {s:?} does not match {pattern}"));
                        }
                    }
                }
                "minimum" | "maximum" => {
                    if let (Some(v), Some(n)) = (value.as_f64(), rule.as_f64()) {
                        let ok = if keyword == "minimum" { v >= n } else { v <= n };
                        if !ok {
                            errors.push(format!("{at}: {v} breaks {keyword} {n}"));
                        }
                    }
                }
                "allOf" => {
                    for part in rule.as_array().into_iter().flatten() {
                        self.validate(part, value, at, errors)?;
                    }
                }
                "anyOf" | "oneOf" => {
                    let mut passing = 0;
                    for part in rule.as_array().into_iter().flatten() {
                        let mut sub = Vec::new();
                        self.validate(part, value, at, &mut sub)?;
                        passing += usize::from(sub.is_empty());
                    }
                    let ok = if keyword == "anyOf" {
                        passing >= 1
                    } else {
                        passing == 1
                    };
                    if !ok {
                        errors.push(format!("{at}: {passing} branches of {keyword} match"));
                    }
                }
                k if ANNOTATIONS.contains(&k) => {}
                k => bail!("{at}: the validator does not implement keyword {k:?}"),
            }
        }
        Ok(())
    }
}

fn has_type(value: &Value, t: &str) -> bool {
    match t {
        "null" => value.is_null(),
        "boolean" => value.is_boolean(),
        "object" => value.is_object(),
        "array" => value.is_array(),
        "string" => value.is_string(),
        "number" => value.is_number(),
        "integer" => value.is_i64() || value.is_u64(),
        _ => false,
    }
}

/// Every answer seen, for the coverage check at the end.
#[derive(Default)]
struct Seen {
    statuses: HashSet<(String, String, u16)>,
    codes: HashSet<(String, String, u16, String)>,
    requests: usize,
}

/// Sends `request`, checks the answer against the spec for `method path`, records it.
async fn drive(
    spec: &Spec,
    seen: &mut Seen,
    method: &str,
    path: &str,
    request: reqwest::RequestBuilder,
) -> Result<(u16, HeaderMap, Value)> {
    let r = request.send().await?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let body = r.bytes().await?;
    let what = format!("{method} {path} -> {status}");
    let operations = spec.operations(path);
    let documented = if operations.contains(&method.to_string()) {
        spec.response(path, method, status)?
    } else if !operations.is_empty() {
        // A listed path, a method it does not describe: the 405, naming exactly its operations.
        ensure!(status == 405, "{what}: an undescribed method must be 405");
        let allow = headers.get("allow").map(|v| v.to_str()).transpose()?;
        ensure!(
            allow == Some(operations.join(", ").as_str()),
            "{what}: Allow {allow:?} is not the path's operations {operations:?}"
        );
        spec.deref(&spec.doc["components"]["responses"]["MethodNotAllowed"])?
    } else {
        ensure!(status == 404, "{what}: an unlisted path must be 404");
        spec.deref(&spec.doc["components"]["responses"]["NotFound"])?
    };
    let json = spec.check(documented, &what, &headers, &body)?;
    let codes = spec.error_codes(documented)?;
    if let Some(code) = json.get("error").and_then(Value::as_str) {
        ensure!(
            codes.contains(code),
            "{what}: error {code} is not in {codes:?}"
        );
        seen.codes
            .insert((method.into(), path.into(), status, code.to_string()));
    }
    seen.statuses.insert((method.into(), path.into(), status));
    seen.requests += 1;
    Ok((status, headers, json))
}

fn code(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

#[test]
fn the_spec_names_every_error_the_component_can_answer() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let spec = Spec::load()?;
    // Every error variant of the core is documented on POST / with its exact code, except the
    // routing ones, which are documented on their own responses.
    let errors = [
        ApiError::InvalidJson("x"),
        ApiError::InvalidAccountId {
            index: 0,
            reason: "x",
        },
        ApiError::TooManyAccountIds { max: 1 },
        ApiError::Unauthorized,
        ApiError::RequestTimeout,
        ApiError::PayloadTooLarge { limit: 1 },
        ApiError::UnsupportedMediaType,
        ApiError::UnsupportedContentEncoding,
        ApiError::UpstreamError {
            origin: SourceKind::Admin,
            detail: "x",
        },
        ApiError::UpstreamAuthFailed {
            origin: SourceKind::Admin,
        },
        ApiError::UpstreamRateLimited {
            retry_after_secs: 1,
        },
        ApiError::NotConfigured {
            variables: vec![],
            key_reason: None,
        },
        ApiError::UpstreamTimeout,
    ];
    for e in &errors {
        let response = spec.response("/", "post", e.status())?;
        ensure!(
            spec.error_codes(response)?.contains(e.code()),
            "POST / {} does not list {}",
            e.status(),
            e.code()
        );
    }
    let not_found = spec.deref(&spec.doc["components"]["responses"]["NotFound"])?;
    ensure!(spec.error_codes(not_found)?.contains("not_found"));
    // Refused methods are not operations (tools and generated clients would read them as
    // accepted); the one 405 response lives in components, with its required Allow.
    let refused = spec.deref(&spec.doc["components"]["responses"]["MethodNotAllowed"])?;
    ensure!(spec.error_codes(refused)?.contains("method_not_allowed"));
    ensure!(spec.deref(&refused["headers"]["Allow"])?["required"] == true);
    for path in spec.doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(p, _)| p)
    {
        for method in spec.operations(path) {
            ensure!(
                !spec.statuses(path, &method).contains(&405),
                "{method} {path} is described as an operation answering 405"
            );
        }
    }
    ensure!(spec.operations("/") == ["POST"]);
    // Every response declares the headers every answer carries.
    for (path, item) in spec.doc["paths"].as_object().into_iter().flatten() {
        for (method, op) in item.as_object().into_iter().flatten() {
            for (status, response) in op["responses"].as_object().into_iter().flatten() {
                let response = spec.deref(response)?;
                for name in ["X-Request-Id", "Cache-Control"] {
                    let h = spec.deref(&response["headers"][name])?;
                    ensure!(
                        h["required"] == true,
                        "{method} {path} {status} does not declare {name}"
                    );
                }
            }
        }
    }
    Ok(())
}

#[test]
fn the_validator_catches_drift() -> Result<()> {
    if crate::support::runtime_independent() {
        return Ok(());
    }
    let spec = Spec::load()?;
    let ok = spec.response("/", "post", 200)?;
    let schema = &ok["content"]["application/json"]["schema"];
    let mut errors = Vec::new();
    let good = json!([{"accountId": "a", "emailAddress": "a@example.com"},
                      {"accountId": "b", "emailAddress": null}]);
    spec.validate(schema, &good, "$", &mut errors)?;
    ensure!(errors.is_empty(), "{errors:?}");
    for bad in [
        json!([{"accountId": "a", "emailAddress": 5}]),
        json!([{"accountId": "a", "emailAddress": ""}]),
        json!([{"accountId": "a"}]),
        json!([{"accountId": "a", "emailAddress": null, "extra": 1}]),
        json!({"accountId": "a"}),
    ] {
        let mut errors = Vec::new();
        spec.validate(schema, &bad, "$", &mut errors)?;
        ensure!(!errors.is_empty(), "{bad} passed");
    }
    let e400 = spec.response("/", "post", 400)?;
    let schema = &e400["content"]["application/json"]["schema"];
    for bad in [
        json!({"error": "unauthorized", "message": "A sentence."}),
        json!({"error": "invalid_json", "message": "No full stop"}),
        json!({"error": "invalid_json"}),
        json!({"error": "invalid_json", "message": "x.", "detail": "y"}),
    ] {
        let mut errors = Vec::new();
        spec.validate(schema, &bad, "$", &mut errors)?;
        ensure!(!errors.is_empty(), "{bad} passed");
    }
    ensure!(
        spec.response("/", "post", 500).is_err(),
        "500 is undocumented"
    );
    ensure!(
        spec.response("/", "post", 404).is_err(),
        "404 is not on POST /"
    );
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_documented_status_of_lookup_and_health_matches_the_spec() -> Result<()> {
    let spec = Spec::load()?;
    let mut seen = Seen::default();

    // Caller rows, 200s, routing, and a 5xx from Atlassian failing on every attempt.
    let env = Env::start(Sources::Chain, &[("max_account_ids", "3")]).await?;
    let url = |path: &str| env.server.url() + path;
    let post = |body: &str| {
        env.client
            .post(url("/"))
            .header("x-api-key", KEY)
            .header("content-type", "application/json")
            .body(body.to_string())
    };
    let ids = env.ids();
    let three = json!({ "accountIds": &ids[..3] }).to_string();
    let (status, _, body) = drive(&spec, &mut seen, "POST", "/", post(&three)).await?;
    ensure!(status == 200 && body.as_array().is_some_and(|a| !a.is_empty()));
    let unresolved = json!({ "accountIds": ["no-such-id", &ids[0]], "includeUnresolved": true });
    let (status, _, body) =
        drive(&spec, &mut seen, "POST", "/", post(&unresolved.to_string())).await?;
    ensure!(status == 200 && body[0]["emailAddress"].is_null(), "{body}");
    let (status, _, body) = drive(
        &spec,
        &mut seen,
        "POST",
        "/",
        post(r#"{"accountIds": []}"#).header("x-request-id", "caller-id-1"),
    )
    .await?;
    ensure!(status == 200 && body == json!([]));

    for (body, expected) in [
        ("{not json", "invalid_json"),
        (r#"{"accountIds": [1]}"#, "invalid_json"),
        (r#"{"accountIds": ["a b"]}"#, "invalid_account_id"),
        (
            r#"{"accountIds": ["a", "b", "c", "d"]}"#,
            "too_many_account_ids",
        ),
    ] {
        let (status, _, json) = drive(&spec, &mut seen, "POST", "/", post(body)).await?;
        ensure!((status, code(&json)) == (400, expected), "{body}: {json}");
    }
    for request in [
        env.client.post(url("/")).body(three.clone()),
        env.client
            .post(url("/"))
            .header("x-api-key", "wrong-key-wrong-key-wrong-key-wrong-key")
            .body(three.clone()),
    ] {
        let (status, headers, _) = drive(&spec, &mut seen, "POST", "/", request).await?;
        ensure!(status == 401 && headers.contains_key("www-authenticate"));
    }
    let mut big = br#"{"accountIds": []}"#.to_vec();
    big.resize(1024 * 1024 + 1, b' ');
    let (status, _, _) = drive(
        &spec,
        &mut seen,
        "POST",
        "/",
        env.client.post(url("/")).header("x-api-key", KEY).body(big),
    )
    .await?;
    ensure!(status == 413);
    let (status, _, _) = drive(
        &spec,
        &mut seen,
        "POST",
        "/",
        env.client
            .post(url("/"))
            .header("x-api-key", KEY)
            .header("content-type", "text/plain")
            .body(three.clone()),
    )
    .await?;
    ensure!(status == 415);
    let (status, headers, json) = drive(
        &spec,
        &mut seen,
        "POST",
        "/",
        post(&three).header("content-encoding", "gzip"),
    )
    .await?;
    ensure!((status, code(&json)) == (415, "unsupported_content_encoding"));
    ensure!(headers["accept-encoding"] == "identity");
    let (status, _, _) = drive(
        &spec,
        &mut seen,
        "POST",
        "/",
        post(&three).header("content-encoding", "identity"),
    )
    .await?;
    ensure!(status == 200, "identity is the body as sent");

    // Every method a listed path does not describe: 405 naming the path's operations.
    let paths: Vec<String> = spec.doc["paths"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(p, _)| p.clone())
        .collect();
    let mut refused = 0;
    for path in &paths {
        for method in [
            Method::GET,
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::OPTIONS,
            Method::TRACE,
        ] {
            let m = method.to_string();
            if spec.operations(path).contains(&m) {
                continue;
            }
            let (status, _, _) = drive(
                &spec,
                &mut seen,
                &m,
                path,
                env.client.request(method, url(path)),
            )
            .await?;
            ensure!(status == 405, "{m} {path}");
            refused += 1;
        }
    }
    ensure!(
        refused == paths.len() * 6,
        "{refused} refused methods driven"
    );
    let (status, _, _) = drive(
        &spec,
        &mut seen,
        "GET",
        "/nope",
        env.client.get(url("/nope")),
    )
    .await?;
    ensure!(status == 404);
    let (status, _, _) = drive(
        &spec,
        &mut seen,
        "GET",
        "/health",
        env.client.get(url("/health")),
    )
    .await?;
    ensure!(status == 200);
    // The admin routes: the page's files, and the status with and without the key.
    for path in [
        "/admin",
        "/admin/app.js",
        "/admin/app.css",
        "/admin/favicon.svg",
    ] {
        let (status, _, _) =
            drive(&spec, &mut seen, "GET", path, env.client.get(url(path))).await?;
        ensure!(status == 200, "{path}");
    }
    let status_url = url("/admin/status");
    let (status, _, body) = drive(
        &spec,
        &mut seen,
        "GET",
        "/admin/status",
        env.client.get(&status_url).header("x-api-key", KEY),
    )
    .await?;
    ensure!(status == 200 && body.is_object(), "{body}");
    let (status, _, _) = drive(
        &spec,
        &mut seen,
        "GET",
        "/admin/status",
        env.client.get(&status_url),
    )
    .await?;
    ensure!(status == 401);

    env.fake.inject(
        Endpoint::AdminSearch,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        3,
    );
    let (status, _, json) = drive(&spec, &mut seen, "POST", "/", post(&three)).await?;
    ensure!((status, code(&json)) == (502, "upstream_error"), "{json}");
    env.finish().await?;

    // Deadline, rate limit and refused credentials.
    let env = Env::start(Sources::Admin, &[("request_timeout_ms", "1500")]).await?;
    let post = || env.keyed_post().json(&json!({ "accountIds": env.ids() }));
    env.fake.inject(Endpoint::AdminSearch, Fault::Hang, 1);
    let (status, _, json) = drive(&spec, &mut seen, "POST", "/", post()).await?;
    ensure!((status, code(&json)) == (504, "upstream_timeout"), "{json}");
    env.fake.clear_faults();
    env.fake.inject(
        Endpoint::AdminSearch,
        Fault::RateLimited {
            retry_after: Some(RetryAfter::Seconds(120)),
        },
        1,
    );
    let (status, headers, json) = drive(&spec, &mut seen, "POST", "/", post()).await?;
    ensure!(
        (status, code(&json)) == (503, "upstream_rate_limited"),
        "{json}"
    );
    ensure!(
        headers.contains_key("retry-after"),
        "upstream_rate_limited carries Retry-After"
    );
    env.finish().await?;
    // A fresh fake: the 503 above answered at once while the lookup's other admin calls could
    // still be on their way, and one arriving late would take the fault meant for this one.
    let env = Env::start(Sources::Admin, &[("request_timeout_ms", "1500")]).await?;
    let post = || env.keyed_post().json(&json!({ "accountIds": env.ids() }));
    env.fake.inject(
        Endpoint::AdminSearch,
        Fault::Status {
            status: 401,
            retry_after: None,
        },
        1,
    );
    let (status, _, json) = drive(&spec, &mut seen, "POST", "/", post()).await?;
    ensure!(
        (status, code(&json)) == (502, "upstream_auth_failed"),
        "{json}"
    );
    env.finish().await?;

    // Not configured: POST / says so; readiness reads no secret, so it cannot tell (200), and
    // /admin/status says so once it has read api_key alone.
    let env = Env::start(Sources::Admin, &[("api_key", "too-short")]).await?;
    let (status, headers, json) = drive(
        &spec,
        &mut seen,
        "POST",
        "/",
        env.keyed_post().body(r#"{"accountIds": []}"#),
    )
    .await?;
    ensure!((status, code(&json)) == (503, "not_configured"), "{json}");
    ensure!(!headers.contains_key("retry-after"));
    let (status, _, json) = drive(
        &spec,
        &mut seen,
        "GET",
        "/health/ready",
        env.client.get(env.server.url() + "/health/ready"),
    )
    .await?;
    ensure!(
        status == 200 && json == json!({"status": "ready"}),
        "{json}"
    );
    let (status, _, json) = drive(
        &spec,
        &mut seen,
        "GET",
        "/admin/status",
        env.client
            .get(env.server.url() + "/admin/status")
            .header("x-api-key", KEY),
    )
    .await?;
    ensure!((status, code(&json)) == (503, "not_configured"), "{json}");
    env.finish().await?;
    // A body that never finishes arriving: 408 at the request deadline (counted from arrival).
    let env = Env::start(Sources::Admin, &[("request_timeout_ms", "500")]).await?;
    let stalled = futures::StreamExt::chain(
        futures::stream::iter([Ok::<_, std::io::Error>(b"{\"accountIds\": [".to_vec())]),
        futures::stream::pending(),
    );
    let (status, _, json) = drive(
        &spec,
        &mut seen,
        "POST",
        "/",
        env.keyed_post().body(reqwest::Body::wrap_stream(stalled)),
    )
    .await?;
    ensure!((status, code(&json)) == (408, "request_timeout"), "{json}");
    env.finish().await?;

    // A non-secret setting invalid: readiness names it.
    let env = Env::start(Sources::Admin, &[("max_account_ids", "0")]).await?;
    let (status, _, json) = drive(
        &spec,
        &mut seen,
        "GET",
        "/health/ready",
        env.client.get(env.server.url() + "/health/ready"),
    )
    .await?;
    ensure!(
        status == 503 && json["invalid"] == json!(["max_account_ids"]),
        "{json}"
    );
    env.finish().await?;

    // Coverage: every documented status of POST /, GET /health and GET /health/ready, and every
    // error code each status documents, was answered at least once.
    for (method, path) in [("POST", "/"), ("GET", "/health"), ("GET", "/health/ready")] {
        for status in spec.statuses(path, method) {
            ensure!(
                seen.statuses
                    .contains(&(method.to_string(), path.to_string(), status)),
                "{method} {path} {status} was never exercised"
            );
            for code in spec.error_codes(spec.response(path, method, status)?)? {
                ensure!(
                    seen.codes.contains(&(
                        method.to_string(),
                        path.to_string(),
                        status,
                        code.clone()
                    )),
                    "{method} {path} {status} {code} was never exercised"
                );
            }
        }
    }
    eprintln!(
        "openapi: {} requests checked against openapi.yaml",
        seen.requests
    );
    Ok(())
}
