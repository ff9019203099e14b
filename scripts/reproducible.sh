#!/usr/bin/env bash
# Checks that the component is reproducible: two clean clones of HEAD, in folders of different
# names and depths, each built by scripts/build-component.sh (spin.toml's build command with
# the paths remapped) into its own empty target/, the second under another CARGO_HOME, give
# byte-identical .wasm files. With --expect SHA256 the bytes must also match that digest (the
# release script passes the digest of the .wasm it is about to publish).
#
# The second CARGO_HOME shares the first one's downloaded crates (registry/index and
# registry/cache, by symlink) and builds --offline, but unpacks and compiles the sources under
# its own path: the one that would end up in the .wasm if it were not remapped.
# Takes two clean release builds of the component: about 2 minutes for both on 2 idle cores.
# Uncommitted changes are not part of the check (it builds the commit); it says so.
set -euo pipefail
cd "$(dirname "$0")/.."
expect=
while [ $# -gt 0 ]; do
    case $1 in
    --expect) expect=$2; shift 2 ;;
    *) echo "usage: scripts/reproducible.sh [--expect SHA256]" >&2; exit 2 ;;
    esac
done

commit=$(git rev-parse HEAD)
if [ -n "$(git status --porcelain --untracked-files=no)" ]; then
    echo "reproducible: uncommitted changes are not checked: building the commit $commit"
fi
cargo_home=${CARGO_HOME:-$HOME/.cargo}
started=$(date +%s)
work=$(mktemp -d "${TMPDIR:-/tmp}/identity-accessor-repro.XXXXXX")
trap 'rm -rf "$work"' EXIT

# build DIR [CARGO_HOME]: a clean clone of the commit in DIR, built; prints the .wasm's digest.
build() {
    local dir=$1 home=${2:-} offline=()
    git clone --quiet --no-checkout "$PWD" "$dir"
    git -C "$dir" checkout --quiet --detach "$commit"
    [ -n "$home" ] && offline=(--offline)
    echo "reproducible: building $commit in $dir${home:+ with CARGO_HOME=$home}" >&2
    (
        [ -n "$home" ] && export CARGO_HOME=$home
        cd "$dir" && scripts/build-component.sh --quiet "${offline[@]}" >&2
    )
    sha256sum "$dir/target/wasm32-wasip2/release/identity_accessor.wasm" | cut -d' ' -f1
}

first=$(build "$work/a")
home=$work/other/cargo-home
mkdir -p "$home/registry"
ln -s "$cargo_home/registry/index" "$home/registry/index"
ln -s "$cargo_home/registry/cache" "$home/registry/cache"
second=$(build "$work/a-second/clone/elsewhere" "$home")

size=$(stat -c %s "$work/a/target/wasm32-wasip2/release/identity_accessor.wasm")
seconds=$(( $(date +%s) - started ))
echo "reproducible: first  $first"
echo "reproducible: second $second"
if [ "$first" != "$second" ]; then
    cmp -l "$work/a/target/wasm32-wasip2/release/identity_accessor.wasm" \
        "$work/a-second/clone/elsewhere/target/wasm32-wasip2/release/identity_accessor.wasm" |
        head -n 5 || true
    echo "reproducible: FAILED: two builds of $commit differ (${seconds}s)"
    exit 1
fi
if [ -n "$expect" ] && [ "$expect" != "$first" ]; then
    echo "reproducible: FAILED: the clean builds give $first, not the expected $expect (${seconds}s)"
    exit 1
fi
echo "reproducible: ok: $size bytes, sha256 $first, identical in both builds${expect:+ and as expected} (${seconds}s)"
