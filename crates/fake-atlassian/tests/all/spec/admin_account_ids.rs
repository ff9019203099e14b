//! Admin search `accountIds`: an array of 1 to 10 strings (`minItems 1, maxItems 10`).

use serde_json::{json, Value};

use super::assert_admin_400;
use crate::support::{ids_of, start_with};
use fake_atlassian::Directory;

fn ids(n: usize) -> Vec<String> {
    (0..n)
        .map(|i| format!("557058:00000000-0000-0000-0000-{i:012}"))
        .collect()
}

#[tokio::test]
async fn accepts_1_to_10_ids() -> anyhow::Result<()> {
    let ctx = start_with(Directory::generated(20)).await?;
    for n in [1, 10] {
        let r = ctx.admin(json!({"accountIds": ids(n)})).send().await?;
        assert_eq!(r.status(), 200, "{n} ids");
        let body: Value = r.json().await?;
        assert_eq!(ids_of(&body["data"]), ids(n), "{n} ids");
    }
    Ok(())
}

#[tokio::test]
async fn rejects_0_or_11_ids_and_non_strings() -> anyhow::Result<()> {
    let ctx = start_with(Directory::generated(20)).await?;
    for (body, what) in [
        (json!({"accountIds": []}), "no ids"),
        (json!({"accountIds": ids(11)}), "11 ids"),
        (json!({"accountIds": ids(50)}), "50 ids"),
        (json!({"accountIds": ["a", 1]}), "a number"),
        (json!({"accountIds": [null]}), "null"),
        (json!({"accountIds": "a"}), "not an array"),
    ] {
        assert_admin_400(ctx.admin(body).send().await?, what).await?;
    }
    Ok(())
}
