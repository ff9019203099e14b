//! `allowed_outbound_hosts`: parsing entries and deciding whether a request may go out.
//!
//! The rules follow Spin's `outbound-networking-config` (`AllowedHostConfig::parse`): an entry
//! is `scheme://host[:port]`; a trailing `/` is tolerated, a path is rejected, an empty value is
//! rejected (so a template that resolves to `""` stops the server from starting, as in Spin,
//! issue #3549). `*` may stand for the scheme, the host or the port; a host may be `*.domain`
//! (any subdomain, not the domain itself); a missing port means the scheme's well-known port;
//! IP literals match by address (`127.0.0.1`, `[::1]`, and CIDR blocks like `10.0.0.0/8`);
//! ports may be ranges `a..b` (end exclusive). Entries match as written (Spin does not
//! lowercase them) against the request's lowercased scheme and host. Every outgoing request is checked against the
//! list; anything not allowed is denied.

use std::net::IpAddr;

use anyhow::{bail, ensure, Context};
use ipnet::IpNet;

/// One parsed `allowed_outbound_hosts` entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AllowedHost {
    original: String,
    scheme: SchemeSpec,
    host: HostSpec,
    port: PortSpec,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum SchemeSpec {
    Any,
    One(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum HostSpec {
    Any,
    /// `*.domain`: stores `.domain`.
    AnySubdomain(String),
    /// `self`: the app itself (service chaining), which devhost does not provide.
    ToSelf,
    Name(String),
    /// An IP literal (a network of one address) or a CIDR block.
    Ip(IpNet),
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum PortSpec {
    Any,
    One(u16),
    Range(u16, u16),
}

/// The well-known port of a scheme, as Spin knows them.
pub fn well_known_port(scheme: &str) -> Option<u16> {
    match scheme {
        "postgres" => Some(5432),
        "mysql" => Some(3306),
        "redis" => Some(6379),
        "mqtt" => Some(1883),
        "http" => Some(80),
        "https" => Some(443),
        _ => None,
    }
}

const LEARN_MORE: &str =
    "Learn more: https://spinframework.dev/v3/http-outbound#granting-http-permissions-to-components";

impl AllowedHost {
    /// Parses one entry (already resolved from its template).
    pub fn parse(entry: &str) -> anyhow::Result<AllowedHost> {
        let url = entry.trim();
        let Some((scheme, rest)) = url.split_once("://") else {
            match url {
                "*" | ":" | "" | "?" => bail!(
                    "{url:?} is not an allowed outbound host format.\nHosts must be in the form \
                     <scheme>://<host>[:<port>], with '*' wildcards allowed for each.\n{LEARN_MORE}"
                ),
                _ => bail!(
                    "{url:?} does not contain a scheme (e.g., 'http://' or '*://')\n{LEARN_MORE}"
                ),
            }
        };
        // Split off the path: anything after the first '/' that is not part of a CIDR prefix
        // is a path and is rejected; a lone trailing '/' is tolerated.
        let (authority, path) = split_path(rest);
        ensure!(
            path.is_empty(),
            "{url:?} has a path but is not allowed to (use scheme://host[:port])"
        );
        ensure!(!authority.is_empty(), "{url:?} has no host");
        let (host, port) = split_host_port(authority);
        let scheme_spec = if scheme == "*" {
            SchemeSpec::Any
        } else {
            ensure!(
                !scheme.is_empty() && scheme.chars().all(|c| c.is_ascii_alphabetic()),
                "{url:?}: scheme {scheme:?} contains non alphabetic character"
            );
            SchemeSpec::One(scheme.to_string())
        };
        let host_spec = parse_host(host).with_context(|| format!("{url:?}"))?;
        let port_spec = match port {
            None | Some("") => {
                let p = well_known_port(scheme).with_context(|| {
                    format!(
                        "{url:?}: no port was provided and the scheme {scheme:?} does not have a known default port number"
                    )
                })?;
                PortSpec::One(p)
            }
            Some("*") => PortSpec::Any,
            Some(p) => match p.split_once("..") {
                Some((a, b)) => PortSpec::Range(
                    a.parse().with_context(|| {
                        format!("{url:?}: port range {p:?} contains non-number")
                    })?,
                    b.parse().with_context(|| {
                        format!("{url:?}: port range {p:?} contains non-number")
                    })?,
                ),
                None => PortSpec::One(
                    p.parse()
                        .with_context(|| format!("{url:?}: port {p:?} is not a number"))?,
                ),
            },
        };
        Ok(AllowedHost {
            original: entry.to_string(),
            scheme: scheme_spec,
            host: host_spec,
            port: port_spec,
        })
    }

    /// Whether this entry allows a request to `scheme://host[:port]`. `host` may be a name,
    /// an IPv4 address or a bracketed IPv6 address; a missing port means the scheme's default.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        let scheme = scheme.to_ascii_lowercase();
        let scheme_ok = match &self.scheme {
            SchemeSpec::Any => true,
            SchemeSpec::One(s) => *s == scheme,
        };
        let host = host.to_ascii_lowercase();
        let host_ok = match &self.host {
            HostSpec::Any => true,
            HostSpec::AnySubdomain(suffix) => host.ends_with(suffix.as_str()),
            HostSpec::ToSelf => false,
            HostSpec::Name(name) => *name == host,
            HostSpec::Ip(net) => parse_ip(&host).is_some_and(|ip| net.contains(&ip)),
        };
        let port_ok = match &self.port {
            PortSpec::Any => true,
            spec => match port.or_else(|| well_known_port(&scheme)) {
                None => false,
                Some(p) => match spec {
                    PortSpec::One(allowed) => *allowed == p,
                    PortSpec::Range(a, b) => (*a..*b).contains(&p),
                    PortSpec::Any => true,
                },
            },
        };
        scheme_ok && host_ok && port_ok
    }

    /// The entry as written.
    pub fn as_str(&self) -> &str {
        &self.original
    }
}

/// A component's resolved `allowed_outbound_hosts`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AllowedHosts {
    hosts: Vec<AllowedHost>,
}

impl AllowedHosts {
    /// Parses resolved entries; the first bad one is an error.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> anyhow::Result<AllowedHosts> {
        let hosts = entries
            .iter()
            .map(|e| AllowedHost::parse(e.as_ref()))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(AllowedHosts { hosts })
    }

    /// Collects already-parsed entries.
    pub fn from_hosts(hosts: Vec<AllowedHost>) -> AllowedHosts {
        AllowedHosts { hosts }
    }

    /// Whether any entry allows `scheme://host[:port]`.
    pub fn allows(&self, scheme: &str, host: &str, port: Option<u16>) -> bool {
        self.hosts.iter().any(|h| h.allows(scheme, host, port))
    }

    /// The entries.
    pub fn entries(&self) -> &[AllowedHost] {
        &self.hosts
    }
}

