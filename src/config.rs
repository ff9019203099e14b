//! Configuration: every Spin variable the component reads, loaded and checked together.
//!
//! Loading fails closed: a missing or invalid setting makes every lookup answer
//! `503 not_configured` (before the request body is read) and `/health` answer 503, naming the
//! variables to fix and never their values. Tunables have documented defaults (also in
//! `spin.toml`); secrets have none. Values are trimmed, since a key read from a file
//! (`--variable api_key=@key.txt`) keeps its trailing newline.

use std::time::Duration;

use crate::auth::{ApiKeys, Secret};
use crate::platform::Variables;
use crate::upstream::{AdminSource, ConfluenceAuth, ConfluenceSource, Source};

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

/// The one Atlassian API host `atlassian_api_url` may name: the organization admin API and the
/// `/ex/confluence/{cloudId}` gateway are both served there.
pub const ATLASSIAN_API_HOST: &str = "api.atlassian.com";
/// The domain of Atlassian Cloud sites: `confluence_url` must be `https://SITE.atlassian.net`.
pub const ATLASSIAN_SITE_DOMAIN: &str = ".atlassian.net";

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
const MAX_ACCOUNT_IDS_RANGE: (u64, u64) = (1, LARGEST_MAX_ACCOUNT_IDS as u64);
const REQUEST_TIMEOUT_RANGE: (u64, u64) = (100, 600_000);
const CONCURRENCY_RANGE: (u64, u64) = (1, 32);

/// How the order of the email sources was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceOrder {
    /// `email_sources=auto` (or unset): every configured source, the cheapest first —
    /// Confluence (250 ids a call), then admin (10 ids a call) for what is still unresolved.
    Auto,
    /// `email_sources` named the sources: asked in the order given.
    Explicit,
}

impl SourceOrder {
    /// The name shown by `/admin/status`.
    pub fn name(self) -> &'static str {
        match self {
            SourceOrder::Auto => "auto",
            SourceOrder::Explicit => "explicit",
        }
    }

    /// Why the sources run in this order, for `/admin/status`.
    pub fn reason(self) -> &'static str {
        match self {
            SourceOrder::Auto => {
                "email_sources is auto: the cheapest source first (confluence, 250 ids a call), \
                 then admin (10 ids a call) only for ids still unresolved"
            }
            SourceOrder::Explicit => "email_sources names the sources: asked in the order given",
        }
    }
}

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

/// Reads variables, remembering provider failures as invalid settings.
struct Reader<'a> {
    vars: &'a dyn Variables,
    errors: ConfigError,
    /// `allow_loopback_http`, once read.
    allow_loopback: bool,
}

