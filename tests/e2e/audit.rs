//! The secrets and privacy audit: no key, token, email or account id in any component log or
//! any error body.
//!
//! Every environment already checks its own logs and error bodies in [`Env::finish`]. This test
//! adds a broad mix of failing requests built to tempt a leak (ids, emails and keys inside
//! rejected bodies, paths, headers and credentials; upstream faults of every kind; a half
//! configured app), then scans every component log directory of this test process
//! (`target/e2e-logs/<pid>-<start>-*`, including those of tests still running) and every error
//! body the suite has received so far, against every forbidden value the suite has seen.

use anyhow::{ensure, Result};
use fake_atlassian::{Credentials, Directory, Endpoint, Fault, RetryAfter};
use reqwest::Method;
use serde_json::json;

use crate::support::*;

/// Values shorter than this are not searched for across other tests' logs: a short id of some
/// test's directory could match an unrelated request id by chance. Each environment still
/// searches its own logs for all of its values.
const MIN_GLOBAL_VALUE_LEN: usize = 8;

fn email_of(env: &Env, i: usize) -> String {
    env.directory.users[i].email.clone()
}

/// Caller faults whose requests carry ids, emails and keys in every place the component reads.
async fn caller_faults() -> Result<usize> {
    let env = Env::start(Sources::Chain, &[("max_account_ids", "5")]).await?;
    let ids = env.ids();
    let (id, email) = (ids[0].clone(), email_of(&env, 0));
    let url = env.server.url();
    let mut sent = 0;
    let mut expect = |status: u16, got: u16, what: &str| -> Result<()> {
        sent += 1;
        ensure!(got == status, "{what}: {got}, expected {status}");
        Ok(())
    };

    // Keys: missing, another server's, in the wrong header, repeated.
    let body = json!({ "accountIds": [id, email] });
    let (s, _, _) = env.send(env.request(Method::POST, "/").json(&body)).await?;
    expect(401, s, "no key")?;
    let r = env
        .request(Method::POST, "/")
        .header("x-api-key", KEY2)
        .json(&body);
    expect(401, env.send(r).await?.0, "another key")?;
    let r = env
        .request(Method::POST, "/")
        .header("authorization", format!("Bearer {KEY}"))
        .json(&body);
    expect(401, env.send(r).await?.0, "key as a bearer token")?;
    let r = env
        .request(Method::POST, "/")
        .header("x-api-key", KEY)
        .header("x-api-key", KEY2)
        .json(&body);
    expect(401, env.send(r).await?.0, "two keys")?;

    // Bodies holding ids, emails and keys.
    let keyed = |r: reqwest::RequestBuilder| r.header("x-api-key", KEY);
    for (status, raw) in [
        (400, format!(r#"{{"accountIds": ["{id}", "{email}""#)),
        (400, format!(r#"{{"accountIds": "{email}"}}"#)),
        (400, format!(r#"{{"accountIds": [{{"{id}": "{email}"}}]}}"#)),
        (
            400,
            format!(r#"{{"accountIds": ["{id}", "{email} {KEY}"]}}"#),
        ),
        (
            400,
            format!(r#"{{"accountIds": ["{}"]}}"#, email.repeat(20)),
        ),
        (400, format!(r#"{{"accountIds": ["{id}", "{KEY}\t"]}}"#)),
        (400, json!({ "accountIds": ids }).to_string()),
        (400, format!("{email}\n{KEY}\n{id}")),
    ] {
        let r = keyed(env.request(Method::POST, "/")).header("content-type", "application/json");
        expect(status, env.send(r.body(raw)).await?.0, "a bad body")?;
    }
    let huge = json!({ "accountIds": vec![format!("{id}{email}"); 40_000] }).to_string();
    let r = keyed(env.request(Method::POST, "/")).header("content-type", "application/json");
    expect(413, env.send(r.body(huge)).await?.0, "an oversized body")?;
    let r = keyed(env.request(Method::POST, "/"))
        .header("content-type", "text/plain")
        .body(body.to_string());
    expect(415, env.send(r).await?.0, "text/plain")?;

    // Paths, methods and request ids.
    let path = format!("/{email}/{id}?key={KEY}&email={email}");
    let (s, _, _) = env.send(keyed(env.request(Method::POST, &path))).await?;
    expect(404, s, "unknown path")?;
    let (s, _, _) = env.send(keyed(env.request(Method::GET, "/"))).await?;
    expect(405, s, "GET /")?;
    let (s, _, _) = env.send(env.request(Method::PUT, "/health")).await?;
    expect(405, s, "PUT /health")?;
    let r = env
        .request(Method::POST, "/")
        .header("x-request-id", email.as_str())
        .json(&body);
    let (s, headers, _) = env.send(r).await?;
    expect(401, s, "an email as request id")?;
    ensure!(
        headers["x-request-id"] != email.as_str(),
        "an unsafe request id was echoed"
    );
    ensure!(url == env.server.url(), "same server");
    env.finish().await?;
    Ok(sent)
}

/// A fault case: sources, endpoint, fault, times, expected status, extra variables.
type FaultCase = (
    Sources,
    Endpoint,
    Fault,
    usize,
    u16,
    &'static [(&'static str, &'static str)],
);

/// Upstream failures of each kind, each source, with credentials the fake refuses.
async fn upstream_faults() -> Result<usize> {
    let mut sent = 0;
    let faults: Vec<FaultCase> = vec![
        (
            // Under auto the admin source gets the 16 hidden ids: two chunks, three attempts
            // each.
            Sources::Chain,
            Endpoint::AdminSearch,
            Fault::Status {
                status: 500,
                retry_after: None,
            },
            6,
            502,
            &[],
        ),
        (
            Sources::Chain,
            Endpoint::UsersBulk,
            Fault::MalformedJson,
            3,
            502,
            &[],
        ),
        (
            Sources::Bearer,
            Endpoint::UsersBulk,
            Fault::HtmlBadRequest,
            1,
            502,
            &[],
        ),
        (
            Sources::Basic,
            Endpoint::UsersBulk,
            Fault::DropConnection,
            3,
            502,
            &[],
        ),
        (
            Sources::Admin,
            Endpoint::AdminSearch,
            Fault::RateLimited {
                retry_after: Some(RetryAfter::Raw("9223372036854775807".into())),
            },
            1,
            503,
            &[],
        ),
        (
            Sources::Basic,
            Endpoint::UsersBulk,
            Fault::Hang,
            1,
            504,
            &[("request_timeout_ms", "500")],
        ),
        (
            Sources::Chain,
            Endpoint::AdminSearch,
            Fault::Status {
                status: 403,
                retry_after: None,
            },
            1,
            502,
            &[],
        ),
    ];
    let runs = faults.into_iter().map(
        |(sources, endpoint, fault, times, status, extra)| async move {
            let env = Env::start(sources, extra).await?;
            env.fake.inject(endpoint, fault.clone(), times);
            let (s, _, _) = env.lookup(json!({ "accountIds": env.ids() })).await?;
            ensure!(s == status, "{fault:?}: {s}, expected {status}");
            env.finish().await
        },
    );
    sent += futures::future::try_join_all(runs).await?.len();
    for (sources, name, value) in [
        (
            Sources::Admin,
            "atlassian_admin_api_key",
            "revoked-admin-key-audit-0001",
        ),
        (
            Sources::Basic,
            "confluence_api_token",
            "revoked-site-token-audit-0001",
        ),
        (
            Sources::Bearer,
            "confluence_bearer_token",
            "revoked-bearer-token-audit-0001",
        ),
    ] {
        let mut env = Env::start(sources, &[(name, value)]).await?;
        env.never_logged.push(value.to_string());
        let (s, _, body) = env.lookup(json!({ "accountIds": env.ids() })).await?;
        ensure!(
            (s, body["error"].as_str()) == (502, Some("upstream_auth_failed")),
            "{name}: {s} {body}"
        );
        sent += 1;
        env.finish().await?;
    }
    Ok(sent)
}

/// A half-configured app: secrets present, a setting missing or invalid.
async fn not_configured() -> Result<usize> {
    let mut sent = 0;
    for extra in [
        vec![("atlassian_org_id", "")],
        vec![("confluence_url", "ftp://bot@example.com:secret@host")],
        vec![("api_key", "short")],
    ] {
        let mut env = Env::start(Sources::Chain, &extra).await?;
        env.never_logged
            .push("ftp://bot@example.com:secret@host".into());
        let (s, _, _) = env.lookup(json!({ "accountIds": env.ids() })).await?;
        ensure!(s == 503, "{extra:?}: {s}");
        // Readiness reads no secret: it names a bad non-secret setting. It cannot see a bad
        // api_key, nor that the admin key is set without its org id (it assumes a secret only
        // where a non-secret setting calls for it).
        let (s, _, _) = env.send(env.request(Method::GET, "/health/ready")).await?;
        let want = if extra[0].0 == "confluence_url" {
            503
        } else {
            200
        };
        ensure!(s == want, "{extra:?} ready: {s}");
        sent += 2;
        env.finish().await?;
    }
    Ok(sent)
}

/// Counts of one whole-run scan.
#[derive(Debug, Default)]
struct Scan {
    dirs: usize,
    files: usize,
    lines: usize,
}

fn scan_logs(forbidden: &[String]) -> Result<Scan> {
    let mut scan = Scan::default();
    for dir in this_run_log_dirs()? {
        scan.dirs += 1;
        let (files, lines) = scan_log_dir(&dir, forbidden)?;
        scan.files += files;
        scan.lines += lines;
    }
    Ok(scan)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_log_and_error_body_is_clean() -> Result<()> {
    let (a, b, c) = futures::try_join!(caller_faults(), upstream_faults(), not_configured())?;
    let requests = a + b + c;

    let mut forbidden: Vec<String> = vec![KEY.into(), KEY2.into()];
    let c = Credentials::default();
    forbidden.extend([
        c.admin_api_key,
        c.site_api_token,
        c.bearer_token,
        c.app_token,
        c.site_email,
    ]);
    for directory in [Directory::demo(), Directory::generated(1000)] {
        for u in directory.users {
            forbidden.extend([u.account_id, u.email]);
        }
    }
    forbidden.extend(forbidden_seen());
    forbidden.retain(|v| v.len() >= MIN_GLOBAL_VALUE_LEN);
    forbidden.sort();
    forbidden.dedup();

    let scan = scan_logs(&forbidden)?;
    let received = error_bodies();
    let server_errors = received.iter().filter(|b| b.status >= 500).count();
    let bodies: Vec<String> = received.into_iter().map(|b| b.body).collect();
    assert_bodies_clean(&bodies, &forbidden)?;
    ensure!(scan.lines > 0 && !bodies.is_empty(), "nothing was scanned");
    println!(
        "audit: {requests} failing requests of its own; scanned {} log lines in {} files of {} \
         server log dirs and {} error bodies ({server_errors} of them 5xx) for {} forbidden values: \
         0 hits",
        scan.lines,
        scan.files,
        scan.dirs,
        bodies.len(),
        forbidden.len()
    );
    Ok(())
}
