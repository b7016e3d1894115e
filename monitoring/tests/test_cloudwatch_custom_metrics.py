"""PutMetricData, ListMetrics and GetMetricData (issue 16, part 4) through boto3 and the AWS
CLI, in both of CloudWatch's wire forms: AWS JSON 1.0 (what botocore picks) and Smithy RPC v2
CBOR (what the model lists first; forced here by a copy of the model offering only it)."""

from __future__ import annotations

import datetime as dt
import gzip
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import boto3
import botocore
import botocore.session
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from conftest import (
    Credentials,
    LiveServer,
    client_error,
    client_for,
    create_function,
    create_member,
    make_zip,
)

pytestmark = [pytest.mark.live]

AWS = str(Path(sys.executable).with_name("aws"))


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(second=0, microsecond=0)


def _window(minutes: int = 10) -> dict[str, dt.datetime]:
    now = dt.datetime.now(dt.UTC)
    return {
        "StartTime": now - dt.timedelta(minutes=minutes),
        "EndTime": now + dt.timedelta(minutes=2),
    }


@pytest.fixture(scope="module")
def cbor_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A botocore data folder whose CloudWatch model offers only RPC v2 CBOR."""
    source = Path(botocore.__file__).parent / "data/cloudwatch/2010-08-01/service-2.json.gz"
    model = json.loads(gzip.decompress(source.read_bytes()))
    model["metadata"]["protocols"] = ["smithy-rpc-v2-cbor"]
    root = tmp_path_factory.mktemp("cbor-model")
    folder = root / "cloudwatch/2010-08-01"
    folder.mkdir(parents=True)
    (folder / "service-2.json").write_text(json.dumps(model))
    return root


def cbor_client(server: LiveServer, creds: Credentials, model_dir: Path, **config: Any) -> Any:
    session = botocore.session.get_session()
    session.get_component("data_loader").search_paths.insert(0, str(model_dir))
    client = boto3.session.Session(botocore_session=session).client(
        "cloudwatch",
        endpoint_url=server.url,
        region_name="us-east-1",
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}, **config),
    )
    assert client.meta.service_model.resolved_protocol == "smithy-rpc-v2-cbor"
    return client


@pytest.fixture(params=["json", "cbor"])
def cloudwatch(
    request: pytest.FixtureRequest,
    functory: LiveServer,
    credentials: Credentials,
    cbor_model_dir: Path,
) -> Any:
    """A CloudWatch client of a fresh account, in each wire form."""
    if request.param == "json":
        client = client_for(functory, credentials, "cloudwatch")
        assert client.meta.service_model.resolved_protocol == "json"
        return client
    return cbor_client(functory, credentials, cbor_model_dir)


@pytest.fixture(params=["json", "cbor"])
def raw_cloudwatch(
    request: pytest.FixtureRequest,
    functory: LiveServer,
    credentials: Credentials,
    cbor_model_dir: Path,
) -> Any:
    """The same without client-side validation, so invalid input reaches the server."""
    if request.param == "json":
        return client_for(functory, credentials, "cloudwatch", validate=False)
    return cbor_client(functory, credentials, cbor_model_dir, parameter_validation=False)


def _stats(
    client: Any,
    namespace: str,
    name: str,
    dimensions: list[dict[str, str]] | None = None,
    **kwargs: Any,
) -> list[dict[str, Any]]:
    response = client.get_metric_statistics(
        Namespace=namespace,
        MetricName=name,
        Dimensions=dimensions or [],
        Period=60,
        **_window(),
        **kwargs,
    )
    return sorted(response["Datapoints"], key=lambda point: point["Timestamp"])


# ---- PutMetricData -----------------------------------------------------------------------


def test_published_values_are_read_back_as_statistics(cloudwatch: Any) -> None:
    minute = _now() - dt.timedelta(minutes=2)
    page = [{"Name": "Page", "Value": "home"}]
    cloudwatch.put_metric_data(
        Namespace="Shop/Web",
        MetricData=[
            {
                "MetricName": "Latency",
                "Dimensions": page,
                "Value": 10.0,
                "Unit": "Milliseconds",
                "Timestamp": minute,
            },
            {
                "MetricName": "Latency",
                "Dimensions": page,
                "Values": [20.0, 30.0],
                "Counts": [1.0, 2.0],
                "Unit": "Milliseconds",
                "Timestamp": minute,
            },
            {
                "MetricName": "Latency",
                "Dimensions": page,
                "Unit": "Milliseconds",
                "Timestamp": minute,
                "StatisticValues": {
                    "SampleCount": 2.0,
                    "Sum": 80.0,
                    "Minimum": 40.0,
                    "Maximum": 40.0,
                },
            },
        ],
    )
    (point,) = _stats(
        cloudwatch,
        "Shop/Web",
        "Latency",
        page,
        Statistics=["Sum", "SampleCount", "Average", "Minimum", "Maximum"],
    )
    assert point["Timestamp"] == minute
    assert point["Unit"] == "Milliseconds"
    assert point["SampleCount"] == 6
    assert point["Sum"] == 10 + 20 + 60 + 80
    assert point["Minimum"] == 10 and point["Maximum"] == 40
    assert point["Average"] == pytest.approx(170 / 6)
    (extended,) = _stats(cloudwatch, "Shop/Web", "Latency", page, ExtendedStatistics=["p50", "p99"])
    # Samples 10, 20, 30, 30, 40, 40: the sketch is within 1 % of the true percentiles.
    assert extended["ExtendedStatistics"]["p50"] == pytest.approx(30, rel=0.02)
    assert extended["ExtendedStatistics"]["p99"] == pytest.approx(40, rel=0.02)
    # Another dimension set, another unit, another namespace: other metrics.
    assert _stats(cloudwatch, "Shop/Web", "Latency", Statistics=["Sum"]) == []
    assert _stats(cloudwatch, "Shop/Web", "Latency", page, Statistics=["Sum"], Unit="Seconds") == []
    assert _stats(cloudwatch, "Shop/Other", "Latency", page, Statistics=["Sum"]) == []


def test_a_statistic_set_with_spread_has_no_percentiles(cloudwatch: Any) -> None:
    cloudwatch.put_metric_data(
        Namespace="Shop/Batch",
        MetricData=[
            {
                "MetricName": "Size",
                "StatisticValues": {"SampleCount": 3.0, "Sum": 6.0, "Minimum": 1.0, "Maximum": 3.0},
            }
        ],
    )
    (point,) = _stats(cloudwatch, "Shop/Batch", "Size", Statistics=["Sum"])
    assert point["Sum"] == 6 and point["Unit"] == "None"
    assert _stats(cloudwatch, "Shop/Batch", "Size", ExtendedStatistics=["p50"]) == []


def test_another_account_sees_none_of_the_custom_metrics(
    functory: LiveServer, cloudwatch: Any
) -> None:
    cloudwatch.put_metric_data(Namespace="Private", MetricData=[{"MetricName": "m", "Value": 1.0}])
    from conftest import create_user

    stranger = client_for(functory, create_user(functory), "cloudwatch")
    assert _stats(stranger, "Private", "m", Statistics=["Sum"]) == []
    assert stranger.list_metrics(Namespace="Private")["Metrics"] == []


def _refused(client: Any, **params: Any) -> tuple[str, str, int]:
    with pytest.raises(ClientError) as excinfo:
        client.put_metric_data(**params)
    return client_error(excinfo)


def test_put_metric_data_refuses_what_cloudwatch_refuses(raw_cloudwatch: Any) -> None:
    now = dt.datetime.now(dt.UTC)

    def datum(**fields: Any) -> list[dict[str, Any]]:
        return [{"MetricName": "m", "Value": 1.0, **fields}]

    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"Namespace": "AWS/Lambda", "MetricData": datum()}, "InvalidParameterValue", "AWS/"),
        ({"Namespace": "bad|name", "MetricData": datum()}, "InvalidParameterValue", "Namespace"),
        (
            {"Namespace": "App", "MetricData": [{"MetricName": "m", "Value": 1.0}] * 1001},
            "InvalidParameterValue",
            "greater than 1000",
        ),
        (
            {"Namespace": "App", "MetricData": datum(Value=math.nan)},
            "InvalidParameterValue",
            "MetricData.member.1.Value",
        ),
        (
            {"Namespace": "App", "MetricData": datum(Value=math.inf)},
            "InvalidParameterValue",
            "MetricData.member.1.Value",
        ),
        (
            {"Namespace": "App", "MetricData": datum(Value=2.0**361)},
            "InvalidParameterValue",
            "MetricData.member.1.Value",
        ),
        (
            {"Namespace": "App", "MetricData": datum(Timestamp=now - dt.timedelta(days=15))},
            "InvalidParameterValue",
            "two weeks",
        ),
        (
            {"Namespace": "App", "MetricData": datum(Timestamp=now + dt.timedelta(hours=3))},
            "InvalidParameterValue",
            "two hours",
        ),
        (
            {
                "Namespace": "App",
                "MetricData": datum(
                    Dimensions=[{"Name": f"d{i}", "Value": "v"} for i in range(31)]
                ),
            },
            "InvalidParameterValue",
            "greater than 30",
        ),
        (
            {"Namespace": "App", "MetricData": datum(Values=[1.0])},
            "InvalidParameterCombination",
            "mutually exclusive",
        ),
        (
            {
                "Namespace": "App",
                "MetricData": [{"MetricName": "m", "Values": [1.0, 2.0], "Counts": [1.0]}],
            },
            "InvalidParameterCombination",
            "same size",
        ),
        (
            {"Namespace": "App", "MetricData": [{"MetricName": "m"}]},
            "InvalidParameterCombination",
            "must be specified",
        ),
        (
            {"Namespace": "App", "MetricData": datum(Unit="Parsecs")},
            "InvalidParameterValue",
            "Unit",
        ),
        (
            {"Namespace": "App", "MetricData": datum(StorageResolution=7)},
            "InvalidParameterValue",
            "StorageResolution",
        ),
        (
            {"Namespace": "App", "MetricData": [{"Value": 1.0}]},
            "MissingParameter",
            "MetricData.member.1.MetricName",
        ),
        (
            {
                "Namespace": "App",
                "MetricData": [
                    {
                        "MetricName": "m",
                        "StatisticValues": {
                            "SampleCount": 1.0,
                            "Sum": 1.0,
                            "Minimum": 2.0,
                            "Maximum": 1.0,
                        },
                    }
                ],
            },
            "InvalidParameterValue",
            "Minimum",
        ),
        ({"MetricData": datum()}, "MissingParameter", "Namespace"),
    ]
    for params, code, text in cases:
        got_code, message, status = _refused(raw_cloudwatch, **params)
        assert (got_code, status) == (code, 400), (params, message)
        assert text in message, (params, message)
    # The largest request is accepted whole: 1,000 data of one call.
    raw_cloudwatch.put_metric_data(
        Namespace="App",
        MetricData=[{"MetricName": f"m{i % 10}", "Value": float(i)} for i in range(1000)],
    )


def test_a_request_over_a_megabyte_is_refused(
    functory: LiveServer, credentials: Credentials
) -> None:
    # botocore gzips PutMetricData bodies; this one goes as it is, 1.2 MB.
    raw_cloudwatch = boto3.client(
        "cloudwatch",
        endpoint_url=functory.url,
        region_name="us-east-1",
        aws_access_key_id=credentials.access_key_id,
        aws_secret_access_key=credentials.secret_access_key,
        config=Config(retries={"total_max_attempts": 1}, disable_request_compression=True),
    )
    big = [
        {
            "MetricName": "m" * 255,
            "Value": 1.0,
            "Dimensions": [{"Name": f"d{j}", "Value": "v" * 1024} for j in range(30)],
        }
        for _ in range(40)
    ]
    code, message, status = _refused(raw_cloudwatch, Namespace="App", MetricData=big)
    assert (code, status) == ("RequestEntityTooLarge", 413)
    assert "exceeded 1048576 bytes" in message


def test_a_user_without_permission_cannot_publish(functory: LiveServer) -> None:
    member = create_member(functory)
    client = client_for(functory, member, "cloudwatch")
    with pytest.raises(ClientError) as excinfo:
        client.put_metric_data(Namespace="App", MetricData=[{"MetricName": "m", "Value": 1.0}])
    code, message, status = client_error(excinfo)
    assert (code, status) == ("AccessDenied", 403)
    assert "cloudwatch:PutMetricData" in message


# ---- ListMetrics -------------------------------------------------------------------------


def _names(metrics: list[dict[str, Any]]) -> set[tuple[str, str, tuple[tuple[str, str], ...]]]:
    return {
        (m["Namespace"], m["MetricName"], tuple((d["Name"], d["Value"]) for d in m["Dimensions"]))
        for m in metrics
    }


def test_list_metrics_lists_custom_and_lambda_metrics_with_filters(
    functory: LiveServer, credentials: Credentials, cloudwatch: Any
) -> None:
    lam = client_for(functory, credentials)
    create_function(lam, "listed", Code={"ZipFile": make_zip()})
    lam.publish_version(FunctionName="listed")
    lam.invoke(FunctionName="listed", Payload=b"{}")
    lam.invoke(FunctionName="listed", Qualifier="1", Payload=b"{}")
    cloudwatch.put_metric_data(
        Namespace="Shop",
        MetricData=[
            {"MetricName": "Orders", "Value": 1.0, "Dimensions": [{"Name": "Store", "Value": "a"}]},
            {"MetricName": "Orders", "Value": 1.0, "Dimensions": [{"Name": "Store", "Value": "b"}]},
            {"MetricName": "Refunds", "Value": 1.0},
        ],
    )
    everything = _names(cloudwatch.list_metrics()["Metrics"])
    assert ("Shop", "Orders", (("Store", "a"),)) in everything
    assert ("Shop", "Refunds", ()) in everything
    for dimensions in [
        (),
        (("FunctionName", "listed"),),
        (("FunctionName", "listed"), ("Resource", "listed:1")),
    ]:
        for name in ("Invocations", "Errors", "Duration"):
            assert ("AWS/Lambda", name, dimensions) in everything
    assert _names(cloudwatch.list_metrics(Namespace="Shop", MetricName="Orders")["Metrics"]) == {
        ("Shop", "Orders", (("Store", "a"),)),
        ("Shop", "Orders", (("Store", "b"),)),
    }
    by_value = cloudwatch.list_metrics(Dimensions=[{"Name": "Store", "Value": "b"}])["Metrics"]
    assert _names(by_value) == {("Shop", "Orders", (("Store", "b"),))}
    by_name = cloudwatch.list_metrics(Dimensions=[{"Name": "Resource"}])["Metrics"]
    assert {m["Namespace"] for m in by_name} == {"AWS/Lambda"}
    assert all(("Resource", "listed:1") in n[2] for n in _names(by_name))
    recent = _names(cloudwatch.list_metrics(Namespace="Shop", RecentlyActive="PT3H")["Metrics"])
    assert len(recent) == 3
    assert cloudwatch.list_metrics(Namespace="Nothing", IncludeLinkedAccounts=True)["Metrics"] == []


def test_list_metrics_pages_by_500(cloudwatch: Any) -> None:
    for chunk in range(3):
        cloudwatch.put_metric_data(
            Namespace="Many",
            MetricData=[
                {
                    "MetricName": "m",
                    "Value": 1.0,
                    "Dimensions": [{"Name": "Item", "Value": f"{chunk * 400 + i:05d}"}],
                }
                for i in range(400)
            ],
        )
    seen: list[str] = []
    pages = 0
    token: str | None = None
    while True:
        response = cloudwatch.list_metrics(
            Namespace="Many", **({"NextToken": token} if token else {})
        )
        pages += 1
        seen += [m["Dimensions"][0]["Value"] for m in response["Metrics"]]
        token = response.get("NextToken")
        if token is None:
            break
    assert pages == 3
    assert sorted(seen) == [f"{i:05d}" for i in range(1200)] and len(set(seen)) == 1200
    with pytest.raises(ClientError) as excinfo:
        cloudwatch.list_metrics(Namespace="Other", NextToken=token or "garbage")
    assert client_error(excinfo)[0] == "InvalidParameterValue"


# ---- GetMetricData -----------------------------------------------------------------------


def _series(response: dict[str, Any], query_id: str) -> list[tuple[dt.datetime, float]]:
    (result,) = [r for r in response["MetricDataResults"] if r["Id"] == query_id]
    return list(zip(result["Timestamps"], result["Values"], strict=True))


def _put_minutes(client: Any, namespace: str, name: str, values: dict[int, float]) -> dt.datetime:
    """``values`` by minutes ago; returns the current minute."""
    now = _now()
    client.put_metric_data(
        Namespace=namespace,
        MetricData=[
            {"MetricName": name, "Value": value, "Timestamp": now - dt.timedelta(minutes=ago)}
            for ago, value in values.items()
        ],
    )
    return now


def _stat(
    query_id: str, namespace: str, name: str, stat: str = "Sum", **extra: Any
) -> dict[str, Any]:
    return {
        "Id": query_id,
        "MetricStat": {
            "Metric": {"Namespace": namespace, "MetricName": name},
            "Period": 60,
            "Stat": stat,
        },
        **extra,
    }


def test_get_metric_data_reads_metrics_and_computes_expressions(cloudwatch: Any) -> None:
    now = _put_minutes(cloudwatch, "Calc", "requests", {5: 10.0, 4: 20.0, 2: 40.0})
    _put_minutes(cloudwatch, "Calc", "errors", {5: 1.0, 4: 0.0, 2: 4.0})
    minute = dt.timedelta(minutes=1)
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            _stat("requests", "Calc", "requests"),
            _stat("errors", "Calc", "errors", ReturnData=False),
            {"Id": "rate", "Expression": "100 * errors / requests", "Label": "Error rate"},
            {"Id": "total", "Expression": "SUM(METRICS())"},
            {"Id": "avg", "Expression": "requests - AVG(requests)"},
            {"Id": "big", "Expression": "IF(requests > 15, requests, 0)"},
            {"Id": "filled", "Expression": "FILL(requests, 0)"},
            {"Id": "linear", "Expression": "FILL(requests, LINEAR)"},
            {"Id": "diff", "Expression": "DIFF(requests)"},
            {"Id": "persec", "Expression": "RATE(requests)"},
            {"Id": "period", "Expression": "PERIOD(requests) + 0 * requests"},
            {"Id": "p", "Expression": "requests ^ 2 / 100"},
            {"Id": "errorsonly", "Expression": 'METRICS("err")'},
        ],
        StartTime=now - dt.timedelta(minutes=6),
        EndTime=now,
        ScanBy="TimestampAscending",
    )
    assert response["Messages"] == []
    ids = [r["Id"] for r in response["MetricDataResults"]]
    assert "errors" not in ids  # ReturnData false
    assert all(r["StatusCode"] == "Complete" for r in response["MetricDataResults"])
    t5, t4, t3, t2 = (now - k * minute for k in (5, 4, 3, 2))
    assert _series(response, "requests") == [(t5, 10), (t4, 20), (t2, 40)]
    (rate,) = [r for r in response["MetricDataResults"] if r["Id"] == "rate"]
    assert rate["Label"] == "Error rate"
    assert _series(response, "rate") == [(t5, 10), (t4, 0), (t2, 10)]
    assert _series(response, "total") == [(t5, 11), (t4, 20), (t2, 44)]
    assert [v for _, v in _series(response, "avg")] == pytest.approx([-40 / 3, -10 / 3, 50 / 3])
    assert _series(response, "big") == [(t5, 0), (t4, 20), (t2, 40)]
    filled = dict(_series(response, "filled"))
    assert filled[t3] == 0 and filled[t2] == 40 and len(filled) == 6
    assert dict(_series(response, "linear"))[t3] == 30
    assert _series(response, "diff") == [(t4, 10), (t2, 20)]
    assert _series(response, "persec") == [(t4, 10 / 60), (t2, 20 / 120)]
    assert {v for _, v in _series(response, "period")} == {60}
    assert _series(response, "p") == [(t5, 1), (t4, 4), (t2, 16)]
    (errors_only,) = [r for r in response["MetricDataResults"] if r["Id"] == "errorsonly"]
    assert errors_only["Label"] == "errors" and errors_only["Values"] == [1, 0, 4]
    # Newest first by default.
    newest_first = cloudwatch.get_metric_data(
        MetricDataQueries=[_stat("requests", "Calc", "requests")],
        StartTime=now - dt.timedelta(minutes=6),
        EndTime=now,
    )
    assert _series(newest_first, "requests") == [(t2, 40), (t4, 20), (t5, 10)]


def test_division_by_zero_drops_the_point_and_says_so(cloudwatch: Any) -> None:
    now = _put_minutes(cloudwatch, "Zero", "a", {3: 1.0, 2: 2.0})
    _put_minutes(cloudwatch, "Zero", "b", {3: 0.0, 2: 1.0})
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            _stat("a", "Zero", "a", ReturnData=False),
            _stat("b", "Zero", "b", ReturnData=False),
            {"Id": "ratio", "Expression": "a / b"},
        ],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now,
    )
    (ratio,) = response["MetricDataResults"]
    assert ratio["Values"] == [2.0]
    assert ratio["Messages"][0]["Code"] == "ArithmeticError"


def test_get_metric_data_reads_lambda_metrics_and_percentiles(
    functory: LiveServer, credentials: Credentials, cloudwatch: Any
) -> None:
    lam = client_for(functory, credentials)
    create_function(lam, "measured", Code={"ZipFile": make_zip()})
    for _ in range(3):
        lam.invoke(FunctionName="measured", Payload=b"{}")
    function = [{"Name": "FunctionName", "Value": "measured"}]
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[
            {
                "Id": "inv",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Invocations",
                        "Dimensions": function,
                    },
                    "Period": 60,
                    "Stat": "Sum",
                },
            },
            {
                "Id": "p99",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Duration",
                        "Dimensions": function,
                    },
                    "Period": 60,
                    "Stat": "p99",
                },
            },
            {
                "Id": "max",
                "MetricStat": {
                    "Metric": {
                        "Namespace": "AWS/Lambda",
                        "MetricName": "Duration",
                        "Dimensions": function,
                    },
                    "Period": 60,
                    "Stat": "Maximum",
                },
            },
            {"Id": "errors", "Expression": "inv - inv"},
        ],
        **_window(),
    )
    assert sum(v for _, v in _series(response, "inv")) == 3
    p99, maximum = _series(response, "p99"), dict(_series(response, "max"))
    assert p99 and all(0 < value <= maximum[ts] for ts, value in p99)
    assert {v for _, v in _series(response, "errors")} == {0}


def test_get_metric_data_pages_by_max_datapoints(cloudwatch: Any) -> None:
    now = _put_minutes(cloudwatch, "Paged", "a", {k: float(k) for k in range(1, 11)})
    _put_minutes(cloudwatch, "Paged", "b", {k: float(k) for k in range(1, 6)})
    request = {
        "MetricDataQueries": [_stat("a", "Paged", "a"), _stat("b", "Paged", "b")],
        "StartTime": now - dt.timedelta(minutes=12),
        "EndTime": now,
        "MaxDatapoints": 4,
    }
    collected: dict[str, list[float]] = {"a": [], "b": []}
    statuses = []
    token = None
    for _ in range(10):
        response = cloudwatch.get_metric_data(**request, **({"NextToken": token} if token else {}))
        for result in response["MetricDataResults"]:
            assert len(result["Values"]) <= 4
            collected[result["Id"]] += result["Values"]
            statuses.append(result["StatusCode"])
        token = response.get("NextToken")
        if token is None:
            break
    assert collected == {
        "a": [float(k) for k in range(1, 11)],
        "b": [float(k) for k in range(1, 6)],
    }
    assert "PartialData" in statuses and statuses[-1] == "Complete"
    with pytest.raises(ClientError) as excinfo:
        cloudwatch.get_metric_data(**{**request, "MaxDatapoints": 5}, NextToken="nonsense")
    assert client_error(excinfo)[:3:2] == ("InvalidNextToken", 400)


def test_get_metric_data_errors_as_cloudwatch_reports_them(raw_cloudwatch: Any) -> None:
    window = _window()
    good = _stat("m1", "App", "m")
    cases = [
        ([{**good, "Id": "M1"}], "must start|starts with a lowercase"),
        ([{**good, "Id": "1m"}], "lowercase"),
        ([good, good], "not unique"),
        ([{"Id": "e1", "Expression": "FOO(m1)"}, good], "Unrecognized function: FOO"),
        ([{"Id": "e1", "Expression": "m9 * 2"}, good], "Unrecognized identifier m9"),
        (
            [{"Id": "e1", "Expression": "e2 + 1"}, {"Id": "e2", "Expression": "e1 + 1"}],
            "Circular dependency",
        ),
        ([{**good, "Expression": "1"}], "Exactly one of"),
        ([{"Id": "e1"}], "Exactly one of"),
        ([_stat("m1", "App", "m", stat="Median")], "not a valid statistic"),
        ([{**good, "MetricStat": {**good["MetricStat"], "Period": 90}}], "Period"),
        ([{"Id": "e1", "Expression": "m1 +"}, good], "Syntax error"),
        ([{"Id": "e1", "Expression": "(" * 100 + "1" + ")" * 100}], "deeper than"),
        ([{"Id": "e1", "Expression": "1" + "+1" * 300}], "nested operations"),
        ([{"Id": "e1", "Expression": "SUM(" + "m1, " * 600 + "m1)"}, good], "longer than 2048"),
    ]
    for queries, text in cases:
        with pytest.raises(ClientError) as excinfo:
            raw_cloudwatch.get_metric_data(MetricDataQueries=queries, **window)
        code, message, status = client_error(excinfo)
        assert (code, status) == ("ValidationError", 400), (queries, message)
        assert any(part in message for part in text.split("|")), (queries, message)


def test_an_expression_of_constants_gives_a_series_over_the_window(cloudwatch: Any) -> None:
    now = _now()
    response = cloudwatch.get_metric_data(
        MetricDataQueries=[{"Id": "c", "Expression": "TIME_SERIES(2) * 3", "Period": 60}],
        StartTime=now - dt.timedelta(minutes=5),
        EndTime=now,
    )
    (result,) = response["MetricDataResults"]
    assert result["Values"] == [6.0] * 5


# ---- the AWS CLI, in both forms ----------------------------------------------------------


def _cli(
    server: LiveServer,
    creds: Credentials,
    tmp_path: Path,
    *args: str,
    data_path: Path | None = None,
) -> Any:
    empty = tmp_path / "empty"
    empty.write_text("")
    env = {
        "PATH": os.environ.get("PATH", ""),
        "AWS_ACCESS_KEY_ID": creds.access_key_id,
        "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": str(empty),
        "AWS_SHARED_CREDENTIALS_FILE": str(empty),
    }
    if data_path is not None:
        env["AWS_DATA_PATH"] = str(data_path)
    result = subprocess.run(
        [AWS, "cloudwatch", *args, "--endpoint-url", server.url, "--output", "json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.mark.parametrize("form", ["json", "cbor"])
def test_the_aws_cli_puts_lists_and_reads_metrics(
    functory: LiveServer, credentials: Credentials, tmp_path: Path, cbor_model_dir: Path, form: str
) -> None:
    data_path = cbor_model_dir if form == "cbor" else None
    namespace = f"Cli/{form}"
    _cli(
        functory,
        credentials,
        tmp_path,
        "put-metric-data",
        "--namespace",
        namespace,
        "--metric-name",
        "Jobs",
        "--dimensions",
        "Queue=fast",
        "--value",
        "7",
        "--unit",
        "Count",
        data_path=data_path,
    )
    listed = _cli(
        functory,
        credentials,
        tmp_path,
        "list-metrics",
        "--namespace",
        namespace,
        data_path=data_path,
    )
    assert listed["Metrics"] == [
        {
            "Namespace": namespace,
            "MetricName": "Jobs",
            "Dimensions": [{"Name": "Queue", "Value": "fast"}],
        }
    ]
    now = dt.datetime.now(dt.UTC)
    queries = [
        {
            "Id": "jobs",
            "MetricStat": {
                "Metric": {
                    "Namespace": namespace,
                    "MetricName": "Jobs",
                    "Dimensions": [{"Name": "Queue", "Value": "fast"}],
                },
                "Period": 60,
                "Stat": "Sum",
            },
        },
        {"Id": "double", "Expression": "jobs * 2"},
    ]
    data = _cli(
        functory,
        credentials,
        tmp_path,
        "get-metric-data",
        "--metric-data-queries",
        json.dumps(queries),
        "--start-time",
        (now - dt.timedelta(minutes=5)).isoformat(),
        "--end-time",
        (now + dt.timedelta(minutes=1)).isoformat(),
        data_path=data_path,
    )
    values = {r["Id"]: r["Values"] for r in data["MetricDataResults"]}
    assert values == {"jobs": [7.0], "double": [14.0]}
    timestamps = data["MetricDataResults"][0]["Timestamps"]
    # AWS CLI v1 prints a timestamp as the response held it (cli_timestamp_format "none"):
    # epoch seconds from JSON 1.0, ISO 8601 from CBOR's tag 1.
    (stamp,) = timestamps
    moment = (
        dt.datetime.fromtimestamp(stamp, dt.UTC)
        if isinstance(stamp, int | float)
        else dt.datetime.fromisoformat(stamp)
    )
    assert moment.second == 0 and abs(moment - now) < dt.timedelta(minutes=2)


def test_the_cli_reports_cloudwatchs_error_in_the_cbor_form(
    functory: LiveServer, credentials: Credentials, tmp_path: Path, cbor_model_dir: Path
) -> None:
    empty = tmp_path / "empty"
    empty.write_text("")
    result = subprocess.run(
        [
            AWS,
            "cloudwatch",
            "put-metric-data",
            "--namespace",
            "AWS/EC2",
            "--metric-name",
            "m",
            "--value",
            "1",
            "--endpoint-url",
            functory.url,
        ],
        env={
            "PATH": os.environ.get("PATH", ""),
            "AWS_ACCESS_KEY_ID": credentials.access_key_id,
            "AWS_SECRET_ACCESS_KEY": credentials.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(empty),
            "AWS_SHARED_CREDENTIALS_FILE": str(empty),
            "AWS_DATA_PATH": str(cbor_model_dir),
        },
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode != 0
    assert "(InvalidParameterValue)" in result.stderr and "AWS/" in result.stderr
