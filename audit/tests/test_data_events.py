"""Invoke is a data event: not recorded unless the operator turns data events on, and then
without its payload; management calls are always recorded."""

from __future__ import annotations

import json

import pytest
from django.test import RequestFactory, override_settings

from audit import capture
from audit.models import AuditEvent
from audit.recorder import recorder
from awsapi.observe import ApiCall
from iam import services
from iam.authentication import ApiRequest

pytestmark = pytest.mark.django_db


def _call(operation: str, body: bytes) -> ApiCall:
    account = services.account_get_or_create("121212121212")
    user = services.user_create(username=f"u-{operation}", account=account, password=None)
    http = RequestFactory().post(
        "/2015-03-31/functions/f/invocations", body, content_type="application/json"
    )
    caller = ApiRequest(
        http=http, request_id="r-1", user=user, account=account, region="us-east-1", body=body
    )
    return ApiCall(
        service="lambda",
        operation=operation,
        http=http,
        request_id="r-1",
        caller=caller,
        status=200,
        response={"StatusCode": 200},
        url_kwargs={"function_name": "f"},
    )


def test_invoke_is_not_recorded_by_default() -> None:
    capture.api_call(_call("Invoke", b'{"card": "4111111111111111"}'))
    recorder.flush()
    assert AuditEvent.objects.count() == 0


@override_settings(FUNCTORY_AUDIT_DATA_EVENTS=True)
def test_invoke_is_recorded_without_its_payload_when_data_events_are_on() -> None:
    capture.api_call(_call("Invoke", b'{"card": "4111111111111111"}'))
    recorder.flush()
    row = AuditEvent.objects.get()
    record = json.loads(row.record)
    assert record["eventCategory"] == "Data"
    assert record["managementEvent"] is False
    assert record["requestParameters"] == {"functionName": "f"}
    assert "4111" not in row.record


def test_a_management_call_is_recorded() -> None:
    capture.api_call(_call("DeleteFunction", b""))
    recorder.flush()
    assert AuditEvent.objects.get().event_name == "DeleteFunction"
