#!/usr/bin/env bash
# Builds the component the way `spin build` does (spin.toml: `cargo build --target wasm32-wasip2
# --release`, into target/wasm32-wasip2/release/identity_accessor.wasm), with the machine's
# paths taken out, so one commit gives the same .wasm bytes in any folder and under any
# CARGO_HOME (checked by scripts/reproducible.sh). Releases are built with it.
#
# What would differ otherwise: panic locations name their source files, and crates.io sources
# are compiled from CARGO_HOME/registry/src/..., so a plain build embeds
# "/root/.cargo/registry/src/index.crates.io-.../serde_json-1.x/src/..." (this package's own
# files are relative paths, the standard library's already "/rustc/<commit>/..."). The flags map
# CARGO_HOME to /cargo and the checkout to /build. They are set for the wasm32-wasip2 target
# only (cargo's target.wasm32-wasip2.rustflags), so host builds (devhost, wasmtime, the tests)
# keep their flags and are not rebuilt. Nothing else in the build depends on time or place:
# no build script or macro of the component's graph embeds a timestamp, and the profile is
# fixed in Cargo.toml (lto, codegen-units = 1, strip).
#
# The bytes also depend on the toolchain: the same rustc (and wasm-component-ld shipped with it)
# gives the same .wasm; `rustc -V` is printed. Extra arguments go to cargo build.
set -euo pipefail
# CARGO_HOME as cargo sees it (made absolute, not resolved: cargo names the sources by it).
cargo_home=${CARGO_HOME:-$HOME/.cargo}
case $cargo_home in /*) ;; *) cargo_home=$PWD/$cargo_home ;; esac
cd "$(dirname "$0")/.."
# The checkout as rustc sees it (cargo runs it in the workspace root, resolved).
root=$(pwd -P)

# A TOML string for --config: backslashes and quotes escaped.
toml_string() {
    local s=${1//\\/\\\\}
    printf '"%s"' "${s//\"/\\\"}"
}
# rustc applies the last matching --remap-path-prefix, so CARGO_HOME (which may lie inside the
# checkout) comes after the checkout.
flags="[$(toml_string "--remap-path-prefix=$root=/build"), $(toml_string "--remap-path-prefix=$cargo_home=/cargo")]"

rustc -V
exec cargo build --locked --target wasm32-wasip2 --release \
    --config "target.wasm32-wasip2.rustflags=$flags" "$@"
