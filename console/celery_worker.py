"""How a Celery worker is started, in one place (no Django or Celery import: the benchmarks
use it too)."""

from __future__ import annotations

import sys
from pathlib import Path


def worker_command(
    schedule: Path, *, loglevel: str = "warning", concurrency: int = 1, hostname: str = ""
) -> list[str]:
    """The command line of a Celery worker with beat, as `serve` (embedded), the tests and
    the benchmarks start one; ``schedule`` is beat's state file."""
    command = [sys.executable, "-m", "celery", "-A", "console", "worker", "--beat"]
    command += ["--loglevel", loglevel, "--concurrency", str(concurrency)]
    if hostname:
        command += ["--hostname", hostname]
    return [*command, "--schedule", str(schedule)]
