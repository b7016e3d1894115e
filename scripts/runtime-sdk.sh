#!/usr/bin/env bash
# The AWS SDKs the runtimes carry, as AWS's do (issue 15, item 6): boto3 for Python
# functions, the AWS SDK for JavaScript v3 for Node.js functions, at the versions pinned in
# runtime-sdk/ (requirements.txt, nodejs/package-lock.json), from PyPI and npm. The executor
# mounts runtime-sdk/ read-only into every environment at /var/runtime-sdk. Idempotent:
# re-installs only when a pin changed (runtime-sdk/.installed holds their digest, which also
# names the SDK's images). Needs pip (the venv's) and npm.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
PIP="${PIP:-$root/.venv/bin/pip}"
[[ "$PIP" == /* ]] || PIP="$PWD/$PIP"
cd "$root/runtime-sdk"
want="$(cat requirements.txt nodejs/package-lock.json | sha256sum | cut -d' ' -f1)"
if [[ -f .installed && "$(cat .installed)" == "$want" ]]; then
    exit 0
fi
if ! command -v npm >/dev/null; then
    if [[ "$(id -u)" == 0 ]] && command -v apt-get >/dev/null; then
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq npm >/dev/null
    else
        echo "npm is needed for the Node.js runtimes' AWS SDK (install Node.js and npm)" >&2
        exit 1
    fi
fi
rm -f .installed
rm -rf python.new
# --no-deps: requirements.txt pins every package; --no-compile: compiled below for each
# CPython the runtimes may use, as the environments cannot write __pycache__.
"$PIP" install -q --no-deps --no-compile --target python.new -r requirements.txt
rm -rf python.new/bin
for interpreter in /usr/bin/python3.* /usr/local/bin/python3.*; do
    [[ "$interpreter" =~ python3\.[0-9]+$ && -x "$interpreter" ]] || continue
    "$interpreter" -m compileall -q -j 0 python.new >/dev/null 2>&1 || true
done
rm -rf python && mv python.new python
(cd nodejs && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
# Readable by every environment's uid.
chmod -R a+rX python nodejs
echo "$want" > .installed
