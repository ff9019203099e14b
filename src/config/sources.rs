//! Source selection: which email sources a request asks, in which order, and how each is built
//! from its settings. `email_sources=auto` (or unset) asks every source with a setting given, the
//! cheapest first (Confluence, 250 ids a call, then admin, 10 ids a call, for what is left); a
//! list asks the sources it names in its order and reads only their settings, so a secret store is
//! never asked for what the request cannot use. A source with only some of its settings names the
//! ones missing; Confluence prefers a bearer token, then basic auth to the site, then basic auth
//! through the `api.atlassian.com` gateway.

use crate::auth::Secret;
use crate::upstream::{AdminSource, ConfluenceAuth, ConfluenceSource, Source};

use super::reader::Reader;
use super::url::{check_site_url, is_path_safe};
use super::variables::*;

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

/// Which source a name in `email_sources` means.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum SourceName {
    Admin,
    Confluence,
}

/// The settings of the email sources, as read (trimmed, empty when unset).
pub(super) struct SourceSettings {
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

/// The sources' parsers of [`Config::load`](super::Config::load), in the order it reads the
/// variables.
impl Reader<'_> {
    /// The settings of the sources in `only` (every source's under `auto`, `None`), each read
    /// once; a source not listed is not read at all (empty here): a secret store is never asked
    /// for what the request cannot use.
    pub(super) fn source_settings(&mut self, only: Option<&[SourceName]>) -> SourceSettings {
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
    pub(super) fn listed_sources(&mut self) -> Option<Vec<SourceName>> {
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
    pub(super) fn auto_source_names(&mut self, settings: &SourceSettings) -> Vec<SourceName> {
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
    pub(super) fn sources(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{admin_vars, vars, KEY};
    use crate::config::Config;

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
}
