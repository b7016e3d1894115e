"""Routes of the event source mapping API (Lambda's 2015-03-31 REST paths)."""

from __future__ import annotations

from django.urls import re_path

from awsapi.apiview import method_router
from triggers.api import event_source_mappings as esm

urlpatterns = [
    re_path(
        r"^2015-03-31/event-source-mappings/?$",
        method_router(GET=esm.list_event_source_mappings, POST=esm.create_event_source_mapping),
    ),
    re_path(
        r"^2015-03-31/event-source-mappings/(?P<uuid>[^/]+)/?$",
        method_router(
            GET=esm.get_event_source_mapping,
            PUT=esm.update_event_source_mapping,
            DELETE=esm.delete_event_source_mapping,
        ),
    ),
]
