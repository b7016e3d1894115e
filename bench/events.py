"""SQS messages per second through a no-op function beside Event invokes per second of the
same function, in one run, and the latency from a message sent to its handler started.

    python bench/events.py [--messages N] [--events N] [--samples N] [--threads T]
                           [--batch-size B] [--concurrency C]

One fresh embedded-profile server reads SQS at a fresh moto server (started here). Its
no-op Python function is warmed up on every path first. Then:

- events: ``N`` ``InvocationType="Event"`` invokes from ``T`` boto3 threads, clocked from
  the first one sent until the last event's ``Finished`` (as ``bench/async_events.py``);
- SQS: ``N`` messages sent from 4 threads (``SendMessageBatch``) to a queue whose mapping
  (BatchSize ``B``, MaximumConcurrency ``C``) consumes them meanwhile; the clock runs from
  the first send until the queue is empty (nothing visible, nothing in flight: every
  message deleted after its batch succeeded). The send rate is reported beside it: when
  the two are close, the poller kept up with the senders;
- latency: ``S`` messages sent one at a time, 50 ms apart, each carrying its send time
  (taken just before SendMessage); a second function prints ``now - sent`` when its
  handler starts, read back with FilterLogEvents. p50 and p99.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import threading
import time
from typing import Any

from async_events import fan_out, invoke_event, invoke_sync, wait_done
from common import ROOT, hello_zip, lambda_client, moto_server, server

ROLE = "arn:aws:iam::123456789012:role/bench"
FUNCTION = "noop"  # the name async_events' listing waits on
PROBE = "probe"
PROBE_CODE = """
import time
def handler(event, context):
    now = time.time()
    for record in event["Records"]:
        print("latency-ms", (now - float(record["body"])) * 1000)