impl<'a> Reader<'a> {
    fn new(vars: &'a dyn Variables) -> Reader<'a> {
        Reader {
            vars,
            errors: ConfigError::default(),
            allow_loopback: false,
        }
    }

    /// `api_key`, parsed; `None` (with the error noted) when missing or invalid.
    fn keys(&mut self) -> Option<ApiKeys> {
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
    fn flag(&mut self, name: &'static str) -> bool {
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
    fn get(&mut self, name: &'static str) -> String {
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

    fn require(&mut self, name: &'static str, value: &str) {
        if value.is_empty() && !self.errors.missing.contains(&name) {
            self.errors.missing.push(name);
        }
    }
}

impl Reader<'_> {
    /// The Confluence source from its settings, in this order of preference:
    /// - `confluence_bearer_token` + `confluence_cloud_id`: Bearer through
    ///   `{atlassian_api_url}/ex/confluence/{cloudId}` (OAuth 2.0 access tokens);
    /// - `confluence_email` + `confluence_api_token` + `confluence_url`: Basic to the site
    ///   (classic API tokens);
    /// - `confluence_email` + `confluence_api_token` + `confluence_cloud_id` (no URL): Basic
    ///   through the gateway (scoped API tokens of users and service accounts, which the site
    ///   URL refuses).
    ///
    /// Anything less names what is missing.
    fn confluence(
        &mut self,
        api_url: &str,
        site_url: &str,
        email: &str,
        token: &str,
        bearer: &str,
        cloud_id: &str,
    ) -> Option<ConfluenceSource> {
        if !cloud_id.is_empty() && !is_path_safe(cloud_id) {
            self.errors.invalid.push((
                CONFLUENCE_CLOUD_ID,
                "may hold only letters, digits, - and _",
            ));
            return None;
        }
        let gateway = format!("{api_url}/ex/confluence/{cloud_id}");
        let basic = || ConfluenceAuth::Basic {
            email: email.to_string(),
            token: Secret::new(token),
        };
        if !bearer.is_empty() {
            self.require(CONFLUENCE_CLOUD_ID, cloud_id);
            return (!cloud_id.is_empty() && !api_url.is_empty()).then(|| {
                ConfluenceSource::new(&gateway, ConfluenceAuth::Bearer(Secret::new(bearer)))
            });
        }
        self.require(CONFLUENCE_EMAIL, email);
        self.require(CONFLUENCE_API_TOKEN, token);
        if site_url.is_empty() && cloud_id.is_empty() {
            self.require(CONFLUENCE_URL, site_url);
            return None;
        }
        if email.is_empty() || token.is_empty() {
            return None;
        }
        if site_url.is_empty() {
            return (!api_url.is_empty()).then(|| ConfluenceSource::new(&gateway, basic()));
        }
        match check_site_url(site_url, self.allow_loopback) {
            Ok(url) => Some(ConfluenceSource::new(&url, basic())),
            Err(why) => {
                self.errors.invalid.push((CONFLUENCE_URL, why));
                None
            }
        }
    }
}

/// Which source a name in `email_sources` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SourceName {
    Admin,
    Confluence,
}

/// Checks an upstream base URL: `https://host[:port]`, or `http://` to a loopback host (tests).
/// Returns it without a trailing `/`.
pub fn parse_base_url(value: &str) -> Result<String, &'static str> {
    let value = value.strip_suffix('/').unwrap_or(value);
    let (scheme, authority) = value
        .split_once("://")
        .ok_or("must be an https:// URL with no path")?;
    if authority.is_empty()
        || authority.chars().any(|c| {
            matches!(c, '/' | '?' | '#' | '@' | '\\') || c.is_whitespace() || c.is_control()
        })
    {
        return Err("must be an https:// URL with no path, query or credentials");
    }
    let host = host_of(authority).ok_or("has an invalid host or port")?;
    match scheme {
        "https" => {}
        "http" if is_loopback(host) => {}
        "http" => return Err("must use https (plain http is accepted only for loopback hosts)"),
        _ => return Err("must be an https:// URL with no path"),
    }
    Ok(format!("{scheme}://{authority}"))
}

/// Why an upstream URL names a host credentials must not go to.
const NOT_ATLASSIAN_API: &str = "must be https://api.atlassian.com, the Atlassian API \
     (http:// to a loopback host is accepted only with allow_loopback_http=true, for tests)";
const NOT_ATLASSIAN_SITE: &str = "must be https://SITE.atlassian.net, an Atlassian Cloud site \
     (http:// to a loopback host is accepted only with allow_loopback_http=true, for tests)";

/// The scheme and lowercase host of a URL `parse_base_url` accepted, and whether it has a port
/// other than the scheme's default.
fn scheme_host(url: &str) -> Option<(&str, String, bool)> {
    let (scheme, authority) = url.split_once("://")?;
    let host = host_of(authority)?.to_ascii_lowercase();
    let port = authority
        .rsplit_once(']')
        .map_or(authority, |(_, after)| after)
        .rsplit_once(':')
        .map(|(_, p)| p);
    let default_port = matches!(
        (scheme, port),
        (_, None) | ("https", Some("443")) | ("http", Some("80"))
    );
    Some((scheme, host, !default_port))
}

/// Checks `atlassian_api_url`: credentials (the org admin key, bearer and scoped tokens) are
/// sent there, so it must be Atlassian's API host, `https://api.atlassian.com` — or, only when
/// `allow_loopback` (the test-only `allow_loopback_http`), plain `http://` to a loopback host.
pub fn check_api_url(value: &str, allow_loopback: bool) -> Result<String, &'static str> {
    check_atlassian_url(value, allow_loopback, NOT_ATLASSIAN_API, |host| {
        host == ATLASSIAN_API_HOST
    })
}

