"""Console: the function list (search, sort, pagination) and creating a function."""

from __future__ import annotations

import base64
import re
from typing import Any
from urllib.parse import urlencode

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from awsapi.errors import AWSError, ResourceConflict
from console import blueprints, permissions
from console.pages._forms import FieldError
from console.pages._request import ConsoleRequest
from console.permissions import Action
from functions import listing, package_files, zips
from functions.services import functions as function_services
from iam.models import Account
from invocations import selectors as invocations
from platformapi.parsers import StrictJSONParser
from platformapi.views import SignedInRequest

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def runtimes_offered() -> list[str]:
    """The runtimes the console offers: those the API accepts that this host can run."""
    return [
        r
        for r in function_services.runtimes_accepted()
        if invocations.runtime_availability(r).available
    ]


def runtimes_unavailable() -> list[tuple[str, str]]:
    """The runtimes the API accepts that this host cannot run, each with the reason."""
    found = (invocations.runtime_availability(r) for r in function_services.runtimes_accepted())
    return [(a.runtime, a.reason) for a in found if not a.available]


def default_role(account: Account) -> str:
    """A placeholder execution role in the caller's account. Unless the account has such a
    role trusting Lambda, a function made with it runs without credentials (the
    configuration tab says so), or, with FUNCTORY_STRICT_EXECUTION_ROLES, is refused."""
    return f"arn:aws:iam::{account.id}:role/functory-console-role"


@login_required
def function_list(request: ConsoleRequest) -> HttpResponse:
    refused = permissions.denial(request.user, Action.LIST_FUNCTIONS)
    if refused is not None:
        return permissions.denied_page(request, refused)
    sort = request.GET.get("sort", "name")
    descending = request.GET.get("dir") == "desc"
    result = listing.functions_list_for_account(
        request.user.account,
        search=request.GET.get("q", ""),
        sort=sort,
        descending=descending,
        page=request.GET.get("page", 1),
    )

    def query(**changes: Any) -> str:
        params = {"q": result.search, "sort": result.sort, "dir": "desc" if descending else ""}
        params.update(changes)
        return "?" + urlencode({k: v for k, v in params.items() if v not in ("", None)})

    columns = []
    for key, label in (("name", "Name"), ("runtime", "Runtime"), ("modified", "Last modified")):
        active = result.sort == key
        flip = "" if active and descending else ("desc" if active else "")
        columns.append(
            {
                "key": key,
                "label": label,
                "url": query(sort=key, dir=flip, page=""),
                "aria_sort": ("descending" if descending else "ascending") if active else "none",
            }
        )
    page = result.page
    return render(
        request,
        "console/functions/list.html",
        {
            "listing": result,
            "page": page,
            "columns": columns,
            "prev_url": query(page=page.previous_page_number()) if page.has_previous() else None,
            "next_url": query(page=page.next_page_number()) if page.has_next() else None,
            "controls": {"create_function": _create_denial(request)},
        },
    )


def _create_denial(request: ConsoleRequest) -> permissions.Denied | None:
    """Creating a function, judged on a placeholder name with the console's default role."""
    return permissions.denial(
        request.user,
        Action.CREATE_FUNCTION,
        FunctionName=permissions.NEW_FUNCTION,
        Role=default_role(request.user.account),
    )


@login_required
def function_new(request: ConsoleRequest) -> HttpResponse:
    account = request.user.account
    offered = blueprints.all_blueprints()
    return render(
        request,
        "console/functions/create.html",
        {
            "blueprints": offered,
            # The first blueprint this host can offer starts chosen.
            "default_blueprint": next((b.key for b in offered if not b.unavailable), ""),
            "runtimes": runtimes_offered(),
            "runtimes_unavailable": runtimes_unavailable(),
            "default_role": default_role(account),
            "zipped_limit": zips.ZIPPED_LIMIT,
            "controls": {"create_function": _create_denial(request)},
        },
    )


def _name(value: str) -> str:
    if not NAME_PATTERN.fullmatch(value):
        raise FieldError(
            "name",
            "Enter 1 to 64 letters, digits, hyphens (-) or underscores (_).",
        )
    return value


def _on_field(field: str, error: AWSError) -> FieldError:
    """``error`` (its code and status kept) shown next to ``field``."""
    moved = FieldError(field, error.message)
    moved.code, moved.status = error.code, error.status
    return moved


