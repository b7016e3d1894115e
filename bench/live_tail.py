"""print() in a function → the line on a live-tail WebSocket: latency p50/p99.

    python bench/live_tail.py [--n 200] [--pause SECONDS]

A function prints ``time.time()``; a WebSocket client subscribed to its log group records
when each line arrives. Both clocks are this machine's, so the difference is the latency.
Invocations follow each other at once (a busy function: the log writer's batching shows)
and ``--pause`` seconds apart (a quiet one; default 0.2 s), for a socket with ``early=1``
(the console's: lines as printed, ids once stored) and for one without (lines once stored).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import quote

import websockets
from common import ROOT, lambda_client, percentiles, report, server

PRINTER = "import time\ndef handler(event, context):\n    print('at', repr(time.time()))\n"


def _zip() -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", PRINTER)
    return buffer.getvalue()


async def measure(url: str, lam: object, n: int, pause: float = 0.0) -> list[float]:
    latencies: list[float] = []
    loop = asyncio.get_running_loop()
    async with websockets.connect(url) as socket:
        assert json.loads(await socket.recv())["type"] == "ready"
        for _ in range(n):
            await asyncio.sleep(pause)
            sent = time.time()
            await loop.run_in_executor(
                None,
                lambda: lam.invoke(FunctionName="printer", Payload=b"{}"),  # type: ignore[attr-defined]
            )
            while True:
                message = json.loads(await asyncio.wait_for(socket.recv(), 10))
                lines = [e.get("message", "") for e in message.get("events", [])]
                # Lines of earlier invocations still on their way (stored after the
                # previous socket closed) are not this one's.
                printed = [
                    line for line in lines if line.startswith("at ") and float(line[3:]) >= sent
                ]
                if printed:
                    latencies.append((time.time() - float(printed[-1][3:])) * 1000)
                    break
    return latencies


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    parser.add_argument("--pause", type=float, default=0.2)
    args = parser.parse_args()
    with server() as srv:
        lam = lambda_client(srv)
        lam.create_function(
            FunctionName="printer",
            Runtime="python3.11",
            Handler="app.handler",
            Role="arn:aws:iam::123456789012:role/bench",
            Code={"ZipFile": _zip()},
        )
        lam.invoke(FunctionName="printer", Payload=b"{}")
        time.sleep(0.5)
        token = (
            subprocess.run(
                [
                    sys.executable,
                    str(ROOT / "manage.py"),
                    "shell",
                    "-c",
                    "from monitoring.live import token_for; from iam.models import User; "
                    f"user = User.objects.get(account_id={srv.account_id!r}); "
                    f"print(token_for({srv.account_id!r}, '/aws/lambda/printer', "
                    "user_id=user.pk))",
                ],
                env=srv.env,
                capture_output=True,
                text=True,
                check=True,
                cwd=ROOT,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        url = (
            f"ws://{srv.host}:{srv.port}/ws/logs/?group={quote('/aws/lambda/printer')}"
            f"&token={quote(token)}"
        )
        rows = []
        for early in (True, False):
            socket_url = f"{url}&early=1" if early else url
            kind = "early=1 (console)" if early else "stored only"
            busy = asyncio.run(measure(socket_url, lam, args.n))
            quiet = asyncio.run(measure(socket_url, lam, args.n, args.pause))
            rows += [
                (f"{kind}, back-to-back invocations", percentiles(busy)),
                (f"{kind}, invocations {args.pause:g} s apart", percentiles(quiet)),
            ]
        report("print() -> line on the live-tail WebSocket (target p50 <= 20 ms)", rows)


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
