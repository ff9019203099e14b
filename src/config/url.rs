//! The URL rules: where credentials may be sent. `atlassian_api_url` must be
//! `https://api.atlassian.com` and `confluence_url` an Atlassian Cloud site,
//! `https://SITE.atlassian.net`, each on the default port with no path, query or user info;
//! plain `http://` only to a loopback host and only with the test-only `allow_loopback_http`. An
//! id that goes into a URL path (`atlassian_org_id`, `confluence_cloud_id`) holds only letters,
//! digits, `-` and `_`. Hand-written on purpose: it is a strict allow-list of the exact text
//! given, where a general URL parser (the `url` crate) first normalizes what it reads
//! (percent-decoding, IDNA, `http://2130706433` read as 127.0.0.1) and so widens what could pass
//! where a token is sent.

/// The one Atlassian API host `atlassian_api_url` may name: the organization admin API and the
/// `/ex/confluence/{cloudId}` gateway are both served there.
pub const ATLASSIAN_API_HOST: &str = "api.atlassian.com";
/// The domain of Atlassian Cloud sites: `confluence_url` must be `https://SITE.atlassian.net`.
pub const ATLASSIAN_SITE_DOMAIN: &str = ".atlassian.net";

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
pub(super) fn is_path_safe(value: &str) -> bool {
    !value.is_empty()
        && value.len() <= 128
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{vars, KEY};
    use crate::config::variables::*;
    use crate::config::Config;

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
}
