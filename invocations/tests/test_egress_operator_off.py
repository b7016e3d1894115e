"""``FUNCTORY_FUNCTION_EGRESS=off``: the operator's default takes every function's network."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from conftest import LiveServer, client_for, create_user, make_zip, run_server
from invocations.tests.helpers import invoke
from invocations.tests.outside import PROBE, OutsideHost, outside_host

pytestmark = [pytest.mark.live]
__all__ = ["outside_host"]  # the fixture, used by name


@pytest.fixture(scope="module")
def no_egress_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from run_server(tmp_path_factory, {"FUNCTORY_FUNCTION_EGRESS": "off"})


def test_the_operator_default_off_leaves_functions_without_a_network(
    no_egress_server: LiveServer, outside_host: OutsideHost
) -> None:
    lam: Any = client_for(no_egress_server, create_user(no_egress_server))
    lam.create_function(
        FunctionName="operator-off",
        Runtime="python3.11",
        Handler="app.handler",
        Role="arn:aws:iam::123456789012:role/lambda-role",
        Code={"ZipFile": make_zip({"app.py": PROBE})},
        Timeout=30,
    )
    body = invoke(
        lam, "operator-off", {"targets": [[outside_host.address, 80]], "udp": outside_host.address}
    )["Body"]
    assert body["results"][f"{outside_host.address}|80"].startswith("closed:"), body
    assert body["udp"].startswith("closed:")
    assert body["endpoint"] is None
    assert body["gateway"] is None  # no route at all: only the loopback
