"""Hand-made HTTP requests signed with botocore's own SigV4 signer.

boto3 refuses to send many of the requests hostile-input tests need (bodies that are not
JSON, a body changed after signing, a Content-Length that lies), so these helpers build
the request with botocore's ``AWSRequest`` + ``SigV4Auth`` and send it with
``http.client``, which leaves every byte to us.
"""

from __future__ import annotations

import http.client
import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials as BotoCredentials

from conftest import Credentials, LiveServer


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def error_type(self) -> str | None:
        return self.headers.get("x-amzn-errortype")


def sign(
    server: LiveServer,
    creds: Credentials,
    method: str,
    path: str,
    body: bytes = b"",
    *,
    region: str = "us-east-1",
    service: str = "lambda",
    headers: dict[str, str] | None = None,
) -> dict[str, str]:
    """The headers (``X-Amz-Date``, ``Authorization``, ...) that sign this request."""
    request = AWSRequest(
        method=method,
        url=server.url + path,
        data=body,
        headers={"Content-Type": "application/json", **(headers or {})},
    )
    SigV4Auth(
        BotoCredentials(creds.access_key_id, creds.secret_access_key), service, region
    ).add_auth(request)
    return dict(request.headers.items())


def send(
    server: LiveServer,
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
    *,
    content_length: int | None = None,
    chunks: Iterable[bytes] | None = None,
) -> RawResponse:
    """Send exactly these bytes.

    ``content_length`` may declare more than is sent; ``chunks`` sends the body with
    ``Transfer-Encoding: chunked`` (put that header in ``headers``) and no length at all.
    """
    url = urlsplit(server.url)
    conn = http.client.HTTPConnection(url.hostname or "127.0.0.1", url.port, timeout=60)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True)
        for name, value in (headers or {}).items():
            conn.putheader(name, value)
        if chunks is None:
            length = len(body) if content_length is None else content_length
            conn.putheader("Content-Length", str(length))
        conn.endheaders()
        if chunks is not None:
            for chunk in chunks:
                conn.send(f"{len(chunk):x}\r\n".encode() + chunk + b"\r\n")
            conn.send(b"0\r\n\r\n")
        elif body:
            conn.send(body)
        response = conn.getresponse()
        return RawResponse(
            status=response.status,
            headers={name.lower(): value for name, value in response.getheaders()},
            body=response.read(),
        )
    finally:
        conn.close()


def signed(
    server: LiveServer,
    creds: Credentials,
    method: str,
    path: str,
    body: bytes = b"",
    **sign_options: Any,
) -> RawResponse:
    """Sign and send in one go."""
    return send(server, method, path, body, sign(server, creds, method, path, body, **sign_options))
