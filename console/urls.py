"""Top-level routes: the console pages, then the AWS APIs."""

from __future__ import annotations

from django.urls import include, path, re_path

from awsapi.apiview import method_router
from console import views
from monitoring import views as monitoring_views
from platformapi import schema

# A route no URL matches: JSON for API clients, Django's page for browsers.
handler404 = "platformapi.errors.not_found"

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("healthz", views.healthz, name="healthz"),
    path("", include("console.pages.urls")),
    path(
        "_functory/api/logs/live-token",
        monitoring_views.LiveTailTokenView.as_view(),
        name="live-token",
    ),
    path("_functory/internal/live", monitoring_views.live_forward, name="live-forward"),
    path("", include("monitoring.metrics.urls")),
    path("", include("monitoring.traces.urls")),
    path("", include(schema.urlpatterns)),
    path("", include("invocations.urls")),
    path("", include("functions.urls")),
    path("", include("triggers.urls")),
    # Anything else under an API version prefix is an unknown operation, answered as AWS
    # does rather than with an HTML 404 page.
    re_path(r"^\d{4}-\d{2}-\d{2}/", method_router()),
]
