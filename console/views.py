"""Console pages: sign-in and the landing page."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from console.pages import function_list
from monitoring import api as logs_api
from monitoring.metrics import cloudwatch


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "/login/"


@csrf_exempt
def home(request: HttpRequest) -> HttpResponse:
    """``/``: the console's landing page, and for JSON 1.1 calls (a ``POST`` carrying
    ``X-Amz-Target``) the CloudWatch Logs API and CloudWatch's GetMetricStatistics, which
    share the endpoint as on AWS."""
    if request.method == "POST" and "X-Amz-Target" in request.headers:
        if request.headers["X-Amz-Target"].startswith(cloudwatch.TARGET_PREFIX + "."):
            return cloudwatch.dispatch(request)
        response: HttpResponse = logs_api.dispatch(request)
        return response
    return function_list.function_list(request)


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})
