# Functory: `make run` serves the console and API; `make test` runs the whole suite.
.PHONY: run test check setup lint

setup:
	scripts/bootstrap.sh

run: setup
	.venv/bin/python manage.py serve

test:
	scripts/test.sh

# The quick loop (about five minutes): lint, types, import contracts, in-process tests on SQLite.
check: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy .
	.venv/bin/lint-imports
	.venv/bin/python -m pytest -q -m "not live and not sandbox and not docker and not browser"

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy .
	.venv/bin/lint-imports
