"""An event source batch continues the X-Ray trace its first traced record came with."""

from __future__ import annotations

import json

from triggers.pollers.invoke import record_trace_header

HEADER = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_the_first_traced_records_header_is_the_invocations() -> None:
    batch = {
        "Records": [
            {"messageId": "1", "attributes": {"SentTimestamp": "1"}},
            {"messageId": "2", "attributes": {"AWSTraceHeader": HEADER}},
            {"messageId": "3", "attributes": {"AWSTraceHeader": "Root=other"}},
        ]
    }
    assert record_trace_header(json.dumps(batch).encode()) == HEADER


def test_a_batch_without_trace_headers_has_none() -> None:
    assert record_trace_header(b'{"Records": [{"attributes": {}}]}') is None


def test_a_batch_that_only_mentions_the_name_has_none() -> None:
    assert record_trace_header(b'{"Records": [{"body": "AWSTraceHeader"}]}') is None
    assert record_trace_header(b'["AWSTraceHeader"]') is None
