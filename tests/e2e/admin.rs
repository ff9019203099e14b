//! The admin page over HTTP: the page and its assets with their policy, and `/admin/status`
//! (key, live checks against the fake Atlassian, no secret in the answer).

use anyhow::{ensure, Result};
use reqwest::Method;
use serde_json::Value;

use crate::security::sha256_hex;
use crate::support::*;

async fn get(
    env: &Env,
    path: &str,
    key: Option<&str>,
) -> Result<(u16, reqwest::header::HeaderMap, String)> {
    let mut request = env.request(Method::GET, path);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    let r = request.send().await?;
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    Ok((status, headers, r.text().await?))
}

fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// The status JSON must hold no key, credential, org/site value or email.
fn assert_no_secret(env: &Env, text: &str) -> Result<()> {
    let c = env.fake.credentials();
    for secret in [
        KEY,
        KEY2,
        &c.admin_api_key,
        &c.site_api_token,
        &c.site_email,
        &c.bearer_token,
        &c.org_id,
        &c.cloud_id,
    ] {
        ensure!(!text.contains(secret), "the status holds a secret value");
    }
    ensure!(!text.contains('@'), "the status holds an email-like value");
    for u in &env.directory.users {
        ensure!(
            !text.contains(&u.account_id),
            "the status holds an account id"
        );
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_and_assets_carry_types_and_policy() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    for (path, ty) in [
        ("/admin", "text/html"),
        ("/admin/app.js", "text/javascript"),
        ("/admin/app.css", "text/css"),
        ("/admin/favicon.svg", "image/svg+xml"),
    ] {
        let (status, headers, body) = get(&env, path, None).await?;
        assert_eq!(status, 200, "{path}");
        assert!(header(&headers, "content-type").starts_with(ty), "{path}");
        let csp = header(&headers, "content-security-policy");
        assert!(csp.contains("default-src 'self'"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header(&headers, "x-content-type-options"), "nosniff");
        assert!(!body.is_empty());
    }
    let (_, _, html) = get(&env, "/admin", None).await?;
    assert!(html.contains(r#"<script src="/admin/app.js""#));
    assert!(html.contains(r#"href="/admin/app.css""#));
    // The key field is masked but not a password field (which browsers offer to save).
    assert!(html.contains(r#"id="api-key" class="secret-input" type="text" autocomplete="off""#));
    assert!(!html.contains(r#"type="password""#));
    assert!(!html.contains("<script>"), "no inline script");

    let r = env.request(Method::POST, "/admin").send().await?;
    assert_eq!(r.status(), 405);
    assert_eq!(header(r.headers(), "allow"), "GET");
    let (status, _, _) = get(&env, "/admin/nope", None).await?;
    assert_eq!(status, 404);
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_status_requires_the_key() -> Result<()> {
    let env = Env::start(Sources::Chain, &[]).await?;
    for key in [None, Some("wrong-key-wrong-key-wrong-key-0123456789")] {
        let (status, headers, body) = get(&env, "/admin/status", key).await?;
        assert_eq!(status, 401);
        let json: Value = serde_json::from_str(&body)?;
        assert_eq!(json["error"], "unauthorized");
        assert_eq!(header(&headers, "cache-control"), "no-store");
    }
    assert_eq!(
        env.fake.requests().len(),
        0,
        "no upstream call without the key"
    );
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_status_all_checks_ok() -> Result<()> {
    let env = Env::start(Sources::Chain, &[("api_key", &format!("{KEY},{KEY2}"))]).await?;
    let (status, headers, body) = get(&env, "/admin/status", Some(KEY2)).await?;
    assert_eq!(status, 200, "{body}");
    assert_eq!(header(&headers, "cache-control"), "no-store");
    assert!(header(&headers, "content-type").starts_with("application/json"));
    assert_no_secret(&env, &body)?;
    let s: Value = serde_json::from_str(&body)?;
    assert_eq!(s["ok"], true, "{s}");
    assert_eq!(s["configured"], true);
    // email_sources unset (auto): the cheapest source first.
    assert_eq!(s["sources"], serde_json::json!(["confluence", "admin"]));
    assert_eq!(s["order"], "auto");
    // The presented key only: its position and fingerprint, never the other key's.
    assert_eq!(
        s["keys"],
        serde_json::json!({"count": 2, "position": 2, "fingerprint": &sha256_hex(KEY2)[..8]})
    );
    assert!(!body.contains(&sha256_hex(KEY)[..8]), "{body}");
    let checks = s["checks"].as_array().unwrap();
    assert_eq!(checks.len(), 2);
    for c in checks {
        assert_eq!(c["status"], "ok", "{c}");
        assert_eq!(c["upstreamStatus"], 200);
    }
    let set: Vec<&str> = s["variables"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|v| v["set"] == true)
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert!(set.contains(&"atlassian_admin_api_key") && !set.contains(&"confluence_cloud_id"));
    assert_eq!(env.fake.requests().len(), 2, "one call per source");
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_status_shows_refused_admin_credentials() -> Result<()> {
    let wrong = "wrong-admin-api-key-0123456789";
    let mut env = Env::start(Sources::Chain, &[("atlassian_admin_api_key", wrong)]).await?;
    env.never_logged.push(wrong.into());
    let (status, _, body) = get(&env, "/admin/status", Some(KEY)).await?;
    assert_eq!(status, 200, "a failing check is still a status");
    assert_no_secret(&env, &body)?;
    assert!(!body.contains(wrong));
    let s: Value = serde_json::from_str(&body)?;
    assert_eq!(s["ok"], false);
    // auto order: confluence's check first, then admin's.
    let admin = &s["checks"][1];
    assert_eq!(admin["source"], "admin");
    assert_eq!(admin["status"], "credentials_refused");
    assert_eq!(admin["upstreamStatus"], 401);
    assert!(admin["message"]
        .as_str()
        .unwrap()
        .contains("atlassian_admin_api_key"));
    assert_eq!(s["checks"][0]["source"], "confluence");
    assert_eq!(s["checks"][0]["status"], "ok");
    assert_eq!(
        env.fake.requests().len(),
        2,
        "the refused check is not retried"
    );
    env.finish().await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_status_bearer_source_and_incomplete_config() -> Result<()> {
    let env = Env::start(Sources::Bearer, &[]).await?;
    let (_, _, body) = get(&env, "/admin/status", Some(KEY)).await?;
    let s: Value = serde_json::from_str(&body)?;
    assert_eq!(s["checks"][0]["status"], "ok", "{s}");
    assert_no_secret(&env, &body)?;
    env.finish().await?;

    // A half-configured source: lookups are 503, the status still answers with the problem.
    let env = Env::start(
        Sources::Admin,
        &[("confluence_url", "https://acme.atlassian.net")],
    )
    .await?;
    let (status, _, body) = get(&env, "/admin/status", Some(KEY)).await?;
    assert_eq!(status, 200, "{body}");
    let s: Value = serde_json::from_str(&body)?;
    assert_eq!(s["configured"], false);
    assert_eq!(
        s["missing"],
        serde_json::json!(["confluence_email", "confluence_api_token"])
    );
    env.finish().await?;

    // No valid key: nobody can authenticate, so the status is not configured.
    let env = Env::start(Sources::Admin, &[("api_key", "too-short")]).await?;
    let (status, _, body) = get(&env, "/admin/status", Some("too-short")).await?;
    assert_eq!(status, 503);
    let json: Value = serde_json::from_str(&body)?;
    assert_eq!(json["error"], "not_configured");
    env.finish().await
}
