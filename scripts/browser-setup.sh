#!/usr/bin/env bash
# The browser the end-to-end tests drive: Debian's Chromium (Playwright only drives it;
# no browser download from anywhere but the Debian archive).
set -euo pipefail
if [[ ! -x /usr/bin/chromium ]]; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi
