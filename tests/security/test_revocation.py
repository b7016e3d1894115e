"""Revocation: a live-tail socket and its token die with the user or key behind them.

Tokens are taken with SigV4 (so they name the key) and the user or key is withdrawn by
``manage.py`` in another process, as an operator would; the server must close the open
socket within seconds and refuse the token from then on.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import uuid
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
import requests
import websockets
from asgiref.testing import ApplicationCommunicator
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials
from channels.db import database_sync_to_async
from django.contrib.auth import HASH_SESSION_KEY, SESSION_KEY, logout
from django.contrib.sessions.backends.db import SessionStore
from django.test import RequestFactory

from conftest import ROOT, Credentials, LiveServer, client_for, create_user
from iam import services as accounts
from iam.models import User
from monitoring.batches import LogBatch
from monitoring.consumers import LogTailConsumer
from monitoring.services import log_batches_store

pytestmark = pytest.mark.live

CLOSE_UNAUTHORISED = 4401


def _token(server: LiveServer, creds: Credentials, group: str) -> str:
    """A live-tail token taken with the user's access key (SigV4, scoped to Logs)."""
    url = f"{server.url}/_functory/api/logs/live-token?group={quote(group, safe='')}"
    request = AWSRequest(method="GET", url=url)
    keys = BotoCredentials(creds.access_key_id, creds.secret_access_key)
    SigV4Auth(keys, "logs", "us-east-1").add_auth(request)
    response = requests.get(url, headers=dict(request.headers), timeout=30)
    assert response.status_code == 200, response.text
    return str(response.json()["token"])


def _log_group(server: LiveServer, creds: Credentials) -> str:
    group = f"/revocation/{uuid.uuid4().hex[:8]}"
    client_for(server, creds, "logs").create_log_group(logGroupName=group)
    return group


def _operator(server: LiveServer, code: str) -> None:
    """Run ``code`` in a ``manage.py shell`` of its own, as an operator's change would be."""
    env = dict(server.env)
    env["FUNCTORY_LIVE_FORWARD_URL"] = f"{server.url}/_functory/internal/live"
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), "shell", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    assert result.returncode == 0, result.stderr


async def _closed_code(socket: Any, timeout: float = 30) -> int:
    """Wait for the server to close ``socket``; its close code (log lines are skipped)."""
    try:
        while True:
            await asyncio.wait_for(socket.recv(), timeout)
    except websockets.ConnectionClosed as closed:
        assert closed.rcvd is not None
        return int(closed.rcvd.code)


def _url(server: LiveServer, group: str, token: str) -> str:
    port = urlsplit(server.url).port
    return f"ws://127.0.0.1:{port}/ws/logs/?group={quote(group)}&token={quote(token)}"


async def _open(url: str) -> Any:
    socket = await websockets.connect(url)
    assert json.loads(await asyncio.wait_for(socket.recv(), 30))["type"] == "ready"
    return socket


async def _refused(url: str) -> int:
    async with websockets.connect(url) as socket:
        return await _closed_code(socket)


def _revoked(
    server: LiveServer,
    group: str,
    token: str,
    withdraw: str,
    bystander: str | None = None,
    operator: LiveServer | None = None,
) -> tuple[int, int]:
    """Open a socket (and a ``bystander`` one, whose credentials stay), withdraw the
    first's credentials: the close code it got and the code a new socket with the same
    token gets. The bystander must still be open and answering."""

    async def scenario() -> tuple[int, int]:
        url = _url(server, group, token)
        socket = await _open(url)
        other = await _open(bystander) if bystander else None
        try:
            await asyncio.get_running_loop().run_in_executor(
                None, _operator, operator or server, withdraw
            )
            code = await _closed_code(socket)
            if other is not None:
                await asyncio.wait_for(await other.ping(), 30)
        finally:
            await socket.close()
            if other is not None:
                await other.close()
        return code, await _refused(url)

    return asyncio.run(scenario())


def test_deactivating_a_user_closes_their_sockets_and_voids_their_tokens(
    functory: LiveServer,
) -> None:
    creds = create_user(functory)
    bystander = create_user(functory)
    group = _log_group(functory, creds)
    other_group = _log_group(functory, bystander)
    token = _token(functory, creds, group)
    other_url = _url(functory, other_group, _token(functory, bystander, other_group))
    deactivate = (
        "from iam.models import User; "
        f"user = User.objects.get(username={creds.user_name!r}); "
        "user.is_active = False; user.save()"
    )
    closed = _revoked(functory, group, token, deactivate, bystander=other_url)
    assert closed == (CLOSE_UNAUTHORISED, CLOSE_UNAUTHORISED)


