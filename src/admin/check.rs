//! `GET /admin/status`: the configuration report and one live check per source.

use std::time::Duration;

use futures::future::{self, Either};

use super::shapes::{Check, CheckStatus, Invalid, Keys, Status, VariableState};
use crate::auth::ApiKeys;
use crate::config::{self, Config, ConfigError, SECRET_VARIABLES};
use crate::error::{ApiError, Response};
use crate::platform::{OutboundResponse, Platform, TransportError};
use crate::upstream::retry::{classify, StatusClass};
use crate::upstream::{CallContext, Source, SourceKind, Stats};

/// The longest a live check waits for one source.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(5);

/// Classifies one live check's outcome: status, upstream code, and reason for `unreachable`.
pub fn classify_check(
    result: &Result<OutboundResponse, TransportError>,
) -> (CheckStatus, Option<u16>, Option<&'static str>) {
    match result {
        Ok(response) => {
            let code = Some(response.status);
            match (classify(response.status), response.status) {
                (StatusClass::Success, _) => (CheckStatus::Ok, code, None),
                (StatusClass::Refused, _) => (CheckStatus::CredentialsRefused, code, None),
                (_, 429) => (CheckStatus::RateLimited, code, None),
                (_, 500..=599) => (CheckStatus::Unreachable, code, Some("server_error")),
                _ => (CheckStatus::Unreachable, code, Some("unexpected_status")),
            }
        }
        Err(e) => {
            let reason = match e {
                TransportError::Denied => "denied_by_allowed_outbound_hosts",
                TransportError::Timeout => "timeout",
                TransportError::Connection => "connection_failed",
                TransportError::TooLarge => "response_too_large",
            };
            (CheckStatus::Unreachable, None, Some(reason))
        }
    }
}

/// The endpoint template, the credential variables and the URL variables of a source.
fn describe(source: &Source) -> (&'static str, Vec<&'static str>, &'static str) {
    match source {
        Source::Admin(_) => (
            "POST /admin/v2/orgs/{orgId}/directories/-/users/search",
            vec![config::ATLASSIAN_ORG_ID, config::ATLASSIAN_ADMIN_API_KEY],
            config::ATLASSIAN_API_URL,
        ),
        Source::Confluence(s) if s.uses_bearer() => (
            "POST /ex/confluence/{cloudId}/wiki/api/v2/users-bulk",
            vec![config::CONFLUENCE_BEARER_TOKEN, config::CONFLUENCE_CLOUD_ID],
            config::ATLASSIAN_API_URL,
        ),
        Source::Confluence(_) => (
            "POST /wiki/api/v2/users-bulk",
            vec![config::CONFLUENCE_EMAIL, config::CONFLUENCE_API_TOKEN],
            config::CONFLUENCE_URL,
        ),
    }
}

