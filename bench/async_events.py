"""Asynchronous (Event) invokes per second end to end, on both profiles, beside a baseline.

    python bench/async_events.py [--events N] [--threads T] [--concurrency C]
                                 [--profiles embedded,scaled] [--pg-url URL] [--redis-url URL]

For each profile a fresh server (and, on the scaled profile, a fresh PostgreSQL database,
an empty Redis database and a Celery worker started beside it) runs one trivial Python
function, warmed up on both paths first. Then, from ``T`` boto3 client threads:

- baseline: ``N`` synchronous ``RequestResponse`` invokes of the same function against the
  same server (invokes/s; measured before and after the events, the mean is the baseline);
- events: ``N`` ``InvocationType="Event"`` invokes; the clock runs from the first one sent
  until the last event's ``Finished`` time, as ``GET /_functory/async-invocations`` reports
  it once every event has succeeded (polled cheaply, so polling neither paces nor perturbs
  the figure much). Also reported: accepts/s (the 202s alone), each event's
  ``Finished - Created`` latency, and from the worker's own log how much of the window
  the tasks themselves took (the rest is broker and dispatch). A task claims a batch of
  its function's due events (``FUNCTORY_ASYNC_BATCH``), so the messages of events a batch
  already ran end at once: the task p50 is mostly theirs, the busy fraction counts all.

The listing returns at most 1,000 rows, so ``N`` is at most 1,000. The scaled profile uses
Redis database 13 by default (the tests use 7); it must be empty, and is flushed after.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from common import ROOT, Server, SignedClient, hello_zip, lambda_client, server

sys.path.insert(0, str(ROOT))
from console.celery_worker import worker_command

ROLE = "arn:aws:iam::123456789012:role/bench"
FUNCTION = "noop"
LIST_PATH = "/_functory/async-invocations"
TASK_DONE = re.compile(r"Task invocations\.async_invocation_run\[[^]]+\] succeeded in ([0-9.e-]+)s")


def fan_out(srv: Server, threads: int, total: int, call: Callable[[Any, int], None]) -> float:
    """``total`` calls of ``call(client, n)`` from ``threads`` threads; returns the start
    time (``time.time()``) once every thread holds a connected client."""
    clients = [lambda_client(srv) for _ in range(threads)]
    barrier = threading.Barrier(threads + 1)
    errors: list[BaseException] = []

    def run(index: int) -> None:
        barrier.wait()
        try:
            for n in range(index, total, threads):
                call(clients[index], n)
        except BaseException as exc:  # reported by the caller, not lost in the thread
            errors.append(exc)

    workers = [threading.Thread(target=run, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    began = time.time()
    barrier.wait()
    for worker in workers:
        worker.join()
    if errors:
        raise errors[0]
    return began


def invoke_sync(client: Any, n: int) -> None:
    response = client.invoke(FunctionName=FUNCTION, Payload=json.dumps({"n": n}))
    assert response["StatusCode"] == 200 and "FunctionError" not in response, response
    response["Payload"].read()


def invoke_event(client: Any, n: int) -> None:
    response = client.invoke(
        FunctionName=FUNCTION, InvocationType="Event", Payload=json.dumps({"n": n})
    )
    assert response["StatusCode"] == 202, response


def sync_rate(srv: Server, threads: int, total: int) -> float:
    began = fan_out(srv, threads, total, invoke_sync)
    return total / (time.time() - began)


def listing(client: SignedClient, query: str) -> list[dict[str, Any]]:
    status, body, _ = client.send(client.prepare("GET", f"{LIST_PATH}?{query}"))
    assert status == 200, body
    rows: list[dict[str, Any]] = json.loads(body)["AsyncInvocations"]
    return rows


def wait_done(srv: Server, total: int, timeout: float) -> tuple[list[dict[str, Any]], float]:
    """The newest ``total`` events of the function once all have finished, and when that was
    first seen. Until none is queued only a one-row query is made."""
    client = SignedClient(srv)  # a new connection: the server closes idle ones after 5 s
    deadline = time.monotonic() + timeout
    while listing(client, f"FunctionName={FUNCTION}&Status=queued&MaxItems=1"):
        assert time.monotonic() < deadline, "events still queued at the deadline"
        time.sleep(0.1)
    while True:
        rows = listing(client, f"FunctionName={FUNCTION}&MaxItems={total}")
        if all(row["Status"] in ("succeeded", "failed") for row in rows):
            return rows, time.time()
        assert time.monotonic() < deadline, {row["Status"] for row in rows}
        time.sleep(0.05)


def epoch(value: str) -> float:
    return datetime.fromisoformat(value).timestamp()


def task_runtimes(log: Path) -> list[float]:
    """Runtimes of the worker's async invocation tasks, in order (its INFO log)."""
    text = log.read_text(errors="replace") if log.exists() else ""
    return [float(m.group(1)) for m in TASK_DONE.finditer(text)]


