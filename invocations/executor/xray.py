"""X-Ray in execution environments: trace headers, the platform's function segment, and the
daemon endpoint a function's X-Ray SDK sends its segments to.

Every environment gets a UDP socket bound at ``127.0.0.1:2000`` in its own network namespace
(made with the Runtime API's socket, by both backends), announced as
``AWS_XRAY_DAEMON_ADDRESS``. The executor reads it on its event loop: whatever arrives there
can only come from that environment, so a document is accepted only for a trace the platform
issued to one of that environment's invocations (a tenant cannot write into another's
traces), within a size, a per-trace and a per-function rate budget. Accepted documents are
handed to a sink (a list append: the monitoring app stores them in batches, off the hot
path). An environment no invocation of which was sampled accepts nothing.

The daemon protocol is the X-Ray daemon's: each datagram is the header line
``{"format": "json", "version": 1}`` and one segment document, a segment or (``"type":
"subsegment"`` with ``parent_id``) a subsegment sent on its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
import secrets
import socket
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

logger = logging.getLogger(__name__)

DAEMON_HOST = "127.0.0.1"
DAEMON_PORT = 2000
MAX_DATAGRAM_BYTES = 64 * 1024
# Recent traces an environment may still write to (an SDK flushes late subsegments after the
# invocation returned): the oldest is forgotten past this many.
ISSUED_PER_ENVIRONMENT = 64
MAX_DOCUMENTS_PER_TRACE = 500
# Per function version, across its environments: a token bucket of documents.
RATE_PER_SECOND = 200.0
BURST = 1000.0
MAX_NAME_LENGTH = 200
MAX_NESTING = 32

_ROOT = re.compile(r"1-[0-9a-f]{8}-[0-9a-f]{24}")
_ID = re.compile(r"[0-9a-f]{16}")

# (account id, function name, documents as JSON text) — called on the event loop; must not block.
SegmentSink = Callable[[str, str, list[str]], None]


def variables() -> dict[str, str]:
    """Where AWS tells every function's X-Ray SDK its daemon is (the function cannot move it:
    nothing else would receive what it sends)."""
    return {
        "AWS_XRAY_DAEMON_ADDRESS": f"{DAEMON_HOST}:{DAEMON_PORT}",
        "_AWS_XRAY_DAEMON_ADDRESS": DAEMON_HOST,
        "_AWS_XRAY_DAEMON_PORT": str(DAEMON_PORT),
    }


# AWS's default, which a function's own variables may change (IGNORE_ERROR is common).
CONTEXT_MISSING = {"AWS_XRAY_CONTEXT_MISSING": "LOG_ERROR"}


# -- trace headers ---------------------------------------------------------------------------


def new_root(now: float | None = None) -> str:
    """``1-<epoch seconds, 8 hex>-<96 random bits, 24 hex>``."""
    return f"1-{int(time.time() if now is None else now):08x}-{secrets.token_hex(12)}"


def new_id() -> str:
    return secrets.token_hex(8)


def valid_root(value: object) -> bool:
    return isinstance(value, str) and _ROOT.fullmatch(value) is not None


def valid_id(value: object) -> bool:
    return isinstance(value, str) and _ID.fullmatch(value) is not None


@dataclass(frozen=True)
class TraceHeader:
    """``X-Amzn-Trace-Id``: ``Root=...;Parent=...;Sampled=0|1|?``."""

    root: str
    parent: str | None = None
    sampled: str | None = None  # "1", "0", "?" (the receiver decides) or absent

    def render(self) -> str:
        parts = [f"Root={self.root}"]
        if self.parent:
            parts.append(f"Parent={self.parent}")
        if self.sampled is not None:
            parts.append(f"Sampled={self.sampled}")
        return ";".join(parts)


def parse_header(value: str | None) -> TraceHeader | None:
    """The header's root, parent and decision; ``None`` when it has no valid root (a new
    trace is then started, as AWS does with a malformed header)."""
    if not value or len(value) > 512:
        return None
    fields: dict[str, str] = {}
    for part in value.split(";"):
        key, _, item = part.strip().partition("=")
        fields.setdefault(key.strip(), item.strip())
    root = fields.get("Root", "")
    if not valid_root(root):
        return None
    parent = fields.get("Parent")
    sampled = fields.get("Sampled")
    return TraceHeader(
        root=root,
        parent=parent if valid_id(parent) else None,
        sampled=sampled if sampled in {"0", "1", "?"} else None,
    )


@dataclass(frozen=True)
class TraceContext:
    """One invocation's trace: its root, its segments' ids, and whether it is recorded.

    ``service_id`` is the platform's ``AWS::Lambda`` segment (child of the caller's
    ``caller_parent``), ``function_id`` its ``AWS::Lambda::Function`` segment, the ``Parent``
    the function sees: an SDK's subsegments hang under it.
    """

    root: str
    service_id: str
    function_id: str
    caller_parent: str | None
    sampled: bool
    record: bool  # Active tracing: the platform writes its own segments

    def header(self) -> str:
        """What the function receives as ``Lambda-Runtime-Trace-Id`` / ``_X_AMZN_TRACE_ID``."""
        if not self.sampled:
            if self.caller_parent is None:
                return TraceHeader(self.root).render()
            return TraceHeader(self.root, self.caller_parent, "0").render()
        return TraceHeader(self.root, self.function_id, "1").render()


def untraced_header(now: float | None = None) -> str:
    """What a function that is not traced and was given no trace header sees: a root alone,
    as AWS's PassThrough gives. The X-Ray SDKs read it as "not traced here" (no segment to
    send, none to propagate); to them a ``Sampled`` without a ``Parent`` is malformed (the
    Node.js SDK logs an error at every segment lookup), so the two go together or not at all.
    """
    return TraceHeader(new_root(now)).render()


def decide(mode: str, incoming: str | None, now: float | None = None) -> TraceContext:
    """The trace of one invocation of a function whose TracingConfig mode is ``mode``, given
    the caller's ``X-Amzn-Trace-Id`` (if any).

    Active: every request without a decision is sampled (each invocation is traced, where
    AWS's default rule samples 1 per second plus 5 %), a caller's ``Sampled=0`` is
    respected. PassThrough: the caller's header is passed on unchanged
    and nothing is recorded by the platform; without one the function gets an unsampled root.
    """
    header = parse_header(incoming)
    root = header.root if header is not None else new_root(now)
    parent = header.parent if header is not None else None
    decision = header.sampled if header is not None else None
    if mode == "Active":
        sampled = decision != "0"
        record = sampled
    else:
        sampled = decision == "1"
        record = False
    return TraceContext(
        root=root,
        service_id=new_id(),
        function_id=parent if (sampled and not record and parent) else new_id(),
        caller_parent=parent,
        sampled=sampled,
        record=record,
    )


# -- the platform's function segment ---------------------------------------------------------


def function_segment(
    context: TraceContext,
    *,
    name: str,
    function_arn: str,
    request_id: str,
    init: tuple[float, float] | None,
    invocation: tuple[float, float],
    end: float,
    fault: bool,
) -> str:
    """The ``AWS::Lambda::Function`` segment, with AWS's Initialization (cold starts),
    Invocation and Overhead subsegments; times in epoch seconds."""
    start = init[0] if init is not None else invocation[0]
    subsegments = []
    if init is not None:
        subsegments.append(_timed("Initialization", *init))
    invoked = _timed("Invocation", *invocation)
    if fault:
        invoked["fault"] = True
    subsegments.append(invoked)
    subsegments.append(_timed("Overhead", invocation[1], max(end, invocation[1])))
    document: dict[str, Any] = {
        "id": context.function_id,
        "trace_id": context.root,
        "parent_id": context.service_id,
        "name": name,
        "origin": "AWS::Lambda::Function",
        "start_time": start,
        "end_time": max(end, invocation[1]),
        "aws": {"function_arn": function_arn, "request_id": request_id},
        "subsegments": subsegments,
    }
    if fault:
        document["fault"] = True
    return json.dumps(document, separators=(",", ":"))


def _timed(name: str, start: float, end: float) -> dict[str, Any]:
    return {"id": new_id(), "name": name, "start_time": start, "end_time": max(start, end)}


# -- the daemon endpoint ---------------------------------------------------------------------


def bind_inside() -> socket.socket:
    """On the thread that is in the environment's namespace: its daemon socket."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.bind((DAEMON_HOST, DAEMON_PORT))
        sock.setblocking(False)
    except BaseException:
        sock.close()
        raise
    return sock


class _Bucket:
    def __init__(self, rate: float, burst: float) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = burst
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens < 1:
            return False
        self.tokens -= 1
        return True


# Per function version (its environments share one budget), bounded like the issued traces.
_buckets: OrderedDict[str, _Bucket] = OrderedDict()
_MAX_BUCKETS = 4096


def _bucket(key: str) -> _Bucket:
    bucket = _buckets.get(key)
    if bucket is None:
        bucket = _buckets[key] = _Bucket(RATE_PER_SECOND, BURST)
        while len(_buckets) > _MAX_BUCKETS:
            _buckets.popitem(last=False)
    else:
        _buckets.move_to_end(key)
    return bucket


class DaemonEndpoint:
    """One environment's X-Ray daemon: reads its socket, keeps what it may keep."""

    def __init__(
        self,
        sock: socket.socket,
        *,
        account_id: str,
        function_name: str,
        function_key: str,
        sink: SegmentSink,
    ) -> None:
        self._sock = sock
        self._account_id = account_id
        self._function_name = function_name
        self._function_key = function_key
        self._sink = sink
        # Trace root -> documents accepted so far.
        self._issued: OrderedDict[str, int] = OrderedDict()
        self.dropped = 0
        self._loop: Any = None

    def start(self, loop: Any) -> None:
        self._loop = loop
        loop.add_reader(self._sock.fileno(), self._read)

    def issue(self, root: str) -> None:
        """The environment runs an invocation of sampled trace ``root``: accept its documents."""
        if root not in self._issued:
            self._issued[root] = 0
            while len(self._issued) > ISSUED_PER_ENVIRONMENT:
                self._issued.popitem(last=False)

    def close(self) -> None:
        if self._loop is not None:
            with contextlib.suppress(ValueError, OSError, RuntimeError):
                self._loop.remove_reader(self._sock.fileno())
            self._loop = None
        self._sock.close()

    def _read(self) -> None:
        accepted: list[str] = []
        for _ in range(64):  # bounded per wake-up: a flood cannot hold the event loop
            try:
                datagram = self._sock.recv(MAX_DATAGRAM_BYTES + 1)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                break
            document = self.admit(datagram)
            if document is None:
                self.dropped += 1
            else:
                accepted.append(document)
        if accepted:
            self._sink(self._account_id, self._function_name, accepted)

    def admit(self, datagram: bytes) -> str | None:
        """The datagram's document (as JSON text) if it may be kept, else ``None``."""
        if not self._issued or len(datagram) > MAX_DATAGRAM_BYTES:
            return None
        # Every datagram counts against the function's rate before it is parsed: a flood of
        # any kind costs the event loop (every tenant's invocations) a bounded amount.
        if not _bucket(self._function_key).take():
            return None
        document = parse_datagram(datagram)
        if document is None:
            return None
        root = document["trace_id"]
        count = self._issued.get(root)
        if count is None or count >= MAX_DOCUMENTS_PER_TRACE:
            return None
        self._issued[root] = count + 1
        return json.dumps(document, separators=(",", ":"))


def parse_datagram(datagram: bytes) -> dict[str, Any] | None:
    """The daemon protocol's header line and one valid document, or ``None``."""
    head, newline, body = datagram.partition(b"\n")
    if not newline:
        return None
    try:
        header = json.loads(head)
        document = json.loads(body)
    except (ValueError, RecursionError):
        return None
    if not isinstance(header, dict) or header.get("format") != "json" or header.get("version") != 1:
        return None
    return document if valid_document(document) else None


def valid_document(document: object, depth: int = 0) -> bool:
    """A segment or subsegment as X-Ray accepts one (the fields it requires, well formed)."""
    if not isinstance(document, dict) or depth > MAX_NESTING:
        return False
    if not valid_id(document.get("id")):
        return False
    name = document.get("name")
    if not isinstance(name, str) or not 0 < len(name) <= MAX_NAME_LENGTH:
        return False
    if not _number(document.get("start_time")):
        return False
    if not (_number(document.get("end_time")) or document.get("in_progress") is True):
        return False
    if depth == 0:
        if not valid_root(document.get("trace_id")):
            return False
        if document.get("type") == "subsegment" and not valid_id(document.get("parent_id")):
            return False
    if "parent_id" in document and not valid_id(document["parent_id"]):
        return False
    children = document.get("subsegments", [])
    if not isinstance(children, list):
        return False
    return all(valid_document(child, depth + 1) for child in children)


def _number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 0


def service_segment(
    context: TraceContext,
    *,
    name: str,
    resource_arn: str,
    request_id: str,
    start: float,
    end: float,
    status: int = 200,
    throttle: bool = False,
    queued_at: float | None = None,
    attempt: int | None = None,
) -> str:
    """The ``AWS::Lambda`` segment: the service's view of one invocation, from the request
    (or, asynchronous, the attempt) to its answer; an asynchronous attempt has AWS's ``Dwell
    Time`` (queued) and ``Attempt #n`` subsegments."""
    document: dict[str, Any] = {
        "id": context.service_id,
        "trace_id": context.root,
        "name": name,
        "origin": "AWS::Lambda",
        "start_time": start if queued_at is None else min(queued_at, start),
        "end_time": max(start, end),
        "http": {"response": {"status": status}},
        "aws": {"request_id": request_id, "resource_arn": resource_arn},
    }
    if context.caller_parent:
        document["parent_id"] = context.caller_parent
    if throttle:
        document.update(throttle=True, error=True)
    if queued_at is not None:
        document["subsegments"] = [
            _timed("Dwell Time", min(queued_at, start), start),
            _timed(f"Attempt #{attempt or 1}", start, end),
        ]
    return json.dumps(document, separators=(",", ":"))
