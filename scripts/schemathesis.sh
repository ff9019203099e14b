#!/usr/bin/env bash
# Property-based API testing of the running component against openapi.yaml with Schemathesis.
#
# Builds the component and devhost, starts `devhost up --demo` (the fake Atlassian runs
# in-process) on a free 127.0.0.1 port with a known key, waits for /health, then runs
# Schemathesis with every check (`--checks all`) over every operation, once in positive mode
# (schema-valid requests must be accepted) and once in negative mode (schema-invalid ones must
# be refused with a 4xx), each through the examples, coverage and fuzzing phases. The key is
# given as the value of the spec's own `apiKey` security scheme (a config file), not as a raw
# header, so Schemathesis knows which header is the key: it tests requests without it
# (ignored_auth) and can still generate requests for `GET /admin/status`. Fails on any
# Schemathesis failure or error, on fewer than MIN_REQUESTS requests served, on any 5xx the
# component answered, and on any trap (`devhost: component ... failed`).
#
# Environment: MAX_EXAMPLES (per operation and phase, default 500), MIN_REQUESTS (default
# 1000), SEED (default: random), PORT (default: a free one), SKIP_BUILD=1 (use the devhost and
# .wasm already in target/), SCHEMATHESIS_ARGS (extra arguments, e.g.
# --exclude-path-regex '^/admin'). URL=http://HOST:PORT tests a server already running there
# (e.g. `spin up` of the component against the demo fake) instead of starting devhost: it must
# accept KEY, and the log checks then read LOG_DIR (its log directory) if given.
#
# Schemathesis and every package it pulls in are pinned in scripts/schemathesis-requirements.txt.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

requirements=$root/scripts/schemathesis-requirements.txt
SCHEMATHESIS_VERSION=$(sed -n 's/^schemathesis==//p' "$requirements")
MAX_EXAMPLES=${MAX_EXAMPLES:-500}
MIN_REQUESTS=${MIN_REQUESTS:-1000}
KEY=${KEY:-schemathesis-key-0123456789abcdef0123456}
[ ${#KEY} -ge 40 ] || { echo "the test key must be at least 40 characters" >&2; exit 2; }

venv=$root/target/schemathesis-venv
work=$root/target/schemathesis
rm -rf "$work"
mkdir -p "$work/logs"

echo "== schemathesis $SCHEMATHESIS_VERSION (venv in target/, pinned by $(basename "$requirements"))"
if [ ! -x "$venv/bin/schemathesis" ] || ! cmp -s "$requirements" "$venv/requirements.txt"; then
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
    cp "$requirements" "$venv/requirements.txt"
fi
"$venv/bin/schemathesis" --version | grep -qF "$SCHEMATHESIS_VERSION"

# The key, as the value of openapi.yaml's apiKey security scheme.
printf '[auth.openapi.apiKey]\napi_key = "%s"\n' "$KEY" >"$work/schemathesis.toml"

devhost_pid=
cleanup() {
    if [ -n "$devhost_pid" ] && kill -0 "$devhost_pid" 2>/dev/null; then
        kill "$devhost_pid" 2>/dev/null || true
        wait "$devhost_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM

if [ -n "${URL:-}" ]; then
    url=$URL
    log_dir=${LOG_DIR:-}
    echo "== testing the server at $url"
else
    if [ "${SKIP_BUILD:-0}" != 1 ]; then
        echo "== build the component and devhost"
        cargo build --target wasm32-wasip2 --release
        cargo build -p devhost
    fi
    PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
    url=http://127.0.0.1:$PORT
    log_dir=$work/logs
    echo "== devhost up --demo on $url"
    "$root/target/debug/devhost" up --demo --quiet --listen "127.0.0.1:$PORT" \
        --log-dir "$log_dir" --variable "api_key=$KEY" >"$work/devhost.out" 2>&1 &
    devhost_pid=$!
    for _ in $(seq 1 120); do
        if curl -fsS "$url/health" >/dev/null 2>&1; then break; fi
        kill -0 "$devhost_pid" 2>/dev/null || { cat "$work/devhost.out"; echo "devhost exited" >&2; exit 1; }
        sleep 0.5
    done
    grep -qF "API key (X-Api-Key): $KEY" "$work/devhost.out" || {
        cat "$work/devhost.out"
        echo "devhost did not take the known key" >&2
        exit 1
    }
fi
curl -fsS "$url/health" >/dev/null || { echo "no /health at $url" >&2; exit 1; }

# Two passes against the same server, every check, every operation, every phase that applies
# (there are no links, so no stateful phase): positive data, then negative data.
status=0
for mode in positive negative; do
    echo "== schemathesis --mode $mode --checks all --max-examples $MAX_EXAMPLES"
    # Run from target/ so Schemathesis' own cache (.schemathesis/) stays out of the tree.
    (cd "$work" && "$venv/bin/schemathesis" --config-file "$work/schemathesis.toml" \
        run "$root/openapi.yaml" \
        --url "$url" \
        --mode "$mode" \
        --phases examples,coverage,fuzzing \
        --checks all \
        --max-examples "$MAX_EXAMPLES" \
        ${SEED:+--seed "$SEED"} \
        --request-timeout 30 \
        --workers 2 \
        --generation-database none \
        --suppress-health-check all \
        --report junit --report-dir "$work/report-$mode" \
        --no-color ${SCHEMATHESIS_ARGS:-}) || status=$?
done

cleanup
devhost_pid=

fail=0
if [ "$status" -ne 0 ]; then
    echo "FAIL: schemathesis reported failures or errors (exit $status); reports in $work/report-*" >&2
    fail=1
fi
log=${log_dir:+$log_dir/identity-accessor_stdout.txt}
if [ -n "$log" ] && [ -f "$log" ]; then
    requests=$(grep -c . "$log" 2>/dev/null || true)
    server_errors=$(grep -c '"status":5[0-9][0-9]' "$log" 2>/dev/null || true)
    statuses=$(grep -o '"status":[0-9]*' "$log" | sort | uniq -c | sort -rn | tr '\n' ' ' || true)
    echo "== requests served by the component: $requests"
    echo "   by status: $statuses"
    if [ "${requests:-0}" -lt "$MIN_REQUESTS" ]; then
        echo "FAIL: only ${requests:-0} requests, fewer than $MIN_REQUESTS" >&2
        fail=1
    fi
    # 503 and 502/504 come only from configuration or Atlassian; the demo has neither fault, so
    # any 5xx here is the component's own.
    if [ "${server_errors:-0}" -ne 0 ]; then
        echo "FAIL: $server_errors answers were 5xx:" >&2
        grep '"status":5[0-9][0-9]' "$log" | head -5 >&2
        fail=1
    fi
elif [ -z "${URL:-}" ]; then
    echo "FAIL: no log at $log" >&2
    fail=1
else
    echo "== no LOG_DIR given: request count and 5xx scan skipped (Schemathesis' own not_a_server_error check still ran)"
fi
if [ -f "$work/devhost.out" ] && grep -q 'devhost: component .* failed' "$work/devhost.out"; then
    echo "FAIL: the component trapped:" >&2
    grep 'devhost: component .* failed' "$work/devhost.out" | head -5 >&2
    fail=1
fi
[ "$fail" -eq 0 ] && echo "== schemathesis: OK (positive and negative, --checks all: 0 failures, 0 errors; zero 5xx, zero traps)"
exit "$fail"
