"""The function list, create and Code tab endpoints: ownership, CSRF, and what they do."""

from __future__ import annotations

import base64
import io
import json
import time
import zipfile
from typing import Any

import pytest
from django.test import Client

from conftest import zip_entry
from console.blueprints import all_blueprints
from functions import package_files
from functions.models import Function
from functions.services import functions as function_services
from iam import services

pytestmark = pytest.mark.django_db

ROLE = "arn:aws:iam::111111111111:role/r"


def _zip(files: dict[str, str | bytes]) -> str:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, content in files.items():
            archive.writestr(zip_entry(name), content)
    return base64.b64encode(buffer.getvalue()).decode()


def _function(account_id: str, name: str, files: dict[str, str | bytes] | None = None) -> None:
    function_services.function_create(
        account=services.account_get_or_create(account_id),
        name=name,
        params={
            "Runtime": "python3.11",
            "Handler": "app.handler",
            "Role": ROLE,
            "Code": {"ZipFile": _zip(files or {"app.py": "def handler(e, c):\n    return 1\n"})},
        },
    )


def _client(account_id: str, username: str, *, csrf: bool = False) -> Client:
    account = services.account_get_or_create(account_id)
    services.user_create(
        username=username, account=account, password="pw-1234567890", is_admin=True
    )
    client = Client(enforce_csrf_checks=csrf)
    assert client.login(username=username, password="pw-1234567890")
    return client


def _post(client: Client, url: str, body: dict) -> object:
    return client.post(url, json.dumps(body), content_type="application/json")


def test_the_list_shows_only_the_callers_functions_with_search_and_sort():
    client = _client("111111111111", "owner")
    for name in ("alpha", "beta", "gamma-one"):
        _function("111111111111", name)
    _function("222222222222", "not-mine")
    page = client.get("/").content.decode()
    assert "alpha" in page and "gamma-one" in page and "not-mine" not in page
    searched = client.get("/?q=GAMMA").content.decode()
    assert "gamma-one" in searched and ">alpha<" not in searched
    descending = client.get("/?sort=name&dir=desc").content.decode()
    assert descending.index("gamma-one") < descending.index(">alpha<")


def test_the_list_paginates():
    client = _client("111111111111", "owner")
    for i in range(55):
        _function("111111111111", f"fn-{i:03d}")
    first = client.get("/").content.decode()
    assert "fn-049" in first and "fn-050" not in first and "Page 1 of 2" in first
    second = client.get("/?page=2").content.decode()
    assert "fn-050" in second and "fn-054" in second and "fn-049" not in second


