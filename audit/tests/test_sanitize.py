"""What an event keeps of a call: never a secret (by the botocore model's sensitive shapes,
or by name where there is no model), never much."""

from __future__ import annotations

import json

from audit import sanitize


def test_create_functions_code_and_environment_values_are_hidden() -> None:
    params = {
        "FunctionName": "f",
        "Runtime": "python3.12",
        "Code": {"ZipFile": "UEsDBBQAAAAIAA-zip-bytes"},
        "Environment": {"Variables": {"DB_PASSWORD": "hunter2-value"}},
        "Tags": {"team": "blue"},
    }
    kept = sanitize.request_parameters("lambda", "CreateFunction", params)
    assert kept["functionName"] == "f"
    assert kept["code"] == {"zipFile": sanitize.HIDDEN}
    assert kept["environment"] == {"variables": sanitize.HIDDEN}
    assert kept["tags"] == {"team": "blue"}  # map keys are kept as sent
    assert "hunter2" not in json.dumps(kept)


def test_the_answers_environment_values_are_hidden() -> None:
    answer = {"FunctionName": "f", "Environment": {"Variables": {"TOKEN": "t0ps3cret"}}}
    kept = sanitize.response_elements("lambda", "CreateFunction", answer)
    assert "t0ps3cret" not in json.dumps(kept)
    assert kept["functionName"] == "f"


def test_input_without_a_model_is_redacted_by_name() -> None:
    kept = sanitize.by_name(
        {
            "Password": "pw-123456",
            "SecretAccessKey": "abc",
            "files": {"app.py": "API_KEY = 'x'"},
            "variables": {"A": "b"},
            "payload": {"card": "4111"},
            "Timeout": 30,
        }
    )
    assert kept == {
        "Password": sanitize.HIDDEN,
        "SecretAccessKey": sanitize.HIDDEN,
        "files": sanitize.HIDDEN,
        "variables": sanitize.HIDDEN,
        "payload": sanitize.HIDDEN,
        "Timeout": 30,
    }


def test_large_input_is_cut_to_a_bounded_size() -> None:
    params = {"Description": "x" * 100_000, "Layers": [f"arn:{n}" * 50 for n in range(500)]}
    kept = sanitize.request_parameters("lambda", "UpdateFunctionConfiguration", params)
    assert len(json.dumps(kept)) <= sanitize.MAX_JSON_CHARS + 200


def test_deep_nesting_is_cut() -> None:
    value: dict[str, object] = {}
    inner = value
    for _ in range(100):
        inner["a"] = {}
        inner = inner["a"]  # type: ignore[assignment]
    assert "truncated" in json.dumps(sanitize.by_name(value))


def test_sts_and_iam_credentials_in_answers_are_hidden() -> None:
    # STS's model marks the secret key sensitive but not the session token.
    answer = {
        "Credentials": {
            "AccessKeyId": "ASIAEXAMPLE",
            "SecretAccessKey": "s3cr3t-key",
            "SessionToken": "t0k3n-value",
            "Expiration": "2026-12-05T00:00:00Z",
        },
        "AssumedRoleUser": {"Arn": "arn:aws:sts::123456789012:assumed-role/r/s"},
    }
    kept = sanitize.response_elements("sts", "AssumeRole", answer)
    dumped = json.dumps(kept)
    assert "s3cr3t-key" not in dumped and "t0k3n-value" not in dumped
    assert kept["credentials"]["accessKeyId"] == "ASIAEXAMPLE"
    created = {"AccessKey": {"UserName": "u", "AccessKeyId": "AKIA1", "SecretAccessKey": "k3y"}}
    assert "k3y" not in json.dumps(sanitize.response_elements("iam", "CreateAccessKey", created))
