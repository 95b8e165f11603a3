"""Group commit: one writer thread per process stores every pending report in one transaction.

A request puts its report on the writer's bounded queue and waits; the writer takes everything queued, writes it in
one transaction, commits, and only then answers each request, so a 201 always means committed. A full queue, a
database that is unreachable or locked by another process, or no commit within the write timeout is a 503 with
Retry-After, and a report whose request gave up before the writer claimed it is never written.

Why a batch: a durable commit costs an fsync (a few hundred a second here, SQLite and PostgreSQL alike); one
transaction for every report that arrived meanwhile pays it once, so batches grow exactly when load does and cost
nothing in latency when idle. A failing batch is retried report by report, so one report the database refuses
fails alone; a database that is down fails them all, and the writer then probes it until it answers again.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy import exc as sa_exc

from diagnoser.store.base import utcnow
from diagnoser.store.db import WRITE_OPTION, is_retryable, unavailable_reason
from diagnoser.store.ingest import NewReport, Stored, store_batch
from diagnoser.store.models import Heartbeat, table

log = logging.getLogger(__name__)

StoreFn = Callable[[Connection, list[NewReport]], list[Stored | Exception]]

LOCK_WAIT_SECONDS = 1.0  # SQLite: longer than this without the write lock is "locked by another process"
LOCK_POLL_MS = 100
PROBE_EVERY_SECONDS = 0.5


class Unavailable(Exception):
    """The report was not stored and will not be: the caller should answer 503 and the client send it again."""

    def __init__(self, reason: str, retry_after: int = 5) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class WriteTimeout(Unavailable):
    """No commit within the write timeout, and the report was withdrawn before the writer took it."""


class Refused(Exception):
    """The database refused this report alone (a value it will not take): a bug of ours, logged, never retried."""


_CLAIM_LOCK = threading.Lock()
_WAITING, _CLAIMED, _WITHDRAWN, _DONE = range(4)


class Pending:
    """A report (or, with report None, a readiness probe) waiting for the writer.

    Why a bare lock (held from creation, released once when resolved) rather than an Event or a Future: the
    writer resolves a whole batch in a row, and an Event's Condition costs several times a lock's release there,
    all of it while the request threads it wakes contend for the GIL.
    """

    __slots__ = ("report", "_done", "_state", "_result", "_error")

    def __init__(self, report: NewReport | None) -> None:
        self.report = report
        self._done = threading.Lock()
        self._done.acquire()
        self._state = _WAITING
        self._result: Stored | None = None
        self._error: BaseException | None = None

    def claim(self) -> bool:
        """The writer takes it, unless its request withdrew it first."""
        with _CLAIM_LOCK:
            if self._state != _WAITING:
                return False
            self._state = _CLAIMED
            return True

    def withdraw(self) -> bool:
        """The request gives up; True when the writer had not taken it (so it will never be written)."""
        with _CLAIM_LOCK:
            if self._state == _WAITING:
                self._state = _WITHDRAWN
                return True
            return self._state == _WITHDRAWN

    def resolve(self, result: Stored | None = None, error: BaseException | None = None) -> None:
        with _CLAIM_LOCK:
            if self._state in (_WITHDRAWN, _DONE):
                return
            self._state = _DONE
        self._result, self._error = result, error
        self._done.release()

    def wait(self, timeout: float) -> Stored | None:
        if not self._done.acquire(timeout=timeout):
            if self.withdraw():
                raise WriteTimeout(f"not committed within {timeout:g} s")
            self._done.acquire()  # claimed: the write is under way and its outcome decides the answer
        if self._error is not None:
            raise self._error
        return self._result


def _claim_all(batch: list[Pending]) -> list[Pending]:
    """Claim every pending of the batch not withdrawn, under one acquisition of the lock instead of one each."""
    with _CLAIM_LOCK:
        claimed = [p for p in batch if p._state == _WAITING]
        for pending in claimed:
            pending._state = _CLAIMED
    return claimed


def _resolve_all(outcomes: list[tuple[Pending, Stored | None, BaseException | None]]) -> None:
    with _CLAIM_LOCK:
        for pending, result, error in outcomes:
            pending._state, pending._result, pending._error = _DONE, result, error
    for pending, _, _ in outcomes:
        pending._done.release()


class Writer:
    """The writer thread of one process, started at the first write (and again in a forked child)."""

    def __init__(
        self,
        engine: Engine,
        *,
        batch_max: int = 200,
        queue_max: int = 2000,
        write_timeout: float = 10.0,
        store: StoreFn = store_batch,
        on_batch: Callable[[int, float], None] | None = None,
    ) -> None:
        self._engine = engine
        self._sqlite = engine.dialect.name == "sqlite"
        self._batch_max = batch_max
        self._write_timeout = write_timeout
        self._store = store
        self._on_batch = on_batch
        self._queue_max = queue_max
        self._queue: deque[Pending] = deque()
        self._work = threading.Condition(threading.Lock())
        self._idle = False  # the writer waits for work: a submission must wake it
        self._connection: Connection | None = None
        self._thread: threading.Thread | None = None
        self._pid = 0
        self._start_lock = threading.Lock()
        self.trouble: str | None = None  # why the database cannot be written now; None when it can
        self._trouble_since = 0.0
        self.node = f"{socket.gethostname()}:{os.getpid()}"

    # -- the request side ---------------------------------------------------------------------------------------

    def write(self, report: NewReport) -> Stored:
        """Store `report` and return where, once committed; Unavailable (503) when it was not and will not be."""
        result = self._submit(Pending(report), self._write_timeout)
        assert result is not None
        return result

    def probe(self, timeout: float = 2.0) -> None:
        """A real write (this node's heartbeat row) through the same queue: raises Unavailable when not writable."""
        self._submit(Pending(None), timeout)

    def _submit(self, pending: Pending, timeout: float) -> Stored | None:
        self._ensure_thread()
        if self.trouble is not None and pending.report is not None:
            raise Unavailable(self.trouble)
        with self._work:
            if len(self._queue) >= self._queue_max:
                raise Unavailable("the write queue is full", retry_after=2)
            self._queue.append(pending)
            if self._idle:
                self._work.notify()
        return pending.wait(timeout)

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._pid == os.getpid() and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or self._pid != os.getpid() or not self._thread.is_alive():
                self._pid = os.getpid()
                self._connection = None  # a connection does not survive into a forked child either
                self._thread = threading.Thread(target=self._run, name="diagnoser-writer", daemon=True)
                self._thread.start()

    # -- the writer thread --------------------------------------------------------------------------------------

    def _take(self) -> list[Pending]:
        """Everything queued (up to a batch), waiting for work when there is none; [] after a quiet probe interval
        while in trouble."""
        with self._work:
            while not self._queue:
                self._idle = True
                woken = self._work.wait(PROBE_EVERY_SECONDS if self.trouble else None)
                self._idle = False
                if not woken and not self._queue:
                    return []
            queued = self._queue
            return [queued.popleft() for _ in range(min(len(queued), self._batch_max))]

    def _drain(self) -> list[Pending]:
        with self._work:
            drained = list(self._queue)
            self._queue.clear()
            return drained

    def _run(self) -> None:
        while True:
            batch = self._take()  # empty: in trouble and idle, so probe the database until it answers
            try:
                self._write(batch)
            except BaseException as error:  # noqa: BLE001 - a bug must not kill the thread and hang every request
                log.exception("the writer failed unexpectedly")
                for pending in batch:
                    pending.resolve(error=Unavailable(f"internal error: {type(error).__name__}"))
                self._drop_connection()

    def _open(self) -> Connection:
        if self._connection is None or self._connection.closed or self._connection.invalidated:
            self._connection = self._engine.connect().execution_options(**{WRITE_OPTION: True})
            if self._sqlite:  # short waits for the write lock, polled, so a stall is noticed (see _begin); on the
                # driver's connection, as SQLAlchemy would begin a transaction for it (this one is never pooled
                # again: a dropped connection is invalidated)
                driver: Any = self._connection.connection.driver_connection
                driver.execute(f"PRAGMA busy_timeout = {LOCK_POLL_MS}")
        return self._connection

    def _drop_connection(self) -> None:
        if self._connection is not None:
            try:
                self._connection.invalidate()
                self._connection.close()
            except Exception:  # noqa: BLE001 - it is being thrown away
                pass
            self._connection = None

    def _write(self, batch: list[Pending], attempts: int = 3) -> None:
        """Write `batch` in one transaction (an empty batch just probes) and resolve every pending of it."""
        try:
            connection = self._open()
            transaction = self._begin(connection, batch)
        except sa_exc.SQLAlchemyError as error:
            self._fail(batch, error)
            return
        if transaction is None:
            return
        claimed = _claim_all(batch)
        reports = [p.report for p in claimed if p.report is not None]
        started = time.monotonic()
        try:
            results = self._store(connection, reports) if reports else []
            if len(reports) < len(claimed) or not batch:
                self._beat(connection)
            transaction.commit()
        except sa_exc.SQLAlchemyError as error:
            self._rollback(transaction)
            self._after_failure(claimed, error, attempts)
            return
        except BaseException:
            self._rollback(transaction)
            raise
        self._healthy()
        answers = iter(results)
        outcomes: list[tuple[Pending, Stored | None, BaseException | None]] = []
        for pending in claimed:
            result = None if pending.report is None else next(answers)
            if isinstance(result, Exception):
                outcomes.append((pending, None, result))
            else:
                outcomes.append((pending, result, None))
        _resolve_all(outcomes)
        if self._on_batch is not None and reports:
            self._on_batch(len(reports), time.monotonic() - started)

    def _begin(self, connection: Connection, batch: list[Pending]) -> Any:
        """Begin the transaction, taking SQLite's write lock; None when nobody is left to write for."""
        waited_since = time.monotonic()
        while True:
            try:
                return connection.begin()
            except sa_exc.OperationalError as error:
                if not (self._sqlite and "locked" in str(error.orig).lower()):
                    raise
                self._rollback_quietly(connection)
                if time.monotonic() - waited_since > LOCK_WAIT_SECONDS:
                    raise
                if batch and not any(p.report is None or p._state == _WAITING for p in batch):
                    return None  # every request of the batch gave up meanwhile

    def _after_failure(self, claimed: list[Pending], error: sa_exc.SQLAlchemyError, attempts: int) -> None:
        if is_retryable(error) and attempts > 1:
            log.info(
                "batch of %d retried after %s", len(claimed), getattr(getattr(error, "orig", None), "sqlstate", "?")
            )
            self._rewrite(claimed, attempts - 1)
            return
        if unavailable_reason(error) is not None or len(claimed) <= 1:
            self._fail(claimed, error)
            return
        log.warning("batch of %d failed (%s); writing its reports one by one", len(claimed), type(error).__name__)
        for pending in claimed:
            self._rewrite([pending], 1)

    def _rewrite(self, claimed: list[Pending], attempts: int) -> None:
        """Write again reports this writer already claimed (their requests wait for the outcome)."""
        for pending in claimed:
            pending._state = _WAITING
        self._write(claimed, attempts)

    def _fail(self, batch: list[Pending], error: BaseException) -> None:
        reason = unavailable_reason(error)
        if reason is None:  # refused by the database, alone (a value it will not take): a bug worth a trace
            log.error("the database refused a report: %s", error)
            failure: BaseException = Refused("the database refused this report; it has been logged")
        else:
            self._troubled(reason)
            self._drop_connection()
            failure = Unavailable(f"database unavailable: {reason}")
        for pending in batch:
            pending.resolve(error=failure)
        if reason is not None:  # what is still queued would fail the same way: answer it now
            for pending in self._drain():
                pending.resolve(error=failure)

    def _troubled(self, reason: str) -> None:
        if self.trouble is None:
            log.warning("database unavailable: %s (answering 503 until it is writable again)", reason)
            self._trouble_since = time.monotonic()
        self.trouble = reason

    def _healthy(self) -> None:
        if self.trouble is not None:
            log.warning("database writable again after %.1f s", time.monotonic() - self._trouble_since)
            self.trouble = None

    def _beat(self, connection: Connection) -> None:
        beats = table(Heartbeat)
        now = utcnow()
        if connection.execute(beats.update().where(beats.c.node == self.node).values(beat_at=now)).rowcount == 0:
            connection.execute(beats.insert().values(node=self.node, beat_at=now))

    @staticmethod
    def _rollback(transaction: Any) -> None:
        try:
            transaction.rollback()
        except Exception:  # noqa: BLE001 - the connection is dropped by the failure handling anyway
            pass

    @staticmethod
    def _rollback_quietly(connection: Connection) -> None:
        try:
            connection.rollback()
        except Exception:  # noqa: BLE001
            pass
