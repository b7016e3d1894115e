"""The executor's X-Ray pieces without a server: trace headers, sampling decisions, and an
environment's daemon endpoint (a real UDP socket read on an event loop)."""

from __future__ import annotations

import asyncio
import json
import socket

import pytest

from invocations.executor import xray

HEADER = b'{"format": "json", "version": 1}\n'


def test_a_header_parses_into_root_parent_and_decision() -> None:
    header = xray.parse_header(
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    )
    assert header == xray.TraceHeader(
        "1-5759e988-bd862e3fe1be46a994272793", "53995c3f42cd8ad8", "1"
    )
    assert header.render() == (
        "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"
    )


@pytest.mark.parametrize(
    "value", [None, "", "Root=abc", "Parent=53995c3f42cd8ad8;Sampled=1", "Root=1-xyz-123"]
)
def test_a_header_without_a_valid_root_is_no_trace(value: str | None) -> None:
    assert xray.parse_header(value) is None


def test_active_tracing_samples_a_request_without_a_header() -> None:
    trace = xray.decide("Active", None)
    assert trace.sampled and trace.record
    assert xray.valid_root(trace.root)
    assert trace.header() == f"Root={trace.root};Parent={trace.function_id};Sampled=1"


def test_active_tracing_respects_a_callers_sampled_0() -> None:
    root = xray.new_root()
    trace = xray.decide("Active", f"Root={root};Parent=1111111111111111;Sampled=0")
    assert not trace.sampled and not trace.record
    assert trace.header() == f"Root={root};Parent=1111111111111111;Sampled=0"


@pytest.mark.parametrize(
    ("mode", "incoming"),
    [("PassThrough", None), ("PassThrough", "Sampled=?"), ("Active", "Sampled=0")],
)
def test_an_unsampled_invocation_without_a_callers_parent_sees_the_root_alone(
    mode: str, incoming: str | None
) -> None:
    # As AWS's PassThrough gives it: the X-Ray SDKs take a root alone for "not traced here",
    # and a Sampled without a Parent for a malformed header (the Node.js SDK logs errors).
    root = xray.new_root()
    trace = xray.decide(mode, f"Root={root};{incoming}" if incoming else None)
    assert not trace.sampled and not trace.record
    assert trace.header() == f"Root={trace.root}"
    assert incoming is None or trace.root == root
    # And so does an untraced function's invocation that came with no header at all.
    untraced = xray.parse_header(xray.untraced_header())
    assert untraced is not None and (untraced.parent, untraced.sampled) == (None, None)


def test_active_tracing_continues_a_callers_sampled_trace_under_its_parent() -> None:
    root = xray.new_root()
    trace = xray.decide("Active", f"Root={root};Parent=1111111111111111;Sampled=1")
    assert trace.record and trace.root == root and trace.caller_parent == "1111111111111111"
    service = json.loads(
        xray.service_segment(
            trace, name="f", resource_arn="arn", request_id="r", start=1.0, end=2.0
        )
    )
    assert service["parent_id"] == "1111111111111111"
    assert service["origin"] == "AWS::Lambda"


def test_pass_through_propagates_a_header_but_records_nothing() -> None:
    root = xray.new_root()
    given = f"Root={root};Parent=1111111111111111;Sampled=1"
    trace = xray.decide("PassThrough", given)
    assert trace.sampled and not trace.record
    assert trace.header() == given


def test_the_function_segment_mirrors_lambdas_structure() -> None:
    trace = xray.decide("Active", None)
    document = json.loads(
        xray.function_segment(
            trace,
            name="f",
            function_arn="arn",
            request_id="r",
            init=(10.0, 10.5),
            invocation=(10.5, 11.0),
            end=11.01,
            fault=True,
        )
    )
    assert (document["id"], document["parent_id"]) == (trace.function_id, trace.service_id)
    assert document["origin"] == "AWS::Lambda::Function" and document["fault"] is True
    assert [sub["name"] for sub in document["subsegments"]] == [
        "Initialization",
        "Invocation",
        "Overhead",
    ]
    assert xray.valid_document(document)


