"""The text search index over stored log events: search that does not scan.

Events are indexed in *blocks*: each stored batch's events, up to ``BLOCK_EVENTS`` of them
(and about ``BLOCK_BYTES`` of text) at a time, make one ``LogSearchBlock`` row holding their
messages joined by newlines. The database indexes the block text for substring search:

- SQLite: an FTS5 table with the case-sensitive trigram tokenizer and no positions
  (``detail=none``: substring lookups go through ``GLOB``, which FTS5 answers from the
  trigrams), kept in step with the block table by triggers (``external content``);
- PostgreSQL: a GIN index with ``pg_trgm``'s ``gin_trgm_ops`` on the block text.

Indexing per block rather than per event is what keeps ingest cheap (measured: one FTS row
per event cut SQLite's raw insert rate twelvefold, one per 32 events halved it; the ORM's
own per-event cost hides most of what is left); a search asks the index for the blocks
whose text holds the pattern's literal terms, then reads and checks only those blocks'
events. A block may match where no single event does (a term across two lines, two
required terms in two events): the events are always checked, so that costs time, never correctness.

Where the index cannot be created (no FTS5 in this SQLite, no ``pg_trgm`` for this
PostgreSQL role) the migration leaves it out and searches scan, as before.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any, NamedTuple

from django.db import DatabaseError, connection, transaction
from django.db.backends.base.schema import BaseDatabaseSchemaEditor

logger = logging.getLogger(__name__)

BLOCK_EVENTS = 64
BLOCK_BYTES = 64 * 1024
# The trigram index finds only terms of three characters or more.
MIN_TERM_CHARS = 3

BLOCKS = "monitoring_logsearchblock"
FTS = "monitoring_logsearch_fts"
TRGM_INDEX = "monitoring_logsearch_trgm"

_SQLITE_DDL = (
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(text, content='{BLOCKS}', content_rowid='id', "
    "tokenize='trigram case_sensitive 1', detail=none)",
    f"CREATE TRIGGER {FTS}_insert AFTER INSERT ON {BLOCKS} BEGIN "
    f"INSERT INTO {FTS}(rowid, text) VALUES (new.id, new.text); END",
    f"CREATE TRIGGER {FTS}_delete AFTER DELETE ON {BLOCKS} BEGIN "
    f"INSERT INTO {FTS}({FTS}, rowid, text) VALUES ('delete', old.id, old.text); END",
)
_SQLITE_DROP = (
    f"DROP TRIGGER IF EXISTS {FTS}_insert",
    f"DROP TRIGGER IF EXISTS {FTS}_delete",
    f"DROP TABLE IF EXISTS {FTS}",
)
_POSTGRES_DDL = (
    "CREATE EXTENSION IF NOT EXISTS pg_trgm",
    f"CREATE INDEX {TRGM_INDEX} ON {BLOCKS} USING gin (text gin_trgm_ops)",
)

_available: set[str] = set()  # database names whose index was seen


# ---- schema (the migration's RunPython) ------------------------------------------------------


def create(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    """Create the index where this database can have it, then index the events already
    stored (a database that had events before this migration)."""
    vendor = schema_editor.connection.vendor
    statements = {"sqlite": _SQLITE_DDL, "postgresql": _POSTGRES_DDL}.get(vendor, ())
    try:
        alias = schema_editor.connection.alias
        with transaction.atomic(using=alias), schema_editor.connection.cursor() as cursor:
            for statement in statements:
                cursor.execute(statement)
    except DatabaseError as error:
        logger.warning("log search index not created (%s); searches will scan", error)
    _backfill(apps)


def drop(apps: Any, schema_editor: BaseDatabaseSchemaEditor) -> None:
    if schema_editor.connection.vendor == "sqlite":
        with schema_editor.connection.cursor() as cursor:
            for statement in _SQLITE_DROP:
                cursor.execute(statement)


def _backfill(apps: Any, chunk: int = 10_000) -> None:
    event_model = apps.get_model("monitoring", "LogEvent")
    block_model = apps.get_model("monitoring", "LogSearchBlock")
    after = 0
    while True:
        rows = list(
            event_model.objects.filter(id__gt=after)
            .order_by("id")
            .values_list("id", "group_id", "stream_id", "timestamp", "message")[:chunk]
        )
        if not rows:
            return
        by_stream: dict[tuple[int, int], list[tuple[int, int, str]]] = {}
        for event_id, group_id, stream_id, timestamp, message in rows:
            by_stream.setdefault((group_id, stream_id), []).append((event_id, timestamp, message))
        block_model.objects.bulk_create(
            block_model(
                group_id=row[0],
                stream_id=row[1],
                first_id=row[2],
                last_id=row[3],
                min_timestamp=row[4],
                max_timestamp=row[5],
                text=row[6],
            )
            for (group_id, stream_id), events in by_stream.items()
            for row in _blocks(group_id, stream_id, events)
        )
        after = rows[-1][0]


# ---- writing (the ingest path) ---------------------------------------------------------------


def _blocks(
    group_id: int, stream_id: int, events: Sequence[tuple[int, int, str]]
) -> list[tuple[int, int, int, int, int, int, str]]:
    """Block rows (the columns of ``_INSERT``) for ``(id, timestamp, message)`` events of
    one stream, in id order."""
    blocks: list[tuple[int, int, int, int, int, int, str]] = []
    start = 0
    while start < len(events):
        end, size = start, 0
        while end < len(events) and end - start < BLOCK_EVENTS and size < BLOCK_BYTES:
            size += len(events[end][2]) + 1
            end += 1
        chunk = events[start:end]
        timestamps = [timestamp for _, timestamp, _ in chunk]
        blocks.append(
            (
                group_id,
                stream_id,
                chunk[0][0],
                chunk[-1][0],
                min(timestamps),
                max(timestamps),
                "\n".join(message for _, _, message in chunk),
            )
        )
        start = end
    return blocks


_INSERT = (
    f"INSERT INTO {BLOCKS} (group_id, stream_id, first_id, last_id, min_timestamp, "
    "max_timestamp, text) VALUES (%s, %s, %s, %s, %s, %s, %s)"
)


def blocks_store(group_id: int, stream_id: int, events: Sequence[tuple[int, int, str]]) -> None:
    """Index just-stored ``(id, timestamp, message)`` events of one stream (same transaction
    as the events, so a search never sees an event its index does not cover). Plain SQL:
    this runs for every stored batch, and model instances would cost more than the rows."""
    with connection.cursor() as cursor:
        cursor.executemany(_INSERT, _blocks(group_id, stream_id, events))


# ---- searching -------------------------------------------------------------------------------


def available() -> bool:
    """Whether this database has the index (checked until seen once per database)."""
    name = str(connection.settings_dict.get("NAME"))
    if name in _available:
        return True
    if connection.vendor == "sqlite":
        query = "SELECT 1 FROM sqlite_master WHERE name = %s"
        target = FTS
    elif connection.vendor == "postgresql":
        query = "SELECT 1 FROM pg_indexes WHERE indexname = %s"
        target = TRGM_INDEX
    else:
        return False
    with connection.cursor() as cursor:
        cursor.execute(query, [target])
        found = cursor.fetchone() is not None
    if found:
        _available.add(name)
    return found


_CANDIDATE = "b.first_id, b.last_id, b.min_timestamp, b.max_timestamp"


class Candidate(NamedTuple):
    """A block that may hold matching events: its id range and time span."""

    first_id: int
    last_id: int
    min_timestamp: int
    max_timestamp: int


def candidate_ranges(
    group_id: int,
    *,
    all_of: Sequence[str],
    any_of: Sequence[str],
    start: int | None,
    end: int | None,
    limit: int,
) -> list[Candidate] | None:
    """The group's blocks that hold every term of ``all_of`` and,
    if given, one of ``any_of``, within ``[start, end]``; ``None`` when the index cannot
    narrow the search (no index, no term long enough) or more than ``limit`` blocks match
    (a common term: scanning the time index finds its matches sooner)."""
    if not available():
        return None
    conditions = ["b.group_id = %s"]
    params: list[Any] = [group_id]
    if start is not None:
        conditions.append("b.max_timestamp >= %s")
        params.append(start)
    if end is not None:
        conditions.append("b.min_timestamp <= %s")
        params.append(end)
    if connection.vendor == "sqlite":
        queries = _sqlite_queries(all_of, any_of, conditions, params, limit)
    else:
        queries = _postgres_queries(all_of, any_of, conditions, params, limit)
    if not queries:
        return None  # no term the index can find
    found: dict[int, Candidate] = {}
    with connection.cursor() as cursor:
        for sql, query_params in queries:
            cursor.execute(sql, query_params)
            for row in cursor.fetchall():
                found[int(row[0])] = Candidate(*map(int, row[1:]))
            if len(found) > limit:
                return None
    return list(found.values())


Query = tuple[str, list[Any]]


def _sqlite_queries(
    all_of: Sequence[str],
    any_of: Sequence[str],
    conditions: list[str],
    params: list[Any],
    limit: int,
) -> list[Query]:
    """One query for the required terms, else one per alternative (FTS5 answers each GLOB
    from the trigram index, but not an OR of them). A term's pieces between GLOB's special
    characters are looked up, each as ``*piece*``."""

    def query(pieces: list[str]) -> Query:
        globs = " AND ".join("f.text GLOB %s" for _ in pieces)
        # CROSS JOIN keeps the FTS lookup the outer loop (SQLite never reorders it), so a
        # common term stops at the limit instead of probing the index once per block.
        sql = (
            f"SELECT b.id, {_CANDIDATE} FROM {FTS} f CROSS JOIN {BLOCKS} b ON b.id = f.rowid "
            f"WHERE {globs} AND {' AND '.join(conditions)} LIMIT %s"
        )
        return sql, [*(f"*{piece}*" for piece in pieces), *params, limit + 1]

    required = [piece for term in all_of for piece in _glob_pieces(term)]
    if required:
        return [query(required)]
    alternatives = [_glob_pieces(term) for term in any_of]
    if alternatives and all(alternatives):
        return [query(pieces) for pieces in alternatives]
    return []


def _postgres_queries(
    all_of: Sequence[str],
    any_of: Sequence[str],
    conditions: list[str],
    params: list[Any],
    limit: int,
) -> list[Query]:
    required = [term for term in all_of if len(term) >= MIN_TERM_CHARS]
    alternatives = [term for term in any_of if len(term) >= MIN_TERM_CHARS]
    if len(alternatives) < len(any_of):
        alternatives = []  # one alternative the index cannot find makes the group unusable
    if not (required or alternatives):
        return []
    like = "b.text LIKE %s ESCAPE '\\'"
    likes = [like for _ in required]
    like_params = [_like(term) for term in required]
    if alternatives:
        likes.append("(" + " OR ".join(like for _ in alternatives) + ")")
        like_params += [_like(term) for term in alternatives]
    # The LIKEs first and alone in a materialised query, so the planner answers them from
    # the trigram index rather than walking the group's blocks and reading their texts.
    sql = (
        f"WITH matched AS MATERIALIZED (SELECT b.id FROM {BLOCKS} b WHERE "
        f"{' AND '.join(likes)}) SELECT b.id, {_CANDIDATE} FROM matched m "
        f"JOIN {BLOCKS} b ON b.id = m.id WHERE {' AND '.join(conditions)} LIMIT %s"
    )
    return [(sql, [*like_params, *params, limit + 1])]


_GLOB_SPECIAL = re.compile(r"[*?\[\]]")


def _glob_pieces(term: str) -> list[str]:
    return [piece for piece in _GLOB_SPECIAL.split(term) if len(piece) >= MIN_TERM_CHARS]


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"
