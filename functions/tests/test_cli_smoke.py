"""The real AWS CLI drives a function's whole life against the live server."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from conftest import ROLE, Credentials, LiveServer, make_zip
from functions.tests.zipcraft import zip_of

pytestmark = pytest.mark.live

AWS = Path(sys.executable).parent / "aws"


class Cli:
    def __init__(self, server: LiveServer, creds: Credentials, home: Path) -> None:
        config = home / "config"
        shared = home / "credentials"
        config.write_text("")
        shared.write_text("")
        # Only what we pass: no profile, file or instance metadata of the host leaks in.
        self.env = {
            "PATH": str(AWS.parent),
            "HOME": str(home),
            "AWS_ACCESS_KEY_ID": creds.access_key_id,
            "AWS_SECRET_ACCESS_KEY": creds.secret_access_key,
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_CONFIG_FILE": str(config),
            "AWS_SHARED_CREDENTIALS_FILE": str(shared),
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_PAGER": "",
        }
        self.url = server.url

    def run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(AWS), "--endpoint-url", self.url, "--output", "json", "lambda", *args],
            env=self.env,
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )

    def json(self, *args: str) -> Any:
        result = self.run(*args)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout) if result.stdout.strip() else None


@pytest.fixture
def cli(functory: LiveServer, credentials: Credentials, tmp_path: Path) -> Cli:
    return Cli(functory, credentials, tmp_path)


def test_the_aws_cli_creates_lists_gets_and_deletes_a_function(cli, credentials, tmp_path):
    code = make_zip()
    package = tmp_path / "function.zip"
    package.write_bytes(code)

    created = cli.json(
        "create-function",
        "--function-name",
        "cli-fn",
        "--runtime",
        "python3.12",
        "--handler",
        "app.handler",
        "--role",
        ROLE,
        "--zip-file",
        f"fileb://{package}",
    )
    assert created["FunctionName"] == "cli-fn"
    assert created["FunctionArn"] == (
        f"arn:aws:lambda:us-east-1:{credentials.account_id}:function:cli-fn"
    )
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
    assert created["CodeSize"] == len(code)

    listed = cli.json("list-functions")
    assert [f["FunctionName"] for f in listed["Functions"]] == ["cli-fn"]

    got = cli.json("get-function", "--function-name", "cli-fn")
    assert got["Configuration"]["RevisionId"] == created["RevisionId"]
    assert got["Configuration"]["Runtime"] == "python3.12"

    assert cli.json("delete-function", "--function-name", "cli-fn") == {"StatusCode": 204}
    assert cli.json("list-functions")["Functions"] == []

    missing = cli.run("get-function", "--function-name", "cli-fn")
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr


def test_the_aws_cli_reports_a_hostile_zip_as_aws_does(cli, tmp_path):
    # A well-formed zip (the CLI opens it before sending) with an entry escaping the root.
    package = tmp_path / "hostile.zip"
    package.write_bytes(zip_of({"app.py": "x = 1\n", "../evil.py": "pwned"}))
    result = cli.run(
        "create-function",
        "--function-name",
        "hostile",
        "--runtime",
        "python3.12",
        "--handler",
        "app.handler",
        "--role",
        ROLE,
        "--zip-file",
        f"fileb://{package}",
    )
    assert result.returncode != 0
    assert "(InvalidParameterValueException)" in result.stderr
    assert "escapes the archive root" in result.stderr
    assert cli.json("list-functions")["Functions"] == []