def test_deleting_a_key_closes_sockets_opened_with_its_tokens_and_voids_them(
    functory: LiveServer,
) -> None:
    creds = create_user(functory)
    group = _log_group(functory, creds)
    token = _token(functory, creds, group)
    delete = (
        "from iam.models import AccessKey; "
        f"AccessKey.objects.get(access_key_id={creds.access_key_id!r}).delete()"
    )
    assert _revoked(functory, group, token, delete) == (CLOSE_UNAUTHORISED, CLOSE_UNAUTHORISED)


def test_deactivating_a_key_voids_its_tokens(functory: LiveServer) -> None:
    creds = create_user(functory)
    group = _log_group(functory, creds)
    token = _token(functory, creds, group)
    deactivate = (
        "from iam.models import AccessKey; "
        f"key = AccessKey.objects.get(access_key_id={creds.access_key_id!r}); "
        "key.status = 'Inactive'; key.save()"
    )
    assert _revoked(functory, group, token, deactivate) == (
        CLOSE_UNAUTHORISED,
        CLOSE_UNAUTHORISED,
    )


# Console sockets, driven in-process: they ride on a session rather than a token.

SESSION_GROUP = "/revocation/console"


def _session_socket(user: Any, session: Any) -> Any:
    scope = {
        "type": "websocket",
        "path": "/ws/logs/",
        "query_string": f"group={quote(SESSION_GROUP)}".encode(),
        "headers": [],
        "subprotocols": [],
        "user": user,
        "session": session,
    }
    return ApplicationCommunicator(LogTailConsumer.as_asgi(), scope)


def _signed_in_user(name: str) -> tuple[Any, Any]:
    account = accounts.account_get_or_create()
    user = accounts.user_create(
        username=name, account=account, password="pw-1234567890-x", is_admin=True
    )
    log_batches_store([LogBatch(account.id, SESSION_GROUP, "s", [(1, "line")])])
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.save()
    return user, session


def _closes_after(user: Any, session: Any, withdraw: Any) -> dict[str, Any]:
    """Open a console socket, run ``withdraw`` in a worker thread; the socket's last
    message (a close, if the revocation reached it)."""

    async def scenario() -> dict[str, Any]:
        socket = _session_socket(user, session)
        await socket.send_input({"type": "websocket.connect"})
        assert (await socket.receive_output(timeout=10))["type"] == "websocket.accept"
        assert (await socket.receive_output(timeout=10))["type"] == "websocket.send"  # ready
        await database_sync_to_async(withdraw)()
        message: dict[str, Any] = await socket.receive_output(timeout=30)
        await socket.send_input({"type": "websocket.disconnect", "code": 1000})
        await socket.wait(timeout=10)
        return message

    return asyncio.run(scenario())


@pytest.mark.django_db(transaction=True)
def test_deactivating_a_user_closes_their_console_sockets() -> None:
    user, session = _signed_in_user("console-tailer")

    def deactivate() -> None:
        fresh = User.objects.get(pk=user.pk)
        fresh.is_active = False
        fresh.save()

    closed = _closes_after(user, session, deactivate)
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHORISED}


@pytest.mark.django_db(transaction=True)
def test_signing_out_closes_that_sessions_sockets() -> None:
    user, session = _signed_in_user("signing-out")

    def sign_out() -> None:
        request = RequestFactory().post("/logout/")
        request.session = session
        request.user = user
        logout(request)

    closed = _closes_after(user, session, sign_out)
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHORISED}


@pytest.mark.django_db(transaction=True)
def test_a_change_that_sends_no_revocation_still_closes_the_socket(settings: Any) -> None:
    settings.FUNCTORY_LIVE_TAIL_RECHECK_SECONDS = 0.2
    user, session = _signed_in_user("bulk-deactivated")

    def bulk_deactivate() -> None:  # QuerySet.update() fires no signals
        User.objects.filter(pk=user.pk).update(is_active=False)

    closed = _closes_after(user, session, bulk_deactivate)
    assert closed == {"type": "websocket.close", "code": CLOSE_UNAUTHORISED}


def test_a_revocation_reaches_sockets_on_another_replica(
    functory_pair: tuple[LiveServer, LiveServer],
) -> None:
    first, second = functory_pair
    creds = create_user(first)
    group = _log_group(first, creds)
    token = _token(first, creds, group)
    deactivate = (
        "from iam.models import User; "
        f"User.objects.filter(username={creds.user_name!r}).first().delete()"
    )
    # The socket is on the second replica; the user is deleted from the first's side.
    assert _revoked(second, group, token, deactivate, operator=first) == (
        CLOSE_UNAUTHORISED,
        CLOSE_UNAUTHORISED,
    )
