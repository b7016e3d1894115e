from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import client_error as _error
from conftest import client_for, create_function, create_user, make_zip

pytestmark = pytest.mark.live


def _with_versions(lam, name: str, count: int) -> str:
    """A function with ``count`` published versions; returns its unqualified ARN."""
    created = create_function(lam, name)
    for i in range(count):
        lam.update_function_code(
            FunctionName=name, ZipFile=make_zip({"app.py": f"def handler(e, c):\n    return {i}\n"})
        )
        lam.publish_version(FunctionName=name)
    return str(created["FunctionArn"])


def test_it_creates_gets_updates_lists_and_deletes_an_alias(lam):
    arn = _with_versions(lam, "aliased", 2)
    created = lam.create_alias(
        FunctionName="aliased", Name="live", FunctionVersion="1", Description="prod"
    )
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["AliasArn"] == f"{arn}:live"
    assert created["FunctionVersion"] == "1"
    assert created["Description"] == "prod"
    assert "RoutingConfig" not in created

    got = lam.get_alias(FunctionName="aliased", Name="live")
    assert got["RevisionId"] == created["RevisionId"]
    assert got["AliasArn"] == f"{arn}:live"

    updated = lam.update_alias(
        FunctionName="aliased",
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.25}},
        RevisionId=created["RevisionId"],
    )
    assert updated["FunctionVersion"] == "2"
    assert updated["Description"] == "prod"
    assert updated["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.25}}
    assert updated["RevisionId"] != created["RevisionId"]

    cleared = lam.update_alias(FunctionName="aliased", Name="live", RoutingConfig={})
    assert "RoutingConfig" not in cleared

    lam.create_alias(FunctionName="aliased", Name="dev", FunctionVersion="$LATEST")
    listed = lam.list_aliases(FunctionName="aliased")["Aliases"]
    assert [a["Name"] for a in listed] == ["dev", "live"]
    only_latest = lam.list_aliases(FunctionName="aliased", FunctionVersion="$LATEST")["Aliases"]
    assert [a["Name"] for a in only_latest] == ["dev"]

    deleted = lam.delete_alias(FunctionName="aliased", Name="dev")
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert [a["Name"] for a in lam.list_aliases(FunctionName="aliased")["Aliases"]] == ["live"]


def test_it_pages_through_aliases(lam):
    create_function(lam, "many")
    names = [f"a{i:02d}" for i in range(12)]
    for name in names:
        lam.create_alias(FunctionName="many", Name=name, FunctionVersion="$LATEST")
    first = lam.list_aliases(FunctionName="many", MaxItems=5)
    assert [a["Name"] for a in first["Aliases"]] == names[:5]
    assert first["NextMarker"]
    seen = [
        a["Name"]
        for page in lam.get_paginator("list_aliases").paginate(
            FunctionName="many", PaginationConfig={"PageSize": 5}
        )
        for a in page["Aliases"]
    ]
    assert seen == names


def test_it_rejects_a_duplicate_alias(lam):
    arn = _with_versions(lam, "dupalias", 1)
    lam.create_alias(FunctionName="dupalias", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as error:
        lam.create_alias(FunctionName="dupalias", Name="live", FunctionVersion="$LATEST")
    assert _error(error) == (
        "ResourceConflictException",
        f"Alias already exists: {arn}:live",
        409,
    )
    assert lam.get_alias(FunctionName="dupalias", Name="live")["FunctionVersion"] == "1"


def test_it_answers_a_missing_alias_with_not_found(lam):
    arn = create_function(lam, "noalias")["FunctionArn"]
    with pytest.raises(ClientError) as error:
        lam.get_alias(FunctionName="noalias", Name="ghost")
    assert _error(error) == (
        "ResourceNotFoundException",
        f"Cannot find alias arn: {arn}:ghost",
        404,
    )
    for call in (lam.update_alias, lam.delete_alias):
        with pytest.raises(ClientError) as error:
            call(FunctionName="noalias", Name="ghost")
        assert _error(error) == (
            "ResourceNotFoundException",
            f"Alias not found: {arn}:ghost",
            404,
        )


def test_it_rejects_an_alias_to_a_missing_version(lam):
    arn = create_function(lam, "nover")["FunctionArn"]
    with pytest.raises(ClientError) as error:
        lam.create_alias(FunctionName="nover", Name="live", FunctionVersion="7")
    assert _error(error) == ("ResourceNotFoundException", f"Function not found: {arn}:7", 404)
    assert lam.list_aliases(FunctionName="nover")["Aliases"] == []


def test_it_rejects_an_alias_on_a_missing_function(lam, credentials):
    with pytest.raises(ClientError) as error:
        lam.create_alias(FunctionName="nothing", Name="live", FunctionVersion="$LATEST")
    arn = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:nothing"
    assert _error(error) == ("ResourceNotFoundException", f"Function not found: {arn}", 404)


def test_it_rejects_an_alias_name_of_only_digits(raw_lam):
    create_function(raw_lam, "digits")
    with pytest.raises(ClientError) as error:
        raw_lam.create_alias(FunctionName="digits", Name="123", FunctionVersion="$LATEST")
    code, message, status = _error(error)
    assert (code, status) == ("ValidationException", 400)
    assert message == (
        "1 validation error detected: Value '123' at 'name' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: (?!^[0-9]+$)([a-zA-Z0-9-_]+)"
    )


def test_it_enforces_routing_configuration_rules(lam, raw_lam):
    arn = _with_versions(lam, "routed", 2)

    def create(client, primary: str, weights: dict[str, float]) -> tuple[str, str, int]:
        with pytest.raises(ClientError) as error:
            client.create_alias(
                FunctionName="routed",
                Name="canary",
                FunctionVersion=primary,
                RoutingConfig={"AdditionalVersionWeights": weights},
            )
        return _error(error)

    assert create(lam, "2", {"1": 0.1, "3": 0.1}) == (
        "InvalidParameterValueException",
        "Number of items in AdditionalVersionWeights cannot be greater than 1",
        400,
    )
    assert create(lam, "2", {"2": 0.5}) == (
        "InvalidParameterValueException",
        "Invalid function version 2. Function version 2 is already included in routing "
        "configuration.",
        400,
    )
    assert create(lam, "$LATEST", {"1": 0.5}) == (
        "InvalidParameterValueException",
        "$LATEST is not supported for an alias pointing to more than 1 version",
        400,
    )
    assert create(lam, "2", {"9": 0.5}) == (
        "ResourceNotFoundException",
        f"Function not found: {arn}:9",
        404,
    )
    assert create(raw_lam, "2", {"1": 1.5}) == (
        "ValidationException",
        "1 validation error detected: Value '{1=1.5}' at 'routingConfig.additionalVersionWeights' "
        "failed to satisfy constraint: Map value must satisfy constraint: [Member must have "
        "value less than or equal to 1.0, Member must have value greater than or equal to 0.0, "
        "Member must not be null]",
        400,
    )
    assert lam.list_aliases(FunctionName="routed")["Aliases"] == []

    for weight in (0.0, 1.0):
        lam.create_alias(
            FunctionName="routed",
            Name=f"w{int(weight)}",
            FunctionVersion="2",
            RoutingConfig={"AdditionalVersionWeights": {"1": weight}},
        )
    created = lam.get_alias(FunctionName="routed", Name="w0")
    assert created["RoutingConfig"] == {"AdditionalVersionWeights": {"1": 0.0}}


def test_an_update_that_breaks_routing_rules_changes_nothing(lam):
    _with_versions(lam, "stable", 2)
    before = lam.create_alias(
        FunctionName="stable",
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.5}},
    )
    with pytest.raises(ClientError) as error:
        # The weighted version would become the primary as well.
        lam.update_alias(FunctionName="stable", Name="live", FunctionVersion="1")
    assert _error(error)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as error:
        lam.update_alias(
            FunctionName="stable", Name="live", Description="new", RevisionId="not-current"
        )
    assert _error(error) == (
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetFunction/GetAlias API to retrieve the latest Revision Id",
        412,
    )
    after = lam.get_alias(FunctionName="stable", Name="live")
    for key in ("FunctionVersion", "Description", "RoutingConfig", "RevisionId"):
        assert after[key] == before[key]


