"""Scale-out without storms: a burst waits for warm environments when that is sooner than
starting new ones, and still gets one per invocation when its function waits on something."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import time
import uuid
from pathlib import Path

import pytest

from invocations.executor.pool import EnvironmentPool, ProvisionTarget
from invocations.executor.sandbox import RuntimeUnavailable, SandboxBackend
from invocations.executor.spec import InvokeRequest
from invocations.tests.test_pool import _spec, _token
from invocations.tests.test_pool import code_dir as code_dir  # the fixture

pytestmark = pytest.mark.sandbox


def _pool(tmp_path: Path) -> EnvironmentPool:
    return EnvironmentPool(SandboxBackend(str(tmp_path / "state"), lambda *a: None))


def test_a_burst_of_short_invocations_is_served_by_few_environments(tmp_path, code_dir):
    async def scenario() -> None:
        pool = _pool(tmp_path)
        try:
            spec = _spec(code_dir)
            for _ in range(5):  # how long an invocation holds an environment is measured
                await _token(pool, spec)
            before = pool.load()["started"]
            tokens = await asyncio.gather(*(_token(pool, spec) for _ in range(60)))
            assert len(tokens) == 60
            # Starts queued for a start slot while the burst was served are dropped when
            # they get one; one already under way finishes. Judge once they have settled.
            for _ in range(300):
                if pool.load()["starting"] == 0:
                    break
                await asyncio.sleep(0.1)
            assert pool.load()["waiting"] == 0 and pool.load()["starting"] == 0
            # One per invocation would be 60 starts; each waiting invocation is served
            # sooner by an environment finishing its few milliseconds of work.
            assert pool.load()["started"] - before < 20
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_invocations_that_wait_on_something_still_get_an_environment_each(tmp_path, code_dir):
    async def scenario() -> None:
        pool = _pool(tmp_path)
        try:
            spec = _spec(code_dir)
            await _token(pool, spec)
            # Each waits far longer than a start takes on this host, however loaded it is
            # (waiting would then be the better bet, and right).
            sleep = max(1.5, 4 * pool._start_estimate(spec))
            tokens = await asyncio.gather(*(_token(pool, spec, sleep) for _ in range(5)))
            assert len(set(tokens)) == 5
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_hung_invocation_does_not_hold_up_the_next(tmp_path, code_dir):
    async def scenario() -> None:
        pool = _pool(tmp_path)
        try:
            spec = _spec(code_dir)
            for _ in range(5):  # its invocations take milliseconds: waiting is usually best
                await _token(pool, spec)
            hung = asyncio.ensure_future(_token(pool, spec, 8))
            await asyncio.sleep(0.2)
            # Held far longer than its function's invocations take: not waited for.
            quick = await asyncio.wait_for(_token(pool, spec), 7)
            assert not hung.done()
            assert quick != await hung
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_an_invocation_that_leaves_the_queue_passes_its_turn_on(tmp_path, code_dir):
    async def scenario() -> None:
        pool = _pool(tmp_path)
        try:
            spec = _spec(code_dir)
            for _ in range(5):
                await _token(pool, spec)
            first = asyncio.ensure_future(_token(pool, spec, 0.3))
            await asyncio.sleep(0.05)
            queued = [asyncio.ensure_future(_token(pool, spec)) for _ in range(3)]
            await asyncio.sleep(0)
            queued[0].cancel()
            results = await asyncio.gather(first, *queued[1:])
            assert len(results) == 3
            with pytest.raises(asyncio.CancelledError):
                await queued[0]
            assert pool.load()["waiting"] == 0
            assert pool.stats()["busy"] == 0
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_every_waiting_invocation_gets_the_error_of_a_runtime_that_cannot_start(tmp_path, code_dir):
    async def scenario() -> None:
        pool = _pool(tmp_path)
        try:
            spec = dataclasses.replace(_spec(code_dir), runtime="cobol1.0")
            requests = [
                InvokeRequest(
                    request_id=str(uuid.uuid4()),
                    payload=json.dumps({}).encode(),
                    invoked_arn=spec.function_arn,
                )
                for _ in range(4)
            ]
            outcomes = await asyncio.wait_for(
                asyncio.gather(
                    *(pool.invoke(spec, request) for request in requests), return_exceptions=True
                ),
                60,
            )
            assert all(isinstance(outcome, RuntimeUnavailable) for outcome in outcomes)
            assert pool.load() == {**pool.load(), "waiting": 0, "starting": 0, "busy": 0}
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_idle_environments_make_way_when_the_host_runs_short_of_memory(tmp_path, code_dir):
    available = [10_000.0]

    async def scenario() -> None:
        pool = EnvironmentPool(
            SandboxBackend(str(tmp_path / "state"), lambda *a: None),
            memory_floor_mb=1_000,
            memory_available=lambda: available[0],
        )
        try:
            spec = _spec(code_dir)
            tokens = await asyncio.gather(*(_token(pool, spec, 1.0) for _ in range(3)))
            assert pool.stats()["idle"] == 3
            newest = await _token(pool, spec)  # the most recently used one
            pool.reap()
            assert pool.stats()["idle"] == 3  # plenty of memory: the keep-alive decides
            available[0] = 950.0  # 50 MB short: two idle environments' worth
            pool.reap()
            assert pool.stats()["idle"] == 1
            assert await _token(pool, spec) == newest  # the least recently used went
            available[0] = 10_000.0
            pool.reap()
            assert pool.stats()["idle"] == 1
            assert newest in tokens
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_closing_the_pool_leaves_no_invocation_waiting(tmp_path, code_dir):
    async def scenario() -> None:
        pool = _pool(tmp_path)
        spec = _spec(code_dir)
        for _ in range(3):
            await _token(pool, spec)
        calls = [asyncio.ensure_future(_token(pool, spec, 2)) for _ in range(4)]
        await asyncio.sleep(0.05)
        await pool.close()
        # Each ends (answered, or failed because the pool went away); none waits forever.
        outcomes = await asyncio.wait_for(asyncio.gather(*calls, return_exceptions=True), 30)
        assert len(outcomes) == 4
        assert pool.load()["waiting"] == 0

    asyncio.run(scenario())


def test_an_environment_started_for_a_function_retired_meanwhile_is_not_kept(tmp_path, code_dir):
    async def scenario() -> None:
        pool = _pool(tmp_path)
        try:
            spec = _spec(code_dir)
            caller = asyncio.ensure_future(_token(pool, spec))
            await asyncio.sleep(0.01)  # its environment is starting
            assert pool.load()["starting"] == 1
            caller.cancel()
            pool.retire(spec.function_arn)  # the function is deleted
            with pytest.raises(asyncio.CancelledError):
                await caller
            for _ in range(600):
                if not pool.load()["starting"]:
                    break
                await asyncio.sleep(0.05)
            # Started for nobody, and for a function that is gone: stopped, not kept warm.
            assert pool.stats() == {"idle": 0, "busy": 0}
        finally:
            await pool.close()

    asyncio.run(scenario())


async def _until(condition, timeout: float = 30) -> None:
    for _ in range(int(timeout / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("not reached in time")


def test_provisioned_environments_outlive_the_keep_alive_and_are_replaced_when_they_die(
    tmp_path, code_dir
):
    async def scenario() -> None:
        pool = EnvironmentPool(
            SandboxBackend(str(tmp_path / "state"), lambda *a: None), keep_alive_s=0.0
        )
        try:
            spec = _spec(code_dir)
            assert pool.provision([ProvisionTarget(spec, 2, "t1")])[spec.key].ready == 0
            await _until(lambda: pool.provision_state(spec.key).ready == 2)
            assert pool.started == 2
            # Idle past a keep-alive of zero: kept.
            pool.reap(now=time.monotonic() + 3600)
            await asyncio.sleep(0.3)
            assert pool.stats()["idle"] == 2
            # Both serve invocations at once; nothing else is started.
            tokens = await asyncio.gather(*(_token(pool, spec, 0.3) for _ in range(2)))
            assert len(set(tokens)) == 2 and pool.started == 2
            # One dies: the next check starts another.
            victim = pool._idle[spec.key][0]
            await _until(victim.server.next_asked.is_set)  # idle (and frozen), as it dies
            victim.process.kill()
            await _until(lambda: victim.process.poll() is not None)
            pool.reap()
            await _until(lambda: pool.started == 3 and pool.provision_state(spec.key).ready == 2)
            # Fewer asked for: the surplus is stopped at once, not left to the keep-alive.
            pool.provision([ProvisionTarget(spec, 1, "t2")])
            assert pool.stats()["idle"] == 1
            pool.provision([])
            assert pool.stats()["idle"] == 0
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_memory_pressure_takes_on_demand_environments_before_provisioned_ones(tmp_path, code_dir):
    async def scenario() -> None:
        available = [10_000.0]
        pool = EnvironmentPool(
            SandboxBackend(str(tmp_path / "state"), lambda *a: None),
            memory_floor_mb=1_000.0,
            memory_available=lambda: available[0],
        )
        try:
            provisioned = _spec(code_dir)
            pool.provision([ProvisionTarget(provisioned, 1, "t1")])
            await _until(lambda: pool.provision_state(provisioned.key).ready == 1)
            on_demand = dataclasses.replace(provisioned, function_name="other", version="1")
            await _token(pool, on_demand)
            available[0] = 990.0  # one environment short
            pool.reap()
            await _until(lambda: not pool._idle.get(on_demand.key))
            assert pool.provision_state(provisioned.key).ready == 1
            # Still short, and only provisioned ones left: they go too (last), and none is
            # started again while memory stays short.
            pool._memory_reaped_at = -1e9
            pool.reap()
            await _until(lambda: pool.stats()["idle"] == 0)
            pool.reap()
            await asyncio.sleep(0.3)
            assert pool.load()["starting"] == 0 and pool.stats()["idle"] == 0
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_provisioned_environments_that_keep_exiting_fail_the_target(tmp_path, code_dir):
    async def scenario() -> None:
        pool = _pool(tmp_path)
        try:
            spec = _spec(code_dir)
            pool.provision([ProvisionTarget(spec, 1, "t1")])
            for _ in range(10):
                await _until(
                    lambda: (
                        pool.provision_state(spec.key).ready == 1
                        or pool.provision_state(spec.key).failure != ""
                    )
                )
                if pool.provision_state(spec.key).failure:
                    break
                (victim,) = pool._idle[spec.key]
                await _until(victim.server.next_asked.is_set)
                victim.process.kill()  # it exits once ready, again and again
                await _until(lambda v=victim: v.process.poll() is not None)
                pool.reap()
            assert "kept exiting" in pool.provision_state(spec.key).failure
            assert pool.started == 4  # twice the count and two, then no more
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_function_deleted_while_the_targets_were_read_is_not_provisioned(tmp_path, code_dir):
    async def scenario() -> None:
        pool = _pool(tmp_path)
        try:
            spec = _spec(code_dir)
            since = pool.retirement  # the reconciler reads this, then the configurations
            pool.retire(spec.function_arn + ":")  # meanwhile the function is deleted
            assert pool.provision([ProvisionTarget(spec, 1, "t1")], since) == {}
            await asyncio.sleep(0.3)
            assert pool.started == 0 and pool.load()["starting"] == 0
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_a_provisioned_function_whose_init_fails_is_not_retried_until_put_again(tmp_path, code_dir):
    async def scenario() -> None:
        Path(code_dir, "app.py").write_text("raise ValueError('broken init')\n")
        pool = _pool(tmp_path)
        try:
            spec = _spec(code_dir)
            pool.provision([ProvisionTarget(spec, 3, "t1")])
            await _until(lambda: pool.provision_state(spec.key).failure != "")
            state = pool.provision_state(spec.key)
            assert state.ready == 0
            assert "broken init" in state.failure and "ValueError" in state.failure
            await _until(lambda: pool.load()["starting"] == 0 and not pool._provisioning[spec.key])
            started = pool.started
            pool.reap()
            pool.provision([ProvisionTarget(spec, 3, "t1")])  # the same configuration
            await asyncio.sleep(0.5)
            assert pool.started == started
            pool.provision([ProvisionTarget(spec, 3, "t2")])  # put again
            assert pool.provision_state(spec.key).failure == ""
            await _until(lambda: pool.provision_state(spec.key).failure != "")
            assert pool.started > started
        finally:
            await pool.close()

    asyncio.run(scenario())
