"""The control plane's ASGI handler (in-process): API calls keep the browser-hardening
headers without the console's middleware, a pool thread keeps its database connection from
one call to the next instead of opening one per call, and the thread Django's own handler
makes for one request closes its connection when the request ends."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from django.db import connection

from console.api_handler import ApiHandler
from iam import services as iam_services

HOST = "testserver"


def _scope(method: str, path: str, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
        "client": ("127.0.0.1", 50000),
        "server": (HOST, 80),
    }


async def _call(
    app: Any, scope: dict[str, Any], body: bytes = b""
) -> tuple[int, dict[str, str], bytes]:
    messages: list[dict[str, Any]] = []
    requested = False

    async def receive() -> dict[str, Any]:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the call runs
        raise AssertionError

    async def send(message: dict[str, Any]) -> None:
        messages.append(message)

    await app(scope, receive, send)
    start = messages[0]
    headers = {k.decode().lower(): v.decode() for k, v in start["headers"]}
    return start["status"], headers, b"".join(m.get("body", b"") for m in messages[1:])


def _signed_get(path: str, credentials: Credentials) -> dict[str, Any]:
    request = AWSRequest(method="GET", url=f"http://{HOST}{path}")
    SigV4Auth(credentials, "lambda", "us-east-1").add_auth(request)
    return _scope("GET", path, {"Host": HOST, **dict(request.headers.items())})


def test_api_answers_carry_the_browser_hardening_headers() -> None:
    from console.asgi import application

    status, headers, _ = asyncio.run(
        _call(application, _scope("GET", "/2015-03-31/functions", {"Host": HOST}))
    )
    assert status == 403
    assert headers["x-amzn-errortype"] == "MissingAuthenticationTokenException"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


@pytest.mark.django_db(transaction=True)
def test_a_pool_thread_keeps_its_database_connection_between_calls(
    settings: Any,
) -> None:
    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    account = iam_services.account_get_or_create("111111111111")
    user = iam_services.user_create(username="u", account=account, password=None, is_admin=True)
    key = iam_services.access_key_create(user=user)
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    handler = ApiHandler(threads=1, overflow=None)

    def pool_connection() -> object:
        return handler._executor.submit(lambda: connection.connection).result()

    try:
        seen = []
        for _ in range(2):
            status, _, body = asyncio.run(
                _call(handler, _signed_get("/2015-03-31/functions", credentials))
            )
            assert status == 200, body
            seen.append(pool_connection())
        assert seen[0] is not None
        assert seen[1] is seen[0]
    finally:
        handler._executor.submit(lambda: connection.close()).result()
        handler._executor.shutdown()


@pytest.mark.django_db(transaction=True)
def test_a_console_request_thread_closes_its_database_connection(settings: Any) -> None:
    """Django's handler makes a thread per request: with connections kept for a minute,
    each dead thread's would stay open until the garbage collector found it."""
    from django.db.backends.signals import connection_created

    from console.asgi import application

    settings.DATABASES["default"]["CONN_MAX_AGE"] = 60
    account = iam_services.account_get_or_create("111111111111")
    user = iam_services.user_create(username="u", account=account, password=None, is_admin=True)
    key = iam_services.access_key_create(user=user)
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    opened: list[Any] = []

    def record(connection: Any, **kwargs: Any) -> None:
        opened.append(connection)

    connection_created.connect(record)
    try:
        for _ in range(3):
            request = AWSRequest(
                method="POST",
                url=f"http://{HOST}/",
                data=b"{}",
                headers={
                    "X-Amz-Target": "Logs_20140328.DescribeLogGroups",
                    "Content-Type": "application/x-amz-json-1.1",
                },
            )
            SigV4Auth(credentials, "logs", "us-east-1").add_auth(request)
            scope = _scope("POST", "/", {"Host": HOST, **dict(request.headers.items())})
            status, _, body = asyncio.run(_call(application, scope, b"{}"))
            assert status == 200, body
    finally:
        connection_created.disconnect(record)
    assert len(opened) == 3
    assert [wrapper.connection for wrapper in opened] == [None, None, None]


