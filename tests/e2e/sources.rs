//! Each source alone and the chain, chunking and pagination, checked against the exact upstream
//! traffic the fake recorded.

use anyhow::Result;
use fake_atlassian::{AuthKind, Directory, Endpoint};

use crate::support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_source_alone_resolves_managed_accounts_whatever_their_visibility() -> Result<()> {
    let env = Env::start(Sources::Admin, &[]).await?;
    let ids = env.ids();
    let body = env.lookup_all_expecting(Sources::Admin).await?;
    assert!(env
        .directory
        .users
        .iter()
        .any(|u| u.managed && u.is_hidden()));
    assert_eq!(body.as_array().unwrap().len(), 16);
    // 32 ids, at most 10 a call (the published maximum), each asking the largest page.
    let requests = env.fake.requests();
    assert_eq!(requests.len(), 4);
    let mut chunks: Vec<Vec<String>> = Vec::new();
    for r in &requests {
        assert_eq!(r.endpoint, Some(Endpoint::AdminSearch));
        assert_eq!(r.auth, AuthKind::Bearer);
        assert_eq!(r.limit, Some(100));
        chunks.push(r.account_ids.clone());
    }
    chunks.sort_by_key(|c| ids.iter().position(|id| *id == c[0]));
    assert_eq!(
        chunks.concat(),
        ids,
        "every id once, in chunks of 10, 10, 10, 2"
    );
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluence_basic_alone_resolves_visible_emails_only() -> Result<()> {
    let env = Env::start(Sources::Basic, &[]).await?;
    let body = env.lookup_all_expecting(Sources::Basic).await?;
    assert_eq!(body.as_array().unwrap().len(), 16);
    let requests = env.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(requests[0].endpoint, Some(Endpoint::UsersBulk));
    assert_eq!(requests[0].path, "/wiki/api/v2/users-bulk");
    assert_eq!(requests[0].auth, AuthKind::Basic);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluence_bearer_goes_through_ex_confluence_cloud_id() -> Result<()> {
    let env = Env::start(Sources::Bearer, &[]).await?;
    env.lookup_all_expecting(Sources::Bearer).await?;
    let requests = env.fake.requests();
    assert_eq!(requests.len(), 1);
    let cloud_id = &env.fake.credentials().cloud_id;
    assert_eq!(
        requests[0].path,
        format!("/ex/confluence/{cloud_id}/wiki/api/v2/users-bulk")
    );
    assert_eq!(requests[0].auth, AuthKind::Bearer);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chain_asks_confluence_only_for_what_admin_left_unresolved() -> Result<()> {
    // Admin first is an explicit order now (auto asks Confluence first: published.rs).
    let env = Env::start(Sources::Chain, &[("email_sources", "admin,confluence")]).await?;
    env.lookup_all_expecting(Sources::Chain).await?;
    let requests = env.fake.requests();
    assert_eq!(requests.len(), 5);
    assert!(requests[..4]
        .iter()
        .all(|r| r.endpoint == Some(Endpoint::AdminSearch)));
    let bulk = &requests[4];
    assert_eq!(bulk.endpoint, Some(Endpoint::UsersBulk));
    let unmanaged: Vec<String> = env
        .directory
        .users
        .iter()
        .filter(|u| !u.managed)
        .map(|u| u.account_id.clone())
        .collect();
    assert_eq!(bulk.account_ids, unmanaged);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn explicit_source_order_is_followed() -> Result<()> {
    let env = Env::start(Sources::Chain, &[("email_sources", "confluence,admin")]).await?;
    env.lookup_all_expecting(Sources::Chain).await?;
    let requests = env.fake.requests();
    assert_eq!(requests[0].endpoint, Some(Endpoint::UsersBulk));
    assert_eq!(requests[1].endpoint, Some(Endpoint::AdminSearch));
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_ids_take_the_minimum_number_of_calls() -> Result<()> {
    let directory = Directory::generated(1000);
    // Admin first, explicitly (auto's order: published.rs).
    let env = Env::with_directory(
        directory,
        Sources::Chain,
        &[("email_sources", "admin,confluence")],
    )
    .await?;
    let ids = env.ids();
    env.lookup_all_expecting(Sources::Chain).await?;
    // Admin: 1000 / 10 = 100 calls; Confluence: the 333 unmanaged ids / 250 = 2 calls.
    let admin = env.requests_to(Endpoint::AdminSearch);
    let bulk = env.requests_to(Endpoint::UsersBulk);
    assert_eq!((admin.len(), bulk.len()), (100, 2));
    assert!(admin.iter().all(|r| r.account_ids.len() == 10));
    let mut sizes: Vec<usize> = bulk.iter().map(|r| r.account_ids.len()).collect();
    sizes.sort();
    assert_eq!(sizes, vec![83, 250]);
    let mut asked: Vec<String> = admin.iter().flat_map(|r| r.account_ids.clone()).collect();
    asked.sort();
    let mut all = ids.clone();
    all.sort();
    assert_eq!(asked, all, "each id asked of admin exactly once");
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn confluence_alone_chunks_at_250() -> Result<()> {
    let env = Env::with_directory(Directory::generated(1000), Sources::Basic, &[]).await?;
    env.lookup_all_expecting(Sources::Basic).await?;
    let requests = env.fake.requests();
    assert_eq!(requests.len(), 4);
    assert!(requests.iter().all(|r| r.account_ids.len() == 250));
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_pagination_follows_links_next() -> Result<()> {
    let env = Env::with_directory(Directory::generated(100), Sources::Admin, &[]).await?;
    env.fake.set_admin_page_cap(Some(4));
    env.lookup_all_expecting(Sources::Admin).await?;
    // Ten chunks of 10 ids, all known (the search without claimStatus returns unmanaged
    // accounts too): pages of 4, 4 and 2 each.
    let requests = env.fake.requests();
    assert_eq!(requests.len(), 30);
    let follow_ups: Vec<_> = requests.iter().filter(|r| r.cursor.is_some()).collect();
    assert_eq!(follow_ups.len(), 20);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scoped_api_token_goes_basic_through_ex_confluence_cloud_id() -> Result<()> {
    // A scoped API token (user or service account) is Basic email:token, accepted only through
    // the gateway; the site URL refuses it.
    let fake = fake(Directory::demo()).await?;
    let c = fake.credentials().clone();
    let server = serve(vec![
        ("api_key".into(), KEY.into()),
        ("atlassian_api_url".into(), fake.url()),
        ("allow_loopback_http".into(), "true".into()),
        ("confluence_email".into(), c.site_email.clone()),
        ("confluence_api_token".into(), c.scoped_api_token.clone()),
        ("confluence_cloud_id".into(), c.cloud_id.clone()),
    ])
    .await?;
    let env = Env {
        fake,
        server,
        client: reqwest::Client::new(),
        directory: Directory::demo(),
        never_logged: Vec::new(),
    };
    env.lookup_all_expecting(Sources::Bearer).await?;
    let requests = env.fake.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].path,
        format!("/ex/confluence/{}/wiki/api/v2/users-bulk", c.cloud_id)
    );
    assert_eq!(requests[0].auth, AuthKind::Basic);
    env.finish().await
}
