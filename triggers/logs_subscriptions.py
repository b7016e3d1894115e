"""CloudWatch Logs subscription filters' deliveries to Lambda functions.

``monitoring`` (below ``invocations``) evaluates subscription filters on every stored log
batch and hands what it owes to :func:`deliveries_accept`, installed as
``monitoring.log_filters.delivery_hook`` when this app starts. Each delivery becomes an
asynchronous invocation of the destination function, accepted inside the transaction that
stores the events: the function's retries, dead-letter queue and destinations apply, and
an accepted batch is delivered at least once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from awsapi.errors import AWSError
from functions import arns
from iam.models import Account
from invocations import acceptance
from invocations.selectors import InvokeTarget, invoke_target_cached, invoke_target_resolve
from monitoring.log_filters import Delivery

logger = logging.getLogger(__name__)


def _target(account: Account, destination_arn: str) -> InvokeTarget | None:
    ref = arns.parse_function_name(destination_arn)
    if ref is None or ref.account_id not in (None, account.id):
        return None
    cached = invoke_target_cached(account.id, ref.name, ref.qualifier)
    if cached is not None:
        return cached
    try:
        return invoke_target_resolve(account, ref.name, ref.qualifier)
    except AWSError as error:
        # The function was deleted after the filter was put: CloudWatch Logs drops the
        # events it can no longer deliver.
        logger.warning("subscription destination %s: %s", destination_arn, error.message)
        return None


def deliveries_accept(deliveries: Sequence[Delivery]) -> None:
    """Accept one asynchronous invocation per delivery (the caller's transaction)."""
    accounts: dict[str, Account | None] = {}
    targets: dict[tuple[str, str], InvokeTarget | None] = {}
    for delivery in deliveries:
        if delivery.account_id not in accounts:
            accounts[delivery.account_id] = Account.objects.filter(pk=delivery.account_id).first()
        account = accounts[delivery.account_id]
        if account is None:
            continue
        key = (delivery.account_id, delivery.destination_arn)
        if key not in targets:
            targets[key] = _target(account, delivery.destination_arn)
        target = targets[key]
        if target is None:
            continue
        # The request id monitoring chose: it knows the delivery's own lines by it.
        acceptance.async_invocation_create(
            target, request_id=delivery.request_id, payload=delivery.payload
        )


def install() -> None:
    from monitoring import log_filters

    log_filters.delivery_hook = deliveries_accept
