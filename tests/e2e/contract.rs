//! Every row of the connector-facing contract, through the compiled component.

use anyhow::Result;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

fn error_code(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolves_the_demo_directory_in_request_order() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    let mut ids = env.ids();
    ids.reverse();
    ids.insert(3, "557058:00000000-dead-beef-0000-000000000000".into()); // unknown
    ids.push(ids[0].clone()); // duplicate
    ids.push(ids[5].clone());
    let (status, headers, body) = env.lookup(json!({ "accountIds": ids })).await?;
    assert_eq!(status, 200);
    assert_eq!(headers["content-type"], "application/json");
    assert_eq!(
        body,
        expected_answer(&env.directory, &ids, Sources::Chain, false)
    );
    // Demo: 3 of every 4 users have a reachable email.
    assert_eq!(body.as_array().unwrap().len(), 24);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn include_unresolved_lists_every_distinct_id_with_null() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    let mut ids = env.ids();
    ids.push("unknown-account-id-0001".into());
    ids.push(ids[1].clone());
    let (status, _, body) = env
        .lookup(json!({ "accountIds": ids, "includeUnresolved": true }))
        .await?;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        expected_answer(&env.directory, &ids, Sources::Chain, true)
    );
    assert_eq!(body.as_array().unwrap().len(), 33);
    assert_eq!(
        body[32],
        json!({"accountId": "unknown-account-id-0001", "emailAddress": null})
    );
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn empty_list_answers_without_calling_atlassian() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    let (status, _, body) = env.lookup(json!({ "accountIds": [] })).await?;
    assert_eq!((status, body), (200, json!([])));
    assert!(env.fake.requests().is_empty());
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_needs_no_key_and_reports_configuration() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    let r = env.request(Method::GET, "/health").send().await?;
    assert_eq!(r.status(), 200);
    assert!(r.headers().contains_key("x-request-id"));
    assert_eq!(r.json::<Value>().await?, json!({"status": "ok"}));
    env.finish().await?;

    // A key but no source: not configured, names only.
    let fake = fake(fake_atlassian::Directory::demo()).await?;
    let server = serve(vec![("api_key".into(), KEY.into())]).await?;
    let r = reqwest::get(server.url() + "/health").await?;
    assert_eq!(r.status(), 200, "liveness reads nothing");
    let r = reqwest::get(server.url() + "/health/ready").await?;
    assert_eq!(r.status(), 503);
    let body: Value = r.json().await?;
    assert_eq!(body["status"], "not_configured");
    assert!(body["missing"]
        .as_array()
        .unwrap()
        .contains(&json!("atlassian_org_id")));
    assert!(!body.to_string().contains(KEY));
    server.shutdown().await;
    fake.shutdown().await;
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_rows_status_code_and_headers() -> Result<()> {
    let env = Env::start(Sources::Chain, &[("max_account_ids", "3")]).await?;
    let post = |body: &'static str| {
        env.request(Method::POST, "/")
            .header("x-api-key", KEY)
            .header("content-type", "application/json")
            .body(body)
    };

    // 400 invalid_json (not JSON, wrong shape), with a message that says what.
    for (body, message) in [
        ("{not json", "The request body is not valid JSON."),
        (
            r#"{"accountIds": "x"}"#,
            "accountIds must be an array of strings.",
        ),
        (
            r#"{"accountIds": [1, 2]}"#,
            "accountIds must be an array of strings.",
        ),
    ] {
        let r = post(body).send().await?;
        assert_eq!(r.status(), 400);
        let v: Value = r.json().await?;
        assert_eq!(
            (error_code(&v), v["message"].as_str().unwrap()),
            ("invalid_json", message)
        );
    }
    // 400 invalid_account_id, naming the index.
    let r = post(r#"{"accountIds": ["ok", "has space"]}"#)
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    let v: Value = r.json().await?;
    assert_eq!(error_code(&v), "invalid_account_id");
    assert!(v["message"].as_str().unwrap().contains("accountIds[1]"));
    // 400 too_many_account_ids (distinct ids counted).
    let r = post(r#"{"accountIds": ["a", "b", "c", "d"]}"#)
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    assert_eq!(error_code(&r.json().await?), "too_many_account_ids");
    // 404, 405 with Allow.
    let r = env.request(Method::GET, "/nope").send().await?;
    assert_eq!(r.status(), 404);
    assert_eq!(error_code(&r.json().await?), "not_found");
    for method in [Method::GET, Method::PUT, Method::DELETE] {
        let r = env
            .request(method, "/")
            .header("x-api-key", KEY)
            .send()
            .await?;
        assert_eq!(r.status(), 405);
        assert_eq!(r.headers()["allow"], "POST");
        assert_eq!(error_code(&r.json().await?), "method_not_allowed");
    }
    // 415.
    let r = env
        .request(Method::POST, "/")
        .header("x-api-key", KEY)
        .header("content-type", "text/plain")
        .body(r#"{"accountIds": []}"#)
        .send()
        .await?;
    assert_eq!(r.status(), 415);
    assert_eq!(error_code(&r.json().await?), "unsupported_media_type");
    // Content-Type with parameters is fine.
    let r = env
        .request(Method::POST, "/")
        .header("x-api-key", KEY)
        .header("content-type", "application/json; charset=utf-8")
        .body(r#"{"accountIds": []}"#)
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    assert!(
        env.fake.requests().is_empty(),
        "no error row reached Atlassian"
    );
    env.finish().await
}

/// `{"accountIds": ["5b10ac8d82e05b22cc7d4ef5"]}` as Python's `gzip.compress(body, mtime=0)`
/// sends it: what an HTTP client that compresses request bodies puts on the wire.
const GZIPPED_LOOKUP: [u8; 64] = [
    0x1f, 0x8b, 0x08, 0x00, 0x00, 0x00, 0x00, 0x00, 0x02, 0x03, 0xab, 0x56, 0x4a, 0x4c, 0x4e, 0xce,
    0x2f, 0xcd, 0x2b, 0xf1, 0x4c, 0x29, 0x56, 0xb2, 0x52, 0x88, 0x56, 0x32, 0x4d, 0x32, 0x34, 0x48,
    0x4c, 0xb6, 0x48, 0xb1, 0x30, 0x4a, 0x35, 0x30, 0x4d, 0x32, 0x32, 0x4a, 0x4e, 0x36, 0x4f, 0x31,
    0x49, 0x4d, 0x33, 0x55, 0x8a, 0xad, 0x05, 0x00, 0x53, 0xaa, 0xb1, 0xe8, 0x2c, 0x00, 0x00, 0x00,
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_body_is_415_naming_the_accepted_coding() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    for coding in ["gzip", "GZIP", "x-gzip", "br", "deflate", "identity, gzip"] {
        let (status, headers, body) = env
            .send(
                env.request(Method::POST, "/")
                    .header("x-api-key", KEY)
                    .header("content-type", "application/json")
                    .header("content-encoding", coding)
                    .body(GZIPPED_LOOKUP.to_vec()),
            )
            .await?;
        let body: Value = serde_json::from_slice(&body)?;
        assert_eq!(status, 415, "{coding}");
        assert_eq!(
            error_code(&body),
            "unsupported_content_encoding",
            "{coding}"
        );
        assert_eq!(headers["accept-encoding"], "identity", "{coding}");
    }
    assert!(env.fake.requests().is_empty(), "nothing reached Atlassian");
    // identity is the body as sent.
    let (status, _, _) = env
        .send(
            env.request(Method::POST, "/")
                .header("x-api-key", KEY)
                .header("content-encoding", "identity")
                .body(r#"{"accountIds": ["5b10ac8d82e05b22cc7d4ef5"]}"#),
        )
        .await?;
    assert_eq!(status, 200);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn body_of_exactly_1_mib_passes_and_one_byte_more_is_413() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    let mut exact = br#"{"accountIds": []}"#.to_vec();
    exact.resize(1024 * 1024, b' ');
    let r = env
        .request(Method::POST, "/")
        .header("x-api-key", KEY)
        .body(exact.clone())
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    exact.push(b' ');
    let r = env
        .request(Method::POST, "/")
        .header("x-api-key", KEY)
        .body(exact.clone())
        .send()
        .await?;
    assert_eq!(r.status(), 413);
    assert_eq!(error_code(&r.json().await?), "payload_too_large");
    // Without Content-Length (chunked): detected while reading.
    let stream = futures_stream(exact);
    let r = env
        .request(Method::POST, "/")
        .header("x-api-key", KEY)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await?;
    assert_eq!(r.status(), 413);
    env.finish().await
}

/// A body sent in 64 KiB chunks, so no Content-Length is known.
fn futures_stream(bytes: Vec<u8>) -> impl futures::Stream<Item = Result<Vec<u8>, std::io::Error>> {
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        bytes.chunks(64 * 1024).map(|c| Ok(c.to_vec())).collect();
    futures::stream::iter(chunks)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unauthorized_is_one_answer_for_missing_and_wrong_keys() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    let body = json!({"accountIds": [env.ids()[0]]}).to_string();
    let missing = env
        .request(Method::POST, "/")
        .body(body.clone())
        .send()
        .await?;
    let wrong = env
        .request(Method::POST, "/")
        .header("x-api-key", "not-the-key-not-the-key-not-the-key-0")
        .body(body.clone())
        .send()
        .await?;
    let empty = env
        .request(Method::POST, "/")
        .header("x-api-key", "")
        .body(body.clone())
        .send()
        .await?;
    let (a, b, c) = (missing.status(), wrong.status(), empty.status());
    assert_eq!((a.as_u16(), b.as_u16(), c.as_u16()), (401, 401, 401));
    let (a, b, c) = (
        missing.bytes().await?,
        wrong.bytes().await?,
        empty.bytes().await?,
    );
    assert_eq!(a, b);
    assert_eq!(a, c);
    assert_eq!(error_code(&serde_json::from_slice(&a)?), "unauthorized");
    assert!(env.fake.requests().is_empty());
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn not_configured_fails_closed_and_names_the_variable() -> Result<()> {
    // A plain key that is too short or guessable is refused at load.
    let env = Env::start(Sources::Admin, &[("api_key", "short-but-secret")]).await?;
    let r = env
        .request(Method::POST, "/")
        .header("x-api-key", "short-but-secret")
        .body(r#"{"accountIds": ["x"]}"#)
        .send()
        .await?;
    assert_eq!(r.status(), 503);
    let text = r.text().await?;
    let v: Value = serde_json::from_str(&text)?;
    assert_eq!(error_code(&v), "not_configured");
    assert!(v["message"].as_str().unwrap().contains("api_key"));
    assert!(!text.contains("short-but-secret"));
    assert!(env.fake.requests().is_empty());
    let mut env = env;
    env.never_logged.push("short-but-secret".into());
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_id_is_echoed_when_safe_and_generated_otherwise() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    let r = env
        .request(Method::GET, "/health")
        .header("x-request-id", "conn-42.a_b")
        .send()
        .await?;
    assert_eq!(r.headers()["x-request-id"], "conn-42.a_b");
    let r = env
        .request(Method::GET, "/health")
        .header("x-request-id", "bad id <x>")
        .send()
        .await?;
    let generated = r.headers()["x-request-id"].to_str()?.to_string();
    assert_eq!(generated.len(), 32);
    let r2 = env.request(Method::GET, "/nope").send().await?;
    assert_ne!(
        r2.headers()["x-request-id"].to_str()?,
        generated,
        "fresh ids differ"
    );
    assert_eq!(r2.headers()["cache-control"], "no-store");
    env.finish().await
}

/// Every answer states its length: `Content-Length` equal to the body's bytes, never a chunked
/// body. The component sets it and hands the head and the body to the host together, so a
/// host's HTTP server sends them in one write (without it, Spin sent some answers' body as a
/// later segment that waited ~40 ms for the client's delayed ACK: BENCHMARKS.md).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_answer_carries_its_content_length() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    let ids = json!({ "accountIds": env.ids() }).to_string();
    let requests = [
        env.request(Method::GET, "/health"),
        env.request(Method::GET, "/health/ready"),
        env.request(Method::GET, "/admin"),
        env.request(Method::GET, "/admin/app.js"),
        env.request(Method::GET, "/admin/status")
            .header("x-api-key", KEY),
        env.request(Method::GET, "/nowhere"),
        env.request(Method::DELETE, "/"),
        env.request(Method::POST, "/").body(ids.clone()),
        env.request(Method::POST, "/")
            .header("x-api-key", KEY)
            .header("content-type", "text/plain")
            .body("x"),
        env.request(Method::POST, "/")
            .header("x-api-key", KEY)
            .body(r#"{"accountIds": []}"#),
        env.request(Method::POST, "/")
            .header("x-api-key", KEY)
            .body(ids),
    ];
    for request in requests {
        let request = request.build()?;
        let what = format!("{} {}", request.method(), request.url().path());
        let r = env.client.execute(request).await?;
        let status = r.status().as_u16();
        assert!(
            r.headers().get("transfer-encoding").is_none(),
            "{what}: {status} is chunked"
        );
        let declared: usize = r
            .headers()
            .get("content-length")
            .unwrap_or_else(|| panic!("{what}: {status} has no Content-Length"))
            .to_str()?
            .parse()?;
        let body = r.bytes().await?;
        record_answer(&env.server_key(), status, &body);
        assert_eq!(declared, body.len(), "{what}: {status}");
        assert!(!body.is_empty(), "{what}: {status} has an empty body");
    }
    env.finish().await
}
