#!/usr/bin/env bash
# One release of identity-accessor, from a clean checkout of the commit to release:
#   1. builds the component reproducibly (scripts/build-component.sh);
#   2. checks it (unless --skip-checks): `cargo test --workspace` on that very .wasm, the
#      dependency policy (scripts/deny.sh), and two clean rebuilds giving the same bytes
#      (scripts/reproducible.sh --expect <its digest>);
#   3. writes target/dist/identity-accessor-VERSION/: the .wasm, a CycloneDX SBOM of it
#      (cargo-cyclonedx, pinned in scripts/tools.sh), BUILDINFO (commit, toolchain, command) and
#      SHA256SUMS of those three;
#   4. with --push REF: `spin registry push REF` of spin.toml (which points at the .wasm just
#      checked), with OCI annotations for the commit, the source and the license; REF's tag
#      must be the version. --insecure for a plain-HTTP registry (the loopback smoke test).
# VERSION is Cargo.toml's `version`: on /admin/status, in the User-Agent, the OCI tag, the Git
# tag vVERSION (checked when GITHUB_REF_TYPE=tag), CHANGELOG.md's newest release.
#
# Usage: scripts/release.sh [--push REF] [--insecure] [--skip-checks] [--allow-dirty]
#                           [--spin-cache DIR]
# Spin: SPIN_BIN, else the newest from ../shared/tools/spin/unpack.sh, else `spin` on PATH.
# Annotations take the source URL from SOURCE_URL or, in GitHub Actions, the repository's.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/tools.sh
. scripts/tools.sh

push='' insecure=() checks=1 allow_dirty=0 spin_cache=()
while [ $# -gt 0 ]; do
    case $1 in
    --push) push=$2; shift 2 ;;
    --insecure) insecure=(--insecure); shift ;;
    --skip-checks) checks=0; shift ;;
    --allow-dirty) allow_dirty=1; shift ;;
    --spin-cache) spin_cache=(--cache-dir "$2"); shift 2 ;;
    *)
        echo "usage: scripts/release.sh [--push REF] [--insecure] [--skip-checks] [--allow-dirty] [--spin-cache DIR]" >&2
        exit 2
        ;;
    esac
done
started=$(date +%s)
step() { printf '\n== release: %s (%ss)\n' "$*" "$(( $(date +%s) - started ))"; }
fail() { echo "release: FAILED: $*" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"$/\1/p' Cargo.toml | head -n1)
commit=$(git rev-parse HEAD)
[ -n "$version" ] || fail "no version in Cargo.toml"
if [ "${GITHUB_REF_TYPE:-}" = tag ] && [ "${GITHUB_REF_NAME:-}" != "v$version" ]; then
    fail "the tag ${GITHUB_REF_NAME:-} is not v$version (Cargo.toml's version)"
fi
if [ -n "$push" ] && [ "${push##*:}" != "$version" ]; then
    fail "the artifact's tag must be the version: $push does not end in :$version"
fi
if [ -n "$(git status --porcelain)" ]; then
    [ "$allow_dirty" = 1 ] || fail "uncommitted changes: a release is built from a commit (git status)"
    echo "release: uncommitted changes allowed (--allow-dirty): this is not a release of $commit"
fi

step "build identity-accessor $version ($commit)"
scripts/build-component.sh
wasm=target/wasm32-wasip2/release/identity_accessor.wasm
wasm_sha=$(sha256sum "$wasm" | cut -d' ' -f1)
echo "release: $wasm: $(stat -c %s "$wasm") bytes, sha256 $wasm_sha"

if [ "$checks" = 1 ]; then
    step "tests of this .wasm (cargo test --workspace)"
    IDENTITY_ACCESSOR_WASM=$(pwd)/$wasm cargo test --workspace
    step "dependency policy"
    scripts/deny.sh
    step "reproducibility"
    scripts/reproducible.sh --expect "$wasm_sha"
else
    echo "release: checks skipped (--skip-checks): tests, deny and reproducibility run elsewhere"
fi

step "SBOM, BUILDINFO and SHA256SUMS"
ensure_cargo_tool cargo-cyclonedx "$CARGO_CYCLONEDX_VERSION" cargo cyclonedx --version
dist=target/dist/identity-accessor-$version
rm -rf "$dist"
mkdir -p "$dist"
name=identity-accessor-$version
# The commit's time is the SBOM's timestamp (SOURCE_DATE_EPOCH), so the same commit gives the
# same SBOM. cargo-cyclonedx writes one file beside each workspace member's Cargo.toml; the
# component's is kept, the dev tools' are removed. The checkout's path in bom-refs becomes
# /build (as in the .wasm), and the SBOM's subject gets the .wasm's digest.
sbom_name=.sbom-$name
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) cargo cyclonedx --manifest-path Cargo.toml \
    --target wasm32-wasip2 --format json --spec-version 1.5 --override-filename "$sbom_name" -q
root=$(pwd -P)
jq --arg root "path+file://$root" --arg sha "$wasm_sha" '
    walk(if type == "string" and startswith($root) then "path+file:///build" + .[($root | length):] else . end)
    | .metadata.component.hashes = [{"alg": "SHA-256", "content": $sha}]' \
    "$sbom_name.json" >"$dist/$name.cdx.json"
find . -path ./target -prune -o -name "$sbom_name.json" -type f -print0 | xargs -0 rm -f
jq -e --arg v "$version" '.metadata.component.name == "identity-accessor" and .metadata.component.version == $v' \
    "$dist/$name.cdx.json" >/dev/null || fail "the SBOM does not describe identity-accessor $version"
cp "$wasm" "$dist/$name.wasm"
cat >"$dist/BUILDINFO" <<EOF
identity-accessor $version
commit: $commit
built by: scripts/build-component.sh (cargo build --locked --target wasm32-wasip2 --release, paths remapped)
$(rustc -V)
$(cargo -V)
wasm sha256: $wasm_sha
EOF
(cd "$dist" && sha256sum "$name.wasm" "$name.cdx.json" BUILDINFO >SHA256SUMS && sha256sum --quiet -c SHA256SUMS)
echo "release: $dist: $(jq '.components | length' "$dist/$name.cdx.json") components in the SBOM"
cat "$dist/SHA256SUMS"

if [ -n "$push" ]; then
    step "push $push"
    spin=$(spin_binaries | tail -n1)
    [ -n "$spin" ] || fail "no Spin to push with (SPIN_BIN, ../shared/tools/spin/unpack.sh, PATH)"
    # What spin.toml points at must still be the checked bytes.
    [ "$(sha256sum "$wasm" | cut -d' ' -f1)" = "$wasm_sha" ] || fail "$wasm changed since it was checked"
    source_url=${SOURCE_URL:-}
    if [ -z "$source_url" ] && [ -n "${GITHUB_REPOSITORY:-}" ]; then
        source_url=${GITHUB_SERVER_URL:-https://github.com}/$GITHUB_REPOSITORY
    fi
    annotations=(
        --annotation "org.opencontainers.image.revision=$commit"
        --annotation "org.opencontainers.image.licenses=Apache-2.0"
        --annotation "org.opencontainers.image.created=$(git log -1 --format=%cI)"
    )
    [ -n "$source_url" ] && annotations+=(--annotation "org.opencontainers.image.source=$source_url")
    "$spin" --version
    "$spin" registry push --from spin.toml "${insecure[@]}" "${spin_cache[@]}" "${annotations[@]}" "$push" |
        tee "$dist/push.log"
    digest=$(sed -n 's/^Pushed with digest \(sha256:[0-9a-f]\{64\}\)$/\1/p' "$dist/push.log")
    [ -n "$digest" ] || fail "spin registry push did not report a digest"
    echo "${push%:*}@$digest" >"$dist/OCI-REFERENCE"
    echo "release: pushed $push = ${push%:*}@$digest"
fi
step "done: identity-accessor $version"
