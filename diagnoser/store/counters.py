"""The two shared counters (models.Counter): report ids, reserved in blocks, and the change number.

Why report ids come from a counter rather than the table's own: a web worker that accepts a report into its
journal (store.journal) answers with the report's id before the writer inserts the row, so ids must be handed out
ahead of the insert, by every process on every host, without two ever getting the same one. One UPDATE .. RETURNING
reserves a block atomically on SQLite and PostgreSQL alike; every insert of a report takes its id from a block.

Why a change number: workers remember, per token and group, that the token was good and the group not resolved.
Whatever can make that wrong (a group's status set, a token revoked, reports regrouped) bumps the number in its
own transaction; a worker trusts what it remembers only under the number it was learned at.
"""

from __future__ import annotations

from sqlalchemy import Connection, text
from sqlalchemy.orm import Session

from diagnoser.store.db import sqlite_driver_cursor

REPORT_IDS = "report_id"
CHANGES = "changes"
DATABASE_ID = "database_id"  # random, set when the database is made
MAX_REPORT_ID = 2**31 - 1  # reports.id is a 32-bit integer on PostgreSQL

_RESERVE = text("UPDATE counters SET value = value + :n WHERE name = :name RETURNING value")
_READ = text("SELECT value FROM counters WHERE name = :name")
_SQLITE_RESERVE = "UPDATE counters SET value = value + ? WHERE name = ? RETURNING value"


class CountersMissing(RuntimeError):
    """The database predates the counters: `diagnoser db upgrade` adds them."""


def _connection(target: Session | Connection) -> Connection:
    return target.connection() if isinstance(target, Session) else target


def reserve_report_ids(target: Session | Connection, count: int) -> int:
    """Reserve `count` report ids within the caller's transaction; the first of them (the rest follow it).
    On SQLite through the driver's cursor, so it also runs inside a driver-driven transaction (db.sqlite_writing_on)."""
    connection = _connection(target)
    cursor = sqlite_driver_cursor(connection)
    if cursor is not None:
        row = cursor.execute(_SQLITE_RESERVE, (count, REPORT_IDS)).fetchone()
        after = None if row is None else row[0]
    else:
        after = connection.execute(_RESERVE, {"n": count, "name": REPORT_IDS}).scalar()
    if after is None:
        raise CountersMissing("the counters table has no report_id row: run `diagnoser db upgrade`")
    if after - 1 > MAX_REPORT_ID:
        raise OverflowError("report ids are exhausted (reports.id is a 32-bit integer)")
    return int(after) - count


def bump_changes(target: Session | Connection) -> int:
    """Within the caller's transaction: say that remembered token and group states may be wrong from now on.
    Returns the new change number."""
    value = _connection(target).execute(_RESERVE, {"n": 1, "name": CHANGES}).scalar()
    return int(value or 0)


def read_changes(target: Session | Connection) -> int:
    return int(_connection(target).execute(_READ, {"name": CHANGES}).scalar() or 0)


def database_id(target: Session | Connection) -> int:
    return int(_connection(target).execute(_READ, {"name": DATABASE_ID}).scalar() or 0)
