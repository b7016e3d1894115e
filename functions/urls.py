"""Routes of the Lambda REST API; each path accepts an optional trailing slash."""

from __future__ import annotations

from typing import Any

from django.urls import path, re_path

from awsapi.apiview import method_router
from functions import views
from functions.api import aliases as al
from functions.api import concurrency as cc
from functions.api import event_invoke as ei
from functions.api import function_urls as fu
from functions.api import functions as fn
from functions.api import layers as ly
from functions.api import policies as pol
from functions.api import provisioned as pc
from functions.api import tags as tg

FN = r"(?P<function_name>[^/]+)"
LAYER = r"(?P<layer_name>[^/]+)"
LAYER_VERSION = rf"{LAYER}/versions/(?P<version_number>[^/]+)"


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
    api(r"2018-10-31/layers", GET=ly.layers_root),
    api(
        rf"2018-10-31/layers/{LAYER}/versions",
        GET=ly.list_layer_versions,
        POST=ly.publish_layer_version,
    ),
    api(
        rf"2018-10-31/layers/{LAYER_VERSION}",
        GET=ly.get_layer_version,
        DELETE=ly.delete_layer_version,
    ),
    api(
        rf"2018-10-31/layers/{LAYER_VERSION}/policy",
        GET=ly.get_layer_version_policy,
        POST=ly.add_layer_version_permission,
    ),
    api(
        rf"2018-10-31/layers/{LAYER_VERSION}/policy/(?P<statement_id>[^/]+)",
        DELETE=ly.remove_layer_version_permission,
    ),
    api(rf"2015-03-31/functions/{FN}/aliases", GET=al.list_aliases, POST=al.create_alias),
    api(
        rf"2015-03-31/functions/{FN}/aliases/(?P<name>[^/]+)",
        GET=al.get_alias,
        PUT=al.update_alias,
        DELETE=al.delete_alias,
    ),
    api(rf"2015-03-31/functions/{FN}/policy", GET=pol.get_policy, POST=pol.add_permission),
    api(
        rf"2015-03-31/functions/{FN}/policy/(?P<statement_id>[^/]+)",
        DELETE=pol.remove_permission,
    ),
    api(
        r"2017-03-31/tags/(?P<resource>[^/]+)",
        GET=tg.list_tags,
        POST=tg.tag_resource,
        DELETE=tg.untag_resource,
    ),
    api(
        rf"2017-10-31/functions/{FN}/concurrency",
        PUT=cc.put_function_concurrency,
        DELETE=cc.delete_function_concurrency,
    ),
    api(rf"2019-09-30/functions/{FN}/concurrency", GET=cc.get_function_concurrency),
    api(r"2016-08-19/account-settings", GET=cc.get_account_settings),
    api(
        rf"2019-09-30/functions/{FN}/provisioned-concurrency",
        GET=pc.get_or_list,
        PUT=pc.put_provisioned_concurrency_config,
        DELETE=pc.delete_provisioned_concurrency_config,
    ),
    api(
        rf"2019-09-25/functions/{FN}/event-invoke-config",
        GET=ei.get_function_event_invoke_config,
        PUT=ei.put_function_event_invoke_config,
        POST=ei.update_function_event_invoke_config,
        DELETE=ei.delete_function_event_invoke_config,
    ),
    api(
        rf"2019-09-25/functions/{FN}/event-invoke-config/list",
        GET=ei.list_function_event_invoke_configs,
    ),
    api(
        rf"2021-10-31/functions/{FN}/url",
        GET=fu.get_function_url_config,
        POST=fu.create_function_url_config,
        PUT=fu.update_function_url_config,
        DELETE=fu.delete_function_url_config,
    ),
    api(rf"2021-10-31/functions/{FN}/urls", GET=fu.list_function_url_configs),
]
