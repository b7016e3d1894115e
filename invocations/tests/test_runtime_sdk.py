"""The AWS SDKs the runtimes carry (issue 15, item 6).

As AWS's Python runtimes ship boto3 and its Node.js 18+ runtimes the AWS SDK for JavaScript
v3, a function here imports them without bundling them: the project's pinned copies
(``runtime-sdk/``, installed by setup) are mounted read-only at ``/var/runtime-sdk`` in
every environment, on both backends, after the function's own code and its layers on the
module search paths, so a copy in the package or a layer wins. ``AWS_ENDPOINT_URL`` points
them at this platform, and the execution role's credentials sign their calls.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from conftest import Credentials, LiveServer, client_for, make_zip
from iam.tests.test_iam_api import create_admin
from invocations.executor import catalog
from invocations.tests.helpers import invoke

pytestmark = [pytest.mark.live, pytest.mark.one_profile]

PYTHON = """
import os
import boto3
import botocore

def handler(event, context):
    names = [f["FunctionName"] for f in boto3.client("lambda").list_functions()["Functions"]]
    identity = boto3.client("sts").get_caller_identity()
    return {
        "boto3": boto3.__file__,
        "versions": [boto3.__version__, botocore.__version__],
        "functions": names,
        "arn": identity["Arn"],
        "writable": os.access(os.path.dirname(boto3.__file__), os.W_OK),
    }
"""

NODE = """
const { LambdaClient, ListFunctionsCommand } = require("@aws-sdk/client-lambda");
const { STSClient, GetCallerIdentityCommand } = require("@aws-sdk/client-sts");

exports.handler = async () => {
  const listed = await new LambdaClient({}).send(new ListFunctionsCommand({}));
  const identity = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  return {
    sdk: require.resolve("@aws-sdk/client-lambda"),
    version: require("@aws-sdk/client-lambda/package.json").version,
    functions: listed.Functions.map((f) => f.FunctionName),
    arn: identity.Arn,
  };
};
"""

# A package's own boto3, as a function pinning another version would bundle it.
OWN_BOTO3: dict[str, str | bytes] = {
    "boto3/__init__.py": "__version__ = 'bundled'\n",
    "app.py": "import boto3\n\ndef handler(event, context):\n    return boto3.__version__\n",
}

OWN_JS_SDK: dict[str, str | bytes] = {
    "node_modules/@aws-sdk/client-lambda/package.json": json.dumps(
        {"name": "@aws-sdk/client-lambda", "version": "0.0.0-bundled", "main": "index.js"}
    ),
    "node_modules/@aws-sdk/client-lambda/index.js": "exports.bundled = true;\n",
    "index.js": (
        "exports.handler = async () => "
        "[require('@aws-sdk/client-lambda').bundled === true, "
        "require('@aws-sdk/client-lambda/package.json').version];\n"
    ),
}

_TRUST = json.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "lambda.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
)


def _pins() -> tuple[str, str]:
    """The boto3 and @aws-sdk/client-lambda versions the project pins."""
    requirements = (catalog.SDK_DIR / "requirements.txt").read_text()
    boto3 = next(
        line.split("==")[1] for line in requirements.splitlines() if line.startswith("boto3==")
    )
    package = json.loads((catalog.SDK_DIR / "nodejs" / "package.json").read_text())
    return boto3, package["dependencies"]["@aws-sdk/client-lambda"]


class Account:
    """An account's admin with a role Lambda may assume that may read Lambda."""

    def __init__(self, server: LiveServer) -> None:
        self.creds: Credentials = create_admin(server)
        self.lam = client_for(server, self.creds)
        iam = client_for(server, self.creds, "iam")
        self.role = iam.create_role(RoleName="sdk-role", AssumeRolePolicyDocument=_TRUST)["Role"][
            "Arn"
        ]
        iam.attach_role_policy(
            RoleName="sdk-role", PolicyArn="arn:aws:iam::aws:policy/AWSLambda_ReadOnlyAccess"
        )

    def function(
        self, runtime: str, handler: str, files: dict[str, str | bytes], **extra: Any
    ) -> str:
        name = f"sdk-{uuid.uuid4().hex[:8]}"
        self.lam.create_function(
            FunctionName=name,
            Runtime=runtime,
            Handler=handler,
            Role=self.role,
            Code={"ZipFile": make_zip(files)},
            Timeout=30,
            MemorySize=512,
            **extra,
        )
        return name

    def run(self, name: str) -> Any:
        response = invoke(self.lam, name)
        assert "FunctionError" not in response, response["Raw"]
        return response["Body"]

    def session(self, name: str) -> str:
        return f"arn:aws:sts::{self.creds.account_id}:assumed-role/sdk-role/{name}"


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sandbox", marks=pytest.mark.sandbox),
        pytest.param("docker", marks=pytest.mark.docker),
    ],
)
def account(request: pytest.FixtureRequest) -> Account:
    if catalog.runtime_sdk() is None:
        pytest.fail("the runtime SDK is not installed: run scripts/runtime-sdk.sh")
    server = request.getfixturevalue(
        "functory" if request.param == "sandbox" else "functory_docker"
    )
    return Account(server)


