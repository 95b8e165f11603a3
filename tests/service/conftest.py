"""Fixtures for the service tests: every database test runs on SQLite and on PostgreSQL.

PostgreSQL comes from DIAGNOSER_TEST_POSTGRES_URL (.ci/run starts one). Locally, without it, the postgresql cases
are skipped; on CI (CI=true) a missing URL is a failure, so the PostgreSQL suite can never silently vanish.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from svc_helpers import fresh_database, make_token, migrated_template

from diagnoser.web import create_app


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory.mktemp("template"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, sqlite_template: Path, tmp_path: Path) -> str:
    """An empty, migrated database of each kind."""
    return fresh_database(request.param, sqlite_template, tmp_path)


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app({"database_url": db_url, "token_cache_seconds": 0.0, "base_url": "http://testserver"})
    yield app
    app.extensions["diagnoser"].engine.dispose()


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def ingest_token(app: Flask) -> str:
    return make_token(app, "vision", "ingest")


@pytest.fixture
def read_token(app: Flask) -> str:
    return make_token(app, "vision", "read")
