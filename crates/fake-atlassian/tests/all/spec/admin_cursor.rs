//! Admin search `cursor`: only a value from a previous page's `links.next`; anything else, even
//! a well-formed cursor this server never handed out, is 400.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use fake_atlassian::Directory;
use serde_json::{json, Value};

use super::assert_admin_400;
use crate::support::start_with;

#[tokio::test]
async fn an_issued_cursor_is_accepted() -> anyhow::Result<()> {
    let ctx = start_with(Directory::generated(5)).await?;
    let first: Value = ctx.admin(json!({"limit": 2})).send().await?.json().await?;
    let next = first["links"]["next"].as_str().expect("a next cursor");
    let r = ctx
        .admin(json!({"limit": 2, "cursor": next}))
        .send()
        .await?;
    assert_eq!(r.status(), 200);
    Ok(())
}

#[tokio::test]
async fn a_cursor_never_issued_is_400() -> anyhow::Result<()> {
    let ctx = start_with(Directory::generated(5)).await?;
    let first: Value = ctx.admin(json!({"limit": 2})).send().await?.json().await?;
    let issued = first["links"]["next"].as_str().expect("a next cursor");
    // Same format as an issued one, another serial: forged.
    let decoded = String::from_utf8(URL_SAFE_NO_PAD.decode(issued)?)?;
    let (prefix, offset) = decoded.rsplit_once(':').expect("serial:offset");
    let (head, _serial) = prefix.rsplit_once('=').expect("prefix=serial");
    let forged = URL_SAFE_NO_PAD.encode(format!("{head}=999999:{offset}"));
    for cursor in [json!(forged), json!("not-a-cursor"), json!(""), json!(7)] {
        let r = ctx
            .admin(json!({"limit": 2, "cursor": cursor}))
            .send()
            .await?;
        assert_admin_400(r, &cursor.to_string()).await?;
    }
    Ok(())
}
