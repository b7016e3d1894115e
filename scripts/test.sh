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
# The two profiles run side by side (most tests wait on servers, sandboxes and brokers, not
# on the CPU), each with its own Redis databases, data dir, pytest temp dir and Hypothesis
# (schemathesis) storage; each one's output is printed whole once both are done.
# FUNCTORY_TEST_SERIAL=1 runs one after the other. The PostgreSQL profile leaves out the
# tests marked one_profile (runtimes, sandbox walls: nothing there reads the database).
logs="$(mktemp -d)"
sqlite_profile() {
    env -u DATABASE_URL -u REDIS_URL \
        FUNCTORY_DATA_DIR="$FUNCTORY_DATA_DIR/sqlite" \
        FUNCTORY_TEST_REDIS_URL="redis://127.0.0.1:6379/7" \
        FUNCTORY_TEST_BROKER_URL="redis://127.0.0.1:6379/9" \
        HYPOTHESIS_STORAGE_DIRECTORY="$logs/hypothesis-sqlite" \
        python -m pytest -q --durations=15 --basetemp="$logs/tmp-sqlite" "$@"
}
postgres_profile() {
    env -u REDIS_URL DATABASE_URL="$PG_TEST_URL" FUNCTORY_TEST_SECOND_PROFILE=1 \
        FUNCTORY_DATA_DIR="$FUNCTORY_DATA_DIR/postgres" \
        FUNCTORY_TEST_REDIS_URL="redis://127.0.0.1:6379/8" \
        FUNCTORY_TEST_BROKER_URL="redis://127.0.0.1:6379/10" \
        HYPOTHESIS_STORAGE_DIRECTORY="$logs/hypothesis-postgres" \
        python -m pytest -q --durations=15 --basetemp="$logs/tmp-postgres" "$@"
}
mkdir -p "$FUNCTORY_DATA_DIR/sqlite" "$FUNCTORY_DATA_DIR/postgres"
status=0
if [ "${FUNCTORY_TEST_SERIAL:-0}" = "1" ]; then
    echo "== pytest (embedded profile: SQLite)"
    sqlite_profile "$@" || status=1
    echo "== pytest (scaled profile: PostgreSQL)"
    postgres_profile "$@" || status=1
else
    echo "== pytest: both profiles side by side (SQLite, PostgreSQL)"
    sqlite_profile "$@" > "$logs/sqlite.log" 2>&1 &
    sqlite_pid=$!
    postgres_profile "$@" > "$logs/postgres.log" 2>&1 &
    postgres_pid=$!
    wait "$sqlite_pid" || status=1
    sqlite_done=$SECONDS
    wait "$postgres_pid" || status=1
    echo "== pytest (embedded profile: SQLite), done after $(( (sqlite_done - started) / 60 )) min"
    cat "$logs/sqlite.log"
    echo "== pytest (scaled profile: PostgreSQL)"
    cat "$logs/postgres.log"
fi
echo "== make test took $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s"
exit "$status"
