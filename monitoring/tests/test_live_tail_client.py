"""The console's live-tail client (``frontend/src/_livetail.mjs``) under Node's test runner:
every line shown once across early sends, confirmations and reconnects."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_the_consoles_live_tail_client_shows_each_line_once() -> None:
    node = shutil.which("node")
    if node is None:
        pytest.fail("node is needed for the console's JavaScript tests (scripts/bootstrap.sh)")
    result = subprocess.run(
        [node, "--test", str(ROOT / "frontend" / "tests" / "livetail.test.mjs")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "# fail 0" in result.stdout and "# pass 0" not in result.stdout
