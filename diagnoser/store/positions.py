"""Journal positions (models.JournalPosition): how far each journal file is written into the database.

Saved in the very transaction that writes the journal's reports, and only from where the previous save ended
(compare and set), so a report is written exactly once: a batch that would skip an entry fails instead, and is
read again from the saved position.
"""

from __future__ import annotations

from sqlalchemy import Connection, text

from diagnoser.store.db import sqlite_driver_cursor

_SQLITE_MOVE = "UPDATE journal_positions SET position = ? WHERE journal = ? AND position = ?"
_SQLITE_FIND = "SELECT position FROM journal_positions WHERE journal = ?"
_SQLITE_ADD = "INSERT INTO journal_positions (journal, position) VALUES (?, ?)"
_MOVE = text("UPDATE journal_positions SET position = :end WHERE journal = :journal AND position = :start")
_FIND = text("SELECT position FROM journal_positions WHERE journal = :journal")
_ADD = text("INSERT INTO journal_positions (journal, position) VALUES (:journal, :end)")


class JournalOutOfOrder(RuntimeError):
    """A batch would save a journal position that does not follow the saved one: an entry before it is not
    written. The batch is rolled back and the journal read again from the saved position."""


def save_positions(connection: Connection, spans: dict[str, tuple[int, int]]) -> None:
    """Within the caller's transaction: journal `key` is now written from `start` to `end`."""
    cursor = sqlite_driver_cursor(connection)
    for key, (start, end) in sorted(spans.items()):
        if cursor is not None:
            moved = cursor.execute(_SQLITE_MOVE, (end, key, start)).rowcount
        else:
            moved = connection.execute(_MOVE, {"end": end, "journal": key, "start": start}).rowcount
        if moved == 1:
            continue
        if start == 0:  # the journal's first save: there must be no row yet
            if cursor is not None:
                found = cursor.execute(_SQLITE_FIND, (key,)).fetchone()
            else:
                found = connection.execute(_FIND, {"journal": key}).first()
            if found is None:
                if cursor is not None:
                    cursor.execute(_SQLITE_ADD, (key, end))
                else:
                    connection.execute(_ADD, {"journal": key, "end": end})
                continue
        raise JournalOutOfOrder(f"journal {key}: saving {start}..{end} does not follow the saved position")


def load_positions(connection: Connection) -> dict[str, int]:
    rows = connection.execute(text("SELECT journal, position FROM journal_positions")).all()
    return {str(journal): int(position) for journal, position in rows}


def delete_positions(connection: Connection, keys: list[str]) -> None:
    for key in keys:
        connection.execute(text("DELETE FROM journal_positions WHERE journal = :journal"), {"journal": key})