def test_the_list_with_1000_functions_renders_in_a_bounded_number_of_queries(
    django_assert_max_num_queries,
):
    client = _client("111111111111", "owner")
    for i in range(1000):
        _function("111111111111", f"bulk-{i:04d}")
    client.get("/")  # warm-up: URL resolver, template compilation
    with django_assert_max_num_queries(8):
        response = client.get("/?sort=modified&dir=desc")
    assert response.status_code == 200
    timings = []
    for query in ("", "?sort=runtime", "?sort=modified&dir=desc&page=20", "?q=bulk-09"):
        started = time.perf_counter()
        client.get(f"/{query}")
        timings.append((time.perf_counter() - started) * 1000)
    elapsed = sorted(timings)[len(timings) // 2] / 1000
    print(
        f"list page with 1000 functions: median {elapsed * 1000:.1f} ms of {timings}"
    )  # measured, never asserted


def test_creating_from_each_blueprint_makes_a_function_with_its_runtime():
    client = _client("111111111111", "owner")
    # Those this host cannot offer are refused (test_console_runtimes.py).
    for blueprint in [b for b in all_blueprints() if not b.unavailable]:
        response = client.post(
            "/_console/functions",
            {"name": f"bp-{blueprint.key}", "source": "blueprint", "blueprint": blueprint.key},
        )
        assert response.status_code == 201, response.content
        assert response.json()["url"] == f"/functions/bp-{blueprint.key}/#code"
        latest = Function.objects.get(name=f"bp-{blueprint.key}").versions.get(number=0)
        assert (latest.runtime, latest.handler) == (blueprint.runtime, blueprint.handler)
        assert latest.role == "arn:aws:iam::111111111111:role/functory-console-role"


def test_the_bash_blueprint_keeps_its_bootstrap_executable():
    client = _client("111111111111", "owner")
    client.post(
        "/_console/functions", {"name": "b", "source": "blueprint", "blueprint": "hello-bash"}
    )
    files = client.get("/_console/functions/b/code").json()["files"]
    assert {f["path"]: f["executable"] for f in files}["bootstrap"] is True


def test_create_errors_name_the_field():
    client = _client("111111111111", "owner")
    bad = client.post("/_console/functions", {"name": "no spaces", "blueprint": "hello-python"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "name"
    client.post("/_console/functions", {"name": "twice", "blueprint": "hello-python"})
    again = client.post("/_console/functions", {"name": "twice", "blueprint": "hello-python"})
    assert again.status_code == 409 and again.json()["error"]["field"] == "name"
    corrupt = client.post(
        "/_console/functions",
        {
            "name": "z",
            "source": "upload",
            "runtime": "python3.11",
            "handler": "a.b",
            "file": io.BytesIO(b"not a zip"),
        },
    )
    assert corrupt.status_code == 400 and corrupt.json()["error"]["field"] == "file"


def test_creating_from_an_uploaded_zip():
    client = _client("111111111111", "owner")
    upload = io.BytesIO(base64.b64decode(_zip({"main.py": "def go(e, c):\n    return 2\n"})))
    upload.name = "pkg.zip"
    response = client.post(
        "/_console/functions",
        {
            "name": "up",
            "source": "upload",
            "runtime": "python3.11",
            "handler": "main.go",
            "file": upload,
        },
    )
    assert response.status_code == 201, response.content
    files = client.get("/_console/functions/up/code").json()["files"]
    assert files == [
        {"path": "main.py", "content": "def go(e, c):\n    return 2\n", "executable": False}
    ]


def _upload(client: Client, name: str, zipped: bytes, **fields: str) -> Any:
    upload = io.BytesIO(zipped)
    upload.name = "pkg.zip"
    form = {"name": name, "source": "upload", "runtime": "python3.11", "handler": "main.go"}
    return client.post("/_console/functions", {**form, **fields, "file": upload})


def test_an_uploaded_zip_with_an_entry_outside_its_root_is_refused_next_to_the_file():
    client = _client("111111111111", "owner")
    zipped = base64.b64decode(_zip({"../../main.py": "def go(e, c):\n    return 2\n"}))
    response = _upload(client, "escape", zipped)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == "file" and "escapes the archive root" in error["message"]
    assert not Function.objects.filter(name="escape").exists()


def test_an_upload_over_the_zipped_limit_is_refused_next_to_the_file(monkeypatch):
    from functions import zips

    client = _client("111111111111", "owner")
    zipped = base64.b64decode(_zip({"main.py": "x = 1\n" * 200}))
    monkeypatch.setattr(zips, "ZIPPED_LIMIT", len(zipped) - 1)
    response = _upload(client, "big", zipped)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == "file" and "Zipped size must be smaller" in error["message"]
    assert not Function.objects.filter(name="big").exists()


@pytest.mark.parametrize(
    ("form", "field"),
    [
        ({"source": "upload", "runtime": "python3.11", "handler": "a.b"}, "file"),
        ({"source": "upload", "runtime": "cobol", "handler": "a.b", "file": b""}, "file"),
        ({"source": "upload", "runtime": "cobol", "handler": "a.b"}, "file"),
        ({"source": "blueprint", "blueprint": "nope"}, "blueprint"),
    ],
)
def test_an_incomplete_create_form_is_a_400_next_to_its_field(form, field):
    client = _client("111111111111", "owner")
    if "file" in form:
        form["file"] = io.BytesIO(form["file"])
    response = client.post("/_console/functions", {"name": "f", **form})
    assert response.status_code == 400, response.content
    assert response.json()["error"]["field"] == field
    assert not Function.objects.filter(name="f").exists()


def test_an_upload_without_runtime_or_handler_is_refused_next_to_them():
    client = _client("111111111111", "owner")
    zipped = base64.b64decode(_zip({"main.py": "x = 1\n"}))
    runtime = _upload(client, "f", zipped, runtime="cobol")
    assert runtime.status_code == 400 and runtime.json()["error"]["field"] == "runtime"
    handler = _upload(client, "f", zipped, handler="")
    assert handler.status_code == 400 and handler.json()["error"]["field"] == "handler"


def test_a_json_create_from_a_blueprint_works_and_a_json_file_is_refused():
    client = _client("111111111111", "owner")
    created = _post(client, "/_console/functions", {"name": "j", "blueprint": "hello-python"})
    assert created.status_code == 201, created.content
    not_a_file = _post(
        client,
        "/_console/functions",
        {"name": "k", "source": "upload", "file": "UEsDBA==", "runtime": "python3.11"},
    )
    assert not_a_file.status_code == 400
    assert not_a_file.json()["error"]["field"] == "file"


def test_a_create_form_past_djangos_upload_limits_is_a_clean_4xx(settings):
    client = _client("111111111111", "owner", csrf=True)
    client.get("/functions/new/")
    token = {"X-CSRFToken": client.cookies["csrftoken"].value}
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    form = {"name": "big", "blueprint": "hello-python", "role": "r" * 4096}
    big = client.post("/_console/functions", form, headers=token)
    assert big.status_code == 413
    assert big.json()["error"]["code"] == "RequestEntityTooLargeException"
    many = {"name": "many", "blueprint": "hello-python", **{f"f{i}": "1" for i in range(20)}}
    crowded = client.post("/_console/functions", many, headers=token)
    assert crowded.status_code == 400
    assert crowded.json()["error"]["code"] == "InvalidRequestContentException"
    assert not Function.objects.exists()


def test_deploy_builds_the_zip_and_updates_the_code():
    client = _client("111111111111", "owner")
    _function("111111111111", "mine")
    before = client.get("/_console/functions/mine/code").json()
    response = _post(
        client,
        "/_console/functions/mine/code",
        {
            "codeSha256": before["codeSha256"],
            "files": [
                {"path": "app.py", "content": "def handler(e, c):\n    return 2\n"},
                {"path": "lib/util.py", "content": "X = 1\n"},
            ],
            "folders": ["empty"],
        },
    )
    assert response.status_code == 200, response.content
    assert response.json()["codeSha256"] != before["codeSha256"]
    after = client.get("/_console/functions/mine/code").json()
    assert [f["path"] for f in after["files"]] == ["app.py", "lib/util.py"]
    assert after["folders"] == ["empty"]
    assert after["codeSize"] == response.json()["codeSize"]


def test_deploy_refuses_when_the_code_changed_elsewhere():
    client = _client("111111111111", "owner")
    _function("111111111111", "mine")
    response = _post(
        client,
        "/_console/functions/mine/code",
        {"codeSha256": "stale", "files": [{"path": "app.py", "content": "x"}]},
    )
    assert response.status_code == 400
    assert "changed elsewhere" in response.json()["error"]["message"]


@pytest.mark.parametrize("path", ["../evil.py", "lib/../../evil.py", "/abs.py", "a//b.py", ""])
def test_deploy_rejects_paths_outside_the_package(path):
    client = _client("111111111111", "owner")
    _function("111111111111", "mine")
    before = client.get("/_console/functions/mine/code").json()["codeSha256"]
    for body in (
        {"files": [{"path": path, "content": "x"}]},
        {"files": [{"path": "app.py", "content": "x"}], "folders": [path]},
    ):
        response = _post(client, "/_console/functions/mine/code", body)
        assert response.status_code == 400, response.content
        error = response.json()["error"]
        assert error["code"] == "InvalidParameterValueException"
        assert "Invalid file path" in error["message"]
    assert client.get("/_console/functions/mine/code").json()["codeSha256"] == before


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, "at least one file"),
        ({"files": []}, "at least one file"),
        ({"files": "app.py"}, "at least one file"),
        ({"files": ["app.py"]}, "Each file needs a path and text content."),
        ({"files": [{"path": "app.py"}]}, "Each file needs a path and text content."),
        ({"files": [{"path": "app.py", "content": 5}]}, "Each file needs a path and text content."),
        ({"files": [{"path": "app.py", "content": "x", "executable": "maybe"}]}, "boolean"),
        ({"files": [{"path": "app.py", "content": "x"}], "folders": "lib"}, "list"),
        (
            {"files": [{"path": f"f{i}.py", "content": ""} for i in range(501)]},
            "at most 500 files",
        ),
        (
            {"files": [{"path": "big.txt", "content": "a" * (package_files.EDITOR_LIMIT + 1)}]},
            "larger than the editor's limit",
        ),
    ],
)
def test_a_malformed_deploy_is_a_400_next_to_the_files(body, message):
    client = _client("111111111111", "owner")
    _function("111111111111", "mine")
    response = _post(client, "/_console/functions/mine/code", body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert error["field"] == "files"
    assert message in error["message"]


def test_a_deploy_body_over_the_upload_limit_is_a_413(settings):
    client = _client("111111111111", "owner")
    _function("111111111111", "mine")
    before = client.get("/_console/functions/mine/code").json()["codeSha256"]
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 4096
    body = {"files": [{"path": "app.py", "content": "x" * 8192}]}
    response = _post(client, "/_console/functions/mine/code", body)
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "RequestEntityTooLargeException"
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 80 * 1024 * 1024
    assert client.get("/_console/functions/mine/code").json()["codeSha256"] == before


def test_binary_and_large_packages_offer_a_download_instead():
    client = _client("111111111111", "owner")
    _function("111111111111", "binary", {"app.py": "x = 1\n", "lib.so": b"\x7fELF\x00\x01"})
    _function("111111111111", "large", {"big.txt": "a" * (package_files.EDITOR_LIMIT + 1)})
    for name in ("binary", "large"):
        data = client.get(f"/_console/functions/{name}/code").json()
        assert data["reason"] and data["files"] == []
        assert "/_functory/code/" in data["downloadUrl"]
        assert client.get(data["downloadUrl"]).status_code == 200


def test_runtime_settings_go_through_update_configuration():
    client = _client("111111111111", "owner")
    _function("111111111111", "mine")
    response = _post(
        client, "/_console/functions/mine/runtime", {"runtime": "python3.12", "handler": "x.y"}
    )
    assert response.status_code == 200
    latest = Function.objects.get(name="mine").versions.get(number=0)
    assert (latest.runtime, latest.handler) == ("python3.12", "x.y")
    bad = _post(client, "/_console/functions/mine/runtime", {"runtime": "cobol", "handler": "x"})
    assert bad.status_code == 400 and bad.json()["error"]["field"] == "runtime"
    for body, field in (
        ({"runtime": ["python3.12"], "handler": "x.y"}, "runtime"),
        ({"runtime": "python3.12", "handler": {"x": "y"}}, "handler"),
        ({"runtime": "python3.12", "handler": "x" * 129}, "handler"),
    ):
        wrong = _post(client, "/_console/functions/mine/runtime", body)
        assert wrong.status_code == 400 and wrong.json()["error"]["field"] == field


def test_another_accounts_function_is_a_404_on_every_code_endpoint():
    _function("222222222222", "theirs")
    client = _client("333333333333", "stranger")
    assert client.get("/functions/theirs/").status_code == 404
    assert client.get("/_console/functions/theirs/code").status_code == 404
    files = {"files": [{"path": "app.py", "content": "x"}]}
    assert _post(client, "/_console/functions/theirs/code", files).status_code == 404
    runtime = {"runtime": "python3.12", "handler": "a.b"}
    assert _post(client, "/_console/functions/theirs/runtime", runtime).status_code == 404
    arn = "arn:aws:lambda:us-east-1:222222222222:function:theirs"
    assert client.get(f"/_console/functions/{arn}/code").status_code == 404


def test_signed_out_calls_are_refused():
    _function("222222222222", "theirs")
    assert Client().get("/_console/functions/theirs/code").status_code == 401
    assert Client().post("/_console/functions", {"name": "x"}).status_code == 401
    assert Client().get("/functions/new/").status_code == 302


def test_posts_without_the_csrf_token_are_refused():
    client = _client("111111111111", "owner", csrf=True)
    _function("111111111111", "mine")
    created = client.post("/_console/functions", {"name": "x", "blueprint": "hello-python"})
    assert created.status_code == 403
    files = {"files": [{"path": "app.py", "content": "x"}]}
    assert _post(client, "/_console/functions/mine/code", files).status_code == 403
    runtime = {"runtime": "python3.12", "handler": "a.b"}
    assert _post(client, "/_console/functions/mine/runtime", runtime).status_code == 403
    assert not Function.objects.filter(name="x").exists()
    # With the token (as the page's scripts send it) the same call goes through.
    client.get("/functions/new/")
    token = client.cookies["csrftoken"].value
    ok = client.post(
        "/_console/functions",
        {"name": "x", "blueprint": "hello-python"},
        headers={"X-CSRFToken": token},
    )
    assert ok.status_code == 201


def test_the_java_blueprint_is_a_compiled_class_the_editor_does_not_offer_to_edit():
    client = _client("111111111111", "owner")
    response = client.post(
        "/_console/functions", {"name": "j", "source": "blueprint", "blueprint": "hello-java"}
    )
    assert response.status_code == 201, response.content
    latest = Function.objects.get(name="j").versions.get(number=0)
    assert (latest.runtime, latest.handler) == ("java17", "example.Hello::handleRequest")
    package = client.get("/_console/functions/j/code").json()
    assert package["files"] == []
    assert "binary file (example/Hello.class)" in package["reason"]