def _subsegment(root: str, **extra: object) -> dict[str, object]:
    document: dict[str, object] = {
        "id": xray.new_id(),
        "trace_id": root,
        "parent_id": "1111111111111111",
        "type": "subsegment",
        "name": "work",
        "start_time": 1.0,
        "end_time": 2.0,
    }
    document.update(extra)
    return document


async def _exchange(issued: list[str], datagrams: list[bytes]) -> list[str]:
    """Send ``datagrams`` to an endpoint that issued ``issued``; what it kept."""
    inside = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    inside.bind(("127.0.0.1", 0))
    inside.setblocking(False)
    kept: list[str] = []
    endpoint = xray.DaemonEndpoint(
        inside,
        account_id="111111111111",
        function_name="f",
        function_key=f"arn:{xray.new_id()}",
        sink=lambda account, name, documents: kept.extend(documents),
    )
    endpoint.start(asyncio.get_running_loop())
    for root in issued:
        endpoint.issue(root)
    sender = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    marker = _subsegment(issued[0], name="last") if issued else None
    batch = [*datagrams, HEADER + json.dumps(marker).encode()] if marker else datagrams
    for start in range(0, len(batch), 50):  # paced: the socket's buffer is not the subject
        for datagram in batch[start : start + 50]:
            sender.sendto(datagram, inside.getsockname())
        await asyncio.sleep(0.005)
    for _ in range(200):  # until the marker (sent last) is through
        await asyncio.sleep(0.005)
        if not marker or any('"last"' in document for document in kept):
            break
    sender.close()
    endpoint.close()
    return [document for document in kept if '"last"' not in document]


def test_the_endpoint_keeps_documents_of_issued_traces_only() -> None:
    mine, other = xray.new_root(), xray.new_root()
    kept = asyncio.run(
        _exchange(
            [mine],
            [
                HEADER + json.dumps(_subsegment(mine)).encode(),
                HEADER + json.dumps(_subsegment(other)).encode(),
            ],
        )
    )
    assert [json.loads(document)["trace_id"] for document in kept] == [mine]


@pytest.mark.parametrize(
    "datagram",
    [
        b"no header at all",
        json.dumps({"format": "json", "version": 1}).encode(),  # no document
        b'{"format": "xml", "version": 1}\n{}',
        HEADER + b"{not json",
        HEADER + b"[" * 5000 + b"]" * 5000,
        HEADER + b'"a string"',
    ],
)
def test_the_endpoint_drops_malformed_datagrams(datagram: bytes) -> None:
    assert asyncio.run(_exchange([xray.new_root()], [datagram])) == []


@pytest.mark.parametrize(
    "change",
    [
        {"id": "short"},
        {"name": ""},
        {"name": "x" * 500},
        {"start_time": "yesterday"},
        {"end_time": None},
        {"parent_id": None},
        {"subsegments": "many"},
        {"subsegments": [{"id": "nope"}]},
    ],
)
def test_the_endpoint_drops_documents_x_ray_would_refuse(change: dict[str, object]) -> None:
    root = xray.new_root()
    document = {
        key: value for key, value in _subsegment(root, **change).items() if value is not None
    }
    assert asyncio.run(_exchange([root], [HEADER + json.dumps(document).encode()])) == []


def test_an_environment_without_sampled_invocations_keeps_nothing() -> None:
    root = xray.new_root()
    assert asyncio.run(_exchange([], [HEADER + json.dumps(_subsegment(root)).encode()])) == []


def test_a_trace_takes_at_most_its_cap_of_documents() -> None:
    root = xray.new_root()
    flood = [HEADER + json.dumps(_subsegment(root)).encode() for _ in range(700)]
    kept = asyncio.run(_exchange([root], flood))
    assert len(kept) == xray.MAX_DOCUMENTS_PER_TRACE


def test_a_flood_is_cut_at_the_functions_rate_before_it_is_parsed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(xray, "BURST", 10.0)
    monkeypatch.setattr(xray, "RATE_PER_SECOND", 0.001)
    roots = [xray.new_root() for _ in range(3)]
    garbage = [b"x" * 1000] * 20  # counted, though never a document
    valid = [HEADER + json.dumps(_subsegment(root)).encode() for root in roots for _ in range(5)]
    kept = asyncio.run(_exchange(roots, [*garbage, *valid]))
    assert kept == []  # the burst went on the garbage
