"""Console: the code area (views, JSON endpoints, and its part of the function page).

The editor loads the package as text files, and Deploy posts them back: the zip is built
here and handed to the same service as UpdateFunctionCode; runtime and handler go through
UpdateFunctionConfiguration's service.
"""

from __future__ import annotations

import base64
from typing import Any

from django.http import HttpRequest
from django.urls import path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from console.pages._forms import FieldError
from console.pages._request import ConsoleRequest
from console.pages.function_list import runtimes_offered
from console.permissions import Action, require
from functions import code_location, codestore, package_files, selectors
from functions.models import Function, FunctionVersion
from functions.services import functions as function_services
from platformapi.views import SignedInRequest


def _function(request: SignedInRequest, name: str) -> Function:
    return selectors.function_get_for_account(request.user.account, name)


_IMAGE_CODE = (
    "This function's code is a container image: build a new image and point the function "
    "at it (UpdateFunctionCode with an ImageUri)."
)


def _properties(
    request: HttpRequest, function: Function, latest: FunctionVersion
) -> dict[str, Any]:
    if latest.package_type == "Image" or latest.code_id is None:
        return {
            "runtime": None,
            "handler": None,
            "codeSha256": latest.code_sha256,
            "codeSize": latest.code_size,
            "revisionId": latest.revision_id,
            "lastModified": latest.last_modified.isoformat(),
            "downloadUrl": "",
        }
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


def _package(request: HttpRequest, function: Function) -> dict[str, Any]:
    latest = selectors.latest_version(function)
    if latest.code_id is None:  # a container image: nothing to edit here
        return {**_properties(request, function, latest), "reason": _IMAGE_CODE}
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


_NO_FILES = "The package needs at least one file."
_BAD_FILE = "Each file needs a path and text content."


class _Text(serializers.CharField):
    """Text as posted: a string, kept as is (not a number turned into one, not trimmed)."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(trim_whitespace=False, allow_blank=True, **kwargs)

    def to_internal_value(self, data: Any) -> str:
        if not isinstance(data, str):
            self.fail("invalid")
        return str(super().to_internal_value(data))


class PackageFileInput(serializers.Serializer[Any]):
    path = _Text(required=False, default="", help_text="Relative to the package root.")
    content = _Text(error_messages={"required": _BAD_FILE, "null": _BAD_FILE, "invalid": _BAD_FILE})
    executable = serializers.BooleanField(required=False, default=False)


class DeployInput(serializers.Serializer[Any]):
    """The editor's files; paths, sizes and the file count are checked as before."""

    files: serializers.ListSerializer[Any] = serializers.ListSerializer(
        child=PackageFileInput(error_messages={"invalid": _BAD_FILE, "null": _BAD_FILE}),
        allow_empty=False,
        max_length=package_files.MAX_FILES,
        error_messages={
            "required": _NO_FILES,
            "null": _NO_FILES,
            "not_a_list": _NO_FILES,
            "empty": _NO_FILES,
            "max_length": f"The editor deploys at most {package_files.MAX_FILES} files.",
        },
    )
    folders = serializers.ListField(
        child=_Text(), required=False, default=list, allow_null=True, help_text="Empty folders."
    )
    codeSha256 = serializers.CharField(
        required=False,
        default="",
        allow_blank=True,
        allow_null=True,
        help_text="The code the editor loaded; a different current code refuses the deploy.",
    )


class CodePropertiesOutput(serializers.Serializer[Any]):
    runtime = serializers.CharField(allow_null=True)
    handler = serializers.CharField(allow_null=True)
    codeSha256 = serializers.CharField()
    codeSize = serializers.IntegerField()
    revisionId = serializers.CharField()
    lastModified = serializers.DateTimeField()
    downloadUrl = serializers.CharField(help_text="A short-lived link to the .zip.")


class PackageFileOutput(serializers.Serializer[Any]):
    path = serializers.CharField()
    content = serializers.CharField(allow_blank=True)
    executable = serializers.BooleanField()


class CodePackageOutput(CodePropertiesOutput):
    reason = serializers.CharField(
        allow_blank=True, help_text="Why the editor cannot show the files."
    )
    folders = serializers.ListField(child=serializers.CharField())
    files = PackageFileOutput(many=True)


