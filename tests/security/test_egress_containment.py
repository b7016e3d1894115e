"""A function with outbound networking still reaches nothing of the host (issue 14, item 4).

The probes play a tenant looking for the platform's services through its way out (pasta):
the host's loopback services and a service listening on every host address (TCP and UDP), by
127.0.0.1, ::1, 0.0.0.0, IPv4-mapped IPv6, each of the host's addresses, the gateway,
and the metadata address 169.254.169.254 (routed to a real server here, so only the fence
stops it). The same function reaches the outside host, so a closed port means the fence.
"""

from __future__ import annotations

import subprocess
from typing import Any

import pytest

from conftest import LiveServer, make_zip
from invocations.executor.platform_proxy import MAX_CONNECTIONS
from invocations.tests.helpers import invoke
from invocations.tests.outside import (
    PROBE,
    HostService,
    OutsideHost,
    host_addresses,
    host_service,
    outside_host,
)

pytestmark = [pytest.mark.live]
__all__ = ["host_service", "outside_host"]  # fixtures, used by name

# PostgreSQL, Redis, RabbitMQ, MariaDB, Mosquitto, NATS: the platform's own services.
SERVICE_PORTS = (5432, 6379, 5672, 3306, 1883, 4222)


def _create_probe(lam: Any, name: str) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Handler="app.handler",
        Role="arn:aws:iam::123456789012:role/lambda-role",
        Code={"ZipFile": make_zip({"app.py": PROBE})},
        Timeout=60,
    )


def test_the_host_is_unreachable_by_any_address_while_the_outside_is_reachable(
    lam: Any, functory: LiveServer, outside_host: OutsideHost, host_service: HostService
) -> None:
    _create_probe(lam, "red-team-egress")
    platform_port = int(functory.url.rsplit(":", 1)[1])
    ports = [host_service.port, platform_port, *SERVICE_PORTS]
    hosts = ["127.0.0.1", "::1", "0.0.0.0", "::", "::ffff:127.0.0.1", *host_addresses()]
    hosts += [f"::ffff:{address}" for address in host_addresses() if ":" not in address]
    hosts = list(dict.fromkeys(hosts))  # 127.0.0.1 and ::1 are among the host's addresses
    targets = [[host, port] for host in hosts for port in ports]
    targets += [["169.254.169.254", 80], [outside_host.address, 80]]
    udp_targets = [[host, host_service.port] for host in hosts]
    event = {"targets": targets, "udp_targets": udp_targets, "gateway_port": host_service.port}
    body = invoke(lam, "red-team-egress", event)["Body"]
    results = body["results"]
    assert results[f"{outside_host.address}|80"].startswith("open:HTTP/1.0 200"), results
    # An address that stopped being the host's while the probe ran (another test's veth,
    # torn down: the suite's two profiles run side by side) is routed out like any other.
    fixed = {"127.0.0.1", "::1", "0.0.0.0", "::", "169.254.169.254"}
    still = fixed | set(host_addresses())

    def probed_host(target: str) -> str:
        host = target.removeprefix("udp:").rsplit("|", 1)[0]
        return host if host == "::ffff:127.0.0.1" else host.removeprefix("::ffff:")

    reached = {
        target: answer
        for target, answer in results.items()
        if answer.startswith("open")
        and target != f"{outside_host.address}|80"
        and (probed_host(target) in still or probed_host(target) == "::ffff:127.0.0.1")
    }
    assert reached == {}
    assert sum(key.startswith("udp:") for key in results) == len(udp_targets)
    assert body["gateway"] is not None  # the gateway was probed too
    assert f"{body['gateway']}|{host_service.port}" in results


def test_the_fence_is_what_stops_a_host_service(
    lam: Any, outside_host: OutsideHost, host_service: HostService
) -> None:
    """The host's end of the outside host's link is an address of the host; without the
    nftables table pasta would connect to it (the table is checked in place)."""
    listed = subprocess.run(
        ["nft", "list", "table", "inet", "functory_egress"], capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    assert "fib daddr type" in listed.stdout
    _create_probe(lam, "red-team-veth")
    body = invoke(
        lam,
        "red-team-veth",
        {"targets": [[outside_host.host_side, host_service.port], [outside_host.address, 80]]},
    )["Body"]
    assert body["results"][f"{outside_host.address}|80"].startswith("open:")
    assert body["results"][f"{outside_host.host_side}|{host_service.port}"].startswith("closed:")


def test_pasta_runs_as_the_environment_with_no_capability_beyond_its_two(
    lam: Any, outside_host: OutsideHost
) -> None:
    _create_probe(lam, "red-team-helper")
    uid = invoke(lam, "red-team-helper", {})["Body"]["uid"]
    out = subprocess.run(
        ["ps", "-o", "pid=", "-u", str(uid)], capture_output=True, text=True
    ).stdout.split()
    helpers = [
        pid
        for pid in out
        if open(f"/proc/{pid}/comm").read().startswith("pas")  # noqa: SIM115
    ]
    assert helpers, out
    status = dict(
        line.split(":\t", 1)
        for line in open(f"/proc/{helpers[0]}/status").read().splitlines()  # noqa: SIM115
        if ":\t" in line
    )
    assert status["Uid"].split()[0] == str(uid)
    # CAP_SYS_ADMIN (21) to keep entering the namespace, nothing else that matters.
    assert int(status["CapEff"], 16) & ~((1 << 21) | (1 << 10) | (1 << 12)) == 0
    assert status["NoNewPrivs"].strip() == "1"
    assert status["Seccomp"].strip() == "2"


HOARD = r"""
import socket, time

def ask(sock):
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    try:
        return sock.recv(100).decode(errors="replace")[:12]
    except OSError as exc:
        return type(exc).__name__

def handler(event, context):
    held = [socket.create_connection(("127.0.0.1", 9002), timeout=5) for _ in range(event["n"])]
    time.sleep(0.5)  # each accepted and relayed by now
    extra = socket.create_connection(("127.0.0.1", 9002), timeout=5)
    over = ask(extra)
    for sock in held + [extra]:
        sock.close()
    time.sleep(0.5)
    again = ask(socket.create_connection(("127.0.0.1", 9002), timeout=5))
    return {"over": over, "again": again}
"""


def test_the_platform_relay_holds_a_bounded_number_of_connections(lam: Any) -> None:
    lam.create_function(
        FunctionName="red-team-relay",
        Runtime="python3.11",
        Handler="app.handler",
        Role="arn:aws:iam::123456789012:role/lambda-role",
        Code={"ZipFile": make_zip({"app.py": HOARD})},
        Timeout=60,
    )
    body = invoke(lam, "red-team-relay", {"n": MAX_CONNECTIONS})["Body"]
    assert body["over"] in ("", "ConnectionResetError", "BrokenPipeError"), body
    assert body["again"].startswith("HTTP/1.1 200"), body
