"""Containers get the sandbox's outbound networking and its fence (issue 14, item 4)."""

from __future__ import annotations

from typing import Any

import pytest

from conftest import LiveServer, client_for, create_user, make_zip
from invocations.tests.helpers import invoke
from invocations.tests.outside import (
    PROBE,
    HostService,
    OutsideHost,
    host_addresses,
    host_service,
    outside_host,
)

pytestmark = [pytest.mark.live, pytest.mark.docker]
__all__ = ["host_service", "outside_host"]  # fixtures, used by name


def test_a_container_reaches_the_outside_host_but_nothing_of_the_host(
    functory_docker: LiveServer, outside_host: OutsideHost, host_service: HostService
) -> None:
    dlam: Any = client_for(functory_docker, create_user(functory_docker))
    dlam.create_function(
        FunctionName="docker-egress",
        Runtime="python3.11",
        Handler="app.handler",
        Role="arn:aws:iam::123456789012:role/lambda-role",
        Code={"ZipFile": make_zip({"app.py": PROBE})},
        Timeout=60,
    )
    platform_port = int(functory_docker.url.rsplit(":", 1)[1])
    hosts = ["127.0.0.1", "::1", "0.0.0.0", *host_addresses()]
    targets = [[host, port] for host in hosts for port in (host_service.port, platform_port)]
    targets += [["169.254.169.254", 80], [outside_host.address, 80]]
    body = invoke(
        dlam,
        "docker-egress",
        {"targets": targets, "udp": outside_host.address, "gateway_port": host_service.port},
    )["Body"]
    results = body["results"]
    assert results.pop(f"{outside_host.address}|80").startswith("open:HTTP/1.0 200"), body
    assert body["udp"] == "echo:ping"
    assert {target: a for target, a in results.items() if a.startswith("open")} == {}
    assert body["resolv"].startswith("nameserver 169.254.1.1")
    assert body["endpoint"] == "http://127.0.0.1:9002"
