#!/usr/bin/env bash
# The release as an operator meets it, end to end against a real OCI registry:
#   1. starts Debian's docker-registry (the CNCF distribution registry) on 127.0.0.1, plain HTTP;
#   2. runs scripts/release.sh --push 127.0.0.1:PORT/identity-accessor:VERSION --insecure
#      (the component built reproducibly, SBOM, SHA256SUMS, `spin registry push`), with the
#      checks skipped that CI runs as steps of their own (tests, deny, reproducibility);
#   3. checks the registry holds the released bytes: the pushed manifest has a layer whose
#      digest is the sha256 of the .wasm listed in SHA256SUMS;
#   4. for each real Spin that ../shared/tools/spin/unpack.sh yields (or SPIN_BIN): starts
#      fake-atlassian (target/debug/fake-atlassian) and `spin up --from REF --insecure`, and
#      passes the contract smoke: /health, /health/ready, a keyed lookup with the exact answer
#      from both sources, a wrong key refused, the admin page and its script, /admin/status
#      reporting the version the artifact is tagged with.
# Where docker-registry or Spin is absent it says so in one line and exits 0 (skipped).
# Everything listens on 127.0.0.1 and stops when the script ends.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/tools.sh
. scripts/tools.sh
root=$(pwd)

registry_bin=$(command -v docker-registry || true)
if [ -z "$registry_bin" ]; then
    echo "registry smoke: SKIPPED: docker-registry is not installed (Debian: apt-get install docker-registry)"
    exit 0
fi
mapfile -t spins < <(spin_binaries)
if [ ${#spins[@]} -eq 0 ]; then
    echo "registry smoke: SKIPPED: no Spin (SPIN_BIN, ../shared/tools/spin/unpack.sh or spin on PATH)"
    exit 0
fi

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
work=$(mktemp -d "${TMPDIR:-/tmp}/identity-accessor-registry.XXXXXX")
pids=()
cleanup() {
    local pid
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    rm -rf "$work"
}
trap cleanup EXIT

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}
# wait_for URL SECONDS LOG: until URL answers (any HTTP status), or fail showing LOG.
wait_for() {
    local url=$1 seconds=$2 log=$3 i
    for ((i = 0; i < seconds * 10; i++)); do
        if curl -s -o /dev/null "$url"; then return 0; fi
        sleep 0.1
    done
    echo "registry smoke: FAILED: nothing answered at $url within ${seconds}s; its log:" >&2
    tail -n 30 "$log" >&2
    exit 1
}
fail() {
    echo "registry smoke: FAILED: $*" >&2
    exit 1
}

# 1. The registry.
registry_port=$(free_port)
cat >"$work/registry.yml" <<EOF
version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/registry-data
http:
  addr: 127.0.0.1:$registry_port
EOF
"$registry_bin" serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
pids+=("$!")
wait_for "http://127.0.0.1:$registry_port/v2/" 20 "$work/registry.log"
ref=127.0.0.1:$registry_port/identity-accessor:$version
echo "registry smoke: $("$registry_bin" --version) on 127.0.0.1:$registry_port; pushing $ref"

# 2. The release, pushed with the newest Spin.
SPIN_BIN=${spins[-1]} scripts/release.sh --skip-checks --allow-dirty --insecure --push "$ref" \
    --spin-cache "$work/spin-cache"
dist=target/dist/identity-accessor-$version
wasm_sha=$(grep " identity-accessor-$version.wasm\$" "$dist/SHA256SUMS" | cut -d' ' -f1)

# 3. The registry holds the released bytes.
manifest=$(curl -sf -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "http://127.0.0.1:$registry_port/v2/identity-accessor/manifests/$version") ||
    fail "the registry has no manifest for $ref"
echo "$manifest" | jq -e --arg d "sha256:$wasm_sha" '[.layers[].digest] | index($d)' >/dev/null ||
    fail "no layer of $ref has the digest of the released .wasm (sha256:$wasm_sha): $manifest"
echo "registry smoke: $ref holds the released .wasm (layer sha256:${wasm_sha:0:16}...)"

# 4. Run it from the registry, on each Spin, against fake-atlassian: the binary of the test
# build (`cargo build -p fake-atlassian` alone resolves other features and rebuilds hyper and
# tokio; after the README's test command this is a no-op).
cargo test --workspace --no-run --quiet 2>/dev/null ||
    cargo test --workspace --no-run
cat >"$work/users.json" <<'EOF'
{"users": [
  {"accountId": "5b10ac8d82e05b22cc7d4ef5", "email": "ada@example.com", "visibility": "visible", "managed": true},
  {"accountId": "557058:0c1f0001-7d2e-4a3b-9c4d-5e6f7a8b9c01", "email": "grace@example.com", "visibility": "hidden", "managed": true},
  {"accountId": "712020:0c1f0002-7d2e-4a3b-9c4d-5e6f7a8b9c02", "email": "linus@example.org", "visibility": "visible", "managed": false},
  {"accountId": "qm:0c1f0003-7d2e-4a3b-9c4d-5e6f7a8b9c03:a1b2c3d7", "email": "hidden@example.org", "visibility": "hidden", "managed": false}
]}
EOF
expected='[{"accountId":"5b10ac8d82e05b22cc7d4ef5","emailAddress":"ada@example.com"},{"accountId":"557058:0c1f0001-7d2e-4a3b-9c4d-5e6f7a8b9c01","emailAddress":"grace@example.com"},{"accountId":"712020:0c1f0002-7d2e-4a3b-9c4d-5e6f7a8b9c02","emailAddress":"linus@example.org"}]'
ids='{"accountIds":["5b10ac8d82e05b22cc7d4ef5","557058:0c1f0001-7d2e-4a3b-9c4d-5e6f7a8b9c01","712020:0c1f0002-7d2e-4a3b-9c4d-5e6f7a8b9c02","qm:0c1f0003-7d2e-4a3b-9c4d-5e6f7a8b9c03:a1b2c3d7"]}'
key=$(od -An -tx1 -N32 /dev/urandom | tr -d ' \n')
admin_key=smoke-admin-key-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
site_token=smoke-site-token-$(od -An -tx1 -N8 /dev/urandom | tr -d ' \n')
# The key with its last character changed (a hex digit: 0 becomes 1, anything else 0), so the
# refusal is of a key that differs from the real one in one byte, never equal to it.
case $key in
*0) wrong_key=${key%?}1 ;;
*) wrong_key=${key%?}0 ;;
esac

