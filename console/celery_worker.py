"""How a Celery worker is started, in one place (no Django or Celery import: the benchmarks
use it too)."""

from __future__ import annotations

import sys
from pathlib import Path


def worker_command(
    schedule: Path,
    *,
    loglevel: str = "warning",
    concurrency: int = 1,
    hostname: str = "",
    quiet: bool = False,
) -> list[str]:
    """The command line of a Celery worker with beat, as `serve` (embedded), the tests and
    the benchmarks start one; ``schedule`` is beat's state file. ``quiet`` leaves out
    Celery's start-up banner (warnings and errors are still logged)."""
    command = [sys.executable, "-m", "celery", "-A", "console"]
    command += ["--quiet"] if quiet else []
    command += ["worker", "--beat"]
    command += ["--loglevel", loglevel, "--concurrency", str(concurrency)]
    if hostname:
        command += ["--hostname", hostname]
    return [*command, "--schedule", str(schedule)]
