//! The fake's user directory and the credentials it accepts.
//!
//! A [`Directory`] is the whole truth the fake serves: which accounts exist, which are *managed*
//! (on the organization's verified domain, so the admin API returns their email) and which hid
//! their email (so the Confluence user API answers `""`). Its JSON form is the `--directory`
//! file format:
//!
//! ```json
//! {"users": [{"accountId": "5b10ac8d82e05b22cc7d4ef5", "email": "ada@example.com",
//!             "visibility": "visible", "managed": true, "accountStatus": "active",
//!             "displayName": "Ada"}]}
//! ```
//!
//! Defaults: `visibility` "visible", `managed` false, `accountStatus` "active", `displayName`
//! the local part of the email. Account ids must be unique and non-empty.

use std::collections::HashSet;
use std::path::Path;

use anyhow::{bail, Context};
use serde::{Deserialize, Serialize};

/// Whether a user's profile lets the Confluence user API show their email.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    /// The Confluence user API returns the email.
    #[default]
    Visible,
    /// The Confluence user API returns `""` as the email.
    Hidden,
}

/// One Atlassian account in the fake directory.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The opaque account id.
    pub account_id: String,
    /// The account's email address.
    pub email: String,
    /// Profile visibility of the email (default visible).
    #[serde(default)]
    pub visibility: Visibility,
    /// Whether the organization manages the account (default false).
    #[serde(default)]
    pub managed: bool,
    /// `active`, `inactive`, `closed` or `unknown` (default `active`).
    #[serde(default = "default_account_status")]
    pub account_status: String,
    /// Display name; when absent, the local part of the email.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
}

fn default_account_status() -> String {
    "active".to_owned()
}

impl User {
    /// A visible, unmanaged, active user with no explicit display name.
    pub fn new(account_id: impl Into<String>, email: impl Into<String>) -> User {
        User {
            account_id: account_id.into(),
            email: email.into(),
            visibility: Visibility::Visible,
            managed: false,
            account_status: default_account_status(),
            display_name: None,
        }
    }

    /// The display name, or the local part of the email when none is set.
    pub fn name(&self) -> String {
        match &self.display_name {
            Some(name) => name.clone(),
            None => self.email.split('@').next().unwrap_or_default().to_owned(),
        }
    }

    /// True when the user hid their email from the Confluence user API.
    pub fn is_hidden(&self) -> bool {
        self.visibility == Visibility::Hidden
    }
}

/// The users the fake knows, in a fixed order ("directory order").
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Directory {
    /// Every known account, in directory order.
    pub users: Vec<User>,
}

/// The first names the demo directory is built from.
const DEMO_NAMES: [&str; 32] = [
    "ada",
    "grace",
    "alan",
    "edsger",
    "barbara",
    "donald",
    "margaret",
    "ken",
    "dennis",
    "frances",
    "john",
    "radia",
    "tim",
    "hedy",
    "claude",
    "katherine",
    "linus",
    "guido",
    "bjarne",
    "anita",
    "leslie",
    "shafi",
    "niklaus",
    "adele",
    "robin",
    "tony",
    "fran",
    "jean",
    "sophie",
    "whitfield",
    "ivan",
    "mary",
];

/// Index of the one inactive user in [`Directory::demo`] (`donald`, managed and hidden).
const DEMO_INACTIVE: usize = 5;

fn demo_uuid(i: usize) -> String {
    format!("0c1f{i:04x}-7d2e-4a3b-9c4d-{:012x}", 0x5e6f_7a8b_9c00 + i)
}

impl Directory {
    /// A fixed demo directory of 32 users.
    ///
    /// User `i` (0-based, names from a fixed list starting with `ada`) is:
    /// - by `i % 4`: 0 managed+visible, 1 managed+hidden, 2 unmanaged+visible,
    ///   3 unmanaged+hidden (no reachable email);
    /// - by `(i / 4) % 4`, its id style: 24 hex digits (`ada` is `5b10ac8d82e05b22cc7d4ef5`),
    ///   `557058:<uuid>`, `712020:<uuid>`, `qm:<uuid>:<hex>`;
    /// - managed users are on `example.com`, unmanaged ones on `example.org`;
    /// - `donald` (index 5, managed+hidden) is `inactive`; everyone else is `active`.
    pub fn demo() -> Directory {
        let users = DEMO_NAMES
            .iter()
            .enumerate()
            .map(|(i, name)| {
                let account_id = match (i / 4) % 4 {
                    0 => format!("5b10ac8d82e05b22cc7d{:04x}", 0x4ef5 + i),
                    1 => format!("557058:{}", demo_uuid(i)),
                    2 => format!("712020:{}", demo_uuid(i)),
                    _ => format!("qm:{}:{:08x}", demo_uuid(i), 0xa1b2_c3d4_usize + i),
                };
                let (managed, visibility) = match i % 4 {
                    0 => (true, Visibility::Visible),
                    1 => (true, Visibility::Hidden),
                    2 => (false, Visibility::Visible),
                    _ => (false, Visibility::Hidden),
                };
                let domain = if managed {
                    "example.com"
                } else {
                    "example.org"
                };
                let mut display = name.to_string();
                display[..1].make_ascii_uppercase();
                User {
                    account_id,
                    email: format!("{name}@{domain}"),
                    visibility,
                    managed,
                    account_status: if i == DEMO_INACTIVE {
                        "inactive"
                    } else {
                        "active"
                    }
                    .to_owned(),
                    display_name: Some(display),
                }
            })
            .collect();
        Directory { users }
    }

