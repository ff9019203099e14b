//! Admin search `limit`: an integer from 1 to 100.

use fake_atlassian::Directory;
use serde_json::{json, Value};

use super::assert_admin_400;
use crate::support::{ids_of, start_with};

#[tokio::test]
async fn accepts_1_to_100() -> anyhow::Result<()> {
    let ctx = start_with(Directory::generated(150)).await?;
    for limit in [1, 100] {
        let r = ctx.admin(json!({"limit": limit})).send().await?;
        assert_eq!(r.status(), 200);
        let page: Value = r.json().await?;
        assert_eq!(ids_of(&page["data"]).len(), limit);
    }
    Ok(())
}

#[tokio::test]
async fn rejects_out_of_range_and_non_integers() -> anyhow::Result<()> {
    let ctx = start_with(Directory::generated(5)).await?;
    for limit in [
        json!(0),
        json!(101),
        json!(200),
        json!(-1),
        json!(1.5),
        json!("10"),
        json!(null),
    ] {
        let r = ctx.admin(json!({"limit": limit})).send().await?;
        assert_admin_400(r, &limit.to_string()).await?;
    }
    Ok(())
}
