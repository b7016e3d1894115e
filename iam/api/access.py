"""Whether an IAM/STS caller is its account's admin (root-like). Who may call each IAM
action is decided by its policies, in the query shell (``iam.access``)."""

from __future__ import annotations

from iam.authentication import ApiRequest
from iam.models import TemporaryCredential


def is_admin(request: ApiRequest) -> bool:
    """An admin user, signing with its keys or its own session (not a role's)."""
    credential = request.credential
    if isinstance(credential, TemporaryCredential) and credential.role_id is not None:
        return False
    return request.user is not None and bool(request.user.is_staff)
