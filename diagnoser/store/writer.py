"""Group commit: one thread per worker process writes every pending report in one transaction.

Why: a durable commit costs an fsync (about 275/s here, SQLite and PostgreSQL alike), and one writing transaction per
request under two workers fights over SQLite's write lock. Requests hand their report to this thread and wait; the
thread takes everything queued, writes it in one transaction, commits, then wakes each request. A request therefore
answers 201 only once its report is committed; while one batch commits the next one gathers, so batches grow
exactly when load does, and cost nothing in latency when idle.

A failing batch is retried report by report, so one bad report (say, a value PostgreSQL refuses) fails alone;
an unreachable database fails them all with the database's error, which the web layer turns into 503.
"""

from __future__ import annotations

import logging
import os
import queue
import threading
from concurrent.futures import CancelledError
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable

from sqlalchemy import exc as sa_exc
from sqlalchemy import Connection
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session, sessionmaker

from diagnoser.store.db import WRITE_OPTION, sqlite_writing_on, writing_on
from diagnoser.store.ingest import NewReport, Stored, prepare, store_reports

log = logging.getLogger(__name__)

_RETRYABLE = {"40P01", "40001"}  # deadlock_detected, serialization_failure
CHECKPOINT_EVERY = 200  # reports; SQLite's default threshold, 1000 pages, is ~250 of them

# A store answers each report with where it went, or with the error that refused it alone (a revoked token).
StoreFn = Callable[[Connection, list[NewReport]], list[Stored | Exception]]


_STATE_GUARD = threading.Lock()
_PENDING, _RUNNING, _CANCELLED, _DONE = range(4)


class Pending:
    """A report waiting for the writer, with the part of a concurrent.futures.Future we use.

    Why not a Future: one is made per request and resolved in the writer's loop while the write lock may be held,
    and a Future's Condition (Python-level notify) cost more CPU there than the SQL; this is one lock, released once.
    """

    __slots__ = ("report", "_done", "_state", "_result", "_error")

    def __init__(self, report: NewReport) -> None:
        self.report = report
        self._done = threading.Lock()
        self._done.acquire()
        self._state = _PENDING
        self._result: Stored | None = None
        self._error: BaseException | None = None

    def set_running_or_notify_cancel(self) -> bool:
        with _STATE_GUARD:
            if self._state == _CANCELLED:
                return False
            self._state = _RUNNING
            return True

    def cancel(self) -> bool:
        """Withdraw the report if the writer has not taken it; True when it is (now) withdrawn."""
        with _STATE_GUARD:
            if self._state == _PENDING:
                self._state = _CANCELLED
                self._done.release()
            return self._state == _CANCELLED

    def set_result(self, result: Stored) -> None:
        self._result, self._state = result, _DONE
        self._done.release()

    def set_exception(self, error: BaseException) -> None:
        self._error, self._state = error, _DONE
        self._done.release()

    def _wait(self, timeout: float | None) -> None:
        if not self._done.acquire(timeout=-1 if timeout is None else timeout):
            raise FutureTimeout()
        self._done.release()  # stays open for any later wait

    def result(self, timeout: float | None = None) -> Stored:
        self._wait(timeout)
        if self._state == _CANCELLED:
            raise CancelledError()
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result

    def exception(self, timeout: float | None = None) -> BaseException | None:
        self._wait(timeout)
        return self._error


