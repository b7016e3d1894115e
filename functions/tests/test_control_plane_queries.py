"""How many queries the control plane's reads take (in-process, signed calls through the
real URLs and views): ListFunctions takes as many for 50 functions, some with layers, as
for 2, and an unqualified GetFunctionConfiguration reads the function and $LATEST at once."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from functions.models import FunctionLayer, FunctionVersion
from functions.tests.factories import function_row
from iam import services as iam_services
from iam.models import Account

pytestmark = pytest.mark.django_db


@pytest.fixture
def caller() -> tuple[Account, Credentials]:
    account = iam_services.account_get_or_create("111111111111")
    user = iam_services.user_create(username="u", account=account, password=None, is_admin=True)
    key = iam_services.access_key_create(user=user)
    return account, Credentials(key.access_key_id, key.secret_access_key)


def _get(credentials: Credentials, path: str) -> tuple[Any, int]:
    """The JSON answer to a signed GET, and how many queries answering it took."""
    request = AWSRequest(method="GET", url=f"http://testserver{path}")
    SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
    headers = {"Host": "testserver", **dict(request.headers.items())}
    with CaptureQueriesContext(connection) as queries:
        response = Client().get(path, headers=headers)
    assert response.status_code == 200, response.content
    return response.json(), len(queries.captured_queries)


def _with_a_layer(version: FunctionVersion, position: int = 0) -> None:
    assert version.code is not None
    FunctionLayer.objects.create(
        function_version=version,
        position=position,
        arn=f"arn:aws:lambda:us-east-1:111111111111:layer:l:{position + 1}",
        code=version.code,
        code_size=10,
    )


def test_listing_functions_takes_as_many_queries_for_fifty_as_for_two(
    caller: tuple[Account, Credentials],
) -> None:
    account, credentials = caller
    for i in range(2):
        function_row(account, f"f{i:02d}")
    _, few = _get(credentials, "/2015-03-31/functions")
    for i in range(2, 50):
        function = function_row(account, f"f{i:02d}")
        if i % 10 == 0:
            _with_a_layer(function.versions.get(number=0))
    body, many = _get(credentials, "/2015-03-31/functions?MaxItems=50")
    assert len(body["Functions"]) == 50
    assert many == few
    with_layers = [f["FunctionName"] for f in body["Functions"] if "Layers" in f]
    assert with_layers == ["f10", "f20", "f30", "f40"]


def test_each_listed_version_shows_its_own_layers_in_order(
    caller: tuple[Account, Credentials],
) -> None:
    account, credentials = caller
    first = function_row(account, "a").versions.get(number=0)
    for position in (1, 0):
        _with_a_layer(first, position)
    function_row(account, "b")
    body, _ = _get(credentials, "/2015-03-31/functions")
    layers = {f["FunctionName"]: f.get("Layers") for f in body["Functions"]}
    assert layers == {
        "a": [
            {"Arn": "arn:aws:lambda:us-east-1:111111111111:layer:l:1", "CodeSize": 10},
            {"Arn": "arn:aws:lambda:us-east-1:111111111111:layer:l:2", "CodeSize": 10},
        ],
        "b": None,
    }


def test_an_unqualified_read_finds_the_function_and_latest_in_one_query(
    caller: tuple[Account, Credentials],
) -> None:
    account, credentials = caller
    function_row(account, "fn")
    # The signing key, the function with $LATEST, $LATEST's layers.
    body, queries = _get(credentials, "/2015-03-31/functions/fn/configuration")
    assert (body["FunctionName"], body["Version"], queries) == ("fn", "$LATEST", 3)


def test_a_page_of_more_than_sixty_four_shows_each_ones_layers_in_as_many_queries(
    caller: tuple[Account, Credentials],
) -> None:
    account, credentials = caller
    for i in range(70):
        function = function_row(account, f"f{i:02d}")
        if i in (0, 63, 64, 69):
            _with_a_layer(function.versions.get(number=0))
    _, short = _get(credentials, "/2015-03-31/functions?MaxItems=10")
    body, long = _get(credentials, "/2015-03-31/functions?MaxItems=70")
    assert len(body["Functions"]) == 70
    assert long == short
    with_layers = [f["FunctionName"] for f in body["Functions"] if "Layers" in f]
    assert with_layers == ["f00", "f63", "f64", "f69"]
