from __future__ import annotations

import base64
import hashlib
import urllib.request

import pytest
from botocore.exceptions import ClientError

from conftest import ROLE, create_function, make_zip
from conftest import client_error as _error
from functions.services.functions import runtimes_accepted

pytestmark = pytest.mark.live


def test_it_creates_gets_and_lists_a_function(lam, credentials):
    created = create_function(lam, "hello", Description="greets", MemorySize=256, Timeout=10)
    code = make_zip()
    assert created["FunctionArn"] == (
        f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:hello"
    )
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert created["CodeSize"] == len(code)
    assert created["Version"] == "$LATEST"
    assert created["MemorySize"] == 256
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201

    got = lam.get_function(FunctionName="hello")
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"]) as response:
        assert response.read() == code

    names = [f["FunctionName"] for f in lam.list_functions()["Functions"]]
    assert names == ["hello"]


def test_it_rejects_a_duplicate_function_name(lam):
    create_function(lam, "dup")
    with pytest.raises(ClientError) as error:
        create_function(lam, "dup")
    assert error.value.response["Error"]["Code"] == "ResourceConflictException"
    assert error.value.response["Error"]["Message"] == "Function already exist: dup"
    assert error.value.response["ResponseMetadata"]["HTTPStatusCode"] == 409


def test_it_accepts_names_partial_arns_and_full_arns(lam, credentials):
    create_function(lam, "named")
    partial = f"{credentials.account_id}:function:named"
    full = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:named"
    for name in ("named", partial, full):
        assert lam.get_function_configuration(FunctionName=name)["FunctionName"] == "named"


def test_a_user_never_sees_another_accounts_function(functory, lam, credentials):
    from conftest import client_for, create_user

    create_function(lam, "private")
    other = client_for(functory, create_user(functory))
    with pytest.raises(ClientError) as error:
        other.get_function(FunctionName="private")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as error:
        other.get_function(
            FunctionName=f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:private"
        )
    # By ARN: refused as AWS refuses a function whose policy does not grant the caller
    # (the same answer for one that does not exist, so nothing is learnt).
    assert error.value.response["Error"]["Code"] == "AccessDeniedException"
    with pytest.raises(ClientError) as missing:
        other.get_function(
            FunctionName=f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:nothing"
        )
    assert missing.value.response["Error"]["Code"] == "AccessDeniedException"
    assert other.list_functions()["Functions"] == []


def test_it_pages_through_120_functions(lam):
    for i in range(120):
        create_function(lam, f"fn-{i:03d}")
    seen: list[str] = []
    marker = None
    pages = 0
    while True:
        kwargs = {"MaxItems": 50}
        if marker:
            kwargs["Marker"] = marker
        page = lam.list_functions(**kwargs)
        pages += 1
        seen += [f["FunctionName"] for f in page["Functions"]]
        marker = page.get("NextMarker")
        if not marker:
            break
    assert pages == 3
    assert seen == [f"fn-{i:03d}" for i in range(120)]
    paginated = [
        f["FunctionName"]
        for page in lam.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 7})
        for f in page["Functions"]
    ]
    assert paginated == seen


def test_it_validates_configuration_as_aws_does(raw_lam):
    lam = raw_lam
    cases = {
        "MemorySize": (64, "Member must have value greater than or equal to 128"),
        "Timeout": (901, "Member must have value less than or equal to 900"),
        "Role": ("not-a-role", "Member must satisfy regular expression pattern"),
        "Handler": ("has space", "Member must satisfy regular expression pattern"),
    }
    for member, (value, text) in cases.items():
        with pytest.raises(ClientError) as error:
            create_function(lam, "invalid", **{member: value})
        assert error.value.response["Error"]["Code"] == "ValidationException", member
        assert text in error.value.response["Error"]["Message"], member
    assert lam.list_functions()["Functions"] == []


def test_an_unknown_runtime_is_an_invalid_parameter_value_as_on_aws(raw_lam):
    accepted = runtimes_accepted()
    assert "python3.11" in accepted
    assert "python2.7" not in accepted
    expected = (
        "InvalidParameterValueException",
        "Value python9.9 at 'runtime' failed to satisfy constraint: Member must satisfy enum "
        f"value set: [{', '.join(accepted)}] or be a valid ARN",
        400,
    )
    with pytest.raises(ClientError) as error:
        create_function(raw_lam, "unknown-runtime", Runtime="python9.9")
    assert _error(error) == expected
    assert raw_lam.list_functions()["Functions"] == []
    create_function(raw_lam, "known-runtime")
    with pytest.raises(ClientError) as error:
        raw_lam.update_function_configuration(FunctionName="known-runtime", Runtime="python9.9")
    assert _error(error) == expected
    configuration = raw_lam.get_function_configuration(FunctionName="known-runtime")
    assert configuration["Runtime"] == "python3.11"


