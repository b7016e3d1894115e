# Functory: `make run` serves the console and API; `make test` runs the whole suite.
.PHONY: run test setup lint

setup:
	scripts/bootstrap.sh

run: setup
	.venv/bin/python manage.py serve

test:
	scripts/test.sh

lint: setup
	.venv/bin/ruff check . && .venv/bin/ruff format --check . && .venv/bin/mypy .
