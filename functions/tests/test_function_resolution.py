"""The one permission-checked fetch of functions: names, ARNs, qualifiers, accounts."""

from __future__ import annotations

import pytest
from django.utils import timezone

from awsapi.errors import InvalidParameterValue, ResourceNotFound
from functions.models import Alias, CodeBlob, Function, FunctionVersion
from functions.selectors import function_get_for_account, function_resolve
from iam.models import Account

pytestmark = pytest.mark.django_db

OWNER = "111122223333"
OTHER = "444455556666"


def _version(function: Function, number: int) -> FunctionVersion:
    blob, _ = CodeBlob.objects.get_or_create(sha256_hex="0" * 64, size=1, unzipped_size=1)
    return FunctionVersion.objects.create(
        function=function,
        number=number,
        runtime="python3.11",
        handler="app.handler",
        role="arn:aws:iam::123456789012:role/r",
        code=blob,
        code_sha256="x",
        code_size=1,
        config_digest="d",
        last_modified=timezone.now(),
    )


@pytest.fixture
def owner() -> Account:
    return Account.objects.create(id=OWNER)


@pytest.fixture
def other() -> Account:
    return Account.objects.create(id=OTHER)


@pytest.fixture
def function(owner: Account) -> Function:
    function = Function.objects.create(account=owner, name="hello", last_version_number=2)
    for number in (0, 1, 2):
        _version(function, number)
    Alias.objects.create(function=function, name="live", function_version="1")
    return function


@pytest.mark.parametrize(
    "name",
    [
        "hello",
        f"{OWNER}:function:hello",
        f"arn:aws:lambda:us-east-1:{OWNER}:function:hello",
        f"arn:aws:lambda:eu-west-1:{OWNER}:function:hello",
    ],
)
def test_it_finds_a_function_by_name_partial_arn_and_full_arn(owner, function, name):
    resolved = function_resolve(owner, name)
    assert resolved.function == function
    assert resolved.version is not None and resolved.version.number == 0


@pytest.mark.parametrize(
    ("name", "qualifier", "number"),
    [
        ("hello:1", None, 1),
        ("hello", "2", 2),
        ("hello", "$LATEST", 0),
        (f"arn:aws:lambda:us-east-1:{OWNER}:function:hello:2", None, 2),
        ("hello:live", None, 1),
        ("hello", "live", 1),
    ],
)
def test_it_resolves_versions_and_aliases(owner, function, name, qualifier, number):
    resolved = function_resolve(owner, name, qualifier)
    assert resolved.version is not None and resolved.version.number == number


def test_an_alias_names_itself_in_the_resolution(owner, function):
    resolved = function_resolve(owner, "hello", "live")
    assert resolved.alias is not None and resolved.alias.name == "live"
    assert resolved.arn.endswith(":function:hello:live")


def test_it_never_finds_another_accounts_function(other, function):
    for name in (
        "hello",
        f"arn:aws:lambda:us-east-1:{OWNER}:function:hello",
        f"{OWNER}:function:hello",
    ):
        with pytest.raises(ResourceNotFound):
            function_resolve(other, name)
        with pytest.raises(ResourceNotFound):
            function_get_for_account(other, name)


def test_it_reports_the_arn_it_could_not_find(owner):
    with pytest.raises(ResourceNotFound) as error:
        function_resolve(owner, "missing", "3")
    assert error.value.message == (
        f"Function not found: arn:aws:lambda:us-east-1:{OWNER}:function:missing:3"
    )


@pytest.mark.parametrize("qualifier", ["3", "0", "nope"])
def test_it_rejects_unknown_qualifiers(owner, function, qualifier):
    with pytest.raises(ResourceNotFound):
        function_resolve(owner, "hello", qualifier)


def test_it_rejects_a_qualifier_that_contradicts_the_arn(owner, function):
    with pytest.raises(InvalidParameterValue) as error:
        function_resolve(owner, "hello:1", "2")
    assert "does not match the specified qualifier" in error.value.message


@pytest.mark.parametrize("name", ["bad name", "", "a/b", "arn:aws:s3:::bucket"])
def test_it_treats_malformed_names_as_not_found(owner, name):
    with pytest.raises(ResourceNotFound):
        function_resolve(owner, name)
