//! Routing requests to components and the `spin-*` request headers, as Spin's HTTP trigger
//! does (spin `crates/http/src/routes.rs`, `crates/trigger-http/src/headers.rs`).
//!
//! A route ending in `/...` is a wildcard matching its prefix and everything under it;
//! any other route matches exactly. An exact match beats a wildcard, and the longest
//! wildcard prefix wins. The application base is always `/`.

use std::fmt;
use std::net::SocketAddr;

use crate::manifest::{normalize_route, HttpTrigger};

/// One routing entry.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Route {
    /// The route as written in the manifest.
    raw: String,
    /// The normalised route (absolute, one trailing `/` stripped).
    based: String,
    /// For a wildcard, the prefix before `/...` (`""` for `/...`).
    wildcard_prefix: Option<String>,
    component: String,
}

/// Maps request paths to components.
#[derive(Clone, Debug, Default)]
pub struct Router {
    routes: Vec<Route>,
}

/// A successful route match.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteMatch {
    /// The component to run.
    pub component: String,
    /// The route as written (`spin-raw-component-route`).
    pub raw_route: String,
    /// The route with the base (`spin-matched-route`).
    pub based_route: String,
    /// The route without a trailing `/...` (`spin-component-route`).
    pub component_route: String,
    /// The part of the path the wildcard matched (`spin-path-info`).
    pub path_info: String,
}

/// How a route is listed at startup: `/foo`, or `/foo (wildcard)`.
pub struct RouteDisplay<'a> {
    /// The component id.
    pub component: &'a str,
    /// The path to append to the server URL.
    pub path: &'a str,
    /// Whether it is a wildcard route.
    pub wildcard: bool,
}

impl fmt::Display for RouteDisplay<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.path)?;
        if self.wildcard {
            f.write_str(" (wildcard)")?;
        }
        Ok(())
    }
}

impl Router {
    /// Builds the router from the manifest's triggers.
    pub fn new(triggers: &[HttpTrigger]) -> Router {
        let routes = triggers
            .iter()
            .map(|t| {
                let based = normalize_route(&t.route);
                let wildcard_prefix = based.strip_suffix("/...").map(str::to_string);
                Route {
                    raw: t.route.clone(),
                    based,
                    wildcard_prefix,
                    component: t.component.clone(),
                }
            })
            .collect();
        Router { routes }
    }

    /// Finds the component for a request path (without the query).
    pub fn route(&self, path: &str) -> Option<RouteMatch> {
        let trimmed = match path.strip_suffix('/') {
            Some(p) if !p.is_empty() => p,
            _ => path,
        };
        if let Some(r) = self
            .routes
            .iter()
            .find(|r| r.wildcard_prefix.is_none() && r.based == trimmed)
        {
            return Some(self.matched(r, String::new()));
        }
        let best = self
            .routes
            .iter()
            .filter_map(|r| {
                let prefix = r.wildcard_prefix.as_deref()?;
                let rest = path.strip_prefix(prefix)?;
                (rest.is_empty() || rest.starts_with('/')).then_some((r, prefix.len(), rest))
            })
            .max_by_key(|(_, len, _)| *len)?;
        Some(self.matched(best.0, best.2.to_string()))
    }

    fn matched(&self, r: &Route, path_info: String) -> RouteMatch {
        RouteMatch {
            component: r.component.clone(),
            raw_route: r.raw.clone(),
            based_route: r.based.clone(),
            component_route: r.raw.strip_suffix("/...").unwrap_or(&r.raw).to_string(),
            path_info,
        }
    }

    /// The routes as `spin up` lists them under "Available Routes".
    pub fn display(&self) -> Vec<RouteDisplay<'_>> {
        self.routes
            .iter()
            .map(|r| RouteDisplay {
                component: &r.component,
                path: r.wildcard_prefix.as_deref().unwrap_or(&r.based),
                wildcard: r.wildcard_prefix.is_some(),
            })
            .collect()
    }
}

