"""PostgreSQL dropping every connection (a restart, a failover) costs no request an error:
each thread that reads the database replaces a connection that broke instead of reusing it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest

from conftest import LiveServer, client_for, create_function, create_user, run_server

pytestmark = [
    pytest.mark.live,
    pytest.mark.skipif(not os.environ.get("DATABASE_URL"), reason="a PostgreSQL-only failure"),
]


@pytest.fixture(scope="module")
def functory(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """A server whose per-process caches (function targets, access keys) keep nothing, so
    every call after the drop reads the database again."""
    yield from run_server(
        tmp_path_factory,
        {"FUNCTORY_CONFIG_CACHE_SECONDS": "0", "FUNCTORY_ACCESS_KEY_CACHE_SECONDS": "0"},
    )


def _drop_connections(server: LiveServer) -> int:
    """What a PostgreSQL restart does to the server: every one of its backends ends."""
    url = urlsplit(server.env["DATABASE_URL"])
    name = url.path.lstrip("/")
    admin = url._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as connection:
        rows = connection.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
            (name,),
        ).fetchall()
    return len(rows)


def test_requests_after_postgresql_dropped_every_connection_all_succeed(
    functory: LiveServer,
) -> None:
    lam: Any = client_for(functory, create_user(functory))
    names = [f"pgdrop-{uuid.uuid4().hex[:8]}" for _ in range(6)]
    for name in names:
        create_function(lam, name)
    # Warm every kind of thread that holds a connection: resolving targets, checking
    # signatures, storing events (several calls, so several executor threads).
    for name in names:
        assert lam.invoke(FunctionName=name)["StatusCode"] == 200
        assert lam.invoke(FunctionName=name, InvocationType="Event")["StatusCode"] == 202
    assert _drop_connections(functory) > 0
    for name in names:
        assert lam.invoke(FunctionName=name)["StatusCode"] == 200
        assert lam.invoke(FunctionName=name, InvocationType="Event")["StatusCode"] == 202
        assert lam.get_function(FunctionName=name)["Configuration"]["FunctionName"] == name
