"""FilterLogEvents over 1,000,000 events, and log ingest throughput.

    python bench/logs_filter.py [--events N] [--repeat N] [--postgres URL]

Starts a fresh embedded server, loads N events (1% of them containing ``ERROR``, spread
over ten streams and the last ten days) straight into its database through
``log_batches_store`` (the executor's batch path), then times through the HTTP API:

- FilterLogEvents, newest 100 matches of ``ERROR`` (target <= 200 ms at 1M events);
- the same for a rarer term, a phrase, and newest 100 events with no pattern;
- ingest: lines/s through ``log_batches_store`` with the search index written and, as the
  in-run baseline, with its writes left out (alternating 10,000-line batches, so both see
  the same machine and the same database size); and through PutLogEvents (10,000-line
  batches signed by boto3).

``--postgres postgres://user@host/db`` runs the server on that PostgreSQL server, in a
database ``functory_bench_logs`` created (and dropped) for the run.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

from common import percentiles, report, server

ROOT = Path(__file__).resolve().parent.parent
GROUP = "/aws/lambda/bench"
DAY_MS = 86_400_000


def _django(env: dict[str, str]) -> None:
    os.environ.update(FUNCTORY_DATA_DIR=env["FUNCTORY_DATA_DIR"])
    if "DATABASE_URL" in env:
        os.environ["DATABASE_URL"] = env["DATABASE_URL"]
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "console.settings")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def _batches(account_id: str, offset: int, total: int, start_ts: int, step: int) -> list[Any]:
    from monitoring.batches import LogBatch

    batches = []
    for stream in range(10):
        events = []
        for i in range(offset + stream, min(offset + BATCH, total), 10):
            kind = "ERROR" if i % 200 in (0, 1) else ("FATAL" if i % 10_000 == 5 else "INFO")
            events.append((start_ts + i * step, _line(kind, i)))
        if events:
            batches.append(
                LogBatch(account_id, GROUP, f"2024/01/01/[$LATEST]{stream:032x}", events)
            )
    return batches


def _line(kind: str, i: int) -> str:
    if i % 2:
        return f"{kind} request {i} handled in {i % 97} ms"
    return f'{{"level": "{kind}", "request": {i}, "ms": {i % 97}, "path": "/items/{i % 50}"}}'


BATCH = 10_000


def load(account_id: str, total: int) -> tuple[float, float]:
    """Store ``total`` events in 10,000-line batches, and as many again into another group
    with the search index's writes left out (alternating); lines per second of each."""
    from monitoring import search_index
    from monitoring.batches import LogBatch
    from monitoring.services import log_batches_store

    now = int(time.time() * 1000)
    start_ts = now - 10 * DAY_MS
    step = max(1, (10 * DAY_MS) // total)
    indexed = bare = 0.0
    keep = search_index.blocks_store
    for offset in range(0, total, BATCH):
        batches = _batches(account_id, offset, total, start_ts, step)
        began = time.perf_counter()
        log_batches_store(batches)
        indexed += time.perf_counter() - began
        elsewhere = [LogBatch(b.account_id, GROUP + "-bare", b.stream, b.events) for b in batches]
        search_index.blocks_store = lambda *args: None
        try:
            began = time.perf_counter()
            log_batches_store(elsewhere)
            bare += time.perf_counter() - began
        finally:
            search_index.blocks_store = keep
    return total / indexed, total / bare


def _database(url: str, create: bool) -> str:
    import psycopg

    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute("DROP DATABASE IF EXISTS functory_bench_logs WITH (FORCE)")
        if create:
            admin.execute("CREATE DATABASE functory_bench_logs")
    return url.rsplit("/", 1)[0] + "/functory_bench_logs"


def logs_client(srv: Any) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "logs",
        endpoint_url=srv.url,
        region_name="us-east-1",
        aws_access_key_id=srv.credentials.access_key,
        aws_secret_access_key=srv.credentials.secret_key,
        config=Config(retries={"max_attempts": 1}),
    )


def timed(fn: Any, n: int) -> list[float]:
    samples = []
    for _ in range(n):
        began = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--postgres", help="a PostgreSQL server's URL (default: SQLite)")
    args = parser.parse_args()
    extra = {"DATABASE_URL": _database(args.postgres, True)} if args.postgres else {}
    try:
        run(args, extra)
    finally:
        if args.postgres:
            _database(args.postgres, False)


def run(args: Any, extra: dict[str, str]) -> None:
    with server(extra) as srv:
        _django(srv.env)
        indexed, bare = load(srv.account_id, args.events)
        print(
            f"loaded {args.events:,} events via log_batches_store: {indexed:,.0f} lines/s with "
            f"the search index, {bare:,.0f} without ({indexed / bare:.2f}x)"
        )
        logs = logs_client(srv)

        def newest(pattern: str | None, limit: int = 100) -> Any:
            kwargs: dict[str, Any] = {"logGroupName": GROUP, "limit": limit, "startFromHead": False}
            if pattern is not None:
                kwargs["filterPattern"] = pattern
            response = logs.filter_log_events(**kwargs)
            assert response["events"], pattern
            return response

        rows = []
        for label, pattern in (
            ("newest 100 matches of ERROR (1%)", "ERROR"),
            ("newest 100 matches of FATAL (0.01%)", "FATAL"),
            ('newest 100 of "ERROR request" -7', '"ERROR request" -7'),
            ("newest 100 of a 0.0001% request id", '"request 4243 "'),
            (
                'JSON { $.level = "ERROR" && $.ms > 50 } (0.2%)',
                '{ $.level = "ERROR" && $.ms > 50 }',
            ),
            (
                "space-delimited [level=ERROR, w, id, ..., ms>50, unit]",
                "[level=ERROR, w, id, ..., ms>50, unit]",
            ),
            ("newest 100 events, no pattern", None),
        ):
            newest(pattern)  # warm the page cache
            rows.append((label, percentiles(timed(lambda p=pattern: newest(p), args.repeat))))
        report(f"FilterLogEvents over {args.events:,} events (boto3 round trip)", rows)

        logs.create_log_stream(logGroupName=GROUP, logStreamName="put")
        lines, batches = 10_000, 10
        began = time.perf_counter()
        for n in range(batches):
            now = int(time.time() * 1000)
            logs.put_log_events(
                logGroupName=GROUP,
                logStreamName="put",
                logEvents=[
                    {"timestamp": now, "message": f"INFO put {n} line {i} of the batch"}
                    for i in range(lines)
                ],
            )
        put_rate = lines * batches / (time.perf_counter() - began)
        print(f"\ningest through PutLogEvents (10,000-line batches): {put_rate:,.0f} lines/s")


if __name__ == "__main__":
    main()
