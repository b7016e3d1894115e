"""X-Ray on a live server: a function instrumented with ``aws-xray-sdk`` (boto3 patched)
calls the platform with its role's credentials; the trace read back with BatchGetTraces and
GetTraceSummaries nests the SDK's subsegments under the platform's function segment, under
the AWS::Lambda service segment. Asynchronous invocations continue the caller's trace;
untraced functions record nothing; an environment's daemon keeps only its own traces'
documents, and malformed or flooding datagrams are dropped while the function runs on."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import Credentials, LiveServer, client_for, zip_entry
from iam.tests.test_iam_api import create_admin
from invocations.executor import xray

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

INSTRUMENTED = """
import os
from aws_xray_sdk.core import patch, xray_recorder

patch(["boto3"])
import boto3

def handler(event, context):
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    with xray_recorder.in_subsegment("work") as subsegment:
        subsegment.put_annotation("functions", len(names))
    return {"trace": os.environ.get("_X_AMZN_TRACE_ID"), "names": names}
"""

# Speaks the daemon protocol by hand: documents for the trace it is given (its own, or
# someone else's), malformed datagrams, a flood; then says what it could send.
SENDER = """
import json, os, socket, time

HEADER = b'{"format": "json", "version": 1}\\n'

def document(root, name, parent):
    return {"id": os.urandom(8).hex(), "trace_id": root, "parent_id": parent,
            "type": "subsegment", "name": name, "start_time": time.time(),
            "end_time": time.time() + 0.001}

def handler(event, context):
    host, port = os.environ["AWS_XRAY_DAEMON_ADDRESS"].split(":")
    address = (host, int(port))
    fields = dict(part.split("=", 1) for part in os.environ["_X_AMZN_TRACE_ID"].split(";"))
    mine, parent = fields["Root"], fields.get("Parent", "0" * 16)
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    def send(payload):
        try:
            sock.sendto(payload, address)
        except OSError:
            pass
    send(HEADER + json.dumps(document(mine, "mine", parent)).encode())
    for root in event.get("foreign", []):
        send(HEADER + json.dumps(document(root, "injected", parent)).encode())
    for _ in range(event.get("malformed", 0)):
        send(b"garbage" * 100)
        send(HEADER + b"{\\"id\\": 1}")
        send(HEADER + b"[" * 20000)
    for i in range(event.get("flood", 0)):
        send(HEADER + json.dumps(document(mine, "flood", parent)).encode())
        if i % 100 == 0:
            time.sleep(0.001)
    return {"root": mine, "parent": parent, "sampled": fields.get("Sampled")}
"""

TRUST = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}
LIST_FUNCTIONS = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "lambda:ListFunctions", "Resource": "*"}],
}


def _package_dir(name: str) -> Path:
    module = __import__(name)
    assert module.__file__ is not None
    return Path(module.__file__).parent


def instrumented_zip() -> bytes:
    """The handler with aws-xray-sdk and wrapt from this virtualenv (the same CPython)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zip_entry("app.py"), INSTRUMENTED)
        for package in ("aws_xray_sdk", "wrapt"):
            root = _package_dir(package)
            for path in sorted(root.rglob("*")):
                if path.is_file() and "__pycache__" not in path.parts:
                    name = f"{package}/{path.relative_to(root)}"
                    archive.writestr(zip_entry(name), path.read_bytes())
    return buffer.getvalue()


def sender_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zip_entry("app.py"), SENDER)
    return buffer.getvalue()


def _create(
    lam: Any,
    name: str,
    role: str,
    code: bytes,
    mode: str = "Active",
    *,
    runtime: str = f"python{sys.version_info.major}.{sys.version_info.minor}",
    handler: str = "app.handler",
) -> None:
    lam.create_function(
        FunctionName=name,
        Runtime=runtime,
        Handler=handler,
        Role=role,
        Code={"ZipFile": code},
        Timeout=30,
        TracingConfig={"Mode": mode},
    )


def _role(server: LiveServer, admin: Credentials) -> str:
    iam = client_for(server, admin, "iam")
    role = iam.create_role(RoleName="traced", AssumeRolePolicyDocument=json.dumps(TRUST))
    iam.put_role_policy(
        RoleName="traced", PolicyName="list", PolicyDocument=json.dumps(LIST_FUNCTIONS)
    )
    return str(role["Role"]["Arn"])


