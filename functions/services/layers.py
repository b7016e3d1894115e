"""Writes and permission-checked reads for layers and layer versions."""

from __future__ import annotations

from django.db.models import Q

from console.errors import InvalidParameterValue
from console.models import Account
from functions import arns
from functions.models import LayerVersion

MAX_LAYERS_PER_FUNCTION = 5


def _usable_by(account: Account) -> Q:
    """Layer versions an account may attach: its own, or ones shared with it."""
    return (
        Q(layer__account=account)
        | Q(statements__statement__Principal="*")
        | Q(statements__statement__Principal__AWS=f"arn:aws:iam::{account.id}:root")
    )


def resolve_for_function(account: Account, layer_arns: list[str]) -> list[LayerVersion]:
    """The layer versions a function configuration names, in order, checked for access."""
    if len(layer_arns) > MAX_LAYERS_PER_FUNCTION:
        raise InvalidParameterValue(f"Cannot reference more than {MAX_LAYERS_PER_FUNCTION} layers.")
    resolved: list[LayerVersion] = []
    seen: dict[tuple[str, str], str] = {}
    for arn in layer_arns:
        ref = arns.parse_layer_version_arn(arn)
        if ref is None:
            raise InvalidParameterValue(f"Layer version {arn} does not exist.")
        key = (ref.account_id, ref.name)
        if key in seen:
            raise InvalidParameterValue(
                "Two different versions of the same layer are not allowed to be referenced "
                f"in the same function. {seen[key]} and {arn} are versions of the same layer."
            )
        seen[key] = arn
        version = (
            LayerVersion.objects.select_related("code")
            .filter(
                _usable_by(account),
                layer__account_id=ref.account_id,
                layer__name=ref.name,
                number=ref.version,
            )
            .distinct()
            .first()
        )
        if version is None:
            raise InvalidParameterValue(f"Layer version {arn} does not exist.")
        resolved.append(version)
    return resolved
