from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from conftest import client_error as _error
from conftest import client_for, create_function, create_user

pytestmark = pytest.mark.live


def _allow_s3(lam, name: str, sid: str = "s3", **extra):
    return lam.add_permission(
        FunctionName=name,
        StatementId=sid,
        Action="lambda:InvokeFunction",
        Principal="s3.amazonaws.com",
        **extra,
    )


def test_it_adds_gets_and_removes_a_permission(lam, credentials):
    arn = create_function(lam, "guarded")["FunctionArn"]
    added = _allow_s3(
        lam,
        "guarded",
        SourceAccount=credentials.account_id,
        SourceArn="arn:aws:s3:::my-bucket",
    )
    assert added["ResponseMetadata"]["HTTPStatusCode"] == 201
    statement = {
        "Sid": "s3",
        "Effect": "Allow",
        "Principal": {"Service": "s3.amazonaws.com"},
        "Action": "lambda:InvokeFunction",
        "Resource": arn,
        "Condition": {
            "StringEquals": {"AWS:SourceAccount": credentials.account_id},
            "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::my-bucket"},
        },
    }
    assert json.loads(added["Statement"]) == statement

    policy = lam.get_policy(FunctionName="guarded")
    assert json.loads(policy["Policy"]) == {
        "Version": "2012-10-17",
        "Id": "default",
        "Statement": [statement],
    }
    assert (
        policy["RevisionId"] == lam.get_function_configuration(FunctionName="guarded")["RevisionId"]
    )

    removed = lam.remove_permission(FunctionName="guarded", StatementId="s3")
    assert removed["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(ClientError) as error:
        lam.get_policy(FunctionName="guarded")
    assert _error(error) == (
        "ResourceNotFoundException",
        "The resource you requested does not exist.",
        404,
    )


def test_it_renders_principals_and_conditions_as_aws_does(lam):
    arn = create_function(lam, "principals")["FunctionArn"]
    cases = [
        ({"Principal": "123456789012"}, {"AWS": "arn:aws:iam::123456789012:root"}, None),
        ({"Principal": "*", "PrincipalOrgID": "o-abcdefghij"}, "*", None),
        (
            {"Principal": "arn:aws:iam::123456789012:role/r", "EventSourceToken": "tok-1"},
            {"AWS": "arn:aws:iam::123456789012:role/r"},
            None,
        ),
        ({"Principal": "*", "FunctionUrlAuthType": "NONE"}, "*", "lambda:InvokeFunctionUrl"),
    ]
    conditions = [
        None,
        {"StringEquals": {"aws:PrincipalOrgID": "o-abcdefghij"}},
        {"StringEquals": {"lambda:EventSourceToken": "tok-1"}},
        {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
    ]
    for index, ((extra, principal, action), condition) in enumerate(
        zip(cases, conditions, strict=True)
    ):
        added = lam.add_permission(
            FunctionName="principals",
            StatementId=f"sid{index}",
            Action=action or "lambda:InvokeFunction",
            **extra,
        )
        statement = json.loads(added["Statement"])
        assert statement["Principal"] == principal
        assert statement["Resource"] == arn
        assert statement.get("Condition") == condition
    document = json.loads(lam.get_policy(FunctionName="principals")["Policy"])
    assert [s["Sid"] for s in document["Statement"]] == ["sid0", "sid1", "sid2", "sid3"]


def test_it_rejects_a_duplicate_statement_id(lam):
    create_function(lam, "dupsid")
    _allow_s3(lam, "dupsid")
    revision = lam.get_policy(FunctionName="dupsid")["RevisionId"]
    with pytest.raises(ClientError) as error:
        _allow_s3(lam, "dupsid")
    assert _error(error) == (
        "ResourceConflictException",
        "The statement id (s3) provided already exists. Please provide a new statement id, "
        "or remove the existing statement.",
        409,
    )
    policy = lam.get_policy(FunctionName="dupsid")
    assert policy["RevisionId"] == revision
    assert len(json.loads(policy["Policy"])["Statement"]) == 1


def test_it_answers_removing_a_missing_statement(lam):
    create_function(lam, "nosid")
    with pytest.raises(ClientError) as error:
        lam.remove_permission(FunctionName="nosid", StatementId="ghost")
    assert _error(error) == (
        "ResourceNotFoundException",
        "No policy is associated with the given resource.",
        404,
    )
    _allow_s3(lam, "nosid")
    with pytest.raises(ClientError) as error:
        lam.remove_permission(FunctionName="nosid", StatementId="ghost")
    assert _error(error) == (
        "ResourceNotFoundException",
        "Statement ghost is not found in resource policy.",
        404,
    )


def test_policy_changes_bump_the_revision_id_and_honour_it(lam):
    created = create_function(lam, "revs")
    with pytest.raises(ClientError) as error:
        _allow_s3(lam, "revs", RevisionId="stale")
    assert _error(error) == (
        "PreconditionFailedException",
        "The Revision Id provided does not match the latest Revision Id. Call the "
        "GetFunction/GetAlias API to retrieve the latest Revision Id",
        412,
    )
    _allow_s3(lam, "revs", RevisionId=created["RevisionId"])
    after_add = lam.get_function_configuration(FunctionName="revs")["RevisionId"]
    assert after_add != created["RevisionId"]
    assert lam.get_policy(FunctionName="revs")["RevisionId"] == after_add

    with pytest.raises(ClientError) as error:
        lam.remove_permission(FunctionName="revs", StatementId="s3", RevisionId="stale")
    assert _error(error)[0] == "PreconditionFailedException"
    lam.remove_permission(FunctionName="revs", StatementId="s3", RevisionId=after_add)
    assert lam.get_function_configuration(FunctionName="revs")["RevisionId"] != after_add


def test_policies_are_kept_per_qualifier(lam):
    arn = create_function(lam, "qualified")["FunctionArn"]
    version = lam.publish_version(FunctionName="qualified")
    alias = lam.create_alias(FunctionName="qualified", Name="live", FunctionVersion="1")

    _allow_s3(lam, "qualified", sid="on-version", Qualifier="1")
    _allow_s3(lam, "qualified:live", sid="on-alias")
    with pytest.raises(ClientError) as error:
        lam.get_policy(FunctionName="qualified")
    assert _error(error)[0] == "ResourceNotFoundException"

    on_version = lam.get_policy(FunctionName="qualified", Qualifier="1")
    statement = json.loads(on_version["Policy"])["Statement"][0]
    assert statement["Resource"] == f"{arn}:1"
    assert on_version["RevisionId"] != version["RevisionId"]
    assert (
        on_version["RevisionId"]
        == lam.get_function_configuration(FunctionName="qualified", Qualifier="1")["RevisionId"]
    )

    on_alias = lam.get_policy(FunctionName="qualified", Qualifier="live")
    assert json.loads(on_alias["Policy"])["Statement"][0]["Resource"] == f"{arn}:live"
    alias_now = lam.get_alias(FunctionName="qualified", Name="live")["RevisionId"]
    assert on_alias["RevisionId"] == alias_now != alias["RevisionId"]

    with pytest.raises(ClientError) as error:
        _allow_s3(lam, "qualified", sid="x", Qualifier="9")
    assert _error(error) == ("ResourceNotFoundException", f"Function not found: {arn}:9", 404)

    lam.delete_alias(FunctionName="qualified", Name="live")
    lam.create_alias(FunctionName="qualified", Name="live", FunctionVersion="1")
    with pytest.raises(ClientError) as error:
        lam.get_policy(FunctionName="qualified", Qualifier="live")
    assert _error(error)[0] == "ResourceNotFoundException"


def test_it_rejects_an_invalid_principal(lam):
    create_function(lam, "badprincipal")
    with pytest.raises(ClientError) as error:
        lam.add_permission(
            FunctionName="badprincipal",
            StatementId="x",
            Action="lambda:InvokeFunction",
            Principal="nobody",
        )
    assert _error(error) == (
        "InvalidParameterValueException",
        "The provided principal was invalid. Please check the principal and try again.",
        400,
    )


def test_it_limits_the_policy_size(lam):
    create_function(lam, "bigpolicy")
    long_arn = "arn:aws:s3:::" + "b" * 1900
    with pytest.raises(ClientError) as error:
        for i in range(20):
            _allow_s3(lam, "bigpolicy", sid=f"s{i}", SourceArn=f"{long_arn}{i}")
    code, message, status = _error(error)
    assert (code, status) == ("PolicyLengthExceededException", 400)
    assert message.startswith("The final policy size (")
    assert message.endswith(") is bigger than the limit (20480).")


def test_another_account_cannot_touch_the_policy(functory, lam, credentials):
    create_function(lam, "private")
    _allow_s3(lam, "private")
    other = client_for(functory, create_user(functory))
    arn = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:private"
    for call in (
        lambda: other.get_policy(FunctionName=arn),
        lambda: other.remove_permission(FunctionName=arn, StatementId="s3"),
        lambda: _allow_s3(other, arn, sid="evil"),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert _error(error)[0] == "AccessDeniedException"
    assert len(json.loads(lam.get_policy(FunctionName="private")["Policy"])["Statement"]) == 1


def test_function_url_permissions_are_stored_and_shown_as_aws_does(lam):
    arn = create_function(lam, "public-url")["FunctionArn"]
    lam.add_permission(
        FunctionName="public-url",
        StatementId="FunctionURLAllowPublicAccess",
        Action="lambda:InvokeFunctionUrl",
        Principal="*",
        FunctionUrlAuthType="NONE",
    )
    # Since October 2025 a public URL also needs InvokeFunction limited to URL calls.
    lam.add_permission(
        FunctionName="public-url",
        StatementId="FunctionURLInvokeAllowPublicAccess",
        Action="lambda:InvokeFunction",
        Principal="*",
        InvokedViaFunctionUrl=True,
    )
    added = lam.add_permission(
        FunctionName="public-url",
        StatementId="account",
        Action="lambda:InvokeFunctionUrl",
        Principal="123456789012",
        FunctionUrlAuthType="AWS_IAM",
        SourceAccount="123456789012",
        PrincipalOrgID="o-abcdefghij",
    )
    # AWS's key order in the answer (PostgreSQL's jsonb keeps no order for GetPolicy; JSON
    # objects have none to keep).
    condition = json.loads(added["Statement"])["Condition"]["StringEquals"]
    assert list(condition) == [
        "AWS:SourceAccount",
        "lambda:FunctionUrlAuthType",
        "aws:PrincipalOrgID",
    ]
    policy = json.loads(lam.get_policy(FunctionName="public-url")["Policy"])
    assert policy["Statement"] == [
        {
            "Sid": "FunctionURLAllowPublicAccess",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:InvokeFunctionUrl",
            "Resource": arn,
            "Condition": {"StringEquals": {"lambda:FunctionUrlAuthType": "NONE"}},
        },
        {
            "Sid": "FunctionURLInvokeAllowPublicAccess",
            "Effect": "Allow",
            "Principal": "*",
            "Action": "lambda:InvokeFunction",
            "Resource": arn,
            "Condition": {"Bool": {"lambda:InvokedViaFunctionUrl": "true"}},
        },
        {
            "Sid": "account",
            "Effect": "Allow",
            "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
            "Action": "lambda:InvokeFunctionUrl",
            "Resource": arn,
            "Condition": {
                "StringEquals": {
                    "AWS:SourceAccount": "123456789012",
                    "lambda:FunctionUrlAuthType": "AWS_IAM",
                    "aws:PrincipalOrgID": "o-abcdefghij",
                }
            },
        },
    ]


def test_url_conditions_only_go_with_their_action(lam, raw_lam):
    create_function(lam, "url-conditions")
    cases = [
        ({"Action": "lambda:InvokeFunction", "FunctionUrlAuthType": "NONE"}, "FunctionUrlAuthType"),
        ({"Action": "lambda:GetFunction", "FunctionUrlAuthType": "AWS_IAM"}, "FunctionUrlAuthType"),
        (
            {"Action": "lambda:InvokeFunctionUrl", "InvokedViaFunctionUrl": True},
            "InvokedViaFunctionUrl",
        ),
    ]
    for index, (extra, member) in enumerate(cases):
        with pytest.raises(ClientError) as error:
            lam.add_permission(
                FunctionName="url-conditions", StatementId=f"s{index}", Principal="*", **extra
            )
        code, message, status = _error(error)
        assert (code, status) == ("InvalidParameterValueException", 400)
        assert message.startswith(f"{member} is only supported for the lambda:Invoke")
        assert extra["Action"] in message
    with pytest.raises(ClientError) as error:
        raw_lam.add_permission(
            FunctionName="url-conditions",
            StatementId="bad",
            Principal="*",
            Action="lambda:InvokeFunctionUrl",
            FunctionUrlAuthType="PUBLIC",
        )
    assert _error(error) == (
        "ValidationException",
        "1 validation error detected: Value 'PUBLIC' at 'functionUrlAuthType' failed to satisfy "
        "constraint: Member must satisfy enum value set: [NONE, AWS_IAM]",
        400,
    )
    with pytest.raises(ClientError) as error:
        lam.get_policy(FunctionName="url-conditions")
    assert _error(error)[2] == 404
    # Lower case names the same IAM action.
    lam.add_permission(
        FunctionName="url-conditions",
        StatementId="ok",
        Principal="*",
        Action="lambda:invokefunctionurl",
        FunctionUrlAuthType="NONE",
    )
