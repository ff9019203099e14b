//! Configuration: every Spin variable the component reads, loaded and checked together.
//!
//! Loading fails closed: a missing or invalid setting makes every lookup answer
//! `503 not_configured` (before the request body is read) and `/health/ready` answer 503, naming
//! the variables to fix and never their values. Tunables have documented defaults (also in
//! `spin.toml`); secrets have none. Values are trimmed, since a key read from a file
//! (`--variable api_key=@key.txt`) keeps its trailing newline.
//!
//! One concern per file: `variables.rs` names every variable, with its default and bounds;
//! `reader.rs` reads and checks one value at a time; `url.rs` holds the rules for the URLs
//! credentials are sent to; `sources.rs` picks the email sources and their order and builds them;
//! `readiness.rs` checks the configuration for `/health/ready` without reading a secret. This file
//! holds the result, [`Config`] or [`ConfigError`], and the loads that produce it.

mod reader;
mod readiness;
mod sources;
mod url;
mod variables;

use std::time::Duration;

use crate::auth::ApiKeys;
use crate::platform::Variables;
use crate::upstream::Source;

use reader::Reader;
pub use readiness::check_ready;
pub use sources::SourceOrder;
pub use url::{
    check_api_url, check_site_url, parse_base_url, ATLASSIAN_API_HOST, ATLASSIAN_SITE_DOMAIN,
};
pub use variables::{
    ALLOW_LOOPBACK_HTTP, ALL_VARIABLES, API_KEY, ATLASSIAN_ADMIN_API_KEY, ATLASSIAN_API_URL,
    ATLASSIAN_ORG_ID, CONFLUENCE_API_TOKEN, CONFLUENCE_BEARER_TOKEN, CONFLUENCE_CLOUD_ID,
    CONFLUENCE_EMAIL, CONFLUENCE_URL, DEFAULT_ATLASSIAN_API_URL, DEFAULT_MAX_ACCOUNT_IDS,
    DEFAULT_REQUEST_TIMEOUT_MS, DEFAULT_UPSTREAM_CONCURRENCY, EMAIL_SOURCES,
    LARGEST_MAX_ACCOUNT_IDS, MAX_ACCOUNT_IDS, REQUEST_TIMEOUT_MS, SECRET_VARIABLES,
    UPSTREAM_CONCURRENCY,
};

/// The complete, checked configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Accepted caller keys.
    pub keys: ApiKeys,
    /// Email sources, in the order they are asked.
    pub sources: Vec<Source>,
    /// How that order was decided.
    pub order: SourceOrder,
    /// Distinct ids accepted per request.
    pub max_account_ids: usize,
    /// The whole request's deadline.
    pub request_timeout: Duration,
    /// Upstream calls in flight per request.
    pub upstream_concurrency: usize,
}

/// What is wrong with the configuration: variable names and fixed reasons, never values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConfigError {
    /// Variables that must be set and are not.
    pub missing: Vec<&'static str>,
    /// Variables whose value is unusable, with why.
    pub invalid: Vec<(&'static str, &'static str)>,
}

impl ConfigError {
    /// `api_key`'s fixed reason when it is invalid (how to make a key), else `None`.
    pub fn key_reason(&self) -> Option<&'static str> {
        self.invalid
            .iter()
            .find(|(name, _)| *name == API_KEY)
            .map(|(_, reason)| *reason)
    }

    /// Every variable named, missing first, without repeats.
    pub fn variables(&self) -> Vec<&'static str> {
        let mut out: Vec<&'static str> = Vec::new();
        for name in self
            .missing
            .iter()
            .chain(self.invalid.iter().map(|(n, _)| n))
        {
            if !out.contains(name) {
                out.push(name);
            }
        }
        out
    }

    fn is_empty(&self) -> bool {
        self.missing.is_empty() && self.invalid.is_empty()
    }
}

impl Config {
    /// Loads and checks every variable. Fails closed, naming what to fix.
    pub fn load(vars: &dyn Variables) -> Result<Config, ConfigError> {
        Config::load_inner(vars, None)
    }

    /// Reads `api_key` alone: the one variable a request must read before its key is checked.
    /// Fails (naming `api_key`) when it is missing or invalid.
    pub fn load_keys(vars: &dyn Variables) -> Result<ApiKeys, ConfigError> {
        let mut r = Reader::new(vars);
        match r.keys() {
            Some(keys) if r.errors.is_empty() => Ok(keys),
            _ => Err(r.errors),
        }
    }

    /// Loads every other variable, once the presented key was checked against `keys`.
    pub fn load_with_keys(vars: &dyn Variables, keys: ApiKeys) -> Result<Config, ConfigError> {
        Config::load_inner(vars, Some(keys))
    }

    fn load_inner(
        vars: &dyn Variables,
        given_keys: Option<ApiKeys>,
    ) -> Result<Config, ConfigError> {
        let mut r = Reader::new(vars);
        let keys = match given_keys {
            Some(keys) => Some(keys),
            None => r.keys(),
        };
        r.allow_loopback = r.flag(ALLOW_LOOPBACK_HTTP);
        let api_url = r.api_url();
        let listed = r.listed_sources();
        let settings = r.source_settings(listed.as_deref());
        let (order, names) = match listed {
            Some(names) => (SourceOrder::Explicit, names),
            None => (SourceOrder::Auto, r.auto_source_names(&settings)),
        };
        let sources = r.sources(&names, &api_url, &settings);
        let max_account_ids = r.max_account_ids();
        let request_timeout_ms = r.request_timeout_ms();
        let upstream_concurrency = r.upstream_concurrency();

        match keys {
            Some(keys) if r.errors.is_empty() => Ok(Config {
                keys,
                sources,
                order,
                max_account_ids,
                request_timeout: Duration::from_millis(request_timeout_ms),
                upstream_concurrency,
            }),
            _ => Err(r.errors),
        }
    }
}

/// Test helpers, shared with the other files' tests here and with `handler`'s and `admin`'s.
#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use std::collections::HashMap;

    /// Variables from a map; names not in it are undefined.
    pub struct MapVars(pub HashMap<String, String>);

    impl Variables for MapVars {
        fn get(&self, name: &str) -> Result<Option<String>, crate::platform::VariableError> {
            Ok(self.0.get(name).cloned())
        }
    }

    pub const KEY: &str = "test-api-key-0123456789abcdef-0123456789";

    pub fn vars(pairs: &[(&str, &str)]) -> MapVars {
        MapVars(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    pub(super) fn admin_vars() -> Vec<(&'static str, &'static str)> {
        vec![
            (API_KEY, KEY),
            (ATLASSIAN_ORG_ID, "org-1"),
            (ATLASSIAN_ADMIN_API_KEY, "admin-secret"),
        ]
    }

    #[test]
    fn loads_admin_only_with_defaults() {
        let c = Config::load(&vars(&admin_vars())).unwrap();
        assert_eq!(c.sources.len(), 1);
        assert!(matches!(c.sources[0], Source::Admin(_)));
        assert_eq!(c.max_account_ids, 1000);
        assert_eq!(c.request_timeout, Duration::from_millis(25_000));
        assert_eq!(c.upstream_concurrency, 4);
    }
}
