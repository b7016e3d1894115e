"""Live tail plumbing: channel-layer groups per log group, and publishing log lines.

Lines are published twice. *Early*, by the executor on its event loop the moment a function
prints them (``publish_early``), with a random key but no id: subscribers that asked for
them (the console) see a line in milliseconds (sent only when someone tails the group).
*Stored*, after the log writer's transaction (``publish``), with their database ids and the
same keys: a subscriber that saw a line early gets only its id, and one that did not gets
the line.
Resuming with ``after_id`` is exact because ids only come from the store; a client that
reconnects drops the lines it already showed (by key, or by stream, timestamp and message
for lines it saw early but whose ids it never got: ``monitoring.consumers`` explains).

With the in-memory channel layer (embedded profile) sends are scheduled on the event loop
the consumers run on; with ``channels_redis`` (scaled) any process publishes directly.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import secrets
import time
import urllib.request
from dataclasses import dataclass
from typing import Any

from asgiref.sync import async_to_sync
from channels.exceptions import ChannelFull
from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.core import signing

from awsapi import internal
from monitoring.batches import StoredBatch, line_key

logger = logging.getLogger(__name__)

_TOKEN_SALT = "functory.live-tail"
TOKEN_MAX_AGE_SECONDS = 3600
_consumer_loop: asyncio.AbstractEventLoop | None = None


def group_name(account_id: str, log_group: str) -> str:
    """A channel-layer group name (ASCII, short) for one account's log group."""
    digest = hashlib.sha256(log_group.encode()).hexdigest()[:40]
    return f"logs.{account_id}.{digest}"


def bind_loop(loop: asyncio.AbstractEventLoop) -> None:
    """Remember the loop live-tail consumers run on (for the in-memory layer)."""
    global _consumer_loop
    _consumer_loop = loop


def event_payload(event: Any, stream: str, key: str | None = None) -> dict[str, Any]:
    payload = {
        "id": event.pk,
        "timestamp": event.timestamp,
        "ingestionTime": event.ingestion_time,
        "stream": stream,
        "message": event.message,
    }
    if key is not None:
        payload["key"] = key
    return payload


def publish(stored: list[StoredBatch]) -> None:
    """Send freshly stored events to live-tail subscribers (called off the event loop)."""
    if not stored:
        return
    publish_messages(
        [
            (
                group_name(batch.account_id, batch.group),
                {
                    "type": "log.events",
                    "events": [
                        event_payload(event, batch.stream, key)
                        for event, key in zip(
                            batch.events, batch.keys or [None] * len(batch.events), strict=True
                        )
                    ],
                },
            )
            for batch in stored
        ]
    )


def early_group_name(account_id: str, log_group: str) -> str:
    """The group of a log group's ``early=1`` sockets (they are in ``group_name`` too): early
    lines reach only sockets that asked for them."""
    return f"{group_name(account_id, log_group)}.early"


# Early lines wait at most this long to be sent with the ones that follow: a busy function
# costs its tailing sockets one message per group every few milliseconds, not one per
# chunk of output it writes (each message is work on the event loop and a slot in every
# receiving channel, whose capacity is bounded).
EARLY_INTERVAL_S = 0.005
_early_pending: dict[str, list[dict[str, Any]]] = {}
_early_sent_at: dict[str, float] = {}
# Early sends in flight (the loop keeps only weak references to tasks).
_early_sends: set[asyncio.Task[None]] = set()
# channels_redis: group name -> (checked at, has members); refreshed at most once a second,
# so a function nobody tails costs no Redis round trip per line.
_members_seen: dict[str, tuple[float, bool]] = {}
_MEMBERS_TTL = 1.0


def publish_early(
    account_id: str, group: str, stream: str, events: list[tuple[int, str]]
) -> str | None:
    """Send lines just printed to the group's ``early=1`` subscribers, before they are
    stored; the prefix of their keys if they were sent.

    Called by the executor on its event loop; cheap when nobody tails the group (a dict
    lookup in-process, a cached answer with Redis). Off an event loop, and in a process
    whose in-memory layer has no subscribers (the embedded profile's worker), it sends
    nothing: the stored publish carries those lines a moment later. The prefix is random
    per batch: a counter would tell a tenant how much other tenants log."""
    layer = get_channel_layer()
    if layer is None:
        return None
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        return None
    name = early_group_name(account_id, group)
    if isinstance(layer, InMemoryChannelLayer):
        if loop is not _consumer_loop or not layer.groups.get(name):
            return None
    elif not _has_members(layer, name, loop):
        return None
    prefix = secrets.token_hex(8)
    ingested = int(time.time() * 1000)
    lines = [
        {
            "key": line_key(prefix, offset),
            "timestamp": timestamp,
            "ingestionTime": ingested,
            "stream": stream,
            # As the store keeps it (PostgreSQL's text has no NUL), so that a client can
            # recognise the stored line by its content.
            "message": text.replace("\x00", "\ufffd") if "\x00" in text else text,
        }
        for offset, (timestamp, text) in enumerate(events)
    ]
    pending = _early_pending.get(name)
    if pending is not None:  # a send is due: these lines go with it
        pending.extend(lines)
        return prefix
    _early_pending[name] = lines
    wait = _early_sent_at.get(name, -EARLY_INTERVAL_S) + EARLY_INTERVAL_S - time.monotonic()
    if wait > 0:
        loop.call_later(wait, _early_flush, layer, name)
    else:
        _early_flush(layer, name)
    return prefix