/// The sentence for a person: what happened and what to fix. Fixed text, names and the status.
fn advice(
    kind: SourceKind,
    bearer: bool,
    status: CheckStatus,
    code: Option<u16>,
    reason: Option<&str>,
    url_variable: &str,
) -> String {
    let api = kind.describe();
    let http = code.map(|c| format!(" (HTTP {c})")).unwrap_or_default();
    match status {
        CheckStatus::Ok => format!("The {api} accepted this app's credentials{http}."),
        CheckStatus::CredentialsRefused => match (kind, bearer) {
            (SourceKind::Admin, _) => format!(
                "The {api} refused the credentials{http}: check atlassian_org_id (Atlassian \
                 Administration > Settings > API keys shows the organization id) and \
                 atlassian_admin_api_key (create an org admin API key there; keys expire)."
            ),
            (SourceKind::Confluence, true) => format!(
                "The {api} refused the credentials{http}: check confluence_bearer_token (not \
                 expired, allowed to read users) and confluence_cloud_id (from \
                 https://SITE.atlassian.net/_edge/tenant_info)."
            ),
            (SourceKind::Confluence, false) => format!(
                "The {api} refused the credentials{http}: check confluence_email and \
                 confluence_api_token (id.atlassian.com > Security > API tokens; tokens expire) \
                 and that confluence_url is your site."
            ),
        },
        CheckStatus::RateLimited => format!(
            "Atlassian is rate limiting these credentials{http}: lookups wait and retry; if it \
             lasts, lower upstream_concurrency or the connector's request rate."
        ),
        CheckStatus::Unreachable => {
            match reason.unwrap_or_default() {
                "denied_by_allowed_outbound_hosts" => format!(
                    "The call was denied by allowed_outbound_hosts: {url_variable} must be a host \
                 the manifest allows ({{{{ atlassian_api_url }}}} and https://*.atlassian.net)."
                ),
                "timeout" => format!(
                    "The {api} did not answer within {} seconds: check {url_variable} and the \
                 network path to Atlassian.",
                    CHECK_TIMEOUT.as_secs()
                ),
                "connection_failed" => format!(
                    "The {api} could not be reached: check {url_variable} (host name, port, TLS) \
                 and that this platform can reach the internet."
                ),
                "response_too_large" => {
                    format!("The {api} answered with a response too large to read: check {url_variable}.")
                }
                "server_error" => format!(
                    "The {api} failed with a server error{http}: usually temporary, see \
                 https://status.atlassian.com; lookups retry such errors."
                ),
                _ => format!(
                "The {api} answered with an unexpected status{http}: check that {url_variable} \
                 points at Atlassian."
            ),
            }
        }
    }
}

/// Runs one source's live check.
async fn check(source: &Source, ctx: &CallContext<'_>, timeout: Duration) -> Check {
    let started = ctx.runtime.now();
    let calling = std::pin::pin!(source.check(ctx));
    // Belt and braces, as for lookups: the answer comes in time even if a transport ignores
    // its timeout.
    let timer = ctx.runtime.sleep(timeout + Duration::from_millis(50));
    let result = match future::select(calling, timer).await {
        Either::Left((result, _)) => result,
        Either::Right(_) => Err(TransportError::Timeout),
    };
    let (status, upstream_status, reason) = classify_check(&result);
    let (endpoint, mut variables, url_variable) = describe(source);
    let bearer = matches!(source, Source::Confluence(s) if s.uses_bearer());
    if status == CheckStatus::Unreachable {
        variables.insert(0, url_variable);
    }
    Check {
        source: source.kind().name(),
        endpoint,
        status,
        upstream_status,
        reason,
        message: advice(
            source.kind(),
            bearer,
            status,
            upstream_status,
            reason,
            url_variable,
        ),
        variables,
        duration_ms: ctx.runtime.now().saturating_sub(started).as_millis() as u64,
    }
}

