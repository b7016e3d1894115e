#!/usr/bin/env bash
# Install the console's npm packages from the lockfile and bundle them into
# static/console/dist (build output, never committed). Skips npm ci when the lockfile
# has not changed since the last install.
set -euo pipefail
cd "$(dirname "$0")/../frontend"
if ! command -v npm >/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
        echo "npm is needed to build the console (install Node.js and npm)" >&2
        exit 1
    fi
fi
stamp="node_modules/.lock.sha256"
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
    npm ci --no-audit --no-fund --loglevel=error
    echo "$want" > "$stamp"
fi
npm run --silent build
