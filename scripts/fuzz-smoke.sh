#!/usr/bin/env bash
# A short run of every cargo-fuzz target (CI smoke): each for FUZZ_SECONDS (default 20) from the
# seed corpus in fuzz/corpus/<target>/, with debug assertions (overflow checks) on.
#
# cargo fuzz needs nightly flags (-Zsanitizer); RUSTC_BOOTSTRAP=1 lets the stable toolchain that
# rust-toolchain.toml selects accept them, so no nightly is needed. Inputs libFuzzer finds go to
# target/fuzz-corpus/<target>/, never into the committed seeds; a crash is saved under
# fuzz/artifacts/<target>/ and fails the script.
#
# The long run, one target at a time (hours; keeps its corpus between runs):
#   RUSTC_BOOTSTRAP=1 cargo fuzz run -a parse_lookup target/fuzz-corpus/parse_lookup \
#       fuzz/corpus/parse_lookup -- -max_total_time=3600 -jobs=2 -workers=2
set -euo pipefail
cd "$(dirname "$0")/.."
export RUSTC_BOOTSTRAP=1
FUZZ_SECONDS=${FUZZ_SECONDS:-20}
TARGETS=${TARGETS:-"parse_lookup parse_upstream api_keys"}

command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz@0.13.2 --locked

cd fuzz
cargo fuzz build -a
for target in $TARGETS; do
    corpus=../target/fuzz-corpus/$target
    mkdir -p "$corpus"
    echo "== fuzz $target for ${FUZZ_SECONDS}s"
    status=0
    cargo fuzz run -a "$target" "$corpus" "corpus/$target" -- \
        -max_total_time="$FUZZ_SECONDS" -max_len=65536 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 >"../target/fuzz-$target.log" 2>&1 || status=$?
    grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==|SUMMARY|thread .* panicked)' \
        "../target/fuzz-$target.log" || true
    if [ "$status" -ne 0 ]; then
        echo "FAIL: $target (exit $status); see target/fuzz-$target.log and fuzz/artifacts/$target/" >&2
        exit "$status"
    fi
done
echo "== fuzz smoke: OK"
