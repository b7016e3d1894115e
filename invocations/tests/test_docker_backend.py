"""The Docker backend honours the same contract as the sandbox (run by CI, never skipped)."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlsplit

import pytest

from conftest import client_for, create_function, create_user, make_zip
from invocations.executor import identity
from invocations.tests.helpers import invoke, zip_with_modes

pytestmark = [pytest.mark.live, pytest.mark.docker]

TUTORIAL = Path(__file__).parent / "fixtures" / "custom-runtime-tutorial"

APP = """
import os, socket, sys, time
count = 0

def handler(event, context):
    global count
    count += 1
    print("docker says", event.get("name"))
    return {"count": count, "uid": os.getuid(), "fn": context.function_name}

def fail(event, context):
    raise KeyError("missing")

def sleepy(event, context):
    time.sleep(10)

def hog(event, context):
    hoard = []
    while True:
        hoard.append(bytearray(16 * 1024 * 1024))

def reach(event, context):
    try:
        socket.create_connection(("127.0.0.1", event["port"]), timeout=1).close()
        return "CONNECTED"
    except OSError as exc:
        return type(exc).__name__
"""

NODE = "exports.handler = async (event) => ({ node: true, got: event.v });"


@pytest.fixture
def dlam(functory_docker):
    return client_for(functory_docker, create_user(functory_docker))


def test_python_runs_warm_in_a_container(dlam):
    create_function(dlam, "py", Code={"ZipFile": make_zip({"app.py": APP})})
    first = invoke(dlam, "py", {"name": "x"}, LogType="Tail")
    assert first["Body"] == {"count": 1, "uid": first["Body"]["uid"], "fn": "py"}
    assert identity.UID_BASE <= first["Body"]["uid"] < identity.UID_BASE + identity.UID_COUNT
    assert "docker says x" in first["Log"] and "Init Duration" in first["Log"]
    assert invoke(dlam, "py")["Body"]["count"] == 2


def test_nodejs_and_the_custom_runtime_tutorial_run_in_containers(dlam):
    create_function(
        dlam,
        "node",
        Runtime="nodejs18.x",
        Handler="index.handler",
        Code={"ZipFile": make_zip({"index.js": NODE})},
    )
    assert invoke(dlam, "node", {"v": 3})["Body"] == {"node": True, "got": 3}
    code = zip_with_modes(
        {
            "bootstrap": ((TUTORIAL / "bootstrap").read_text(), 0o755),
            "function.sh": ((TUTORIAL / "function.sh").read_text(), 0o644),
        }
    )
    create_function(
        dlam, "bash", Runtime="provided.al2", Handler="function.handler", Code={"ZipFile": code}
    )
    assert invoke(dlam, "bash", {"a": 1})["Raw"] == b"Echoing request: '{\"a\": 1}'"


def test_errors_timeouts_and_memory_limits_behave_as_in_the_sandbox(dlam):
    create_function(dlam, "fail", Handler="app.fail", Code={"ZipFile": make_zip({"app.py": APP})})
    failed = invoke(dlam, "fail")
    assert failed["FunctionError"] == "Unhandled"
    assert failed["Body"]["errorType"] == "KeyError"
    create_function(
        dlam, "sleepy", Handler="app.sleepy", Timeout=1, Code={"ZipFile": make_zip({"app.py": APP})}
    )
    assert invoke(dlam, "sleepy")["Body"]["errorType"] == "Sandbox.Timedout"
    create_function(
        dlam,
        "hog",
        Handler="app.hog",
        MemorySize=128,
        Timeout=20,
        Code={"ZipFile": make_zip({"app.py": APP})},
    )
    hog = invoke(dlam, "hog")
    assert hog["Body"]["errorType"] == "Runtime.OutOfMemory"


def test_a_container_cannot_reach_the_platform(functory_docker, dlam):
    create_function(dlam, "reach", Handler="app.reach", Code={"ZipFile": make_zip({"app.py": APP})})
    for port in (urlsplit(functory_docker.url).port, 5432, 6379):
        assert invoke(dlam, "reach", {"port": port})["Body"] != "CONNECTED"