class BatchCommitter:
    """Writes batches of pending reports on one kept-open connection: retries, one-by-one fallback, checkpoints.

    Shared by the in-process writer thread (BatchWriter) and the writer process (store.writer_process), so the two
    store reports with the same guarantees.
    """

    def __init__(self, factory: sessionmaker[Session], store: StoreFn = store_reports) -> None:
        self._factory = factory
        self._store = store
        self._connection: Connection | None = None
        self._sqlite = factory.kw["bind"].dialect.name == "sqlite"
        self._unchecked = 0  # SQLite: reports committed since the last WAL checkpoint
        self.batches = 0
        self.written = 0

    @property
    def dialect(self) -> Dialect:
        return self._factory.kw["bind"].dialect

    def _open(self) -> Connection:
        """The writer's own connection, kept open between batches (and replaced after a failure)."""
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            engine = self._factory.kw["bind"]
            self._connection = engine.connect().execution_options(**{WRITE_OPTION: True})
            self._unchecked = 0
            if self._sqlite:  # checkpoints are ours, after the write lock is released
                self._connection.connection.driver_connection.execute("PRAGMA wal_autocheckpoint = 0")
        return self._connection

    def _checkpoint(self, written: int) -> None:
        """Copy the SQLite WAL back into the database now and then, once the batch is answered.

        Why not SQLite's own: its automatic checkpoint runs inside the commit that crosses the threshold, so inside
        the write lock, stalling every writer for the copy and its fsyncs. A PASSIVE checkpoint out here blocks no
        writer (and skips frames a reader still needs); committed data is durable either way.
        """
        self._unchecked += written
        if self._unchecked < CHECKPOINT_EVERY or self._connection is None:
            return
        self._unchecked = 0
        try:
            self._connection.connection.driver_connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except Exception as error:  # noqa: BLE001 - the reports are committed; the next checkpoint catches up
            log.debug("WAL checkpoint skipped: %s", error)

    def close(self) -> None:
        self._drop_connection()

    def _fail(self, batch: list[Pending], error: BaseException) -> None:
        self._drop_connection()
        for pending in batch:
            pending.set_exception(error)

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                pass
            self._connection = None

    def write(self, batch: list[Pending], attempts: int = 3) -> None:
        """Store every report of `batch` in one transaction and resolve each pending with where it went, or with
        the error that kept it out (the others of the batch are still stored when only it fails)."""
        try:
            connection = self._open()
            transaction = sqlite_writing_on if self._sqlite else writing_on
            with transaction(connection) as connection:
                stored = self._store(connection, [p.report for p in batch])
        except sa_exc.OperationalError as error:
            # PostgreSQL may pick this transaction as a deadlock victim (two batches meeting on new and existing
            # groups at once) or fail it on serialization: the whole transaction rolled back, so try it again.
            if getattr(error.orig, "sqlstate", None) in _RETRYABLE and attempts > 1:
                log.info("batch of %d retried after %s", len(batch), error.orig.sqlstate)  # type: ignore[union-attr]
                self.write(batch, attempts - 1)
                return
            self._fail(batch, error)
            return
        except (sa_exc.IntegrityError, sa_exc.DataError, sa_exc.ProgrammingError) as error:
            if len(batch) == 1:
                if attempts > 1 and isinstance(error, sa_exc.IntegrityError):  # e.g. its group vanished meanwhile
                    self.write(batch, attempts - 1)
                else:
                    batch[0].set_exception(error)
                return
            log.warning("batch of %d failed (%s); writing its reports one by one", len(batch), type(error).__name__)
            for item in batch:
                self.write([item])
            return
        except BaseException as error:  # database unreachable, or a bug: every waiter learns of it
            self._fail(batch, error)
            if not isinstance(error, Exception):
                raise
            return
        self.batches += 1
        self.written += len(batch)
        for pending, result in zip(batch, stored):
            if isinstance(result, BaseException):
                pending.set_exception(result)
            else:
                pending.set_result(result)
        if self._sqlite:
            self._checkpoint(len(batch))


class BatchWriter:
    """The in-process writer: a thread per worker process that group-commits what its request threads submit.

    Used when no writer process serves the workers (the Flask development server, tests, a gunicorn started
    without Diagnoser's configuration) and as the fallback when that process is gone.
    """

    def __init__(self, factory: sessionmaker[Session], batch_max: int = 200, store: StoreFn = store_reports) -> None:
        self._factory = factory
        self._batch_max = batch_max
        self.committer = BatchCommitter(factory, store)
        self._queue: queue.SimpleQueue[Pending] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0

    @property
    def batches(self) -> int:
        return self.committer.batches

    @property
    def written(self) -> int:
        return self.committer.written

    def submit(self, report: NewReport) -> Pending:
        """Queue `report`; the answer resolves to where it was stored, once committed."""
        self._ensure_thread()
        try:
            prepare(report, self.committer.dialect)  # in the caller's thread, not under the write lock
        except Exception:  # noqa: BLE001 - the write prepares it again and fails that report alone, as it should
            report.prepared = None
        pending = Pending(report)
        self._queue.put(pending)
        return pending

    def write(self, report: NewReport, timeout: float) -> Stored:
        """Store `report` and return where, once committed. On timeout the report is withdrawn if the writer has
        not taken it yet (then TimeoutError: nothing stored, so a 503 is the truth); if it is already being
        written, its outcome decides, so an answer never contradicts what the database holds."""
        future = self.submit(report)
        try:
            return future.result(timeout=timeout)
        except FutureTimeout:
            if future.cancel():
                raise
            return future.result()

    def sync(self) -> None:
        """Nothing to wait for: this writer answers only once committed (RemoteWriter.sync's counterpart)."""

    def announce(self, changes: int) -> None:
        """Nothing remembered here to forget (RemoteWriter.announce's counterpart)."""

    def _ensure_thread(self) -> None:
        # Started lazily, and again after a fork: a thread does not survive into a forked child.
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._thread = threading.Thread(target=self._run, name="diagnoser-writer", daemon=True)
                self._thread.start()

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._batch_max:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            batch = [p for p in batch if p.set_running_or_notify_cancel()]
            if batch:
                self.committer.write(batch)
