"""Engines, sessions, and what a database error means for the caller.

SQLite runs in WAL mode (readers never block the writer) with synchronous=FULL: a commit is on disk before it
returns, so a 201 survives a power cut, and group commit (store.writer) pays that fsync once per batch.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 5_000
WRITE_OPTION = "diagnoser_write"


class DatabaseError(Exception):
    """The database cannot be used as configured; the message is one line a person can act on."""


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Let SQLAlchemy own transactions: pysqlite's own BEGIN handling would defer locking until the first write,
    # which turns concurrent writes into "database is locked" errors half way instead of orderly waits.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.execute("PRAGMA synchronous = FULL")
    cursor.execute("PRAGMA foreign_keys = ON")
    cursor.close()


def _sqlite_on_begin(conn: Any) -> None:
    # A writing transaction says so (WRITE_OPTION) and takes the write lock up front with BEGIN IMMEDIATE, so it
    # waits its turn at the start instead of failing half way when a read lock cannot be upgraded.
    conn.exec_driver_sql("BEGIN IMMEDIATE" if conn.get_execution_options().get(WRITE_OPTION) else "BEGIN")


def is_sqlite(url: str) -> bool:
    return make_url(url).get_backend_name() == "sqlite"


def make_engine(url: str, statement_timeout: float | None = None, **kwargs: Any) -> Engine:
    """An Engine for `url`; for a SQLite file, its folder is created first (zero-configuration start).

    On PostgreSQL, `statement_timeout` (seconds) is set for every connection when it opens (libpq's startup
    `options`), so a statement stuck behind a lock ends within the promised time without a round trip per
    transaction. Raises DatabaseError for a URL that names no known database or whose driver is not installed.
    """
    try:
        parsed = make_url(url)
    except sa_exc.ArgumentError:
        raise DatabaseError(f"not a database URL: {url.split(':')[0]!r}...") from None
    try:
        if parsed.get_backend_name() == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                Path(parsed.database).expanduser().parent.mkdir(parents=True, exist_ok=True)
                kwargs.setdefault("pool_size", 40)  # a worker's request threads, plus the writer's connection
                kwargs.setdefault("max_overflow", 10)
            engine = create_engine(parsed, **kwargs)
            event.listen(engine, "connect", _sqlite_on_connect)
            event.listen(engine, "begin", _sqlite_on_begin)
            return engine
        kwargs.setdefault("pool_pre_ping", True)
        kwargs.setdefault("pool_size", 10)
        kwargs.setdefault("max_overflow", 20)
        if parsed.get_backend_name() == "postgresql":
            # No server-side prepared statements: psycopg prepares a query it has run five times, and PostgreSQL
            # may then keep one plan for any values, made with the statistics of that moment (a fresh table's:
            # empty), so the batch lookup went on scanning a table that had since grown. Planned each time instead;
            # it also keeps PgBouncer in transaction mode safe, where a prepared statement may be on another
            # server connection.
            connect_args: dict[str, Any] = {"connect_timeout": 5, "prepare_threshold": None}
            if statement_timeout:
                connect_args["options"] = f"-c statement_timeout={int(statement_timeout * 1000)}"
            kwargs.setdefault("connect_args", connect_args)
        return create_engine(parsed, **kwargs)
    except sa_exc.NoSuchModuleError:
        raise DatabaseError(f"no database dialect for {parsed.drivername!r}: Diagnoser runs on SQLite and "
                            "PostgreSQL (postgresql+psycopg://...)") from None
    except ModuleNotFoundError as error:
        extra = " (pip install 'diagnoser[postgres]')" if parsed.get_backend_name() == "postgresql" else ""
        raise DatabaseError(f"the driver for {parsed.drivername!r} is not installed: no module {error.name!r}"
                            f"{extra}") from None
    except OSError as error:
        raise DatabaseError(f"cannot create the database folder: {error}") from None


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)


@contextmanager
def writing(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for one writing transaction: committed on success, rolled back (nothing half-written) on error."""
    with factory() as session:
        options: Any = {WRITE_OPTION: True}
        session.connection(execution_options=options)
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


@contextmanager
def reading(factory: sessionmaker[Session]) -> Iterator[Session]:
    """A session for reads only."""
    with factory() as session:
        yield session


_UNAVAILABLE_SQLITE = ("database is locked", "disk i/o error", "database or disk is full", "readonly database",
                       "unable to open database file", "disk full")


def unavailable_reason(error: BaseException) -> str | None:
    """Why the database cannot take this request now (one line, no secrets), or None when `error` is not about
    the database being unreachable, locked, full or read-only (a bug or a refused value is not "unavailable")."""
    if isinstance(error, sa_exc.TimeoutError):
        return "no free database connection in time"
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError)) or (
        isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated
    ):
        orig = getattr(error, "orig", None)
        lines = str(orig if orig is not None else error).strip().splitlines()
        return (lines[0] if lines else type(error).__name__)[:300]
    if isinstance(error, sa_exc.DBAPIError):
        text = str(getattr(error, "orig", error)).lower()
        if any(marker in text for marker in _UNAVAILABLE_SQLITE):
            return str(error.orig).strip().splitlines()[0][:300]
    return None


def is_retryable(error: BaseException) -> bool:
    """A transaction PostgreSQL rolled back to break a deadlock or a serialization conflict: run it again."""
    return getattr(getattr(error, "orig", None), "sqlstate", None) in {"40P01", "40001"}


def safe_url(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except sa_exc.ArgumentError:
        return "<unparseable URL>"