def measure(srv: Server, log: Path, args: argparse.Namespace) -> dict[str, float]:
    lam = lambda_client(srv)
    lam.create_function(
        FunctionName=FUNCTION,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": hello_zip()},
    )
    # Warm-up: environments for every client thread in the web process, the worker's
    # environment(s), and the first broker round trips.
    sync_rate(srv, args.threads, args.warmup)
    fan_out(srv, args.threads, args.warmup, invoke_event)
    wait_done(srv, args.warmup, timeout=300)
    warm_tasks = len(task_runtimes(log))

    before = sync_rate(srv, args.threads, args.events)
    began = fan_out(srv, args.threads, args.events, invoke_event)
    accepted = time.time()
    rows, seen = wait_done(srv, args.events, timeout=max(300.0, args.events))
    after = sync_rate(srv, args.threads, args.events)

    failed = [row for row in rows if row["Status"] != "succeeded"]
    assert not failed, failed[:3]
    assert len(rows) == args.events and all(epoch(row["Created"]) >= began for row in rows)
    finished = max(epoch(row["Finished"]) for row in rows)
    window = finished - began
    latencies = sorted((epoch(r["Finished"]) - epoch(r["Created"])) * 1000 for r in rows)
    runtimes = task_runtimes(log)[warm_tasks:]
    baseline = (before + after) / 2
    events_per_s = args.events / window
    return {
        "sync_invokes_per_s": baseline,
        "sync_invokes_per_s_before": before,
        "sync_invokes_per_s_after": after,
        "events_accepted_per_s": args.events / (accepted - began),
        "events_per_s": events_per_s,
        "ratio_to_sync": events_per_s / baseline,
        "window_s": window,
        "observed_after_s": seen - began,
        "event_latency_p50_ms": statistics.median(latencies),
        "event_latency_p99_ms": latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))],
        "retried_events": float(sum(1 for row in rows if row["Attempts"] > 1)),
        "worker_tasks_logged": float(len(runtimes)),
        "worker_task_ms_p50": statistics.median(runtimes) * 1000 if runtimes else 0.0,
        "worker_busy_fraction": sum(runtimes) / (args.concurrency * window) if runtimes else 0.0,
    }


