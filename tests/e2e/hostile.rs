//! Hand-picked hostile input, through the compiled component: odd transfers, odd JSON, odd ids
//! and odd keys. Every answer is a clean one from the contract's table, never a 500 or a trap,
//! except where the runtime itself refuses a request before the component runs (header values
//! that are not UTF-8: Spin's bare 500, `non_utf8_header_values_are_refused_by_the_host`).
//!
//! Covered elsewhere, not repeated here: a body of exactly 1 MiB and one byte more, with and
//! without `Content-Length` (`contract::body_of_exactly_1_mib_passes_and_one_byte_more_is_413`);
//! spoofed `spin-*` headers (`security::spoofed_spin_headers_change_nothing`); the first set of
//! odd ids reaching the Confluence API exactly (`security::ids_reach_atlassian_as_exact_json_values`).

use std::time::{Duration, Instant};

use anyhow::{ensure, Result};
use fake_atlassian::Endpoint;
use reqwest::header::HeaderValue;
use reqwest::Method;
use serde_json::{json, Value};

use crate::support::*;

/// The SHA-256 of the empty string.
const SHA256_EMPTY: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

async fn answer(r: reqwest::RequestBuilder) -> Result<(u16, Value)> {
    let r = r.send().await?;
    let status = r.status().as_u16();
    let bytes = r.bytes().await?;
    let json = if bytes.is_empty() {
        Value::Null
    } else {
        serde_json::from_slice(&bytes).unwrap_or(Value::Null)
    };
    Ok((status, json))
}

fn post(env: &Env) -> reqwest::RequestBuilder {
    env.request(Method::POST, "/")
        .header("x-api-key", KEY)
        .header("content-type", "application/json")
}