def test_other_validation_errors_come_before_the_runtime_check(raw_lam):
    with pytest.raises(ClientError) as error:
        create_function(raw_lam, "both", Runtime="python9.9", MemorySize=64)
    assert _error(error) == (
        "ValidationException",
        "1 validation error detected: Value '64' at 'memorySize' failed to satisfy constraint: "
        "Member must have value greater than or equal to 128",
        400,
    )


def test_it_rejects_a_deprecated_runtime(lam):
    with pytest.raises(ClientError) as error:
        create_function(lam, "old", Runtime="python2.7")
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "python2.7 is no longer supported" in error.value.response["Error"]["Message"]


def test_it_limits_environment_variables_to_4kb(lam):
    with pytest.raises(ClientError) as error:
        create_function(lam, "env", Environment={"Variables": {"BIG": "x" * 4100}})
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "exceeded the 4KB limit" in error.value.response["Error"]["Message"]
    created = create_function(lam, "env", Environment={"Variables": {"AB": "1"}})
    assert created["Environment"] == {"Variables": {"AB": "1"}}


def test_it_updates_code_with_revision_checks_dry_run_and_publish(lam):
    created = create_function(lam, "upd")
    new_code = make_zip({"app.py": "def handler(e, c):\n    return 2\n"})
    with pytest.raises(ClientError) as error:
        lam.update_function_code(FunctionName="upd", ZipFile=new_code, RevisionId="stale")
    assert error.value.response["Error"]["Code"] == "PreconditionFailedException"

    dry = lam.update_function_code(FunctionName="upd", ZipFile=new_code, DryRun=True)
    assert dry["CodeSha256"] != created["CodeSha256"]
    assert (
        lam.get_function(FunctionName="upd")["Configuration"]["CodeSha256"]
        == (created["CodeSha256"])
    )

    updated = lam.update_function_code(
        FunctionName="upd", ZipFile=new_code, RevisionId=created["RevisionId"], Publish=True
    )
    assert updated["Version"] == "1"
    assert updated["CodeSha256"] == dry["CodeSha256"]


def test_it_updates_configuration_with_revision_id(lam):
    created = create_function(lam, "cfg")
    updated = lam.update_function_configuration(
        FunctionName="cfg",
        MemorySize=512,
        RevisionId=created["RevisionId"],
        Environment={"Variables": {"KEY": "v"}},
    )
    assert updated["MemorySize"] == 512
    assert updated["RevisionId"] != created["RevisionId"]
    with pytest.raises(ClientError) as error:
        lam.update_function_configuration(
            FunctionName="cfg", Timeout=5, RevisionId=created["RevisionId"]
        )
    assert error.value.response["Error"]["Code"] == "PreconditionFailedException"
    assert lam.get_function_configuration(FunctionName="cfg")["Timeout"] == 3


def test_publishing_unchanged_code_returns_the_latest_version(lam):
    created = create_function(lam, "pub")
    first = lam.publish_version(FunctionName="pub", Description="first")
    assert first["Version"] == "1"
    assert first["Description"] == "first"
    again = lam.publish_version(FunctionName="pub")
    assert again["Version"] == "1"
    lam.update_function_configuration(FunctionName="pub", MemorySize=256)
    assert lam.publish_version(FunctionName="pub")["Version"] == "2"
    with pytest.raises(ClientError) as error:
        lam.publish_version(FunctionName="pub", CodeSha256="wrong")
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert created["CodeSha256"] in error.value.response["Error"]["Message"]
    versions = [v["Version"] for v in lam.list_versions_by_function(FunctionName="pub")["Versions"]]
    assert versions == ["$LATEST", "1", "2"]
    all_versions = lam.list_functions(FunctionVersion="ALL")["Functions"]
    assert [v["Version"] for v in all_versions] == ["$LATEST", "1", "2"]


def test_it_deletes_a_version_then_the_function(lam):
    create_function(lam, "del")
    lam.publish_version(FunctionName="del")
    with pytest.raises(ClientError) as error:
        lam.delete_function(FunctionName="del", Qualifier="$LATEST")
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    lam.delete_function(FunctionName="del", Qualifier="1")
    with pytest.raises(ClientError) as error:
        lam.get_function(FunctionName="del", Qualifier="1")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"
    lam.delete_function(FunctionName="del")
    with pytest.raises(ClientError) as error:
        lam.delete_function(FunctionName="del")
    assert error.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_s3_code_sources_are_answered_clearly(lam):
    with pytest.raises(ClientError) as error:
        lam.create_function(
            FunctionName="s3",
            Runtime="python3.11",
            Handler="app.handler",
            Role=ROLE,
            Code={"S3Bucket": "bucket", "S3Key": "key.zip"},
        )
    assert error.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "S3" in error.value.response["Error"]["Message"]
