//! Each fault kind as a client sees it, FIFO `times` semantics and the `Any` queue.

use std::time::{Duration, Instant, SystemTime};

use fake_atlassian::{Endpoint, Fault, RetryAfter, OVERSIZED_PADDING};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{start, MANAGED_VISIBLE};

fn status(code: u16) -> Fault {
    Fault::Status {
        status: code,
        retry_after: None,
    }
}

#[tokio::test]
async fn latency_delays_then_answers_normally() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.inject(
        Endpoint::UsersBulk,
        Fault::Latency(Duration::from_millis(200)),
        1,
    );
    let started = Instant::now();
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 200);
    assert!(started.elapsed() >= Duration::from_millis(200));
    let started = Instant::now();
    ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert!(started.elapsed() < Duration::from_millis(200));
    Ok(())
}

#[tokio::test]
async fn base_latency_applies_to_every_call() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.set_latency(Duration::from_millis(100));
    let started = Instant::now();
    ctx.admin(json!({})).send().await?;
    assert!(started.elapsed() >= Duration::from_millis(100));
    ctx.fake.set_latency(Duration::ZERO);
    Ok(())
}

#[tokio::test]
async fn rate_limited_sends_the_rate_limit_headers() -> anyhow::Result<()> {
    let ctx = start().await?;
    let fault = Fault::RateLimited {
        retry_after: Some(RetryAfter::Seconds(2)),
    };
    ctx.fake.inject(Endpoint::UsersBulk, fault, 1);
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    let h = r.headers();
    assert_eq!(h["retry-after"], "2");
    assert_eq!(h["x-ratelimit-limit"], "100");
    assert_eq!(h["x-ratelimit-remaining"], "0");
    let reset = h["x-ratelimit-reset"].to_str()?;
    assert_eq!(reset.len(), "2026-01-01T00:00:00Z".len());
    assert!(
        reset.ends_with('Z') && reset.as_bytes()[10] == b'T',
        "{reset}"
    );
    let body: Value = r.json().await?;
    assert_eq!(body["code"], 429);

    ctx.fake.inject(
        Endpoint::UsersBulk,
        Fault::RateLimited { retry_after: None },
        1,
    );
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 429);
    assert!(r.headers().get("retry-after").is_none());
    Ok(())
}

#[tokio::test]
async fn status_fault_sends_retry_after_as_date_or_raw() -> anyhow::Result<()> {
    let ctx = start().await?;
    let when = SystemTime::UNIX_EPOCH + Duration::from_secs(784_887_151);
    let date = Fault::Status {
        status: 503,
        retry_after: Some(RetryAfter::Date(when)),
    };
    let raw = Fault::Status {
        status: 503,
        retry_after: Some(RetryAfter::Raw("9223372036854775807".into())),
    };
    ctx.fake.inject(Endpoint::AdminSearch, date, 1);
    ctx.fake.inject(Endpoint::AdminSearch, raw, 1);
    let r = ctx.admin(json!({})).send().await?;
    assert_eq!(r.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(r.headers()["retry-after"], "Tue, 15 Nov 1994 08:12:31 GMT");
    // The admin API's published error body.
    let body: Value = r.json().await?;
    assert_eq!(body["errors"][0]["status"], "503");
    let r = ctx.admin(json!({})).send().await?;
    assert_eq!(r.headers()["retry-after"], "9223372036854775807");
    for code in [500, 502, 504] {
        ctx.fake.inject(Endpoint::AdminSearch, status(code), 1);
        let r = ctx.admin(json!({})).send().await?;
        assert_eq!(r.status().as_u16(), code);
        assert!(r.headers().get("retry-after").is_none());
    }
    Ok(())
}

#[tokio::test]
async fn hang_times_out_the_client_and_shutdown_still_returns() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.inject(Endpoint::EmailSingle, Fault::Hang, 1);
    let r = ctx
        .email(&ctx.fake.url(), false, &[MANAGED_VISIBLE])
        .bearer_auth(&ctx.creds.app_token)
        .timeout(Duration::from_millis(200))
        .send()
        .await;
    assert!(r.as_ref().is_err_and(reqwest::Error::is_timeout), "{r:?}");
    // A second hung request still in flight while shutting down.
    ctx.fake.inject(Endpoint::EmailSingle, Fault::Hang, 1);
    let pending = tokio::spawn(
        ctx.email(&ctx.fake.url(), false, &[MANAGED_VISIBLE])
            .bearer_auth(&ctx.creds.app_token)
            .send(),
    );
    while ctx.fake.request_count(Endpoint::EmailSingle) < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let records = ctx.fake.requests();
    assert_eq!(records[0].status, 0);
    assert_eq!(records[0].fault.as_deref(), Some("hang"));
    tokio::time::timeout(Duration::from_secs(2), ctx.fake.clone().shutdown()).await?;
    let outcome = tokio::time::timeout(Duration::from_secs(2), pending).await??;
    assert!(
        outcome.is_err(),
        "a hung request ends with an error at shutdown"
    );
    Ok(())
}

#[tokio::test]
async fn malformed_json_is_200_json_that_does_not_parse() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake
        .inject(Endpoint::UsersBulk, Fault::MalformedJson, 1);
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"]
        .to_str()?
        .starts_with("application/json"));
    assert!(r.json::<Value>().await.is_err());
    Ok(())
}