fn code(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

/// `body` as a stream of `chunk`-byte pieces, `pause` apart: no `Content-Length`.
fn trickle(body: Vec<u8>, chunk: usize, pause: Duration) -> reqwest::Body {
    let pieces: Vec<Vec<u8>> = body.chunks(chunk).map(<[u8]>::to_vec).collect();
    let stream = futures::stream::unfold(pieces.into_iter(), move |mut rest| async move {
        let piece = rest.next()?;
        if !pause.is_zero() {
            tokio::time::sleep(pause).await;
        }
        Some((Ok::<_, std::io::Error>(piece), rest))
    });
    reqwest::Body::wrap_stream(stream)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunked_body_without_content_length_is_read_whole() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    let ids = env.ids();
    let body = json!({ "accountIds": ids }).to_string().into_bytes();
    let (status, json) = answer(post(&env).body(trickle(body, 7, Duration::ZERO))).await?;
    ensure!(status == 200, "{status} {json}");
    ensure!(json == expected_answer(&env.directory, &ids, Sources::Chain, false));
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_body_over_seconds_still_answers_correctly() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    let ids: Vec<String> = env.ids().into_iter().take(5).collect();
    let body = json!({ "accountIds": ids, "includeUnresolved": true })
        .to_string()
        .into_bytes();
    let pieces = body.len().div_ceil(12);
    let started = Instant::now();
    let (status, json) =
        answer(post(&env).body(trickle(body, pieces, Duration::from_millis(250)))).await?;
    ensure!(
        started.elapsed() >= Duration::from_secs(2),
        "the body really trickled"
    );
    ensure!(status == 200, "{status} {json}");
    ensure!(json == expected_answer(&env.directory, &ids, Sources::Chain, true));
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deep_json_nesting_never_overflows_the_stack() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    let depth = 100_000;
    // Where a value is decoded (accountIds, includeUnresolved, the top level) the parser's
    // depth limit (128) answers 400.
    let bodies = [
        format!(
            r#"{{"accountIds": {}{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        ),
        "[".repeat(depth),
        format!("{}1{}", r#"{"a":"#.repeat(depth), "}".repeat(depth)),
        format!(
            r#"{{"accountIds": ["a"], "includeUnresolved": {}null{}}}"#,
            "[".repeat(depth),
            "]".repeat(depth)
        ),
    ];
    for body in bodies {
        let (status, json) = answer(post(&env).body(body)).await?;
        ensure!(
            (status, code(&json)) == (400, "invalid_json"),
            "{status} {json}"
        );
    }
    // An unknown field is skipped without recursion, however deep: valid JSON, so 200 (and no
    // stack overflow); unbalanced, so 400.
    for (open, close) in [("[", "]"), (r#"{"a":"#, "}")] {
        let body = format!(
            r#"{{"x": {}0{}, "accountIds": []}}"#,
            open.repeat(depth),
            close.repeat(depth)
        );
        let (status, json) = answer(post(&env).body(body)).await?;
        ensure!(status == 200 && json == json!([]), "{status} {json}");
        let body = format!(r#"{{"x": {}0, "accountIds": []}}"#, open.repeat(depth));
        let (status, json) = answer(post(&env).body(body)).await?;
        ensure!(
            (status, code(&json)) == (400, "invalid_json"),
            "{status} {json}"
        );
    }
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_bodies_are_400_invalid_json() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    let bodies: Vec<Vec<u8>> = vec![
        // Not UTF-8: in a string, bare, and a UTF-16 BOM.
        b"{\"accountIds\": [\"\xff\xfe\"]}".to_vec(),
        b"\xc3\x28".to_vec(),
        // ... and in a field the parser skips (found by the parse_lookup fuzzer).
        b"{\"x\": \"\xba\", \"accountIds\": [\"b\"]}".to_vec(),
        b"\xff\xfe{\x00}\x00".to_vec(),
        // A lone surrogate escape is not a string.
        br#"{"accountIds": ["\ud800"]}"#.to_vec(),
        // Duplicate keys.
        br#"{"accountIds": ["a"], "accountIds": ["b"]}"#.to_vec(),
        br#"{"accountIds": [], "accountIds": []}"#.to_vec(),
        br#"{"accountIds": ["a"], "includeUnresolved": true, "includeUnresolved": false}"#.to_vec(),
        // Numbers, nulls, objects, arrays, booleans in the array.
        br#"{"accountIds": [1]}"#.to_vec(),
        br#"{"accountIds": ["a", 1e400]}"#.to_vec(),
        br#"{"accountIds": [null]}"#.to_vec(),
        br#"{"accountIds": ["a", {"accountId": "b"}]}"#.to_vec(),
        br#"{"accountIds": [["a"]]}"#.to_vec(),
        br#"{"accountIds": [true]}"#.to_vec(),
        // The wrong container, or none.
        br#"{"accountIds": null}"#.to_vec(),
        br#"{"accountIds": {"0": "a"}}"#.to_vec(),
        br#"["a"]"#.to_vec(),
        br#""accountIds""#.to_vec(),
        b"".to_vec(),
        b"null".to_vec(),
        // Trailing garbage, a second document, a NUL.
        br#"{"accountIds": []} x"#.to_vec(),
        br#"{"accountIds": []}{"accountIds": []}"#.to_vec(),
        b"{\"accountIds\": []}\x00".to_vec(),
        // includeUnresolved of the wrong type.
        br#"{"accountIds": [], "includeUnresolved": "yes"}"#.to_vec(),
    ];
    for body in bodies {
        let shown = String::from_utf8_lossy(&body).into_owned();
        let (status, json) = answer(post(&env).body(body)).await?;
        ensure!(
            (status, code(&json)) == (400, "invalid_json"),
            "{shown:?}: {status} {json}"
        );
    }
    ensure!(
        env.fake.requests().is_empty(),
        "no bad body reached Atlassian"
    );
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ids_with_line_breaks_and_separators_are_invalid_account_ids() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    for (i, bad) in [
        "a\rb",
        "a\nb",
        "a\r\nX-Injected: 1",
        "\r\n",
        "a\u{2028}b",
        "a\u{85}b",
        "a\tb",
        "a\u{3000}b",
        "\u{7f}",
        "a\u{0}b",
    ]
    .into_iter()
    .enumerate()
    {
        let body = json!({ "accountIds": ["ok-id", bad] });
        let (status, json) = answer(post(&env).json(&body)).await?;
        ensure!(
            (status, code(&json)) == (400, "invalid_account_id"),
            "case {i}: {status} {json}"
        );
        ensure!(json["message"]
            .as_str()
            .unwrap_or("")
            .contains("accountIds[1]"));
    }
    ensure!(env.fake.requests().is_empty());
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_ids_reach_both_sources_as_exact_json_values() -> Result<()> {
    // Beyond security.rs's set: through the admin API too, and with more separators, bidi
    // controls, zero-width and combining characters, and 128-character ids.
    let env = Env::start(Sources::Chain, &[]).await?;
    let long_ascii = "z".repeat(128);
    let long_unicode = "é".repeat(128);
    let odd: Vec<&str> = vec![
        "a&b=c",
        "../../admin/v2/orgs",
        "%2F%2e%2e",
        "a?cursor=x#frag",
        "'single'",
        "\"double\"",
        "back\\slash",
        "semi;colon",
        "plus+sign",
        "<script>alert(1)</script>",
        "\u{202e}override",
        "\u{200e}lrm\u{200f}rlm",
        "\u{2066}isolate\u{2069}",
        "zero\u{200b}width",
        "\u{feff}bom",
        "e\u{301}combining",
        "emoji-\u{1F600}",
        "中文-العربية",
        "nul-escape-looking-\\u0000",
        &long_ascii,
        &long_unicode,
    ];
    let (status, json) = answer(post(&env).json(&json!({ "accountIds": odd }))).await?;
    ensure!(status == 200 && json == json!([]), "{status} {json}");
    let admin = env.requests_to(Endpoint::AdminSearch);
    let bulk = env.requests_to(Endpoint::UsersBulk);
    // 21 ids: one users-bulk call, three admin calls (10 ids a call).
    ensure!(admin.len() == 3 && bulk.len() == 1, "{admin:?} {bulk:?}");
    let mut chunks: Vec<Vec<String>> = admin.iter().map(|r| r.account_ids.clone()).collect();
    chunks.sort_by_key(|c| {
        odd.iter()
            .position(|id| c.first().is_some_and(|f| f.as_str() == *id))
    });
    ensure!(chunks.concat() == odd, "admin got {chunks:?}");
    ensure!(
        bulk[0].account_ids == odd,
        "confluence got {:?}",
        bulk[0].account_ids
    );
    for r in admin.iter().chain(&bulk) {
        ensure!(
            r.path == "/wiki/api/v2/users-bulk"
                || r.path.starts_with("/admin/v2/orgs/")
                    && r.path.ends_with("/directories/-/users/search"),
            "ids never touch the URL: {}",
            r.path
        );
    }
    let mut env = env;
    env.never_logged
        .extend(odd.iter().filter(|s| s.len() > 4).map(|s| s.to_string()));
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn odd_api_key_headers_are_401_never_500() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    let with_key = |value: HeaderValue| {
        env.request(Method::POST, "/")
            .header("x-api-key", value)
            .body(r#"{"accountIds": []}"#)
    };
    // Leading and trailing blanks are optional whitespace around a field value (RFC 9110
    // §5.5), not part of it: the HTTP layer drops them and the key matches.
    for padded in [format!(" {KEY}"), format!("{KEY}  "), format!("\t{KEY}\t")] {
        let (status, _) = answer(with_key(HeaderValue::from_str(&padded)?)).await?;
        ensure!(status == 200, "{padded:?}: {status}");
    }
    let (head, tail) = KEY.split_at(KEY.len() / 2);
    let inside: Vec<Vec<u8>> = vec![
        format!("{head} {tail}").into_bytes(),
        format!("{head}\t{tail}").into_bytes(),
        format!("{KEY} {KEY}").into_bytes(),
        format!("{KEY},{KEY}").into_bytes(),
        format!("{KEY}, x").into_bytes(),
        // (Bytes that are not UTF-8 never reach the component: see
        // `non_utf8_header_values_are_refused_by_the_host`.)
        // Only blanks: the same as empty.
        b"   ".to_vec(),
        // Huge: 16 KiB and 4 KiB + 1 (one over the hashing limit), and the key repeated.
        vec![b'k'; 16 * 1024],
        vec![b'k'; 4097],
        KEY.repeat(400).into_bytes(),
    ];
    for value in inside {
        let shown = String::from_utf8_lossy(&value[..value.len().min(40)]).into_owned();
        let (status, json) = answer(with_key(HeaderValue::from_bytes(&value)?)).await?;
        ensure!(
            (status, code(&json)) == (401, "unauthorized"),
            "{shown:?}: {status} {json}"
        );
    }
    // 64 KiB: the HTTP layer may refuse the head itself; a clean 4xx either way.
    let (status, _) = answer(with_key(HeaderValue::from_bytes(&vec![b'k'; 64 * 1024])?)).await?;
    ensure!((400..500).contains(&status), "64 KiB key: {status}");
    // Repeated, even when both copies are the right key.
    for (first, second) in [(KEY, KEY), (KEY, "wrong"), ("wrong", KEY)] {
        let (status, _) = answer(
            env.request(Method::POST, "/")
                .header("x-api-key", first)
                .header("X-API-KEY", second)
                .body(r#"{"accountIds": []}"#),
        )
        .await?;
        ensure!(status == 401, "repeated {first:?}/{second:?}: {status}");
    }
    ensure!(env.fake.requests().is_empty());
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn non_utf8_header_values_are_refused_by_the_host() -> Result<()> {
    // Spin hands the component only UTF-8 header values: a request carrying any other
    // (obs-text, RFC 9110 §5.5) fails in the host before an instance is made (trigger-http
    // headers.rs `prepare_request_headers`), answered by a bare 500. devhost does the same.
    // The component never sees the key, calls nothing and logs nothing; the host stays up.
    let env = Env::start(Sources::Admin, &[]).await?;
    let values: [(&str, Vec<u8>); 3] = [
        ("x-api-key", [KEY.as_bytes(), b"\xff"].concat()),
        ("x-api-key", b"\x80\x81\x82".to_vec()),
        ("x-request-id", b"id-\xe9t\xe9".to_vec()),
    ];
    for (name, value) in values {
        let r = env
            .request(Method::POST, "/")
            .header("x-api-key", KEY)
            .header(name, HeaderValue::from_bytes(&value)?)
            .body(r#"{"accountIds": []}"#)
            .send()
            .await?;
        let status = r.status().as_u16();
        let body = r.bytes().await?;
        ensure!(
            status == 500 && body.is_empty(),
            "{name} not UTF-8: {status} {}",
            String::from_utf8_lossy(&body)
        );
    }
    let ids = vec![env.ids()[0].clone()];
    let (status, _, body) = env.lookup(json!({ "accountIds": ids })).await?;
    ensure!(status == 200, "after the refused requests: {status} {body}");
    let lines = component_log_lines(env.server.log_dir(), 1).await?;
    ensure!(
        lines.len() == 1,
        "the component logged {} requests, expected only the valid one",
        lines.len()
    );
    ensure!(env.requests_to(Endpoint::AdminSearch).len() == 1);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_configured_key_never_matches_an_empty_presented_key() -> Result<()> {
    // Only separators: no key at all, so the app is not configured (fail closed).
    for separators in [" , ", ",", ",,\n,", "\t"] {
        let env = Env::start(Sources::Admin, &[("api_key", separators)]).await?;
        for presented in ["", " ", KEY] {
            let (status, json) = answer(
                env.request(Method::POST, "/")
                    .header("x-api-key", presented)
                    .body(r#"{"accountIds": []}"#),
            )
            .await?;
            ensure!(
                (status, code(&json)) == (503, "not_configured"),
                "{separators:?}/{presented:?}: {status} {json}"
            );
        }
        // /admin/status reads api_key alone and says it is what to fix.
        let (status, json) = answer(
            env.request(Method::GET, "/admin/status")
                .header("x-api-key", KEY),
        )
        .await?;
        ensure!(
            status == 503
                && code(&json) == "not_configured"
                && json["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("api_key")),
            "{json}"
        );
        env.finish().await?;
    }
    // The hash of the empty string is a valid configuration, but an empty key never matches it.
    let hashed_empty = format!("sha256:{SHA256_EMPTY}");
    let env = Env::start(Sources::Admin, &[("api_key", &hashed_empty)]).await?;
    let (status, _) = answer(env.request(Method::GET, "/health")).await?;
    ensure!(status == 200);
    for presented in [Some(""), Some("   "), None] {
        let mut r = env.request(Method::POST, "/").body(r#"{"accountIds": []}"#);
        if let Some(p) = presented {
            r = r.header("x-api-key", p);
        }
        let (status, json) = answer(r).await?;
        ensure!(
            (status, code(&json)) == (401, "unauthorized"),
            "{presented:?}: {status} {json}"
        );
    }
    env.finish().await
}