/// Checks `confluence_url`: an email and API token are sent there, so it must be an Atlassian
/// Cloud site, `https://SITE.atlassian.net` (one DNS label before the domain) — or, only when
/// `allow_loopback`, plain `http://` to a loopback host.
pub fn check_site_url(value: &str, allow_loopback: bool) -> Result<String, &'static str> {
    check_atlassian_url(value, allow_loopback, NOT_ATLASSIAN_SITE, |host| {
        let site = host.strip_suffix(ATLASSIAN_SITE_DOMAIN).unwrap_or_default();
        !site.is_empty()
            && site.len() <= 63
            && !site.starts_with('-')
            && !site.ends_with('-')
            && site
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

/// The rule both URL checks share: a base URL whose host `is_atlassian` accepts, over https on
/// the default port (returned as `https://host`); a loopback host only when `allow_loopback`
/// (kept as given, `http://` included). Anything else is `why`.
fn check_atlassian_url(
    value: &str,
    allow_loopback: bool,
    why: &'static str,
    is_atlassian: impl Fn(&str) -> bool,
) -> Result<String, &'static str> {
    let url = parse_base_url(value).map_err(|_| why)?;
    let (scheme, host, other_port) = scheme_host(&url).ok_or(why)?;
    if is_loopback(&host) {
        return if allow_loopback { Ok(url) } else { Err(why) };
    }
    if scheme == "https" && !other_port && is_atlassian(&host) {
        return Ok(format!("https://{host}"));
    }
    Err(why)
}

/// The host part of `host[:port]` or `[v6][:port]`, checking the port.
fn host_of(authority: &str) -> Option<&str> {
    let (host, port) = if let Some(rest) = authority.strip_prefix('[') {
        let (v6, after) = rest.split_once(']')?;
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':')?),
        };
        (v6, port)
    } else {
        match authority.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (authority, None),
        }
    };
    if host.is_empty()
        || !host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':'))
    {
        return None;
    }
    if let Some(port) = port {
        if port.is_empty() || port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        port.parse::<u16>().ok()?;
    }
    Some(host)
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host == "::1"
        || host
            .parse::<std::net::Ipv4Addr>()
            .map(|ip| ip.is_loopback())
            .unwrap_or(false)
}

