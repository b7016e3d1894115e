"""SnapStart through boto3 against a live server: the configuration AWS reports, its
refusals, and published versions' environments really forked from one init."""

from __future__ import annotations

import base64
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import client_error as _error
from conftest import create_function, make_zip
from invocations.executor.catalog import python_interpreters

pytestmark = pytest.mark.live

ON = {"ApplyOn": "PublishedVersions"}
SLOW_TOKEN = (
    "import os, time, uuid\n"
    "TOKEN = uuid.uuid4().hex\n"
    "def handler(event, context):\n"
    "    time.sleep(event.get('sleep', 0))\n"
    "    return {'token': TOKEN, 'pid': os.getpid()}\n"
)


def _snap_start(config: dict[str, Any]) -> dict[str, str]:
    return dict(config["SnapStart"])


def test_snap_start_is_on_for_the_published_versions_only(lam):
    created = create_function(lam, "snap", Runtime="python3.12", SnapStart=ON)
    assert _snap_start(created) == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    version = lam.publish_version(FunctionName="snap")
    assert _snap_start(version) == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
    got = lam.get_function_configuration(FunctionName="snap", Qualifier=version["Version"])
    assert _snap_start(got)["OptimizationStatus"] == "On"

    lam.update_function_configuration(FunctionName="snap", SnapStart={"ApplyOn": "None"})
    latest = lam.get_function(FunctionName="snap")["Configuration"]
    assert _snap_start(latest) == {"ApplyOn": "None", "OptimizationStatus": "Off"}
    # A published version keeps the configuration it was published with.
    got = lam.get_function_configuration(FunctionName="snap", Qualifier=version["Version"])
    assert _snap_start(got)["OptimizationStatus"] == "On"
    # Turning it off is a change: the next publish is a new version, with it off.
    second = lam.publish_version(FunctionName="snap")
    assert second["Version"] != version["Version"]
    assert _snap_start(second) == {"ApplyOn": "None", "OptimizationStatus": "Off"}


def test_a_runtime_without_snap_start_is_refused_with_awss_text(lam):
    with pytest.raises(ClientError) as excinfo:
        create_function(lam, "old", Runtime="python3.11", SnapStart=ON)
    assert _error(excinfo) == (
        "InvalidParameterValueException",
        "python3.11 is not supported for SnapStart enabled functions.",
        400,
    )
    create_function(lam, "snap", Runtime="python3.12", SnapStart=ON)
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName="snap", Runtime="nodejs20.x")
    assert _error(excinfo)[1] == "nodejs20.x is not supported for SnapStart enabled functions."
    with pytest.raises(ClientError) as excinfo:
        lam.update_function_configuration(FunctionName="snap", SnapStart={"ApplyOn": "Always"})
    assert _error(excinfo) == (
        "ValidationException",
        "1 validation error detected: Value 'Always' at 'snapStart.applyOn' failed to satisfy "
        "constraint: Member must satisfy enum value set: [PublishedVersions, None]",
        400,
    )
    # Nothing half-applied.
    config = lam.get_function_configuration(FunctionName="snap")
    assert config["Runtime"] == "python3.12"
    assert _snap_start(config)["ApplyOn"] == "PublishedVersions"


def _two_at_once(lam: Any, qualifier: str) -> list[dict[str, Any]]:
    def invoke(_: int) -> dict[str, Any]:
        answer = lam.invoke(
            FunctionName="snap",
            Qualifier=qualifier,
            Payload=json.dumps({"sleep": 1.5}),
            LogType="Tail",
        )
        assert "FunctionError" not in answer
        result: dict[str, Any] = json.loads(answer["Payload"].read())
        result["log"] = base64.b64decode(answer["LogResult"]).decode()
        return result

    with ThreadPoolExecutor(2) as pool:
        return list(pool.map(invoke, range(2)))


def test_a_published_versions_environments_are_forked_from_one_init(lam):
    if "3.12" not in python_interpreters():
        # SnapStart takes python3.12 and later (as AWS); the project installs only the
        # host's Python, so a machine without a 3.12 cannot run such a function.
        pytest.skip("no Python 3.12 on this host (FUNCTORY_PYTHON_3_12 names one)")
    create_function(
        lam,
        "snap",
        Runtime="python3.12",
        SnapStart=ON,
        Code={"ZipFile": make_zip({"app.py": SLOW_TOKEN})},
    )
    version = lam.publish_version(FunctionName="snap")["Version"]
    one, two = _two_at_once(lam, version)
    # Two environments (busy at once), one init: the module state of the template.
    assert one["pid"] != two["pid"]
    assert one["token"] == two["token"]
    # Each reports its restore, as AWS's SnapStart environments do, and no init.
    for result in (one, two):
        assert "Restore Duration: " in result["log"] and "Init Duration" not in result["log"]
    # $LATEST is never SnapStart's: each environment runs its own init.
    one, two = _two_at_once(lam, "$LATEST")
    assert one["token"] != two["token"]
    assert "Init Duration: " in one["log"] and "Restore Duration" not in one["log"]
