//! Shared setup: a fake on 127.0.0.1:0, a reqwest client and request builders per credential.

use std::time::Duration;

use fake_atlassian::{Credentials, Directory, FakeAtlassian, User, Visibility};
use reqwest::{Client, RequestBuilder};
use serde_json::{json, Value};

pub const MANAGED_VISIBLE: &str = "5b10ac8d82e05b22cc7d4ef5";
pub const MANAGED_HIDDEN: &str = "557058:0b1c2d3e-0000-4000-8000-000000000001";
pub const UNMANAGED_VISIBLE: &str = "712020:0b1c2d3e-0000-4000-8000-000000000002";
pub const UNMANAGED_HIDDEN: &str = "qm:0b1c2d3e-0000-4000-8000-000000000003:deadbeef";
/// Ids with characters clients must send exactly.
pub const ODD_IDS: [&str; 4] = ["id\"with\"quotes", "a/b", "a%2Fb", "ünï-cødé-🙂"];

fn user(id: &str, email: &str, managed: bool, visibility: Visibility) -> User {
    User {
        managed,
        visibility,
        ..User::new(id, email)
    }
}

/// Four users, one per managed/visibility combination, then the odd ids (unmanaged, visible).
pub fn small_directory() -> Directory {
    let mut users = vec![
        user(MANAGED_VISIBLE, "mv@example.com", true, Visibility::Visible),
        user(MANAGED_HIDDEN, "mh@example.com", true, Visibility::Hidden),
        user(
            UNMANAGED_VISIBLE,
            "uv@example.org",
            false,
            Visibility::Visible,
        ),
        user(
            UNMANAGED_HIDDEN,
            "uh@example.org",
            false,
            Visibility::Hidden,
        ),
    ];
    for (i, id) in ODD_IDS.iter().enumerate() {
        users.push(user(
            id,
            &format!("odd{i}@example.org"),
            false,
            Visibility::Visible,
        ));
    }
    Directory { users }
}

pub struct Ctx {
    pub fake: FakeAtlassian,
    pub http: Client,
    pub creds: Credentials,
}

pub async fn start() -> anyhow::Result<Ctx> {
    start_with(small_directory()).await
}

pub async fn start_with(directory: Directory) -> anyhow::Result<Ctx> {
    let fake =
        FakeAtlassian::start("127.0.0.1:0".parse()?, directory, Credentials::default()).await?;
    let http = Client::builder().timeout(Duration::from_secs(5)).build()?;
    let creds = fake.credentials().clone();
    Ok(Ctx { fake, http, creds })
}

impl Ctx {
    /// `GET /__control/<path>` on the fake's HTTP control API, its JSON answer decoded.
    pub async fn control_get<T: serde::de::DeserializeOwned>(
        &self,
        path: &str,
    ) -> anyhow::Result<T> {
        let url = format!("{}/__control/{path}", self.fake.url());
        Ok(self.http.get(url).send().await?.json().await?)
    }

    pub fn admin_url(&self) -> String {
        format!(
            "{}/admin/v2/orgs/{}/directories/-/users/search",
            self.fake.url(),
            self.creds.org_id
        )
    }

    pub fn gateway(&self) -> String {
        format!("{}/ex/confluence/{}", self.fake.url(), self.creds.cloud_id)
    }

    /// Admin search with the admin key.
    pub fn admin(&self, body: Value) -> RequestBuilder {
        self.http
            .post(self.admin_url())
            .bearer_auth(&self.creds.admin_api_key)
            .json(&body)
    }

    /// users-bulk on the site URL with the Basic site credential.
    pub fn users_bulk_site(&self, ids: &[&str]) -> RequestBuilder {
        self.http
            .post(format!("{}/wiki/api/v2/users-bulk", self.fake.url()))
            .basic_auth(&self.creds.site_email, Some(&self.creds.site_api_token))
            .json(&json!({ "accountIds": ids }))
    }

    /// users-bulk on the gateway with the bearer token.
    pub fn users_bulk_gateway(&self, ids: &[&str]) -> RequestBuilder {
        self.http
            .post(format!("{}/wiki/api/v2/users-bulk", self.gateway()))
            .bearer_auth(&self.creds.bearer_token)
            .json(&json!({ "accountIds": ids }))
    }

    /// `GET {base}/wiki/rest/api/user/email[/bulk]` with repeated `accountId`, no auth yet.
    pub fn email(&self, base: &str, bulk: bool, ids: &[&str]) -> RequestBuilder {
        let suffix = if bulk { "/bulk" } else { "" };
        let query: Vec<(&str, &str)> = ids.iter().map(|id| ("accountId", *id)).collect();
        self.http
            .get(format!("{base}/wiki/rest/api/user/email{suffix}"))
            .query(&query)
    }
}

/// The `accountId`s of a JSON array of objects, in order.
pub fn ids_of(items: &Value) -> Vec<String> {
    items
        .as_array()
        .map(|a| {
            a.iter()
                .map(|u| u["accountId"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}
