"""Engines and sessions. SQLite gets WAL with synchronous=NORMAL (readers never block the writer, a commit is one
WAL append) and a busy timeout long enough for two worker processes to take turns on the write lock."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from pathlib import Path

try:
    import fcntl
except ImportError:  # not on Windows: SQLite's busy handler alone then
    fcntl = None  # type: ignore[assignment]
from typing import Any

import sqlite3

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE_OPTION = "diagnoser_write"


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions: pysqlite's own BEGIN handling would defer locking until the first write,
    # which turns concurrent upserts into "database is locked" errors instead of orderly waits.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = NORMAL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # A writing transaction says so (see `writing`) and takes the write lock up front with BEGIN IMMEDIATE, so it
    # waits its turn instead of failing half way when a read lock cannot be upgraded. Readers never lock in WAL.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


class _FileWriteLock:
    """One writer at a time across processes, handed over promptly.

    SQLite's own busy handler makes a blocked writer sleep with growing back-off (up to 100 ms a nap), so two
    gunicorn workers taking turns on the write lock waste most of their time asleep: p99 near a second. An flock on
    a file beside the database blocks in the kernel instead and wakes the next writer as soon as the lock is free.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._thread_lock = threading.Lock()
        self._fd: int | None = None
        self._pid = 0

    def _file(self) -> int:
        if self._fd is None or self._pid != os.getpid():  # a forked child needs its own open file
            self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._thread_lock:
            fd = self._file()
            fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fd, fcntl.LOCK_UN)


_WRITE_LOCKS: dict[str, _FileWriteLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()


_NO_LOCK: set[str] = set()


def _write_lock(engine: Engine) -> _FileWriteLock | None:
    """The cross-process write lock of a SQLite file database (None for anything else)."""
    found = _WRITE_LOCKS.get(str(engine.url))
    if found is not None or str(engine.url) in _NO_LOCK:
        return found
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" or fcntl is None:
        _NO_LOCK.add(str(url))
        return None
    path = Path(str(Path(url.database).expanduser().resolve()) + "-writelock")
    with _WRITE_LOCKS_GUARD:
        for lock in _WRITE_LOCKS.values():  # two URLs naming one file share one lock
            if lock.path == path:
                break
        else:
            lock = _FileWriteLock(path)
        _WRITE_LOCKS[str(url)] = lock
        return lock


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An Engine for `url`; for a SQLite file, its folder is created first (zero-configuration start)."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
        if parsed.database and parsed.database != ":memory:":
            kwargs.setdefault("pool_size", 20)  # a gthread worker's threads, plus the writer's own connection
            kwargs.setdefault("max_overflow", 20)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    kwargs.setdefault("pool_pre_ping", True)
    kwargs.setdefault("pool_size", 10)
    kwargs.setdefault("max_overflow", 20)
    if parsed.get_backend_name() == "postgresql":
        kwargs.setdefault("connect_args", {"connect_timeout": 5})
    return create_engine(url, **kwargs)


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def writing(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for one writing transaction: committed on success, rolled back (nothing half-written) on error."""
    bind = factory.kw.get("bind")
    lock = _write_lock(bind) if isinstance(bind, Engine) else None
    with lock.held() if lock is not None else nullcontext(), factory() as session:
        session.connection(execution_options={WRITE_OPTION: True})
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def writing_on(connection: Connection) -> Iterator[Connection]:
    """Like `writing`, on a connection the caller keeps open (the group-commit writer's own): no pool checkout
    and no session machinery per transaction, which matters because the transaction holds the write lock."""
    lock = _write_lock(connection.engine)
    with lock.held() if lock is not None else nullcontext():
        with connection.begin():
            yield connection


@contextmanager
def sqlite_writing_on(connection: Connection) -> Iterator[Connection]:
    """`writing_on` for SQLite with the transaction driven on the driver's connection (BEGIN IMMEDIATE .. COMMIT).

    Why: SQLAlchemy's begin and commit cost ~100 us of Python per transaction, as much as a small batch's SQL,
    and the group-commit writer runs one per batch. Statements inside must go to the driver's connection too
    (store.ingest does on SQLite); a driver error leaves as the SQLAlchemy exception Core would raise.
    """
    raw = connection.connection.driver_connection
    lock = _write_lock(connection.engine)
    with lock.held() if lock is not None else nullcontext(), sqlite_errors_as_sqlalchemy():
        raw.execute("BEGIN IMMEDIATE")
        try:
            yield connection
            raw.execute("COMMIT")
        except BaseException:
            if raw.in_transaction:
                raw.execute("ROLLBACK")
            raise


def sqlite_driver_cursor(connection: Connection) -> Any | None:
    """SQLite's own cursor on `connection`, or None for any other database. Statements inside a transaction that
    sqlite_writing_on drives must go through it (Core would try to begin a transaction of its own)."""
    if connection.dialect.name == "sqlite" and connection.dialect.paramstyle == "qmark":
        return connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
    return None


@contextmanager
def sqlite_errors_as_sqlalchemy() -> Iterator[None]:
    """Raise errors of SQLite's own driver as the SQLAlchemy exceptions Core would raise (callers, such as the
    group-commit writer, decide by those whether to retry)."""
    try:
        yield
    except sqlite3.Error as error:
        raise sa_exc.DBAPIError.instance(None, None, error, sqlite3.Error) from error


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only."""
    with factory() as session:
        yield session
