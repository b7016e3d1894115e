"""An execution environment: one runtime process tree, its Runtime API, its log stream.

Backends (``sandbox.py``, ``docker_backend.py``) start the process and hand over a
listening socket reachable from inside as ``127.0.0.1:9001`` plus the process's merged
stdout/stderr; everything from there — init, invocations, timeouts, crashes, logs — is
the same for every backend and lives here.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import fcntl
import json
import logging
import math
import os
import secrets
import time
from collections.abc import Callable
from typing import Any, Protocol

from invocations.executor import logcaps, logformat, xray
from invocations.executor.runtime_api import Invocation, RuntimeApiServer, RuntimeOutcome
from invocations.executor.spec import Credentials, EnvironmentSpec, InvokeRequest, InvokeResult

# (spec, log stream, [(timestamp ms, message)], essential) — called on the event loop; must
# not block. Essential lines are the platform's own (START, END, REPORT, notices): a sink
# that must shed load drops the others first.
LogSink = Callable[[EnvironmentSpec, str, list[tuple[int, str]], bool], None]

logger = logging.getLogger(__name__)

INIT_TIMEOUT_S = 10.0
# Freeze idle environments (FUNCTORY_FREEZE_IDLE=0 keeps them running, as before).
FREEZE = os.environ.get("FUNCTORY_FREEZE_IDLE", "1") != "0"
TAIL_BYTES = 4096
# How long a thawed runtime may take to ask for its next invocation before it is given one
# anyway (only to tell one that exited after its last invocation from one still at work).
NEXT_GRACE_S = 1.0


class Process(Protocol):
    """What a backend gives the environment to watch and stop."""

    pid: int

    def poll(self) -> int | None: ...

    def kill(self) -> None: ...

    def memory_peak_bytes(self) -> int: ...

    def oom_killed(self) -> bool: ...

    def freeze(self) -> None:
        """Stop every process of the environment until ``thaw`` (idle between invocations)."""

    def thaw(self) -> None: ...

    def cleanup(self) -> None: ...


def now_ms() -> int:
    return int(time.time() * 1000)


def log_stream_name(spec: EnvironmentSpec | str) -> str:
    """``YYYY/MM/DD/[<version>]<32 hex>``, as Lambda names an environment's stream; in a
    custom log group (LoggingConfig.LogGroup, maybe shared by several functions)
    ``YYYY/MM/DD/<function>[<version>][<32 hex>]``. A bare version names a default-group one."""
    day = dt.datetime.now(dt.UTC).strftime("%Y/%m/%d")
    if isinstance(spec, str):
        return f"{day}/[{spec}]{secrets.token_hex(16)}"
    if spec.custom_log_group:
        return f"{day}/{spec.function_name}[{spec.version}][{secrets.token_hex(16)}]"
    return f"{day}/[{spec.version}]{secrets.token_hex(16)}"


class EnvironmentDead(Exception):
    """The environment's process is gone; it cannot take more invocations."""


