"""Routes of the console's metrics API."""

from __future__ import annotations

from django.urls import path

from monitoring.metrics import views

urlpatterns = [
    path("_functory/api/metrics", views.MetricsView.as_view(), name="metrics"),
]
