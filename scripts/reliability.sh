#!/usr/bin/env bash
# Every reliability check, at full length, in one command (see RELIABILITY.md):
# the test suite (unit, end-to-end, fault matrix, hostile input, audit, OpenAPI, browser), the
# property test with PROPTEST_CASES (default 4096), Schemathesis (>= 1,000 generated requests),
# a fuzz smoke of every target (FUZZ_SECONDS, default 60) and the load run
# (LOAD_DURATION, default 60s, 64 connections). Stops at the first failure.
set -euo pipefail
cd "$(dirname "$0")/.."
step() { printf '\n== %s\n' "$*"; }

step "tests (cargo test --workspace)"
cargo test --workspace

step "property test, PROPTEST_CASES=${PROPTEST_CASES:-4096}"
PROPTEST_CASES=${PROPTEST_CASES:-4096} cargo test --test properties -- --nocapture

step "Schemathesis"
./scripts/schemathesis.sh

step "fuzzing, ${FUZZ_SECONDS:-60} s a target"
FUZZ_SECONDS=${FUZZ_SECONDS:-60} ./scripts/fuzz-smoke.sh

step "load, 64 connections for ${LOAD_DURATION:-60s}"
cargo run -p bench -- load --connections 64 --duration "${LOAD_DURATION:-60s}"

step "all reliability checks passed"
