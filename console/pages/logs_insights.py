"""Console: Logs Insights — choose log groups and a time range, write a query, run it and
read its rows (and, for ``stats … by bin()``, a chart).

The page's script calls the JSON endpoints here, which run the same services as the Logs
API's StartQuery / GetQueryResults / StopQuery, authorized as those operations; so a user
whose policy refuses ``logs:StartQuery`` on a group gets AWS's AccessDenied here too.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.decorators import login_required
from django.http import HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from console import permissions
from console.pages._forms import account_of
from console.pages._request import ConsoleRequest
from console.permissions import Action
from monitoring import selectors as log_selectors
from monitoring.insights import selectors, services
from platformapi.views import SignedInRequest

# Groups listed for choosing; an account with more types a name (the API takes any).
MAX_LISTED_GROUPS = 1000
DEFAULT_QUERY = "fields @timestamp, @message\n| sort @timestamp desc\n| limit 20"


@login_required
@require_GET
def logs_insights_page(request: ConsoleRequest) -> HttpResponse:
    refused = permissions.denial(request.user, Action.LIST_LOG_GROUPS)
    if refused is not None:
        return permissions.denied_page(request, refused)
    groups, _ = log_selectors.log_groups_list(
        account_of(request), prefix=None, limit=MAX_LISTED_GROUPS, token=None
    )
    chosen = [name for name in request.GET.getlist("group") if name]
    return render(
        request,
        "console/logs_insights.html",
        {
            "groups": [group.name for group in groups],
            "chosen": chosen,
            "default_query": DEFAULT_QUERY,
        },
    )


class StartQueryInput(serializers.Serializer[Any]):
    # Named as the Logs API names them, so the page and the API speak alike.
    logGroupNames = serializers.ListField(
        child=serializers.CharField(max_length=512), min_length=1, max_length=50
    )
    startTime = serializers.IntegerField(min_value=0)
    endTime = serializers.IntegerField(min_value=0)
    queryString = serializers.CharField(max_length=10_000, trim_whitespace=False)
    limit = serializers.IntegerField(min_value=1, max_value=10_000, required=False)


class StartQueryOutput(serializers.Serializer[Any]):
    queryId = serializers.CharField()


class ResultCell(serializers.Serializer[Any]):
    field = serializers.CharField()
    value = serializers.CharField(allow_blank=True)


class QueryResultsOutput(serializers.Serializer[Any]):
    status = serializers.CharField()
    results = serializers.ListField(child=ResultCell(many=True))
    statistics = serializers.DictField(child=serializers.FloatField())


class StopQueryOutput(serializers.Serializer[Any]):
    success = serializers.BooleanField()


class QueriesView(APIView):
    @extend_schema(request=StartQueryInput, responses=StartQueryOutput)
    def post(self, request: SignedInRequest) -> Response:
        """Start a query over the signed-in account's log groups (as StartQuery)."""
        body = StartQueryInput(data=request.data)
        body.is_valid(raise_exception=True)
        params = dict(body.validated_data)
        permissions.require(request, Action.START_QUERY, logGroupNames=params["logGroupNames"])
        query = services.query_start(request.user.account, params)
        return Response({"queryId": query.query_id})


class QueryView(APIView):
    @extend_schema(responses=QueryResultsOutput)
    def get(self, request: SignedInRequest, query_id: str) -> Response:
        """The query's status and, once it finished, its rows (as GetQueryResults)."""
        permissions.require(request, Action.QUERY_RESULTS, queryId=query_id)
        return Response(selectors.log_query_results(request.user.account, query_id))


class StopQueryView(APIView):
    @extend_schema(request=None, responses=StopQueryOutput)
    def post(self, request: SignedInRequest, query_id: str) -> Response:
        """Stop the query (as StopQuery): false when it had already ended."""
        permissions.require(request, Action.STOP_QUERY, queryId=query_id)
        return Response({"success": services.query_stop(request.user.account, query_id)})


urlpatterns = [
    path("logs-insights/", logs_insights_page, name="logs-insights"),
    path("logs-insights/queries", QueriesView.as_view(), name="logs-insights-queries"),
    path("logs-insights/queries/<str:query_id>", QueryView.as_view(), name="logs-insights-query"),
    path(
        "logs-insights/queries/<str:query_id>/stop",
        StopQueryView.as_view(),
        name="logs-insights-stop",
    ),
]
