"""Console pages: sign-in and the landing page."""

from __future__ import annotations

from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render

from functions.models import Function


class LoginView(auth_views.LoginView):
    template_name = "console/login.html"
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    next_page = "/login/"


@login_required
def home(request: HttpRequest) -> HttpResponse:
    functions = Function.objects.filter(account=request.user.account).order_by("name")  # type: ignore[union-attr]
    return render(request, "console/home.html", {"functions": functions})


def healthz(request: HttpRequest) -> HttpResponse:
    return JsonResponse({"status": "ok"})
