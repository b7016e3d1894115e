"""X-Ray on the Docker backend: the daemon endpoint is bound in each container's network
namespace as in a sandbox's, with the same rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from conftest import LiveServer, client_for
from iam.tests.test_iam_api import create_admin
from invocations.executor import xray
from monitoring.tests.test_xray_traces import (
    _create,
    _named,
    _role,
    _trace,
    instrumented_zip,
    sender_zip,
)

pytestmark = [pytest.mark.live, pytest.mark.docker]


def test_a_containers_sdk_segments_nest_under_its_function_segment(
    functory_docker: LiveServer,
) -> None:
    admin = create_admin(functory_docker)
    lam = client_for(functory_docker, admin)
    _create(lam, "boxed", _role(functory_docker, admin), instrumented_zip())
    response = lam.invoke(FunctionName="boxed", Payload=b"{}")
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    header = xray.parse_header(body["trace"])
    assert header is not None and header.sampled == "1"
    xr = client_for(functory_docker, admin, "xray")

    def complete(documents: list[dict[str, Any]]) -> bool:
        return bool(_named(documents, "work")) and any(
            d.get("origin") == "AWS::Lambda" for d in documents
        )

    documents = _trace(xr, header.root, complete)
    (function,) = [d for d in documents if d.get("origin") == "AWS::Lambda::Function"]
    assert function["id"] == header.parent
    (work,) = _named([function], "work")
    assert work["parent_id"] == function["id"]


def test_a_container_cannot_write_into_another_trace(functory_docker: LiveServer) -> None:
    admin = create_admin(functory_docker)
    lam = client_for(functory_docker, admin)
    _create(lam, "sender", "arn:aws:iam::123456789012:role/none", sender_zip())
    foreign = xray.new_root()
    event = {"foreign": [foreign], "malformed": 5}
    outcome = json.loads(
        lam.invoke(FunctionName="sender", Payload=json.dumps(event).encode())["Payload"].read()
    )
    xr = client_for(functory_docker, admin, "xray")
    mine = _trace(xr, outcome["root"], lambda docs: bool(_named(docs, "mine")))
    assert _named(mine, "mine") and _named(mine, "injected") == []
    assert xr.batch_get_traces(TraceIds=[foreign])["Traces"] == []
