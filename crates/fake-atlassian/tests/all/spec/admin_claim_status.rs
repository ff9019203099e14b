//! Admin search `claimStatus`: absent returns managed *and* unmanaged accounts (unmanaged ones
//! without an email); `managed` / `unmanaged` filter; any other value is 400.

use serde_json::{json, Value};

use super::assert_admin_400;
use crate::support::{
    ids_of, start, MANAGED_HIDDEN, MANAGED_VISIBLE, UNMANAGED_HIDDEN, UNMANAGED_VISIBLE,
};

const FOUR: [&str; 4] = [
    MANAGED_VISIBLE,
    MANAGED_HIDDEN,
    UNMANAGED_VISIBLE,
    UNMANAGED_HIDDEN,
];

#[tokio::test]
async fn without_claim_status_unmanaged_accounts_come_back_without_email() -> anyhow::Result<()> {
    let ctx = start().await?;
    let page: Value = ctx
        .admin(json!({"accountIds": FOUR}))
        .send()
        .await?
        .json()
        .await?;
    assert_eq!(ids_of(&page["data"]), FOUR);
    for row in page["data"].as_array().into_iter().flatten() {
        let managed = row["claimStatus"] == "managed";
        assert!(managed || row["claimStatus"] == "unmanaged", "{row}");
        assert_eq!(row.get("email").is_some(), managed, "{row}");
    }
    Ok(())
}

#[tokio::test]
async fn claim_status_filters() -> anyhow::Result<()> {
    let ctx = start().await?;
    for (claim, expected) in [
        ("managed", [MANAGED_VISIBLE, MANAGED_HIDDEN]),
        ("unmanaged", [UNMANAGED_VISIBLE, UNMANAGED_HIDDEN]),
    ] {
        let page: Value = ctx
            .admin(json!({"accountIds": FOUR, "claimStatus": claim}))
            .send()
            .await?
            .json()
            .await?;
        assert_eq!(ids_of(&page["data"]), expected, "{claim}");
    }
    let r = ctx.admin(json!({"claimStatus": "owned"})).send().await?;
    assert_admin_400(r, "owned").await
}