@contextmanager
def postgres_database(base_url: str) -> Iterator[str]:
    """A fresh database on the server ``base_url`` names, dropped afterwards."""
    import psycopg

    name = f"functory_bench_{uuid.uuid4().hex[:10]}"
    parts = urlsplit(base_url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def redis_database(url: str) -> Iterator[str]:
    """``url``'s Redis database, which must be empty (someone else's otherwise); flushed after."""
    import redis

    connection = redis.Redis.from_url(url)
    size = connection.dbsize()
    if size:
        raise SystemExit(f"{url} holds {size} keys: pick an unused database with --redis-url")
    try:
        yield url
    finally:
        connection.flushdb()
        connection.close()


@contextmanager
def celery_worker(srv: Server, concurrency: int, log: Path) -> Iterator[None]:
    """The scaled profile's worker, as an operator runs it: its own process, beside the web."""
    data_dir = Path(srv.env["FUNCTORY_DATA_DIR"])
    with open(log, "wb") as output:
        process = subprocess.Popen(
            worker_command(
                data_dir / "celerybeat-schedule-bench",
                loglevel="info",
                concurrency=concurrency,
                hostname=f"bench-{uuid.uuid4().hex[:6]}@%h",
            ),
            env=srv.env,
            cwd=ROOT,
            stdout=output,
            stderr=subprocess.STDOUT,
        )
        try:
            yield
        finally:
            process.terminate()
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


def run_embedded(args: argparse.Namespace) -> dict[str, float]:
    env = {
        # Nothing of the scaled profile leaks in from the caller's environment.
        "REDIS_URL": "",
        "CELERY_BROKER_URL": "",
        "CELERY_CONCURRENCY": str(args.concurrency),
        "CELERY_LOG_LEVEL": "info",
    }
    with server(env) as srv:
        # The embedded worker writes to the server's log (it inherits its stdout).
        return measure(srv, Path(srv.env["FUNCTORY_DATA_DIR"]) / "server.log", args)


def run_scaled(args: argparse.Namespace) -> dict[str, float]:
    with postgres_database(args.pg_url) as database, redis_database(args.redis_url) as redis:
        env = {
            "DATABASE_URL": database,
            "REDIS_URL": redis,
            "CELERY_BROKER_URL": redis,
            "FUNCTORY_EMBEDDED_WORKER": "0",
        }
        with server(env) as srv:
            log = Path(srv.env["FUNCTORY_DATA_DIR"]) / "worker.log"
            with celery_worker(srv, args.concurrency, log):
                return measure(srv, log, args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=500, help="events per profile (<= 1000)")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--threads", type=int, default=4, help="boto3 client threads")
    parser.add_argument("--concurrency", type=int, default=1, help="Celery worker processes")
    parser.add_argument("--profiles", default="embedded,scaled")
    parser.add_argument("--pg-url", default="postgres://postgres@127.0.0.1:5432/postgres")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    if not 1 <= args.events <= 1000 or not 1 <= args.warmup <= 1000:
        parser.error("--events and --warmup must be between 1 and 1000 (the listing's limit)")

    runners = {"embedded": run_embedded, "scaled": run_scaled}
    results = {name: runners[name](args) for name in args.profiles.split(",")}

    print(
        f"\nAsync events end to end: {args.events} events, {args.threads} client threads, "
        f"Celery worker concurrency {args.concurrency}"
    )
    print(
        f"  {'profile':<10}{'sync inv/s':>12}{'accepts/s':>11}{'events/s':>10}{'ratio':>8}"
        f"{'latency p50':>13}{'p99':>10}{'task p50':>10}{'busy':>7}"
    )
    for name, r in results.items():
        print(
            f"  {name:<10}{r['sync_invokes_per_s']:>12.0f}{r['events_accepted_per_s']:>11.0f}"
            f"{r['events_per_s']:>10.1f}{r['ratio_to_sync']:>8.1%}"
            f"{r['event_latency_p50_ms']:>10.0f} ms{r['event_latency_p99_ms']:>7.0f} ms"
            f"{r['worker_task_ms_p50']:>7.1f} ms{r['worker_busy_fraction']:>7.0%}"
        )
    print(
        "  events/s: first Event invoke sent -> last event Finished; ratio: events/s over the "
        "synchronous invokes/s of the same function and server; busy: task time / window;"
        " task p50: per Celery message (most find their event already run by a batch)"
    )
    print(json.dumps({"events": args.events, "threads": args.threads, **results}, indent=2))


if __name__ == "__main__":
    main()
