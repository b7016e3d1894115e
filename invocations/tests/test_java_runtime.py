"""The Java runtime's launch: JVM flags sized as AWS sizes them, and the catalog's answers."""

from __future__ import annotations

import subprocess

import pytest

from invocations.executor import catalog
from invocations.executor.catalog import RUNTIME_DIR, RuntimeUnavailable

BOOTSTRAP = RUNTIME_DIR / "java" / "bootstrap"


def _flags(memory: str, tool_options: str = "") -> list[str]:
    """The JVM's argv the bootstrap builds, with echo standing in for java."""
    env = {"AWS_LAMBDA_FUNCTION_MEMORY_SIZE": memory, "PATH": "/usr/bin:/bin"}
    if tool_options:
        env["JAVA_TOOL_OPTIONS"] = tool_options
    result = subprocess.run(
        ["/usr/bin/bash", str(BOOTSTRAP), "/usr/bin/echo"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return result.stdout.split()


def test_the_jvm_is_sized_from_the_functions_memory_as_on_aws():
    flags = _flags("256")
    assert flags[:8] == [
        "-XX:MaxHeapSize=222823k",  # what is left: AWS's figure for 256 MB
        "-XX:MaxMetaspaceSize=26214k",  # 10 %
        "-XX:ReservedCodeCacheSize=13107k",  # 5 %
        "-XX:+UseSerialGC",
        "-Xshare:auto",
        "-XX:+TieredCompilation",
        "-XX:TieredStopAtLevel=1",
        "-Djava.net.preferIPv4Stack=true",
    ]
    assert flags[-1] == "functory.lambda.Main"


def test_flags_the_function_sets_in_java_tool_options_are_not_overridden():
    flags = _flags("1024", "-Xmx300m -XX:+UseParallelGC -XX:TieredStopAtLevel=4")
    assert not any(flag.startswith("-XX:MaxHeapSize") for flag in flags)
    assert "-XX:+UseSerialGC" not in flags  # two collectors would stop the JVM
    assert "-XX:TieredStopAtLevel=1" not in flags
    assert "-XX:MaxMetaspaceSize=104857k" in flags


def test_a_malformed_memory_size_falls_back_to_the_default():
    assert _flags("12; rm -rf /")[0] == "-XX:MaxHeapSize=111412k"


def test_java_runtimes_name_the_missing_jdk(monkeypatch):
    monkeypatch.setattr(catalog, "java_binaries", lambda: {})
    with pytest.raises(RuntimeUnavailable, match=r"no Java 21 .*openjdk-21-jre-headless"):
        catalog.command_for("java21")


def test_java8_is_not_a_runtime_of_this_executor():
    with pytest.raises(RuntimeUnavailable, match="not supported"):
        catalog.command_for("java8.al2")


def test_java17_runs_the_platforms_client_with_the_hosts_jdk(monkeypatch):
    monkeypatch.setattr(catalog, "java_binaries", lambda: {"17": "/usr/lib/jvm/j17/bin/java"})
    command = catalog.command_for("java17")
    assert command.argv == (
        "/usr/bin/bash",
        "/var/runtime/java/bootstrap",
        "/usr/lib/jvm/j17/bin/java",
    )
    assert command.execution_env == "AWS_Lambda_java17"
