//! The HTTP control API, and shutdown with open keep-alive connections.

use std::time::{Duration, Instant};

use fake_atlassian::{Endpoint, RecordedRequest};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{ids_of, start, start_with, MANAGED_VISIBLE};

#[tokio::test]
async fn control_api_injects_faults_and_lists_requests() -> anyhow::Result<()> {
    let ctx = start().await?;
    let control = format!("{}/__control", ctx.fake.url());
    let inject = json!({
        "endpoint": "usersBulk",
        "fault": {"kind": "rateLimited", "retryAfterSeconds": 2},
        "times": 1
    });
    let r = ctx
        .http
        .post(format!("{control}/faults"))
        .json(&inject)
        .send()
        .await?;
    assert_eq!(r.status(), StatusCode::NO_CONTENT);
    let r = ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    assert_eq!(r.status(), 429);
    assert_eq!(r.headers()["retry-after"], "2");

    let listed: Vec<RecordedRequest> = ctx.control_get("requests").await?;
    assert_eq!(listed, ctx.fake.requests());
    assert_eq!(listed.len(), 1, "control requests are not recorded");
    assert_eq!(listed[0].fault.as_deref(), Some("rateLimited"));
    let raw: Value = ctx.control_get("requests").await?;
    assert_eq!(raw[0]["endpoint"], "usersBulk");
    assert_eq!(raw[0]["accountIds"], json!([MANAGED_VISIBLE]));

    ctx.http
        .delete(format!("{control}/requests"))
        .send()
        .await?;
    assert!(ctx.fake.requests().is_empty());

    let hang = json!({"endpoint": "any", "fault": {"kind": "hang"}, "times": 3});
    ctx.http
        .post(format!("{control}/faults"))
        .json(&hang)
        .send()
        .await?;
    ctx.http.delete(format!("{control}/faults")).send().await?;
    assert_eq!(ctx.admin(json!({})).send().await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn control_api_sets_latency_and_page_cap() -> anyhow::Result<()> {
    let ctx = start_with(fake_atlassian::Directory::generated(6)).await?;
    let control = format!("{}/__control", ctx.fake.url());
    let r = ctx
        .http
        .put(format!("{control}/admin-page-cap"))
        .json(&json!({"cap": 2}))
        .send();
    assert_eq!(r.await?.status(), 204);
    let page: Value = ctx.admin(json!({})).send().await?.json().await?;
    assert_eq!(ids_of(&page["data"]).len(), 2);
    ctx.http
        .put(format!("{control}/admin-page-cap"))
        .json(&json!({"cap": null}))
        .send()
        .await?;
    let managed = json!({"claimStatus": "managed"});
    let page: Value = ctx.admin(managed).send().await?.json().await?;
    assert_eq!(ids_of(&page["data"]).len(), 4);

    ctx.http
        .put(format!("{control}/latency"))
        .json(&json!({"ms": 100}))
        .send()
        .await?;
    let started = Instant::now();
    ctx.admin(json!({})).send().await?;
    assert!(started.elapsed() >= Duration::from_millis(100));
    ctx.http
        .put(format!("{control}/latency"))
        .json(&json!({"ms": 0}))
        .send()
        .await?;
    assert_eq!(ctx.fake.request_count(Endpoint::AdminSearch), 3);

    let r = ctx
        .http
        .put(format!("{control}/users-bulk-page-cap"))
        .json(&json!({"cap": 1}))
        .send();
    assert_eq!(r.await?.status(), 204);
    let ids: Vec<String> = ctx
        .fake
        .directory()
        .users
        .iter()
        .map(|u| u.account_id.clone())
        .collect();
    let refs: Vec<&str> = ids.iter().map(String::as_str).collect();
    let page: Value = ctx.users_bulk_site(&refs).send().await?.json().await?;
    assert_eq!(ids_of(&page["results"]).len(), 1);
    assert!(page["_links"]["next"].is_string());
    Ok(())
}

#[tokio::test]
async fn control_api_rejects_bad_bodies_and_unknown_paths() -> anyhow::Result<()> {
    let ctx = start().await?;
    let control = format!("{}/__control", ctx.fake.url());
    for bad in [
        json!({"endpoint": "nowhere", "fault": {"kind": "hang"}}),
        json!({"endpoint": "any", "fault": {"kind": "latency"}}),
        json!({"endpoint": "any"}),
    ] {
        let r = ctx
            .http
            .post(format!("{control}/faults"))
            .json(&bad)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::BAD_REQUEST, "{bad}");
    }
    let r = ctx
        .http
        .put(format!("{control}/latency"))
        .json(&json!({"ms": "x"}))
        .send()
        .await?;
    assert_eq!(r.status(), 400);
    assert_eq!(
        ctx.http
            .get(format!("{control}/nope"))
            .send()
            .await?
            .status(),
        404
    );
    assert!(ctx.fake.requests().is_empty());
    Ok(())
}

#[tokio::test]
async fn shutdown_is_prompt_with_keep_alive_connections() -> anyhow::Result<()> {
    let ctx = start().await?;
    for _ in 0..3 {
        ctx.admin(json!({})).send().await?;
    }
    let url = ctx.fake.url();
    tokio::time::timeout(Duration::from_secs(2), ctx.fake.clone().shutdown()).await?;
    let after = ctx
        .http
        .post(format!("{url}/wiki/api/v2/users-bulk"))
        .send()
        .await;
    assert!(after.is_err(), "the server is gone");
    Ok(())
}
