//! Upstream faults: what the connector sees when Atlassian misbehaves.

use std::time::{Duration, Instant};

use anyhow::Result;
use fake_atlassian::{Directory, Endpoint, Fault, RetryAfter};
use serde_json::{json, Value};

use crate::support::*;

fn code(body: &Value) -> &str {
    body["error"].as_str().unwrap_or("")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limited_then_success_is_a_full_200() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    env.fake.inject(
        Endpoint::AdminSearch,
        Fault::RateLimited {
            retry_after: Some(RetryAfter::Seconds(1)),
        },
        1,
    );
    let ids = env.ids();
    let started = Instant::now();
    let (status, _, body) = env.lookup(json!({ "accountIds": ids })).await?;
    assert_eq!(status, 200);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
    assert_eq!(
        body,
        expected_answer(&env.directory, &ids, Sources::Chain, false)
    );
    // Under auto, admin gets the ids Confluence left: the hidden ones, 10 a call; plus the
    // one retry.
    let hidden = env.directory.users.iter().filter(|u| u.is_hidden()).count();
    assert_eq!(
        env.fake.request_count(Endpoint::AdminSearch),
        hidden.div_ceil(10) + 1
    );
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_past_the_deadline_is_503_with_retry_after() -> Result<()> {
    let env = Env::start(Sources::Admin, &[("request_timeout_ms", "3000")]).await?;
    env.fake.inject(
        Endpoint::AdminSearch,
        Fault::RateLimited {
            retry_after: Some(RetryAfter::Raw("9223372036854775807".into())),
        },
        1,
    );
    let (status, headers, body) = env.lookup(json!({ "accountIds": env.ids() })).await?;
    assert_eq!((status, code(&body)), (503, "upstream_rate_limited"));
    let retry_after: u64 = headers["retry-after"].to_str()?.parse()?;
    assert!((1..=300).contains(&retry_after), "clamped: {retry_after}");
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn persistent_5xx_is_502_and_never_a_partial_200() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    // Admin answers; every Confluence attempt fails.
    env.fake.inject(
        Endpoint::UsersBulk,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        10,
    );
    let (status, _, body) = env.lookup(json!({ "accountIds": env.ids() })).await?;
    assert_eq!((status, code(&body)), (502, "upstream_error"));
    assert!(!body.to_string().contains('@'));
    assert_eq!(
        env.fake.request_count(Endpoint::UsersBulk),
        3,
        "three attempts"
    );
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn transient_faults_are_retried_to_success() -> Result<()> {
    for fault in [
        Fault::Status {
            status: 502,
            retry_after: None,
        },
        Fault::Status {
            status: 503,
            retry_after: Some(RetryAfter::Seconds(0)),
        },
        Fault::MalformedJson,
        Fault::TruncatedJson,
        Fault::DropConnection,
    ] {
        let env = Env::start(Sources::Basic, &[]).await?;
        env.fake.inject(Endpoint::UsersBulk, fault.clone(), 1);
        let ids = env.ids();
        let (status, _, body) = env.lookup(json!({ "accountIds": ids })).await?;
        assert_eq!(status, 200, "{fault:?}: {body}");
        assert_eq!(
            body,
            expected_answer(&env.directory, &ids, Sources::Basic, false),
            "{fault:?}"
        );
        assert_eq!(env.fake.request_count(Endpoint::UsersBulk), 2, "{fault:?}");
        env.finish().await?;
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hang_is_504_inside_the_deadline() -> Result<()> {
    let env = Env::start(Sources::Admin, &[("request_timeout_ms", "1500")]).await?;
    env.fake.inject(Endpoint::AdminSearch, Fault::Hang, 1);
    let started = Instant::now();
    let (status, _, body) = env.lookup(json!({ "accountIds": env.ids() })).await?;
    let elapsed = started.elapsed();
    assert_eq!((status, code(&body)), (504, "upstream_timeout"));
    assert!(elapsed >= Duration::from_millis(1400), "{elapsed:?}");
    assert!(
        elapsed < Duration::from_millis(2500),
        "answered inside the deadline: {elapsed:?}"
    );
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_credentials_are_upstream_auth_failed() -> Result<()> {
    // Admin first, and one admin chunk (10 ids), so exactly one call can be made.
    let env = Env::start(
        Sources::Chain,
        &[
            ("atlassian_admin_api_key", "revoked-admin-key"),
            ("email_sources", "admin,confluence"),
        ],
    )
    .await?;
    let (status, _, body) = env
        .lookup(json!({ "accountIds": &env.ids()[..10] }))
        .await?;
    assert_eq!((status, code(&body)), (502, "upstream_auth_failed"));
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("atlassian_admin_api_key"));
    assert!(!body.to_string().contains("revoked-admin-key"));
    assert_eq!(env.fake.requests().len(), 1, "not retried");
    let mut env = env;
    env.never_logged.push("revoked-admin-key".into());
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upstream_outside_allowed_outbound_hosts_is_denied() -> Result<()> {
    // allowed_outbound_hosts = ["{{ atlassian_api_url }}", "https://*.atlassian.net"]: a site
    // on another loopback port is not allowed, and the call never leaves the host.
    let other = fake(Directory::demo()).await?;
    let env = Env::start(Sources::Basic, &[("confluence_url", &other.url())]).await?;
    let (status, _, body) = env.lookup(json!({ "accountIds": env.ids() })).await?;
    assert_eq!((status, code(&body)), (502, "upstream_error"));
    assert!(body["message"]
        .as_str()
        .unwrap()
        .contains("allowed_outbound_hosts"));
    assert!(other.requests().is_empty());
    assert!(env.fake.requests().is_empty());
    other.shutdown().await;
    env.finish().await
}
