"""The environment pool on the real sandbox backend: scale-out, reuse, reaping, retiring."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import os
import threading
import time
import uuid
from pathlib import Path

import pytest

from invocations.executor.pool import EnvironmentPool
from invocations.executor.sandbox import SandboxBackend, _spawner
from invocations.executor.spec import EnvironmentSpec, InvokeRequest

pytestmark = pytest.mark.sandbox

APP = """
import time, uuid
TOKEN = uuid.uuid4().hex

def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return TOKEN
"""


@pytest.fixture
def code_dir(tmp_path: Path) -> str:
    directory = tmp_path / "code"
    directory.mkdir()
    (directory / "app.py").write_text(APP)
    os.chmod(directory, 0o755)
    os.chmod(directory / "app.py", 0o644)
    return str(directory)


def _spec(code_dir: str, memory: int = 128) -> EnvironmentSpec:
    return EnvironmentSpec(
        function_arn="arn:aws:lambda:us-east-1:123456789012:function:pool",
        function_name="pool",
        version="$LATEST",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=memory,
        timeout_s=10,
        code_dir=code_dir,
        layers_dir=None,
        log_group="/aws/lambda/pool",
        account_id="123456789012",
    )


async def _token(pool: EnvironmentPool, spec: EnvironmentSpec, sleep: float = 0) -> str:
    request = InvokeRequest(
        request_id=str(uuid.uuid4()),
        payload=json.dumps({"sleep": sleep}).encode(),
        invoked_arn=spec.function_arn,
    )
    result = await pool.invoke(spec, request)
    assert result.function_error is None, result.payload
    return str(json.loads(result.payload))


def _run(coroutine):
    return asyncio.run(coroutine)


def test_busy_environments_make_the_pool_start_more_then_reuse_them(tmp_path, code_dir):
    async def scenario() -> None:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            spec = _spec(code_dir)
            # Long enough that no environment comes free before the third has started,
            # even on a loaded host (0.5 s was not, in CI).
            parallel = await asyncio.gather(*(_token(pool, spec, 3) for _ in range(3)))
            assert len(set(parallel)) == 3
            assert pool.stats() == {"idle": 3, "busy": 0}
            again = [await _token(pool, spec) for _ in range(3)]
            assert len(set(again)) == 1 and again[0] in parallel
        finally:
            await pool.close()

    _run(scenario())


def test_idle_environments_are_reaped_after_the_keep_alive(tmp_path, code_dir):
    async def scenario() -> None:
        pool = EnvironmentPool(
            SandboxBackend(str(tmp_path / "state"), lambda *a: None), keep_alive_s=0.3
        )
        try:
            spec = _spec(code_dir)
            first = await _token(pool, spec)
            assert await _token(pool, spec) == first
            # The pool's own reaper stops it once it has idled past the keep-alive.
            deadline = time.monotonic() + 30
            while pool.stats()["idle"]:
                assert time.monotonic() < deadline, "the idle environment was never reaped"
                await asyncio.sleep(0.05)
            assert await _token(pool, spec) != first
        finally:
            await pool.close()

    _run(scenario())


def test_an_idle_environment_is_kept_for_the_keep_alive_and_no_longer(tmp_path, code_dir):
    async def scenario() -> None:
        # A keep-alive the background reaper never reaches: the test moves the clock.
        pool = EnvironmentPool(
            SandboxBackend(str(tmp_path / "state"), lambda *a: None), keep_alive_s=300
        )
        try:
            spec = _spec(code_dir)
            first = await _token(pool, spec)
            pool.reap(now=time.monotonic() + 290)
            assert pool.stats()["idle"] == 1
            assert await _token(pool, spec) == first
            pool.reap(now=time.monotonic() + 301)
            assert pool.stats()["idle"] == 0
            assert await _token(pool, spec) != first
        finally:
            await pool.close()

    _run(scenario())


def test_a_configuration_change_retires_the_old_environments(tmp_path, code_dir):
    async def scenario() -> None:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))
        try:
            first = await _token(pool, _spec(code_dir, memory=128))
            changed = await _token(pool, _spec(code_dir, memory=256))
            assert changed != first
            await asyncio.sleep(0.2)
            assert pool.stats() == {"idle": 1, "busy": 0}
        finally:
            await pool.close()

    _run(scenario())


ECHO = """
import time

def handler(event, context):
    print("started", event["n"], flush=True)
    time.sleep(event["sleep"])
    return event["n"]