/// `GET /admin/status`, once the handler checked the presented key (the one `X-Api-Key`
/// value) against `keys`, which it read alone, before any other variable: `position` is the
/// accepted key it matched.
pub async fn status(
    keys: ApiKeys,
    position: usize,
    presented_key: &[u8],
    platform: &Platform<'_>,
    stats: &Stats,
) -> Result<Response, ApiError> {
    let count = keys.len();
    let loaded = Config::load_with_keys(platform.variables, keys);

    let variables = config::ALL_VARIABLES
        .iter()
        .map(|&name| VariableState {
            name,
            set: matches!(platform.variables.get(name), Ok(Some(v)) if !v.trim().is_empty()),
            secret: SECRET_VARIABLES.contains(&name),
        })
        .collect();
    let keys = Keys {
        count,
        position,
        fingerprint: ApiKeys::fingerprint(presented_key),
    };

    let (config, problems) = match loaded {
        Ok(config) => (Some(config), ConfigError::default()),
        Err(e) => (None, e),
    };
    let checks = match &config {
        Some(config) => {
            let timeout = CHECK_TIMEOUT.min(config.request_timeout);
            let ctx = CallContext {
                transport: platform.transport,
                runtime: platform.runtime,
                deadline: platform.runtime.now() + timeout,
                stats,
            };
            future::join_all(config.sources.iter().map(|s| check(s, &ctx, timeout))).await
        }
        None => Vec::new(),
    };

    let status = Status {
        version: crate::VERSION,
        ok: config.is_some() && checks.iter().all(|c| c.status == CheckStatus::Ok),
        configured: config.is_some(),
        sources: config
            .iter()
            .flat_map(|c| c.sources.iter().map(|s| s.kind().name()))
            .collect(),
        order: config.as_ref().map(|c| c.order.name()),
        order_reason: config.as_ref().map(|c| c.order.reason()),
        variables,
        missing: problems.missing.clone(),
        invalid: problems
            .invalid
            .iter()
            .map(|&(name, reason)| Invalid { name, reason })
            .collect(),
        keys,
        checks,
    };
    Ok(Response::json(200, &status))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::tests::{vars, MapVars, KEY};
    use crate::platform::OutboundRequest;
    use crate::testing::*;
    use futures::executor::block_on;
    use serde_json::{json, Value};

    const ADMIN_SECRET: &str = "admin-secret-value";
    const SITE_TOKEN: &str = "site-token-value";
    const SITE_EMAIL: &str = "bot@acme.example";
    const KEY2: &str = "second-test-api-key-fedcba9876543210-xyz";

    fn both() -> Vec<(&'static str, &'static str)> {
        vec![
            ("api_key", KEY),
            ("atlassian_org_id", "org-1"),
            ("atlassian_admin_api_key", ADMIN_SECRET),
            ("confluence_url", "https://acme.atlassian.net"),
            ("confluence_email", SITE_EMAIL),
            ("confluence_api_token", SITE_TOKEN),
        ]
    }

    fn run(
        v: &MapVars,
        key: &str,
        script: impl Fn(&OutboundRequest) -> Reply + 'static,
    ) -> (Result<Response, ApiError>, FakeTransport) {
        let rt = FakeRuntime::new();
        let transport = FakeTransport::new(rt.clone(), script);
        let platform = Platform {
            variables: v,
            transport: &transport,
            runtime: &*rt,
        };
        let stats = Stats::default();
        // As the handler does: `api_key` alone first.
        let result = block_on(async {
            let keys = Config::load_keys(v).map_err(|e| ApiError::NotConfigured {
                variables: e.variables(),
                key_reason: e.key_reason(),
            })?;
            let position = keys
                .position(key.as_bytes())
                .ok_or(ApiError::Unauthorized)?;
            status(keys, position, key.as_bytes(), &platform, &stats).await
        });
        (result, transport)
    }

    fn ok_json(result: Result<Response, ApiError>) -> Value {
        let r = result.unwrap();
        assert_eq!(r.status, 200);
        serde_json::from_slice(&r.body).unwrap()
    }

    fn sha256_hex(s: &str) -> String {
        use sha2::Digest;
        sha2::Sha256::digest(s.as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    #[test]
    fn all_green_lists_sources_variables_and_only_the_presented_fingerprint() {
        let mut v = both();
        let two = format!("{KEY}, sha256:{}", sha256_hex(KEY2));
        v[0] = ("api_key", Box::leak(two.into_boxed_str()));
        let (r, t) = run(&vars(&v), KEY2, |_| {
            json(200, json!({"data": [], "results": []}))
        });
        let s = ok_json(r);
        assert_eq!(s["ok"], true);
        assert_eq!(s["configured"], true);
        assert_eq!(s["version"], crate::VERSION);
        // email_sources is unset (auto): the cheapest source first.
        assert_eq!(s["sources"], json!(["confluence", "admin"]));
        assert_eq!(s["order"], "auto");
        assert!(s["orderReason"]
            .as_str()
            .unwrap()
            .contains("cheapest source first"));
        // Only the presented key's fingerprint: never the other accepted keys'.
        assert_eq!(
            s["keys"],
            json!({"count": 2, "position": 2, "fingerprint": &sha256_hex(KEY2)[..8]})
        );
        assert!(!String::from_utf8_lossy(&serde_json::to_vec(&s).unwrap())
            .contains(&sha256_hex(KEY)[..8]));
        let vars = s["variables"].as_array().unwrap();
        assert_eq!(vars.len(), config::ALL_VARIABLES.len());
        let find = |n: &str| vars.iter().find(|x| x["name"] == n).unwrap().clone();
        assert_eq!(
            find("atlassian_admin_api_key"),
            json!({"name": "atlassian_admin_api_key", "set": true, "secret": true})
        );
        assert_eq!(
            find("confluence_cloud_id"),
            json!({"name": "confluence_cloud_id", "set": false, "secret": false})
        );
        assert_eq!(find("confluence_url")["set"], true);
        let checks = s["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 2);
        for (c, source) in checks.iter().zip(["confluence", "admin"]) {
            assert_eq!(c["source"], source);
            assert_eq!(c["status"], "ok");
            assert_eq!(c["upstreamStatus"], 200);
            assert_eq!(c["reason"], Value::Null);
        }
        assert_eq!(t.calls.borrow().len(), 2, "one call per source");
        for (_, timeout) in t.calls.borrow().iter() {
            assert_eq!(*timeout, CHECK_TIMEOUT);
        }
    }

    #[test]
    fn no_secret_value_or_email_in_the_answer() {
        let (r, _) = run(&vars(&both()), KEY, |_| {
            json(
                200,
                json!({"data": [{"accountId": "a", "email": "leak@corp.example"}]}),
            )
        });
        let text = String::from_utf8(r.unwrap().body).unwrap();
        for secret in [
            KEY,
            ADMIN_SECRET,
            SITE_TOKEN,
            SITE_EMAIL,
            "org-1",
            "acme",
            "leak",
            "@",
        ] {
            assert!(!text.contains(secret), "{secret} in {text}");
        }
    }

    /// The check of one source, whatever the order.
    fn check_of(s: &Value, source: &str) -> Value {
        s["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["source"] == source)
            .unwrap()
            .clone()
    }

    #[test]
    fn refused_credentials_are_red_with_the_variables_to_fix() {
        let (r, _) = run(&vars(&both()), KEY, |req| {
            if req.url.contains("/admin/") {
                json(401, json!({}))
            } else {
                json(200, json!({"results": []}))
            }
        });
        let s = ok_json(r);
        assert_eq!(s["ok"], false);
        let admin = &check_of(&s, "admin");
        assert_eq!(admin["status"], "credentials_refused");
        assert_eq!(admin["upstreamStatus"], 401);
        assert_eq!(
            admin["variables"],
            json!(["atlassian_org_id", "atlassian_admin_api_key"])
        );
        assert!(admin["message"]
            .as_str()
            .unwrap()
            .contains("atlassian_admin_api_key"));
        assert_eq!(check_of(&s, "confluence")["status"], "ok");
    }

    #[test]
    fn classification_of_every_outcome() {
        let answer = |status| {
            Result::<_, TransportError>::Ok(OutboundResponse {
                status,
                ..Default::default()
            })
        };
        use CheckStatus::*;
        for (result, expected) in [
            (answer(200), (Ok, Some(200), None)),
            (answer(204), (Ok, Some(204), None)),
            (answer(401), (CredentialsRefused, Some(401), None)),
            (answer(403), (CredentialsRefused, Some(403), None)),
            (answer(404), (CredentialsRefused, Some(404), None)),
            (answer(429), (RateLimited, Some(429), None)),
            (answer(500), (Unreachable, Some(500), Some("server_error"))),
            (answer(503), (Unreachable, Some(503), Some("server_error"))),
            (
                answer(400),
                (Unreachable, Some(400), Some("unexpected_status")),
            ),
            (
                answer(302),
                (Unreachable, Some(302), Some("unexpected_status")),
            ),
            (
                Err(TransportError::Denied),
                (Unreachable, None, Some("denied_by_allowed_outbound_hosts")),
            ),
            (
                Err(TransportError::Timeout),
                (Unreachable, None, Some("timeout")),
            ),
            (
                Err(TransportError::Connection),
                (Unreachable, None, Some("connection_failed")),
            ),
            (
                Err(TransportError::TooLarge),
                (Unreachable, None, Some("response_too_large")),
            ),
        ] {
            assert_eq!(classify_check(&result), expected, "{result:?}");
        }
    }

    #[test]
    fn one_attempt_only_and_unreachable_names_the_url_variable() {
        let (r, t) = run(&vars(&both()), KEY, |req| {
            if req.url.contains("/admin/") {
                Reply::Fail(TransportError::Denied)
            } else {
                with_header(json(429, json!({})), "Retry-After", "1")
            }
        });
        let s = ok_json(r);
        assert_eq!(t.calls.borrow().len(), 2, "no retry");
        let admin = &check_of(&s, "admin");
        assert_eq!(admin["status"], "unreachable");
        assert_eq!(admin["reason"], "denied_by_allowed_outbound_hosts");
        assert_eq!(admin["upstreamStatus"], Value::Null);
        assert_eq!(admin["variables"][0], "atlassian_api_url");
        assert!(admin["message"]
            .as_str()
            .unwrap()
            .contains("allowed_outbound_hosts"));
        assert_eq!(check_of(&s, "confluence")["status"], "rate_limited");
        assert_eq!(check_of(&s, "confluence")["upstreamStatus"], 429);
    }

    #[test]
    fn a_hanging_source_is_unreachable_within_the_check_timeout() {
        let (r, t) = run(&vars(&both()), KEY, |_| Reply::Hang);
        let s = ok_json(r);
        assert_eq!(s["checks"][0]["reason"], "timeout");
        assert!(t.calls.borrow().iter().all(|(_, d)| *d <= CHECK_TIMEOUT));
    }

    #[test]
    fn check_timeout_is_bounded_by_request_timeout() {
        let mut v = both();
        v.push(("request_timeout_ms", "1500"));
        let (_, t) = run(&vars(&v), KEY, |_| json(200, json!({})));
        assert!(t
            .calls
            .borrow()
            .iter()
            .all(|(_, d)| *d == Duration::from_millis(1500)));
    }

    #[test]
    fn bearer_confluence_names_its_own_variables() {
        let v = [
            ("api_key", KEY),
            ("confluence_bearer_token", "bt"),
            ("confluence_cloud_id", "cloud-1"),
        ];
        let (r, _) = run(&vars(&v), KEY, |_| json(403, json!({})));
        let c = &ok_json(r)["checks"][0];
        assert_eq!(
            c["variables"],
            json!(["confluence_bearer_token", "confluence_cloud_id"])
        );
        assert_eq!(
            c["endpoint"],
            "POST /ex/confluence/{cloudId}/wiki/api/v2/users-bulk"
        );
    }

    #[test]
    fn wrong_or_missing_key_is_unauthorized() {
        for key in ["", "wrong-key-but-long-enough-0123456789abcdef"] {
            let (r, t) = run(&vars(&both()), key, |_| json(200, json!({})));
            assert_eq!(r.unwrap_err(), ApiError::Unauthorized);
            assert!(t.calls.borrow().is_empty());
        }
    }

    #[test]
    fn incomplete_sources_still_answer_with_the_problems() {
        let v = [
            ("api_key", KEY),
            ("confluence_url", "https://acme.atlassian.net"),
            ("max_account_ids", "0"),
        ];
        let (r, t) = run(&vars(&v), KEY, |_| json(200, json!({})));
        let s = ok_json(r);
        assert!(
            t.calls.borrow().is_empty(),
            "nothing checked until configured"
        );
        assert_eq!(s["ok"], false);
        assert_eq!(s["configured"], false);
        assert_eq!(s["sources"], json!([]));
        assert_eq!(s["checks"], json!([]));
        assert_eq!(
            s["missing"],
            json!(["confluence_email", "confluence_api_token"])
        );
        assert_eq!(s["invalid"][0]["name"], "max_account_ids");
        assert_eq!(s["keys"]["count"], 1);
    }

    #[test]
    fn without_a_valid_key_it_is_not_configured() {
        for v in [vec![("atlassian_org_id", "o")], vec![("api_key", "short")]] {
            let (r, _) = run(&vars(&v), "short", |_| json(200, json!({})));
            match r.unwrap_err() {
                ApiError::NotConfigured { variables, .. } => {
                    assert!(variables.contains(&"api_key"), "{variables:?}")
                }
                other => panic!("{other:?}"),
            }
        }
    }
}