/// An id that goes into a URL path: letters, digits, `-` and `_` only.
fn is_path_safe(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
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

/// The settings of the email sources, as read (trimmed, empty when unset).
struct SourceSettings {
    org_id: String,
    admin_key: String,
    site_url: String,
    site_email: String,
    site_token: String,
    bearer: String,
    cloud_id: String,
}

impl SourceSettings {
    /// Whether any admin setting is given.
    fn admin_present(&self) -> bool {
        !self.org_id.is_empty() || !self.admin_key.is_empty()
    }

    /// Whether any Confluence setting (bearer or basic) is given.
    fn confluence_present(&self) -> bool {
        let bearer_present = !self.bearer.is_empty() || !self.cloud_id.is_empty();
        let basic_present =
            !self.site_url.is_empty() || !self.site_email.is_empty() || !self.site_token.is_empty();
        bearer_present || basic_present
    }
}

/// The per-setting parsers of [`Config::load`], in the order it reads the variables.
impl Reader<'_> {
    /// `atlassian_api_url`, checked; its default when unset, empty (noted) when invalid.
    fn api_url(&mut self) -> String {
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

    /// The settings of the sources in `only` (every source's under `auto`, `None`), each read
    /// once; a source not listed is not read at all (empty here): a secret store is never asked
    /// for what the request cannot use.
    fn source_settings(&mut self, only: Option<&[SourceName]>) -> SourceSettings {
        let admin = only.is_none_or(|names| names.contains(&SourceName::Admin));
        let confluence = only.is_none_or(|names| names.contains(&SourceName::Confluence));
        let mut get = |wanted: bool, name: &'static str| {
            if wanted {
                self.get(name)
            } else {
                String::new()
            }
        };
        SourceSettings {
            org_id: get(admin, ATLASSIAN_ORG_ID),
            admin_key: get(admin, ATLASSIAN_ADMIN_API_KEY),
            site_url: get(confluence, CONFLUENCE_URL),
            site_email: get(confluence, CONFLUENCE_EMAIL),
            site_token: get(confluence, CONFLUENCE_API_TOKEN),
            bearer: get(confluence, CONFLUENCE_BEARER_TOKEN),
            cloud_id: get(confluence, CONFLUENCE_CLOUD_ID),
        }
    }

    /// `email_sources` as a list of names, or `None` for `auto` (or unset).
    fn listed_sources(&mut self) -> Option<Vec<SourceName>> {
        let sources_raw = self.get(EMAIL_SOURCES);
        if sources_raw.is_empty() || sources_raw.eq_ignore_ascii_case("auto") {
            None
        } else {
            Some(self.listed_source_names(&sources_raw))
        }
    }

    /// `email_sources=auto`: every source with a setting given, the cheapest first (users-bulk
    /// takes 250 ids a call, the admin search 10; either gives the same email for an account
    /// both can resolve); when none is, every variable that could provide one is named missing.
    fn auto_source_names(&mut self, settings: &SourceSettings) -> Vec<SourceName> {
        let mut names = Vec::new();
        if settings.confluence_present() {
            names.push(SourceName::Confluence);
        }
        if settings.admin_present() {
            names.push(SourceName::Admin);
        }
        if names.is_empty() {
            // No source at all: name every variable that could provide one.
            for name in [
                ATLASSIAN_ORG_ID,
                ATLASSIAN_ADMIN_API_KEY,
                CONFLUENCE_URL,
                CONFLUENCE_EMAIL,
                CONFLUENCE_API_TOKEN,
                CONFLUENCE_BEARER_TOKEN,
                CONFLUENCE_CLOUD_ID,
            ] {
                self.require(name, "");
            }
        }
        names
    }

    /// `email_sources` as a list: `admin` and `confluence`, separated by commas or whitespace,
    /// each at most once.
    fn listed_source_names(&mut self, sources_raw: &str) -> Vec<SourceName> {
        let mut names = Vec::new();
        for word in sources_raw
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|s| !s.is_empty())
        {
            let name = match word.to_ascii_lowercase().as_str() {
                "admin" => SourceName::Admin,
                "confluence" => SourceName::Confluence,
                _ => {
                    self.errors.invalid.push((
                        EMAIL_SOURCES,
                        "must be auto, or a list of admin and confluence",
                    ));
                    continue;
                }
            };
            if names.contains(&name) {
                self.errors
                    .invalid
                    .push((EMAIL_SOURCES, "names a source twice"));
            } else {
                names.push(name);
            }
        }
        names
    }

    /// The sources `names` asks for, built from their settings; `email_sources` is invalid when
    /// it names none and nothing else is wrong.
    fn sources(
        &mut self,
        names: &[SourceName],
        api_url: &str,
        settings: &SourceSettings,
    ) -> Vec<Source> {
        let mut sources = Vec::new();
        for name in names {
            let source = match name {
                SourceName::Admin => self.admin(api_url, settings).map(Source::Admin),
                SourceName::Confluence => self
                    .confluence(
                        api_url,
                        &settings.site_url,
                        &settings.site_email,
                        &settings.site_token,
                        &settings.bearer,
                        &settings.cloud_id,
                    )
                    .map(Source::Confluence),
            };
            sources.extend(source);
        }
        if sources.is_empty() && self.errors.is_empty() {
            self.errors.invalid.push((EMAIL_SOURCES, "names no source"));
        }
        sources
    }

    /// The admin source from `atlassian_org_id` and `atlassian_admin_api_key`.
    fn admin(&mut self, api_url: &str, settings: &SourceSettings) -> Option<AdminSource> {
        let (org_id, admin_key) = (&settings.org_id, &settings.admin_key);
        self.require(ATLASSIAN_ORG_ID, org_id);
        self.require(ATLASSIAN_ADMIN_API_KEY, admin_key);
        if !org_id.is_empty() && !is_path_safe(org_id) {
            self.errors
                .invalid
                .push((ATLASSIAN_ORG_ID, "may hold only letters, digits, - and _"));
            None
        } else if !org_id.is_empty() && !admin_key.is_empty() && !api_url.is_empty() {
            Some(AdminSource::new(
                api_url,
                org_id,
                Secret::new(admin_key.clone()),
            ))
        } else {
            None
        }
    }

    /// `max_account_ids`.
    fn max_account_ids(&mut self) -> usize {
        self.number(
            MAX_ACCOUNT_IDS,
            DEFAULT_MAX_ACCOUNT_IDS as u64,
            MAX_ACCOUNT_IDS_RANGE,
            "must be a whole number from 1 to 10000",
        ) as usize
    }

    /// `request_timeout_ms`.
    fn request_timeout_ms(&mut self) -> u64 {
        self.number(
            REQUEST_TIMEOUT_MS,
            DEFAULT_REQUEST_TIMEOUT_MS,
            REQUEST_TIMEOUT_RANGE,
            "must be a whole number of milliseconds from 100 to 600000",
        )
    }

    /// `upstream_concurrency`.
    fn upstream_concurrency(&mut self) -> usize {
        self.number(
            UPSTREAM_CONCURRENCY,
            DEFAULT_UPSTREAM_CONCURRENCY as u64,
            CONCURRENCY_RANGE,
            "must be a whole number from 1 to 32",
        ) as usize
    }
}

