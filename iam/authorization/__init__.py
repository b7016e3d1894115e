"""Which IAM action, resource ARNs and condition keys each API operation needs (pure data,
no Django: see ``actions``)."""

from __future__ import annotations

from iam.authorization.actions import (
    ALL_RESOURCES,
    RESOURCE_TAG,
    Authorization,
    ConditionValue,
    UnknownOperation,
    authorizations,
    operations,
    services,
)
from iam.authorization.arns import Scope, UnparsableResource

__all__ = [
    "ALL_RESOURCES",
    "RESOURCE_TAG",
    "Authorization",
    "ConditionValue",
    "Scope",
    "UnknownOperation",
    "UnparsableResource",
    "authorizations",
    "operations",
    "services",
]
