//! The admin page in a real browser: headless Chromium driven by chromedriver over the W3C
//! WebDriver protocol, against devhost + fake-atlassian.
//!
//! The WebDriver client is hand-written on purpose: the dozen JSON calls below over `reqwest`
//! (already a dev-dependency) are all the test needs, where a WebDriver crate would bring its
//! own HTTP and TLS stack. chromedriver runs on a free port of 127.0.0.1; Chromium gets a
//! fresh profile directory. Console errors and CSP violations are read from the browser log
//! (`goog:loggingPrefs`), and the test first proves the detector works by injecting an inline
//! script, which the page's policy must block and the log must report.
//!
//! Screenshots of each state go to `target/screenshots/admin-*.png`. Without chromedriver the
//! test fails, saying what to install.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};
use base64::Engine;
use serde_json::{json, Value};

use crate::support::*;

/// The W3C element key in WebDriver answers.
const ELEMENT: &str = "element-6066-11e4-a52f-4a4b6d3c3c3c";

fn find_binary(env_var: &str, names: &[&str]) -> Option<PathBuf> {
    if let Some(path) = std::env::var_os(env_var) {
        return Some(PathBuf::from(path));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .chain([
            PathBuf::from("/usr/bin"),
            PathBuf::from("/usr/lib/chromium"),
        ])
        .flat_map(|dir| names.iter().map(move |n| dir.join(n)))
        .find(|p| p.is_file())
}

/// chromedriver, killed on drop.
struct Driver {
    child: Child,
    url: String,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One browser session.
struct Session {
    http: reqwest::Client,
    base: String,
    _profile: tempfile::TempDir,
}

fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

async fn start_driver(http: &reqwest::Client) -> Result<Driver> {
    let Some(chromedriver) = find_binary("CHROMEDRIVER", &["chromedriver"]) else {
        bail!(
            "chromedriver not found: install Chromium and its driver \
             (`apt-get install -y chromium chromium-driver`) or set CHROMEDRIVER"
        );
    };
    let port = free_port()?;
    let child = Command::new(&chromedriver)
        .arg(format!("--port={port}"))
        .arg("--allowed-ips=127.0.0.1")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .with_context(|| format!("start {}", chromedriver.display()))?;
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
    };
    let started = Instant::now();
    loop {
        if let Ok(r) = http.get(format!("{}/status", driver.url)).send().await {
            let v: Value = r.json().await.unwrap_or_default();
            if v["value"]["ready"] == true {
                return Ok(driver);
            }
        }
        ensure!(
            started.elapsed() < Duration::from_secs(20),
            "chromedriver did not become ready"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

impl Session {
    async fn start(driver: &Driver, http: &reqwest::Client) -> Result<Session> {
        let Some(chromium) = find_binary("CHROMIUM", &["chromium", "chromium-browser"]) else {
            bail!("chromium not found: install it (`apt-get install -y chromium chromium-driver`)");
        };
        let profile = tempfile::Builder::new().prefix("ia-chromium-").tempdir()?;
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:loggingPrefs": {"browser": "ALL"},
            "goog:chromeOptions": {
                "binary": chromium,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--no-first-run", "--disable-background-networking",
                    "--disable-component-update", "--disable-sync",
                    "--hide-scrollbars", "--force-device-scale-factor=1",
                    // A name that is not this computer, for the page as a plain-http,
                    // non-secure context.
                    "--host-resolver-rules=MAP admin.test 127.0.0.1",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }
        }}});
        let r: Value = http
            .post(format!("{}/session", driver.url))
            .json(&caps)
            .send()
            .await?
            .json()
            .await?;
        let id = r["value"]["sessionId"]
            .as_str()
            .with_context(|| format!("no session: {r}"))?;
        Ok(Session {
            http: http.clone(),
            base: format!("{}/session/{id}", driver.url),
            _profile: profile,
        })
    }

    async fn cmd(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Result<Value> {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(body) = body {
            r = r.json(&body);
        }
        let v: Value = r.send().await?.json().await?;
        if let Some(err) = v["value"].get("error") {
            bail!("webdriver {path}: {err} {}", v["value"]["message"]);
        }
        Ok(v["value"].clone())
    }

    async fn post(&self, path: &str, body: Value) -> Result<Value> {
        self.cmd(reqwest::Method::POST, path, Some(body)).await
    }

    async fn goto(&self, url: &str) -> Result<()> {
        self.post("/url", json!({"url": url})).await.map(drop)
    }

    async fn js(&self, script: &str) -> Result<Value> {
        self.post("/execute/sync", json!({"script": script, "args": []}))
            .await
    }

    async fn element(&self, css: &str) -> Result<String> {
        let v = self
            .post("/element", json!({"using": "css selector", "value": css}))
            .await?;
        let id = v
            .get(ELEMENT)
            .or_else(|| v.as_object().and_then(|o| o.values().next()))
            .and_then(Value::as_str);
        Ok(id
            .with_context(|| format!("element id in {v}"))?
            .to_string())
    }

    async fn type_into(&self, css: &str, text: &str) -> Result<()> {
        let id = self.element(css).await?;
        self.post(&format!("/element/{id}/clear"), json!({}))
            .await?;
        self.post(&format!("/element/{id}/value"), json!({"text": text}))
            .await
            .map(drop)
    }

    async fn click(&self, css: &str) -> Result<()> {
        let id = self.element(css).await?;
        self.post(&format!("/element/{id}/click"), json!({}))
            .await
            .map(drop)
    }

    /// Waits until `condition` (a JS expression) is true.
    async fn wait_for(&self, condition: &str) -> Result<()> {
        let started = Instant::now();
        loop {
            if self.js(&format!("return !!({condition});")).await? == Value::Bool(true) {
                return Ok(());
            }
            ensure!(
                started.elapsed() < Duration::from_secs(30),
                "timed out waiting for {condition}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    async fn text(&self, css: &str) -> Result<String> {
        let v = self
            .js(&format!(
                "return document.querySelector({}).innerText;",
                serde_json::to_string(css)?
            ))
            .await?;
        Ok(v.as_str().unwrap_or_default().to_string())
    }

    /// The browser log entries since the last call.
    async fn log(&self) -> Result<Vec<Value>> {
        let v = self.post("/se/log", json!({"type": "browser"})).await?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// A screenshot of the whole page, saved at `path`.
    async fn screenshot(&self, path: &Path) -> Result<()> {
        self.post("/window/rect", json!({"width": 1280, "height": 800}))
            .await?;
        let height = self
            .js("window.scrollTo(0, 0); return document.documentElement.scrollHeight;")
            .await?
            .as_u64()
            .unwrap_or(800);
        self.post(
            "/window/rect",
            json!({"width": 1280, "height": (height + 140).clamp(600, 4200)}),
        )
        .await?;
        self.js("window.scrollTo(0, 0); return 0;").await?;
        let png = self.cmd(reqwest::Method::GET, "/screenshot", None).await?;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().context("screenshot data")?)?;
        std::fs::create_dir_all(path.parent().unwrap())?;
        std::fs::write(path, bytes)?;
        Ok(())
    }

    async fn close(self) -> Result<()> {
        self.cmd(reqwest::Method::DELETE, "", None).await.map(drop)
    }
}

fn severe(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e["level"] == "SEVERE")
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect()
}

fn screenshot_path(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("target/screenshots")
        .join(format!("admin-{name}.png"))
}

/// Signs in with `key` and waits for the status (or the error).
async fn sign_in(s: &Session, key: &str) -> Result<()> {
    s.type_into("#api-key", key).await?;
    s.js("document.getElementById('key-error').hidden = true; document.getElementById('status').hidden = true; return 0;")
        .await?;
    s.click("#check-button").await?;
    s.wait_for(
        "!document.getElementById('status').hidden || !document.getElementById('key-error').hidden",
    )
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_page_in_headless_chromium() -> Result<()> {
    // Chromium takes both cores while it starts and renders: never beside a timing bound.
    let _alone = CPU_HEAVY.lock().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let driver = start_driver(&http).await?;
    let env = Env::start(Sources::Chain, &[]).await?;
    let wrong_admin = "wrong-admin-api-key-0123456789";
    let broken = serve(with(
        source_vars(&env.fake, Sources::Chain),
        &[("atlassian_admin_api_key", wrong_admin)],
    ))
    .await?;
    let session = Session::start(&driver, &http).await?;
    let s = &session;

    // 1. The detector works: an inline script injected into the page is blocked by its policy
    //    and reported in the browser log.
    s.goto(&format!("{}/admin", env.server.url())).await?;
    s.wait_for("document.body.dataset.ready === 'true'").await?;
    s.js("const x = document.createElement('script'); x.textContent = 'window.inlineRan = 1'; document.body.append(x); return 0;")
        .await?;
    let canary = severe(&s.log().await?);
    ensure!(
        canary.iter().any(|m| m.contains("Content Security Policy")),
        "an inline script must be reported as a CSP violation: {canary:?}"
    );
    ensure!(s.js("return window.inlineRan === undefined;").await? == true);

    // 2. A fresh load: no console error, no CSP violation, the trigger URL shown.
    s.goto(&format!("{}/admin", env.server.url())).await?;
    s.wait_for("document.body.dataset.ready === 'true'").await?;
    let errors = severe(&s.log().await?);
    ensure!(errors.is_empty(), "console errors on load: {errors:?}");
    assert_eq!(
        s.text("#trigger-url").await?,
        format!("{}/", env.server.url())
    );
    // The key field is nothing a browser offers to save: not a password field, in no form.
    ensure!(
        s.js("const k = document.getElementById('api-key'); return k.type === 'text' && k.autocomplete === 'off' && k.closest('form') === null && document.querySelectorAll('input[type=password]').length === 0;")
            .await?
            == true,
        "the key field must not be a password field or inside a form"
    );
    s.screenshot(&screenshot_path("1-loaded")).await?;

    // 3. A wrong key: a clear error, no status.
    sign_in(s, "wrong-key-wrong-key-wrong-key-0123456789").await?;
    let error = s.text("#key-error").await?;
    ensure!(error.contains("Wrong API key"), "{error}");
    ensure!(
        s.js("return document.getElementById('status').hidden;")
            .await?
            == true
    );
    s.screenshot(&screenshot_path("2-wrong-key")).await?;
    // The browser reports the 401 itself; that is the only error allowed.
    for m in severe(&s.log().await?) {
        ensure!(
            m.contains("/admin/status") && m.contains("401"),
            "unexpected console error: {m}"
        );
    }

    // 4. The right key: every check green.
    sign_in(s, KEY).await?;
    s.wait_for("document.querySelectorAll('.check-item').length === 2")
        .await?;
    let statuses = s
        .js("return [...document.querySelectorAll('.check-item')].map(e => e.dataset.status);")
        .await?;
    assert_eq!(statuses, json!(["ok", "ok"]));
    ensure!(s.text("#summary").await?.contains("All checks passed"));
    // The version (the release's tag), as /admin/status reports it.
    let version = s.text("#version").await?;
    let expected = format!("v{}", identity_accessor::VERSION);
    ensure!(
        version == expected,
        "the page shows version {version:?}, expected {expected}"
    );
    ensure!(
        s.js("return document.getElementById('api-key').value;")
            .await?
            == "",
        "the key field is cleared once signed in"
    );
    let stored = s
        .js("return localStorage.length + sessionStorage.length + document.cookie.length + location.href.length - (location.origin + '/admin').length;")
        .await?;
    assert_eq!(stored, 0, "the key is in no storage, cookie or URL");
    s.screenshot(&screenshot_path("3-status-ok")).await?;

    // 5. A test lookup shows the emails.
    let ids: Vec<String> = env.ids().into_iter().take(4).collect();
    s.type_into("#lookup-ids", &ids.join(", ")).await?;
    s.click("#lookup-unresolved").await?;
    s.click("#lookup-button").await?;
    s.wait_for("!document.getElementById('lookup-result').hidden")
        .await?;
    let expected = expected_answer(&env.directory, &ids, Sources::Chain, true);
    let shown: Value = serde_json::from_str(&s.text("#lookup-json").await?)?;
    assert_eq!(shown, expected);
    let table = s.text("#lookup-rows").await?;
    for entry in expected.as_array().unwrap() {
        if let Some(email) = entry["emailAddress"].as_str() {
            ensure!(table.contains(email), "{email} not shown");
        }
    }
    ensure!(s.text("#lookup-status").await? == "HTTP 200");
    ensure!(s.text("#lookup-time").await?.contains(" ms"));
    s.screenshot(&screenshot_path("4-lookup")).await?;

    // 6. A broken upstream credential: that check red, with the fix.
    s.goto(&format!("{}/admin", broken.url())).await?;
    s.wait_for("document.body.dataset.ready === 'true'").await?;
    sign_in(s, KEY).await?;
    s.wait_for("document.querySelectorAll('.check-item').length === 2")
        .await?;
    let admin = s.text(".check-item[data-source='admin']").await?;
    let status = s
        .js("return document.querySelector(\".check-item[data-source='admin']\").dataset.status;")
        .await?;
    assert_eq!(status, "credentials_refused");
    ensure!(admin.contains("HTTP 401"), "{admin}");
    ensure!(admin.contains("atlassian_admin_api_key"), "{admin}");
    let confluence = s
        .js("return document.querySelector(\".check-item[data-source='confluence']\").dataset.status;")
        .await?;
    assert_eq!(confluence, "ok");
    s.screenshot(&screenshot_path("5-credentials-refused"))
        .await?;
    let errors = severe(&s.log().await?);
    ensure!(errors.is_empty(), "console errors: {errors:?}");

    session.close().await?;
    drop(driver);
    broken.shutdown().await;
    let mut env = env;
    env.never_logged.push(wrong_admin.into());
    env.finish().await
}

/// Requests the component logged (one stdout line each) under `dir`.
fn logged_requests(dir: &Path) -> usize {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("_stdout.txt"))
        .map(|e| {
            std::fs::read_to_string(e.path())
                .unwrap_or_default()
                .lines()
                .count()
        })
        .sum()
}

/// The requests logged under `dir`, once the count has stopped changing for 500 ms.
async fn settled_requests(dir: &Path) -> usize {
    let mut last = logged_requests(dir);
    loop {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = logged_requests(dir);
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn generate_key_in_headless_chromium() -> Result<()> {
    // Chromium takes both cores while it starts and renders: never beside a timing bound.
    let _alone = CPU_HEAVY.lock().await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(60))
        .build()?;
    let driver = start_driver(&http).await?;
    let mut env = Env::start(Sources::Chain, &[]).await?;
    let session = Session::start(&driver, &http).await?;
    let s = &session;
    let log_dir = env.server.log_dir().to_path_buf();

    s.goto(&format!("{}/admin", env.server.url())).await?;
    s.wait_for("document.body.dataset.ready === 'true'").await?;
    ensure!(s.js("return window.isSecureContext;").await? == true);
    let before = settled_requests(&log_dir).await;
    let resources_before = s
        .js("return performance.getEntriesByType('resource').length;")
        .await?;

    // 1. A key made in the page passes the component's rule, its sha256: form matches, and
    //    every command holds the form to store.
    let mut keys = Vec::new();
    for round in 1..=2 {
        s.click("#generate-key").await?;
        s.wait_for(&format!("document.body.dataset.generated === '{round}'"))
            .await?;
        let key = s.text("#generated-key").await?;
        let hash = s.text("#generated-hash").await?;
        ensure!(key.len() == 32, "{key}");
        assert_eq!(
            identity_accessor::auth::check_strength(&key),
            Ok(()),
            "{key}"
        );
        ensure!(
            identity_accessor::strength::guesses_log10(&key) >= 25.0,
            "{key}"
        );
        assert_eq!(
            hash,
            format!("sha256:{}", crate::security::sha256_hex(&key))
        );
        let spin = s.text("#cmd-spin").await?;
        ensure!(
            spin.starts_with(&format!("spin up --variable api_key='{hash}'")),
            "{spin}"
        );
        let env_cmd = s.text("#cmd-env").await?;
        assert_eq!(env_cmd, format!("SPIN_VARIABLE_API_KEY='{hash}' spin up"));
        let create = s.text("#cmd-kube-create").await?;
        ensure!(
            create.starts_with(&format!(
                "kubectl create secret generic identity-accessor --from-literal=api_key='{hash}'"
            )),
            "{create}"
        );
        let patch = s.text("#cmd-kube-patch").await?;
        ensure!(
            patch.starts_with(&format!(
                "kubectl patch secret identity-accessor --type merge -p '{{\"stringData\":{{\"api_key\":\"{hash}\"}}}}'"
            )),
            "{patch}"
        );
        for button in [
            "generated-key",
            "generated-hash",
            "cmd-spin",
            "cmd-env",
            "cmd-kube-create",
            "cmd-kube-patch",
        ] {
            s.click(&format!("button[data-copy='{button}']")).await?;
        }
        keys.push((key, hash));
    }
    ensure!(keys[0].0 != keys[1].0, "two keys alike: {keys:?}");
    env.never_logged
        .extend(keys.iter().map(|(key, _)| key.clone()));
    s.screenshot(&screenshot_path("6-generated-key")).await?;
    let errors = severe(&s.log().await?);
    ensure!(errors.is_empty(), "console errors: {errors:?}");

    // 2. Nothing left the page: the component logged no request, the browser fetched nothing.
    ensure!(
        s.js("return performance.getEntriesByType('resource').length;")
            .await?
            == resources_before,
        "the page fetched something"
    );
    assert_eq!(
        settled_requests(&log_dir).await,
        before,
        "a request reached the component"
    );

    // 3. The key works: api_key set to the shown sha256: form, the key signs in.
    let (key, hash) = keys.pop().context("a key")?;
    let configured = serve(with(
        source_vars(&env.fake, Sources::Chain),
        &[("api_key", &hash)],
    ))
    .await?;
    s.goto(&format!("{}/admin", configured.url())).await?;
    s.wait_for("document.body.dataset.ready === 'true'").await?;
    sign_in(s, &key).await?;
    s.wait_for("document.querySelectorAll('.check-item').length === 2")
        .await?;
    ensure!(s.text("#summary").await?.contains("All checks passed"));
    configured.shutdown().await;

    // 4. Plain http to another host is not a secure context: no crypto.subtle. The key is
    //    still made and shown, with the commands for it and how to hash it in a shell.
    let port = env
        .server
        .url()
        .rsplit(':')
        .next()
        .context("port")?
        .to_string();
    s.goto(&format!("http://admin.test:{port}/admin")).await?;
    s.wait_for("document.body.dataset.ready === 'true'").await?;
    ensure!(s.js("return window.isSecureContext;").await? == false);
    s.click("#generate-key").await?;
    s.wait_for("document.body.dataset.generated === '1'")
        .await?;
    let key = s.text("#generated-key").await?;
    env.never_logged.push(key.clone());
    assert_eq!(identity_accessor::auth::check_strength(&key), Ok(()));
    ensure!(
        s.js("return document.getElementById('generated-hash-row').hidden && !document.getElementById('generated-hash-missing').hidden;")
            .await?
            == true
    );
    assert_eq!(
        s.text("#generated-hash-command").await?,
        format!("printf %s '{key}' | sha256sum | cut -d' ' -f1")
    );
    assert_eq!(
        s.text("#cmd-env").await?,
        format!("SPIN_VARIABLE_API_KEY='{key}' spin up")
    );
    s.screenshot(&screenshot_path("7-generated-insecure"))
        .await?;
    let errors = severe(&s.log().await?);
    ensure!(errors.is_empty(), "console errors: {errors:?}");

    session.close().await?;
    drop(driver);
    env.finish().await
}
