#!/usr/bin/env bash
# Lays out ../shared beside the clone on a GitHub runner, as .ci/run and the scripts expect it
# on the project's own machines (where ../shared is provided):
#   ../shared/tools/spin/unpack.sh  prints the path of each real Spin, newest last: here the
#                                   official Spin releases, downloaded from the
#                                   spinframework/spin GitHub releases and checked against
#                                   their published checksums.
# Not laid out: ../shared/advisory-db (a dated RustSec snapshot for machines without GitHub;
# the workflows set IDENTITY_ACCESSOR_ADVISORY_DB=live instead) and the shared notes (docs
# only, read by no script or test).
# Usage: .github/shared.sh SHARED_DIR [SPIN_VERSION...]   (default: 3.6.3 4.0.2)
set -euo pipefail
shared=$1
shift
versions=("$@")
[ ${#versions[@]} -gt 0 ] || versions=(3.6.3 4.0.2)
bin_root=${XDG_CACHE_HOME:-$HOME/.cache}/spin-bin
mkdir -p "$shared/tools/spin"
download=$(mktemp -d)
for v in "${versions[@]}"; do
    archive=spin-v$v-linux-amd64.tar.gz
    base=https://github.com/spinframework/spin/releases/download/v$v
    curl -fsSL --retry 3 -o "$download/$archive" "$base/$archive"
    curl -fsSL --retry 3 -o "$download/checksums-v$v.txt" "$base/checksums-v$v.txt"
    (cd "$download" && grep " $archive\$" "checksums-v$v.txt" | sha256sum -c --quiet -)
    mkdir -p "$bin_root/$v"
    tar -xzf "$download/$archive" -C "$bin_root/$v" spin
    "$bin_root/$v/spin" --version
done
rm -rf "$download"
{
    echo '#!/usr/bin/env bash'
    echo '# Written by .github/shared.sh: the Spin releases it downloaded, newest last.'
    for v in "${versions[@]}"; do
        printf 'echo %q\n' "$bin_root/$v/spin"
    done
} >"$shared/tools/spin/unpack.sh"
chmod +x "$shared/tools/spin/unpack.sh"