def _with_header(client: Any, header: str) -> None:
    def add(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    client.meta.events.register_first("before-sign.lambda.Invoke", add)


def _trace(
    xr: Any, root: str, done: Callable[[list[dict[str, Any]]], bool]
) -> list[dict[str, Any]]:
    """The trace's segment documents once ``done`` says they are all there (stored by the
    server's batch writer a moment after the invocation)."""
    documents: list[dict[str, Any]] = []
    for _ in range(100):
        traces = xr.batch_get_traces(TraceIds=[root])["Traces"]
        documents = [json.loads(s["Document"]) for t in traces for s in t["Segments"]]
        if done(documents):
            return documents
        time.sleep(0.1)
    return documents


def _walk(documents: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = []
    for document in documents:
        found.append(document)
        found += _walk(document.get("subsegments", []))
    return found


def _named(documents: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [document for document in _walk(documents) if document.get("name") == name]


def test_an_instrumented_functions_trace_nests_its_sdk_calls_under_the_platforms_segments(
    functory: LiveServer,
) -> None:
    admin = create_admin(functory)
    lam = client_for(functory, admin)
    _create(lam, "traced", _role(functory, admin), instrumented_zip())
    response = lam.invoke(FunctionName="traced", Payload=b"{}")
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    assert body["names"] == ["traced"]
    header = xray.parse_header(body["trace"])
    assert header is not None and header.sampled == "1" and header.parent is not None

    xr = client_for(functory, admin, "xray")

    def complete(documents: list[dict[str, Any]]) -> bool:
        return bool(_named(documents, "work")) and any(
            d.get("origin") == "AWS::Lambda" for d in documents
        )

    documents = _trace(xr, header.root, complete)
    (service,) = [d for d in documents if d.get("origin") == "AWS::Lambda"]
    (function,) = [d for d in documents if d.get("origin") == "AWS::Lambda::Function"]
    assert service["name"] == function["name"] == "traced"
    assert "parent_id" not in service  # no caller: the trace starts here
    assert function["id"] == header.parent
    assert function["parent_id"] == service["id"]
    children = {sub["name"]: sub for sub in function["subsegments"]}
    assert {"Initialization", "Invocation", "Overhead", "work"} <= set(children)
    # boto3's call, recorded by the patched SDK, under the function segment too.
    (call,) = [sub for sub in function["subsegments"] if sub.get("namespace") == "aws"]
    assert call["aws"]["operation"] == "ListFunctions"
    assert call["parent_id"] == children["work"]["parent_id"] == function["id"]
    assert children["work"]["annotations"] == {"functions": 1}

    summaries = xr.get_trace_summaries(
        StartTime=time.time() - 300, EndTime=time.time() + 60, FilterExpression='service("traced")'
    )["TraceSummaries"]
    assert [summary["Id"] for summary in summaries] == [header.root]
    assert summaries[0]["EntryPoint"]["Type"] == "AWS::Lambda"
    assert not summaries[0]["HasFault"]
    faulted = xr.get_trace_summaries(
        StartTime=time.time() - 300, EndTime=time.time() + 60, FilterExpression="fault"
    )["TraceSummaries"]
    assert faulted == []


def test_an_async_invoke_continues_the_callers_trace(functory: LiveServer) -> None:
    admin = create_admin(functory)
    lam = client_for(functory, admin)
    _create(lam, "queued", "arn:aws:iam::123456789012:role/none", sender_zip())
    root = xray.new_root()
    _with_header(lam, f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1")
    assert (
        lam.invoke(FunctionName="queued", InvocationType="Event", Payload=b"{}")["StatusCode"]
        == 202
    )
    xr = client_for(functory, admin, "xray")
    documents = _trace(
        xr,
        root,
        lambda docs: (
            bool(_named(docs, "mine")) and any(d.get("origin") == "AWS::Lambda" for d in docs)
        ),
    )
    (service,) = [d for d in documents if d.get("origin") == "AWS::Lambda"]
    assert service["parent_id"] == "53995c3f42cd8ad8"
    assert [sub["name"] for sub in service["subsegments"]] == ["Dwell Time", "Attempt #1"]
    (function,) = [d for d in documents if d.get("origin") == "AWS::Lambda::Function"]
    assert function["parent_id"] == service["id"]
    # The function's own document, sent to its daemon, hangs under the function segment.
    assert [sub["name"] for sub in function["subsegments"]][-1] == "mine"


def test_a_caller_that_decided_not_to_sample_gets_no_trace(functory: LiveServer) -> None:
    admin = create_admin(functory)
    lam = client_for(functory, admin)
    _create(lam, "declined", "arn:aws:iam::123456789012:role/none", sender_zip())
    root = xray.new_root()
    _with_header(lam, f"Root={root};Parent=53995c3f42cd8ad8;Sampled=0")
    body = json.loads(lam.invoke(FunctionName="declined", Payload=b"{}")["Payload"].read())
    assert (body["root"], body["parent"], body["sampled"]) == (root, "53995c3f42cd8ad8", "0")
    _assert_no_traces(functory, admin)


def test_an_untraced_function_records_nothing(functory: LiveServer) -> None:
    admin = create_admin(functory)
    lam = client_for(functory, admin)
    _create(lam, "plain", "arn:aws:iam::123456789012:role/none", sender_zip(), "PassThrough")
    body = json.loads(lam.invoke(FunctionName="plain", Payload=b"{}")["Payload"].read())
    # A root alone, as AWS's PassThrough gives: no Parent, no Sampled (the SDKs' "not here").
    assert xray.valid_root(body["root"]) and body["sampled"] is None
    assert body["parent"] == "0" * 16  # the sender's stand-in for a missing Parent
    _assert_no_traces(functory, admin)


def _assert_no_traces(server: LiveServer, admin: Credentials) -> None:
    # A traced function of the same account, invoked after: once its trace is stored,
    # whatever the other one would have written would be too (one batch writer, in order).
    lam = client_for(server, admin)
    _create(lam, "witness", "arn:aws:iam::123456789012:role/none", sender_zip())
    witness = json.loads(lam.invoke(FunctionName="witness", Payload=b"{}")["Payload"].read())
    xr = client_for(server, admin, "xray")
    _trace(xr, witness["root"], lambda docs: bool(_named(docs, "mine")))
    summaries = xr.get_trace_summaries(StartTime=time.time() - 300, EndTime=time.time() + 60)
    assert [s["Id"] for s in summaries["TraceSummaries"]] == [witness["root"]]


def test_a_function_cannot_write_into_another_tenants_trace_nor_flood_its_own(
    functory: LiveServer,
) -> None:
    victim = create_admin(functory)
    victim_lam = client_for(functory, victim)
    _create(victim_lam, "victim", "arn:aws:iam::123456789012:role/none", sender_zip())
    target = json.loads(victim_lam.invoke(FunctionName="victim", Payload=b"{}")["Payload"].read())

    attacker = create_admin(functory)
    lam = client_for(functory, attacker)
    _create(lam, "attacker", "arn:aws:iam::123456789012:role/none", sender_zip())
    event = {"foreign": [target["root"], xray.new_root()], "malformed": 50, "flood": 3000}
    response = lam.invoke(FunctionName="attacker", Payload=json.dumps(event).encode())
    outcome = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, outcome

    # The attacker's own trace has its document, and no more than the cap of the flood.
    xr = client_for(functory, attacker, "xray")
    mine = _trace(xr, outcome["root"], lambda docs: bool(_named(docs, "mine")))
    assert len(_named(mine, "flood")) <= xray.MAX_DOCUMENTS_PER_TRACE
    assert _named(mine, "injected") == []
    # Nothing reached the victim's trace, in the victim's account or the attacker's.
    victims = client_for(functory, victim, "xray")
    stored = _trace(victims, target["root"], lambda docs: bool(_named(docs, "mine")))
    assert _named(stored, "mine") and _named(stored, "injected") == []
    assert xr.batch_get_traces(TraceIds=[target["root"]])["Traces"] == []
    # And the function still answers.
    again = lam.invoke(FunctionName="attacker", Payload=b"{}")
    assert "FunctionError" not in again


def test_put_trace_segments_stores_valid_documents_and_answers_the_others(
    functory: LiveServer,
) -> None:
    admin = create_admin(functory)
    xr = client_for(functory, admin, "xray")
    root = xray.new_root()
    segment = {
        "id": "70de5b6f19ff9a0a",
        "trace_id": root,
        "name": "client",
        "start_time": time.time(),
        "end_time": time.time() + 0.5,
        "error": True,
    }
    answer = xr.put_trace_segments(
        TraceSegmentDocuments=[json.dumps(segment), '{"id": "bad"}', "not json"]
    )
    assert len(answer["UnprocessedTraceSegments"]) == 2
    (trace,) = xr.batch_get_traces(TraceIds=[root])["Traces"]
    assert [json.loads(s["Document"])["name"] for s in trace["Segments"]] == ["client"]
    errors = xr.get_trace_summaries(
        StartTime=time.time() - 60, EndTime=time.time() + 60, FilterExpression="error"
    )["TraceSummaries"]
    assert [s["Id"] for s in errors] == [root] and errors[0]["HasError"]
    with pytest.raises(xr.exceptions.InvalidRequestException):
        xr.get_trace_summaries(
            StartTime=time.time() - 60, EndTime=time.time(), FilterExpression="bogus(("
        )


def test_a_streamed_invoke_is_traced_under_the_callers_segment(functory: LiveServer) -> None:
    admin = create_admin(functory)
    lam = client_for(functory, admin)
    _create(lam, "streamed", "arn:aws:iam::123456789012:role/none", sender_zip())
    root = xray.new_root()
    header = f"Root={root};Parent=53995c3f42cd8ad8;Sampled=1"

    def add(request: Any, **_: Any) -> None:
        request.headers["X-Amzn-Trace-Id"] = header

    lam.meta.events.register_first("before-sign.lambda.InvokeWithResponseStream", add)
    events = list(lam.invoke_with_response_stream(FunctionName="streamed")["EventStream"])
    body = json.loads(b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e))
    assert body["root"] == root and body["sampled"] == "1"
    xr = client_for(functory, admin, "xray")
    documents = _trace(
        xr,
        root,
        lambda docs: (
            bool(_named(docs, "mine")) and any(d.get("origin") == "AWS::Lambda" for d in docs)
        ),
    )
    (service,) = [d for d in documents if d.get("origin") == "AWS::Lambda"]
    assert service["parent_id"] == "53995c3f42cd8ad8"
    (function,) = [d for d in documents if d.get("origin") == "AWS::Lambda::Function"]
    assert body["parent"] == function["id"]


def test_the_aws_cli_puts_segments_and_reads_them_back(
    functory: LiveServer, tmp_path: Path
) -> None:
    admin = create_admin(functory)
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": admin.access_key_id,
        "AWS_SECRET_ACCESS_KEY": admin.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }

    def cli(*args: str) -> dict[str, Any]:
        aws = str(Path(sys.executable).with_name("aws"))
        result = subprocess.run(
            [aws, "xray", *args, "--endpoint-url", functory.url, "--output", "json"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 0, result.stderr
        answer: dict[str, Any] = json.loads(result.stdout)
        return answer

    root = xray.new_root()
    now = time.time()
    segment = {"id": "70de5b6f19ff9a0b", "trace_id": root, "name": "cli", "start_time": now,
               "end_time": now + 0.25}  # fmt: skip
    put = cli("put-trace-segments", "--trace-segment-documents", json.dumps(segment))
    assert put["UnprocessedTraceSegments"] == []
    (trace,) = cli("batch-get-traces", "--trace-ids", root)["Traces"]
    assert json.loads(trace["Segments"][0]["Document"])["name"] == "cli"
    summaries = cli(
        "get-trace-summaries",
        "--start-time",
        str(int(now) - 60),
        "--end-time",
        str(int(now) + 60),
        "--filter-expression",
        'service("cli")',
    )["TraceSummaries"]
    assert [(s["Id"], s["Duration"]) for s in summaries] == [(root, 0.25)]