class Environment:
    def __init__(
        self,
        spec: EnvironmentSpec,
        process: Process,
        server: RuntimeApiServer,
        output_fd: int,
        log_sink: LogSink,
        log_stream: str,
        started: float,
        credentials: Credentials | None = None,
        xray_socket: Any = None,
        segment_sink: xray.SegmentSink | None = None,
    ) -> None:
        self.spec = spec
        # When its execution role's credentials expire (None: it has none), on time.time().
        self.credentials_expire_at = credentials.expires_at if credentials is not None else None
        self.process = process
        self.server = server
        self.log_sink = log_sink
        self.log_stream = log_stream
        self.started = started
        self.last_used = time.monotonic()
        self.invocations = 0
        self.busy = False
        self.held_since = 0.0  # when the pool last handed it an invocation (monotonic)
        self.dead = False
        self.retired = False
        self.init_duration_ms: float | None = None
        # Started ahead of any invocation (provisioned concurrency): its first invocation
        # is not a cold start, and the pool keeps it however long it stays idle.
        self.provisioned = False
        # Forked from a SnapStart template: its first invocation reports a restore, no init.
        self.restored = False
        self._output_fd = output_fd
        self._splitter = logcaps.LineSplitter()
        # Init output counts toward the first invocation's cap, and is in its tail.
        self._gate = logcaps.OutputGate(spec.account_id)
        self._capture: logcaps.Tail | None = logcaps.Tail()
        self._exited: asyncio.Future[int] = asyncio.get_running_loop().create_future()
        self._freeze_timer: asyncio.TimerHandle | None = None
        flags = fcntl.fcntl(output_fd, fcntl.F_GETFL)
        fcntl.fcntl(output_fd, fcntl.F_SETFL, flags | os.O_NONBLOCK)
        asyncio.get_running_loop().add_reader(output_fd, self._read_output)
        # The X-Ray daemon endpoint inside (xray.py): read only when the backend gave it a
        # socket and someone takes what it accepts.
        self.xray: xray.DaemonEndpoint | None = None
        if xray_socket is not None and segment_sink is not None:
            self.xray = xray.DaemonEndpoint(
                xray_socket,
                account_id=spec.account_id,
                function_name=spec.function_name,
                function_key=spec.function_key,
                sink=segment_sink,
            )
            self.xray.start(asyncio.get_running_loop())
        elif xray_socket is not None:
            xray_socket.close()

    def credentials_last(self, seconds: float, now: float | None = None) -> bool:
        """Whether its credentials (if any) are still valid ``seconds`` from ``now``."""
        if self.credentials_expire_at is None:
            return True
        return self.credentials_expire_at - (time.time() if now is None else now) > seconds

    # -- output ---------------------------------------------------------------------------

    def _read_output(self, limit: int = logcaps.READ_PER_WAKEUP_BYTES) -> None:
        """Read what the runtime printed; each complete line is one log event.

        At most ``limit`` bytes a call (the loop calls again while there is more), each
        chunk handled as it comes: output over the caps is read and forgotten, so the
        function never blocks on a full pipe and nothing accumulates here.
        """
        if self._output_fd < 0:
            # Closed (the environment stopped): the number may be another file's by now, and
            # reading it would put that file's bytes in this function's log.
            return
        taken = 0
        while taken < limit:
            try:
                chunk = os.read(self._output_fd, logcaps.READ_CHUNK_BYTES)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                self._on_eof()
                return
            taken += len(chunk)
            if self._gate.truncated:
                self._splitter.discard()
            else:
                self._function_output(self._splitter.feed(chunk))

    def _function_output(self, lines: list[str]) -> None:
        kept, notices = self._gate.admit(lines)
        # Lines below the application log level (JSON format) are dropped as AWS drops them,
        # after the caps counted them: output filtered away still cannot cost the server
        # more than the caps allow (once over, the rest is discarded unread).
        kept = logformat.application_filter(self.spec, kept)
        if self._gate.truncated:
            self._splitter.discard()
        self._emit(kept, essential=False)
        self._emit(notices, essential=True)

    def _flush_partial(self) -> None:
        if self._gate.truncated:
            self._splitter.discard()
        else:
            self._function_output(self._splitter.flush())

    def _on_eof(self) -> None:
        if self._output_fd < 0:
            return
        with contextlib.suppress(ValueError, OSError):
            asyncio.get_running_loop().remove_reader(self._output_fd)
        self._flush_partial()
        if not self._exited.done():
            code = self.process.poll()
            self._exited.set_result(code if code is not None else -9)

    def _log(self, lines: list[str]) -> None:
        """The platform's own lines (essential: no cap drops them)."""
        self._emit(lines, essential=True)

    def _emit(self, lines: list[str], *, essential: bool) -> None:
        if not lines:
            return
        stamp = now_ms()
        if self._capture is not None:
            self._capture.extend(lines)
        self.log_sink(self.spec, self.log_stream, [(stamp, line) for line in lines], essential)

    def drain_output(self) -> None:
        """Pick up output already written but not yet read, before closing an invocation
        (bounded: a process that keeps writing cannot hold the invocation open)."""
        self._read_output(limit=4 * logcaps.READ_PER_WAKEUP_BYTES)

    # -- lifecycle ------------------------------------------------------------------------

    async def wait_ready(self) -> RuntimeOutcome | None:
        """Wait for the runtime's first ``/next``; an init error or exit is returned."""
        waiters: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(asyncio.shield(self.server.first_next)),
            asyncio.ensure_future(asyncio.shield(self.server.init_error)),
            asyncio.ensure_future(asyncio.shield(self._exited)),
        }
        try:
            done, _ = await asyncio.wait(
                waiters, timeout=INIT_TIMEOUT_S, return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            for waiter in waiters:
                waiter.cancel()
        self.init_duration_ms = (time.monotonic() - self.started) * 1000
        if self.server.init_error.done() and not self.server.init_error.cancelled():
            return self.server.init_error.result()
        if self.server.first_next.done():
            return None
        if not done:
            return RuntimeOutcome(
                _error_document(
                    f"Init timed out after {INIT_TIMEOUT_S:.2f} seconds", "Sandbox.Timedout"
                ),
                "Sandbox.Timedout",
            )
        await self._reap()
        return _outcome_of(self._exit_document())

    async def _reap(self) -> None:
        """Give an exiting process a moment to be reaped, so its status is known."""
        for _ in range(200):
            if self.process.poll() is not None:
                return
            await asyncio.sleep(0.005)

    def _exit_document(self, request_id: str | None = None) -> bytes:
        if self.process.oom_killed():
            message = "Runtime exited with error: signal: killed"
            error_type = "Runtime.OutOfMemory"
        else:
            code = self.process.poll()
            if code is None and self._exited.done():
                code = self._exited.result()
            if code is not None and code < 0:
                message = f"Runtime exited with error: signal: {_signal_name(-code)}"
            else:
                message = f"Runtime exited with error: exit status {code}"
            error_type = "Runtime.ExitError"
        if request_id:
            message = f"RequestId: {request_id} Error: {message}"
        return _error_document(message, error_type)

    async def invoke(
        self, request: InvokeRequest, init_error: RuntimeOutcome | None = None
    ) -> InvokeResult:
        """Run one invocation; the caller holds this environment exclusively."""
        spec = self.spec
        first = self.invocations == 0
        cold = first and not self.provisioned
        self.invocations += 1
        if first and self._capture is not None:
            capture = self._capture
        else:
            capture = logcaps.Tail()
            self._gate.reset()
        self._capture = capture
        start = time.monotonic()
        started_ms = now_ms()
        trace = request.trace
        invoked_at = time.time()
        opening = logformat.start(spec, request.request_id, started_ms)
        if cold and not self.restored:
            init_ms = started_ms - int((start - self.started) * 1000)
            opening = logformat.init_start(spec, init_ms) + opening
        self._log(opening)
        outcome: RuntimeOutcome
        kill = False
        if init_error is not None:
            outcome = init_error
            kill = True
        else:
            deadline_ms = now_ms() + spec.timeout_s * 1000
            if trace is not None and trace.sampled and self.xray is not None:
                self.xray.issue(trace.root)
            invocation = Invocation(
                request_id=request.request_id,
                payload=request.payload,
                deadline_ms=deadline_ms,
                invoked_arn=request.invoked_arn,
                trace_id=trace.header()
                if trace is not None
                else request.trace_id or xray.untraced_header(),
                client_context=request.client_context,
                cognito_identity=request.cognito_identity,
                stream=request.stream,
            )
            result_future = self.server.submit(invocation)
            exited: asyncio.Future[Any] = asyncio.ensure_future(asyncio.shield(self._exited))
            try:
                pending: set[asyncio.Future[Any]] = {result_future, exited}
                done, _ = await asyncio.wait(
                    pending,
                    timeout=spec.timeout_s,
                    return_when=asyncio.FIRST_COMPLETED,
                )
            finally:
                exited.cancel()
            if result_future.done() and not result_future.cancelled():
                outcome = result_future.result()
            elif not done:
                seconds = f"{spec.timeout_s:.2f}"
                stamp = dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
                if not spec.json_logs:  # JSON: the report's status says it
                    self._log(
                        [f"{stamp} {request.request_id} Task timed out after {seconds} seconds"]
                    )
                outcome = RuntimeOutcome(
                    _error_document(
                        f"RequestId: {request.request_id} Error: Task timed out after "
                        f"{seconds} seconds",
                        "Sandbox.Timedout",
                    ),
                    "Sandbox.Timedout",
                )
                kill = True
            else:
                await self._reap()
                outcome = _outcome_of(self._exit_document(request.request_id))
                kill = True
        duration_ms = (time.monotonic() - start) * 1000
        answered_at = invoked_at + duration_ms / 1000
        max_memory_mb = math.ceil(self.process.memory_peak_bytes() / (1024 * 1024))
        if kill:
            await self.stop()
        self.drain_output()
        self._flush_partial()
        crashed = outcome.error_type in {"Runtime.ExitError", "Runtime.OutOfMemory"}
        if crashed and not spec.json_logs:  # JSON: the report's errorType says it
            document = json.loads(outcome.payload)
            self._log([str(document.get("errorMessage", "")), outcome.error_type or ""])
        billed_ms = max(1, math.ceil(duration_ms))
        self._log(
            logformat.finish(
                spec,
                request.request_id,
                at_ms=now_ms(),
                duration_ms=duration_ms,
                billed_ms=billed_ms,
                max_memory_mb=max_memory_mb,
                init_duration_ms=self.init_duration_ms if cold and not self.restored else None,
                error_type=outcome.error_type,
                closing=self._gate.closing(),
                restore_duration_ms=self.init_duration_ms if cold and self.restored else None,
            )
        )
        self._capture = None
        self.last_used = time.monotonic()
        segments: list[str] = []
        if trace is not None and trace.record:
            init = None
            if cold:  # from the environment's start to the invocation's (wall clock)
                init = (invoked_at - (start - self.started), invoked_at)
            segments.append(
                xray.function_segment(
                    trace,
                    name=spec.function_name,
                    function_arn=request.invoked_arn,
                    request_id=request.request_id,
                    init=init,
                    invocation=(invoked_at, answered_at),
                    end=time.time(),
                    fault=outcome.error_type is not None,
                )
            )
        return InvokeResult(
            request_id=request.request_id,
            payload=outcome.payload,
            function_error=None if outcome.error_type is None else "Unhandled",
            error_type=outcome.error_type,
            duration_ms=duration_ms,
            billed_ms=billed_ms,
            max_memory_mb=max_memory_mb,
            init_duration_ms=self.init_duration_ms if cold else None,
            log_lines=capture.lines(),
            log_stream=self.log_stream,
            cold=cold,
            streamed=outcome.streamed,
            segments=segments,
        )

    async def runtime_ended(self) -> bool:
        """Whether its runtime exited after the last invocation instead of asking for the
        next (called once thawed). AWS's Ruby runtime does so after a critical error, a
        one-shot custom runtime after every event; AWS gives the next invocation a new
        environment rather than the exit of the one that served the last."""
        asked = self.server.next_asked
        if self.dead or asked.is_set():
            return self.dead
        waiters: set[asyncio.Future[Any]] = {
            asyncio.ensure_future(asked.wait()),
            asyncio.ensure_future(asyncio.shield(self._exited)),
        }
        try:
            await asyncio.wait(waiters, timeout=NEXT_GRACE_S, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        return self._exited.done() and not asked.is_set()

    def freeze_when_idle(self) -> None:
        """Freeze once the runtime has asked for its next invocation (at the latest after
        ``NEXT_GRACE_S``). Frozen any sooner, a runtime that answers and then exits would be
        caught mid-exit, and every warm invocation would first thaw it and wait for its
        ``/next`` (``runtime_ended``) instead of finding it already asked."""
        if self.server.next_asked.is_set():
            self.freeze()
            return
        self.server.on_next = self._asked_while_idle
        self._freeze_timer = asyncio.get_running_loop().call_later(NEXT_GRACE_S, self.freeze)

    def _asked_while_idle(self) -> None:
        if self._freeze_timer is not None:
            self._freeze_timer.cancel()
            self._freeze_timer = None
        self.freeze()

    def freeze(self) -> None:
        """Idle now: nothing of this environment runs until the next invocation thaws it.

        AWS does the same; a child or thread a handler left behind resumes then.
        """
        if self.dead or self.busy or not FREEZE:
            return
        try:
            self.process.freeze()
        except OSError as exc:  # never fail an invocation for it; the environment just runs
            logger.warning("freezing an environment failed: %s", exc)

    def thaw(self) -> None:
        self.server.on_next = None
        if self._freeze_timer is not None:
            self._freeze_timer.cancel()
            self._freeze_timer = None
        self.process.thaw()

    async def stop(self) -> None:
        if self.dead:
            return
        self.dead = True
        self.server.close()
        if self.xray is not None:
            self.xray.close()
        self.process.kill()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(asyncio.shield(self._exited), timeout=2)
        if not self._exited.done():
            self._on_eof()
        fd, self._output_fd = self._output_fd, -1
        with contextlib.suppress(OSError):
            os.close(fd)
        self.process.cleanup()


def tail(lines: list[str]) -> str:
    """The last 4 KB of an invocation's log, as ``X-Amz-Log-Result`` carries it."""
    text = "".join(f"{line}\n" for line in lines).encode()
    return text[-TAIL_BYTES:].decode("utf-8", "ignore")


def _outcome_of(document: bytes) -> RuntimeOutcome:
    return RuntimeOutcome(document, str(json.loads(document)["errorType"]))


def _error_document(message: str, error_type: str) -> bytes:
    return json.dumps({"errorMessage": message, "errorType": error_type}).encode()


def _signal_name(number: int) -> str:
    import signal

    try:
        return signal.Signals(number).name.removeprefix("SIG").lower()
    except ValueError:
        return str(number)
