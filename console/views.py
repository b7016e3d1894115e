"""Console pages: sign-in and the landing page."""

from __future__ import annotations

from typing import Any, cast

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.contrib.auth.forms import AuthenticationForm
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from audit import api as audit_api
from awsapi import query
from console import supervisor
from console.pages import function_list
from console.pages._request import ConsoleRequest
from iam import api as iam_api
from monitoring import api as logs_api
from monitoring.metrics import cloudwatch
from triggers.api import events as events_api


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True


def login_locked_out(request: HttpRequest, *args: Any) -> HttpResponse:
    """django-axes' answer to a sign-in while its (user name, address) pair is locked out:
    the sign-in page again, saying so, with 429 Too Many Requests."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {
        "form": AuthenticationForm(request),
        "next": request.POST.get("next", ""),
        "locked_out_minutes": max(minutes, 1),
    }
    return render(request, "console/login.html", context, status=429)


class LogoutView(auth_views.LogoutView):
    next_page = "/login/"


@csrf_exempt
def home(request: HttpRequest) -> HttpResponse:
    """``/``: the console's landing page; for JSON 1.1 calls (a ``POST`` carrying
    ``X-Amz-Target``) the CloudWatch Logs API, CloudWatch's metrics API (JSON 1.0), the
    EventBridge subset and CloudTrail's LookupEvents, which share the endpoint as on AWS;
    for query-protocol calls (a form ``POST`` with an ``Action``) IAM and STS."""
    if request.method == "POST" and "X-Amz-Target" in request.headers:
        target = request.headers["X-Amz-Target"]
        if target.startswith(cloudwatch.TARGET_PREFIX + "."):
            return cloudwatch.dispatch(request)
        if target.startswith(events_api.TARGET_PREFIX + "."):
            events_response: HttpResponse = events_api.dispatch(request)
            return events_response
        if target.startswith(audit_api.TARGET_PREFIX + "."):
            trail_response: HttpResponse = audit_api.dispatch(request)
            return trail_response
        response: HttpResponse = logs_api.dispatch(request)
        return response
    if query.is_query_request(request):
        # IAM and STS: the query protocol, a form body naming its Action.
        query_response: HttpResponse = iam_api.dispatch(request)
        return query_response
    # function_list is login_required: an anonymous caller is sent to sign in first.
    return function_list.function_list(cast(ConsoleRequest, request))


def healthz(request: HttpRequest) -> HttpResponse:
    """Liveness for load balancers and operators: always 200 while this process serves;
    ``status`` is ``degraded`` while the embedded worker that ``serve`` supervises is down."""
    body: dict[str, Any] = {"status": "ok"}
    if settings.FUNCTORY_EMBEDDED_WORKER:
        worker = supervisor.read_state(supervisor.worker_state_file())
        if worker is not None:
            body["worker"] = worker
            if not worker["running"]:
                body["status"] = "degraded"
    return JsonResponse(body)
