//! Request recording: ids exactly as sent, auth kinds, statuses, never credentials.

use fake_atlassian::{AuthKind, Endpoint, RecordedRequest};
use serde_json::json;

use crate::support::{start, MANAGED_VISIBLE, ODD_IDS};

#[tokio::test]
async fn records_body_ids_exactly_as_sent() -> anyhow::Result<()> {
    let ctx = start().await?;
    let mut ids: Vec<&str> = ODD_IDS.to_vec();
    ids.push(MANAGED_VISIBLE);
    ids.push(MANAGED_VISIBLE);
    let r = ctx.users_bulk_gateway(&ids).send().await?;
    let body: serde_json::Value = r.json().await?;
    assert_eq!(body["results"].as_array().map(Vec::len), Some(5));
    let admin_ids = ["a/b", "id\"with\"quotes"];
    ctx.admin(json!({"accountIds": admin_ids, "limit": 7}))
        .send()
        .await?;
    let records = ctx.fake.requests();
    assert_eq!(
        records[0],
        RecordedRequest {
            endpoint: Some(Endpoint::UsersBulk),
            method: "POST".into(),
            path: format!(
                "/ex/confluence/{}/wiki/api/v2/users-bulk",
                ctx.creds.cloud_id
            ),
            account_ids: ids.iter().map(|s| s.to_string()).collect(),
            auth: AuthKind::Bearer,
            limit: None,
            cursor: None,
            status: 200,
            fault: None,
            chunked: false,
        }
    );
    assert_eq!(records[1].account_ids, admin_ids);
    assert_eq!(records[1].limit, Some(7));
    Ok(())
}

#[tokio::test]
async fn records_query_ids_decoded() -> anyhow::Result<()> {
    let ctx = start().await?;
    let r = ctx
        .email(&ctx.fake.url(), true, &ODD_IDS)
        .bearer_auth(&ctx.creds.app_token);
    let body: serde_json::Value = r.send().await?.json().await?;
    assert_eq!(
        body.as_array().map(Vec::len),
        Some(4),
        "every odd id resolves"
    );
    let single = ctx
        .email(&ctx.fake.url(), false, &["a%2Fb"])
        .bearer_auth(&ctx.creds.app_token);
    let body: serde_json::Value = single.send().await?.json().await?;
    assert_eq!(body["accountId"], "a%2Fb");
    let records = ctx.fake.requests();
    assert_eq!(records[0].account_ids, ODD_IDS);
    assert_eq!(records[0].endpoint, Some(Endpoint::EmailBulk));
    assert_eq!(records[1].account_ids, ["a%2Fb"]);
    Ok(())
}

#[tokio::test]
async fn records_auth_kind_status_and_404s_but_never_secrets() -> anyhow::Result<()> {
    let ctx = start().await?;
    let url = format!("{}/wiki/api/v2/users-bulk", ctx.fake.url());
    let body = json!({"accountIds": [MANAGED_VISIBLE]});
    ctx.http.post(&url).json(&body).send().await?;
    ctx.http
        .post(&url)
        .header("authorization", "Token abc")
        .json(&body)
        .send()
        .await?;
    ctx.http
        .post(&url)
        .bearer_auth(&ctx.creds.bearer_token)
        .json(&body)
        .send()
        .await?;
    ctx.users_bulk_site(&[MANAGED_VISIBLE]).send().await?;
    ctx.http
        .get(format!("{}/nowhere?accountId=x", ctx.fake.url()))
        .send()
        .await?;
    let records = ctx.fake.requests();
    let kinds: Vec<AuthKind> = records.iter().map(|r| r.auth).collect();
    assert_eq!(
        kinds,
        [
            AuthKind::None,
            AuthKind::Other,
            AuthKind::Bearer,
            AuthKind::Basic,
            AuthKind::None
        ]
    );
    let statuses: Vec<u16> = records.iter().map(|r| r.status).collect();
    assert_eq!(statuses, [401, 401, 401, 200, 404]);
    assert_eq!(records[4].endpoint, None);
    assert_eq!(records[4].path, "/nowhere");
    assert_eq!(ctx.fake.request_count(Endpoint::UsersBulk), 4);
    assert_eq!(ctx.fake.request_count(Endpoint::Any), 4);
    let dump = format!("{records:?} {}", serde_json::to_string(&records)?);
    for secret in [
        ctx.creds.bearer_token.as_str(),
        ctx.creds.site_api_token.as_str(),
        "abc",
    ] {
        assert!(
            !dump.contains(secret),
            "a credential leaked into the record"
        );
    }
    ctx.fake.clear_requests();
    assert!(ctx.fake.requests().is_empty());
    Ok(())
}
