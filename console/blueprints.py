"""Starter packages for functions created in the console: hello world per runtime family."""

from __future__ import annotations

import dataclasses
import functools
import os
from collections.abc import Mapping
from pathlib import Path

from functions.package_files import EXECUTABLE, REGULAR
from invocations import selectors as invocations
from invocations.executor import javaruntime

# The Go blueprint's source, and where setup builds its bootstrap (scripts/go-blueprint.sh):
# nobody compiles Go in a browser, so the blueprint ships the binary prebuilt.
GO_SOURCE = Path(__file__).resolve().parent / "go_blueprint"
GO_BUILD = Path(
    os.environ.get("FUNCTORY_GO_BLUEPRINT_DIR")
    or Path(__file__).resolve().parent.parent / "go-blueprint"
)
GO_MISSING = (
    "Unavailable: Go is not installed on this host, so the blueprint's bootstrap could not be "
    "built (install golang-go, then run scripts/go-blueprint.sh)."
)

_PYTHON = """import json


def lambda_handler(event, context):
    print("Hello from Functory!", json.dumps(event))
    return {"statusCode": 200, "body": json.dumps("Hello from Lambda!")}
"""

_NODE = """export const handler = async (event) => {
  console.log("Hello from Functory!", JSON.stringify(event));
  return { statusCode: 200, body: JSON.stringify("Hello from Lambda!") };
};
"""

_RUBY = """require 'json'

def lambda_handler(event:, context:)
  puts "Hello from Functory! #{JSON.generate(event)}"
  { statusCode: 200, body: JSON.generate('Hello from Lambda!') }
end
"""

# The AWS Lambda Developer Guide's custom runtime tutorial (a shell bootstrap).
_BOOTSTRAP = """#!/bin/sh

set -euo pipefail

# Initialization - load function handler
source $LAMBDA_TASK_ROOT/"$(echo $_HANDLER | cut -d. -f1).sh"

API="http://${AWS_LAMBDA_RUNTIME_API}/2018-06-01/runtime/invocation"

# Processing
while true
do
  HEADERS="$(mktemp)"
  # Get an event. The HTTP request will block until one is received
  EVENT_DATA=$(curl -sS -LD "$HEADERS" -X GET "$API/next")

  # Extract request ID by scraping response headers received above
  REQUEST_ID=$(grep -Fi Lambda-Runtime-Aws-Request-Id "$HEADERS" | tr -d '[:space:]' | cut -d: -f2)

  # Run the handler function from the script
  RESPONSE=$($(echo "$_HANDLER" | cut -d. -f2) "$EVENT_DATA")

  # Send the response
  curl -sS -X POST "$API/$REQUEST_ID/response" -d "$RESPONSE"
done
"""

_BASH_HANDLER = """function handler () {
  EVENT_DATA=$1
  echo "$EVENT_DATA" 1>&2;
  RESPONSE="Echoing request: '$EVENT_DATA'"

  echo $RESPONSE
}
"""


@dataclasses.dataclass(frozen=True)
class Blueprint:
    key: str
    title: str
    description: str
    runtime: str
    handler: str
    files: Mapping[str, tuple[str | bytes, int]]  # path -> (content, mode)
    unavailable: str = ""  # why this host cannot offer it ("" when it can)


def _python_runtime() -> str:
    supported = [
        v
        for v in invocations.python_versions_installed()
        if v in {"3.9", "3.10", "3.11", "3.12", "3.13", "3.14"}
    ]
    return f"python{supported[-1]}" if supported else "python3.12"


def _go_files() -> dict[str, tuple[str | bytes, int]] | None:
    """The Go blueprint's package: the prebuilt bootstrap and its source, or None when this
    host has not built it (no Go toolchain)."""
    try:
        built = (GO_BUILD / "bootstrap").stat()
    except OSError:
        return None
    return _go_package(built.st_mtime_ns, built.st_size)


@functools.lru_cache(maxsize=1)
def _go_package(mtime_ns: int, size: int) -> dict[str, tuple[str | bytes, int]]:
    # Read once per build (its mtime and size name it), not on every page that lists it.
    del mtime_ns, size
    return {
        "bootstrap": ((GO_BUILD / "bootstrap").read_bytes(), EXECUTABLE),
        "main.go": ((GO_SOURCE / "main.go").read_text(), REGULAR),
        "go.mod": ((GO_SOURCE / "go.mod").read_text(), REGULAR),
    }


def _go_blueprint() -> Blueprint:
    files = _go_files()
    return Blueprint(
        "hello-go",
        "Hello world (Go)",
        "A Go bootstrap, prebuilt, that speaks the Runtime API and returns a greeting "
        "(its source, main.go, is in the package).",
        "provided.al2023",
        "bootstrap",
        files or {},
        "" if files is not None else GO_MISSING,
    )


def _offered(blueprint: Blueprint) -> Blueprint:
    """``blueprint``, marked unavailable if this host cannot run its runtime."""
    if blueprint.unavailable:
        return blueprint
    availability = invocations.runtime_availability(blueprint.runtime)
    if availability.available:
        return blueprint
    return dataclasses.replace(
        blueprint, unavailable=f"Unavailable: {blueprint.runtime}: {availability.reason}."
    )


def _java() -> list[Blueprint]:
    """A compiled hello world (its source: invocations/executor/java/hello), when this host
    could build it: a Java package is classes, not text to edit."""
    classes = javaruntime.blueprint_files()
    if not classes:
        return []
    return [
        Blueprint(
            "hello-java",
            "Hello world (Java)",
            "A RequestHandler that logs the event with the context's logger and returns a "
            "greeting (a prebuilt class).",
            "java17",
            "example.Hello::handleRequest",
            {name: (data, REGULAR) for name, data in classes.items()},
        )
    ]


def all_blueprints() -> list[Blueprint]:
    """Every blueprint, those this host cannot offer included, with the reason."""
    return [_offered(blueprint) for blueprint in _blueprints()]


def _blueprints() -> list[Blueprint]:
    return [
        Blueprint(
            "hello-python",
            "Hello world (Python)",
            "A Python handler that logs the event and returns a greeting.",
            _python_runtime(),
            "lambda_function.lambda_handler",
            {"lambda_function.py": (_PYTHON, REGULAR)},
        ),
        Blueprint(
            "hello-nodejs",
            "Hello world (Node.js)",
            "An ES module handler that logs the event and returns a greeting.",
            "nodejs20.x",
            "index.handler",
            {"index.mjs": (_NODE, REGULAR)},
        ),
        Blueprint(
            "hello-ruby",
            "Hello world (Ruby)",
            "A Ruby handler that logs the event and returns a greeting.",
            "ruby3.3",
            "lambda_function.lambda_handler",
            {"lambda_function.rb": (_RUBY, REGULAR)},
        ),
        Blueprint(
            "hello-bash",
            "Bash custom runtime",
            "The developer guide's custom runtime tutorial: a shell bootstrap and handler.",
            "provided.al2023",
            "function.handler",
            {"bootstrap": (_BOOTSTRAP, EXECUTABLE), "function.sh": (_BASH_HANDLER, EXECUTABLE)},
        ),
        _go_blueprint(),
        *_java(),
    ]


def blueprint_get(key: str) -> Blueprint | None:
    return next((b for b in all_blueprints() if b.key == key), None)
