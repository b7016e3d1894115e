"""Another tenant's latency while one function attacks the platform (issue 10).

    python bench/abuse.py [--calls N] [--attack flood,print,forkbomb,busychild]

One server, two accounts. The victim's warm Invoke and GetFunction p50/p99 are measured with
no attacker, then again while the attacker's function runs each attack (in the same run, so
the ratio is what counts; target: victim p99 within 2x). The server's RSS and open fds are
sampled before, during and after each attack: they should stay flat.

Attacks (function code in the attacker's account):
- flood: 2,000 connections to the Runtime API, held;
- print: 100 MB written to stdout;
- forkbomb: fork until the pids limit, children spin;
- busychild: a child that spins after the handler returned.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import threading
import time
import zipfile
from typing import Any

from common import Server, lambda_client, percentiles, report, server

ROLE = "arn:aws:iam::123456789012:role/bench"

ATTACKS = {
    "flood": """
import os, socket, time
def handler(event, context):
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
    held = []
    for _ in range(2000):
        try:
            s = socket.create_connection((host, int(port)), timeout=1)
            held.append(s)
        except OSError:
            pass
    time.sleep(event.get("hold", 8))
    return len(held)
""",
    "print": """
import sys
def handler(event, context):
    line = "x" * 1023 + "\\n"
    block = line * 1024
    for _ in range(100):
        sys.stdout.write(block)
    sys.stdout.flush()
    return "printed"
""",
    "forkbomb": """
import os, time
def handler(event, context):
    end = time.time() + event.get("hold", 8)
    children = 0
    while time.time() < end:
        try:
            if os.fork() == 0:
                while time.time() < end:
                    pass
                os._exit(0)
            children += 1
        except OSError:
            time.sleep(0.01)
    return children
""",
    "busychild": """
import subprocess, sys
def handler(event, context):
    subprocess.Popen([sys.executable, "-c", "while True: pass"])
    return "left a child"
""",
}


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        info = zipfile.ZipInfo("app.py", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o644 << 16
        archive.writestr(info, source)
    return buffer.getvalue()


def _second_account(srv: Server) -> Any:
    from botocore.credentials import Credentials

    made = subprocess.run(
        [sys.executable, "manage.py", "createuser", "attacker", "--admin", "--access-key"],
        env=srv.env,
        capture_output=True,
        text=True,
        check=True,
        cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    )
    user = json.loads(made.stdout)
    other = Server(
        url=srv.url,
        host=srv.host,
        port=srv.port,
        env=srv.env,
        credentials=Credentials(user["AccessKeyId"], user["SecretAccessKey"]),
        account_id=user["AccountId"],
        pid=srv.pid,
    )
    return lambda_client(other)


def _resources(pid: int) -> tuple[float, int]:
    """The server process tree's RSS (MB) and open fds."""
    pids = [pid]
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as listing:
            pids += [int(child) for child in listing.read().split()]
    except OSError:
        pass
    rss_kb, fds = 0, 0
    for each in pids:
        try:
            with open(f"/proc/{each}/status") as status:
                for line in status:
                    if line.startswith("VmRSS:"):
                        rss_kb += int(line.split()[1])
            fds += len(os.listdir(f"/proc/{each}/fd"))
        except OSError:
            continue
    return rss_kb / 1024, fds


class Sampler(threading.Thread):
    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid = pid
        self.samples: list[tuple[float, int]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        while not self.stop.wait(0.2):
            self.samples.append(_resources(self.pid))

    def peak(self) -> tuple[float, int]:
        if not self.samples:
            return _resources(self.pid)
        return max(s[0] for s in self.samples), max(s[1] for s in self.samples)


def _victim_calls(lam: Any, calls: int) -> tuple[list[float], list[float]]:
    invokes, gets = [], []
    for _ in range(calls):
        start = time.perf_counter()
        lam.invoke(FunctionName="victim", Payload=b"{}")
        invokes.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        lam.get_function(FunctionName="victim")
        gets.append((time.perf_counter() - start) * 1000)
    return invokes, gets


def _create(lam: Any, name: str, source: str, **extra: Any) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime="python3.11",
        Role=ROLE,
        Handler="app.handler",
        Code={"ZipFile": _zip(source)},
        Timeout=60,
        **extra,
    )
    for _ in range(200):
        if lam.get_function(FunctionName=name)["Configuration"]["State"] == "Active":
            return
        time.sleep(0.05)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--attack", default=",".join(ATTACKS))
    args = parser.parse_args()
    wanted = [name for name in args.attack.split(",") if name]

    with server() as srv:
        victim = lambda_client(srv)
        attacker = _second_account(srv)
        _create(victim, "victim", "def handler(event, context):\n    return {'ok': True}\n")
        for name in wanted:
            _create(attacker, name, ATTACKS[name])
        _victim_calls(victim, 20)  # warm up
        base_invoke, base_get = _victim_calls(victim, args.calls)
        rows = [
            ("Invoke, no attacker", percentiles(base_invoke)),
            ("GetFunction, no attacker", percentiles(base_get)),
        ]
        ratios = []
        before = _resources(srv.pid)
        for name in wanted:
            sampler = Sampler(srv.pid)
            sampler.start()

            def attack(name: str = name) -> None:
                # The attacker's own result does not matter; only the victim's latency does.
                try:
                    attacker.invoke(FunctionName=name, Payload=b'{"hold": 8}')
                except Exception as error:
                    print(f"  ({name}: {type(error).__name__})")

            thread = threading.Thread(target=attack, daemon=True)
            thread.start()
            time.sleep(1.0)  # let the attack get going
            invokes, gets = _victim_calls(victim, args.calls)
            thread.join(timeout=120)
            if name == "busychild":
                # The attack is what runs after the handler returned: measure again now.
                more_invokes, more_gets = _victim_calls(victim, args.calls)
                invokes, gets = invokes + more_invokes, gets + more_gets
            sampler.stop.set()
            sampler.join()
            peak_rss, peak_fds = sampler.peak()
            after = _resources(srv.pid)
            inv, get = percentiles(invokes), percentiles(gets)
            rows.append((f"Invoke during {name}", inv))
            rows.append((f"GetFunction during {name}", get))
            ratios.append(
                f"  {name:<10} invoke p99 {inv['p99'] / percentiles(base_invoke)['p99']:.2f}x"
                f"  get p99 {get['p99'] / percentiles(base_get)['p99']:.2f}x"
                f"  rss {before[0]:.0f}->{peak_rss:.0f}->{after[0]:.0f} MB"
                f"  fds {before[1]}->{peak_fds}->{after[1]}"
            )
        report("victim latency (another account's function attacks)", rows)
        print("\nratios to the unattacked run (target p99 <= 2x; rss/fds flat)")
        print("\n".join(ratios))


if __name__ == "__main__":
    main()