@pytest.mark.parametrize(
    "path",
    [
        "/2015-03-31/functions",
        "/2015-03-31/functions/fn/configuration/",
        "/2015-03-31/functions/fn/invocations",
        "/2014-11-13/functions/fn/invoke-async/",
        "/2017-03-31/tags/arn:aws:lambda:us-east-1:111111111111:function:fn",
        "/2018-10-31/layers",
        "/2015-03-31/event-source-mappings/",
        "/2021-10-31/functions/fn/url",
        "/2099-01-01/no-such-operation",
    ],
)
def test_the_api_routes_give_a_dated_path_the_view_the_root_routes_give_it(path: str) -> None:
    from django.urls import resolve

    from console.api_handler import API_URLCONF

    api, root = resolve(path, urlconf=API_URLCONF), resolve(path)
    # The same pattern (the included apps' own, or the catch-all's regex) with the same values.
    assert (api.route, api.kwargs) == (root.route, root.kwargs)
    assert api.func is root.func or api.route == r"^\d{4}-\d{2}-\d{2}/"


@pytest.mark.django_db(transaction=True)
def test_when_every_pool_thread_is_taken_a_call_gets_a_thread_of_its_own() -> None:
    from console.asgi import django_asgi_app

    account = iam_services.account_get_or_create("111111111111")
    user = iam_services.user_create(username="u", account=account, password=None, is_admin=True)
    key = iam_services.access_key_create(user=user)
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    handler = ApiHandler(threads=1, overflow=django_asgi_app)
    release = __import__("threading").Event()
    held = handler._executor.submit(release.wait, 30)  # the only thread, held (a slow call)

    async def scenario() -> tuple[int, bytes]:
        handler._in_flight = 1  # as the held call counts itself
        status, _, body = await asyncio.wait_for(
            _call(handler, _signed_get("/2015-03-31/functions", credentials)), 20
        )
        return status, body

    try:
        status, body = asyncio.run(scenario())
        assert status == 200, body  # answered while the pool's thread was still held
        assert not held.done()
    finally:
        release.set()
        handler._executor.shutdown()


@pytest.mark.django_db(transaction=True)
def test_a_transaction_left_open_on_a_pool_thread_is_not_carried_into_the_next_call() -> None:
    from django.db import transaction

    account = iam_services.account_get_or_create("111111111111")
    user = iam_services.user_create(username="u", account=account, password=None, is_admin=True)
    key = iam_services.access_key_create(user=user)
    credentials = Credentials(key.access_key_id, key.secret_access_key)
    handler = ApiHandler(threads=1, overflow=None)
    original = handler.get_response

    def leaky(request: Any) -> Any:  # a view with a bug: enters a transaction, never leaves
        transaction.atomic().__enter__()
        return original(request)

    try:
        handler.get_response = leaky  # type: ignore[method-assign]
        asyncio.run(_call(handler, _signed_get("/2015-03-31/functions", credentials)))
        handler.get_response = original  # type: ignore[method-assign]
        for _ in range(2):
            status, _, body = asyncio.run(
                _call(handler, _signed_get("/2015-03-31/functions", credentials))
            )
            assert status == 200, body
        assert not handler._executor.submit(lambda: connection.in_atomic_block).result()
    finally:
        handler._executor.submit(lambda: connection.close()).result()
        handler._executor.shutdown()


def test_an_api_call_for_a_host_not_allowed_is_a_bad_request(settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["good.example"]
    handler = ApiHandler(threads=1, overflow=None)
    try:
        status, headers, _ = asyncio.run(
            _call(handler, _scope("GET", "/2015-03-31/functions", {"Host": "evil.example"}))
        )
        assert status == 400
        assert headers["content-length"] == "0" or int(headers["content-length"]) >= 0
    finally:
        handler._executor.shutdown()
