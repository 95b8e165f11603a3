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
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Callable

from sqlalchemy import exc as sa_exc
from sqlalchemy import Connection
from sqlalchemy.orm import Session, sessionmaker

from diagnoser.store.db import WRITE_OPTION, writing_on
from diagnoser.store.ingest import NewReport, Stored, store_reports

log = logging.getLogger(__name__)

_RETRYABLE = {"40P01", "40001"}  # deadlock_detected, serialization_failure

StoreFn = Callable[[Session, list[NewReport]], list[Stored]]


class BatchWriter:
    def __init__(self, factory: sessionmaker[Session], batch_max: int = 200, store: StoreFn = store_reports) -> None:
        self._factory = factory
        self._batch_max = batch_max
        self._store = store
        self._queue: queue.SimpleQueue[tuple[NewReport, Future[Stored]]] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._connection: Connection | None = None
        self.batches = 0
        self.written = 0

    def submit(self, report: NewReport) -> Future[Stored]:
        """Queue `report`; the future resolves to where it was stored, once committed."""
        self._ensure_thread()
        future: Future[Stored] = Future()
        self._queue.put((report, future))
        return future

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
            batch = [(r, f) for r, f in batch if f.set_running_or_notify_cancel()]
            if batch:
                self._write(batch)

    def _open(self) -> Connection:
        """The writer's own connection, kept open between batches (and replaced after a failure)."""
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            engine = self._factory.kw["bind"]
            self._connection = engine.connect().execution_options(**{WRITE_OPTION: True})
        return self._connection

    def _fail(self, batch: list[tuple[NewReport, Future[Stored]]], error: BaseException) -> None:
        self._drop_connection()
        for _, future in batch:
            future.set_exception(error)

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                pass
            self._connection = None

    def _write(self, batch: list[tuple[NewReport, Future[Stored]]], attempts: int = 3) -> None:
        try:
            with writing_on(self._open()) as session:
                stored = self._store(session, [r for r, _ in batch])
        except sa_exc.OperationalError as error:
            # PostgreSQL may pick this transaction as a deadlock victim (two batches meeting on new and existing
            # groups at once) or fail it on serialization: the whole transaction rolled back, so try it again.
            if getattr(error.orig, "sqlstate", None) in _RETRYABLE and attempts > 1:
                log.info("batch of %d retried after %s", len(batch), error.orig.sqlstate)  # type: ignore[union-attr]
                self._write(batch, attempts - 1)
                return
            self._fail(batch, error)
            return
        except (sa_exc.IntegrityError, sa_exc.DataError, sa_exc.ProgrammingError) as error:
            if len(batch) == 1:
                if attempts > 1 and isinstance(error, sa_exc.IntegrityError):  # e.g. its group vanished meanwhile
                    self._write(batch, attempts - 1)
                else:
                    batch[0][1].set_exception(error)
                return
            log.warning("batch of %d failed (%s); writing its reports one by one", len(batch), type(error).__name__)
            for item in batch:
                self._write([item])
            return
        except BaseException as error:  # database unreachable, or a bug: every waiter learns of it
            self._fail(batch, error)
            if not isinstance(error, Exception):
                raise
            return
        self.batches += 1
        self.written += len(batch)
        for (_, future), result in zip(batch, stored):
            future.set_result(result)
