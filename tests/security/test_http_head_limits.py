"""A client cannot hold the server's memory or sockets with a request head that never ends:
past the size limit it gets 431 and the connection is closed at once; a head that does not
arrive in time (nothing sent, or a header trickled a byte at a time) has its connection
closed. Requests that are merely slow to answer are not cut off."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator

import pytest

from conftest import LiveServer, client_for, create_function, create_user, make_zip
from conftest import run_server as start_server

pytestmark = [pytest.mark.live, pytest.mark.security, pytest.mark.one_profile]

HEAD_TIMEOUT_S = 1.0
# Long enough to tell "closed by the server" from "held open forever".
PATIENCE_S = 20.0


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    yield from start_server(
        tmp_path_factory, {"FUNCTORY_HTTP_HEAD_TIMEOUT_SECONDS": str(HEAD_TIMEOUT_S)}
    )


def _connect(server: LiveServer) -> socket.socket:
    host, port = server.url.removeprefix("http://").split(":")
    sock = socket.create_connection((host, int(port)))
    sock.settimeout(PATIENCE_S)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


def test_a_head_past_the_limit_is_answered_431_before_it_is_all_sent(server: LiveServer) -> None:
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
    line = b"X-Filler: " + b"f" * 64_000 + b"\r\n"
    sent = 0
    with pytest.raises(OSError):  # the server hangs up: a reset or a broken pipe
        for _ in range(4_000):  # 256 MB, were it all accepted
            sock.sendall(line)
            sent += len(line)
    # What was sent includes what both kernels' socket buffers took (several MB on loopback).
    assert sent < 32 * 1024 * 1024, "the server kept reading a head of tens of megabytes"
    sock.close()


def test_the_refusal_is_a_431_with_the_platform_s_error_shape(server: LiveServer) -> None:
    sock = _connect(server)
    head = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Filler: " + b"f" * 200_000
    sock.sendall(head)  # fits the socket buffers: the answer comes back whole
    answer = _read_all(sock)
    status, _, rest = answer.partition(b"\r\n")
    assert status == b"HTTP/1.1 431 Request Header Fields Too Large"
    headers, _, body = rest.partition(b"\r\n\r\n")
    assert b"x-amzn-errortype: RequestHeaderFieldsTooLarge" in headers
    assert json.loads(body)["message"] == "Request header fields too large"


def test_large_but_allowed_headers_are_served(server: LiveServer) -> None:
    sock = _connect(server)
    filler = b"X-Filler: " + b"f" * 100_000 + b"\r\n"
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n" + filler + b"\r\n")
    assert _read_all(sock).startswith(b"HTTP/1.1 200 ")


def test_a_connection_that_sends_nothing_is_closed(server: LiveServer) -> None:
    sock = _connect(server)
    assert _read_all(sock) == b""


def test_a_head_trickled_a_byte_at_a_time_is_cut_off(server: LiveServer) -> None:
    sock = _connect(server)
    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    deadline = time.monotonic() + PATIENCE_S
    with pytest.raises(OSError):
        while time.monotonic() < deadline:
            sock.sendall(b"s")
            time.sleep(0.1)
            sock.setblocking(False)
            try:
                if sock.recv(1) == b"":
                    raise ConnectionResetError("closed by the server")
            except BlockingIOError:
                pass
            finally:
                sock.setblocking(True)
    sock.close()


@pytest.mark.sandbox
def test_an_answer_slower_than_the_head_timeout_is_not_cut_off(server: LiveServer) -> None:
    lam = client_for(server, create_user(server))
    code = (
        "import time\ndef handler(event, context):\n    time.sleep(event['s'])\n    return 'ok'\n"
    )
    create_function(lam, "slow", Code={"ZipFile": make_zip({"app.py": code})}, Timeout=30)
    # Slower than the head timeout: the request's head arrived, so nothing is cut off.
    payload = json.dumps({"s": HEAD_TIMEOUT_S * 2.5})
    response = lam.invoke(FunctionName="slow", Payload=payload)
    assert json.loads(response["Payload"].read()) == "ok"
    # And the connection that carried it serves the next request as usual.
    assert lam.get_function(FunctionName="slow")["Configuration"]["FunctionName"] == "slow"