"""
PEER = {"aws_access_key_id": "bench", "aws_secret_access_key": "bench", "region_name": "us-east-1"}


def sqs_client(url: str) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client("sqs", endpoint_url=url, config=Config(max_pool_connections=16), **PEER)


def code_zip(code: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", code)
    return buffer.getvalue()


def new_queue(sqs: Any, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def fill(sqs: Any, url: str, total: int, threads: int = 4) -> None:
    def send(index: int) -> None:
        for start in range(index * 10, total, threads * 10):
            entries = [
                {"Id": str(n), "MessageBody": json.dumps({"n": start + n})}
                for n in range(min(10, total - start))
            ]
            assert not sqs.send_message_batch(QueueUrl=url, Entries=entries).get("Failed")

    workers = [threading.Thread(target=send, args=(i,)) for i in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()


def backlog(sqs: Any, url: str) -> int:
    values = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(values["ApproximateNumberOfMessages"]) + int(
        values["ApproximateNumberOfMessagesNotVisible"]
    )


def wait_state(lam: Any, mapping: str, state: str) -> None:
    deadline = time.monotonic() + 60
    while lam.get_event_source_mapping(UUID=mapping)["State"] != state:
        assert time.monotonic() < deadline, f"the mapping never became {state}"
        time.sleep(0.05)


def drain(sqs: Any, url: str, timeout: float) -> float:
    """Wait until the queue is empty; returns when that was first seen (time.time())."""
    deadline = time.monotonic() + timeout
    while backlog(sqs, url):
        assert time.monotonic() < deadline, "the queue was not drained in time"
        time.sleep(0.05)
    return time.time()


def sqs_rate(lam: Any, sqs: Any, args: argparse.Namespace) -> dict[str, float]:
    url, arn = new_queue(sqs, "bench-throughput")
    params: dict[str, Any] = {"BatchSize": args.batch_size}
    if args.batch_size > 10:
        params["MaximumBatchingWindowInSeconds"] = 1
    if args.concurrency:
        params["ScalingConfig"] = {"MaximumConcurrency": args.concurrency}
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=FUNCTION, **params)
    wait_state(lam, mapping["UUID"], "Enabled")
    # Warm-up: the poller's environments and connections.
    fill(sqs, url, args.warmup * 10)
    drain(sqs, url, timeout=300)
    # Sent while the mapping consumes: moto's ReceiveMessage scans the whole queue many
    # times over (about 0.5 ms per message waiting), so a backlog sent ahead would measure
    # moto, not the poller.
    began = time.time()
    fill(sqs, url, args.messages)
    sent = time.time()
    emptied = drain(sqs, url, timeout=max(300.0, args.messages / 10))
    window = emptied - began
    lam.delete_event_source_mapping(UUID=mapping["UUID"])
    return {
        "sqs_messages_per_s": args.messages / window,
        "sqs_sent_per_s": args.messages / (sent - began),
        "sqs_window_s": window,
    }


def event_rate(srv: Any, args: argparse.Namespace) -> dict[str, float]:
    from datetime import datetime

    fan_out(srv, args.threads, args.warmup, invoke_event)
    wait_done(srv, args.warmup, timeout=300)
    began = fan_out(srv, args.threads, args.events, invoke_event)
    rows, _ = wait_done(srv, args.events, timeout=max(300.0, args.events))
    assert all(row["Status"] == "succeeded" for row in rows)
    finished = max(datetime.fromisoformat(row["Finished"]).timestamp() for row in rows)
    return {"event_invokes_per_s": args.events / (finished - began)}


def latency(lam: Any, logs: Any, sqs: Any, args: argparse.Namespace) -> dict[str, float]:
    lam.create_function(
        FunctionName=PROBE,
        Runtime="python3.11",
        Handler="app.handler",
        Role=ROLE,
        Code={"ZipFile": code_zip(PROBE_CODE)},
    )
    url, arn = new_queue(sqs, "bench-latency")
    mapping = lam.create_event_source_mapping(EventSourceArn=arn, FunctionName=PROBE)
    wait_state(lam, mapping["UUID"], "Enabled")
    for _ in range(5):  # warm-up: a warm environment and a long poll waiting
        sqs.send_message(QueueUrl=url, MessageBody=repr(time.time()))
        time.sleep(0.2)
    drain(sqs, url, timeout=60)
    time.sleep(1)
    skip = len(latency_lines(logs))
    for _ in range(args.samples):
        sqs.send_message(QueueUrl=url, MessageBody=repr(time.time()))
        time.sleep(0.05)
    drain(sqs, url, timeout=120)
    deadline = time.monotonic() + 60
    while len(lines := latency_lines(logs)) < skip + args.samples:
        assert time.monotonic() < deadline, "latency lines missing"
        time.sleep(0.5)
    samples = sorted(lines[skip:])
    return {
        "latency_p50_ms": statistics.median(samples),
        "latency_p99_ms": samples[min(len(samples) - 1, int(len(samples) * 0.99))],
        "latency_samples": float(len(samples)),
    }


def latency_lines(logs: Any) -> list[float]:
    found: list[tuple[int, float]] = []
    try:
        for page in logs.get_paginator("filter_log_events").paginate(
            logGroupName=f"/aws/lambda/{PROBE}", filterPattern='"latency-ms"'
        ):
            for event in page["events"]:
                if event["message"].startswith("latency-ms"):
                    found.append((event["timestamp"], float(event["message"].split()[1])))
    except logs.exceptions.ResourceNotFoundException:
        return []
    return [value for _, value in sorted(found, key=lambda item: item[0])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=5000, help="SQS messages")
    parser.add_argument("--events", type=int, default=500, help="Event invokes (<= 1000)")
    parser.add_argument("--samples", type=int, default=200, help="latency samples")
    parser.add_argument("--warmup", type=int, default=40)
    parser.add_argument("--threads", type=int, default=4, help="boto3 client threads (events)")
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=0, help="MaximumConcurrency")
    args = parser.parse_args()
    if not 1 <= args.events <= 1000:
        parser.error("--events must be between 1 and 1000 (the listing's limit)")

    with moto_server() as peer_url:
        env = {
            "FUNCTORY_AWS_ENDPOINT_URL": peer_url,
            "FUNCTORY_AWS_ACCESS_KEY_ID": "bench",
            "FUNCTORY_AWS_SECRET_ACCESS_KEY": "bench",
            "REDIS_URL": "",
            "CELERY_BROKER_URL": "",
        }
        with server(env) as srv:
            lam = lambda_client(srv)
            import boto3

            logs = boto3.client(
                "logs",
                endpoint_url=srv.url,
                region_name="us-east-1",
                aws_access_key_id=srv.credentials.access_key,
                aws_secret_access_key=srv.credentials.secret_key,
            )
            sqs = sqs_client(peer_url)
            lam.create_function(
                FunctionName=FUNCTION,
                Runtime="python3.11",
                Handler="app.handler",
                Role=ROLE,
                Code={"ZipFile": hello_zip()},
            )
            fan_out(srv, args.threads, args.warmup, invoke_sync)
            results: dict[str, float] = {}
            results.update(event_rate(srv, args))
            results.update(sqs_rate(lam, sqs, args))
            results.update(latency(lam, logs, sqs, args))

    results["sqs_to_event_ratio"] = results["sqs_messages_per_s"] / results["event_invokes_per_s"]
    concurrency = args.concurrency or "default"
    print(
        f"\nEvent sources: {args.messages} SQS messages (BatchSize {args.batch_size}, "
        f"MaximumConcurrency {concurrency}) vs {args.events} Event invokes "
        f"({args.threads} threads), one no-op function, one server"
    )
    print(f"  SQS messages/s        {results['sqs_messages_per_s']:10.0f}")
    print(f"  SQS sent/s            {results['sqs_sent_per_s']:10.0f}")
    print(f"  Event invokes/s       {results['event_invokes_per_s']:10.1f}")
    print(f"  messages/s / events/s {results['sqs_to_event_ratio']:10.2f}")
    print(
        f"  sent -> handler started: p50 {results['latency_p50_ms']:.1f} ms, "
        f"p99 {results['latency_p99_ms']:.1f} ms (n={int(results['latency_samples'])})"
    )
    print(json.dumps({"args": vars(args), **results}, indent=2))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    main()
