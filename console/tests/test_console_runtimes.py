"""The create page offers what this host can run (issue 15, item 7).

Its runtime chooser lists only the runtimes the executor's catalog can start here, and names
the others with the reason ("dotnet8: no .NET on this host"); a blueprint whose runtime or
build is missing here (the Go blueprint without a Go toolchain) is shown disabled with why,
and choosing it anyway is refused with that reason.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

import pytest
from django.test import Client
from django.utils.html import escape

from console import blueprints
from console.pages.function_list import runtimes_offered, runtimes_unavailable
from functions import package_files
from functions.models import Function
from functions.services.functions import runtimes_accepted
from iam import services
from invocations.executor import catalog

pytestmark = pytest.mark.django_db


def _client() -> Client:
    account = services.account_get_or_create("111111111111")
    services.user_create(username="owner", account=account, password="pw-1234567890", is_admin=True)
    client = Client()
    assert client.login(username="owner", password="pw-1234567890")
    return client


def _missing_python() -> str:
    """A python3.x runtime the API accepts that this host has no interpreter for."""
    installed = catalog.python_interpreters()
    missing = [
        r
        for r in runtimes_accepted()
        if r.startswith("python3.") and r.removeprefix("python") not in installed
    ]
    if not missing:
        pytest.skip("this host has an interpreter for every python3.x runtime")
    return missing[0]


def _options(page: str) -> list[str]:
    select = re.search(r'<select name="runtime">(.*?)</select>', page, re.S)
    assert select is not None
    return re.findall(r"<option[^>]*>([^<]+)</option>", select[1])


def test_the_catalog_answers_availability_with_the_reason() -> None:
    assert catalog.availability("dotnet8") == catalog.Availability(
        "dotnet8", False, "no .NET on this host"
    )
    assert catalog.availability("python3.99") == catalog.Availability(
        "python3.99", False, "no Python 3.99 on this host"
    )
    assert catalog.availability("provided.al2023").available
    installed = next(iter(catalog.python_interpreters()))
    assert catalog.availability(f"python{installed}") == catalog.Availability(
        f"python{installed}", True
    )


def test_the_runtime_chooser_lists_only_what_this_host_runs_and_says_why_not() -> None:
    missing = _missing_python()
    page = _client().get("/functions/new/").content.decode()
    options = _options(page)
    assert options == runtimes_offered()
    assert "provided.al2023" in options and "nodejs20.x" in options
    assert "dotnet8" not in options and missing not in options
    assert "<li>dotnet8: no .NET on this host</li>" in page
    version = missing.removeprefix("python")
    assert f"<li>{missing}: no Python {version} on this host</li>" in page
    listed = {runtime for runtime, _ in runtimes_unavailable()}
    assert listed | set(options) == set(runtimes_accepted())
    assert not listed & set(options)


def test_an_upload_for_a_runtime_this_host_cannot_run_is_refused_with_the_reason() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("Function.dll", b"MZ")
    upload = io.BytesIO(buffer.getvalue())
    upload.name = "fn.zip"
    response = _client().post(
        "/_console/functions",
        {
            "name": "dotnet",
            "source": "upload",
            "file": upload,
            "runtime": "dotnet8",
            "handler": "Function::Function.Handler::Run",
        },
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "runtime"
    assert response.json()["error"]["message"] == "dotnet8: no .NET on this host."
    assert not Function.objects.filter(name="dotnet").exists()


def test_the_go_blueprint_ships_its_prebuilt_bootstrap() -> None:
    if not (blueprints.GO_BUILD / "bootstrap").exists():
        pytest.fail("the Go blueprint is not built: scripts/go-blueprint.sh (needs golang-go)")
    client = _client()
    response = client.post(
        "/_console/functions", {"name": "go", "source": "blueprint", "blueprint": "hello-go"}
    )
    assert response.status_code == 201, response.content
    latest = Function.objects.get(name="go").versions.get(number=0)
    assert (latest.runtime, latest.handler) == ("provided.al2023", "bootstrap")
    code = client.get("/_console/functions/go/code").json()
    # A binary too large for the editor: the page says why it cannot show it.
    assert code["files"] == [] and code["reason"]
    blueprint = blueprints.blueprint_get("hello-go")
    assert blueprint is not None and not blueprint.unavailable
    content, mode = blueprint.files["bootstrap"]
    assert isinstance(content, bytes) and content.startswith(b"\x7fELF")
    assert mode == package_files.EXECUTABLE


def test_without_go_the_blueprint_is_listed_unavailable_and_refused(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(blueprints, "GO_BUILD", tmp_path / "never-built")
    client = _client()
    page = client.get("/functions/new/").content.decode()
    radio = re.search(r'<input type="radio" name="source_choice" value="hello-go"[^>]*>', page)
    assert radio is not None and "disabled" in radio[0] and "checked" not in radio[0]
    assert escape(blueprints.GO_MISSING) in page
    response = client.post(
        "/_console/functions", {"name": "go", "source": "blueprint", "blueprint": "hello-go"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == {
        **response.json()["error"],
        "field": "blueprint",
        "message": blueprints.GO_MISSING,
    }
    assert not Function.objects.filter(name="go").exists()


def test_a_blueprint_whose_runtime_this_host_cannot_run_is_unavailable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    real = blueprints._blueprints

    def with_dotnet() -> list[blueprints.Blueprint]:
        dotnet = blueprints.Blueprint("hello-dotnet", "C#", "", "dotnet8", "F::F.H::Run", {})
        return [*real(), dotnet]

    monkeypatch.setattr(blueprints, "_blueprints", with_dotnet)
    found = blueprints.blueprint_get("hello-dotnet")
    assert found is not None
    assert found.unavailable == "Unavailable: dotnet8: no .NET on this host."
    python = blueprints.blueprint_get("hello-python")
    assert python is not None and python.unavailable == ""
    body = json.dumps({"name": "cs", "source": "blueprint", "blueprint": "hello-dotnet"})
    response = _client().post("/_console/functions", body, content_type="application/json")
    assert response.status_code == 400
    assert response.json()["error"]["message"] == found.unavailable