def test_a_python_function_calls_the_platform_with_the_runtimes_boto3(account: Account) -> None:
    name = account.function("python3.11", "app.handler", {"app.py": PYTHON})
    body = account.run(name)
    assert body["boto3"] == "/var/runtime-sdk/python/boto3/__init__.py"
    assert body["versions"] == [_pins()[0], _pins()[0]]
    assert name in body["functions"]
    assert body["arn"] == account.session(name)
    assert body["writable"] is False


def test_a_nodejs_function_calls_the_platform_with_the_runtimes_sdk_for_javascript(
    account: Account,
) -> None:
    name = account.function("nodejs20.x", "index.handler", {"index.js": NODE})
    body = account.run(name)
    assert body["sdk"].startswith("/var/runtime-sdk/nodejs/node_modules/@aws-sdk/client-lambda/")
    assert body["version"] == _pins()[1]
    assert name in body["functions"]
    assert body["arn"] == account.session(name)


def test_a_boto3_bundled_in_the_package_wins_over_the_runtimes(account: Account) -> None:
    name = account.function("python3.11", "app.handler", OWN_BOTO3)
    assert account.run(name) == "bundled"


def test_a_boto3_in_a_layer_wins_over_the_runtimes(account: Account) -> None:
    layer = account.lam.publish_layer_version(
        LayerName="own-boto3",
        Content={"ZipFile": make_zip({"python/boto3/__init__.py": "__version__ = 'layer'\n"})},
    )["LayerVersionArn"]
    files = {"app.py": OWN_BOTO3["app.py"]}
    name = account.function("python3.11", "app.handler", files, Layers=[layer])
    assert account.run(name) == "layer"


def test_an_sdk_for_javascript_bundled_in_the_package_wins_over_the_runtimes(
    account: Account,
) -> None:
    name = account.function("nodejs20.x", "index.handler", OWN_JS_SDK)
    assert account.run(name) == [True, "0.0.0-bundled"]


ESM = """
import { STSClient, GetCallerIdentityCommand } from "@aws-sdk/client-sts";
import { shout } from "shouter";

export const handler = async () => {
  const identity = await new STSClient({}).send(new GetCallerIdentityCommand({}));
  return { arn: identity.Arn, layer: shout("from a layer") };
};
"""


def test_an_es_module_imports_the_runtimes_sdk_and_a_layers_package(account: Account) -> None:
    # As on AWS's Node.js 18+ runtimes, `import` searches NODE_PATH (Node's own does not).
    layer = account.lam.publish_layer_version(
        LayerName="shouter",
        Content={
            "ZipFile": make_zip(
                {
                    "nodejs/node_modules/shouter/package.json": json.dumps(
                        {"name": "shouter", "type": "module", "exports": "./index.js"}
                    ),
                    "nodejs/node_modules/shouter/index.js": (
                        "export const shout = (text) => text.toUpperCase();\n"
                    ),
                }
            )
        },
    )["LayerVersionArn"]
    name = account.function("nodejs20.x", "index.handler", {"index.mjs": ESM}, Layers=[layer])
    assert account.run(name) == {"arn": account.session(name), "layer": "FROM A LAYER"}


def test_an_es_module_importing_a_package_found_nowhere_fails_to_import(
    account: Account,
) -> None:
    files: dict[str, str | bytes] = {
        "index.mjs": 'import "no-such-package";\nexport const handler = async () => 1;\n'
    }
    name = account.function("nodejs20.x", "index.handler", files)
    response = invoke(account.lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == "Runtime.ImportModuleError"
    assert (
        "Cannot find package 'no-such-package' imported from /var/task/index.mjs"
        in (response["Body"]["errorMessage"])
    )
