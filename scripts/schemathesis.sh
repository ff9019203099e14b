#!/usr/bin/env bash
# Property-based API testing of the running component against openapi.yaml with Schemathesis.
#
# Builds the component and devhost, starts `devhost up --demo` (the fake Atlassian runs
# in-process) on a free 127.0.0.1 port with a known key, waits for /health, then runs
# Schemathesis in positive and negative mode over every operation with the conformance checks.
# Fails on any Schemathesis failure, on fewer than MIN_REQUESTS requests served, on any 5xx the
# component answered, and on any trap (`devhost: component ... failed`).
#
# Environment: MAX_EXAMPLES (per operation and phase, default 500), MIN_REQUESTS (default
# 1000), SEED (default: random), PORT (default: a free one), SCHEMATHESIS_VERSION,
# SKIP_BUILD=1 (use the devhost and .wasm already in target/), SCHEMATHESIS_ARGS (extra
# arguments, e.g. --exclude-path-regex '^/admin').
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

SCHEMATHESIS_VERSION=${SCHEMATHESIS_VERSION:-4.32.5}
MAX_EXAMPLES=${MAX_EXAMPLES:-500}
MIN_REQUESTS=${MIN_REQUESTS:-1000}
KEY=schemathesis-key-0123456789abcdef0123456
[ ${#KEY} -eq 40 ] || { echo "the test key must be 40 characters" >&2; exit 2; }

venv=$root/target/schemathesis-venv
work=$root/target/schemathesis
rm -rf "$work"
mkdir -p "$work/logs"

echo "== schemathesis $SCHEMATHESIS_VERSION (venv in target/)"
if [ ! -x "$venv/bin/schemathesis" ] ||
    ! "$venv/bin/schemathesis" --version | grep -qF "$SCHEMATHESIS_VERSION"; then
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

if [ "${SKIP_BUILD:-0}" != 1 ]; then
    echo "== build the component and devhost"
    cargo build --target wasm32-wasip2 --release
    cargo build -p devhost
fi

PORT=${PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
url=http://127.0.0.1:$PORT

devhost_pid=
cleanup() {
    if [ -n "$devhost_pid" ] && kill -0 "$devhost_pid" 2>/dev/null; then
        kill "$devhost_pid" 2>/dev/null || true
        wait "$devhost_pid" 2>/dev/null || true
    fi
}
trap cleanup EXIT INT TERM

echo "== devhost up --demo on $url"
"$root/target/debug/devhost" up --demo --quiet --listen "127.0.0.1:$PORT" \
    --log-dir "$work/logs" --variable "api_key=$KEY" >"$work/devhost.out" 2>&1 &
devhost_pid=$!
for _ in $(seq 1 120); do
    if curl -fsS "$url/health" >/dev/null 2>&1; then break; fi
    kill -0 "$devhost_pid" 2>/dev/null || { cat "$work/devhost.out"; echo "devhost exited" >&2; exit 1; }
    sleep 0.5
done
curl -fsS "$url/health" >/dev/null || { cat "$work/devhost.out"; echo "no /health" >&2; exit 1; }
grep -qF "API key (X-Api-Key): $KEY" "$work/devhost.out" || {
    cat "$work/devhost.out"
    echo "devhost did not take the known key" >&2
    exit 1
}

# Two passes against the same server: every phase in "all" mode (positive and negative data,
# the coverage phase's boundary cases), then a fuzzing pass of negative data only, which in
# "all" mode gets few examples on POST /.
status=0
pass=0
for mode in all negative; do
    pass=$((pass + 1))
    phases=examples,coverage,fuzzing
    only=()
    # Only POST / has input that can be made invalid (the others take at most a free-form
    # header); Schemathesis reports an error for an operation it cannot negate.
    [ "$mode" = negative ] && phases=fuzzing && only=(--include-method POST --include-path /)
    echo "== schemathesis pass $pass: --mode $mode --phases $phases --max-examples $MAX_EXAMPLES"
    # Run from target/ so Schemathesis' own cache (.schemathesis/) stays out of the tree.
    (cd "$work" && "$venv/bin/schemathesis" run "$root/openapi.yaml" \
        --url "$url" \
        --header "X-Api-Key: $KEY" \
        --mode "$mode" \
        --phases "$phases" \
        --max-examples "$MAX_EXAMPLES" \
        ${SEED:+--seed "$SEED"} \
        --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,response_headers_conformance \
        --request-timeout 30 \
        --workers 2 \
        --generation-database none \
        --suppress-health-check all \
        --report junit --report-dir "$work/report-$mode" \
        --no-color "${only[@]}" ${SCHEMATHESIS_ARGS:-}) || status=$?
done

cleanup
devhost_pid=

log=$work/logs/identity-accessor_stdout.txt
requests=$(grep -c . "$log" 2>/dev/null || true)
server_errors=$(grep -c '"status":5[0-9][0-9]' "$log" 2>/dev/null || true)
statuses=$(grep -o '"status":[0-9]*' "$log" | sort | uniq -c | sort -rn | tr '\n' ' ' || true)
echo "== requests served by the component: $requests"
echo "   by status: $statuses"

fail=0
if [ "$status" -ne 0 ]; then
    echo "FAIL: schemathesis reported failures (exit $status); reports in $work/report-*" >&2
    fail=1
fi
if [ "${requests:-0}" -lt "$MIN_REQUESTS" ]; then
    echo "FAIL: only ${requests:-0} requests, fewer than $MIN_REQUESTS" >&2
    fail=1
fi
if grep -q 'devhost: component .* failed' "$work/devhost.out"; then
    echo "FAIL: the component trapped:" >&2
    grep 'devhost: component .* failed' "$work/devhost.out" | head -5 >&2
    fail=1
fi
# 503 and 502/504 come only from configuration or Atlassian; the demo has neither fault, so
# any 5xx here is the component's own.
if [ "${server_errors:-0}" -ne 0 ]; then
    echo "FAIL: $server_errors answers were 5xx:" >&2
    grep '"status":5[0-9][0-9]' "$log" | head -5 >&2
    fail=1
fi
[ "$fail" -eq 0 ] && echo "== schemathesis: OK ($requests requests, zero 5xx, zero traps)"
exit "$fail"
