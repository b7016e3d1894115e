"""Layers through boto3 against a live server: versions, listing, permissions, sharing
between accounts, and attaching layers to functions."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import urllib.error
import urllib.request
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import LiveServer, client_for, create_function, create_user, make_zip
from conftest import client_error as _error

pytestmark = pytest.mark.live

REGION = "us-east-1"
NOT_FOUND = "The resource you requested does not exist."


def _unique_zip() -> bytes:
    return make_zip({"python/lib.py": f"# {uuid.uuid4()}\nVALUE = 1\n"})


def _blob(server: LiveServer, data: bytes) -> Path:
    digest = hashlib.sha256(data).hexdigest()
    return Path(server.env["FUNCTORY_DATA_DIR"]) / "code" / "blobs" / digest[:2] / f"{digest}.zip"


def _publish(client: Any, name: str, data: bytes | None = None, **extra: Any) -> dict[str, Any]:
    result: dict[str, Any] = client.publish_layer_version(
        LayerName=name, Content={"ZipFile": data or _unique_zip()}, **extra
    )
    return result


def _other(functory: LiveServer) -> tuple[Any, Any]:
    creds = create_user(functory)
    return client_for(functory, creds), creds


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url) as response:
        data: bytes = response.read()
    return data


def _zeros_zip(size: int) -> bytes:
    buffer = io.BytesIO()
    with (
        zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive,
        archive.open(f"zeros-{uuid.uuid4().hex}.bin", "w") as handle,
    ):
        chunk = bytes(1 << 20)
        remaining = size
        while remaining:
            step = min(remaining, len(chunk))
            handle.write(chunk[:step])
            remaining -= step
    return buffer.getvalue()


# --- publishing and reading -------------------------------------------------------------


def test_it_publishes_a_layer_version_and_serves_its_content(lam, credentials):
    code = _unique_zip()
    published = _publish(
        lam,
        "deps",
        code,
        Description="shared deps",
        CompatibleRuntimes=["python3.11", "python3.12"],
        CompatibleArchitectures=["x86_64"],
        LicenseInfo="MIT",
    )
    layer_arn = f"arn:aws:lambda:{REGION}:{credentials.account_id}:layer:deps"
    assert published["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert published["LayerArn"] == layer_arn
    assert published["LayerVersionArn"] == f"{layer_arn}:1"
    assert published["Version"] == 1
    assert published["Description"] == "shared deps"
    assert published["CompatibleRuntimes"] == ["python3.11", "python3.12"]
    assert published["CompatibleArchitectures"] == ["x86_64"]
    assert published["LicenseInfo"] == "MIT"
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000", published["CreatedDate"])
    content = published["Content"]
    assert content["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert content["CodeSize"] == len(code)
    assert _download(content["Location"]) == code

    got = lam.get_layer_version(LayerName="deps", VersionNumber=1)
    by_arn = lam.get_layer_version_by_arn(Arn=f"{layer_arn}:1")
    for answer in (got, by_arn):
        assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert answer["LayerVersionArn"] == f"{layer_arn}:1"
        assert answer["CreatedDate"] == published["CreatedDate"]
        assert answer["Content"]["CodeSha256"] == content["CodeSha256"]
        assert _download(answer["Content"]["Location"]) == code


def test_it_accepts_a_layer_arn_of_the_callers_account_as_layer_name(lam, credentials):
    layer_arn = f"arn:aws:lambda:{REGION}:{credentials.account_id}:layer:by-arn"
    assert _publish(lam, layer_arn)["LayerVersionArn"] == f"{layer_arn}:1"
    assert _publish(lam, "by-arn")["Version"] == 2
    assert lam.get_layer_version(LayerName=layer_arn, VersionNumber=1)["Version"] == 1
    versions = lam.list_layer_versions(LayerName=layer_arn)["LayerVersions"]
    assert [v["Version"] for v in versions] == [2, 1]


def test_layer_version_numbers_are_never_reused(lam):
    for _ in range(2):
        _publish(lam, "counted")
    lam.delete_layer_version(LayerName="counted", VersionNumber=2)
    assert _publish(lam, "counted")["Version"] == 3
    for number in (1, 3):
        lam.delete_layer_version(LayerName="counted", VersionNumber=number)
    assert lam.list_layers()["Layers"] == []
    assert _publish(lam, "counted")["Version"] == 4


def test_it_rejects_s3_content_clearly(lam):
    with pytest.raises(ClientError) as error:
        lam.publish_layer_version(
            LayerName="from-s3", Content={"S3Bucket": "bucket", "S3Key": "layer.zip"}
        )
    code, message, status = _error(error)
    assert (code, status) == ("InvalidParameterValueException", 400)
    assert "S3Bucket/S3Key code sources are not supported" in message
    assert lam.list_layers()["Layers"] == []


def test_a_failed_publish_changes_nothing(functory, lam):
    broken = b"PK\x03\x04 not really a zip " + uuid.uuid4().bytes
    with pytest.raises(ClientError) as error:
        _publish(lam, "broken", broken)
    assert _error(error) == (
        "InvalidParameterValueException",
        "Could not unzip uploaded file. Please check your file, then try to upload again.",
        400,
    )
    assert not _blob(functory, broken).exists()
    assert lam.list_layers()["Layers"] == []
    assert _publish(lam, "broken")["Version"] == 1


def test_it_validates_publish_parameters_against_the_model(raw_lam):
    with pytest.raises(ClientError) as error:
        raw_lam.publish_layer_version(
            LayerName="bad name!", Content={"ZipFile": make_zip()}, CompatibleRuntimes=["cobol"]
        )
    code, message, status = _error(error)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("2 validation errors detected: ")
    assert "Value 'bad name!' at 'layerName' failed to satisfy constraint" in message
    assert "Value 'cobol' at 'compatibleRuntimes.1.member' failed to satisfy constraint" in message


def test_a_missing_layer_or_version_is_not_found(lam, credentials):
    _publish(lam, "present")
    layer_arn = f"arn:aws:lambda:{REGION}:{credentials.account_id}:layer"
    calls = [
        lambda: lam.get_layer_version(LayerName="absent", VersionNumber=1),
        lambda: lam.get_layer_version(LayerName="present", VersionNumber=2),
        lambda: lam.get_layer_version_by_arn(Arn=f"{layer_arn}:present:7"),
        lambda: lam.get_layer_version_by_arn(Arn=f"{layer_arn}:absent:1"),
    ]
    for call in calls:
        with pytest.raises(ClientError) as error:
            call()
        assert _error(error) == ("ResourceNotFoundException", NOT_FOUND, 404)


def test_version_numbers_below_one_are_invalid(lam):
    _publish(lam, "numbered")
    for call in (lam.get_layer_version, lam.delete_layer_version):
        with pytest.raises(ClientError) as error:
            call(LayerName="numbered", VersionNumber=0)
        assert _error(error) == (
            "InvalidParameterValueException",
            "Layer Version Cannot be less than 1",
            400,
        )


# --- listing ----------------------------------------------------------------------------


def test_list_layers_shows_each_layers_latest_matching_version(lam, credentials):
    _publish(lam, "alpha", CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["arm64"])
    _publish(lam, "alpha", CompatibleRuntimes=["nodejs22.x"], CompatibleArchitectures=["x86_64"])
    _publish(lam, "beta", CompatibleRuntimes=["python3.12"], CompatibleArchitectures=["x86_64"])
    _publish(lam, "gamma")

    layers = lam.list_layers()["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in layers] == [
        ("alpha", 2),
        ("beta", 1),
        ("gamma", 1),
    ]
    alpha = layers[0]
    assert alpha["LayerArn"] == f"arn:aws:lambda:{REGION}:{credentials.account_id}:layer:alpha"
    assert alpha["LatestMatchingVersion"]["LayerVersionArn"] == f"{alpha['LayerArn']}:2"
    assert "Content" not in alpha["LatestMatchingVersion"]

    python = lam.list_layers(CompatibleRuntime="python3.12")["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in python] == [
        ("alpha", 1),
        ("beta", 1),
    ]
    arm = lam.list_layers(CompatibleArchitecture="arm64")["Layers"]
    assert [(x["LayerName"], x["LatestMatchingVersion"]["Version"]) for x in arm] == [("alpha", 1)]
    both = lam.list_layers(CompatibleRuntime="python3.12", CompatibleArchitecture="x86_64")
    assert [x["LayerName"] for x in both["Layers"]] == ["beta"]


def test_list_layers_pages_with_marker_and_max_items(lam):
    for i in range(5):
        _publish(lam, f"layer-{i}")
    seen: list[str] = []
    kwargs: dict[str, Any] = {"MaxItems": 2}
    while True:
        page = lam.list_layers(**kwargs)
        assert len(page["Layers"]) <= 2
        seen += [x["LayerName"] for x in page["Layers"]]
        if "NextMarker" not in page:
            break
        kwargs["Marker"] = page["NextMarker"]
    assert seen == [f"layer-{i}" for i in range(5)]


def test_list_layer_versions_is_newest_first_filtered_and_paged(lam):
    for runtime in ("python3.11", "python3.12", "python3.11", "python3.11"):
        _publish(lam, "versions", CompatibleRuntimes=[runtime])
    everything = lam.list_layer_versions(LayerName="versions")["LayerVersions"]
    assert [v["Version"] for v in everything] == [4, 3, 2, 1]
    assert everything[0]["CompatibleRuntimes"] == ["python3.11"]

    filtered = lam.list_layer_versions(LayerName="versions", CompatibleRuntime="python3.11")
    assert [v["Version"] for v in filtered["LayerVersions"]] == [4, 3, 1]

    first = lam.list_layer_versions(LayerName="versions", MaxItems=3)
    assert [v["Version"] for v in first["LayerVersions"]] == [4, 3, 2]
    rest = lam.list_layer_versions(LayerName="versions", MaxItems=3, Marker=first["NextMarker"])
    assert [v["Version"] for v in rest["LayerVersions"]] == [1]
    assert "NextMarker" not in rest

    assert lam.list_layer_versions(LayerName="never-published")["LayerVersions"] == []


def test_list_calls_reject_out_of_range_max_items(raw_lam):
    with pytest.raises(ClientError) as error:
        raw_lam.list_layers(MaxItems=51)
    assert _error(error) == (
        "ValidationException",
        "1 validation error detected: Value '51' at 'maxItems' failed to satisfy constraint: "
        "Member must have value less than or equal to 50",
        400,
    )


# --- deleting ---------------------------------------------------------------------------


def test_deleting_a_missing_layer_version_answers_204(lam):
    response = lam.delete_layer_version(LayerName="nothing-here", VersionNumber=3)
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204


def test_deleting_a_layer_version_frees_its_blob(functory, lam):
    code = _unique_zip()
    location = _publish(lam, "freed", code)["Content"]["Location"]
    assert _blob(functory, code).exists()
    lam.delete_layer_version(LayerName="freed", VersionNumber=1)
    assert not _blob(functory, code).exists()
    with pytest.raises(urllib.error.HTTPError) as error:
        _download(location)
    assert error.value.code == 404
    with pytest.raises(ClientError) as missing:
        lam.get_layer_version(LayerName="freed", VersionNumber=1)
    assert _error(missing)[0] == "ResourceNotFoundException"


def test_a_function_keeps_a_deleted_layer_version_until_it_lets_go(functory, lam):
    code = _unique_zip()
    arn = _publish(lam, "kept", code)["LayerVersionArn"]
    create_function(lam, "user", Layers=[arn])
    lam.delete_layer_version(LayerName="kept", VersionNumber=1)

    assert _blob(functory, code).exists(), "the function still uses it"
    config = lam.get_function_configuration(FunctionName="user")
    assert config["Layers"] == [{"Arn": arn, "CodeSize": len(code)}]
    lam.update_function_configuration(FunctionName="user", Description="still works")

    lam.update_function_configuration(FunctionName="user", Layers=[])
    assert not _blob(functory, code).exists(), "the last reference went with the layers"


# --- permissions ------------------------------------------------------------------------


def test_layer_version_permissions_lifecycle(lam, credentials):
    arn = _publish(lam, "shared")["LayerVersionArn"]
    with pytest.raises(ClientError) as error:
        lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    assert _error(error) == (
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
        404,
    )

    added = lam.add_layer_version_permission(
        LayerName="shared",
        VersionNumber=1,
        StatementId="one-account",
        Action="lambda:GetLayerVersion",
        Principal="111122223333",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert json.loads(added["Statement"]) == {
        "Sid": "one-account",
        "Effect": "Allow",
        "Principal": {"AWS": "arn:aws:iam::111122223333:root"},
        "Action": "lambda:GetLayerVersion",
        "Resource": arn,
    }
    policy = lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)
    assert policy["RevisionId"] == added["RevisionId"]
    document = json.loads(policy["Policy"])
    assert document["Version"] == "2012-10-17"
    assert document["Statement"] == [json.loads(added["Statement"])]

    org = lam.add_layer_version_permission(
        LayerName="shared",
        VersionNumber=1,
        StatementId="my-org",
        Action="lambda:GetLayerVersion",
        Principal="*",
        OrganizationId="o-abcdefghij",
        RevisionId=added["RevisionId"],
    )
    assert org["RevisionId"] != added["RevisionId"]
    assert json.loads(org["Statement"]) == {
        "Sid": "my-org",
        "Effect": "Allow",
        "Principal": "*",
        "Action": "lambda:GetLayerVersion",
        "Resource": arn,
        "Condition": {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
    }
    root = lam.add_layer_version_permission(
        LayerName="shared",
        VersionNumber=1,
        StatementId="root-arn",
        Action="lambda:GetLayerVersion",
        Principal="arn:aws:iam::444455556666:root",
    )
    assert json.loads(root["Statement"])["Principal"] == {"AWS": "arn:aws:iam::444455556666:root"}

    response = lam.remove_layer_version_permission(
        LayerName="shared", VersionNumber=1, StatementId="one-account"
    )
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 204
    remaining = json.loads(
        lam.get_layer_version_policy(LayerName="shared", VersionNumber=1)["Policy"]
    )
    assert [s["Sid"] for s in remaining["Statement"]] == ["my-org", "root-arn"]


def test_adding_a_duplicate_statement_id_conflicts(lam):
    _publish(lam, "dup-sid")
    grant = {
        "LayerName": "dup-sid",
        "VersionNumber": 1,
        "StatementId": "same",
        "Action": "lambda:GetLayerVersion",
        "Principal": "*",
    }
    lam.add_layer_version_permission(**grant)
    with pytest.raises(ClientError) as error:
        lam.add_layer_version_permission(**grant)
    assert _error(error) == (
        "ResourceConflictException",
        "The statement id (same) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.",
        409,
    )


def test_a_stale_revision_id_is_refused(lam):
    _publish(lam, "revised")
    expected = (
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetLayerPolicy API to retrieve the latest Revision Id",
        412,
    )
    with pytest.raises(ClientError) as error:
        lam.add_layer_version_permission(
            LayerName="revised",
            VersionNumber=1,
            StatementId="a",
            Action="lambda:GetLayerVersion",
            Principal="*",
            RevisionId=str(uuid.uuid4()),
        )
    assert _error(error) == expected
    lam.add_layer_version_permission(
        LayerName="revised",
        VersionNumber=1,
        StatementId="a",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    with pytest.raises(ClientError) as error:
        lam.remove_layer_version_permission(
            LayerName="revised", VersionNumber=1, StatementId="a", RevisionId=str(uuid.uuid4())
        )
    assert _error(error) == expected


def test_removing_a_missing_statement_is_not_found(lam):
    _publish(lam, "no-sid")
    with pytest.raises(ClientError) as error:
        lam.remove_layer_version_permission(LayerName="no-sid", VersionNumber=1, StatementId="x")
    assert _error(error) == (
        "ResourceNotFoundException",
        "Statement x is not found in resource policy.",
        404,
    )


def test_permission_calls_on_a_missing_layer_version_are_not_found(lam, credentials):
    _publish(lam, "one-version")
    arn = f"arn:aws:lambda:{REGION}:{credentials.account_id}:layer:one-version:2"
    expected = ("ResourceNotFoundException", f"Layer version {arn} does not exist.", 404)
    calls = [
        lambda: lam.add_layer_version_permission(
            LayerName="one-version",
            VersionNumber=2,
            StatementId="s",
            Action="lambda:GetLayerVersion",
            Principal="*",
        ),
        lambda: lam.remove_layer_version_permission(
            LayerName="one-version", VersionNumber=2, StatementId="s"
        ),
        lambda: lam.get_layer_version_policy(LayerName="one-version", VersionNumber=2),
    ]
    for call in calls:
        with pytest.raises(ClientError) as error:
            call()
        assert _error(error) == expected


def test_it_validates_permission_parameters(lam, raw_lam):
    _publish(lam, "checked")
    with pytest.raises(ClientError) as error:
        lam.add_layer_version_permission(
            LayerName="checked",
            VersionNumber=1,
            StatementId="org",
            Action="lambda:GetLayerVersion",
            Principal="111122223333",
            OrganizationId="o-abcdefghij",
        )
    code, _message, status = _error(error)
    assert (code, status) == ("InvalidParameterValueException", 400)

    with pytest.raises(ClientError) as error:
        raw_lam.add_layer_version_permission(
            LayerName="checked",
            VersionNumber=1,
            StatementId="bad",
            Action="lambda:InvokeFunction",
            Principal="someone",
        )
    code, message, status = _error(error)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith("2 validation errors detected: ")
    assert "Value 'lambda:InvokeFunction' at 'action' failed to satisfy constraint" in message
    assert "Value 'someone' at 'principal' failed to satisfy constraint" in message
    assert lam.list_layer_versions(LayerName="checked")["LayerVersions"][0]["Version"] == 1
    with pytest.raises(ClientError):
        lam.get_layer_version_policy(LayerName="checked", VersionNumber=1)


# --- sharing between accounts -----------------------------------------------------------


def _denied(creds: Any, action: str, resource: str) -> str:
    return (
        f"User: arn:aws:iam::{creds.account_id}:user/{creds.user_name} is not authorized to "
        f"perform: lambda:{action} on resource: {resource} because no resource-based policy "
        f"allows the lambda:{action} action"
    )


def test_another_account_reads_a_layer_version_only_when_granted(functory, lam, credentials):
    code = _unique_zip()
    arn = _publish(lam, "private", code)["LayerVersionArn"]
    layer_arn = arn.rsplit(":", 1)[0]
    other, other_creds = _other(functory)

    for call in (
        lambda: other.get_layer_version(LayerName=layer_arn, VersionNumber=1),
        lambda: other.get_layer_version_by_arn(Arn=arn),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert _error(error) == (
            "AccessDeniedException",
            _denied(other_creds, "GetLayerVersion", arn),
            403,
        )

    # A plain name always means the caller's own account.
    with pytest.raises(ClientError) as error:
        other.get_layer_version(LayerName="private", VersionNumber=1)
    assert _error(error) == ("ResourceNotFoundException", NOT_FOUND, 404)

    grant = lam.add_layer_version_permission(
        LayerName="private",
        VersionNumber=1,
        StatementId="other",
        Action="lambda:GetLayerVersion",
        Principal=other_creds.account_id,
    )
    got = other.get_layer_version(LayerName=layer_arn, VersionNumber=1)
    assert got["LayerVersionArn"] == arn
    assert _download(got["Content"]["Location"]) == code
    assert other.get_layer_version_by_arn(Arn=arn)["Version"] == 1
    assert other.list_layers()["Layers"] == [], "ListLayers shows only the caller's layers"

    lam.remove_layer_version_permission(
        LayerName="private", VersionNumber=1, StatementId="other", RevisionId=grant["RevisionId"]
    )
    with pytest.raises(ClientError) as error:
        other.get_layer_version_by_arn(Arn=arn)
    assert _error(error)[0] == "AccessDeniedException"


def test_a_public_grant_shares_with_every_account_but_an_org_grant_with_none(functory, lam):
    arn = _publish(lam, "public")["LayerVersionArn"]
    org_arn = _publish(lam, "org-only")["LayerVersionArn"]
    lam.add_layer_version_permission(
        LayerName="public",
        VersionNumber=1,
        StatementId="everyone",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    lam.add_layer_version_permission(
        LayerName="org-only",
        VersionNumber=1,
        StatementId="org",
        Action="lambda:GetLayerVersion",
        Principal="*",
        OrganizationId="o-abcdefghij",
    )
    other, _creds = _other(functory)
    assert other.get_layer_version_by_arn(Arn=arn)["LayerVersionArn"] == arn
    with pytest.raises(ClientError) as error:
        other.get_layer_version_by_arn(Arn=org_arn)
    assert _error(error)[0] == "AccessDeniedException"


def test_a_grant_covers_only_the_version_it_names(functory, lam):
    _publish(lam, "versioned")
    second = _publish(lam, "versioned")["LayerVersionArn"]
    lam.add_layer_version_permission(
        LayerName="versioned",
        VersionNumber=1,
        StatementId="everyone",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    other, _creds = _other(functory)
    with pytest.raises(ClientError) as error:
        other.get_layer_version_by_arn(Arn=second)
    assert _error(error)[0] == "AccessDeniedException"


def test_another_account_cannot_change_or_inspect_a_layer(functory, lam, credentials):
    arn = _publish(lam, "owned")["LayerVersionArn"]
    layer_arn = arn.rsplit(":", 1)[0]
    lam.add_layer_version_permission(
        LayerName="owned",
        VersionNumber=1,
        StatementId="everyone",
        Action="lambda:GetLayerVersion",
        Principal="*",
    )
    other, creds = _other(functory)
    calls = {
        "PublishLayerVersion": (
            lambda: other.publish_layer_version(
                LayerName=layer_arn, Content={"ZipFile": make_zip()}
            ),
            layer_arn,
        ),
        "DeleteLayerVersion": (
            lambda: other.delete_layer_version(LayerName=layer_arn, VersionNumber=1),
            arn,
        ),
        "AddLayerVersionPermission": (
            lambda: other.add_layer_version_permission(
                LayerName=layer_arn,
                VersionNumber=1,
                StatementId="mine",
                Action="lambda:GetLayerVersion",
                Principal="*",
            ),
            arn,
        ),
        "RemoveLayerVersionPermission": (
            lambda: other.remove_layer_version_permission(
                LayerName=layer_arn, VersionNumber=1, StatementId="everyone"
            ),
            arn,
        ),
        "GetLayerVersionPolicy": (
            lambda: other.get_layer_version_policy(LayerName=layer_arn, VersionNumber=1),
            arn,
        ),
        "ListLayerVersions": (lambda: other.list_layer_versions(LayerName=layer_arn), layer_arn),
    }
    for action, (call, resource) in calls.items():
        with pytest.raises(ClientError) as error:
            call()
        assert _error(error) == ("AccessDeniedException", _denied(creds, action, resource), 403)
    assert lam.get_layer_version(LayerName="owned", VersionNumber=1)["Version"] == 1
    assert [v["Version"] for v in lam.list_layer_versions(LayerName="owned")["LayerVersions"]] == [
        1
    ]
    policy = json.loads(lam.get_layer_version_policy(LayerName="owned", VersionNumber=1)["Policy"])
    assert [s["Sid"] for s in policy["Statement"]] == ["everyone"]


# --- layers on functions ----------------------------------------------------------------


def test_a_function_uses_its_own_layers_in_order(lam):
    first = _unique_zip()
    second = _unique_zip()
    a = _publish(lam, "first", first)["LayerVersionArn"]
    b = _publish(lam, "second", second)["LayerVersionArn"]
    created = create_function(lam, "layered", Layers=[b, a])
    expected = [{"Arn": b, "CodeSize": len(second)}, {"Arn": a, "CodeSize": len(first)}]
    assert created["Layers"] == expected
    assert lam.get_function(FunctionName="layered")["Configuration"]["Layers"] == expected

    updated = lam.update_function_configuration(FunctionName="layered", Layers=[a])
    assert updated["Layers"] == [{"Arn": a, "CodeSize": len(first)}]
    cleared = lam.update_function_configuration(FunctionName="layered", Layers=[])
    assert "Layers" not in cleared


def test_a_published_function_version_keeps_its_layers(lam):
    code = _unique_zip()
    arn = _publish(lam, "frozen", code)["LayerVersionArn"]
    create_function(lam, "fn", Layers=[arn])
    version = lam.publish_version(FunctionName="fn")["Version"]
    lam.update_function_configuration(FunctionName="fn", Layers=[])
    config = lam.get_function_configuration(FunctionName="fn", Qualifier=version)
    assert config["Layers"] == [{"Arn": arn, "CodeSize": len(code)}]
    assert "Layers" not in lam.get_function_configuration(FunctionName="fn")


def test_a_function_may_reference_at_most_five_layers(lam):
    arns = [_publish(lam, f"many-{i}")["LayerVersionArn"] for i in range(6)]
    create_function(lam, "five", Layers=arns[:5])
    with pytest.raises(ClientError) as error:
        create_function(lam, "six", Layers=arns)
    assert _error(error) == (
        "InvalidParameterValueException",
        "Cannot reference more than 5 layers.",
        400,
    )
    with pytest.raises(ClientError) as error:
        lam.update_function_configuration(FunctionName="five", Layers=arns)
    assert _error(error)[1] == "Cannot reference more than 5 layers."
    assert len(lam.get_function_configuration(FunctionName="five")["Layers"]) == 5


def test_a_function_cannot_reference_a_missing_layer_version(lam, credentials):
    arn = _publish(lam, "real")["LayerVersionArn"]
    missing = f"arn:aws:lambda:{REGION}:{credentials.account_id}:layer:real:9"
    with pytest.raises(ClientError) as error:
        create_function(lam, "ghost", Layers=[missing])
    assert _error(error) == (
        "InvalidParameterValueException",
        f"Layer version {missing} does not exist.",
        400,
    )
    create_function(lam, "real-user", Layers=[arn])
    lam.delete_layer_version(LayerName="real", VersionNumber=1)
    with pytest.raises(ClientError) as error:
        lam.update_function_configuration(FunctionName="real-user", Layers=[arn])
    assert _error(error)[1] == f"Layer version {arn} does not exist."
    assert "ghost" not in [f["FunctionName"] for f in lam.list_functions()["Functions"]]


def test_a_function_cannot_reference_two_versions_of_one_layer(lam):
    one = _publish(lam, "twice")["LayerVersionArn"]
    two = _publish(lam, "twice")["LayerVersionArn"]
    with pytest.raises(ClientError) as error:
        create_function(lam, "twice-fn", Layers=[one, two])
    assert _error(error) == (
        "InvalidParameterValueException",
        "Two different versions of the same layer are not allowed to be referenced in the "
        f"same function. {one} and {two} are versions of the same layer.",
        400,
    )


def test_function_and_layers_together_must_fit_the_unzipped_limit(functory, lam):
    big = [_zeros_zip(132_000_000) for _ in range(2)]
    arns = [_publish(lam, f"big-{i}", data)["LayerVersionArn"] for i, data in enumerate(big)]
    create_function(lam, "fits", Layers=arns[:1])
    code = make_zip({"app.py": f"# {uuid.uuid4()}\ndef handler(e, c):\n    return e\n"})
    with pytest.raises(ClientError) as error:
        create_function(lam, "too-big", Layers=arns, Code={"ZipFile": code})
    code_name, message, status = _error(error)
    assert (code_name, status) == ("InvalidParameterValueException", 400)
    assert message.startswith(
        "Function code combined with layers exceeds the maximum allowed size of 262144000 bytes."
    )
    assert not _blob(functory, code).exists(), "a failed create leaves no blob behind"
    with pytest.raises(ClientError) as error:
        lam.update_function_configuration(FunctionName="fits", Layers=arns)
    assert _error(error)[0] == "InvalidParameterValueException"
    assert len(lam.get_function_configuration(FunctionName="fits")["Layers"]) == 1


def test_another_account_attaches_a_layer_version_only_when_granted(functory, lam):
    code = _unique_zip()
    arn = _publish(lam, "attachable", code)["LayerVersionArn"]
    other, creds = _other(functory)
    with pytest.raises(ClientError) as error:
        create_function(other, "borrower", Layers=[arn])
    name, message, status = _error(error)
    assert (name, status) == ("AccessDeniedException", 403)
    assert message.endswith(
        f"is not authorized to perform: lambda:GetLayerVersion on resource: {arn} because no "
        "resource-based policy allows the lambda:GetLayerVersion action"
    )
    assert other.list_functions()["Functions"] == []

    lam.add_layer_version_permission(
        LayerName="attachable",
        VersionNumber=1,
        StatementId="borrower",
        Action="lambda:GetLayerVersion",
        Principal=f"arn:aws:iam::{creds.account_id}:root",
    )
    created = create_function(other, "borrower", Layers=[arn])
    assert created["Layers"] == [{"Arn": arn, "CodeSize": len(code)}]

    missing = arn[:-1] + "5"
    with pytest.raises(ClientError) as error:
        other.update_function_configuration(FunctionName="borrower", Layers=[missing])
    assert _error(error)[0] == "AccessDeniedException", "others learn nothing about existence"


def test_deleting_a_function_frees_a_deleted_layer_versions_blob(functory, lam):
    code = _unique_zip()
    arn = _publish(lam, "released", code)["LayerVersionArn"]
    create_function(lam, "holder", Layers=[arn])
    lam.publish_version(FunctionName="holder")
    lam.delete_layer_version(LayerName="released", VersionNumber=1)
    assert _blob(functory, code).exists()
    lam.delete_function(FunctionName="holder")
    assert not _blob(functory, code).exists()
