"""Provisioned concurrency (Put/Get/Delete/ListProvisionedConcurrencyConfigs), through boto3
against a live server: the API's shapes and texts, and environments really kept ready."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from conftest import client_error as _error
from conftest import create_function, make_zip

pytestmark = pytest.mark.live

REPORTS_INIT = "Init Duration"
INIT_TYPE = (
    "import os\n"
    "def handler(event, context):\n"
    "    return os.environ['AWS_LAMBDA_INITIALIZATION_TYPE']\n"
)


@pytest.fixture(autouse=True)
def _unprovisioned(lam: Any) -> Iterator[None]:
    """The session's server keeps provisioned environments until their configuration goes:
    each test's go with it."""
    yield
    for function in lam.list_functions()["Functions"]:
        name = function["FunctionName"]
        listed = lam.list_provisioned_concurrency_configs(FunctionName=name)
        for config in listed["ProvisionedConcurrencyConfigs"]:
            qualifier = config["FunctionArn"].rsplit(":", 1)[1]
            lam.delete_provisioned_concurrency_config(FunctionName=name, Qualifier=qualifier)


def _published(lam: Any, name: str, code: str = INIT_TYPE) -> str:
    create_function(lam, name, Code={"ZipFile": make_zip({"app.py": code})})
    return str(lam.publish_version(FunctionName=name)["Version"])


def _settled(lam: Any, name: str, qualifier: str, timeout: float = 60) -> dict[str, Any]:
    """The configuration once it is no longer IN_PROGRESS."""
    deadline = time.monotonic() + timeout
    while True:
        got: dict[str, Any] = lam.get_provisioned_concurrency_config(
            FunctionName=name, Qualifier=qualifier
        )
        if got["Status"] != "IN_PROGRESS" or time.monotonic() > deadline:
            return got
        time.sleep(0.2)


def _invoke(lam: Any, name: str, qualifier: str | None = None) -> tuple[str, str]:
    extra = {"Qualifier": qualifier} if qualifier else {}
    answer = lam.invoke(FunctionName=name, LogType="Tail", **extra)
    return json.loads(answer["Payload"].read()), base64.b64decode(answer["LogResult"]).decode()


def test_a_version_gets_its_environments_ready_and_they_serve_it_warm(lam):
    version = _published(lam, "fn")
    put = lam.put_provisioned_concurrency_config(
        FunctionName="fn", Qualifier=version, ProvisionedConcurrentExecutions=2
    )
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 2
    assert put["Status"] == "IN_PROGRESS"
    assert put["AllocatedProvisionedConcurrentExecutions"] == 0
    got = _settled(lam, "fn", version)
    assert got["Status"] == "READY", got
    assert got["AllocatedProvisionedConcurrentExecutions"] == 2
    assert got["AvailableProvisionedConcurrentExecutions"] == 2
    assert got["LastModified"] == put["LastModified"]
    assert "StatusReason" not in got

    # Started ahead, and initialised then: the first invocation is not a cold start.
    result, log = _invoke(lam, "fn", version)
    assert result == "provisioned-concurrency"
    assert REPORTS_INIT not in log
    # $LATEST has none: its environments start on demand.
    result, log = _invoke(lam, "fn")
    assert result == "on-demand"
    assert REPORTS_INIT in log