/// The non-secret settings, read as they are, with each secret *assumed* set where the
/// settings beside it say it is needed: never read. Lets readiness check the configuration
/// without a secret read (a Vault round trip and audit entry each).
struct AssumeSecrets<'a>(&'a dyn Variables);

/// A stand-in for `api_key` that passes its rules (`openssl rand -hex 16`); never compared with
/// anything.
const ASSUMED_API_KEY: &str = "8f3da11d0b1b3305ad39c9fb22fb97e2";

impl Variables for AssumeSecrets<'_> {
    fn get(&self, name: &str) -> Result<Option<String>, crate::platform::VariableError> {
        let set = |companion: &str| -> Result<Option<String>, crate::platform::VariableError> {
            let present = matches!(self.0.get(companion)?, Some(v) if !v.trim().is_empty());
            Ok(present.then(|| "assumed".to_string()))
        };
        match name {
            API_KEY => Ok(Some(ASSUMED_API_KEY.to_string())),
            // The org admin key goes with the org id.
            ATLASSIAN_ADMIN_API_KEY => set(ATLASSIAN_ORG_ID),
            // An API token goes with the account email.
            CONFLUENCE_API_TOKEN => set(CONFLUENCE_EMAIL),
            // A bearer token goes with a cloud id and no account email.
            CONFLUENCE_BEARER_TOKEN => {
                if set(CONFLUENCE_EMAIL)?.is_some() {
                    Ok(None)
                } else {
                    set(CONFLUENCE_CLOUD_ID)
                }
            }
            _ => self.0.get(name),
        }
    }
}

