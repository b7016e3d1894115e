"""Console: the code area (views, JSON endpoints, and its part of the function page).

The editor loads the package as text files, and Deploy posts them back: the zip is built
here and handed to the same service as UpdateFunctionCode; runtime and handler go through
UpdateFunctionConfiguration's service.
"""

from __future__ import annotations

import base64
from typing import Any

from django.urls import path, reverse
from django.views.decorators.http import require_http_methods, require_POST

from console.consoleapi import FieldError, console_json, request_json
from console.pages._request import ConsoleRequest
from console.pages.function_list import RUNTIMES
from functions import code_location, codestore, package_files, selectors
from functions.models import Function, FunctionVersion
from functions.services import functions as function_services


def _function(request: ConsoleRequest, name: str) -> Function:
    return selectors.function_get_for_account(request.user.account, name)


def _properties(
    request: ConsoleRequest, function: Function, latest: FunctionVersion
) -> dict[str, Any]:
    return {
        "runtime": latest.runtime,
        "handler": latest.handler,
        "codeSha256": latest.code_sha256,
        "codeSize": latest.code_size,
        "revisionId": latest.revision_id,
        "lastModified": latest.last_modified.isoformat(),
        "downloadUrl": code_location.url_for(
            request, function.account_id, latest.code_id, f"{function.name}.zip"
        ),
    }


def _package(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    latest = selectors.latest_version(function)
    package = package_files.read(codestore.read(latest.code_id))
    return {
        **_properties(request, function, latest),
        "reason": package.reason,
        "folders": package.folders,
        "files": [
            {"path": f.path, "content": f.content, "executable": f.mode == package_files.EXECUTABLE}
            for f in package.files
        ],
    }


def _posted_files(data: dict[str, Any]) -> tuple[dict[str, tuple[str | bytes, int]], list[str]]:
    files = data.get("files")
    if not isinstance(files, list) or not files:
        raise FieldError("files", "The package needs at least one file.")
    if len(files) > package_files.MAX_FILES:
        raise FieldError("files", f"The editor deploys at most {package_files.MAX_FILES} files.")
    built: dict[str, tuple[str | bytes, int]] = {}
    total = 0
    for item in files:
        if not isinstance(item, dict) or not isinstance(item.get("content"), str):
            raise FieldError("files", "Each file needs a path and text content.")
        file_path = package_files.check_path(str(item.get("path", "")))
        content = item["content"]
        total += len(content.encode())
        executable = bool(item.get("executable")) or file_path in ("bootstrap",)
        built[file_path] = (
            content,
            package_files.EXECUTABLE if executable else package_files.REGULAR,
        )
    if total > package_files.EDITOR_LIMIT:
        raise FieldError("files", "The files are larger than the editor's limit.")
    folders = [package_files.check_path(str(f)) for f in data.get("folders") or []]
    return built, folders


@require_http_methods(["GET", "POST"])
@console_json
def code_package(request: ConsoleRequest, name: str) -> dict[str, Any]:
    """GET: the package as text files. POST: deploy posted files as the new code."""
    function = _function(request, name)
    if request.method == "GET":
        return _package(request, function)
    data = request_json(request)
    files, folders = _posted_files(data)
    zipped = package_files.build(files, folders)
    resolved = selectors.function_resolve(function.account, function.name)
    # Only a code change elsewhere conflicts with the editor; configuration changes made
    # meanwhile (which also change RevisionId) do not.
    latest = selectors.latest_version(function)
    if data.get("codeSha256") and data["codeSha256"] != latest.code_sha256:
        raise FieldError(
            "files",
            "The function's code was changed elsewhere after the editor loaded it. "
            "Reload the page to edit the current code.",
        )
    params: dict[str, Any] = {"ZipFile": base64.b64encode(zipped).decode()}
    latest = function_services.function_update_code(resolved=resolved, params=params)
    return _properties(request, function, latest)


@require_POST
@console_json
def runtime_settings(request: ConsoleRequest, name: str) -> dict[str, Any]:
    """Runtime and handler, through UpdateFunctionConfiguration's service."""
    function = _function(request, name)
    data = request_json(request)
    runtime = str(data.get("runtime", ""))
    handler = str(data.get("handler", "")).strip()
    if runtime not in RUNTIMES:
        raise FieldError("runtime", "Choose a supported runtime.")
    if not handler or len(handler) > 128:
        raise FieldError("handler", "Enter a handler of at most 128 characters.")
    params: dict[str, Any] = {"Runtime": runtime, "Handler": handler}
    resolved = selectors.function_resolve(function.account, function.name)
    latest = function_services.function_update_configuration(resolved=resolved, params=params)
    return _properties(request, function, latest)


urlpatterns: list[Any] = [
    path("_console/functions/<str:name>/code", code_package, name="console-code"),
    path("_console/functions/<str:name>/runtime", runtime_settings, name="console-runtime"),
]


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for this area's part of the function page."""
    return {
        "code_api": reverse("console-code", args=[function.name]),
        "runtime_api": reverse("console-runtime", args=[function.name]),
        "code_runtimes": RUNTIMES,
        "code_editor_limit": package_files.EDITOR_LIMIT,
    }
