#!/usr/bin/env bash
# The whole test suite: setup, lint, types, then pytest on both profiles.
set -euo pipefail
cd "$(dirname "$0")/.."
started=$SECONDS
VENV="${VENV:-.venv}"
scripts/bootstrap.sh
export PATH="$PWD/$VENV/bin:$PATH"
PG_TEST_URL="${PG_TEST_URL:-postgres://postgres@127.0.0.1:5432/test}"
# Test runs write their data dirs under the system temp dir, never into ./data.
export FUNCTORY_DATA_DIR="${FUNCTORY_DATA_DIR:-$(mktemp -d)}"

echo "== SDK clients the tests drive (the AWS SDK for JavaScript v3)"
scripts/sdk-clients.sh

echo "== browser for the end-to-end tests"
scripts/browser-setup.sh

echo "== docker backend: engine and runtime image"
scripts/docker-setup.sh

echo "== ruff"
ruff check .
ruff format --check .
echo "== mypy"
mypy .
echo "== import-linter"
lint-imports
echo "== pytest (embedded profile: SQLite)"
env -u DATABASE_URL -u REDIS_URL python -m pytest -q --durations=15 "$@"
echo "== pytest (scaled profile: PostgreSQL)"
DATABASE_URL="$PG_TEST_URL" python -m pytest -q --durations=15 "$@"
echo "== make test took $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
