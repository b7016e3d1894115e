"""Functions' execution-role credentials: what the executor gives a new environment.

How credentials stay valid (the pool's side is in ``executor/pool.py``):

- Each process keeps one role session per (account, function, role ARN), issued by STS
  (``iam.sts.execution_role_issue``, session name = the function's name) to last
  ``FUNCTORY_EXECUTION_CREDENTIALS_SECONDS`` (12 hours by default, AWS's longest). Every new
  environment of the function gets it while at least half of that lifetime is left (and
  more than an init, an invocation's timeout and the pool's margin); past that a new
  session is issued. So a cold start writes no row, save about twice per lifetime per
  function and process. (A lifetime shorter than an init and an invocation, as tests use,
  gives every new environment a session of its own.)
- An environment never receives newer credentials: the pool stops handing it invocations
  (and stops it) once its credentials would not outlast one more invocation, and the next
  start gets a fresh session. Nothing runs with expired credentials, and the SDK in the
  function, which reads its credentials once, never holds stale ones.
- The role is looked up again (a read, no write) at most every ``ROLE_RECHECK_SECONDS``: a
  role deleted, or whose trust policy no longer lets ``lambda.amazonaws.com`` in, stops
  being given to new environments within that time (a deleted role's sessions are deleted
  with it, so SigV4 refuses them at once); a role created after its function is picked up
  by the function's next new environment.
- A role that does not exist or does not trust Lambda gives no credentials: the environment
  runs without ``AWS_ACCESS_KEY_ID`` and the rest (FUNCTORY_STRICT_EXECUTION_ROLES refuses
  such roles when the function is created or updated instead).

Database work runs in a thread (``database_sync_to_async``), never on the event loop; cold
starts of one function at the same moment share one lookup.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any

from channels.db import database_sync_to_async
from django.conf import settings

from functions import arns
from iam import sts
from iam.models import TemporaryCredential
from invocations.executor.environment import INIT_TIMEOUT_S
from invocations.executor.pool import CREDENTIALS_MARGIN_S
from invocations.executor.spec import Credentials, EnvironmentSpec

logger = logging.getLogger(__name__)

ROLE_RECHECK_SECONDS = 30.0

_Key = tuple[str, str, str]  # account id, function name, role ARN


@dataclass(frozen=True)
class _Entry:
    credentials: Credentials | None  # None: the role gives none (missing or untrusted)
    role_pk: int | None
    checked: float  # time.time() of the last look at the role


def lifetime_s() -> int:
    return max(1, int(settings.FUNCTORY_EXECUTION_CREDENTIALS_SECONDS))


def _fresh_enough(credentials: Credentials, spec: EnvironmentSpec, now: float) -> bool:
    """Whether a new environment may still be given these credentials: half their lifetime
    left, and at least its init, its first invocation and the margin."""
    first_use = INIT_TIMEOUT_S + spec.timeout_s + CREDENTIALS_MARGIN_S
    needed = max(lifetime_s() / 2, first_use)
    return credentials.expires_at - now > needed


class ExecutionCredentials:
    """The per-process cache of role sessions (see the module's docstring)."""

    def __init__(self) -> None:
        self._entries: dict[_Key, _Entry] = {}
        self._lock = threading.Lock()
        self._pending: dict[tuple[asyncio.AbstractEventLoop, _Key], asyncio.Future[Any]] = {}

    async def for_spec(self, spec: EnvironmentSpec) -> Credentials | None:
        """The credentials for a new environment of ``spec`` (None: its role gives none)."""
        if not spec.role_arn:
            return None
        key = (spec.account_id, spec.function_name, spec.role_arn)
        now = time.time()
        entry = self._entries.get(key)
        if entry is not None and now - entry.checked < ROLE_RECHECK_SECONDS:
            if entry.credentials is None:
                return None
            if _fresh_enough(entry.credentials, spec, now):
                return entry.credentials
        loop = asyncio.get_running_loop()
        pending = self._pending.get((loop, key))
        if pending is None:
            fetch = database_sync_to_async(self._refresh, thread_sensitive=False)
            pending = asyncio.ensure_future(fetch(key, spec))
            self._pending[(loop, key)] = pending
            pending.add_done_callback(lambda _: self._pending.pop((loop, key), None))
        try:
            credentials: Credentials | None = await asyncio.shield(pending)
        except Exception:
            # The database is unreachable for the recheck: what was known still holds while
            # it is fresh enough (a role that gave none still gives none).
            if entry is None or (
                entry.credentials is not None and not _fresh_enough(entry.credentials, spec, now)
            ):
                raise
            logger.warning("rechecking %s's execution role failed; kept", spec.function_name)
            return entry.credentials
        return credentials

    def _refresh(self, key: _Key, spec: EnvironmentSpec) -> Credentials | None:
        """Look at the role again; reuse the cached session if it is still the role's and
        fresh, else issue a new one. Runs in a thread."""
        account_id, function_name, role_arn = key
        now = time.time()
        check = sts.execution_role_check(
            account_id, role_arn, arns.function_arn(account_id, function_name)
        )
        role = check.role
        if not check.usable or role is None:
            self._put(key, _Entry(None, None, now))
            return None
        previous = self._entries.get(key)
        reusable = (
            previous is not None
            and previous.credentials is not None
            and previous.role_pk == role.pk
            and _fresh_enough(previous.credentials, spec, now)
            # Still there: not removed with its role, nor by an operator.
            and TemporaryCredential.objects.filter(pk=previous.credentials.access_key_id).exists()
        )
        if reusable:
            assert previous is not None and previous.credentials is not None
            credentials = previous.credentials
        else:
            issued = sts.execution_role_issue(role, function_name, lifetime_s())
            credential = issued.credential
            credentials = Credentials(
                access_key_id=credential.access_key_id,
                secret_access_key=credential.secret_access_key,
                session_token=issued.session_token,
                expires_at=credential.expiration.timestamp(),
            )
        self._put(key, _Entry(credentials, role.pk, now))
        return credentials

    def _put(self, key: _Key, entry: _Entry) -> None:
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = entry

    def clear(self, *args: Any, **kwargs: Any) -> None:
        """Forget every cached session (a role of this process changed): the next cold
        start of each function looks at its role again."""
        with self._lock:
            self._entries.clear()


execution_credentials = ExecutionCredentials()
