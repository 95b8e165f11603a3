"""A web worker's way to accept a report without waiting: into its journal (store.journal), when it can answer
exactly without the database.

It can when it knows, from an earlier report's committed answer, that this token was good and this group existed
and was not resolved, and nothing has changed since (the change number it learned them at is still the writer
state's: store.counters). Then the answer is "existing" in that group, under a report id reserved beforehand.
Anything else (a new group, a resolved one that may regress, a token that may be revoked, a writer that is not
keeping up) goes the usual way, waiting for its commit, and teaches the worker for next time.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from diagnoser.store import wire
from diagnoser.store.counters import reserve_report_ids
from diagnoser.store.db import writing
from diagnoser.store.ingest import NewReport, Stored
from diagnoser.store.journal import JournalAppender, WriterState

log = logging.getLogger(__name__)

ID_BLOCK = 1024  # report ids reserved at a time by a worker (one short transaction per block)
KNOWN_MAX = 10_000  # remembered (token, group) pairs per worker


class ReportIds:
    """Report ids for this worker process, reserved from the database's counter a block at a time."""

    def __init__(self, sessions: sessionmaker[Session], block: int = ID_BLOCK) -> None:
        self._sessions = sessions
        self._block = block
        self._lock = threading.Lock()
        self._next = self._end = 0
        self._pid = 0

    def take(self) -> int:
        with self._lock:
            if self._next >= self._end or self._pid != os.getpid():  # a forked child reserves its own
                with writing(self._sessions) as session:
                    self._next = reserve_report_ids(session, self._block)
                self._end, self._pid = self._next + self._block, os.getpid()
            value = self._next
            self._next += 1
            return value


class JournalAcceptor:
    def __init__(self, folder: Path, sessions: sessionmaker[Session]) -> None:
        self.folder = folder
        self.appender = JournalAppender(folder)
        self.ids = ReportIds(sessions)
        self._state: WriterState | None = None
        self._state_tried_at = -10.0
        self._known: dict[tuple[int | None, int, str], tuple[int, int]] = {}
        self._warned_at = -3600.0

    def state(self) -> WriterState | None:
        """The writer's state, when it journals and keeps up; None otherwise (then every report waits)."""
        if self._state is None:
            now = time.monotonic()
            if now - self._state_tried_at < 1.0:
                return None
            self._state_tried_at = now
            self._state = WriterState.open_existing(self.folder)
            if self._state is None:
                return None
        return self._state if self._state.usable() else None

    def changes(self) -> int | None:
        """The change number now, when journaling is possible: what an answer learned from now is valid under."""
        state = self.state()
        return None if state is None else state.changes

    def accept(self, report: NewReport) -> Stored | None:
        """Accept `report` into this thread's journal and answer, or None when it must wait for its commit."""
        state = self.state()
        if state is None:
            return None
        key = (report.token_id, report.project_id, report.analysis.fingerprint)
        known = self._known.get(key)
        if known is None or known[1] != state.changes:
            return None
        try:
            report_id = self.ids.take()
            self.appender.append(wire.encode_journal_entry(report, report_id))
        except ValueError:  # a value marshal cannot carry: the usual way takes anything the database does
            return None
        except (OSError, sa_exc.SQLAlchemyError) as error:
            self._warn(f"cannot journal reports ({type(error).__name__}: {error}); they wait for their commit")
            return None
        return Stored(report_id=report_id, group_id=known[0], group_status="existing")

    def learn(self, report: NewReport, stored: Stored, changes: int | None) -> None:
        """`stored` was committed, and `changes` was the change number before it was sent: until the number moves,
        the token is good and the group exists, not resolved (a committed report just made it open or regressed,
        or left it ignored)."""
        if changes is None:
            return
        if len(self._known) >= KNOWN_MAX:
            self._known.clear()
        self._known[(report.token_id, report.project_id, report.analysis.fingerprint)] = (stored.group_id, changes)

    def announce(self, changes: int) -> None:
        """A change made in this worker: every worker of this machine stops trusting what it learned before."""
        self.state()  # opens the state file if it is not open yet
        if self._state is not None:
            self._state.raise_changes(changes)

    def _warn(self, message: str) -> None:
        now = time.monotonic()
        if now - self._warned_at >= 60:
            self._warned_at = now
            log.warning(message)
