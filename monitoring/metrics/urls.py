"""Routes of the console's metrics API and CloudWatch's RPC v2 CBOR form (its JSON 1.0 form
shares ``POST /`` with the other X-Amz-Target APIs: ``console.views.home``)."""

from __future__ import annotations

from django.urls import path

from monitoring.metrics import cloudwatch, views

urlpatterns = [
    path("_functory/api/metrics", views.MetricsView.as_view(), name="metrics"),
    path(
        f"service/{cloudwatch.TARGET_PREFIX}/operation/<str:operation>",
        cloudwatch.dispatch_rpc_v2,
        name="cloudwatch-rpc-v2",
    ),
]
