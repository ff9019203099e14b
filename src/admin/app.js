// The admin page's script. Served from the component (/admin/app.js) under
// Content-Security-Policy: default-src 'self'. The API key lives only in `apiKey` below:
// never in storage, a cookie or the URL. A generated key lives only in the page's text: it is
// made with crypto.getRandomValues and never sent anywhere.
"use strict";

(function () {
  let apiKey = "";

  const $ = (id) => document.getElementById(id);

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function triggerUrl() {
    return window.location.origin + "/";
  }

  function show(node, visible) {
    node.hidden = !visible;
  }

  // Copies `text`; where the clipboard is refused (an insecure context), selects `node`.
  async function copy(text, button, node) {
    try {
      await navigator.clipboard.writeText(text);
      button.textContent = "Copied";
    } catch (e) {
      const range = document.createRange();
      range.selectNodeContents(node);
      const selection = window.getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      button.textContent = "Selected: press Ctrl+C";
    }
    setTimeout(() => (button.textContent = "Copy"), 2000);
  }

  // Generated keys: 32 characters from 68 (6.1 bits each, 194 bits), every class present, a
  // letter or digit first. None of these characters needs escaping in a shell (single or double
  // quotes), JSON, YAML or a .env file, and none is `,` or whitespace, which separate keys in
  // api_key, nor `@`, which makes `--variable api_key=@...` read a file.
  const KEY_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.+=:";
  const KEY_LENGTH = 32;

  function randomKey() {
    // Rejection sampling: bytes at or past the largest multiple of the alphabet's size are
    // dropped, so every character is equally likely.
    const limit = 256 - (256 % KEY_ALPHABET.length);
    for (;;) {
      let key = "";
      while (key.length < KEY_LENGTH) {
        const bytes = new Uint8Array(64);
        crypto.getRandomValues(bytes);
        for (const b of bytes) {
          if (b < limit && key.length < KEY_LENGTH) key += KEY_ALPHABET[b % KEY_ALPHABET.length];
        }
      }
      if (/^[A-Za-z0-9]/.test(key) && /[A-Z]/.test(key) && /[a-z]/.test(key) && /[0-9]/.test(key) && /[^A-Za-z0-9]/.test(key)) {
        return key;
      }
    }
  }

  // The key's SHA-256 in hex, or null where the browser offers no crypto.subtle (only secure
  // contexts do: https, and http to this computer).
  async function sha256Hex(text) {
    if (!window.isSecureContext || !window.crypto || !crypto.subtle) return null;
    const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(text));
    return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
  }

  async function generateKey() {
    const key = randomKey();
    const hash = await sha256Hex(key);
    const stored = hash ? "sha256:" + hash : key;
    $("generated-key").textContent = key;
    $("generated-hash").textContent = hash ? stored : "";
    show($("generated-hash-row"), hash !== null);
    show($("generated-hash-missing"), hash === null);
    $("generated-hash-command").textContent = "printf %s '" + key + "' | sha256sum | cut -d' ' -f1";
    $("cmd-spin").textContent =
      "spin up --variable api_key='" + stored + "' \\\n  --variable atlassian_org_id=...  # and the other variables";
    $("cmd-env").textContent = "SPIN_VARIABLE_API_KEY='" + stored + "' spin up";
    $("cmd-kube-create").textContent =
      "kubectl create secret generic identity-accessor --from-literal=api_key='" + stored + "' \\\n" +
      "  --from-literal=atlassian_api_url=https://api.atlassian.com ...  # and the other keys";
    $("cmd-kube-patch").textContent =
      "kubectl patch secret identity-accessor --type merge -p '{\"stringData\":{\"api_key\":\"" + stored + "\"}}'\n" +
      "kubectl rollout restart deployment/identity-accessor";
    show($("generated"), true);
    $("generate-key").textContent = "Generate another";
    document.body.dataset.generated = String(Number(document.body.dataset.generated || 0) + 1);
  }

  const STATUS_TEXT = {
    ok: "OK",
    credentials_refused: "Credentials refused",
    rate_limited: "Rate limited",
    unreachable: "Unreachable",
  };

  const REASON_TEXT = {
    denied_by_allowed_outbound_hosts: "denied by allowed_outbound_hosts",
    timeout: "timed out",
    connection_failed: "connection failed",
    response_too_large: "response too large",
    server_error: "server error",
    unexpected_status: "unexpected status",
  };

  function renderSummary(s) {
    const box = $("summary");
    box.replaceChildren();
    let cls;
    let title;
    let detail;
    if (!s.configured) {
      cls = "bad";
      title = "Not configured";
      detail = "Lookups answer 503 not_configured until the settings below are fixed. Sources are checked once the configuration loads.";
    } else if (s.ok) {
      cls = "good";
      title = "All checks passed";
      detail = "Sources asked, in order: " + s.sources.join(" → ") + " (" + s.orderReason + ").";
    } else {
      cls = "bad";
      title = "A check failed";
      detail = "Lookups that reach a failing source answer an error. Fix what the red check says.";
    }
    box.className = "summary " + cls;
    box.append(el("span", "dot", ""), el("strong", "", title), el("span", "", " " + detail));

    const problems = [];
    s.missing.forEach((name) => problems.push([name, "is missing"]));
    s.invalid.forEach((p) => problems.push([p.name, p.reason]));
    if (problems.length) {
      const list = el("ul", "problems");
      problems.forEach(([name, why]) => {
        const li = el("li");
        li.append(el("code", "", name), document.createTextNode(" " + why + "."));
        list.append(li);
      });
      box.append(list);
    }
  }

  function renderChecks(checks, configured) {
    const list = $("checks");
    list.replaceChildren();
    if (!checks.length) {
      list.append(el("li", "check-item muted", configured ? "No source is active." : "Not run: the configuration does not load."));
      return;
    }
    checks.forEach((c) => {
      const good = c.status === "ok";
      const li = el("li", "check-item " + (good ? "good" : "bad"));
      li.dataset.source = c.source;
      li.dataset.status = c.status;
      const head = el("div", "check-head");
      head.append(el("span", "dot", ""), el("strong", "", c.source));
      let pill = STATUS_TEXT[c.status] || c.status;
      if (c.upstreamStatus !== null && c.upstreamStatus !== undefined) pill += " · HTTP " + c.upstreamStatus;
      if (c.reason) pill += " · " + (REASON_TEXT[c.reason] || c.reason);
      head.append(el("span", "pill " + (good ? "good" : "bad"), pill));
      head.append(el("span", "muted right", c.durationMs + " ms"));
      li.append(head);
      li.append(el("div", "endpoint", c.endpoint));
      li.append(el("p", "message", c.message));
      if (!good && c.variables.length) {
        const fix = el("p", "fix");
        fix.append(el("span", "", "Fix in: "));
        c.variables.forEach((v, i) => {
          if (i) fix.append(document.createTextNode(", "));
          fix.append(el("code", "", v));
        });
        li.append(fix);
      }
      list.append(li);
    });
  }

  function renderKeys(keys) {
    const list = $("fingerprints");
    list.replaceChildren();
    const li = el("li");
    li.append(el("code", "fp", keys.fingerprint), el("span", "muted", " key " + keys.position + " of " + keys.count + " in api_key"));
    list.append(li);
  }

  function renderVariables(vars, problems) {
    const body = $("variables");
    body.replaceChildren();
    vars.forEach((v) => {
      const tr = el("tr");
      const name = el("td");
      name.append(el("code", "", v.name));
      if (v.secret) name.append(el("span", "tag", "secret"));
      const state = el("td");
      const bad = problems.has(v.name);
      let text = v.set ? "set" : "not set";
      let cls = v.set ? "state set" : "state unset";
      if (bad) {
        text += " · needs a fix";
        cls = "state problem";
      }
      state.append(el("span", cls, text));
      tr.append(name, state);
      body.append(tr);
    });
  }

  function showError(message) {
    const box = $("key-error");
    box.textContent = message;
    show(box, true);
  }

  async function checkStatus(event) {
    if (event) event.preventDefault();
    const typed = $("api-key").value.trim();
    show($("key-error"), false);
    if (!typed) {
      showError("Type one of the API keys first.");
      return;
    }
    const button = $("check-button");
    button.disabled = true;
    button.textContent = "Checking…";
    try {
      const response = await fetch("/admin/status", {
        headers: { "X-Api-Key": typed },
        cache: "no-store",
        credentials: "omit",
      });
      const body = await response.json().catch(() => null);
      if (response.status === 401) {
        apiKey = "";
        show($("status"), false);
        show($("lookup"), false);
        showError("Wrong API key: the app refused it (401). Use one of the keys in api_key, in its plain form (not the sha256: form).");
        return;
      }
      if (!response.ok || !body) {
        apiKey = "";
        const msg = body && body.message ? body.message : "The app answered HTTP " + response.status + ".";
        showError(msg);
        return;
      }
      apiKey = typed;
      $("api-key").value = "";
      $("api-key").placeholder = "Signed in (key kept in page memory only)";
      renderStatus(body);
    } catch (e) {
      showError("The app could not be reached: " + e.message);
    } finally {
      button.disabled = false;
      button.textContent = "Check status";
    }
  }

  function renderStatus(s) {
    const version = $("version");
    version.textContent = "v" + s.version;
    show(version, true);
    renderSummary(s);
    renderChecks(s.checks, s.configured);
    renderKeys(s.keys);
    const problems = new Set(s.missing.concat(s.invalid.map((p) => p.name)));
    s.checks.filter((c) => c.status !== "ok").forEach((c) => c.variables.forEach((v) => problems.add(v)));
    renderVariables(s.variables, problems);
    $("status-time").textContent = "Checked at " + new Date().toLocaleTimeString();
    show($("status"), true);
    show($("lookup"), true);
    document.body.dataset.state = s.ok ? "ok" : "problem";
  }

  async function lookup(event) {
    event.preventDefault();
    const ids = $("lookup-ids").value.split(/[\s,]+/).filter((s) => s.length);
    const button = $("lookup-button");
    button.disabled = true;
    const started = performance.now();
    let status = 0;
    let text = "";
    try {
      const response = await fetch("/", {
        method: "POST",
        headers: { "X-Api-Key": apiKey, "Content-Type": "application/json" },
        body: JSON.stringify({ accountIds: ids, includeUnresolved: $("lookup-unresolved").checked }),
        cache: "no-store",
        credentials: "omit",
      });
      status = response.status;
      text = await response.text();
    } catch (e) {
      text = "The app could not be reached: " + e.message;
    } finally {
      button.disabled = false;
    }
    const elapsed = Math.round(performance.now() - started);
    let body = null;
    try {
      body = JSON.parse(text);
    } catch (e) {
      body = null;
    }
    const good = status === 200;
    const pill = $("lookup-status");
    pill.className = "pill " + (good ? "good" : "bad");
    pill.textContent = status ? "HTTP " + status : "No answer";
    const found = good && Array.isArray(body) ? body.filter((r) => r.emailAddress).length : 0;
    $("lookup-time").textContent =
      elapsed + " ms" + (good && Array.isArray(body) ? " · " + found + " of " + ids.length + " resolved" : "");
    const rows = $("lookup-rows");
    rows.replaceChildren();
    if (good && Array.isArray(body) && body.length) {
      body.forEach((r) => {
        const tr = el("tr");
        const id = el("td");
        id.append(el("code", "", r.accountId));
        tr.append(id, el("td", r.emailAddress ? "" : "muted", r.emailAddress || "unresolved"));
        rows.append(tr);
      });
      show($("lookup-table"), true);
    } else {
      show($("lookup-table"), false);
    }
    $("lookup-json").textContent = body === null ? text : JSON.stringify(body, null, 2);
    show($("lookup-result"), true);
  }

  function selectTab(tab) {
    document.querySelectorAll(".tab").forEach((t) => {
      const selected = t === tab;
      t.setAttribute("aria-selected", selected ? "true" : "false");
      show($(t.getAttribute("aria-controls")), selected);
    });
  }

  function init() {
    const url = triggerUrl();
    $("trigger-url").textContent = url;
    $("copy-trigger").addEventListener("click", (e) => copy(url, e.currentTarget, $("trigger-url")));
    $("generate-key").addEventListener("click", () => {
      generateKey().catch((e) => {
        $("generated-key").textContent = "The key could not be made: " + e.message;
      });
    });
    document.querySelectorAll("[data-copy]").forEach((b) => {
      const node = $(b.dataset.copy);
      b.addEventListener("click", (e) => copy(node.textContent, e.currentTarget, node));
    });
    $("check-button").addEventListener("click", checkStatus);
    $("api-key").addEventListener("keydown", (e) => {
      if (e.key === "Enter") checkStatus(e);
    });
    $("lookup-form").addEventListener("submit", lookup);
    document.querySelectorAll(".tab").forEach((t) => t.addEventListener("click", () => selectTab(t)));
    document.body.dataset.ready = "true";
  }

  document.addEventListener("DOMContentLoaded", init);
})();