def _posted_files(
    data: dict[str, Any],
) -> tuple[dict[str, tuple[str | bytes, int]], list[str]]:
    built: dict[str, tuple[str | bytes, int]] = {}
    total = 0
    for item in data["files"]:
        file_path = package_files.check_path(item["path"])
        content = item["content"]
        total += len(content.encode())
        executable = item["executable"] or file_path in ("bootstrap",)
        built[file_path] = (
            content,
            package_files.EXECUTABLE if executable else package_files.REGULAR,
        )
    if total > package_files.EDITOR_LIMIT:
        raise FieldError("files", "The files are larger than the editor's limit.")
    folders = [package_files.check_path(f) for f in data["folders"] or []]
    return built, folders


class CodePackageView(APIView):
    error_fields = {"files": "files", "folders": "files", "codeSha256": "files"}

    @extend_schema(responses=CodePackageOutput)
    def get(self, request: SignedInRequest, name: str) -> Response:
        """The package as text files (none, with the reason, when it is binary or large)."""
        function = _function(request, name)
        require(request, Action.VIEW_FUNCTION, FunctionName=function.name)
        return Response(_package(request._request, function))

    @extend_schema(request=DeployInput, responses=CodePropertiesOutput)
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Deploy the posted files as the new code, through UpdateFunctionCode's service."""
        function = _function(request, name)
        require(request, Action.DEPLOY, FunctionName=function.name)
        if selectors.latest_version(function).package_type == "Image":
            raise FieldError("files", _IMAGE_CODE)
        data = DeployInput(data=request.data)
        data.is_valid(raise_exception=True)
        files, folders = _posted_files(data.validated_data)
        zipped = package_files.build(files, folders)
        resolved = selectors.function_resolve(function.account, function.name)
        # Only a code change elsewhere conflicts with the editor; configuration changes made
        # meanwhile (which also change RevisionId) do not.
        latest = selectors.latest_version(function)
        loaded = data.validated_data["codeSha256"]
        if loaded and loaded != latest.code_sha256:
            raise FieldError(
                "files",
                "The function's code was changed elsewhere after the editor loaded it. "
                "Reload the page to edit the current code.",
            )
        params: dict[str, Any] = {"ZipFile": base64.b64encode(zipped).decode()}
        latest = function_services.function_update_code(resolved=resolved, params=params)
        return Response(_properties(request._request, function, latest))


class RuntimeInput(serializers.Serializer[Any]):
    runtime = serializers.CharField(
        required=False, default="", allow_blank=True, trim_whitespace=False
    )
    handler = serializers.CharField(required=False, default="", allow_blank=True)


class RuntimeSettingsView(APIView):
    @extend_schema(request=RuntimeInput, responses=CodePropertiesOutput)
    def post(self, request: SignedInRequest, name: str) -> Response:
        """Runtime and handler, through UpdateFunctionConfiguration's service."""
        function = _function(request, name)
        require(request, Action.CONFIGURE, FunctionName=function.name)
        if selectors.latest_version(function).package_type == "Image":
            raise FieldError("runtime", "A container image function's image is its runtime.")
        data = RuntimeInput(data=request.data)
        data.is_valid(raise_exception=True)
        runtime = data.validated_data["runtime"]
        handler = data.validated_data["handler"]
        # The function's own runtime stays choosable (a handler change) even where this
        # host cannot run it; another must be one the host runs.
        if (
            runtime not in runtimes_offered()
            and runtime != selectors.latest_version(function).runtime
        ):
            raise FieldError("runtime", "Choose a supported runtime.")
        if not handler or len(handler) > 128:
            raise FieldError("handler", "Enter a handler of at most 128 characters.")
        params: dict[str, Any] = {"Runtime": runtime, "Handler": handler}
        require(request, Action.CONFIGURE, FunctionName=function.name, **params)
        resolved = selectors.function_resolve(function.account, function.name)
        latest = function_services.function_update_configuration(resolved=resolved, params=params)
        return Response(_properties(request._request, function, latest))


urlpatterns: list[Any] = [
    path("_console/functions/<str:name>/code", CodePackageView.as_view(), name="console-code"),
    path(
        "_console/functions/<str:name>/runtime",
        RuntimeSettingsView.as_view(),
        name="console-runtime",
    ),
]


def context(request: ConsoleRequest, function: Function) -> dict[str, Any]:
    """Template context for this area's part of the function page."""
    return {
        "code_api": reverse("console-code", args=[function.name]),
        "runtime_api": reverse("console-runtime", args=[function.name]),
        "code_runtimes": runtimes_offered(),
        "code_editor_limit": package_files.EDITOR_LIMIT,
    }
