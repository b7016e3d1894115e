"""The ingest queue is bounded (output over it is dropped with a line saying so) and written
at once when quiet, about once an interval when busy."""

from __future__ import annotations

import time

import pytest

from iam.models import Account
from invocations.executor import logcaps
from invocations.executor.logcaps import IngestBudget
from monitoring import ingest as ingest_module
from monitoring.ingest import LogIngestor
from monitoring.models import LogEvent

ACCOUNT = "111122223333"
GROUP = "/aws/lambda/noisy"
NOW = 1_700_000_000_000


@pytest.mark.django_db(transaction=True)
def test_a_full_queue_drops_output_keeps_essential_lines_and_says_so() -> None:
    Account.objects.create(id=ACCOUNT)
    event_size = 10 + logcaps.EVENT_OVERHEAD_BYTES
    # Room for 2 lines of one account; the thread only drains when flushed.
    ingestor = LogIngestor(
        interval=60,
        budget=IngestBudget(max_bytes=4 * event_size, essential_reserve=event_size),
        eager=False,
    )
    ingestor.submit(ACCOUNT, GROUP, "s", [(NOW, "START line")], essential=True)
    ingestor.submit(ACCOUNT, GROUP, "s", [(NOW + i, f"output {i:03}") for i in range(100)])
    ingestor.submit(ACCOUNT, GROUP, "s", [(NOW + 200, "REPORT xxx")], essential=True)
    assert ingestor.flush(10)
    assert ingestor.flush(10)  # the notice is stored on the next round at the latest
    messages = list(
        LogEvent.objects.filter(group__name=GROUP).order_by("id").values_list("message", flat=True)
    )
    assert messages == [
        "START line",
        "output 000",
        "REPORT xxx",
        logcaps.overload_notice(99),
    ]
    assert ingestor.budget.pending == 0
    assert ingestor.budget.pending_by_account == {}


@pytest.mark.django_db(transaction=True)
def test_a_quiet_functions_line_is_stored_at_once_not_after_the_interval() -> None:
    Account.objects.create(id=ACCOUNT)
    ingestor = LogIngestor(interval=600)
    ingestor.submit(ACCOUNT, GROUP, "s", [(NOW, "first")])
    # Its first write comes at once; within the next 600 s it would not write again.
    deadline = time.monotonic() + 30
    while not LogEvent.objects.filter(message="first").exists():
        assert time.monotonic() < deadline, "the line waited for the interval"
        time.sleep(0.02)


@pytest.mark.django_db(transaction=True)
def test_a_busy_stream_is_written_about_once_an_interval(monkeypatch) -> None:
    Account.objects.create(id=ACCOUNT)
    writes: list[float] = []
    store = ingest_module.log_batches_store

    def counted(batches):
        writes.append(time.monotonic())
        return store(batches)

    monkeypatch.setattr(ingest_module, "log_batches_store", counted)
    ingestor = LogIngestor(interval=0.25)
    began = time.monotonic()
    for i in range(200):
        ingestor.submit(ACCOUNT, GROUP, "s", [(NOW + i, f"line {i}")])
        time.sleep(0.005)
    assert ingestor.flush(10)
    elapsed = time.monotonic() - began
    assert LogEvent.objects.filter(group__name=GROUP).count() == 200
    assert len(writes) <= elapsed / 0.25 + ingest_module.BURST + 1


@pytest.mark.django_db(transaction=True)
def test_a_flush_writes_at_once_even_while_the_writer_keeps_to_its_interval() -> None:
    """An asynchronous attempt flushes before it is recorded as done: a busy writer's
    pacing must not hold every attempt back by up to an interval."""
    Account.objects.create(id=ACCOUNT)
    ingestor = LogIngestor(interval=600)
    for i in range(ingest_module.BURST):  # the writer's burst, used up line by line
        ingestor.submit(ACCOUNT, GROUP, "s", [(NOW + i, f"line {i}")])
        deadline = time.monotonic() + 30
        while not LogEvent.objects.filter(message=f"line {i}").exists():
            assert time.monotonic() < deadline
            time.sleep(0.01)
    ingestor.submit(ACCOUNT, GROUP, "s", [(NOW + 100, "paced")])  # would wait ~600 s
    time.sleep(0.2)  # lets the writer start that wait (else the flush comes first)
    assert ingestor.flush(10)
    assert LogEvent.objects.filter(message="paced").exists()