    /// `n` generated users for benchmarks and load tests.
    ///
    /// User `i` (0-based) has id `557058:00000000-0000-0000-0000-{i:012}`, email
    /// `user{i}@example.com`, no display name (so `user{i}`), status `active`, and by `i % 3`:
    /// 0 managed+hidden, 1 unmanaged+visible, 2 managed+visible.
    pub fn generated(n: usize) -> Directory {
        let users = (0..n)
            .map(|i| {
                let (managed, visibility) = match i % 3 {
                    0 => (true, Visibility::Hidden),
                    1 => (false, Visibility::Visible),
                    _ => (true, Visibility::Visible),
                };
                User {
                    managed,
                    visibility,
                    ..User::new(
                        format!("557058:00000000-0000-0000-0000-{i:012}"),
                        format!("user{i}@example.com"),
                    )
                }
            })
            .collect();
        Directory { users }
    }

    /// Parses and checks the `--directory` JSON format.
    pub fn from_json(json: &str) -> anyhow::Result<Directory> {
        let directory: Directory =
            serde_json::from_str(json).context("directory JSON is not valid")?;
        directory.validate()?;
        Ok(directory)
    }

    /// Reads a directory file (see [`Directory::from_json`]).
    pub fn load(path: &Path) -> anyhow::Result<Directory> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read directory file {}", path.display()))?;
        Directory::from_json(&text).with_context(|| format!("in {}", path.display()))
    }

    /// Fails when an account id is empty or appears twice.
    pub fn validate(&self) -> anyhow::Result<()> {
        let mut seen = HashSet::new();
        for (i, user) in self.users.iter().enumerate() {
            if user.account_id.is_empty() {
                bail!("user {i} has an empty accountId");
            }
            if !seen.insert(user.account_id.as_str()) {
                bail!("user {i} repeats accountId {:?}", user.account_id);
            }
        }
        Ok(())
    }

    /// The user with this account id, if known.
    pub fn get(&self, account_id: &str) -> Option<&User> {
        self.users.iter().find(|u| u.account_id == account_id)
    }
}

/// The credentials the fake accepts. All are fake test values; `Default` gives fixed ones.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Credentials {
    /// The organization id in admin API paths.
    pub org_id: String,
    /// The org admin API key (`Authorization: Bearer`).
    pub admin_api_key: String,
    /// The email half of the site's classic API token (`Authorization: Basic`).
    pub site_email: String,
    /// The classic API token for the site URL (`Authorization: Basic`).
    pub site_api_token: String,
    /// A scoped API token (user or service account): `Authorization: Basic
    /// base64(site_email:scoped_api_token)`, accepted only under `/ex/confluence/{cloudId}`.
    pub scoped_api_token: String,
    /// An OAuth 2.0 access token for `/ex/confluence/{cloudId}` (`Authorization: Bearer`).
    pub bearer_token: String,
    /// The site's cloud id in gateway paths.
    pub cloud_id: String,
    /// A token the fake treats as an approved app (Forge `asApp()`): the only one allowed on
    /// the privacy email API.
    pub app_token: String,
}

impl Default for Credentials {
    fn default() -> Credentials {
        Credentials {
            org_id: "test-org".to_owned(),
            admin_api_key: "fake-admin-api-key-0123456789abcdef".to_owned(),
            site_email: "bot@example.com".to_owned(),
            site_api_token: "fake-site-api-token-0123456789".to_owned(),
            scoped_api_token: "fake-scoped-api-token-0123456789".to_owned(),
            bearer_token: "fake-bearer-token-0123456789".to_owned(),
            cloud_id: "11111111-2222-3333-4444-555555555555".to_owned(),
            app_token: "fake-app-token-0123456789".to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_json_applies_defaults() -> anyhow::Result<()> {
        let d = Directory::from_json(r#"{"users":[{"accountId":"a","email":"x.y@example.com"}]}"#)?;
        let u = &d.users[0];
        assert_eq!(u.visibility, Visibility::Visible);
        assert!(!u.managed);
        assert_eq!(u.account_status, "active");
        assert_eq!(u.name(), "x.y");
        Ok(())
    }

    #[test]
    fn from_json_rejects_duplicate_ids() {
        let json = r#"{"users":[{"accountId":"a","email":"a@x"},{"accountId":"a","email":"b@x"}]}"#;
        assert!(Directory::from_json(json).is_err());
    }

    #[test]
    fn demo_mixes_every_kind() -> anyhow::Result<()> {
        let d = Directory::demo();
        d.validate()?;
        assert_eq!(d.users[0].account_id, "5b10ac8d82e05b22cc7d4ef5");
        assert_eq!(d.users[0].email, "ada@example.com");
        for (managed, vis) in [
            (true, Visibility::Visible),
            (true, Visibility::Hidden),
            (false, Visibility::Visible),
            (false, Visibility::Hidden),
        ] {
            assert!(d
                .users
                .iter()
                .any(|u| u.managed == managed && u.visibility == vis));
        }
        for prefix in ["557058:", "712020:", "qm:"] {
            assert!(d.users.iter().any(|u| u.account_id.starts_with(prefix)));
        }
        assert_eq!(
            d.users
                .iter()
                .filter(|u| u.account_status != "active")
                .count(),
            1
        );
        Ok(())
    }

    #[test]
    fn generated_follows_the_documented_pattern() -> anyhow::Result<()> {
        let d = Directory::generated(7);
        d.validate()?;
        assert_eq!(
            d.users[4].account_id,
            "557058:00000000-0000-0000-0000-000000000004"
        );
        assert_eq!(d.users[4].email, "user4@example.com");
        assert!(d.users[3].managed && d.users[3].is_hidden());
        assert!(!d.users[4].managed && !d.users[4].is_hidden());
        assert!(d.users[5].managed && !d.users[5].is_hidden());
        Ok(())
    }
}
