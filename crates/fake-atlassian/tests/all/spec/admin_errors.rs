//! Admin API errors use the published body `{"errors": [{"code", "detail", "id", "status",
//! "title"}]}` (all strings): 400, 401, 404, and injected 429 / 5xx on the admin endpoint.

use fake_atlassian::{Endpoint, Fault};
use serde_json::{json, Value};

use super::assert_admin_error;
use crate::support::start;

#[tokio::test]
async fn every_admin_error_has_the_published_shape() -> anyhow::Result<()> {
    let ctx = start().await?;
    let bad = ctx.admin(json!({"limit": 0})).send().await?;
    let unauthorized = ctx
        .http
        .post(ctx.admin_url())
        .bearer_auth("wrong")
        .json(&json!({}))
        .send()
        .await?;
    let wrong_org = ctx
        .http
        .post(format!(
            "{}/admin/v2/orgs/other-org/directories/-/users/search",
            ctx.fake.url()
        ))
        .bearer_auth(&ctx.creds.admin_api_key)
        .json(&json!({}))
        .send()
        .await?;
    ctx.fake.inject(
        Endpoint::AdminSearch,
        Fault::RateLimited { retry_after: None },
        1,
    );
    let limited = ctx.admin(json!({})).send().await?;
    ctx.fake.inject(
        Endpoint::AdminSearch,
        Fault::Status {
            status: 500,
            retry_after: None,
        },
        1,
    );
    let failed = ctx.admin(json!({})).send().await?;
    for (response, status) in [
        (bad, 400),
        (unauthorized, 401),
        (wrong_org, 404),
        (limited, 429),
        (failed, 500),
    ] {
        assert_eq!(response.status().as_u16(), status);
        let body: Value = response.json().await?;
        assert_admin_error(&body, status, &status.to_string());
    }
    Ok(())
}

#[tokio::test]
async fn the_404_says_what_atlassian_says() -> anyhow::Result<()> {
    let ctx = start().await?;
    let body: Value = ctx
        .http
        .post(format!(
            "{}/admin/v2/orgs/other-org/directories/-/users/search",
            ctx.fake.url()
        ))
        .bearer_auth(&ctx.creds.admin_api_key)
        .json(&json!({}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(
        body["errors"][0]["detail"],
        "We couldn't find the organization or directory."
    );
    Ok(())
}
