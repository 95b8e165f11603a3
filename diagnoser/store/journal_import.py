"""The writer process's side of the journals (store.journal): owning the folder, reading new entries for the next
batch, saving how far each journal is written (in the batch's own transaction), and telling the workers, through
the state file, whether they may journal.

Kept apart from the writer's socket loop (store.writer_process), which only decides when to write a batch and
whom to answer.
"""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Dialect

try:
    import fcntl
except ImportError:  # not on Windows: no journals there, every report waits for its commit
    fcntl = None  # type: ignore[assignment]

from diagnoser.store import wire
from diagnoser.store.counters import database_id, read_changes
from diagnoser.store.ingest import NewReport, Stored, prepare, store_reports
from diagnoser.store.journal import (LOCK_FILE, STATE_FILE, Entry, JournalReader, WriterState, claim_folder,
                                     make_folder)
from diagnoser.store.positions import JournalOutOfOrder, delete_positions, load_positions, save_positions
from diagnoser.store.writer import Pending

log = logging.getLogger("diagnoser.writer")

ACTIVE_SECONDS = 1.0  # entries read this recently: more are likely, look often
JOURNAL_POLL_SECONDS = 0.005  # how often the journals are read while reports come in
IDLE_POLL_SECONDS = 0.025  # and when none came for a second; also how often the change number is read
OPEN_RETRY_SECONDS = 2.0  # how often a writer that could not own the folder (or reach the database) tries again


class Journaled(Pending):
    """A report from a journal: already answered, so written whatever it takes, and never answered again."""

    __slots__ = ("entry",)

    def __init__(self, report: NewReport, entry: Entry) -> None:
        super().__init__(report)
        self.entry = entry


def store_with_positions(connection: Connection, reports: list[NewReport]) -> list[Stored | Exception]:
    """store_reports, saving in the same transaction how far each journal of these reports is written."""
    answers = store_reports(connection, reports)
    spans: dict[str, tuple[int, int]] = {}
    for report in reports:
        if report.journal is not None:
            key, start, end = report.journal
            first = spans.get(key)
            spans[key] = (start if first is None else first[0], end)
    if spans:
        save_positions(connection, spans)
    return answers