#[tokio::test]
async fn truncated_json_is_the_real_answer_cut_in_half() -> anyhow::Result<()> {
    let ctx = start().await?;
    let full = ctx
        .users_bulk_site(&[MANAGED_VISIBLE])
        .send()
        .await?
        .text()
        .await?;
    ctx.fake
        .inject(Endpoint::UsersBulk, Fault::TruncatedJson, 1);
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 200);
    let length: usize = r.headers()["content-length"].to_str()?.parse()?;
    let cut = r.bytes().await?;
    assert_eq!(cut.len(), length);
    assert_eq!(cut.len(), full.len() / 2);
    assert!(full.as_bytes().starts_with(&cut));
    assert!(serde_json::from_slice::<Value>(&cut).is_err());
    Ok(())
}

#[tokio::test]
async fn drop_connection_gives_a_connection_error_then_recovers() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake
        .inject(Endpoint::UsersBulk, Fault::DropConnection, 1);
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await;
    let err = r
        .err()
        .ok_or_else(|| anyhow::anyhow!("expected an error"))?;
    assert!(!err.is_timeout() && !err.is_status(), "{err:?}");
    assert_eq!(
        ctx.users_bulk_site(&[MANAGED_VISIBLE])
            .send()
            .await?
            .status(),
        200
    );
    let records = ctx.fake.requests();
    assert_eq!(records[0].status, 0);
    assert_eq!(records[0].fault.as_deref(), Some("dropConnection"));
    assert_eq!(records[1].status, 200);
    Ok(())
}

#[tokio::test]
async fn html_bad_request_is_400_html() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake
        .inject(Endpoint::EmailBulk, Fault::HtmlBadRequest, 1);
    let r = ctx
        .email(&ctx.gateway(), true, &[MANAGED_VISIBLE])
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers()["content-type"]
        .to_str()?
        .starts_with("text/html"));
    assert!(r.text().await?.starts_with("<HTML>"));
    Ok(())
}

#[tokio::test]
async fn oversized_is_the_real_answer_after_padding_with_or_without_its_length(
) -> anyhow::Result<()> {
    let ctx = start().await?;
    let real = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    let real: Value = real.json().await?;
    ctx.fake.inject(Endpoint::UsersBulk, Fault::Oversized, 1);
    ctx.fake
        .inject(Endpoint::UsersBulk, Fault::OversizedChunked, 1);
    for chunked in [false, true] {
        let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
        assert_eq!(r.status(), 200);
        let header = |name: &str| {
            r.headers()
                .get(name)
                .map(|v| v.to_str().unwrap_or("(not text)").to_owned())
        };
        let (length, encoding) = (header("content-length"), header("transfer-encoding"));
        let body = r.bytes().await?;
        assert!(body.len() > OVERSIZED_PADDING, "{} bytes", body.len());
        assert!(body[..OVERSIZED_PADDING].iter().all(|&b| b == b' '));
        assert_eq!(serde_json::from_slice::<Value>(&body)?, real);
        if chunked {
            assert_eq!(length, None);
            assert_eq!(encoding.as_deref(), Some("chunked"));
        } else {
            assert_eq!(length, Some(body.len().to_string()));
            assert_eq!(encoding, None);
        }
    }
    let faults: Vec<Option<String>> = ctx.fake.requests().into_iter().map(|r| r.fault).collect();
    assert_eq!(
        faults,
        [
            None,
            Some("oversized".into()),
            Some("oversizedChunked".into())
        ]
    );
    Ok(())
}

#[tokio::test]
async fn faults_are_fifo_per_endpoint_with_times() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.inject(Endpoint::UsersBulk, status(500), 2);
    ctx.fake.inject(Endpoint::UsersBulk, status(502), 1);
    let mut seen = Vec::new();
    for _ in 0..4 {
        seen.push(
            ctx.users_bulk_site(&[MANAGED_VISIBLE])
                .send()
                .await?
                .status()
                .as_u16(),
        );
    }
    assert_eq!(seen, [500, 500, 502, 200]);
    // Other endpoints are untouched by a users-bulk fault.
    ctx.fake.inject(Endpoint::UsersBulk, status(500), 1);
    assert_eq!(ctx.admin(json!({})).send().await?.status(), 200);
    ctx.fake.clear_faults();
    assert_eq!(
        ctx.users_bulk_site(&[MANAGED_VISIBLE])
            .send()
            .await?
            .status(),
        200
    );
    Ok(())
}

#[tokio::test]
async fn any_queue_is_consulted_after_the_specific_one() -> anyhow::Result<()> {
    let ctx = start().await?;
    ctx.fake.inject(Endpoint::Any, status(503), 2);
    ctx.fake.inject(Endpoint::UsersBulk, status(500), 1);
    let first = ctx
        .users_bulk_site(&[MANAGED_VISIBLE])
        .send()
        .await?
        .status();
    let second = ctx
        .users_bulk_site(&[MANAGED_VISIBLE])
        .send()
        .await?
        .status();
    let admin = ctx.admin(json!({})).send().await?.status();
    let third = ctx
        .users_bulk_site(&[MANAGED_VISIBLE])
        .send()
        .await?
        .status();
    assert_eq!(
        [first, second, admin, third].map(|s| s.as_u16()),
        [500, 503, 503, 200]
    );
    // Unknown paths never consume faults.
    ctx.fake.inject(Endpoint::Any, status(503), 1);
    assert_eq!(
        ctx.http
            .get(format!("{}/nope", ctx.fake.url()))
            .send()
            .await?
            .status(),
        404
    );
    assert_eq!(ctx.admin(json!({})).send().await?.status(), 503);
    Ok(())
}