# expect NAME STATUS WANT_STATUS [CURL ARGS...]: one request; the body lands in $work/body.
request() {
    curl -s -o "$work/body" -D "$work/headers" -w '%{http_code}' "$@"
}
expect_status() {
    local what=$1 want=$2 got
    shift 2
    got=$(request "$@")
    [ "$got" = "$want" ] || fail "$what: HTTP $got, expected $want; body: $(head -c 300 "$work/body")"
}

for spin in "${spins[@]}"; do
    spin_version=$("$spin" --version | cut -d' ' -f2)
    fake_port=$(free_port)
    "$root/target/debug/fake-atlassian" --listen "127.0.0.1:$fake_port" \
        --directory "$work/users.json" --org-id smoke-org --admin-api-key "$admin_key" \
        --site-email bot@example.com --site-api-token "$site_token" >"$work/fake.log" 2>&1 &
    fake_pid=$!
    pids+=("$fake_pid")
    fake=http://127.0.0.1:$fake_port
    wait_for "$fake/" 20 "$work/fake.log"

    app_port=$(free_port)
    app=http://127.0.0.1:$app_port
    mkdir -p "$work/run-$spin_version"
    (
        cd "$work/run-$spin_version"
        export HOME=$work/home-$spin_version
        exec "$spin" up --from "$ref" --insecure --cache-dir "$work/spin-cache-$spin_version" \
            --listen "127.0.0.1:$app_port" \
            --variable api_key="$key" \
            --variable atlassian_api_url="$fake" \
            --variable allow_loopback_http=true \
            --variable atlassian_org_id=smoke-org \
            --variable atlassian_admin_api_key="$admin_key" \
            --variable confluence_url="$fake" \
            --variable confluence_email=bot@example.com \
            --variable confluence_api_token="$site_token"
    ) >"$work/spin-$spin_version.log" 2>&1 &
    spin_pid=$!
    pids+=("$spin_pid")
    wait_for "$app/health" 60 "$work/spin-$spin_version.log"

    expect_status "GET /health" 200 "$app/health"
    jq -e '.status == "ok"' "$work/body" >/dev/null || fail "GET /health: $(cat "$work/body")"
    expect_status "GET /health/ready" 200 "$app/health/ready"
    jq -e '.status == "ready"' "$work/body" >/dev/null || fail "GET /health/ready: $(cat "$work/body")"
    expect_status "POST / (lookup)" 200 -X POST "$app/" -H "X-Api-Key: $key" \
        -H 'Content-Type: application/json' -d "$ids"
    [ "$(jq -c . "$work/body")" = "$expected" ] ||
        fail "POST /: got $(cat "$work/body"), expected $expected"
    expect_status "POST / (wrong key)" 401 -X POST "$app/" -H "X-Api-Key: $wrong_key" \
        -H 'Content-Type: application/json' -d "$ids"
    expect_status "GET /admin" 200 "$app/admin"
    grep -qi '^content-security-policy: default-src .self.' "$work/headers" ||
        fail "GET /admin: no Content-Security-Policy default-src 'self'"
    grep -q 'src="/admin/app.js"' "$work/body" || fail "GET /admin: the page does not load /admin/app.js"
    expect_status "GET /admin/app.js" 200 "$app/admin/app.js"
    expect_status "GET /admin/status" 200 "$app/admin/status" -H "X-Api-Key: $key"
    jq -e --arg v "$version" '.version == $v' "$work/body" >/dev/null ||
        fail "GET /admin/status: version $(jq -c .version "$work/body"), expected $version"
    echo "registry smoke: Spin $spin_version ran $ref from the registry: health, ready, lookup (3 of 4 resolved, exact), wrong key 401, admin page, status version $version: ok"

    kill "$spin_pid" "$fake_pid" 2>/dev/null || true
    wait "$spin_pid" "$fake_pid" 2>/dev/null || true
done
echo "registry smoke: ok"
