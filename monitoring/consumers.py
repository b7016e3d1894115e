"""Live tail over WebSockets: ``/ws/logs/?group=/aws/lambda/NAME[&stream=…|&version=…]``.

Authenticated by the console session (same-origin only) or by a signed ``token``. With
``since`` (epoch ms) and/or ``after_id`` the consumer first sends stored events, then live
ones, with neither gaps nor duplicates: it joins the live group *before* reading the
backfill and drops live events the backfill already carried. A consumer that cannot keep
up is closed with code 4008 rather than silently losing events; it can reconnect with
``after_id`` to resume.

With ``early=1`` (the console) a subscriber also gets lines the moment a function prints
them, before they are stored: ``{"type": "early", "events": [{key, timestamp, stream,
message, ...}]}`` without ids. When those lines are stored it gets ``{"type": "stored",
"events": [{key, id}]}`` instead of the lines again; a stored line it never saw early comes
as usual in ``events``, with its ``key`` when it had one. Lines that had been stored by the
time the backfill was read are not sent early as well (matched by stream, timestamp and
message). A client resuming with ``after_id`` (the highest id it was given) should drop,
once each, the stored lines equal to lines it showed early without getting their ids: the
console's client does (``frontend/src/_livetail.js``).

Authority is not only checked once: a token names its user and access key, both checked
against the database on connect, and every socket joins revocation groups (its user, its
key, its session) that ``monitoring.revocation`` signals when they are withdrawn; a
periodic re-check catches changes no signal announced. Either way the socket closes 4401.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import Counter, OrderedDict
from typing import Any
from urllib.parse import parse_qs, urlsplit

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from iam.models import AccessKey, User
from monitoring import live, selectors
from platformapi.permissions import Action, denial

BACKFILL_LIMIT = 10_000
# Keys of lines a socket was sent (early or in full) that it remembers, oldest forgotten
# first: a line forgotten before it is stored is sent again in full, which the client
# recognises by its key.
SEEN_KEYS_LIMIT = 20_000
# How long early lines are checked against the backfill: an early line can only repeat a
# backfilled one if it was published before the backfill was read.
BACKFILL_MATCH_SECONDS = 30.0

CLOSE_UNAUTHORISED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CLOSE_BAD_REQUEST = 4400
CLOSE_SLOW_CONSUMER = 4008


def _grant_still_valid(grant: live.Grant) -> bool:
    """The token's user is still active in the token's account, and so is its key."""
    user = User.objects.filter(pk=grant.user_id, is_active=True).first()
    if user is None or str(user.account_id) != grant.account_id:
        return False
    if grant.key_id is None:
        return True
    return AccessKey.objects.filter(
        access_key_id=grant.key_id, user_id=user.pk, status=AccessKey.Status.ACTIVE
    ).exists()


def _user_still_active(user_id: int) -> bool:
    return User.objects.filter(pk=user_id, is_active=True).exists()


class LogTailConsumer(AsyncJsonWebsocketConsumer):
    group: str | None = None
    early_group: str | None = None
    revoke_groups: tuple[str, ...] = ()

    async def dispatch(self, message: dict[str, Any]) -> None:
        # Channels closes stale database connections before every handler, a thread hop
        # each; log lines, the bulk of what a socket gets, touch no database.
        if message.get("type") == "log.events":
            await self.log_events(message)
        elif message.get("type") == "log.early":
            await self.log_early(message)
        else:
            await super().dispatch(message)

    async def connect(self) -> None:
        params = {k: v[-1] for k, v in parse_qs(self.scope["query_string"].decode()).items()}
        await self.accept()
        # Revocations are sent to this loop too (in-memory layer): bind it before joining.
        live.bind_loop(asyncio.get_running_loop())
        log_group = params.get("group", "")
        account_id = self._authorised_account(params, log_group)
        if account_id is None or not await self._still_authorised():
            await self.close(code=CLOSE_UNAUTHORISED)
            return
        if getattr(self, "grant", None) is None and await self._tail_denied(log_group):
            # A grant's token was only issued after the same check (LiveTailTokenView).
            await self.close(code=CLOSE_FORBIDDEN)
            return
        try:
            since = int(params["since"]) if "since" in params else None
            after_id = int(params.get("after_id", "0"))
        except ValueError:
            await self.close(code=CLOSE_BAD_REQUEST)
            return
        group_id = await database_sync_to_async(selectors.log_group_id_for_live_tail)(
            account_id, log_group
        )
        if group_id is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.stream = params.get("stream")
        self.version = params.get("version")
        self.early = params.get("early") == "1"
        self.seen_keys: OrderedDict[str, None] = OrderedDict()
        self.backfill_lines: Counter[int] = Counter()
        self.backfill_read = time.monotonic()
        self.queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(
            maxsize=settings.FUNCTORY_LIVE_TAIL_QUEUE_LIMIT
        )
        self.backfilled: set[int] = set()
        self.closer: asyncio.Task[None] | None = None  # one close for a subscriber too slow
        self.sender = asyncio.get_running_loop().create_task(self._send_forever())
        self.rechecker = asyncio.get_running_loop().create_task(self._recheck_forever())
        self.group = live.group_name(account_id, log_group)
        # Join first, then read the backfill: nothing stored in between can be missed.
        await self.channel_layer.group_add(self.group, self.channel_name)
        if self.early:
            self.early_group = live.early_group_name(account_id, log_group)
            await self.channel_layer.group_add(self.early_group, self.channel_name)
        self._enqueue({"type": "ready", "group": log_group})
        if since is not None or after_id:
            events = await database_sync_to_async(selectors.log_events_since)(
                group_id, since, after_id, BACKFILL_LIMIT
            )
            events = [e for e in events if self._wanted(e)]
            self.backfilled = {e["id"] for e in events}
            if self.early:
                self.backfill_read = time.monotonic()
                self.backfill_lines = Counter(_content(e) for e in events)
            if events:
                self._enqueue({"type": "events", "events": events})

    def _authorised_account(self, params: dict[str, str], log_group: str) -> str | None:
        token = params.get("token")
        if token:
            grant = live.token_grant(token)
            if grant is None or grant.log_group != log_group:
                return None
            self.grant = grant
            self.revoke_groups = (live.user_group(grant.user_id),)
            if grant.key_id is not None:
                self.revoke_groups += (live.key_group(grant.key_id),)
            return grant.account_id
        user = self.scope.get("user")
        if user is None or not user.is_authenticated:
            return None
        # A session cookie rides along on cross-site sockets too: insist on our own origin.
        headers = dict(self.scope.get("headers") or [])
        origin = headers.get(b"origin", b"").decode()
        host = headers.get(b"host", b"").decode()
        if origin and urlsplit(origin).netloc != host:
            return None
        self.user_id = user.pk
        self.revoke_groups = (live.user_group(user.pk),)
        session_key = getattr(self.scope.get("session"), "session_key", None)
        if session_key:
            self.revoke_groups += (live.session_group(session_key),)
        return str(user.account_id)

    async def _tail_denied(self, log_group: str) -> bool:
        """The console user's policies do not allow logs:StartLiveTail on the group."""
        user = self.scope["user"]
        refused = await database_sync_to_async(denial)(
            user, Action.LIVE_TAIL, logGroupIdentifiers=[log_group]
        )
        return refused is not None

    async def _still_authorised(self) -> bool:
        """Join the revocation groups, then check the credentials against the database:
        a revocation either happened before the check (seen there) or reaches the group."""
        for name in self.revoke_groups:
            await self.channel_layer.group_add(name, self.channel_name)
        return await self._credentials_valid()

    async def _credentials_valid(self) -> bool:
        grant: live.Grant | None = getattr(self, "grant", None)
        if grant is not None:
            return bool(await database_sync_to_async(_grant_still_valid)(grant))
        if not await database_sync_to_async(_user_still_active)(self.user_id):
            return False
        session = self.scope.get("session")
        key = getattr(session, "session_key", None)
        return key is None or bool(await database_sync_to_async(session.exists)(key))

    async def _recheck_forever(self) -> None:
        """A change that sent no revocation (made by a process with no route to this one,
        or by a bulk update that fires no signals) still ends the socket, a little later."""
        while True:
            await asyncio.sleep(settings.FUNCTORY_LIVE_TAIL_RECHECK_SECONDS)
            if not await self._credentials_valid():
                await self.live_revoke({})
                return

    async def live_revoke(self, message: dict[str, Any]) -> None:
        """The socket's user, key or session was withdrawn: stop at once."""
        for task in (getattr(self, "sender", None), getattr(self, "rechecker", None)):
            if task is not None and task is not asyncio.current_task():
                task.cancel()
        await self.close(code=CLOSE_UNAUTHORISED)

    def _wanted(self, event: dict[str, Any]) -> bool:
        if self.stream and event["stream"] != self.stream:
            return False
        return not (self.version and f"[{self.version}]" not in event["stream"])

    def _enqueue(self, message: dict[str, Any]) -> None:
        try:
            self.queue.put_nowait(message)
        except asyncio.QueueFull:
            # Every event that finds the queue full lands here: the socket is closed once
            # (a second close is an ASGI error).
            if self.closer is None:
                self.closer = asyncio.get_running_loop().create_task(
                    self.close(code=CLOSE_SLOW_CONSUMER)
                )

    async def log_events(self, message: dict[str, Any]) -> None:
        """Stored events: in full, or only their ids for lines this socket had early."""
        events = [
            e for e in message["events"] if e["id"] not in self.backfilled and self._wanted(e)
        ]
        if not self.early:
            events = [_without_key(e) for e in events]
            if events:
                self._enqueue({"type": "events", "events": events})
            return
        confirmed = []
        full = []
        for event in events:
            key = event.get("key")
            if key in self.seen_keys:
                # Sent early: its id is all the client needs, and its key is done with.
                del self.seen_keys[key]
                confirmed.append({"key": key, "id": event["id"]})
            else:
                full.append(event)
        # Kept: an early copy still on its way (sends are coalesced) is then dropped.
        self._remember(e["key"] for e in full if "key" in e)
        # Lines before ids: a client that stops between the two frames has shown every
        # line, and resumes from ids it was given (ids only move its resume point on).
        if full:
            self._enqueue({"type": "events", "events": full})
        if confirmed:
            self._enqueue({"type": "stored", "events": confirmed})

    async def log_early(self, message: dict[str, Any]) -> None:
        """Lines just printed, not yet stored (only for ``early=1`` sockets)."""
        if not self.early:
            return
        matching = time.monotonic() - self.backfill_read < BACKFILL_MATCH_SECONDS
        events = []
        for event in message["events"]:
            if event["key"] in self.seen_keys or not self._wanted(event):
                continue
            content = _content(event)
            if matching and self.backfill_lines[content] > 0:
                # Stored before the backfill was read, and sent in it.
                self.backfill_lines[content] -= 1
                continue
            events.append(event)
        if not matching:
            self.backfill_lines.clear()
        self._remember(e["key"] for e in events)
        if events:
            self._enqueue({"type": "early", "events": events})

    def _remember(self, keys: Any) -> None:
        for key in keys:
            self.seen_keys[key] = None
        while len(self.seen_keys) > SEEN_KEYS_LIMIT:
            self.seen_keys.popitem(last=False)

    async def _send_forever(self) -> None:
        while True:
            message = await self.queue.get()
            if message is None:
                return
            try:
                await asyncio.wait_for(
                    self.send_json(message), settings.FUNCTORY_LIVE_TAIL_SEND_TIMEOUT
                )
            except TimeoutError:
                await self.close(code=CLOSE_SLOW_CONSUMER)
                return

    async def disconnect(self, code: int) -> None:
        for name in (self.group, self.early_group):
            if name is not None:
                await self.channel_layer.group_discard(name, self.channel_name)
        for name in self.revoke_groups:
            await self.channel_layer.group_discard(name, self.channel_name)
        for task in (getattr(self, "sender", None), getattr(self, "rechecker", None)):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task


def _content(event: dict[str, Any]) -> int:
    """A line's stream, timestamp and message, hashed (a backfill can hold 10,000 lines)."""
    return hash((event["stream"], event["timestamp"], event["message"]))


def _without_key(event: dict[str, Any]) -> dict[str, Any]:
    if "key" not in event:
        return event
    return {name: value for name, value in event.items() if name != "key"}