class JournalImport:
    def __init__(self, folder: Path, engine: Engine, dialect: Dialect) -> None:
        self.folder = folder
        self._engine = engine
        self._dialect = dialect
        self._analyses = wire.AnalysisCache()
        self.reader: JournalReader | None = None
        self.state: WriterState | None = None
        self._lock_fd: int | None = None
        self._tried_at = -OPEN_RETRY_SECONDS
        self._warned = False
        self._polled_at = 0.0
        self._changes_read_at = 0.0
        self.active_at = 0.0  # when an entry was last read
        self.healthy = True  # the database wrote the last batch (or refused single reports): journals may be used
        self.written = 0  # entries written

    @property
    def active(self) -> bool:
        return time.monotonic() - self.active_at < ACTIVE_SECONDS

    def open(self) -> bool:
        """Own the folder (one writer per folder: a second master's writer only answers its sockets) and start
        from the saved positions; tried again every few seconds until it works. True once open."""
        if self.reader is not None:
            return True
        now = time.monotonic()
        if fcntl is None or now - self._tried_at < OPEN_RETRY_SECONDS:
            return False
        self._tried_at = now
        try:
            if self._lock_fd is None:
                make_folder(self.folder)
                fd = os.open(self.folder / LOCK_FILE, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    log.info("another writer owns the journal folder; reports here wait for their commit")
                    return False
                self._lock_fd = fd
            with self._engine.connect() as connection:
                positions = load_positions(connection)
                changes = read_changes(connection)
                claim_folder(self.folder, database_id(connection))
            reader = JournalReader(self.folder, positions)
            stale = reader.stale_positions()
            if stale:
                with self._engine.begin() as connection:
                    delete_positions(connection, stale)
            state = WriterState(self.folder / STATE_FILE, create=True)
            state.raise_changes(changes)
        except (OSError, sa_exc.SQLAlchemyError) as error:
            # Said once at warning level (a folder that cannot be written stays so): reports wait meanwhile.
            log.log(logging.DEBUG if self._warned else logging.WARNING,
                    "journals not open (%s); reports wait for their commit; retrying every %.0f s", error,
                    OPEN_RETRY_SECONDS)
            self._warned = True
            return False
        self.reader, self.state = reader, state
        self.publish(stopping=False)
        log.info("writing the journals of %s", self.folder)
        return True

    def poll(self, room: int, stopping: bool) -> list[Journaled]:
        """Every few milliseconds: the journals' new entries (up to `room`), the change number read, the state
        published. Between looks: nothing."""
        if not self.open():
            return []
        now = time.monotonic()
        active = self.active
        if now - self._polled_at < (JOURNAL_POLL_SECONDS if active else IDLE_POLL_SECONDS):
            return []
        self._polled_at = now
        entries = self.read(room)
        if not active or now - self._changes_read_at >= IDLE_POLL_SECONDS:
            self._read_changes()
        self.publish(stopping)
        return entries

    def read(self, room: int, everything: bool = False) -> list[Journaled]:
        """Up to `room` entries, decoded and prepared for the batch. `everything`: see JournalReader.read."""
        if self.reader is None:
            return []
        if room <= 0:
            self.reader.caught_up = False
            return []
        entries = self.reader.read(room, everything)
        out = []
        for entry in entries:
            try:
                report = wire.decode_journal_entry(entry.body, self._analyses)
            except wire.WireError as error:
                # Not ours to read (another release): keep every entry from here on, for that release to write.
                log.error("journal %s: entry at byte %d unreadable (%s)", entry.journal, entry.start, error)
                self.reader.hold(entry)
                break
            report.journal = (entry.journal, entry.start, entry.end)
            try:
                prepare(report, self._dialect)
            except Exception:  # noqa: BLE001 - the write prepares it again and fails that report alone
                report.prepared = None
            out.append(Journaled(report, entry))
        if entries:
            self.active_at = time.monotonic()
        return out

    def _read_changes(self) -> None:
        assert self.state is not None
        self._changes_read_at = time.monotonic()
        try:
            with self._engine.connect() as connection:
                self.state.raise_changes(read_changes(connection))
        except sa_exc.SQLAlchemyError:
            self.healthy = False

    def publish(self, stopping: bool) -> None:
        if self.state is not None and self.reader is not None:
            self.state.publish(self.healthy and not stopping, self.reader.caught_up)

    def after_batch(self, done: list[Journaled], unavailable: bool) -> bool:
        """After a batch (`unavailable`: the database failed some of it): healthy again when it did not; move the
        journals' positions on, or (True) read them again from the saved ones, so the caller drops the journal
        entries it holds."""
        self.healthy = not unavailable
        if not done or self.reader is None:
            return False
        failed = [j for j in done if j.exception(timeout=0) is not None]
        refused = [j for j in failed if isinstance(j.exception(timeout=0), (sa_exc.IntegrityError, sa_exc.DataError))]
        for journaled in refused:
            self._set_aside(journaled)
        if len(refused) < len(failed):
            self.healthy = False
        if failed:
            self.reader.rewind()
        ends: dict[str, int] = {}
        for journaled in done:
            if journaled.exception(timeout=0) is None:
                ends[journaled.entry.journal] = max(ends.get(journaled.entry.journal, 0), journaled.entry.end)
                self.written += 1
        self.reader.committed(ends)
        return bool(failed)

    def clean_up(self, force: bool = False) -> None:
        """Delete the journals that are done and written, then their positions (at most once a second)."""
        if self.reader is None:
            return
        gone = self.reader.finished(force=force)
        if gone:
            try:
                with self._engine.begin() as connection:
                    delete_positions(connection, gone)
            except sa_exc.SQLAlchemyError as error:  # deleted again at the next start
                log.debug("journal positions not deleted yet: %s", error)

    def _set_aside(self, journaled: Journaled) -> None:
        """A journal entry the database refuses (not that it is unreachable: this entry alone): keep it in a file
        for a person, and move its journal past it so the others are written."""
        assert self.reader is not None
        entry = journaled.entry
        folder = self.folder / "refused"
        try:
            make_folder(folder)
            (folder / f"{entry.journal.replace(':', '_')}-{entry.start}.entry").write_bytes(entry.body)
            with self._engine.begin() as connection:
                save_positions(connection, {entry.journal: (entry.start, entry.end)})
        except (OSError, sa_exc.SQLAlchemyError, JournalOutOfOrder) as error:
            log.error("journal %s: could not set aside the refused entry at byte %d: %s", entry.journal,
                      entry.start, error)
            return
        self.reader.committed({entry.journal: entry.end})
        log.error("the database refused a journaled report (%s); kept in %s", journaled.exception(timeout=0),
                  folder)

    def withdraw(self) -> None:
        """No worker may journal from now on (the writer stops)."""
        if self.state is not None:
            self.state.withdraw()

    def pending(self) -> bool:
        return self.reader is not None and self.reader.pending()

    def close(self) -> None:
        if self.state is not None:
            self.state.withdraw()
            self.state.close()
            self.state = None
        if self.reader is not None:
            self.reader.close()
            self.reader = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)  # releases the folder for the next writer
            self._lock_fd = None
