#!/usr/bin/env bash
# Install the SDK clients the live tests drive Functory with (tests/js: the AWS SDK for
# JavaScript v3) from their lockfile. Skips npm ci when the lockfile has not changed.
set -euo pipefail
cd "$(dirname "$0")/../tests/js"
if ! command -v npm >/dev/null; then
    echo "npm is needed for the JavaScript SDK tests (install Node.js and npm)" >&2
    exit 1
fi
stamp="node_modules/.lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
fi