class FunctionCreateInput(serializers.Serializer[Any]):
    """The create page's form: a blueprint, or an uploaded .zip with its runtime and
    handler. Names, runtimes and sizes are checked by the view and the service."""

    name = serializers.CharField(required=False, default="", allow_blank=True)
    role = serializers.CharField(
        required=False, default="", allow_blank=True, help_text="Default: a console role."
    )
    # The form's own name for it; DRF's metaclass takes declared fields off the class, so
    # this does not shadow Field.source at run time (mypy only sees the class body).
    source = serializers.CharField(  # type: ignore[assignment]
        required=False,
        default="",
        allow_blank=True,
        help_text='"upload" for a .zip; anything else for a blueprint.',
    )
    blueprint = serializers.CharField(required=False, default="", allow_blank=True)
    file = serializers.FileField(
        required=False, allow_null=True, default=None, help_text="The .zip (source upload)."
    )
    runtime = serializers.CharField(required=False, default="", allow_blank=True)
    handler = serializers.CharField(required=False, default="", allow_blank=True)


class FunctionCreateOutput(serializers.Serializer[Any]):
    url = serializers.CharField(help_text="The new function's page, at its Code tab.")


class FunctionCreateView(APIView):
    # create.js posts a multipart form (the zip as a file); a plain form or JSON (for a
    # blueprint) is read the same way.
    parser_classes = [MultiPartParser, FormParser, StrictJSONParser]

    @extend_schema(request=FunctionCreateInput, responses={201: FunctionCreateOutput})
    def post(self, request: SignedInRequest) -> Response:
        """Create from a blueprint or an uploaded zip."""
        account = request.user.account
        form = FunctionCreateInput(data=request.data)
        form.is_valid(raise_exception=True)
        values = form.validated_data
        name = _name(values["name"])
        params: dict[str, Any] = {"Role": values["role"] or default_role(account)}
        permissions.require(request, Action.CREATE_FUNCTION, FunctionName=name, **params)
        upload = values["source"] == "upload"
        if upload:
            data = _uploaded(values)
            params.update(Runtime=values["runtime"], Handler=values["handler"])
        else:
            blueprint = blueprints.blueprint_get(values["blueprint"])
            if blueprint is None:
                raise FieldError("blueprint", "Choose a blueprint.")
            if blueprint.unavailable:
                raise FieldError("blueprint", blueprint.unavailable)
            data = package_files.build(blueprint.files)
            params.update(Runtime=blueprint.runtime, Handler=blueprint.handler)
        params["Code"] = {"ZipFile": base64.b64encode(data).decode()}
        try:
            function_services.function_create(account=account, name=name, params=params)
        except FieldError:
            raise
        except ResourceConflict as exc:
            raise _on_field("name", exc) from exc
        except function_services.RoleNotAssumable as exc:
            raise _on_field("role", exc) from exc
        except AWSError as exc:
            # Zip problems (corrupt, too big) belong next to the file input.
            if upload:
                raise _on_field("file", exc) from exc
            raise
        return Response({"url": reverse("function-detail", args=[name]) + "#code"}, status=201)


def _uploaded(values: dict[str, Any]) -> bytes:
    """The uploaded zip's bytes, after the checks the form's fields need."""
    upload = values["file"]
    if upload is None:
        raise FieldError("file", "Choose a .zip file to upload.")
    # Refused before reading: the size Django counted while it stored the upload.
    if upload.size is not None and upload.size > zips.ZIPPED_LIMIT:
        raise FieldError("file", f"Zipped size must be smaller than {zips.ZIPPED_LIMIT} bytes")
    if values["runtime"] not in runtimes_offered():
        reason = dict(runtimes_unavailable()).get(values["runtime"])
        raise FieldError(
            "runtime", f"{values['runtime']}: {reason}." if reason else "Choose a runtime."
        )
    if not values["handler"]:
        raise FieldError("handler", "Enter the handler, e.g. lambda_function.lambda_handler.")
    data: bytes = upload.read()
    return data


urlpatterns = [
    path("functions/new/", function_new, name="function-new"),
    path("_console/functions", FunctionCreateView.as_view(), name="console-function-create"),
]
