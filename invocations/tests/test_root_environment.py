"""What reaches the programs that run as root for a sandbox (bwrap on the host, setpriv
inside): nothing glibc's loader or libc acts on, not even the platform's own defaults, which
name folders the tenant fills (/var/task, /opt/lib)."""

from __future__ import annotations

import pytest

from invocations.executor.sandbox import (
    DEFAULT_LD_LIBRARY_PATH,
    _host_env,
    hold_loader_variables,
)

pytestmark = pytest.mark.one_profile

DEFAULTS = {
    "LD_LIBRARY_PATH": DEFAULT_LD_LIBRARY_PATH,
    "LANG": "C.UTF-8",
    "TZ": ":UTC",
    "PATH": "/usr/local/bin:/usr/bin/:/bin:/opt/bin",
    "AWS_LAMBDA_RUNTIME_API": "127.0.0.1:9001",
}


def test_the_default_library_path_is_held_back_from_root_programs() -> None:
    held = hold_loader_variables(DEFAULTS)
    assert held["LD_LIBRARY_PATH"] == DEFAULT_LD_LIBRARY_PATH
    root_env = _host_env(DEFAULTS, held)
    assert "LD_LIBRARY_PATH" not in root_env
    assert root_env["PATH"] == DEFAULTS["PATH"]


@pytest.mark.parametrize(
    "name",
    [
        "LD_PRELOAD",
        "LD_AUDIT",
        "GCONV_PATH",
        "MALLOC_ARENA_MAX",
        "LC_ALL",
        "LC_CTYPE",
        "LANG",
        "LANGUAGE",
        "TZ",
        "GLIBC_TUNABLES",
        "LOCPATH",
    ],
)
def test_a_tenants_loader_and_locale_variables_are_held_back(name: str) -> None:
    env = {**DEFAULTS, name: "/var/task/evil"}
    assert name not in _host_env(env, hold_loader_variables(env))


def test_ordinary_variables_pass() -> None:
    env = {**DEFAULTS, "TABLE_NAME": "orders"}
    assert _host_env(env, hold_loader_variables(env))["TABLE_NAME"] == "orders"
