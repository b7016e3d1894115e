"""Who hears about every AWS API call once it is answered (the audit trail).

The API shells (``awsapi.apiview``, and any hand-written dispatcher) tell :func:`notify`
what happened: the operation, the caller as authentication made it (or ``None`` when the
call failed before that), the answer or the error. Observers are registered by apps above
this layer at start-up (``audit.apps``); awsapi knows none of them. An observer must be
quick (it runs on the request path, Invoke's included) and never raise: a failing observer
is logged and the call's answer is unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.http import HttpRequest

from awsapi.errors import AWSError

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ApiCall:
    """One answered AWS API call."""

    service: str  # the SigV4 service name: lambda, logs, monitoring, events, cloudtrail...
    operation: str
    http: HttpRequest
    request_id: str
    # What the shell's ``authenticate`` returned (e.g. iam's ApiRequest, or a SignedIdentity);
    # None when the call failed before or during authentication.
    caller: object | None
    status: int
    error: AWSError | None = None
    # The view's answer body (JSON-able data) on success, else None.
    response: Any = None
    url_kwargs: Mapping[str, Any] | None = None


Observer = Callable[[ApiCall], None]
_observers: list[Observer] = []


def register(observer: Observer) -> None:
    """Hear about every call from now on (idempotent)."""
    if observer not in _observers:
        _observers.append(observer)


def unregister(observer: Observer) -> None:
    if observer in _observers:
        _observers.remove(observer)


def active() -> bool:
    """Whether anyone listens: shells skip building an :class:`ApiCall` otherwise."""
    return bool(_observers)


def notify(call: ApiCall) -> None:
    for observer in _observers:
        try:
            observer(call)
        except Exception:
            logger.exception("an API call observer failed (%s %s)", call.service, call.operation)
