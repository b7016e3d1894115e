"""A standby environment taken for a function it then cannot serve is stopped, never left
waiting for a function with its uid, cgroup and /tmp held."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import pytest

from invocations.executor.sandbox import SandboxBackend
from invocations.tests.test_pool import _spec
from invocations.tests.test_pool import code_dir as code_dir  # the fixture

pytestmark = pytest.mark.sandbox


def test_a_standby_whose_adoption_fails_is_stopped(tmp_path: Path, code_dir: str) -> None:
    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        try:
            first = await backend.start(_spec(code_dir))  # runtime in use: standbys boot
            await first.stop()
            for _ in range(600):
                if len(backend._standby.get("python3.11", [])) == 2:
                    break
                await asyncio.sleep(0.05)
            standbys = list(backend._standby["python3.11"])
            assert len(standbys) == 2
            gone = tmp_path / "gone"
            gone.mkdir()
            os.chmod(gone, 0o755)
            broken = _spec(str(gone / "missing"))  # its code cannot be linked in
            with pytest.raises(OSError):
                await backend.start(broken)
            taken = [b for b in standbys if b not in backend._standby.get("python3.11", [])]
            assert len(taken) == 1
            for _ in range(200):
                if taken[0].process.poll() is not None:
                    break
                await asyncio.sleep(0.05)
            assert taken[0].process.poll() is not None
        finally:
            await backend.close()

    asyncio.run(scenario())
