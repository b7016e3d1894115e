"""Routes of the console pages and their JSON endpoints, gathered from each area."""

from __future__ import annotations

from console.pages import (
    account,
    async_invocations,
    audit,
    code,
    configuration,
    function_list,
    function_urls,
    functions,
    identities,
    layers,
    logs_insights,
    monitor,
    testing,
    triggers,
    versions,
)

urlpatterns = [
    *function_list.urlpatterns,
    *functions.urlpatterns,
    *code.urlpatterns,
    *testing.urlpatterns,
    *monitor.urlpatterns,
    *configuration.urlpatterns,
    *function_urls.urlpatterns,
    *triggers.urlpatterns,
    *versions.urlpatterns,
    *layers.urlpatterns,
    *account.urlpatterns,
    *identities.urlpatterns,
    *async_invocations.urlpatterns,
    *audit.urlpatterns,
    *logs_insights.urlpatterns,
]