/// The headers Spin adds to every request it hands a component, in Spin's order. They
/// overwrite any header of the same name the client sent.
///
/// `host` is the request's `Host` header (Spin falls back to `localhost`), `path_and_query`
/// the request target.
pub fn spin_headers(
    route: &RouteMatch,
    host: &str,
    path_and_query: &str,
    client_addr: SocketAddr,
) -> Vec<(&'static str, String)> {
    vec![
        ("spin-path-info", route.path_info.clone()),
        ("spin-full-url", format!("http://{host}{path_and_query}")),
        ("spin-matched-route", route.based_route.clone()),
        ("spin-base-path", "/".to_string()),
        ("spin-raw-component-route", route.raw_route.clone()),
        ("spin-component-route", route.component_route.clone()),
        ("spin-client-addr", client_addr.to_string()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn router(routes: &[(&str, &str)]) -> Router {
        Router::new(
            &routes
                .iter()
                .map(|(route, component)| HttpTrigger {
                    route: route.to_string(),
                    component: component.to_string(),
                })
                .collect::<Vec<_>>(),
        )
    }

    #[test]
    fn root_wildcard_matches_everything() {
        let r = router(&[("/...", "all")]);
        for path in ["/", "/health", "/foo/bar", "/abc/"] {
            assert_eq!(r.route(path).unwrap().component, "all", "{path}");
        }
        let m = r.route("/health").unwrap();
        assert_eq!(m.path_info, "/health");
        assert_eq!(m.based_route, "/...");
        assert_eq!(m.raw_route, "/...");
        assert_eq!(m.component_route, "");
        assert_eq!(r.route("/").unwrap().path_info, "/");
    }

    #[test]
    fn prefix_wildcard_matches_whole_segments() {
        let r = router(&[("/foo/...", "foo")]);
        assert_eq!(r.route("/foo").unwrap().path_info, "");
        assert_eq!(r.route("/foo/").unwrap().path_info, "/");
        assert_eq!(r.route("/foo/bar").unwrap().path_info, "/bar");
        assert_eq!(r.route("/foo/bar/").unwrap().path_info, "/bar/");
        assert!(r.route("/foobar").is_none());
        assert!(r.route("/").is_none());
    }

    #[test]
    fn exact_route_matches_only_itself() {
        let r = router(&[("/health", "h")]);
        let m = r.route("/health").unwrap();
        assert_eq!(m.path_info, "");
        assert_eq!(m.component_route, "/health");
        assert!(r.route("/health/x").is_none());
        assert!(r.route("/healthz").is_none());
        assert!(r.route("/").is_none());
    }

    #[test]
    fn exact_beats_wildcard_and_longest_prefix_wins() {
        let r = router(&[
            ("/...", "all"),
            ("/one", "one_exact"),
            ("/one/...", "one"),
            ("/one/two/...", "onetwo"),
        ]);
        assert_eq!(r.route("/one").unwrap().component, "one_exact");
        assert_eq!(r.route("/one/x").unwrap().component, "one");
        assert_eq!(r.route("/one/two/three").unwrap().component, "onetwo");
        assert_eq!(r.route("/other").unwrap().component, "all");
    }

    #[test]
    fn spin_header_values_match_spin() {
        // The values from spin's own `test_default_headers`.
        let r = router(&[("/foo/...", "DUMMY")]);
        let m = r.route("/foo/bar").unwrap();
        let client: SocketAddr = "127.0.0.1:8777".parse().unwrap();
        let headers = spin_headers(
            &m,
            "fermyon.dev",
            "/foo/bar?key1=value1&key2=value2",
            client,
        );
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| v.as_str())
                .unwrap()
        };
        assert_eq!(
            get("spin-full-url"),
            "http://fermyon.dev/foo/bar?key1=value1&key2=value2"
        );
        assert_eq!(get("spin-path-info"), "/bar");
        assert_eq!(get("spin-matched-route"), "/foo/...");
        assert_eq!(get("spin-base-path"), "/");
        assert_eq!(get("spin-raw-component-route"), "/foo/...");
        assert_eq!(get("spin-component-route"), "/foo");
        assert_eq!(get("spin-client-addr"), "127.0.0.1:8777");
        assert_eq!(headers.len(), 7);
    }

    #[test]
    fn routes_display_like_spin_up() {
        let r = router(&[("/...", "all"), ("/health", "h"), ("/api/...", "api")]);
        let shown: Vec<String> = r
            .display()
            .iter()
            .map(|d| format!("{}: {d}", d.component))
            .collect();
        assert_eq!(
            shown,
            vec!["all:  (wildcard)", "h: /health", "api: /api (wildcard)"]
        );
    }
}