def test_an_alias_provisions_the_version_it_points_to(lam):
    version = _published(lam, "fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion=version)
    lam.put_provisioned_concurrency_config(
        FunctionName="fn", Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert _settled(lam, "fn", "live")["Status"] == "READY"
    result, log = _invoke(lam, "fn", "live")
    assert result == "provisioned-concurrency"
    assert REPORTS_INIT not in log

    listed = lam.list_provisioned_concurrency_configs(FunctionName="fn")
    (item,) = listed["ProvisionedConcurrencyConfigs"]
    arn = lam.get_function(FunctionName="fn")["Configuration"]["FunctionArn"]
    assert item["FunctionArn"] == f"{arn}:live"
    assert item["Status"] == "READY"
    assert item["RequestedProvisionedConcurrentExecutions"] == 1

    # The alias goes: its configuration with it.
    lam.delete_alias(FunctionName="fn", Name="live")
    assert (
        lam.list_provisioned_concurrency_configs(FunctionName="fn")["ProvisionedConcurrencyConfigs"]
        == []
    )


def test_a_function_whose_init_fails_is_reported_failed_with_the_reason(lam):
    version = _published(lam, "fn", "raise RuntimeError('no database')\n")
    lam.put_provisioned_concurrency_config(
        FunctionName="fn", Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    got = _settled(lam, "fn", version)
    assert got["Status"] == "FAILED"
    assert "no database" in got["StatusReason"]
    assert got["AllocatedProvisionedConcurrentExecutions"] == 0
    # Put again: tried again (and fails again), never left in between.
    again = lam.put_provisioned_concurrency_config(
        FunctionName="fn", Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    assert again["Status"] == "IN_PROGRESS"
    assert _settled(lam, "fn", version)["Status"] == "FAILED"


def test_latest_and_missing_targets_are_refused_with_aws_texts(lam):
    version = _published(lam, "fn")
    with pytest.raises(Exception) as excinfo:
        lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier="$LATEST", ProvisionedConcurrentExecutions=1
        )
    assert _error(excinfo) == (
        "InvalidParameterValueException",
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions.",
        400,
    )
    for call in (lam.get_provisioned_concurrency_config, lam.delete_provisioned_concurrency_config):
        with pytest.raises(Exception) as excinfo:
            call(FunctionName="fn", Qualifier="$LATEST")
        assert _error(excinfo) == (
            "InvalidParameterValueException",
            "The function resource provided must be an alias or a published version.",
            400,
        )
    arn = lam.get_function(FunctionName="fn")["Configuration"]["FunctionArn"]
    with pytest.raises(Exception) as excinfo:
        lam.get_provisioned_concurrency_config(FunctionName="fn", Qualifier="nope")
    assert _error(excinfo) == (
        "ResourceNotFoundException",
        f"Cannot find alias arn: {arn}:nope",
        404,
    )
    with pytest.raises(Exception) as excinfo:
        lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier="9", ProvisionedConcurrentExecutions=1
        )
    assert _error(excinfo) == ("ResourceNotFoundException", f"Function not found: {arn}:9", 404)
    with pytest.raises(Exception) as excinfo:
        lam.get_provisioned_concurrency_config(FunctionName="fn", Qualifier=version)
    assert _error(excinfo) == (
        "ProvisionedConcurrencyConfigNotFoundException",
        "No Provisioned Concurrency Config found for this function",
        404,
    )
    with pytest.raises(Exception) as excinfo:
        lam.list_provisioned_concurrency_configs(FunctionName="ghost")
    assert _error(excinfo)[0] == "ResourceNotFoundException"
    # An alias of $LATEST is unpublished too.
    lam.create_alias(FunctionName="fn", Name="dev", FunctionVersion="$LATEST")
    with pytest.raises(Exception) as excinfo:
        lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier="dev", ProvisionedConcurrentExecutions=1
        )
    assert _error(excinfo)[1] == (
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    )
    # Deleting one that is not there is no error, as on AWS.
    deleted = lam.delete_provisioned_concurrency_config(FunctionName="fn", Qualifier=version)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_a_count_below_one_is_a_validation_error(raw_lam):
    create_function(raw_lam, "fn")
    version = raw_lam.publish_version(FunctionName="fn")["Version"]
    with pytest.raises(Exception) as excinfo:
        raw_lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier=version, ProvisionedConcurrentExecutions=0
        )
    code, _, status = _error(excinfo)
    assert (code, status) == ("ValidationException", 400)


def test_a_version_and_an_alias_to_it_cannot_both_be_provisioned(lam):
    version = _published(lam, "fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion=version)
    lam.put_provisioned_concurrency_config(
        FunctionName="fn", Qualifier=version, ProvisionedConcurrentExecutions=1
    )
    with pytest.raises(Exception) as excinfo:
        lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier="live", ProvisionedConcurrentExecutions=1
        )
    assert _error(excinfo) == (
        "ResourceConflictException",
        "Alias can't be used for Provisioned Concurrency configuration on an already "
        "Provisioned version",
        409,
    )
    lam.delete_provisioned_concurrency_config(FunctionName="fn", Qualifier=version)
    lam.put_provisioned_concurrency_config(
        FunctionName="fn", Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    with pytest.raises(Exception) as excinfo:
        lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier=version, ProvisionedConcurrentExecutions=1
        )
    assert _error(excinfo) == (
        "ResourceConflictException",
        "Version is pointed by a Provisioned Concurrency alias",
        409,
    )


