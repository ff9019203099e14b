//! The reader: reads the variables one at a time and checks each, collecting every problem
//! rather than stopping at the first. A value is trimmed (a key read from a file keeps its
//! trailing newline); a variable the provider cannot read is an invalid setting, never an unset
//! one (fail closed); a problem is recorded as the variable's name and a fixed reason, never its
//! value. The scalar settings (`api_key`, `allow_loopback_http`, `atlassian_api_url` and the
//! numbers) are parsed here, the sources' settings in `sources.rs`.

use crate::auth::ApiKeys;
use crate::platform::Variables;

use super::url::check_api_url;
use super::variables::*;
use super::ConfigError;

/// Reads variables, remembering provider failures as invalid settings.
pub(super) struct Reader<'a> {
    vars: &'a dyn Variables,
    pub(super) errors: ConfigError,
    /// `allow_loopback_http`, once read.
    pub(super) allow_loopback: bool,
}

impl<'a> Reader<'a> {
    pub(super) fn new(vars: &'a dyn Variables) -> Reader<'a> {
        Reader {
            vars,
            errors: ConfigError::default(),
            allow_loopback: false,
        }
    }

    /// `api_key`, parsed; `None` (with the error noted) when missing or invalid.
    pub(super) fn keys(&mut self) -> Option<ApiKeys> {
        let key_value = self.get(API_KEY);
        if key_value.is_empty() {
            self.require(API_KEY, "");
            return None;
        }
        match ApiKeys::parse(&key_value) {
            Ok(keys) => Some(keys),
            Err(crate::auth::KeyConfigError::Empty) => {
                self.require(API_KEY, "");
                None
            }
            Err(e) => {
                self.errors.invalid.push((API_KEY, e.reason()));
                None
            }
        }
    }

    /// A `true`/`false` setting, `false` when unset.
    pub(super) fn flag(&mut self, name: &'static str) -> bool {
        let raw = self.get(name);
        match raw.to_ascii_lowercase().as_str() {
            "" | "false" => false,
            "true" => true,
            _ => {
                self.errors.invalid.push((name, "must be true or false"));
                false
            }
        }
    }

    /// The trimmed value, empty when unset.
    pub(super) fn get(&mut self, name: &'static str) -> String {
        match self.vars.get(name) {
            Ok(Some(v)) => v.trim().to_string(),
            Ok(None) => String::new(),
            Err(_) => {
                self.errors
                    .invalid
                    .push((name, "could not be read from the variables provider"));
                String::new()
            }
        }
    }

    fn number(
        &mut self,
        name: &'static str,
        default: u64,
        range: (u64, u64),
        why: &'static str,
    ) -> u64 {
        let raw = self.get(name);
        if raw.is_empty() {
            return default;
        }
        match raw.parse::<u64>() {
            Ok(n) if n >= range.0 && n <= range.1 => n,
            _ => {
                self.errors.invalid.push((name, why));
                default
            }
        }
    }

    pub(super) fn require(&mut self, name: &'static str, value: &str) {
        if value.is_empty() && !self.errors.missing.contains(&name) {
            self.errors.missing.push(name);
        }
    }
}

/// The scalar settings' parsers of [`Config::load`](super::Config::load).
impl Reader<'_> {
    /// `atlassian_api_url`, checked; its default when unset, empty (noted) when invalid.
    pub(super) fn api_url(&mut self) -> String {
        let api_url_raw = self.get(ATLASSIAN_API_URL);
        if api_url_raw.is_empty() {
            DEFAULT_ATLASSIAN_API_URL.to_string()
        } else {
            check_api_url(&api_url_raw, self.allow_loopback).unwrap_or_else(|why| {
                self.errors.invalid.push((ATLASSIAN_API_URL, why));
                String::new()
            })
        }
    }

    /// `max_account_ids`.
    pub(super) fn max_account_ids(&mut self) -> usize {
        self.number(
            MAX_ACCOUNT_IDS,
            DEFAULT_MAX_ACCOUNT_IDS as u64,
            MAX_ACCOUNT_IDS_RANGE,
            "must be a whole number from 1 to 10000",
        ) as usize
    }

