"""Functions' and layer versions' resource-based policies and functions' tags, as IAM's
enforcement reads them (registered with ``iam.access.resources`` when the app is ready), and
what a resource policy says of a request decided outside that enforcement: EventBridge
invoking a rule's target, a function URL's caller, an account using another's layer."""

from __future__ import annotations

import json
import logging
from typing import Any

from iam.access import resources
from iam.policy import Policy, PolicyError, PolicyKind, RequestContext, evaluate, parse_policy

logger = logging.getLogger(__name__)


def statements_policy(statements: list[Any], source: str) -> Policy | None:
    """Stored statements as one parsed resource policy (None: no statement, nothing granted).
    ``source`` names the resource in a warning."""
    if not statements:
        return None
    document = json.dumps({"Version": "2012-10-17", "Statement": statements})
    try:
        return parse_policy(document, PolicyKind.RESOURCE, source=source, check_size=False)
    except PolicyError:
        # Statements are checked when added; one that no longer parses grants nothing.
        logger.warning("the resource policy of %s does not parse; it grants nothing", source)
        return None


def function_policy(account_id: str, rest: str) -> Policy | None:
    """Every statement of the function's policy (each statement's Resource says whether
    it covers the function, a version or an alias)."""
    from functions.models import PolicyStatement

    name = rest.split(":", 1)[0]
    rows = PolicyStatement.objects.filter(function__account_id=account_id, function__name=name)
    return statements_policy(list(rows.values_list("statement", flat=True)), f"function|{name}")


def layer_version_policy(account_id: str, rest: str) -> Policy | None:
    from functions.models import LayerVersionStatement

    name, _, number = rest.partition(":")
    if not number.isdigit():
        return None
    rows = LayerVersionStatement.objects.filter(
        layer_version__layer__account_id=account_id,
        layer_version__layer__name=name,
        layer_version__number=int(number),
    )
    return statements_policy(
        list(rows.values_list("statement", flat=True)), f"layer|{name}:{number}"
    )


# The identity side of a request whose caller's own policies were checked elsewhere (by
# ``iam.access`` on the API path), or that has none: everything is allowed, so evaluating
# with it leaves only what the resource's policy says.
_IDENTITY_DECIDED = (
    parse_policy(
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}',
        source="identity side decided elsewhere",
    ),
)


def resource_allows(context: RequestContext, policy: Policy | None, owner: str) -> bool:
    """Whether the resource's policy (of account ``owner``) lets this request in, as IAM
    decides it with the caller's own policies allowing it: an explicit Deny refuses anyone;
    in the owner's account nothing more is needed; another account's caller, a service
    principal or an anonymous caller needs an Allow that names it (or ``*``) and whose
    conditions hold."""
    return evaluate(context, _IDENTITY_DECIDED, policy, owner).allowed


def function_tags(account_id: str, rest: str) -> dict[str, str] | None:
    """A function's tags (a version's or alias's ARN: the function's, as AWS keeps them)."""
    from functions.models import Function

    name = rest.split(":", 1)[0]
    found = Function.objects.filter(account_id=account_id, name=name).values_list("tags", flat=True)
    tags = found.first()
    return dict(tags) if tags else None


def changed(sender: Any, instance: Any, **kwargs: Any) -> None:
    """A function, or a statement of a function's or layer version's policy, was saved or
    deleted: its account's cached policies and tags are read again."""
    from functions.models import Function, Layer, LayerVersion, PolicyStatement

    account_id: Any = None
    if isinstance(instance, Function):
        account_id = instance.account_id
    elif isinstance(instance, PolicyStatement):
        account_id = (
            Function.objects.filter(pk=instance.function_id)
            .values_list("account_id", flat=True)
            .first()
        )
    else:  # a LayerVersionStatement
        layer = LayerVersion.objects.filter(pk=instance.layer_version_id).values_list(
            "layer_id", flat=True
        )
        account_id = Layer.objects.filter(pk__in=layer).values_list("account_id", flat=True).first()
    if account_id is not None:
        resources.changed(str(account_id))


def connect() -> None:
    from django.db.models.signals import post_delete, post_save

    from functions.models import Function, LayerVersionStatement, PolicyStatement

    resources.register("lambda:function", function_policy)
    resources.register("lambda:layer", layer_version_policy)
    resources.register_tags("lambda:function", function_tags)
    for model in (PolicyStatement, LayerVersionStatement, Function):
        name = model.__name__
        post_save.connect(changed, sender=model, dispatch_uid=f"resource-policy-{name}-s")
        post_delete.connect(changed, sender=model, dispatch_uid=f"resource-policy-{name}-d")