"""


def test_an_environment_whose_caller_goes_away_mid_invocation_is_not_given_to_the_next(
    tmp_path: Path,
) -> None:
    """A worker that dies mid-attempt (or a client that disconnects) cancels its call: given
    back to the pool, the environment would answer the next invocation with the abandoned
    one's late response (and every later one with its predecessor's)."""
    code = tmp_path / "echo"
    code.mkdir()
    (code / "app.py").write_text(ECHO)
    os.chmod(code, 0o755)
    os.chmod(code / "app.py", 0o644)
    started = asyncio.Event()

    def sink(spec: EnvironmentSpec, stream: str, events: list[tuple[int, str]], _: bool) -> None:
        if any(line.startswith("started 1") for _, line in events):
            started.set()

    def request(n: int, sleep: float) -> InvokeRequest:
        return InvokeRequest(
            request_id=f"request-{n}-{uuid.uuid4()}",
            payload=json.dumps({"n": n, "sleep": sleep}).encode(),
            invoked_arn="arn:aws:lambda:us-east-1:123456789012:function:pool",
        )

    async def scenario() -> None:
        pool = EnvironmentPool(SandboxBackend(str(tmp_path / "state"), sink))
        try:
            spec = _spec(str(code))
            warm = await pool.invoke(spec, request(0, 0))
            assert json.loads(warm.payload) == 0
            caller = asyncio.ensure_future(pool.invoke(spec, request(1, 1.5)))
            await asyncio.wait_for(started.wait(), 60)  # the runtime holds event 1
            caller.cancel()
            with pytest.raises(asyncio.CancelledError):
                await caller
            second = await pool.invoke(spec, request(2, 0))
            assert json.loads(second.payload) == 2
            assert second.log_stream != warm.log_stream  # another environment
            third = await pool.invoke(spec, request(3, 0))
            assert json.loads(third.payload) == 3
        finally:
            await pool.close()

    _run(scenario())


def _bwraps_of_this_process() -> list[int]:
    pids = []
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        with contextlib.suppress(OSError):  # a thread or child that ends meanwhile
            for pid in (task / "children").read_text().split():
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{pid}/comm").read_text().strip() == "bwrap":
                        pids.append(int(pid))
    return pids


def test_a_start_whose_caller_left_is_stopped_and_later_starts_still_work(
    tmp_path: Path, code_dir: str
) -> None:
    """A sandbox spawned after its caller's event loop closed was handed to that closed
    loop: the error killed the spawner thread, and every later start waited forever."""
    spec = dataclasses.replace(_spec(code_dir), ephemeral_mb=640)  # never a standby
    state = str(tmp_path / "state")
    before = set(_bwraps_of_this_process())

    async def leave_mid_start() -> None:
        backend = SandboxBackend(state, lambda *a: None)
        asyncio.get_running_loop().create_task(backend.start(spec))
        await asyncio.sleep(0.5)  # the spawn is queued, behind the job that holds the thread

    for _ in range(3):
        hold = threading.Event()

        def held(hold: threading.Event = hold) -> None:
            hold.wait(30)

        _spawner().submit(held)
        asyncio.run(leave_mid_start())
        hold.set()  # the spawn runs now, for a loop that is closed

    async def start_again() -> str:
        pool = EnvironmentPool(SandboxBackend(state, lambda *a: None))
        try:
            return await asyncio.wait_for(_token(pool, spec), timeout=60)
        finally:
            await pool.close()

    assert len(asyncio.run(start_again())) == 32
    # Nothing of the abandoned starts is left running.
    deadline = time.monotonic() + 30
    while set(_bwraps_of_this_process()) - before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not set(_bwraps_of_this_process()) - before


def test_a_stopped_environment_reads_no_output_from_a_reused_descriptor(tmp_path, code_dir):
    # Output is drained once more as an invocation closes; after the environment stopped,
    # its descriptor's number may already be another file's (a database, say): nothing of
    # that file may become this function's log.
    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        try:
            environment = await backend.start(_spec(code_dir))
            number = environment._output_fd
            await environment.stop()
            secret = tmp_path / "other-tenants-file"
            secret.write_text("SECRET ROW\n")
            reused = os.open(secret, os.O_RDONLY)
            try:
                if reused != number:  # make the number the other file's, as a reuse would
                    os.dup2(reused, number)
                captured = environment._capture
                before = list(captured.lines()) if captured is not None else []
                environment.drain_output()
                after = list(captured.lines()) if captured is not None else []
                assert after == before
                assert not any("SECRET" in line for line in after)
            finally:
                os.close(reused)
                if reused != number:
                    os.close(number)
        finally:
            await backend.close()

    _run(scenario())
