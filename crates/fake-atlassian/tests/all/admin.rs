//! Admin search: the managed filter, filtering, limits and cursor pagination. (Each published
//! constraint also has its own file under `spec/`.)

use fake_atlassian::{Directory, Endpoint};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{
    ids_of, start, start_with, MANAGED_HIDDEN, MANAGED_VISIBLE, UNMANAGED_HIDDEN, UNMANAGED_VISIBLE,
};

#[tokio::test]
async fn managed_filter_returns_managed_users_with_email_whatever_visibility() -> anyhow::Result<()>
{
    let ctx = start().await?;
    let body: Value = ctx
        .admin(json!({"claimStatus": "managed"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(ids_of(&body["data"]), [MANAGED_VISIBLE, MANAGED_HIDDEN]);
    let hidden = &body["data"][1];
    assert_eq!(hidden["email"], "mh@example.com");
    assert_eq!(hidden["emailVerified"], true);
    assert_eq!(hidden["claimStatus"], "managed");
    assert_eq!(hidden["accountStatus"], "active");
    assert_eq!(hidden["name"], "mh");
    assert_eq!(body["links"], json!({}));
    Ok(())
}

#[tokio::test]
async fn filters_by_account_ids_in_directory_order() -> anyhow::Result<()> {
    let ctx = start().await?;
    let ids = [
        UNMANAGED_HIDDEN,
        MANAGED_HIDDEN,
        "unknown",
        UNMANAGED_VISIBLE,
        MANAGED_VISIBLE,
    ];
    let body: Value = ctx
        .admin(json!({"accountIds": ids, "claimStatus": "managed"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(ids_of(&body["data"]), [MANAGED_VISIBLE, MANAGED_HIDDEN]);
    Ok(())
}

#[tokio::test]
async fn page_cap_forces_pagination_and_last_page_has_no_next() -> anyhow::Result<()> {
    // generated(10): managed users are those with i % 3 != 1: 0, 2, 3, 5, 6, 8, 9.
    let ctx = start_with(Directory::generated(10)).await?;
    ctx.fake.set_admin_page_cap(Some(3));
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut body = json!({"limit": 50, "claimStatus": "managed"});
        if let Some(c) = &cursor {
            body["cursor"] = json!(c);
        }
        let page: Value = ctx.admin(body).send().await?.json().await?;
        let ids = ids_of(&page["data"]);
        sizes.push(ids.len());
        seen.extend(ids);
        match page["links"].get("next") {
            Some(next) => cursor = Some(next.as_str().unwrap_or_default().to_owned()),
            None => break,
        }
    }
    assert_eq!(sizes, [3, 3, 1]);
    let expected: Vec<String> = [0, 2, 3, 5, 6, 8, 9]
        .iter()
        .map(|i| format!("557058:00000000-0000-0000-0000-{i:012}"))
        .collect();
    assert_eq!(seen, expected);
    let cursors: Vec<Option<String>> = ctx.fake.requests().into_iter().map(|r| r.cursor).collect();
    assert_eq!(cursors.len(), 3);
    assert!(cursors[0].is_none() && cursors[1].is_some() && cursors[2].is_some());
    assert_eq!(ctx.fake.request_count(Endpoint::AdminSearch), 3);
    Ok(())
}

#[tokio::test]
async fn limit_below_cap_sets_the_page_and_cursor_repeats_account_ids() -> anyhow::Result<()> {
    let ctx = start_with(Directory::generated(10)).await?;
    let ids: Vec<String> = (0..10)
        .map(|i| format!("557058:00000000-0000-0000-0000-{i:012}"))
        .collect();
    let first: Value = ctx
        .admin(json!({"accountIds": ids, "limit": 4, "claimStatus": "managed"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(ids_of(&first["data"]).len(), 4);
    let next = first["links"]["next"].clone();
    let body = json!({"accountIds": ids, "limit": 4, "cursor": next, "claimStatus": "managed"});
    let second: Value = ctx.admin(body).send().await?.json().await?;
    assert_eq!(ids_of(&second["data"]).len(), 3);
    assert!(second["links"].get("next").is_none());
    Ok(())
}

#[tokio::test]
async fn default_limit_is_50() -> anyhow::Result<()> {
    let ctx = start_with(Directory::generated(120)).await?;
    let managed = json!({"claimStatus": "managed"});
    let page: Value = ctx.admin(managed).send().await?.json().await?;
    assert_eq!(ids_of(&page["data"]).len(), 50);
    assert!(page["links"]["next"].is_string());
    let page: Value = ctx
        .admin(json!({"limit": 100, "claimStatus": "managed"}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(ids_of(&page["data"]).len(), 80);
    assert!(page["links"].get("next").is_none());
    Ok(())
}

#[tokio::test]
async fn rejects_bad_limit_cursor_and_json() -> anyhow::Result<()> {
    let ctx = start().await?;
    for body in [
        json!({"limit": 0}),
        json!({"limit": 101}),
        json!({"limit": -1}),
        json!({"limit": "10"}),
        json!({"cursor": "not-a-cursor"}),
        json!({"accountIds": "x"}),
    ] {
        let status = ctx.admin(body.clone()).send().await?.status();
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let raw = ctx
        .http
        .post(ctx.admin_url())
        .bearer_auth(&ctx.creds.admin_api_key)
        .body("{not json");
    assert_eq!(raw.send().await?.status(), 400);
    Ok(())
}
