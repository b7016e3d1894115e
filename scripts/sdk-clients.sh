#!/usr/bin/env bash
# Install the SDK clients the live tests drive Functory with (tests/js: the AWS SDK for
# JavaScript v3) and the packages their Node.js functions bundle (tests/js/xray-function: the
# X-Ray SDK for Node.js), each from its lockfile. Skips npm ci where the lockfile has not
# changed.
set -euo pipefail
cd "$(dirname "$0")/../tests/js"
if ! command -v npm >/dev/null; then
    echo "npm is needed for the JavaScript SDK tests (install Node.js and npm)" >&2
    exit 1
fi
install_locked() {
    local stamp="$1/node_modules/.lock.sha256" want
    want="$(sha256sum "$1/package-lock.json" | cut -d' ' -f1)"
    if [[ ! -f "$stamp" || "$(cat "$stamp")" != "$want" ]]; then
        (cd "$1" && npm ci --no-audit --no-fund --loglevel=error)
        echo "$want" > "$stamp"
    fi
}
install_locked .
install_locked xray-function
# Go (issue 15, item 3): the live tests build Go functions (a bootstrap binary speaking the
# Runtime API) with Debian's toolchain, and the console's Go blueprint is built with it.
if ! command -v go >/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq golang-go >/dev/null
    else
        echo "go is needed for the Go function tests (install golang-go)" >&2
        exit 1
    fi
fi
../../scripts/go-blueprint.sh