def test_reserved_concurrency_and_the_accounts_limit_bound_it(lam):
    version = _published(lam, "fn")
    lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=1)
    with pytest.raises(Exception) as excinfo:
        lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier=version, ProvisionedConcurrentExecutions=2
        )
    assert _error(excinfo) == (
        "InvalidParameterValueException",
        "Requested Provisioned Concurrency should not be greater than the "
        "reservedConcurrentExecution for function",
        400,
    )
    lam.delete_function_concurrency(FunctionName="fn")
    # Every provisioned environment is a process each replica keeps: the server bounds
    # what one account may ask for (FUNCTORY_ACCOUNT_PROVISIONED_CONCURRENCY, 20).
    with pytest.raises(Exception) as excinfo:
        lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier=version, ProvisionedConcurrentExecutions=21
        )
    code, message, status = _error(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "[20]" in message
    assert (
        lam.list_provisioned_concurrency_configs(FunctionName="fn")["ProvisionedConcurrencyConfigs"]
        == []
    )


def test_the_list_pages_by_qualifier(lam):
    version = _published(lam, "fn")
    for name in ("a", "b", "c"):
        lam.create_alias(FunctionName="fn", Name=name, FunctionVersion=version)
    # Two aliases of one version may both be provisioned: the version gets both counts.
    for name in ("a", "b"):
        lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier=name, ProvisionedConcurrentExecutions=1
        )
    first = lam.list_provisioned_concurrency_configs(FunctionName="fn", MaxItems=1)
    assert [c["FunctionArn"].rsplit(":", 1)[1] for c in first["ProvisionedConcurrencyConfigs"]] == [
        "a"
    ]
    second = lam.list_provisioned_concurrency_configs(
        FunctionName="fn", MaxItems=1, Marker=first["NextMarker"]
    )
    assert [
        c["FunctionArn"].rsplit(":", 1)[1] for c in second["ProvisionedConcurrencyConfigs"]
    ] == ["b"]
    assert "NextMarker" not in second
    assert _settled(lam, "fn", "a")["Status"] == "READY"
    assert _settled(lam, "fn", "b")["Status"] == "READY"


def test_reserved_concurrency_cannot_go_below_what_is_provisioned(lam):
    version = _published(lam, "fn")
    lam.put_provisioned_concurrency_config(
        FunctionName="fn", Qualifier=version, ProvisionedConcurrentExecutions=3
    )
    with pytest.raises(Exception) as excinfo:
        lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=2)
    code, message, status = _error(excinfo)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "[3]" in message
    assert (
        lam.put_function_concurrency(FunctionName="fn", ReservedConcurrentExecutions=3)[
            "ReservedConcurrentExecutions"
        ]
        == 3
    )


def test_a_provisioned_alias_moves_with_its_configuration(lam):
    first = _published(lam, "fn")
    lam.update_function_configuration(FunctionName="fn", Description="second")
    lam.get_waiter("function_updated_v2").wait(FunctionName="fn")
    second = lam.publish_version(FunctionName="fn")["Version"]
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion=first)
    lam.put_provisioned_concurrency_config(
        FunctionName="fn", Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    assert _settled(lam, "fn", "live")["Status"] == "READY"
    # Not onto $LATEST, nor onto a version provisioned directly.
    with pytest.raises(Exception) as excinfo:
        lam.update_alias(FunctionName="fn", Name="live", FunctionVersion="$LATEST")
    assert _error(excinfo)[1] == (
        "Provisioned Concurrency Configs cannot be applied to unpublished function versions."
    )
    lam.update_alias(FunctionName="fn", Name="live", FunctionVersion=second)
    moved = lam.get_provisioned_concurrency_config(FunctionName="fn", Qualifier="live")
    assert moved["Status"] in {"IN_PROGRESS", "READY"}
    assert _settled(lam, "fn", "live")["Status"] == "READY"
    answer = lam.invoke(FunctionName="fn", Qualifier="live", LogType="Tail")
    assert answer["ExecutedVersion"] == second
    assert json.loads(answer["Payload"].read()) == "provisioned-concurrency"


def test_a_version_with_leading_zeros_is_that_version(lam):
    version = _published(lam, "fn")
    lam.create_alias(FunctionName="fn", Name="live", FunctionVersion=version)
    lam.put_provisioned_concurrency_config(
        FunctionName="fn", Qualifier="live", ProvisionedConcurrentExecutions=1
    )
    with pytest.raises(Exception) as excinfo:
        lam.put_provisioned_concurrency_config(
            FunctionName="fn", Qualifier=f"0{version}", ProvisionedConcurrentExecutions=1
        )
    assert _error(excinfo)[0] == "ResourceConflictException"
