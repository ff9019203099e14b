//! The paged `users-bulk` knob: at most N results an answer, with `_links.next` and a
//! `Link: <...>; rel="next"` header while more of the asked ids are known.

use fake_atlassian::Directory;
use serde_json::Value;

use crate::support::{ids_of, start_with};

#[tokio::test]
async fn pages_n_results_with_next_links_until_the_rest_is_asked() -> anyhow::Result<()> {
    let ctx = start_with(Directory::generated(7)).await?;
    ctx.fake.set_users_bulk_page_cap(Some(3));
    let all: Vec<String> = ctx
        .fake
        .directory()
        .users
        .iter()
        .map(|u| u.account_id.clone())
        .collect();
    let mut asking: Vec<String> = all.iter().cloned().chain(["unknown".into()]).collect();
    let mut pages = Vec::new();
    loop {
        let refs: Vec<&str> = asking.iter().map(String::as_str).collect();
        let r = ctx.users_bulk_site(&refs).send().await?;
        assert_eq!(r.status(), 200);
        let link = r
            .headers()
            .get("link")
            .map(|v| v.to_str().unwrap_or_default().to_owned());
        let body: Value = r.json().await?;
        let got = ids_of(&body["results"]);
        let next = body["_links"].get("next").cloned();
        pages.push(got.len());
        match next {
            Some(next) => {
                let next = next.as_str().expect("a relative URL");
                assert!(next.starts_with("/wiki/api/v2/users-bulk"), "{next}");
                assert_eq!(link, Some(format!("<{next}>; rel=\"next\"")));
                asking.retain(|id| !got.contains(id));
            }
            None => {
                assert_eq!(link, None);
                break;
            }
        }
    }
    assert_eq!(pages, [3, 3, 1]);
    ctx.fake.set_users_bulk_page_cap(None);
    let refs: Vec<&str> = all.iter().map(String::as_str).collect();
    let body: Value = ctx.users_bulk_site(&refs).send().await?.json().await?;
    assert_eq!(ids_of(&body["results"]).len(), 7);
    Ok(())
}