def test_a_version_used_by_an_alias_cannot_be_deleted(lam):
    _with_versions(lam, "pinned", 2)
    lam.create_alias(
        FunctionName="pinned",
        Name="live",
        FunctionVersion="2",
        RoutingConfig={"AdditionalVersionWeights": {"1": 0.1}},
    )
    for version in ("1", "2"):
        with pytest.raises(ClientError) as error:
            lam.delete_function(FunctionName="pinned", Qualifier=version)
        assert _error(error)[0] == "ResourceConflictException"


def test_function_calls_resolve_an_alias_qualifier(lam):
    arn = _with_versions(lam, "viaalias", 2)
    lam.create_alias(FunctionName="viaalias", Name="live", FunctionVersion="1")
    for kwargs in (
        {"FunctionName": "viaalias", "Qualifier": "live"},
        {"FunctionName": "viaalias:live"},
        {"FunctionName": f"{arn}:live"},
    ):
        config = lam.get_function_configuration(**kwargs)
        assert config["Version"] == "1"
        assert config["FunctionArn"] == f"{arn}:live"
        assert lam.get_function(**kwargs)["Configuration"]["Version"] == "1"
    with pytest.raises(ClientError) as error:
        lam.get_function(FunctionName="viaalias", Qualifier="ghost")
    assert _error(error) == ("ResourceNotFoundException", f"Function not found: {arn}:ghost", 404)
    # DeleteFunction deletes functions and versions, never aliases.
    with pytest.raises(ClientError) as error:
        lam.delete_function(FunctionName="viaalias", Qualifier="live")
    assert _error(error)[0] == "InvalidParameterValueException"
    assert lam.get_alias(FunctionName="viaalias", Name="live")["FunctionVersion"] == "1"


def test_another_account_never_sees_an_alias(functory, lam, credentials):
    create_function(lam, "mine")
    lam.create_alias(FunctionName="mine", Name="live", FunctionVersion="$LATEST")
    other = client_for(functory, create_user(functory))
    arn = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:mine"
    for call in (
        lambda: other.get_alias(FunctionName=arn, Name="live"),
        lambda: other.delete_alias(FunctionName=arn, Name="live"),
        lambda: other.list_aliases(FunctionName=arn),
        lambda: other.create_alias(FunctionName=arn, Name="x", FunctionVersion="$LATEST"),
    ):
        with pytest.raises(ClientError) as error:
            call()
        # Another account's function is refused (whether or not it exists) unless its
        # policy grants the call.
        assert _error(error)[0] == "AccessDeniedException"
    assert [a["Name"] for a in lam.list_aliases(FunctionName="mine")["Aliases"]] == ["live"]