/// Splits `authority[/path]`, treating `/N` after an IP literal as a CIDR prefix.
fn split_path(rest: &str) -> (&str, &str) {
    let Some(slash) = rest.find('/') else {
        return (rest, "");
    };
    let (before, after) = (&rest[..slash], &rest[slash + 1..]);
    // CIDR: `10.0.0.0/8` or `10.0.0.0/8:443`.
    let prefix_len = after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len());
    if prefix_len > 0 && before.parse::<IpAddr>().is_ok() {
        let end = slash + 1 + prefix_len;
        let tail = &rest[end..];
        let (port, path) = match tail.split_once('/') {
            Some((port, path)) => (port, path),
            None => (tail, ""),
        };
        if port.is_empty() || port.starts_with(':') {
            return (&rest[..end + port.len()], path);
        }
    }
    (before, after)
}

/// Splits `host[:port]`, handling bracketed IPv6 literals.
fn split_host_port(authority: &str) -> (&str, Option<&str>) {
    if authority.starts_with('[') {
        if let Some(end) = authority.find(']') {
            let host = &authority[..=end];
            let rest = &authority[end + 1..];
            return (host, rest.strip_prefix(':'));
        }
    }
    match authority.rsplit_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    }
}

fn parse_ip(host: &str) -> Option<IpAddr> {
    let bare = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    bare.parse().ok()
}

