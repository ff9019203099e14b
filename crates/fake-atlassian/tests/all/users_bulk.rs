//! Confluence v2 users-bulk: id count bounds, hidden emails, unknown ids.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{
    ids_of, start, MANAGED_HIDDEN, MANAGED_VISIBLE, UNMANAGED_HIDDEN, UNMANAGED_VISIBLE,
};

#[tokio::test]
async fn accepts_1_to_250_ids() -> anyhow::Result<()> {
    let ctx = start().await?;
    let many: Vec<String> = (0..251).map(|i| format!("id-{i}")).collect();
    let refs: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        ctx.users_bulk_site(&[]).send().await?.status(),
        StatusCode::BAD_REQUEST
    );
    assert_eq!(ctx.users_bulk_site(&refs).send().await?.status(), 400);
    assert_eq!(
        ctx.users_bulk_site(&refs[..250]).send().await?.status(),
        200
    );
    assert_eq!(ctx.users_bulk_site(&refs[..1]).send().await?.status(), 200);
    Ok(())
}

#[tokio::test]
async fn rejects_missing_ids_and_bad_json() -> anyhow::Result<()> {
    let ctx = start().await?;
    let c = &ctx.creds;
    let url = format!("{}/wiki/api/v2/users-bulk", ctx.fake.url());
    for body in ["{}", "{not json", "", r#"{"accountIds": [1, 2]}"#] {
        let r = ctx
            .http
            .post(&url)
            .basic_auth(&c.site_email, Some(&c.site_api_token))
            .header("content-type", "application/json")
            .body(body);
        assert_eq!(r.send().await?.status(), StatusCode::BAD_REQUEST, "{body}");
    }
    Ok(())
}

#[tokio::test]
async fn hidden_email_is_empty_and_unknown_ids_are_missing() -> anyhow::Result<()> {
    let ctx = start().await?;
    let ids = [
        UNMANAGED_HIDDEN,
        "unknown",
        MANAGED_HIDDEN,
        UNMANAGED_VISIBLE,
        MANAGED_VISIBLE,
    ];
    for request in [ctx.users_bulk_site(&ids), ctx.users_bulk_gateway(&ids)] {
        let body: Value = request.send().await?.json().await?;
        let results = &body["results"];
        assert_eq!(
            ids_of(results),
            [
                MANAGED_VISIBLE,
                MANAGED_HIDDEN,
                UNMANAGED_VISIBLE,
                UNMANAGED_HIDDEN
            ]
        );
        let emails: Vec<&str> = results
            .as_array()
            .into_iter()
            .flatten()
            .map(|u| u["email"].as_str().unwrap_or("?"))
            .collect();
        assert_eq!(emails, ["mv@example.com", "", "uv@example.org", ""]);
        assert_eq!(body["_links"], json!({}));
        let first = &results[0];
        assert_eq!(first["accountType"], "atlassian");
        assert_eq!(first["accountStatus"], "active");
        assert_eq!(first["displayName"], "mv");
        assert_eq!(first["publicName"], "mv");
        assert_eq!(first["timeZone"], "Etc/UTC");
        assert_eq!(first["isExternalCollaborator"], false);
    }
    Ok(())
}