    /// `request_timeout_ms`.
    pub(super) fn request_timeout_ms(&mut self) -> u64 {
        self.number(
            REQUEST_TIMEOUT_MS,
            DEFAULT_REQUEST_TIMEOUT_MS,
            REQUEST_TIMEOUT_RANGE,
            "must be a whole number of milliseconds from 100 to 600000",
        )
    }

    /// `upstream_concurrency`.
    pub(super) fn upstream_concurrency(&mut self) -> usize {
        self.number(
            UPSTREAM_CONCURRENCY,
            DEFAULT_UPSTREAM_CONCURRENCY as u64,
            CONCURRENCY_RANGE,
            "must be a whole number from 1 to 32",
        ) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{admin_vars, vars, KEY};
    use crate::config::Config;

    struct FailingVars;
    impl Variables for FailingVars {
        fn get(&self, _: &str) -> Result<Option<String>, crate::platform::VariableError> {
            Err(crate::platform::VariableError)
        }
    }

    #[test]
    fn missing_key_fails_closed() {
        let v = &admin_vars()[1..];
        let e = Config::load(&vars(v)).unwrap_err();
        assert_eq!(e.missing, vec![API_KEY]);
    }

    #[test]
    fn short_key_is_refused_saying_why() {
        let mut v = admin_vars();
        v[0] = (API_KEY, "short");
        let e = Config::load(&vars(&v)).unwrap_err();
        assert_eq!(e.invalid, vec![(API_KEY, crate::auth::HOW_TO_MAKE_A_KEY)]);
    }

    #[test]
    fn weak_key_is_invalid_with_how_to_make_one() {
        let mut v = admin_vars();
        v[0] = (API_KEY, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
        let e = Config::load(&vars(&v)).unwrap_err();
        assert_eq!(e.variables(), vec![API_KEY]);
        assert!(e.invalid[0].1.contains("openssl rand"), "{e:?}");
    }

    #[test]
    fn invalid_url_is_named_not_echoed() {
        let mut v = admin_vars();
        v.push((ATLASSIAN_API_URL, "http://evil.example.com"));
        let e = Config::load(&vars(&v)).unwrap_err();
        assert_eq!(e.variables(), vec![ATLASSIAN_API_URL]);
        assert!(!format!("{e:?}").contains("evil"));
    }

    #[test]
    fn numeric_settings_are_bounded() {
        for (name, bad) in [
            (MAX_ACCOUNT_IDS, "0"),
            (MAX_ACCOUNT_IDS, "10001"),
            (REQUEST_TIMEOUT_MS, "5"),
            (UPSTREAM_CONCURRENCY, "0"),
            (UPSTREAM_CONCURRENCY, "33"),
            (UPSTREAM_CONCURRENCY, "four"),
        ] {
            let mut v = admin_vars();
            v.push((name, bad));
            let e = Config::load(&vars(&v)).unwrap_err();
            assert_eq!(e.variables(), vec![name], "{name}={bad}");
        }
        let mut v = admin_vars();
        v.extend([
            (MAX_ACCOUNT_IDS, "5"),
            (REQUEST_TIMEOUT_MS, "1500"),
            (UPSTREAM_CONCURRENCY, "8"),
        ]);
        let c = Config::load(&vars(&v)).unwrap();
        assert_eq!(
            (
                c.max_account_ids,
                c.request_timeout.as_millis(),
                c.upstream_concurrency
            ),
            (5, 1500, 8)
        );
    }

    #[test]
    fn values_are_trimmed_like_file_variables() {
        let v = [
            (API_KEY, "test-api-key-0123456789abcdef-0123456789\n"),
            (ATLASSIAN_ORG_ID, " org-1\n"),
            (ATLASSIAN_ADMIN_API_KEY, "admin\n"),
        ];
        let c = Config::load(&vars(&v)).unwrap();
        assert!(c.keys.verify(KEY.as_bytes()));
    }

    #[test]
    fn provider_failure_fails_closed() {
        let e = Config::load(&FailingVars).unwrap_err();
        assert!(e.variables().contains(&API_KEY));
    }
}
