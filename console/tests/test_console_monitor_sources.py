"""The Monitor tab's event source charts in a real browser: the per-source counts chart
(one series per mapping of the function) and the IteratorAge chart, against a live server
whose SQS is a moto server."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest

from conftest import AwsPeer, LiveServer, create_function, make_zip, run_server
from console.tests.browser import Console

pytestmark = [pytest.mark.live, pytest.mark.browser]

HANDLER = "def handler(event, context):\n    return None\n"


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory, aws_peer: AwsPeer) -> Iterator[LiveServer]:
    """The server the console fixture signs in to, reading queues on the peer."""
    yield from run_server(tmp_path_factory, {**aws_peer.env, "FUNCTORY_METRICS_FLUSH_SECONDS": "1"})


def _queue(sqs, name: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    return url, arn["QueueArn"]


def totals(console: Console) -> dict[str, float]:
    return json.loads(console.page.get_attribute("[data-chart='sources']", "data-totals") or "{}")


def test_the_monitor_tab_charts_each_sources_counts(console: Console, aws_peer: AwsPeer) -> None:
    lam = console.lam
    create_function(lam, "consumer", Code={"ZipFile": make_zip({"app.py": HANDLER})})
    sqs = aws_peer.client("sqs")
    suffix = uuid.uuid4().hex[:6]
    orders_url, orders_arn = _queue(sqs, f"orders-{suffix}")
    _, audit_arn = _queue(sqs, f"audit-{suffix}")
    counted = lam.create_event_source_mapping(
        EventSourceArn=orders_arn,
        FunctionName="consumer",
        FilterCriteria={"Filters": [{"Pattern": json.dumps({"body": {"keep": [True]}})}]},
        MetricsConfig={"Metrics": ["EventCount"]},
    )["UUID"]
    quiet = lam.create_event_source_mapping(EventSourceArn=audit_arn, FunctionName="consumer")[
        "UUID"
    ]
    bodies = [{"keep": True}, {"keep": True}, {"keep": True}, {"keep": False}]
    sqs.send_message_batch(
        QueueUrl=orders_url,
        Entries=[{"Id": str(n), "MessageBody": json.dumps(b)} for n, b in enumerate(bodies)],
    )

    console.goto("/functions/consumer/#monitor")
    page = console.page
    chart = page.locator("[data-chart='sources']")
    chart.wait_for()
    # One series per mapping, named for its queue; one without EventCount says so.
    legend = chart.locator(".u-legend").inner_text()
    assert f"orders-{suffix}" in legend
    assert f"audit-{suffix} (counts off)" in legend
    assert page.locator("[data-chart='iterator-age']").is_visible()

    # Live: the chart polls until the delivered messages show (the metrics API flushes).
    page.wait_for_function(
        "uuid => JSON.parse(document.querySelector(\"[data-chart='sources']\")"
        ".dataset.totals || '{}')[uuid] === 3",
        arg=counted,
        timeout=60_000,
    )
    assert totals(console)[quiet] == 0
    assert page.get_attribute("[data-chart='sources']", "data-count") == "InvokedEventCount"

    page.select_option("#mon-source-count", label="Filtered out")
    page.wait_for_selector("[data-chart='sources'][data-count='FilteredOutEventCount']")
    page.wait_for_function(
        "uuid => JSON.parse(document.querySelector(\"[data-chart='sources']\")"
        ".dataset.totals)[uuid] === 1",
        arg=counted,
        timeout=20_000,
    )
    page.select_option("#mon-source-count", label="Failed")
    page.wait_for_selector("[data-chart='sources'][data-count='FailedInvokeEventCount']")
    assert totals(console) == {counted: 0, quiet: 0}
    console.screenshot("monitor-sources")
    assert console.foreign_requests() == []
