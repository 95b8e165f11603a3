"""Plain-tuple executemany for the ingest inserts on SQLite, with SQLAlchemy's own bind processors.

Why: a Core executemany builds a parameter dict per row and walks every column of it in Python (construct_params,
then the type processors), which cost more than SQLite's work for the same rows. Here the statement is rendered once
per table and dialect, and a row is a tuple in column order put through the very processors Core would use (the
column types' `bind_processor`, so timestamps and JSON are stored exactly as Core stores them), then handed to the
driver's executemany in one call on the caller's connection and transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Connection, Table
from sqlalchemy.engine import Dialect

Processor = Callable[[Any], Any]


class BulkInsert:
    """INSERT INTO `table` (`columns`) VALUES (?, ...), for one dialect with a positional paramstyle."""

    def __init__(self, table: Table, columns: Sequence[str], dialect: Dialect) -> None:
        if dialect.paramstyle not in ("qmark", "format"):
            raise ValueError(f"BulkInsert needs a positional paramstyle, not {dialect.paramstyle}")
        self.columns = tuple(columns)
        quote = dialect.identifier_preparer.quote
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        self.sql = (f"INSERT INTO {quote(table.name)} ({', '.join(quote(c) for c in self.columns)}) "
                    f"VALUES ({', '.join([marker] * len(self.columns))})")
        processors: list[tuple[int, Processor]] = []
        for index, name in enumerate(self.columns):
            processor = table.c[name].type.dialect_impl(dialect).bind_processor(dialect)
            if processor is not None:
                processors.append((index, processor))
        self.processors = tuple(processors)

    def row(self, values: list[Any]) -> tuple[Any, ...]:
        """`values` (in column order, None included) as the driver gets them; `values` is changed in place."""
        for index, processor in self.processors:
            values[index] = processor(values[index])
        return tuple(values)

    def execute(self, connection: Connection, rows: list[tuple[Any, ...]]) -> None:
        if rows:
            connection.exec_driver_sql(self.sql, rows)  # a list of tuples: the driver's executemany


_CACHE: dict[tuple[str, tuple[str, ...], str], BulkInsert] = {}


def bulk_insert(table: Table, columns: Sequence[str], dialect: Dialect) -> BulkInsert:
    """The BulkInsert of `table`'s `columns` on `dialect`, built once."""
    key = (table.name, tuple(columns), dialect.name)
    found = _CACHE.get(key)
    if found is None:
        found = _CACHE[key] = BulkInsert(table, columns, dialect)
    return found
