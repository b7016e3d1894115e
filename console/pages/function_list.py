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
from django.views.decorators.http import require_POST

from awsapi.errors import AWSError, ResourceConflict
from console import blueprints
from console.consoleapi import FieldError, console_json
from console.pages._request import ConsoleRequest
from functions import listing, package_files, zips
from functions.services import functions as function_services
from iam.models import Account

NAME_PATTERN = re.compile(r"[A-Za-z0-9_-]{1,64}")
RUNTIMES = [
    "python3.9",
    "python3.10",
    "python3.11",
    "python3.12",
    "python3.13",
    "nodejs18.x",
    "nodejs20.x",
    "nodejs22.x",
    "provided",
    "provided.al2",
    "provided.al2023",
]


def default_role(account: Account) -> str:
    """A placeholder execution role in the caller's account (roles are not enforced here)."""
    return f"arn:aws:iam::{account.id}:role/functory-console-role"


@login_required
def function_list(request: ConsoleRequest) -> HttpResponse:
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
        },
    )


@login_required
def function_new(request: ConsoleRequest) -> HttpResponse:
    account = request.user.account
    return render(
        request,
        "console/functions/create.html",
        {
            "blueprints": blueprints.all_blueprints(),
            "runtimes": RUNTIMES,
            "default_role": default_role(account),
            "zipped_limit": zips.ZIPPED_LIMIT,
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


@require_POST
@console_json
def function_create(request: ConsoleRequest) -> dict[str, Any]:
    """Create from a blueprint or an uploaded zip (multipart form, sent by create.js)."""
    account = request.user.account
    name = _name(request.POST.get("name", "").strip())
    role = request.POST.get("role", "").strip() or default_role(account)
    params: dict[str, Any] = {"Role": role}
    if request.POST.get("source") == "upload":
        upload = request.FILES.get("file")
        if upload is None:
            raise FieldError("file", "Choose a .zip file to upload.")
        if upload.size is not None and upload.size > zips.ZIPPED_LIMIT:
            raise FieldError("file", f"Zipped size must be smaller than {zips.ZIPPED_LIMIT} bytes")
        runtime = request.POST.get("runtime", "")
        if runtime not in RUNTIMES:
            raise FieldError("runtime", "Choose a runtime.")
        handler = request.POST.get("handler", "").strip()
        if not handler:
            raise FieldError("handler", "Enter the handler, e.g. lambda_function.lambda_handler.")
        data = upload.read()
        params.update(Runtime=runtime, Handler=handler)
    else:
        blueprint = blueprints.blueprint_get(request.POST.get("blueprint", ""))
        if blueprint is None:
            raise FieldError("blueprint", "Choose a blueprint.")
        data = package_files.build(blueprint.files)
        params.update(Runtime=blueprint.runtime, Handler=blueprint.handler)
    params["Code"] = {"ZipFile": base64.b64encode(data).decode()}
    try:
        function_services.function_create(account=account, name=name, params=params)
    except FieldError:
        raise
    except ResourceConflict as exc:
        raise _on_field("name", exc) from exc
    except AWSError as exc:
        # Zip problems (corrupt, too big) belong next to the file input.
        if request.POST.get("source") == "upload":
            raise _on_field("file", exc) from exc
        raise
    return {"url": reverse("function-detail", args=[name]) + "#code"}


urlpatterns = [
    path("functions/new/", function_new, name="function-new"),
    path("_console/functions", function_create, name="console-function-create"),
]
