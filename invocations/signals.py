"""Keep cached invoke targets and warm environments in step with control-plane writes."""

from __future__ import annotations

from typing import Any

from django.db.models.signals import post_delete, post_save

from functions import arns
from functions.models import (
    Alias,
    Function,
    FunctionLayer,
    FunctionUrlConfig,
    FunctionVersion,
    PolicyStatement,
    ProvisionedConcurrencyConfig,
)
from iam.models import Role
from invocations import provisioning, runner
from invocations.credentials import execution_credentials
from invocations.selectors import target_cache, url_cache


def _changed(sender: Any, **kwargs: Any) -> None:
    target_cache.clear()
    url_cache.clear()


def _url_changed(sender: Any, **kwargs: Any) -> None:
    url_cache.clear()


def _function_deleted(sender: Any, instance: Function, **kwargs: Any) -> None:
    target_cache.clear()
    url_cache.clear()
    # The trailing colon: "f" must not retire "f2"'s environments.
    runner.retire(arns.function_arn(instance.account_id, instance.name) + ":")


def connect() -> None:
    for model in (FunctionVersion, Alias, FunctionLayer, Function):
        post_save.connect(_changed, sender=model, dispatch_uid=f"invoke-cache-save-{model}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"invoke-cache-del-{model}")
    # A URL's settings and its function's policy decide who may call it.
    for url_model in (FunctionUrlConfig, PolicyStatement):
        post_save.connect(
            _url_changed, sender=url_model, dispatch_uid=f"url-cache-save-{url_model}"
        )
        post_delete.connect(
            _url_changed, sender=url_model, dispatch_uid=f"url-cache-del-{url_model}"
        )
    post_delete.connect(_function_deleted, sender=Function, dispatch_uid="invoke-retire")
    # Provisioned environments follow their configuration, and an alias to its version.
    for provisioned in (ProvisionedConcurrencyConfig, Alias):
        uid = f"provision-{provisioned.__name__}"
        post_save.connect(provisioning.wake, sender=provisioned, dispatch_uid=f"{uid}-save")
        post_delete.connect(provisioning.wake, sender=provisioned, dispatch_uid=f"{uid}-del")
    # A role changed here (its trust policy) or removed: new environments look at it again.
    post_save.connect(execution_credentials.clear, sender=Role, dispatch_uid="exec-role-save")
    post_delete.connect(execution_credentials.clear, sender=Role, dispatch_uid="exec-role-del")