/// Readiness (`GET /health/ready`): checks the non-secret settings only, assuming each secret
/// their sources need is set. Reads no secret variable; says nothing about whether the secrets
/// are set or valid (`/admin/status` tells that to a key holder).
pub fn check_ready(vars: &dyn Variables) -> Result<(), ConfigError> {
    Config::load(&AssumeSecrets(vars))
        .map(|_| ())
        .map_err(|mut e| {
            // A secret is named only when a setting beside it is missing too: leave it to that one.
            e.missing.retain(|name| !SECRET_VARIABLES.contains(name));
            e
        })
}

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

    fn admin_vars() -> Vec<(&'static str, &'static str)> {
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

    #[test]
    fn auto_orders_the_cheaper_confluence_before_admin() {
        let mut v = admin_vars();
        v.extend([
            (CONFLUENCE_URL, "https://acme.atlassian.net/"),
            (CONFLUENCE_EMAIL, "bot@acme.com"),
            (CONFLUENCE_API_TOKEN, "tok"),
        ]);
        for sources in [None, Some("auto"), Some(" AUTO ")] {
            let mut v = v.clone();
            if let Some(value) = sources {
                v.push((EMAIL_SOURCES, value));
            }
            let c = Config::load(&vars(&v)).unwrap();
            assert!(matches!(c.sources[0], Source::Confluence(_)), "{sources:?}");
            assert!(matches!(c.sources[1], Source::Admin(_)), "{sources:?}");
            assert_eq!(c.order, SourceOrder::Auto);
        }
    }

    #[test]
    fn explicit_order_is_kept() {
        let mut v = admin_vars();
        v.extend([
            (CONFLUENCE_BEARER_TOKEN, "bearer"),
            (CONFLUENCE_CLOUD_ID, "abc-123"),
            (EMAIL_SOURCES, "confluence, admin"),
        ]);
        let c = Config::load(&vars(&v)).unwrap();
        assert!(matches!(c.sources[0], Source::Confluence(_)));
        assert!(matches!(c.sources[1], Source::Admin(_)));
        assert_eq!(c.order, SourceOrder::Explicit);
        v.retain(|(name, _)| *name != EMAIL_SOURCES);
        v.push((EMAIL_SOURCES, "admin,confluence"));
        let c = Config::load(&vars(&v)).unwrap();
        assert!(matches!(c.sources[0], Source::Admin(_)));
        assert!(matches!(c.sources[1], Source::Confluence(_)));
        assert_eq!(c.order, SourceOrder::Explicit);
    }

    #[test]
    fn explicit_source_without_settings_names_them() {
        let v = [(API_KEY, KEY), (EMAIL_SOURCES, "admin")];
        let e = Config::load(&vars(&v)).unwrap_err();
        assert_eq!(e.missing, vec![ATLASSIAN_ORG_ID, ATLASSIAN_ADMIN_API_KEY]);
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
    fn api_url_is_only_the_atlassian_api() {
        for good in [
            "https://api.atlassian.com",
            "https://api.atlassian.com/",
            "https://API.Atlassian.com",
            "https://api.atlassian.com:443",
        ] {
            assert_eq!(
                check_api_url(good, false).as_deref(),
                Ok("https://api.atlassian.com"),
                "{good}"
            );
        }
        for bad in [
            "https://api.atlassian.com.evil.example",
            "https://evil.example",
            "https://169.254.169.254",
            "https://api.atlassian.com:8443",
            "https://acme.atlassian.net",
            "http://api.atlassian.com",
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "https://[::1]:9",
            "https://api.atlassian.com/admin",
        ] {
            assert_eq!(check_api_url(bad, false), Err(NOT_ATLASSIAN_API), "{bad}");
        }
    }

    #[test]
    fn site_url_is_only_an_atlassian_cloud_site() {
        for (good, want) in [
            ("https://acme.atlassian.net", "https://acme.atlassian.net"),
            (
                "https://ACME-2.atlassian.net/",
                "https://acme-2.atlassian.net",
            ),
        ] {
            assert_eq!(check_site_url(good, false).as_deref(), Ok(want), "{good}");
        }
        for bad in [
            "https://atlassian.net",
            "https://.atlassian.net",
            "https://a.b.atlassian.net",
            "https://acme.atlassian.net.evil.example",
            "https://evilatlassian.net",
            "https://-acme.atlassian.net",
            "https://acme.atlassian.net:444",
            "http://acme.atlassian.net",
            "https://api.atlassian.com",
            "https://10.0.0.1",
            "http://127.0.0.1:8080",
        ] {
            assert_eq!(check_site_url(bad, false), Err(NOT_ATLASSIAN_SITE), "{bad}");
        }
    }

    #[test]
    fn loopback_http_only_with_the_test_flag() {
        for url in [
            "http://127.0.0.1:8080",
            "http://localhost:1",
            "http://[::1]:9",
        ] {
            assert_eq!(check_api_url(url, true).as_deref(), Ok(url));
            assert_eq!(check_site_url(url, true).as_deref(), Ok(url));
        }
        assert!(check_api_url("http://10.0.0.1", true).is_err());
        assert!(check_api_url("https://evil.example", true).is_err());
        let fake = [
            (API_KEY, KEY),
            (ATLASSIAN_API_URL, "http://127.0.0.1:9"),
            (ATLASSIAN_ORG_ID, "org-1"),
            (ATLASSIAN_ADMIN_API_KEY, "admin-secret"),
            (CONFLUENCE_URL, "http://127.0.0.1:9"),
            (CONFLUENCE_EMAIL, "bot@acme.example"),
            (CONFLUENCE_API_TOKEN, "tok"),
        ];
        let e = Config::load(&vars(&fake)).unwrap_err();
        assert_eq!(e.variables(), vec![ATLASSIAN_API_URL, CONFLUENCE_URL]);
        assert!(e.invalid[0].1.contains("allow_loopback_http"), "{e:?}");
        let mut allowed = fake.to_vec();
        allowed.push((ALLOW_LOOPBACK_HTTP, "true"));
        assert!(Config::load(&vars(&allowed)).is_ok());
        let mut bad_flag = fake.to_vec();
        bad_flag.push((ALLOW_LOOPBACK_HTTP, "yes"));
        let e = Config::load(&vars(&bad_flag)).unwrap_err();
        assert!(e.variables().contains(&ALLOW_LOOPBACK_HTTP));
    }

    #[test]
    fn readiness_checks_public_settings_assuming_secrets() {
        // Secrets unset: readiness cannot tell, and does not try.
        let public = [
            (ATLASSIAN_ORG_ID, "org-1"),
            (CONFLUENCE_URL, "https://acme.atlassian.net"),
            (CONFLUENCE_EMAIL, "bot@acme.example"),
        ];
        assert_eq!(check_ready(&vars(&public)), Ok(()));
        assert_eq!(check_ready(&vars(&[(CONFLUENCE_CLOUD_ID, "c-1")])), Ok(()));
        // No source at all: names the non-secret settings only.
        let e = check_ready(&vars(&[])).unwrap_err();
        assert!(e.missing.contains(&ATLASSIAN_ORG_ID), "{e:?}");
        assert!(
            e.missing.iter().all(|n| !SECRET_VARIABLES.contains(n)),
            "{e:?}"
        );
        // A public setting that is wrong.
        let e = check_ready(&vars(&[
            (ATLASSIAN_ORG_ID, "org-1"),
            (ATLASSIAN_API_URL, "https://evil.example"),
        ]))
        .unwrap_err();
        assert_eq!(e.variables(), vec![ATLASSIAN_API_URL]);
        let e = check_ready(&vars(&[(CONFLUENCE_URL, "https://acme.atlassian.net")])).unwrap_err();
        assert_eq!(e.missing, vec![CONFLUENCE_EMAIL]);
    }

    #[test]
    fn no_source_names_every_source_variable() {
        let e = Config::load(&vars(&[(API_KEY, KEY)])).unwrap_err();
        assert!(e.missing.contains(&ATLASSIAN_ORG_ID));
        assert!(e.missing.contains(&CONFLUENCE_URL));
        assert!(e.missing.contains(&CONFLUENCE_BEARER_TOKEN));
    }

    #[test]
    fn partial_basic_auth_names_the_missing_parts() {
        let v = [
            (API_KEY, KEY),
            (CONFLUENCE_URL, "https://acme.atlassian.net"),
        ];
        let e = Config::load(&vars(&v)).unwrap_err();
        assert_eq!(e.missing, vec![CONFLUENCE_EMAIL, CONFLUENCE_API_TOKEN]);
    }

    #[test]
    fn partial_bearer_names_the_missing_part() {
        let v = [(API_KEY, KEY), (CONFLUENCE_BEARER_TOKEN, "t")];
        let e = Config::load(&vars(&v)).unwrap_err();
        assert_eq!(e.missing, vec![CONFLUENCE_CLOUD_ID]);
    }

    #[test]
    fn scoped_token_goes_basic_through_the_gateway() {
        let v = [
            (API_KEY, KEY),
            (CONFLUENCE_EMAIL, "svc@acme.example"),
            (CONFLUENCE_API_TOKEN, "scoped-token"),
            (CONFLUENCE_CLOUD_ID, "cloud-1"),
        ];
        let c = Config::load(&vars(&v)).unwrap();
        let debug = format!("{:?}", c.sources[0]);
        assert!(
            debug
                .contains("https://api.atlassian.com/ex/confluence/cloud-1/wiki/api/v2/users-bulk"),
            "{debug}"
        );
        assert!(debug.contains("Basic"), "{debug}");
        assert!(!debug.contains("scoped-token"), "{debug}");
    }

    #[test]
    fn bearer_wins_over_basic_when_both_are_complete() {
        let v = [
            (API_KEY, KEY),
            (CONFLUENCE_URL, "https://acme.atlassian.net"),
            (CONFLUENCE_EMAIL, "bot@acme.example"),
            (CONFLUENCE_API_TOKEN, "tok"),
            (CONFLUENCE_BEARER_TOKEN, "oauth"),
            (CONFLUENCE_CLOUD_ID, "cloud-1"),
        ];
        let c = Config::load(&vars(&v)).unwrap();
        assert!(format!("{:?}", c.sources[0]).contains("Bearer"));
    }

    #[test]
    fn cloud_id_alone_names_the_basic_credentials() {
        let v = [(API_KEY, KEY), (CONFLUENCE_CLOUD_ID, "cloud-1")];
        let e = Config::load(&vars(&v)).unwrap_err();
        assert_eq!(e.missing, vec![CONFLUENCE_EMAIL, CONFLUENCE_API_TOKEN]);
    }

    #[test]
    fn plain_http_only_to_loopback() {
        assert_eq!(
            parse_base_url("http://127.0.0.1:8080/").unwrap(),
            "http://127.0.0.1:8080"
        );
        assert!(parse_base_url("http://localhost:1").is_ok());
        assert!(parse_base_url("http://[::1]:9").is_ok());
        assert!(parse_base_url("http://api.atlassian.com").is_err());
        assert!(parse_base_url("http://10.0.0.1").is_err());
        assert!(parse_base_url("https://acme.atlassian.net").is_ok());
    }

    #[test]
    fn base_url_rejects_paths_queries_and_credentials() {
        for bad in [
            "https://acme.atlassian.net/wiki",
            "https://acme.atlassian.net?x=1",
            "https://user:pw@acme.atlassian.net",
            "ftp://acme.atlassian.net",
            "acme.atlassian.net",
            "https://",
            "https://acme.atlassian.net:99999",
            "https://acme .atlassian.net",
        ] {
            assert!(parse_base_url(bad).is_err(), "{bad}");
        }
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
    fn unknown_source_name_is_invalid() {
        let mut v = admin_vars();
        v.push((EMAIL_SOURCES, "admin,ldap"));
        let e = Config::load(&vars(&v)).unwrap_err();
        assert_eq!(e.variables(), vec![EMAIL_SOURCES]);
    }

    #[test]
    fn org_id_cannot_inject_a_path() {
        let mut v = admin_vars();
        v[1] = (ATLASSIAN_ORG_ID, "../users");
        let e = Config::load(&vars(&v)).unwrap_err();
        assert_eq!(e.variables(), vec![ATLASSIAN_ORG_ID]);
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

    struct FailingVars;
    impl Variables for FailingVars {
        fn get(&self, _: &str) -> Result<Option<String>, crate::platform::VariableError> {
            Err(crate::platform::VariableError)
        }
    }

    #[test]
    fn provider_failure_fails_closed() {
        let e = Config::load(&FailingVars).unwrap_err();
        assert!(e.variables().contains(&API_KEY));
    }
}
