"""The embedded profile's broker: a worker reading while the server writes receives every
message whole (kombu's own filesystem channel hands out files mid-write, read as empty)."""

from __future__ import annotations

import multiprocessing
import time
from pathlib import Path
from typing import Any

from kombu import Connection

TRANSPORT = "console.broker:Transport"
MESSAGES = 3000


def _options(folder: Path) -> dict[str, Any]:
    (folder / "processed").mkdir(parents=True, exist_ok=True)
    return {
        "data_folder_in": str(folder),
        "data_folder_out": str(folder),
        "data_folder_processed": str(folder / "processed"),
        "control_folder": str(folder / "control"),
    }


def _write(options: dict[str, Any]) -> None:
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as c:
        queue = c.SimpleQueue("events")
        for n in range(MESSAGES):
            queue.put({"n": n})


def _read(options: dict[str, Any], results: Any) -> None:
    received: list[int] = []
    # Until the writer has been quiet this long (its spawn alone is slow on a loaded host).
    deadline = time.monotonic() + 60
    with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as c:
        queue = c.SimpleQueue("events")
        while len(received) < MESSAGES and time.monotonic() < deadline:
            try:
                message = queue.get(timeout=0.001)
            except queue.Empty:
                continue
            except Exception as exc:  # what kombu's own channel raises on a file mid-write
                results.put(("error", repr(exc)))
                return
            received.append(message.payload["n"])
            message.ack()
            deadline = time.monotonic() + 30
    results.put(("received", received))


def test_a_worker_reading_while_the_server_writes_receives_every_message_whole(
    tmp_path: Path,
) -> None:
    context = multiprocessing.get_context("spawn")
    for round_ in range(5):
        options = _options(tmp_path / str(round_))
        # Declared first, as the worker does when it starts.
        with Connection("filesystem://", transport=TRANSPORT, transport_options=options) as c:
            c.SimpleQueue("events").close()
        results = context.Queue()
        reader = context.Process(target=_read, args=(options, results))
        writer = context.Process(target=_write, args=(options,))
        reader.start()
        writer.start()
        outcome = results.get(timeout=180)
        writer.join(30)
        reader.join(30)
        assert outcome[0] == "received", outcome
        assert sorted(outcome[1]) == list(range(MESSAGES))
