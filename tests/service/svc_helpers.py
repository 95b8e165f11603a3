"""Helpers shared by the service tests (a module of its own: `conftest` is a name other test folders use too)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from diagnoser.store.base import Base
from diagnoser.store.db import make_engine, writing
from diagnoser.store.migrate import upgrade
from diagnoser.store.tokens import create_token

FIXTURES = Path(__file__).parent / "fixtures"
KERAS_TRACEBACK = (FIXTURES / "keras3_input_rank_missing_channel.txt").read_text()


def make_token(app: Flask, project: str = "vision", scope: str = "ingest", team: str = "default") -> str:
    with writing(app.extensions["diagnoser"].sessions) as session:
        _, token = create_token(session, project, scope, team)
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_report(client: FlaskClient, token: str, body: Any = None, **kwargs: Any) -> Any:
    if body is None:
        body = {"traceback": KERAS_TRACEBACK}
    return client.post("/api/v1/reports", json=body, headers=auth(token), **kwargs)


def postgres_url() -> str:
    url = os.environ.get("DIAGNOSER_TEST_POSTGRES_URL", "")
    if not url:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but DIAGNOSER_TEST_POSTGRES_URL is unset: the PostgreSQL tests must run on CI")
        pytest.skip("DIAGNOSER_TEST_POSTGRES_URL is unset (bash .ci/run starts a PostgreSQL)")
    return url


_PG_MIGRATED: dict[str, bool] = {}


def reset_postgres(url: str, force: bool = False) -> None:
    """Empty every table of the test database (migrating it first when needed, or always with `force`)."""
    if force:
        _PG_MIGRATED.pop(url, None)
    engine = make_engine(url)
    try:
        if url not in _PG_MIGRATED:
            with engine.begin() as conn:
                conn.execute(text("DROP SCHEMA public CASCADE"))
                conn.execute(text("CREATE SCHEMA public"))
            upgrade(url, engine=engine)
            _PG_MIGRATED[url] = True
        tables = ", ".join(t.name for t in Base.metadata.sorted_tables)
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    finally:
        engine.dispose()


def migrated_template(folder: Path) -> Path:
    """A migrated SQLite database in `folder`, to be copied per test (migrating once is much faster than per test)."""
    from diagnoser.store.migrate import upgrade

    path = folder / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def fresh_database(kind: str, template: Path, tmp_path: Path) -> str:
    """The URL of an empty, migrated database of `kind` ("sqlite": a copy of the template; "postgresql": the test
    database, emptied)."""
    if kind == "sqlite":
        path = tmp_path / "diagnoser.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    url = postgres_url()
    reset_postgres(url)
    return url
