"""Alembic environment. The URL comes from the caller (diagnoser.store.migrate) or else from the settings
(DIAGNOSER_DATABASE_URL), never from a hand-edited ini file. Batch mode lets ALTERs run on SQLite."""

from __future__ import annotations

from alembic import context

from diagnoser.settings import load_settings
from diagnoser.store import models  # noqa: F401  (registers the tables on the metadata)
from diagnoser.store.base import Base
from diagnoser.store.db import make_engine

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    return config.get_main_option("sqlalchemy.url") or load_settings().resolved_database_url


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _run(connection: object) -> None:
    context.configure(connection=connection, target_metadata=target_metadata, render_as_batch=True,
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run(connection)
        return
    engine = make_engine(_url())
    try:
        with engine.begin() as conn:
            _run(conn)
    finally:
        engine.dispose()


if context.is_offline_mode():
    run_offline()
else:
    run_online()
