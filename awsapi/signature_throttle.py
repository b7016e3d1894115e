"""Throttling of requests that fail SigV4 authentication.

A key id hammered with bad signatures (or, for key ids that do not exist, a client address
trying one after another) gets the service's throttling error for further failing requests
once ``FUNCTORY_SIGV4_FAILURE_LIMIT`` failures fell within
``FUNCTORY_SIGV4_FAILURE_WINDOW_SECONDS``. Only failures are counted and only failures are
answered with the throttle, so the key's owner, signing correctly, is never locked out, and a
request that authenticates costs nothing here.

Counters live in Redis when ``REDIS_URL`` is set (every process and replica shares them), else
in this process: a fixed window per subject, started by its first failure.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.http import HttpRequest

from awsapi.errors import AWSError

logger = logging.getLogger(__name__)

# Bounds this process's table when attackers invent key ids; expired windows go first.
_MAX_LOCAL_SUBJECTS = 50_000
_REDIS_PREFIX = "functory:sigv4-failures:"


class LocalCounter:
    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._windows: dict[str, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._clock = clock

    def hit(self, subject: str, window_s: float) -> int:
        now = self._clock()
        with self._lock:
            started, count = self._windows.get(subject, (now, 0))
            if now - started >= window_s:
                started, count = now, 0
            if subject not in self._windows and len(self._windows) >= _MAX_LOCAL_SUBJECTS:
                self._prune(now, window_s)
            self._windows[subject] = (started, count + 1)
            return count + 1

    def _prune(self, now: float, window_s: float) -> None:
        self._windows = {
            subject: entry for subject, entry in self._windows.items() if now - entry[0] < window_s
        }
        if len(self._windows) >= _MAX_LOCAL_SUBJECTS:
            self._windows.clear()

    def clear(self) -> None:
        with self._lock:
            self._windows.clear()


class RedisCounter:
    def __init__(self, url: str) -> None:
        import redis

        # Short timeouts: a slow Redis must not hold a request; counting then fails open.
        self._client: Any = redis.Redis.from_url(
            url, socket_timeout=0.5, socket_connect_timeout=0.5
        )

    def hit(self, subject: str, window_s: float) -> int:
        key = _REDIS_PREFIX + subject
        pipe = self._client.pipeline(transaction=True)
        pipe.set(key, 0, ex=max(1, int(window_s)), nx=True)
        pipe.incr(key)
        _, count = pipe.execute()
        return int(count)


_counter: LocalCounter | RedisCounter | None = None
_counter_lock = threading.Lock()


def _store() -> LocalCounter | RedisCounter:
    global _counter
    with _counter_lock:
        if _counter is None:
            _counter = RedisCounter(settings.REDIS_URL) if settings.REDIS_URL else LocalCounter()
        return _counter


def throttled(service: str) -> AWSError:
    """The throttling error of ``service``, shaped as its model has it."""
    if service == "lambda":
        return AWSError(
            "Rate exceeded",
            code="TooManyRequestsException",
            status=429,
            Reason="CallerRateLimitExceeded",
        )
    # CloudWatch Logs' and CloudWatch's ThrottlingException carry no status of their own in
    # the models: AWS answers 400 (CloudWatch's query code for it is "Throttling").
    return AWSError("Rate exceeded", code="ThrottlingException", status=400)


def subject(request: HttpRequest, access_key_id: str | None, unknown_key: bool) -> str | None:
    """What a failure counts against: the key id it claimed, or for a key id that does not
    exist the client's address (so guessing ids is throttled too). A request that names no
    key id at all tries nothing and is not counted."""
    if not access_key_id:
        return None
    if unknown_key:
        return "ip:" + str(request.META.get("REMOTE_ADDR") or "unknown")
    return "key:" + access_key_id


def failure(error: AWSError, subject_name: str | None, service: str) -> AWSError:
    """Count one failed authentication; the error to answer with (``error``, or the throttle
    once the subject is over the limit). Never raises: counting fails open."""
    if subject_name is None:
        return error
    try:
        count = _store().hit(subject_name, settings.FUNCTORY_SIGV4_FAILURE_WINDOW_SECONDS)
    except Exception:
        logger.warning("counting a failed SigV4 authentication failed", exc_info=True)
        return error
    if count > settings.FUNCTORY_SIGV4_FAILURE_LIMIT:
        return throttled(service)
    return error


def reset() -> None:
    """Forget this process's counts (tests)."""
    if isinstance(_counter, LocalCounter):
        _counter.clear()
