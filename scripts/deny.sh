#!/usr/bin/env bash
# Dependency policy (deny.toml) with cargo-deny, on two graphs:
#   component  the root package for wasm32-wasip2 without dev-dependencies: the crates compiled
#              into the released .wasm. Any error fails: a vulnerability advisory, an
#              unmaintained/unsound notice not ignored in deny.toml, a license outside the list,
#              a crate from anywhere but crates.io, a wildcard requirement.
#   workspace  every member and dev-dependency, every target (devhost and wasmtime,
#              fake-atlassian, bench). Licenses, sources and bans fail as above; advisories are
#              reported and do not fail (nothing of them ships in the .wasm).
# Duplicate versions are warnings in both. Prints one line per finding and a count by kind;
# the full cargo-deny report of each graph is kept in target/deny/<graph>.json.
#
# The RustSec database, chosen by IDENTITY_ACCESSOR_ADVISORY_DB:
#   live      fetched from GitHub (cargo deny fetch db) into target/advisory-dbs/;
#   snapshot  the dated copy in ../shared/advisory-db (IDENTITY_ACCESSOR_ADVISORY_SNAPSHOT),
#             made a git repository under target/advisory-db-snapshot/ (cargo-deny reads one)
#             and used offline; its date and age are printed;
#   auto      (default) live if GitHub answers within 10 s, else the snapshot.
# Crates themselves always come from crates.io (`cargo fetch --locked`); cargo-deny then runs
# with --offline so that it fetches nothing else.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/tools.sh
. scripts/tools.sh

DB_URL=https://github.com/rustsec/advisory-db
# Where cargo-deny 0.20 keeps the database of DB_URL under its db-path: "<last path segment>-
# <xxhash64 of the URL>" (cargo-deny src/advisories/helpers/db.rs, url_to_db_path).
DB_DIR_NAME=advisory-db-3157b0e258782691
mode=${IDENTITY_ACCESSOR_ADVISORY_DB:-auto}
snapshot=${IDENTITY_ACCESSOR_ADVISORY_SNAPSHOT:-../shared/advisory-db}

ensure_cargo_tool cargo-deny "$CARGO_DENY_VERSION" cargo deny --version
cargo fetch --locked --quiet

if [ "$mode" = auto ]; then
    if timeout 10 git ls-remote --exit-code "$DB_URL" HEAD >/dev/null 2>&1; then
        mode=live
    elif [ -f "$snapshot/SNAPSHOT.md" ]; then
        mode=snapshot
    else
        echo "deny: the RustSec database is unreachable ($DB_URL) and there is no snapshot at $snapshot" >&2
        exit 1
    fi
fi

case $mode in
live)
    unset IDENTITY_ACCESSOR_ADVISORY_DBS
    cargo deny fetch db
    head=$(git -C "target/advisory-dbs/$DB_DIR_NAME" log -1 --format='%h of %cs' 2>/dev/null || echo "unknown")
    echo "advisory database: RustSec, live from $DB_URL (commit $head)"
    ;;
snapshot)
    commit=$(sed -n 's/.*at commit \([0-9a-f]\{40\}\) (\([0-9-]\{10\}\)).*/\1/p' "$snapshot/SNAPSHOT.md")
    date=$(sed -n 's/.*at commit \([0-9a-f]\{40\}\) (\([0-9-]\{10\}\)).*/\2/p' "$snapshot/SNAPSHOT.md")
    if [ -z "$commit" ] || [ -z "$date" ]; then
        echo "deny: $snapshot/SNAPSHOT.md does not name a commit and a date" >&2
        exit 1
    fi
    export IDENTITY_ACCESSOR_ADVISORY_DBS=target/advisory-db-snapshot
    db=$IDENTITY_ACCESSOR_ADVISORY_DBS/$DB_DIR_NAME
    if [ "$(cat "$db/.git/snapshot-commit" 2>/dev/null)" != "$commit" ]; then
        rm -rf "$db"
        mkdir -p "$db"
        cp -R "$snapshot/." "$db/"
        chmod -R u+w "$db"
        (
            cd "$db"
            export GIT_AUTHOR_DATE="${date}T00:00:00Z" GIT_COMMITTER_DATE="${date}T00:00:00Z"
            git init -q
            git add -A
            git -c user.name=snapshot -c user.email=snapshot@localhost commit -q \
                -m "RustSec advisory-db snapshot of commit $commit"
        )
        echo "$commit" >"$db/.git/snapshot-commit"
    fi
    age=$(( ($(date -u +%s) - $(date -u -d "$date" +%s)) / 86400 ))
    echo "advisory database: RustSec snapshot of $date (commit ${commit:0:12}, $age days old), offline, from $snapshot"
    if [ "$age" -gt 90 ]; then
        echo "advisory database: the snapshot is over 90 days old; advisories published since $date are not checked"
    fi
    ;;
*)
    echo "deny: IDENTITY_ACCESSOR_ADVISORY_DB must be live, snapshot or auto, not '$mode'" >&2
    exit 2
    ;;
esac

mkdir -p target/deny
status=0

# run_graph NAME GATING_CHECKS CARGO_DENY_ARGS...: runs every check on one graph, prints the
# findings and a count by kind, and fails (status=1) on an error in one of GATING_CHECKS.
run_graph() {
    local name=$1 gating=$2 report=target/deny/$1.json
    shift 2
    cargo deny --log-level info --format json --color never --offline "$@" check \
        2>"$report" || true
    if ! jq -e 'select(.type == "summary")' "$report" >/dev/null; then
        echo "deny: cargo-deny gave no summary for the $name graph:" >&2
        jq -r 'select(.type == "log") | .fields.message' "$report" >&2 || cat "$report" >&2
        status=1
        return
    fi
    local crates
    crates=$(jq -r 'select(.type == "log") | .fields.message | capture("gathered (?<n>[0-9]+) crates").n // empty' "$report")
    echo "-- $name graph ($crates crates; cargo deny $*)"
    local findings='select(.type == "diagnostic" and .fields.severity != "help"
        and (.fields.code | IN("skipped-private-workspace-crate", "license-not-encountered",
                               "license-exception-not-encountered") | not)) | .fields'
    jq -r "$findings"' | "  \(.severity) \(.code): "
        + if .advisory then "\(.advisory.id) \(.advisory.package): \(.message)"
          elif .code == "advisory-ignored" then "\(.labels[0].span) (deny.toml gives the reason)"
          else .message end' "$report"
    jq -r "$findings"' | "\(.severity) \(.code)"' "$report" | sort | uniq -c |
        awk -v g="$name" 'BEGIN { printf "  %s counts:", g } { printf " %s %s=%s;", $2, $3, $1 } END { print "" }'
    local check errors
    for check in advisories bans licenses sources; do
        errors=$(jq -r --arg c "$check" 'select(.type == "summary") | .fields[$c].errors' "$report")
        if [ "$errors" != 0 ]; then
            if [[ " $gating " == *" $check "* ]]; then
                echo "  FAIL: $errors $check error(s) in the $name graph"
                status=1
            else
                echo "  reported, not gating: $errors $check error(s) in the $name graph"
            fi
        fi
    done
}

run_graph component "advisories bans licenses sources" --target wasm32-wasip2 --exclude-dev
run_graph workspace "bans licenses sources" --workspace

if [ "$status" -ne 0 ]; then
    echo "deny: FAILED (details: cargo deny --target wasm32-wasip2 --exclude-dev check, or --workspace check; reports in target/deny/)"
    exit 1
fi
echo "deny: ok"
