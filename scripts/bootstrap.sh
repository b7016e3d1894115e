#!/usr/bin/env bash
# Create the virtual environment and install Functory's Python dependencies.
# Idempotent: re-runs only when requirements.txt changed.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${VENV:-.venv}"
PYTHON="${PYTHON:-python3}"
scripts/system-deps.sh
stamp="$VENV/.requirements.sha256"
want="$(sha256sum requirements.txt | cut -d' ' -f1)"
scripts/frontend.sh
# The Java runtime's interface and client jars, compiled with the host's JDK (stdlib only).
"$PYTHON" -m invocations.executor.javaruntime
if [[ -f "$stamp" && "$(cat "$stamp")" == "$want" ]]; then
    PIP="$VENV/bin/pip" scripts/runtime-sdk.sh
    scripts/go-blueprint.sh
    exit 0
fi
if ! "$PYTHON" -m venv --help >/dev/null 2>&1 || ! "$PYTHON" -c 'import ensurepip' 2>/dev/null; then
    # Debian splits venv/ensurepip into their own package.
    if command -v apt-get >/dev/null && [[ "$(id -u)" == 0 ]]; then
        apt-get update -qq && apt-get install -y -qq python3-venv python3-dev >/dev/null
    fi
fi
[[ -x "$VENV/bin/python" ]] || "$PYTHON" -m venv "$VENV"
"$VENV/bin/pip" install -q --upgrade pip
"$VENV/bin/pip" install -q -r requirements.txt
echo "$want" > "$stamp"
# The AWS SDKs the runtimes carry (boto3, the AWS SDK for JavaScript v3), with the venv's pip.
PIP="$VENV/bin/pip" scripts/runtime-sdk.sh
scripts/go-blueprint.sh
