"""A Ruby function adopted by a standby environment (booted with the interpreter loaded
and no function) gets what a cold start gives it: its variables, its code on the load path
and its vendored gems on the GEM_PATH of its runtime name."""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path

import pytest

from invocations.executor.pool import EnvironmentPool
from invocations.executor.sandbox import SandboxBackend
from invocations.executor.spec import EnvironmentSpec, InvokeRequest

pytestmark = [pytest.mark.sandbox, pytest.mark.one_profile]

APP = """\
require 'securerandom'
require 'tinygem'

ENVIRONMENT = SecureRandom.hex # one per environment: which one ran

def handler(event:, context:)
  { environment: ENVIRONMENT, shout: TinyGem.shout(ENV['GREETING']), name: context.function_name,
    gem_path: ENV['GEM_PATH'].split(':').first(2), cwd: Dir.pwd }
end
"""
GEM_SPEC = """\
Gem::Specification.new do |s|
  s.name = 'tinygem'
  s.version = '0.1.0'
  s.summary = 'a test gem'
  s.authors = ['functory']
  s.files = ['lib/tinygem.rb']
end
"""


def _spec(code_dir: str, name: str) -> EnvironmentSpec:
    return EnvironmentSpec(
        function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
        function_name=name,
        version="$LATEST",
        runtime="ruby3.2",
        handler="app.handler",
        memory_mb=256,
        timeout_s=5,
        code_dir=code_dir,
        layers_dir=None,
        log_group=f"/aws/lambda/{name}",
        account_id="123456789012",
        environment=(("GREETING", f"hello {name}"),),
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
    gem = code / "vendor/bundle/ruby/3.2.0"
    files = {
        code / "app.rb": APP,
        gem / "gems/tinygem-0.1.0/lib/tinygem.rb": "module TinyGem\n"
        "  def self.shout(text) = text.upcase\nend\n",
        gem / "specifications/tinygem-0.1.0.gemspec": GEM_SPEC,
    }
    for path, text in files.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    for path in [code, *code.rglob("*")]:
        os.chmod(path, 0o755 if path.is_dir() else 0o644)
    return str(code)


def test_a_ruby_standby_is_adopted_with_the_functions_variables_code_and_gems(
    tmp_path: Path, code_dir: str
) -> None:
    async def scenario() -> None:
        backend = SandboxBackend(str(tmp_path / "state"), lambda *a: None)
        pool = EnvironmentPool(backend)
        try:
            first = await _invoke(pool, _spec(code_dir, "first"))  # asks for standbys
            deadline = time.monotonic() + 30
            while not backend._standby.get("ruby3.2"):
                assert time.monotonic() < deadline, "no standby got ready"
                await asyncio.sleep(0.05)
            standby = backend._standby["ruby3.2"][-1]
            second = await _invoke(pool, _spec(code_dir, "second"))
            adopted = [env for envs in pool._idle.values() for env in envs]
            assert standby.process in [env.process for env in adopted]
            assert second["environment"] != first["environment"]
            expected = {
                "shout": "HELLO SECOND",
                "name": "second",
                "gem_path": ["/var/task/vendor/bundle/ruby/3.2.0", "/opt/ruby/gems/3.2.0"],
                "cwd": "/var/task",
            }
            assert {key: second[key] for key in expected} == expected
        finally:
            await pool.close()

    asyncio.run(scenario())