fn parse_host(host: &str) -> anyhow::Result<HostSpec> {
    let host = host.trim().to_string();
    if host == "*" {
        return Ok(HostSpec::Any);
    }
    if host == "self" || host == "self.alt" {
        return Ok(HostSpec::ToSelf);
    }
    ensure!(!host.starts_with('{'), "host lists are not yet supported");
    if let Some((ip, prefix)) = host.split_once('/') {
        let addr =
            parse_ip(ip).with_context(|| format!("{host:?}: hosts must not contain paths"))?;
        let net = prefix
            .parse()
            .ok()
            .and_then(|prefix| IpNet::new(addr, prefix).ok())
            .with_context(|| format!("{host:?}: invalid CIDR prefix"))?;
        return Ok(HostSpec::Ip(net));
    }
    if let Some(addr) = parse_ip(&host) {
        return Ok(HostSpec::Ip(IpNet::from(addr)));
    }
    if let Some(domain) = host.strip_prefix("*.") {
        ensure!(
            !domain.contains('*') && !domain.is_empty(),
            "Invalid allowed host {host}: wildcards are allowed only as prefixes"
        );
        return Ok(HostSpec::AnySubdomain(format!(".{domain}")));
    }
    ensure!(
        !host.contains('*'),
        "Invalid allowed host {host}: wildcards are allowed only as subdomains"
    );
    ensure!(!host.is_empty(), "empty host");
    Ok(HostSpec::Name(host))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn allows(entry: &str, scheme: &str, host: &str, port: Option<u16>) -> bool {
        AllowedHost::parse(entry)
            .unwrap_or_else(|e| panic!("{entry}: {e:#}"))
            .allows(scheme, host, port)
    }

    #[test]
    fn ip_literal_with_port() {
        let e = "http://127.0.0.1:8080";
        assert!(allows(e, "http", "127.0.0.1", Some(8080)));
        assert!(!allows(e, "http", "127.0.0.1", Some(8081)));
        assert!(!allows(e, "http", "127.0.0.1", None));
        assert!(!allows(e, "https", "127.0.0.1", Some(8080)));
        assert!(!allows(e, "http", "localhost", Some(8080)));
    }

    #[test]
    fn ipv6_literal() {
        let e = "http://[::1]:8080";
        assert!(allows(e, "http", "[::1]", Some(8080)));
        assert!(!allows(e, "http", "[::2]", Some(8080)));
    }

    #[test]
    fn cidr_block() {
        let e = "http://10.0.0.0/8:80";
        assert!(allows(e, "http", "10.1.2.3", None));
        assert!(!allows(e, "http", "11.1.2.3", None));
        assert!(allows("http://10.0.0.0/8", "http", "10.9.9.9", Some(80)));
        // Host bits after the prefix do not matter; /0 is every address of the family.
        assert!(allows("http://10.1.2.3/8:80", "http", "10.200.0.1", None));
        assert!(allows("http://0.0.0.0/0:80", "http", "192.0.2.1", None));
        assert!(!allows("http://0.0.0.0/0:80", "http", "[::1]", None));
        assert!(AllowedHost::parse("http://10.0.0.0/33").is_err());
    }

    #[test]
    fn subdomain_wildcard() {
        let e = "https://*.atlassian.net";
        assert!(allows(e, "https", "acme.atlassian.net", None));
        assert!(allows(e, "https", "acme.atlassian.net", Some(443)));
        assert!(allows(e, "https", "a.b.atlassian.net", None));
        assert!(!allows(e, "https", "atlassian.net", None));
        assert!(!allows(e, "https", "evilatlassian.net", None));
        assert!(!allows(e, "https", "atlassian.net.evil.com", None));
        assert!(!allows(e, "http", "acme.atlassian.net", None));
        assert!(!allows(e, "https", "acme.atlassian.net", Some(8443)));
    }

    #[test]
    fn trailing_slash_is_tolerated_and_default_port_applies() {
        let e = "https://api.atlassian.com/";
        assert!(allows(e, "https", "api.atlassian.com", None));
        assert!(allows(e, "https", "api.atlassian.com", Some(443)));
        assert!(!allows(e, "https", "api.atlassian.com", Some(444)));
        assert!(!allows(e, "https", "other.atlassian.com", None));
        // As in Spin, entries are matched as written against the lowercased request URL:
        // an uppercase scheme has no default port, an uppercase host never matches.
        assert!(AllowedHost::parse("HTTPS://api.atlassian.com").is_err());
        assert!(!allows(
            "https://API.atlassian.com",
            "https",
            "api.atlassian.com",
            None
        ));
    }

    #[test]
    fn empty_is_rejected() {
        let err = AllowedHost::parse("").unwrap_err().to_string();
        assert!(
            err.contains("is not an allowed outbound host format"),
            "{err}"
        );
    }

    #[test]
    fn path_is_rejected() {
        let err = format!(
            "{:#}",
            AllowedHost::parse("https://api.atlassian.com/admin").unwrap_err()
        );
        assert!(err.contains("path"), "{err}");
        assert!(AllowedHost::parse("https://api.atlassian.com:443/x").is_err());
    }

    #[test]
    fn missing_scheme_is_rejected() {
        let err = AllowedHost::parse("api.atlassian.com")
            .unwrap_err()
            .to_string();
        assert!(err.contains("does not contain a scheme"), "{err}");
    }

    #[test]
    fn misplaced_wildcards_are_rejected() {
        assert!(AllowedHost::parse("https://api.*.com").is_err());
        assert!(AllowedHost::parse("https://*.*.com").is_err());
    }

    #[test]
    fn unknown_scheme_needs_a_port() {
        assert!(AllowedHost::parse("ftp://example.com").is_err());
        assert!(allows(
            "ftp://example.com:21",
            "ftp",
            "example.com",
            Some(21)
        ));
    }

    #[test]
    fn wildcards_and_ranges() {
        assert!(allows("*://*:*", "http", "anything", Some(1)));
        assert!(allows(
            "http://localhost:*",
            "http",
            "localhost",
            Some(9999)
        ));
        assert!(allows(
            "http://localhost:8000..8010",
            "http",
            "localhost",
            Some(8005)
        ));
        assert!(!allows(
            "http://localhost:8000..8010",
            "http",
            "localhost",
            Some(8010)
        ));
    }

    #[test]
    fn self_allows_nothing_here() {
        assert!(!allows("http://self", "http", "self", None));
    }

    #[test]
    fn list_allows_any_matching_entry() -> anyhow::Result<()> {
        let hosts = AllowedHosts::parse(&["http://127.0.0.1:8080", "https://*.atlassian.net"])?;
        assert!(hosts.allows("http", "127.0.0.1", Some(8080)));
        assert!(hosts.allows("https", "x.atlassian.net", None));
        assert!(!hosts.allows("https", "example.com", None));
        assert!(!AllowedHosts::default().allows("https", "example.com", None));
        Ok(())
    }
}
