//! The privacy email API: apps only; bulk leaves unknown ids out, single answers 404.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{start, MANAGED_VISIBLE, UNMANAGED_HIDDEN};

#[tokio::test]
async fn only_the_app_token_may_read_emails() -> anyhow::Result<()> {
    let ctx = start().await?;
    let c = &ctx.creds;
    for base in [ctx.fake.url(), ctx.gateway()] {
        for bulk in [true, false] {
            let get = || ctx.email(&base, bulk, &[MANAGED_VISIBLE]);
            assert_eq!(get().bearer_auth(&c.app_token).send().await?.status(), 200);
            let basic = get().basic_auth(&c.site_email, Some(&c.site_api_token));
            let refused = basic.send().await?;
            assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
            let body: Value = refused.json().await?;
            assert_eq!(body["message"], "App is not approved to access email");
            assert_eq!(
                get().bearer_auth(&c.bearer_token).send().await?.status(),
                400
            );
            assert_eq!(
                get().bearer_auth(&c.admin_api_key).send().await?.status(),
                401
            );
            assert_eq!(get().bearer_auth("wrong").send().await?.status(), 401);
            assert_eq!(get().send().await?.status(), 401);
        }
    }
    Ok(())
}

#[tokio::test]
async fn bulk_returns_hidden_emails_and_leaves_unknown_out() -> anyhow::Result<()> {
    let ctx = start().await?;
    let ids = [UNMANAGED_HIDDEN, "unknown", MANAGED_VISIBLE];
    let r = ctx
        .email(&ctx.gateway(), true, &ids)
        .bearer_auth(&ctx.creds.app_token);
    let body: Value = r.send().await?.json().await?;
    assert_eq!(
        body,
        json!([
            {"accountId": MANAGED_VISIBLE, "email": "mv@example.com"},
            {"accountId": UNMANAGED_HIDDEN, "email": "uh@example.org"},
        ])
    );
    Ok(())
}

#[tokio::test]
async fn single_email_answers_or_404() -> anyhow::Result<()> {
    let ctx = start().await?;
    let app = &ctx.creds.app_token;
    let known = ctx
        .email(&ctx.fake.url(), false, &[UNMANAGED_HIDDEN])
        .bearer_auth(app);
    let body: Value = known.send().await?.json().await?;
    assert_eq!(
        body,
        json!({"accountId": UNMANAGED_HIDDEN, "email": "uh@example.org"})
    );
    let unknown = ctx
        .email(&ctx.fake.url(), false, &["nobody"])
        .bearer_auth(app);
    assert_eq!(unknown.send().await?.status(), StatusCode::NOT_FOUND);
    let missing = ctx.email(&ctx.fake.url(), false, &[]).bearer_auth(app);
    assert_eq!(missing.send().await?.status(), StatusCode::BAD_REQUEST);
    Ok(())
}
