"""Reads compiled to SQL once and run with new values: the control plane's hot lookups.

Building a queryset (filters, joins, ``select_related``) and compiling it costs several
times what running it costs: about 0.5 ms against 0.03 ms for the signing key's lookup
on SQLite. A :class:`PreparedQuery` does that once per database and then only executes the
SQL with the call's values and makes the objects as the ORM does (its converters, its
``select_related`` population), so every call still reads the rows fresh: nothing about
the data is cached, only the statement.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from django.db import connections
from django.db.models import Model, QuerySet
from django.db.models.query import get_related_populators
from django.db.transaction import TransactionManagementError

M = TypeVar("M", bound=Model)

# Stand-ins for the values while compiling, by the value's type; each must reach the SQL's
# parameters unchanged (an exact lookup on a text or integer column), which compiling checks.
_PLACEHOLDERS: dict[type, Callable[[int], Any]] = {
    str: "\x00prepared-parameter-{}".format,
    # Within every integer field's range (Django drops a lookup no value of the field can
    # fail, such as "> a huge negative"), and unlike the constants of the queries here.
    int: lambda i: 31_991 + i,
}


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]
    slots: tuple[int, ...]  # where each value goes in params
    locking: bool  # SELECT ... FOR UPDATE (only inside a transaction)
    compiler: Any
    converters: dict[int, Any]
    model: type[Model]
    fields: tuple[int, int]  # the model's own columns in a row
    init_list: list[str]
    populators: list[Any]


class PreparedQuery(Generic[M]):
    """``build(*values)`` (a queryset of a few rows, exact lookups on values of the types
    ``kinds``) compiled once per database; :meth:`rows` runs it with other values."""

    def __init__(self, build: Callable[..., QuerySet[M]], kinds: tuple[type, ...]) -> None:
        self._build = build
        self._kinds = kinds
        self._compiled: dict[str, _Compiled] = {}
        self._lock = threading.Lock()

    def _compile(self, using: str) -> _Compiled:
        placeholders = [_PLACEHOLDERS[kind](i) for i, kind in enumerate(self._kinds)]
        queryset = self._build(*placeholders)
        compiler = queryset.query.get_compiler(using=using)
        sql, params = compiler.as_sql()
        if " LIKE " in sql.upper():
            # A pattern lookup's values are escaped by the ORM per call, which a prepared
            # query skips: only lookups that bind a value as it is may be prepared.
            raise ValueError(f"a prepared query may not use pattern lookups: {sql}")
        slots = []
        for placeholder in placeholders:
            found = [i for i, param in enumerate(params) if param == placeholder]
            if len(found) != 1:
                raise ValueError(f"a prepared value must be used once, as given: {sql}")
            slots.append(found[0])
        select, klass_info = compiler.select, compiler.klass_info
        own = klass_info["select_fields"]
        return _Compiled(
            sql=sql,
            params=tuple(params),
            slots=tuple(slots),
            locking=bool(queryset.query.select_for_update),
            compiler=compiler,
            converters=compiler.get_converters([column[0] for column in select]),
            model=klass_info["model"],
            fields=(own[0], own[-1] + 1),
            init_list=[column[0].target.attname for column in select[own[0] : own[-1] + 1]],
            # (django-stubs describes a later Django, whose version takes a fetch mode.)
            populators=get_related_populators(klass_info, select, using),  # type: ignore[call-arg]
        )

    def rows(self, *values: Any, using: str = "default") -> list[M]:
        """The objects ``build(*values)`` would give, read now."""
        compiled = self._compiled.get(using)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(using) or self._compile(using)
                self._compiled[using] = compiled
        connection = connections[using]
        if compiled.locking and connection.get_autocommit():
            # As the ORM refuses it when compiling, which happens here only once.
            raise TransactionManagementError(
                "select_for_update cannot be used outside of a transaction."
            )
        params = list(compiled.params)
        for slot, value, kind in zip(compiled.slots, values, self._kinds, strict=True):
            if not isinstance(value, kind):  # what the ORM would convert is not prepared
                raise TypeError(f"a prepared {kind.__name__} value, not {type(value).__name__}")
            params[slot] = value
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            fetched: Sequence[Any] = cursor.fetchall()
        if compiled.converters:
            fetched = list(
                compiled.compiler.apply_converters(
                    [list(row) for row in fetched], compiled.converters
                )
            )
        start, end = compiled.fields
        made: list[M] = []
        for row in fetched:
            obj = compiled.model.from_db(using, compiled.init_list, row[start:end])
            for populator in compiled.populators:
                populator.populate(row, obj)
            made.append(obj)  # type: ignore[arg-type]
        return made

    def first(self, *values: Any, using: str = "default") -> M | None:
        found = self.rows(*values, using=using)
        return found[0] if found else None
