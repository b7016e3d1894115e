"""Node.js, custom (provided) and awslambdaric functions through the Invoke API."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import create_function, make_zip
from invocations.tests.helpers import invoke, zip_with_modes

pytestmark = [pytest.mark.live, pytest.mark.sandbox, pytest.mark.one_profile]

NODE = """
let calls = 0;
exports.handler = async (event, context) => {
  calls++;
  console.log("node says", event.name);
  return { calls, name: context.functionName, remaining: context.getRemainingTimeInMillis() > 0 };
};
exports.callback = (event, context, callback) => {
  setTimeout(() => console.log("timer finished"), 20);
  callback(null, { style: "callback" });
};
exports.succeed = (event, context) => { context.succeed({ style: "succeed" }); };
exports.fail = (event, context) => { context.fail(new Error("failed on purpose")); };
exports.reject = async () => { throw new TypeError("bad input"); };
"""

# The developer guide's "Tutorial - Publishing a Custom Runtime" files, as written.
TUTORIAL = Path(__file__).parent / "fixtures" / "custom-runtime-tutorial"
TUTORIAL_BOOTSTRAP = (TUTORIAL / "bootstrap").read_text()
TUTORIAL_FUNCTION = (TUTORIAL / "function.sh").read_text()


def test_a_nodejs_async_handler_runs_and_stays_warm(lam):
    create_function(
        lam,
        "node",
        Runtime="nodejs20.x",
        Handler="index.handler",
        Code={"ZipFile": make_zip({"index.js": NODE})},
    )
    first = invoke(lam, "node", {"name": "ada"}, LogType="Tail")
    assert first["Body"] == {"calls": 1, "name": "node", "remaining": True}
    assert "\tINFO\tnode says ada" in first["Log"]
    assert invoke(lam, "node")["Body"]["calls"] == 2


@pytest.mark.parametrize(
    ("handler", "expected"),
    [("index.callback", {"style": "callback"}), ("index.succeed", {"style": "succeed"})],
)
def test_nodejs_callback_and_context_styles_answer(lam, handler, expected):
    name = handler.replace(".", "-")
    create_function(
        lam,
        name,
        Runtime="nodejs20.x",
        Handler=handler,
        Code={"ZipFile": make_zip({"index.js": NODE})},
    )
    response = invoke(lam, name, LogType="Tail")
    assert response["Body"] == expected
    if handler == "index.callback":
        # callbackWaitsForEmptyEventLoop: the timer ran before the response was sent.
        assert "timer finished" in response["Log"]


@pytest.mark.parametrize(
    ("handler", "error_type", "message"),
    [("index.fail", "Error", "failed on purpose"), ("index.reject", "TypeError", "bad input")],
)
def test_nodejs_errors_are_function_errors(lam, handler, error_type, message):
    name = handler.replace(".", "-")
    create_function(
        lam,
        name,
        Runtime="nodejs20.x",
        Handler=handler,
        Code={"ZipFile": make_zip({"index.js": NODE})},
    )
    response = invoke(lam, name)
    assert response["FunctionError"] == "Unhandled"
    assert response["Body"]["errorType"] == error_type
    assert response["Body"]["errorMessage"] == message
    assert isinstance(response["Body"]["trace"], list)


def test_the_custom_runtime_tutorial_works_as_written(lam):
    code = zip_with_modes(
        {"bootstrap": (TUTORIAL_BOOTSTRAP, 0o755), "function.sh": (TUTORIAL_FUNCTION, 0o644)}
    )
    create_function(
        lam, "bash-runtime", Runtime="provided", Handler="function.handler", Code={"ZipFile": code}
    )
    response = invoke(lam, "bash-runtime", {"text": "Hello"}, LogType="Tail")
    assert response["Raw"] == b'Echoing request: \'{"text": "Hello"}\''
    assert '{"text": "Hello"}' in response["Log"]
    again = invoke(lam, "bash-runtime", {"n": 2})
    assert again["Raw"] == b"Echoing request: '{\"n\": 2}'"


def test_a_custom_runtime_bootstrap_can_come_from_a_layer(lam):
    layer = lam.publish_layer_version(
        LayerName="bash-runtime",
        Content={"ZipFile": zip_with_modes({"bootstrap": (TUTORIAL_BOOTSTRAP, 0o755)})},
    )
    create_function(
        lam,
        "layered",
        Runtime="provided.al2",
        Handler="function.handler",
        Layers=[layer["LayerVersionArn"]],
        Code={"ZipFile": zip_with_modes({"function.sh": (TUTORIAL_FUNCTION, 0o644)})},
    )
    assert invoke(lam, "layered", {"x": 1})["Raw"] == b"Echoing request: '{\"x\": 1}'"


@pytest.fixture(scope="session")
def awslambdaric_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("awslambdaric")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--target",
            str(target),
            "--python-version",
            "3.11",
            "--only-binary=:all:",
            "--platform",
            "manylinux2014_x86_64",
            "awslambdaric",
        ],
        check=True,
    )
    return target


def test_a_function_packaged_with_awslambdaric_runs_on_provided(lam, awslambdaric_dir):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in awslambdaric_dir.rglob("*"):
            if path.is_file() and "__pycache__" not in path.parts:
                archive.write(path, path.relative_to(awslambdaric_dir).as_posix())
        info = zipfile.ZipInfo("bootstrap")
        info.create_system = 3
        info.external_attr = 0o100755 << 16
        archive.writestr(
            info,
            "#!/bin/sh\nexport PYTHONPATH=$LAMBDA_TASK_ROOT\n"
            'exec /usr/bin/python3 -m awslambdaric "$_HANDLER"\n',
        )
        archive.writestr(
            "app.py",
            "def handler(event, context):\n"
            "    print('ric sees', event['v'])\n"
            "    return {'ric': event['v'], 'id': context.aws_request_id}\n",
        )
    create_function(
        lam,
        "ric",
        Runtime="provided.al2023",
        Handler="app.handler",
        Code={"ZipFile": buffer.getvalue()},
        Timeout=30,
    )
    response = invoke(lam, "ric", {"v": 7}, LogType="Tail")
    assert response["Body"]["ric"] == 7
    assert response["Body"]["id"] == response["ResponseMetadata"]["RequestId"]
    assert "ric sees 7" in response["Log"]
