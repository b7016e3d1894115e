"""X-Ray from a Node.js function: the AWS X-Ray SDK for Node.js (``aws-xray-sdk-core`` from
npm, installed from ``tests/js/xray-function``'s lockfile by ``scripts/sdk-clients.sh``) finds
the Lambda facade segment in ``_X_AMZN_TRACE_ID``, and the subsegments it sends to the
environment's daemon (its own, nested ones, and the runtime SDK's calls it captures) are
nested under the platform's ``AWS::Lambda::Function`` segment of that invocation's trace, a
warm environment's next invocation under its own. Untraced, the SDK records nothing and
logs no complaint about the trace header it is given."""

from __future__ import annotations

import base64
import io
import json
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest

from conftest import LiveServer, client_for, zip_entry
from iam.tests.test_iam_api import create_admin
from invocations.executor import xray
from monitoring.tests.test_xray_traces import _assert_no_traces, _create, _named, _role, _trace

pytestmark = [pytest.mark.live, pytest.mark.sandbox]

PACKAGES = Path(__file__).resolve().parents[2] / "tests" / "js" / "xray-function"

# Automatic mode, as in Lambda: the SDK's context carries the current subsegment, so "inner"
# and the captured client's call find their parent without being handed it.
HANDLER = """
import AWSXRay from "aws-xray-sdk-core";
import { LambdaClient, ListFunctionsCommand } from "@aws-sdk/client-lambda";

const lambda = AWSXRay.captureAWSv3Client(new LambdaClient({}));

export const handler = async (event) => {
  const facade = AWSXRay.getSegment();
  const names = await AWSXRay.captureAsyncFunc("work", async (work) => {
    work.addAnnotation("round", event.round);
    work.addAnnotation("runtime", "nodejs");
    const listed = await AWSXRay.captureAsyncFunc("inner", async (inner) => {
      inner.addMetadata("event", event);
      const answer = await lambda.send(new ListFunctionsCommand({}));
      inner.close();
      return answer.Functions.map((f) => f.FunctionName);
    });
    work.close();
    return listed;
  });
  return { trace: process.env._X_AMZN_TRACE_ID, facade: [facade.trace_id, facade.id], names };
};
"""


def _bundled(path: Path) -> bool:
    # Type declarations are read by editors and compilers, never at run time.
    return (
        path.is_file()
        and "@types" not in path.parts
        and not path.name.endswith((".d.ts", ".d.mts", ".d.cts"))
        and path.name not in {".package-lock.json", ".lock.sha256"}
    )


def nodejs_zip() -> bytes:
    """index.mjs and aws-xray-sdk-core with its dependencies, as npm installed them."""
    modules = PACKAGES / "node_modules"
    if not (modules / "aws-xray-sdk-core").is_dir():
        reason = "the X-Ray SDK for Node.js is not installed: run scripts/sdk-clients.sh"
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zip_entry("index.mjs"), HANDLER)
        for path in sorted(modules.rglob("*")):
            if _bundled(path):
                name = f"node_modules/{path.relative_to(modules)}"
                archive.writestr(zip_entry(name), path.read_bytes())
    return buffer.getvalue()


def test_the_nodejs_sdks_subsegments_nest_under_the_platforms_function_segment(
    functory: LiveServer,
) -> None:
    admin = create_admin(functory)
    lam = client_for(functory, admin)
    code = nodejs_zip()
    _create(
        lam, "traced", _role(functory, admin), code, runtime="nodejs20.x", handler="index.handler"
    )
    xr = client_for(functory, admin, "xray")

    roots = []
    # Twice: the warm environment's SDK must read the second invocation's trace afresh.
    for round_ in (1, 2):
        response = lam.invoke(FunctionName="traced", Payload=json.dumps({"round": round_}))
        body = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, body
        assert body["names"] == ["traced"]
        header = xray.parse_header(body["trace"])
        assert header is not None and header.sampled == "1" and header.parent is not None
        # The SDK's facade segment is the platform's function segment.
        assert body["facade"] == [header.root, header.parent]
        roots.append(header.root)

        def complete(documents: list[dict[str, Any]]) -> bool:
            return bool(_named(documents, "work") and _named(documents, "inner")) and any(
                d.get("origin") == "AWS::Lambda" for d in documents
            )

        documents = _trace(xr, header.root, complete)
        (service,) = [d for d in documents if d.get("origin") == "AWS::Lambda"]
        (function,) = [d for d in documents if d.get("origin") == "AWS::Lambda::Function"]
        # Everything the SDK sent found its parent: no document of its own at the top.
        assert len(documents) == 2
        assert function["id"] == header.parent and function["parent_id"] == service["id"]
        children = {sub["name"]: sub for sub in function["subsegments"]}
        assert {"Invocation", "Overhead", "work"} <= set(children)
        work = children["work"]
        assert work["parent_id"] == function["id"] and work["trace_id"] == header.root
        assert work["annotations"] == {"round": round_, "runtime": "nodejs"}
        (inner,) = work["subsegments"]
        assert inner["name"] == "inner" and inner["parent_id"] == work["id"]
        assert inner["metadata"]["default"]["event"] == {"round": round_}
        assert work["start_time"] <= inner["start_time"] <= inner["end_time"] <= work["end_time"]
        # The runtime SDK's call, recorded by the captured client, under "inner".
        (call,) = inner["subsegments"]
        assert call["namespace"] == "aws" and call["parent_id"] == inner["id"]
        assert call["aws"]["operation"] == "ListFunctions"
        assert call["http"]["response"]["status"] == 200
        assert len(_named(documents, "work")) == len(_named(documents, "inner")) == 1

    assert roots[0] != roots[1]
    summaries = xr.get_trace_summaries(
        StartTime=time.time() - 300, EndTime=time.time() + 60, FilterExpression='service("traced")'
    )["TraceSummaries"]
    assert sorted(summary["Id"] for summary in summaries) == sorted(roots)
    assert not any(summary["HasFault"] or summary["HasError"] for summary in summaries)


def test_an_untraced_nodejs_functions_sdk_records_nothing_and_logs_no_error(
    functory: LiveServer,
) -> None:
    admin = create_admin(functory)
    lam = client_for(functory, admin)
    code = nodejs_zip()
    _create(
        lam,
        "plain",
        _role(functory, admin),
        code,
        "PassThrough",
        runtime="nodejs20.x",
        handler="index.handler",
    )
    for round_ in (1, 2):
        response = lam.invoke(
            FunctionName="plain", Payload=json.dumps({"round": round_}), LogType="Tail"
        )
        body = json.loads(response["Payload"].read())
        assert "FunctionError" not in response, body
        # A root alone, as AWS's PassThrough gives: the SDK takes it for "not traced here"
        # (a Sampled without a Parent it would log as malformed, at every segment lookup).
        header = xray.parse_header(body["trace"])
        assert header is not None and body["trace"] == f"Root={header.root}"
        log = base64.b64decode(response["LogResult"]).decode()
        assert "_X_AMZN_TRACE_ID" not in log and "X-Ray" not in log, log
    _assert_no_traces(functory, admin)
