//! The variables: every Spin variable the component reads, by name, with each tunable's default
//! and bounds and which ones are secrets. A name here is the contract with `spin.toml` (the e2e
//! manifest tests check that it declares exactly these, with these defaults, secrets marked),
//! the README's configuration table and `openapi.yaml`'s `VariableName` (checked to list exactly
//! these, in this order); a tunable has a documented default, a secret never has one. Nothing here
//! reads a value: `reader.rs` does.

/// Accepted caller keys (secret).
pub const API_KEY: &str = "api_key";
/// Ordered list of email sources, or `auto`.
pub const EMAIL_SOURCES: &str = "email_sources";
/// Base of the admin API and of `/ex/confluence/{cloudId}`.
pub const ATLASSIAN_API_URL: &str = "atlassian_api_url";
/// Organization id for the admin source.
pub const ATLASSIAN_ORG_ID: &str = "atlassian_org_id";
/// Organization admin API key (secret).
pub const ATLASSIAN_ADMIN_API_KEY: &str = "atlassian_admin_api_key";
/// `https://SITE.atlassian.net`, for basic auth to the Confluence site.
pub const CONFLUENCE_URL: &str = "confluence_url";
/// Account email for basic auth.
pub const CONFLUENCE_EMAIL: &str = "confluence_email";
/// API token for basic auth (secret).
pub const CONFLUENCE_API_TOKEN: &str = "confluence_api_token";
/// Bearer token (scoped token, service account, OAuth) (secret).
pub const CONFLUENCE_BEARER_TOKEN: &str = "confluence_bearer_token";
/// Cloud id of the site, for bearer auth.
pub const CONFLUENCE_CLOUD_ID: &str = "confluence_cloud_id";
/// Distinct ids accepted per request.
pub const MAX_ACCOUNT_IDS: &str = "max_account_ids";
/// The whole request's deadline in milliseconds.
pub const REQUEST_TIMEOUT_MS: &str = "request_timeout_ms";
/// Upstream calls in flight per request.
pub const UPSTREAM_CONCURRENCY: &str = "upstream_concurrency";
/// Test-only: whether `atlassian_api_url` and `confluence_url` may be plain `http://` to a
/// loopback host (the fake Atlassian). Production never sets it.
pub const ALLOW_LOOPBACK_HTTP: &str = "allow_loopback_http";

/// Every variable the component reads, in the order of the README's table.
pub const ALL_VARIABLES: [&str; 14] = [
    API_KEY,
    EMAIL_SOURCES,
    ATLASSIAN_API_URL,
    ATLASSIAN_ORG_ID,
    ATLASSIAN_ADMIN_API_KEY,
    CONFLUENCE_URL,
    CONFLUENCE_EMAIL,
    CONFLUENCE_API_TOKEN,
    CONFLUENCE_BEARER_TOKEN,
    CONFLUENCE_CLOUD_ID,
    MAX_ACCOUNT_IDS,
    REQUEST_TIMEOUT_MS,
    UPSTREAM_CONCURRENCY,
    ALLOW_LOOPBACK_HTTP,
];

/// Variables whose values are secrets (marked `secret = true` in `spin.toml`). Only a request
/// that presented a valid key makes the component read any of them except `api_key`, and
/// `api_key` is read only by requests that present a key to check (`POST /`, `/admin/status`).
pub const SECRET_VARIABLES: [&str; 4] = [
    API_KEY,
    ATLASSIAN_ADMIN_API_KEY,
    CONFLUENCE_API_TOKEN,
    CONFLUENCE_BEARER_TOKEN,
];

/// Default of `atlassian_api_url`.
pub const DEFAULT_ATLASSIAN_API_URL: &str = "https://api.atlassian.com";
/// Default of `max_account_ids`.
pub const DEFAULT_MAX_ACCOUNT_IDS: usize = 1000;
/// Default of `request_timeout_ms`.
pub const DEFAULT_REQUEST_TIMEOUT_MS: u64 = 25_000;
/// Default of `upstream_concurrency`.
pub const DEFAULT_UPSTREAM_CONCURRENCY: usize = 4;

/// The largest `max_account_ids` accepted: the most distinct ids one request can carry
/// (`upstream::cost` derives the most upstream calls one request can cause from it).
pub const LARGEST_MAX_ACCOUNT_IDS: usize = 10_000;

/// Bounds of the numeric settings.
pub(super) const MAX_ACCOUNT_IDS_RANGE: (u64, u64) = (1, LARGEST_MAX_ACCOUNT_IDS as u64);
pub(super) const REQUEST_TIMEOUT_RANGE: (u64, u64) = (100, 600_000);
pub(super) const CONCURRENCY_RANGE: (u64, u64) = (1, 32);
