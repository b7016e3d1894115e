"""Routes of the Lambda REST API; each path accepts an optional trailing slash."""

from __future__ import annotations

from typing import Any

from django.urls import path, re_path

from console.apiview import method_router
from functions import views
from functions.api import functions as fn

FN = r"(?P<function_name>[^/]+)"


def api(pattern: str, **views_by_method: Any) -> Any:
    return re_path(rf"^{pattern}/?$", method_router(**views_by_method))


urlpatterns = [
    path("_functory/code/<str:token>", views.code_download, name="code-download"),
    api(r"2015-03-31/functions", GET=fn.list_functions, POST=fn.create_function),
    api(rf"2015-03-31/functions/{FN}", GET=fn.get_function, DELETE=fn.delete_function),
    api(
        rf"2015-03-31/functions/{FN}/configuration",
        GET=fn.get_function_configuration,
        PUT=fn.update_function_configuration,
    ),
    api(rf"2015-03-31/functions/{FN}/code", PUT=fn.update_function_code),
    api(
        rf"2015-03-31/functions/{FN}/versions",
        GET=fn.list_versions_by_function,
        POST=fn.publish_version,
    ),
]
