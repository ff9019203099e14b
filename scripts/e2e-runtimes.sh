#!/usr/bin/env bash
# The end-to-end suite (tests/e2e) on each runtime: devhost, then every real Spin at hand, with
# passed / failed / skipped per runtime and the wall time of each run.
#
# Usage: scripts/e2e-runtimes.sh [--devhost-log FILE] [SPIN...]
#   SPIN...            `spin` binaries to run the suite on; default: every one that
#                      ../shared/tools/spin/unpack.sh yields (none: one line says so, no failure).
#   --devhost-log FILE the output of a `cargo test` run that already ran the e2e suite on
#                      devhost (CI's README test command): its counts are reported instead of
#                      running the suite on devhost again.
#
# The suite serves spin.toml's own component on Spin: IDENTITY_ACCESSOR_WASM must be unset
# (the suite then runs `spin build`) or name target/wasm32-wasip2/release/identity_accessor.wasm.
# libtest has no dynamic skip: a test that cannot run on a runtime passes at once and writes
# one line `e2e-skip [RUNTIME] TEST: REASON` to stderr. Here such a test counts as skipped, not
# passed. Exits non-zero if any runtime had a failure or gave no result.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

devhost_log=
if [ "${1:-}" = "--devhost-log" ]; then
  devhost_log=$2
  shift 2
fi
spins=("$@")
if [ ${#spins[@]} -eq 0 ]; then
  unpack=$root/../shared/tools/spin/unpack.sh
  if [ -x "$unpack" ]; then
    mapfile -t spins < <("$unpack")
  fi
fi

logs=$root/target/e2e-runtimes
mkdir -p "$logs"
summary=()
status=0

# The counts of the e2e binary's run in a cargo test log: "passed failed skipped".
counts() {
  local log=$1
  # The `test result:` line that follows `Running tests/e2e/main.rs`.
  local result
  result=$(awk '/Running tests\/e2e\/main.rs/ { e2e = 1 }
                e2e && /^test result:/ { print; exit }' "$log")
  if [ -z "$result" ]; then
    echo "- - -"
    return
  fi
  local passed failed ignored skipped
  passed=$(sed -n 's/.* \([0-9]*\) passed.*/\1/p' <<<"$result")
  failed=$(sed -n 's/.* \([0-9]*\) failed.*/\1/p' <<<"$result")
  ignored=$(sed -n 's/.* \([0-9]*\) ignored.*/\1/p' <<<"$result")
  skipped=$(grep -c '^e2e-skip ' "$log" || true)
  echo "$((passed - skipped)) $failed $((skipped + ignored))"
}

# Runs the suite with `env` settings, into $logs/NAME.log; appends to the summary.
run() {
  local name=$1
  shift
  local log=$logs/$name.log
  echo "== e2e on $name"
  local started=$SECONDS rc=0
  env "$@" cargo test --workspace --test e2e 2>&1 | tee "$log" || rc=$?
  report "$name" "$log" "$((SECONDS - started)) s" "$rc"
}

report() {
  local name=$1 log=$2 wall=$3 rc=${4:-0}
  local passed failed skipped
  read -r passed failed skipped < <(counts "$log")
  if [ "$passed" = "-" ]; then
    status=1
    summary+=("$(printf '%-12s no test result (exit %s): see %s' "$name" "$rc" "$log")")
    return
  fi
  [ "$failed" = 0 ] && [ "$rc" = 0 ] || status=1
  summary+=("$(printf '%-12s %7s %7s %8s %9s' "$name" "$passed" "$failed" "$skipped" "$wall")")
  if grep -q '^e2e-skip ' "$log"; then
    skips+=("$name:")
    while read -r line; do skips+=("  $line"); done < <(
      sed -n 's/^e2e-skip \[[^]]*\] [^:]*::[^:]*: //p' "$log" | sort | uniq -c)
  fi
}
skips=()

if [ -n "$devhost_log" ]; then
  report devhost "$devhost_log" "(in CI's test run)"
else
  run devhost SPIN_BIN=
fi

if [ ${#spins[@]} -eq 0 ]; then
  echo "== e2e on real Spin: skipped: no Spin binary (../shared/tools/spin/unpack.sh yields none)"
  summary+=("$(printf '%-12s skipped: no Spin binary at hand' 'spin')")
fi
for spin in "${spins[@]}"; do
  if ! version=$("$spin" --version 2>&1 | awk '/^spin / {print $2}') || [ -z "$version" ]; then
    echo "== e2e on $spin: it does not run (\`$spin --version\` printed no \`spin VERSION\`)"
    summary+=("$(printf '%-12s does not run: %s' spin "$spin")")
    status=1
    continue
  fi
  run "spin-$version" SPIN_BIN="$spin"
done

echo
echo "== e2e per runtime (skipped: runs on another runtime; reasons below)"
printf '%-12s %7s %7s %8s %9s\n' runtime passed failed skipped wall
printf '%s\n' "${summary[@]}"
if [ ${#skips[@]} -gt 0 ]; then
  echo "skipped, by reason:"
  printf '%s\n' "${skips[@]}"
fi
exit $status