def _early_flush(layer: Any, name: str) -> None:
    lines = _early_pending.pop(name, None)
    if not lines:
        return
    if len(_early_sent_at) > 10_000:
        _early_sent_at.clear()
    _early_sent_at[name] = time.monotonic()
    task = asyncio.get_running_loop().create_task(
        _send_early(layer, name, {"type": "log.early", "events": lines})
    )
    _early_sends.add(task)
    task.add_done_callback(_early_sends.discard)


async def _send_early(layer: Any, name: str, message: dict[str, Any]) -> None:
    try:
        if isinstance(layer, InMemoryChannelLayer):
            # Straight to the members: group_send first sweeps every channel and group of
            # the process for expired entries, a cost per message that grows with sockets.
            for channel in list(layer.groups.get(name, ())):
                with contextlib.suppress(ChannelFull):  # that socket gets them once stored
                    await layer.send(channel, message)
        else:
            await layer.group_send(name, message)
    except Exception:
        logger.exception("publishing early live log events failed")


def _has_members(layer: Any, name: str, loop: asyncio.AbstractEventLoop) -> bool:
    """Whether ``name`` had members when last asked (channels_redis); a stale answer is
    refreshed in the background. For a layer we cannot ask, no: its sockets get lines once
    stored, and no send per line is made on the chance that someone listens."""
    if not hasattr(layer, "_group_key") or not hasattr(layer, "consistent_hash"):
        return False
    now = time.monotonic()
    checked, members = _members_seen.get(name, (-_MEMBERS_TTL, False))
    if now - checked >= _MEMBERS_TTL:
        if len(_members_seen) > 10_000:
            _members_seen.clear()
        _members_seen[name] = (now, members)  # one refresh at a time
        task = loop.create_task(_members_refresh(layer, name))
        _early_sends.add(task)
        task.add_done_callback(_early_sends.discard)
    return members


async def _members_refresh(layer: Any, name: str) -> None:
    try:
        connection = layer.connection(layer.consistent_hash(name))
        count = await connection.zcard(layer._group_key(name))
    except Exception:
        logger.exception("asking Redis for live-tail subscribers failed")
        return
    _members_seen[name] = (time.monotonic(), bool(count))


def publish_messages(messages: list[tuple[str, dict[str, Any]]], *, forward: bool = True) -> None:
    layer = get_channel_layer()
    if layer is None or not messages:
        return
    if isinstance(layer, InMemoryChannelLayer):
        loop = _consumer_loop
        if loop is None or loop.is_closed():
            # Not the server process (e.g. the embedded profile's Celery worker): hand the
            # events to the server, whose in-memory layer the subscribers are on.
            if forward:
                _forward(messages)
            return

        def send_all() -> None:
            for name, message in messages:
                loop.create_task(layer.group_send(name, message))

        loop.call_soon_threadsafe(send_all)
        return
    try:
        for name, message in messages:
            async_to_sync(layer.group_send)(name, message)
    except Exception:
        logger.exception("publishing live log events failed")


def _forward(messages: list[tuple[str, dict[str, Any]]]) -> None:
    url = settings.FUNCTORY_LIVE_FORWARD_URL
    if not url:
        return
    body = json.dumps(messages).encode()
    request = urllib.request.Request(
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", internal.HEADER: internal.signature(body)},
    )
    try:
        with urllib.request.urlopen(request, timeout=2):
            pass
    except OSError as exc:
        logger.warning("forwarding live log events to the server failed: %s", exc)


@dataclass(frozen=True)
class Grant:
    """What a live-tail token allows: one account's log group, for one user (and the access
    key that asked for it, if any). Both are checked against the live state on connect."""

    account_id: str
    log_group: str
    user_id: int
    key_id: str | None


def token_for(
    account_id: str,
    log_group: str,
    *,
    user_id: int,
    key_id: str | None = None,
    now: float | None = None,
) -> str:
    """A signed, time-limited grant to tail one log group (for clients without a session),
    issued ``now`` (the current time unless given: tests)."""
    issued = int(time.time() if now is None else now)
    grant = {"a": account_id, "g": log_group, "u": user_id, "k": key_id, "t": issued}
    return signing.dumps(grant, salt=_TOKEN_SALT)


def token_grant(token: str, *, now: float | None = None) -> Grant | None:
    """What ``token`` grants, or None when it is forged or not valid ``now`` (issued more
    than ``TOKEN_MAX_AGE_SECONDS`` ago, or later than now)."""
    try:
        data = signing.loads(token, salt=_TOKEN_SALT)
    except signing.BadSignature:
        return None
    # A token without its user cannot be revoked: refuse it (none are issued any more).
    if not isinstance(data, dict) or not isinstance(data.get("u"), int):
        return None
    issued = data.get("t")
    age = (time.time() if now is None else now) - issued if isinstance(issued, int) else -1
    if not 0 <= age <= TOKEN_MAX_AGE_SECONDS:
        return None
    key_id = data.get("k")
    return Grant(str(data["a"]), str(data["g"]), data["u"], str(key_id) if key_id else None)


# Revocation: every socket joins a group for its user, for the access key its token came
# from, and for its console session; a message to one of them closes the socket.
REVOKE_MESSAGE = {"type": "live.revoke"}


def user_group(user_id: int) -> str:
    return f"revoke.user.{user_id}"


def key_group(key_id: str) -> str:
    return f"revoke.key.{hashlib.sha256(key_id.encode()).hexdigest()[:40]}"


def session_group(session_key: str) -> str:
    # Hashed: a group name may show up in Redis, a session key is a credential.
    return f"revoke.session.{hashlib.sha256(session_key.encode()).hexdigest()[:40]}"


def revoke(groups: list[str]) -> None:
    """Close the live-tail sockets in ``groups``, in this process or any other."""
    publish_messages([(name, dict(REVOKE_MESSAGE)) for name in groups])
