"""The executor gives environments their execution role's credentials (from the pool's
credential source) when they start or adopt a standby, never at a standby's boot; an
environment whose credentials would not outlast an invocation is not reused, and the next
start asks the source again."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from invocations.executor.pool import CREDENTIALS_MARGIN_S, EnvironmentPool
from invocations.executor.sandbox import SandboxBackend
from invocations.executor.spec import Credentials, EnvironmentSpec, InvokeRequest

pytestmark = [pytest.mark.sandbox]

APP = """
import os, uuid

ENVIRONMENT = uuid.uuid4().hex  # one per environment: which one ran

def handler(event, context):
    names = ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")
    return {"environment": ENVIRONMENT, "env": {name: os.environ.get(name) for name in names}}
"""
TIMEOUT_S = 3


class Source:
    """Hands out new credentials each time, lasting ``lifetime_s``; counts the asks."""

    def __init__(self, lifetime_s: float) -> None:
        self.lifetime_s = lifetime_s
        self.asked: list[str] = []

    async def __call__(self, spec: EnvironmentSpec) -> Credentials | None:
        self.asked.append(spec.function_name)
        if spec.role_arn.endswith("/missing"):
            return None
        number = len(self.asked)
        return Credentials(
            access_key_id=f"ASIATEST{number:012d}",
            secret_access_key=f"secret-{number}".ljust(40, "x"),
            session_token=f"token-{number}",
            expires_at=time.time() + self.lifetime_s,
        )


def _spec(code_dir: str, name: str, role: str = "fn-role") -> EnvironmentSpec:
    return EnvironmentSpec(
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        function_name=name,
        version="$LATEST",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=256,
        timeout_s=TIMEOUT_S,
        code_dir=code_dir,
        layers_dir=None,
        log_group=f"/aws/lambda/{name}",
        account_id="123456789012",
        role_arn=f"arn:aws:iam::123456789012:role/{role}",
    )


async def _invoke(pool: EnvironmentPool, spec: EnvironmentSpec) -> dict[str, object]:
    request = InvokeRequest(
        request_id=str(uuid.uuid4()), payload=b"{}", invoked_arn=spec.function_arn
    )
    result = await pool.invoke(spec, request)
    assert result.function_error is None, result.payload
    body: dict[str, object] = json.loads(result.payload)
    return body


@pytest.fixture
def code_dir(tmp_path: Path) -> str:
    if os.geteuid() != 0:
        pytest.skip("the sandbox needs root")
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(APP)
    os.chmod(code, 0o755)
    os.chmod(code / "app.py", 0o644)
    return str(code)


def test_a_standby_gets_the_credentials_of_the_function_that_adopts_it(
    tmp_path: Path, code_dir: str
) -> None:
    source = Source(lifetime_s=3600)

    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        pool = EnvironmentPool(backend, credentials=source)
        try:
            first = await _invoke(pool, _spec(code_dir, "first"))  # asks for standbys
            assert first["env"] == {
                "AWS_ACCESS_KEY_ID": "ASIATEST000000000001",
                "AWS_SECRET_ACCESS_KEY": "secret-1".ljust(40, "x"),
                "AWS_SESSION_TOKEN": "token-1",
            }
            deadline = time.monotonic() + 30
            while not backend._standby.get("python3.11"):
                assert time.monotonic() < deadline, "no standby got ready"
                await asyncio.sleep(0.05)
            standby = backend._standby["python3.11"][-1]
            second = await _invoke(pool, _spec(code_dir, "second"))
            adopted = [env for envs in pool._idle.values() for env in envs]
            assert standby.process in [env.process for env in adopted]
            assert second["env"] == {
                "AWS_ACCESS_KEY_ID": "ASIATEST000000000002",
                "AWS_SECRET_ACCESS_KEY": "secret-2".ljust(40, "x"),
                "AWS_SESSION_TOKEN": "token-2",
            }
            while not backend._standby.get("python3.11"):
                assert time.monotonic() < deadline, "no standby got ready"
                await asyncio.sleep(0.05)
            missing = await _invoke(pool, _spec(code_dir, "third", role="missing"))
            assert missing["env"] == dict.fromkeys(first["env"])
        finally:
            await pool.close()

    asyncio.run(scenario())


def test_an_environment_whose_credentials_would_expire_is_replaced(
    tmp_path: Path, code_dir: str
) -> None:
    # Long enough for two invocations in a row; then too short for one more.
    spare_s = 2.0
    source = Source(lifetime_s=TIMEOUT_S + CREDENTIALS_MARGIN_S + spare_s)

    async def scenario() -> None:
        pool = EnvironmentPool(
            SandboxBackend(str(tmp_path / "state"), lambda *a: None), credentials=source
        )
        spec = _spec(code_dir, "rotating")
        try:
            first = await _invoke(pool, spec)
            again = await _invoke(pool, spec)
            if source.asked == ["rotating"]:  # the two ran within the spare time: warm
                assert again["environment"] == first["environment"]
                assert again["env"] == first["env"]
            await asyncio.sleep(spare_s)
            later = await _invoke(pool, spec)
            assert later["environment"] != first["environment"]
            assert later["env"] != first["env"]
            assert source.asked[-1] == "rotating" and len(source.asked) >= 2
        finally:
            await pool.close()

    asyncio.run(scenario())
