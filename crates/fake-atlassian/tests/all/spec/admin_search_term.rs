//! Admin search `searchTerm` and `emails` are mutually exclusive: both give 400.

use serde_json::{json, Value};

use super::assert_admin_400;
use crate::support::{ids_of, start, MANAGED_VISIBLE};

#[tokio::test]
async fn search_term_with_emails_is_400() -> anyhow::Result<()> {
    let ctx = start().await?;
    let body = json!({"searchTerm": "mv", "emails": ["mv@example.com"]});
    assert_admin_400(ctx.admin(body).send().await?, "both").await
}

#[tokio::test]
async fn each_alone_is_accepted_and_filters() -> anyhow::Result<()> {
    let ctx = start().await?;
    for body in [
        json!({"searchTerm": "mv"}),
        json!({"emails": ["mv@example.com"]}),
    ] {
        let r = ctx.admin(body.clone()).send().await?;
        assert_eq!(r.status(), 200, "{body}");
        let page: Value = r.json().await?;
        assert_eq!(ids_of(&page["data"]), [MANAGED_VISIBLE], "{body}");
    }
    Ok(())
}
