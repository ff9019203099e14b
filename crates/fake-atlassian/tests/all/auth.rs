//! Which credential each endpoint accepts, and the 401 / 404 answers.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{start, MANAGED_VISIBLE};

#[tokio::test]
async fn admin_search_accepts_only_the_admin_key() -> anyhow::Result<()> {
    let ctx = start().await?;
    let c = &ctx.creds;
    let post = || ctx.http.post(ctx.admin_url()).json(&json!({}));
    assert_eq!(post().send().await?.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(post().bearer_auth("wrong").send().await?.status(), 401);
    assert_eq!(
        post().bearer_auth(&c.bearer_token).send().await?.status(),
        401
    );
    assert_eq!(post().bearer_auth(&c.app_token).send().await?.status(), 401);
    let basic = post().basic_auth(&c.site_email, Some(&c.site_api_token));
    assert_eq!(basic.send().await?.status(), 401);
    assert_eq!(
        post().bearer_auth(&c.admin_api_key).send().await?.status(),
        200
    );
    Ok(())
}

#[tokio::test]
async fn admin_search_wrong_org_is_404_after_auth() -> anyhow::Result<()> {
    let ctx = start().await?;
    let url = format!(
        "{}/admin/v2/orgs/other-org/directories/-/users/search",
        ctx.fake.url()
    );
    let right_key = ctx
        .http
        .post(&url)
        .bearer_auth(&ctx.creds.admin_api_key)
        .json(&json!({}));
    assert_eq!(right_key.send().await?.status(), StatusCode::NOT_FOUND);
    let wrong_key = ctx.http.post(&url).bearer_auth("wrong").json(&json!({}));
    assert_eq!(wrong_key.send().await?.status(), StatusCode::UNAUTHORIZED);
    Ok(())
}

#[tokio::test]
async fn confluence_errors_are_json_code_and_message() -> anyhow::Result<()> {
    // The admin API's published error body is another shape: spec/admin_errors.rs.
    let ctx = start().await?;
    let response = ctx
        .http
        .post(format!("{}/wiki/api/v2/users-bulk", ctx.fake.url()))
        .json(&json!({"accountIds": ["a"]}))
        .send()
        .await?;
    assert!(response.headers()["content-type"]
        .to_str()?
        .starts_with("application/json"));
    let body: Value = response.json().await?;
    assert_eq!(body["code"], 401);
    assert!(body["message"].is_string());
    Ok(())
}

#[tokio::test]
async fn users_bulk_site_path_takes_basic_and_refuses_bearer() -> anyhow::Result<()> {
    let ctx = start().await?;
    let c = &ctx.creds;
    let url = format!("{}/wiki/api/v2/users-bulk", ctx.fake.url());
    let body = json!({"accountIds": [MANAGED_VISIBLE]});
    assert_eq!(
        ctx.users_bulk_site(&[MANAGED_VISIBLE])
            .send()
            .await?
            .status(),
        200
    );
    for bearer in [&c.bearer_token, &c.app_token, &c.admin_api_key] {
        let r = ctx
            .http
            .post(&url)
            .bearer_auth(bearer)
            .json(&body)
            .send()
            .await?;
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    }
    let wrong = ctx.http.post(&url).basic_auth(&c.site_email, Some("wrong"));
    assert_eq!(wrong.json(&body).send().await?.status(), 401);
    assert_eq!(ctx.http.post(&url).json(&body).send().await?.status(), 401);
    Ok(())
}

#[tokio::test]
async fn users_bulk_gateway_takes_bearer_and_checks_cloud_id() -> anyhow::Result<()> {
    let ctx = start().await?;
    let c = &ctx.creds;
    let body = json!({"accountIds": [MANAGED_VISIBLE]});
    assert_eq!(
        ctx.users_bulk_gateway(&[MANAGED_VISIBLE])
            .send()
            .await?
            .status(),
        200
    );
    let url = format!("{}/wiki/api/v2/users-bulk", ctx.gateway());
    let basic = ctx
        .http
        .post(&url)
        .basic_auth(&c.site_email, Some(&c.site_api_token));
    assert_eq!(basic.json(&body).send().await?.status(), 401);
    let wrong_cloud = format!(
        "{}/ex/confluence/nope/wiki/api/v2/users-bulk",
        ctx.fake.url()
    );
    let r = ctx
        .http
        .post(wrong_cloud)
        .bearer_auth(&c.bearer_token)
        .json(&body);
    assert_eq!(r.send().await?.status(), StatusCode::NOT_FOUND);
    Ok(())
}

#[tokio::test]
async fn anything_else_is_404() -> anyhow::Result<()> {
    let ctx = start().await?;
    let c = &ctx.creds;
    let url = ctx.fake.url();
    let get_bulk = ctx.http.get(format!("{url}/wiki/api/v2/users-bulk"));
    let get_bulk = get_bulk.basic_auth(&c.site_email, Some(&c.site_api_token));
    assert_eq!(get_bulk.send().await?.status(), StatusCode::NOT_FOUND);
    assert_eq!(ctx.http.get(format!("{url}/")).send().await?.status(), 404);
    let v1 = ctx
        .http
        .get(format!("{url}/wiki/rest/api/user?accountId=x"));
    assert_eq!(v1.send().await?.status(), 404);
    Ok(())
}
