"""SQS pollers under faults, live: a broker that goes away and comes back, and a server
killed with SIGKILL while it holds a mapping's lease (the other replica takes over)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator

import pytest

from conftest import (
    AwsPeer,
    LiveServer,
    _free_port,
    descendants,
    run_server,
)
from triggers.tests.test_sqs_live import Tenant, wait_for

pytestmark = pytest.mark.live


class Moto:
    """A moto server of this module's own, on a fixed port, that can be stopped and
    started again (its queues are lost when it stops, as a broker's state may be)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"{self.url}/moto-api/", timeout=1).close()
                return
            except OSError:
                assert time.monotonic() < deadline, "moto did not start"
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None

    @property
    def peer(self) -> AwsPeer:
        return AwsPeer(self.url)


@pytest.fixture(scope="module")
def moto() -> Iterator[Moto]:
    server = Moto(_free_port())
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory, moto: Moto) -> Iterator[LiveServer]:
    """Reads SQS through the per-service endpoint setting, at the module's own moto."""
    env = {
        "FUNCTORY_SQS_ENDPOINT_URL": moto.url,
        "FUNCTORY_AWS_ACCESS_KEY_ID": "peer-key",
        "FUNCTORY_AWS_SECRET_ACCESS_KEY": "peer-secret",
    }
    yield from run_server(tmp_path_factory, env)


def test_a_lost_broker_shows_in_last_processing_result_and_polling_resumes(
    functory: LiveServer, moto: Moto
) -> None:
    tenant = Tenant(functory, moto.peer)
    name = tenant.function()
    queue_name = f"q-outage-{os.getpid()}"
    url = tenant.sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    arn = f"arn:aws:sqs:us-east-1:123456789012:{queue_name}"
    mapping = tenant.lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
    tenant.send(url, ["before"])
    wait_for(lambda: len(tenant.lines(name)) == 1, what="the first message")

    def result() -> str:
        # Absent from an SQS mapping until a poller has a result, as on AWS.
        got = tenant.lam.get_event_source_mapping(UUID=mapping["UUID"])
        return str(got.get("LastProcessingResult", ""))

    wait_for(lambda: result() == "OK", what="OK")
    moto.stop()
    try:
        wait_for(lambda: result().startswith("PROBLEM: Lambda could not reach SQS"), timeout=60)
    finally:
        moto.start()
    # The broker is back (empty, as a restarted broker may be): the same queue again.
    url = tenant.sqs.create_queue(QueueName=queue_name)["QueueUrl"]
    tenant.send(url, ["after"])
    wait_for(lambda: len(tenant.lines(name)) == 2, timeout=90, what="the message after")
    wait_for(lambda: result() == "OK", what="OK again")
    assert [line.split()[3] for line in tenant.lines(name)] == ["before", "after"]


# Prints the owner of every lease (host:pid:nonce), one per line.
_LEASES = (
    "from triggers.models import Lease\n"
    "for l in Lease.objects.all(): print('lease', l.key, l.owner)"
)


def lease_owners(server: LiveServer) -> dict[str, str]:
    answer = server.manage("shell", "-c", _LEASES)
    assert answer.returncode == 0, answer.stderr
    rows = [line.split() for line in answer.stdout.splitlines() if line.startswith("lease ")]
    return {key: owner for _, key, owner in rows}


def test_a_killed_replicas_mapping_is_taken_over_by_the_other(
    tmp_path_factory: pytest.TempPathFactory, moto: Moto
) -> None:
    env = {
        "FUNCTORY_SQS_ENDPOINT_URL": moto.url,
        "FUNCTORY_AWS_ACCESS_KEY_ID": "peer-key",
        "FUNCTORY_AWS_SECRET_ACCESS_KEY": "peer-secret",
        "FUNCTORY_POLLER_LEASE_SECONDS": "3",
    }
    first_servers = run_server(tmp_path_factory, env)
    first = next(first_servers)
    second_servers = run_server(tmp_path_factory, env, share_with=first)
    second = next(second_servers)
    try:
        tenant = Tenant(first, moto.peer)
        name = tenant.function()
        url, arn = tenant.queue()
        mapping = tenant.lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=name)
        before = tenant.send(url, [f"before{n}" for n in range(20)])
        wait_for(lambda: set(tenant.receipts(name)) == set(before), what="the first messages")
        # Deleted too: one run but not yet deleted when its poller is killed comes back
        # after its visibility timeout (at least once, as on AWS), not what this checks.
        wait_for(lambda: tenant.counts(url) == (0, 0), what="the first messages deleted")

        owner = lease_owners(first)[f"esm:{mapping['UUID']}"]
        pid = int(owner.split(":")[1])
        victim, survivor = (first, second) if pid == first.process.pid else (second, first)
        assert pid == victim.process.pid
        for process in [victim.process.pid, *descendants(victim.process.pid)]:
            with contextlib.suppress(ProcessLookupError):
                os.kill(process, signal.SIGKILL)
        victim.process.wait(10)

        after = tenant.send(url, [f"after{n}" for n in range(200)])
        tenant.move_to(survivor)
        wait_for(lambda: tenant.counts(url) == (0, 0), what="the survivor emptying the queue")
        wait_for(lambda: len(tenant.lines(name)) >= 220, what="every log line")
        time.sleep(1)
        receipts = tenant.receipts(name)
        assert set(receipts) == set(before) | set(after)
        assert set(receipts.values()) == {1}
        new_owner = lease_owners(survivor)[f"esm:{mapping['UUID']}"]
        assert int(new_owner.split(":")[1]) == survivor.process.pid
    finally:
        for servers in (second_servers, first_servers):
            with contextlib.suppress(StopIteration):
                next(servers)
