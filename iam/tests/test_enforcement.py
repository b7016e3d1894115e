"""Identity and resource policies enforced on the AWS APIs, through boto3 and the AWS CLI
against a live server: what a user may do is what its policies allow, another account's
function is reachable exactly while its policy grants it, refusals are AWS's."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from conftest import (
    ROLE,
    Credentials,
    LiveServer,
    client_for,
    create_function,
    create_member,
    create_user,
    make_zip,
)
from iam.tests.test_iam_api import error_of

READ_ONLY = "arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"
FULL_ACCESS = "arn:aws:iam::aws:policy/AWSLambda_FullAccess"
AWS = str(Path(sys.executable).with_name("aws"))


def _arn(account: str, name: str) -> str:
    return f"arn:aws:lambda:us-east-1:{account}:function:{name}"


def _invoke(client: Any, name: str) -> Any:
    answer = client.invoke(FunctionName=name, Payload=b'{"hello": "world"}')
    return json.loads(answer["Payload"].read())


@pytest.fixture
def owner(functory: LiveServer) -> Credentials:
    return create_user(functory)


def test_a_read_only_user_reads_but_cannot_create_with_awss_message(
    functory: LiveServer, owner: Credentials
) -> None:
    create_function(client_for(functory, owner), "existing")
    reader = create_member(functory, READ_ONLY, admin=owner)
    lam = client_for(functory, reader)
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["existing"]
    assert lam.get_function(FunctionName="existing")["Configuration"]["FunctionName"]
    with pytest.raises(ClientError) as exc:
        create_function(lam, "mine")
    assert error_of(exc) == (
        "AccessDeniedException",
        403,
        f"User: arn:aws:iam::{owner.account_id}:user/{reader.user_name} is not authorized to "
        f"perform: lambda:CreateFunction on resource: {_arn(owner.account_id, 'mine')} "
        "because no identity-based policy allows the lambda:CreateFunction action",
    )
    for call in (
        lambda: lam.delete_function(FunctionName="existing"),
        lambda: lam.invoke(FunctionName="existing"),
        lambda: lam.update_function_code(FunctionName="existing", ZipFile=make_zip()),
    ):
        with pytest.raises(ClientError) as exc:
            call()
        assert error_of(exc)[:2] == ("AccessDeniedException", 403)
    # Nothing was half-made by the refused calls.
    assert [f["FunctionName"] for f in lam.list_functions()["Functions"]] == ["existing"]


def test_the_aws_cli_gets_the_same_refusal(functory: LiveServer, owner: Credentials) -> None:
    reader = create_member(functory, READ_ONLY, admin=owner)
    env = {
        **os.environ,
        "AWS_ACCESS_KEY_ID": reader.access_key_id,
        "AWS_SECRET_ACCESS_KEY": reader.secret_access_key,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_MAX_ATTEMPTS": "1",
    }
    base = [AWS, "--endpoint-url", functory.url]
    listed = subprocess.run(
        [*base, "lambda", "list-functions"], env=env, capture_output=True, text=True
    )
    assert listed.returncode == 0, listed.stderr
    refused = subprocess.run(
        [*base, "lambda", "delete-function", "--function-name", "nothing"],
        env=env,
        capture_output=True,
        text=True,
    )
    assert refused.returncode != 0
    assert "(AccessDeniedException)" in refused.stderr
    assert "is not authorized to perform: lambda:DeleteFunction" in refused.stderr


def test_a_policy_change_takes_effect_on_the_next_call(
    functory: LiveServer, owner: Credentials
) -> None:
    member = create_member(functory, admin=owner)
    lam = client_for(functory, member)
    with pytest.raises(ClientError):
        lam.list_functions()
    iam = client_for(functory, owner, "iam")
    iam.attach_user_policy(UserName=member.user_name, PolicyArn=READ_ONLY)
    assert lam.list_functions()["Functions"] == []
    iam.put_user_policy(
        UserName=member.user_name,
        PolicyName="no-listing",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Deny", "Action": "lambda:ListFunctions", "Resource": "*"}
                ],
            }
        ),
    )
    with pytest.raises(ClientError) as exc:
        lam.list_functions()
    assert error_of(exc)[2].endswith("with an explicit deny in an identity-based policy")


def test_a_policy_scoped_to_one_function_and_a_tag_condition(
    functory: LiveServer, owner: Credentials
) -> None:
    admin_lambda = client_for(functory, owner)
    create_function(admin_lambda, "allowed")
    create_function(admin_lambda, "other")
    member = create_member(functory, admin=owner)
    client_for(functory, owner, "iam").put_user_policy(
        UserName=member.user_name,
        PolicyName="one-function",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": _arn(owner.account_id, "allowed"),
                    },
                    {
                        "Effect": "Allow",
                        "Action": "lambda:CreateFunction",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:RequestTag/team": "blue"}},
                    },
                ],
            }
        ),
    )
    lam = client_for(functory, member)
    assert _invoke(lam, "allowed") == {"hello": "world"}
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName="other")
    assert error_of(exc)[:2] == ("AccessDeniedException", 403)
    with pytest.raises(ClientError):
        create_function(lam, "untagged")
    # CreateFunction with tags also needs lambda:TagResource, which the policy lacks.
    with pytest.raises(ClientError) as exc:
        create_function(lam, "tagged", Tags={"team": "blue"})
    assert "lambda:TagResource" in error_of(exc)[2]


def test_cross_account_invoke_works_only_while_the_functions_policy_grants_it(
    functory: LiveServer, owner: Credentials
) -> None:
    mine = client_for(functory, owner)
    create_function(mine, "shared")
    caller = create_user(functory)
    theirs = client_for(functory, caller)
    arn = _arn(owner.account_id, "shared")

    with pytest.raises(ClientError) as exc:
        theirs.invoke(FunctionName=arn)
    assert error_of(exc) == (
        "AccessDeniedException",
        403,
        f"User: arn:aws:iam::{caller.account_id}:user/{caller.user_name} is not authorized "
        f"to perform: lambda:InvokeFunction on resource: {arn} because no resource-based "
        "policy allows the lambda:InvokeFunction action",
    )
    mine.add_permission(
        FunctionName="shared",
        StatementId="partner",
        Action="lambda:InvokeFunction",
        Principal=caller.account_id,
    )
    assert _invoke(theirs, arn) == {"hello": "world"}
    # The grant is InvokeFunction only; the function stays the owner's to change.
    with pytest.raises(ClientError) as exc:
        theirs.delete_function(FunctionName=arn)
    assert error_of(exc)[:2] == ("AccessDeniedException", 403)
    # A user of the other account also needs its own account's allow (both sides).
    bare = create_member(functory, admin=caller)
    with pytest.raises(ClientError) as exc:
        client_for(functory, bare).invoke(FunctionName=arn)
    assert "no identity-based policy allows" in error_of(exc)[2]
    allowed = create_member(functory, FULL_ACCESS, admin=caller)
    assert _invoke(client_for(functory, allowed), arn) == {"hello": "world"}

    mine.remove_permission(FunctionName="shared", StatementId="partner")
    with pytest.raises(ClientError) as exc:
        theirs.invoke(FunctionName=arn)
    assert error_of(exc)[:2] == ("AccessDeniedException", 403)


def test_a_grant_on_an_alias_opens_that_alias_only(
    functory: LiveServer, owner: Credentials
) -> None:
    mine = client_for(functory, owner)
    create_function(mine, "versioned")
    version = mine.publish_version(FunctionName="versioned")["Version"]
    mine.create_alias(FunctionName="versioned", Name="live", FunctionVersion=version)
    mine.add_permission(
        FunctionName="versioned",
        Qualifier="live",
        StatementId="live-only",
        Action="lambda:InvokeFunction",
        Principal="*",
    )
    caller = client_for(functory, create_user(functory))
    arn = _arn(owner.account_id, "versioned")
    assert _invoke(caller, f"{arn}:live") == {"hello": "world"}
    with pytest.raises(ClientError) as exc:
        caller.invoke(FunctionName=arn)
    assert error_of(exc)[:2] == ("AccessDeniedException", 403)


def test_a_same_account_user_named_by_the_functions_policy_needs_no_identity_policy(
    functory: LiveServer, owner: Credentials
) -> None:
    mine = client_for(functory, owner)
    create_function(mine, "named")
    member = create_member(functory, admin=owner)
    mine.add_permission(
        FunctionName="named",
        StatementId="one-user",
        Action="lambda:InvokeFunction",
        Principal=f"arn:aws:iam::{owner.account_id}:user/{member.user_name}",
    )
    assert _invoke(client_for(functory, member), "named") == {"hello": "world"}


def test_logs_cloudwatch_and_eventbridge_refuse_in_their_own_words(
    functory: LiveServer, owner: Credentials
) -> None:
    member = create_member(functory, admin=owner)
    for service, call, code in (
        ("logs", lambda c: c.describe_log_groups(), "AccessDeniedException"),
        (
            "cloudwatch",
            lambda c: c.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName="Invocations",
                StartTime="2026-01-01T00:00:00Z",
                EndTime="2026-01-01T01:00:00Z",
                Period=60,
                Statistics=["Sum"],
            ),
            "AccessDenied",
        ),
        ("events", lambda c: c.list_rules(), "AccessDeniedException"),
    ):
        with pytest.raises(ClientError) as exc:
            call(client_for(functory, member, service))
        assert error_of(exc)[:2] == (code, 403), service
        assert "is not authorized to perform" in error_of(exc)[2]


def test_passing_a_role_needs_iam_pass_role_for_a_role_of_the_account(
    functory: LiveServer, owner: Credentials
) -> None:
    member = create_member(functory, admin=owner)
    client_for(functory, owner, "iam").put_user_policy(
        UserName=member.user_name,
        PolicyName="create-only",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "lambda:*", "Resource": "*"}],
            }
        ),
    )
    lam = client_for(functory, member)
    own_role = f"arn:aws:iam::{owner.account_id}:role/worker"
    with pytest.raises(ClientError) as exc:
        create_function(lam, "with-role", Role=own_role)
    assert "iam:PassRole" in error_of(exc)[2]
    # A role of no account here (LocalStack's scripts) passes nothing: no check, no rights.
    assert create_function(lam, "foreign-role", Role=ROLE)["FunctionName"] == "foreign-role"


def test_a_condition_on_the_functions_tags_follows_the_tags(
    functory: LiveServer, owner: Credentials
) -> None:
    admin_lambda = client_for(functory, owner)
    blue = create_function(admin_lambda, "blue", Tags={"team": "blue"})["FunctionArn"]
    create_function(admin_lambda, "red", Tags={"team": "red"})
    member = create_member(functory, admin=owner)
    client_for(functory, owner, "iam").put_user_policy(
        UserName=member.user_name,
        PolicyName="team-blue",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {
                        "Effect": "Allow",
                        "Action": "lambda:InvokeFunction",
                        "Resource": "*",
                        "Condition": {"StringEquals": {"aws:ResourceTag/team": "blue"}},
                    }
                ],
            }
        ),
    )
    lam = client_for(functory, member)
    assert _invoke(lam, "blue") == {"hello": "world"}
    with pytest.raises(ClientError) as exc:
        lam.invoke(FunctionName="red")
    assert error_of(exc)[:2] == ("AccessDeniedException", 403)
    # Retagged: the answer follows at once.
    admin_lambda.tag_resource(Resource=blue, Tags={"team": "red"})
    with pytest.raises(ClientError):
        lam.invoke(FunctionName="blue")


def test_a_user_without_policies_gets_the_models_errors_and_never_a_500(
    functory: LiveServer, owner: Credentials
) -> None:
    lam = client_for(functory, create_member(functory, admin=owner), validate=False)
    # A name the model refuses is the model's error, as on AWS (before authorization).
    with pytest.raises(ClientError) as exc:
        lam.get_function(FunctionName="no/such:name:at:all:" + "x" * 200)
    assert error_of(exc)[1] in (400, 403, 404)
    # Deeply nested, huge or wrongly typed input is refused in the API's words.
    nested: Any = {}
    for _ in range(500):
        nested = {"a": nested}
    for params in (
        {
            "FunctionName": "f",
            "Role": ROLE,
            "Code": {"ZipFile": b"x"},
            "Environment": {"Variables": {"k": nested}},
        },
        {"FunctionName": ["not", "a", "string"], "Role": ROLE, "Code": {"ZipFile": b"x"}},
        {"FunctionName": "f" * 100_000, "Role": ROLE, "Code": {"ZipFile": b"x"}},
    ):
        with pytest.raises(ClientError) as exc:
            lam.create_function(Runtime="python3.11", Handler="app.handler", **params)
        assert 400 <= error_of(exc)[1] < 500, error_of(exc)
