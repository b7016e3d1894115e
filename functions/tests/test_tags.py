from __future__ import annotations

import pytest
from botocore.exceptions import ClientError

from conftest import client_error as _error
from conftest import client_for, create_function, create_user

pytestmark = pytest.mark.live


def test_it_tags_lists_and_untags_a_function(lam):
    arn = create_function(lam, "tagged", Tags={"team": "a"})["FunctionArn"]
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "a"}

    tagged = lam.tag_resource(Resource=arn, Tags={"env": "prod", "team": "b", "cost": "1"})
    assert tagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"team": "b", "env": "prod", "cost": "1"}
    assert lam.get_function(FunctionName="tagged")["Tags"] == {
        "team": "b",
        "env": "prod",
        "cost": "1",
    }

    untagged = lam.untag_resource(Resource=arn, TagKeys=["team", "cost", "missing"])
    assert untagged["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert lam.list_tags(Resource=arn)["Tags"] == {"env": "prod"}


def test_it_allows_at_most_50_tags(lam):
    arn = create_function(lam, "crowded")["FunctionArn"]
    lam.tag_resource(Resource=arn, Tags={f"k{i}": "v" for i in range(49)})
    with pytest.raises(ClientError) as error:
        lam.tag_resource(Resource=arn, Tags={"k100": "v", "k101": "v"})
    assert _error(error) == (
        "InvalidParameterValueException",
        "Number of tags exceeds resource tag limit.",
        400,
    )
    assert len(lam.list_tags(Resource=arn)["Tags"]) == 49
    lam.tag_resource(Resource=arn, Tags={"k100": "v", "k0": "changed"})
    assert len(lam.list_tags(Resource=arn)["Tags"]) == 50


def test_it_validates_tag_keys_and_values_as_aws_does(raw_lam):
    arn = create_function(raw_lam, "badtags")["FunctionArn"]
    with pytest.raises(ClientError) as error:
        raw_lam.tag_resource(Resource=arn, Tags={"k": "v" * 257})
    code, message, status = _error(error)
    assert (code, status) == ("ValidationException", 400)
    assert message.startswith(
        "1 validation error detected: Value '{k=" + "v" * 257 + "}' at 'tags' failed to "
        "satisfy constraint: Map value must satisfy constraint: [Member must have length "
        "less than or equal to 256, Member must have length greater than or equal to 0, "
        "Member must satisfy regular expression pattern: "
    )
    assert raw_lam.list_tags(Resource=arn)["Tags"] == {}


def test_it_answers_an_unknown_or_foreign_function_with_not_found(functory, lam, credentials):
    arn = create_function(lam, "owned")["FunctionArn"]
    missing = f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:missing"
    with pytest.raises(ClientError) as error:
        lam.list_tags(Resource=missing)
    assert _error(error) == ("ResourceNotFoundException", f"Function not found: {missing}", 404)

    other = client_for(functory, create_user(functory))
    for call in (
        lambda: other.list_tags(Resource=arn),
        lambda: other.tag_resource(Resource=arn, Tags={"x": "y"}),
        lambda: other.untag_resource(Resource=arn, TagKeys=["x"]),
    ):
        with pytest.raises(ClientError) as error:
            call()
        assert _error(error)[0] == "AccessDeniedException"
    assert lam.list_tags(Resource=arn)["Tags"] == {}


def test_it_rejects_tags_on_a_qualified_arn(lam):
    arn = create_function(lam, "versioned")["FunctionArn"]
    lam.publish_version(FunctionName="versioned")
    with pytest.raises(ClientError) as error:
        lam.tag_resource(Resource=f"{arn}:1", Tags={"a": "b"})
    assert _error(error) == (
        "InvalidParameterValueException",
        "Tags on function aliases and versions are not supported. Please specify a function ARN.",
        400,
    )
