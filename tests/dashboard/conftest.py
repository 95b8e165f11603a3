"""Fixtures of the dashboard tests: each runs on SQLite and on PostgreSQL (DIAGNOSER_TEST_POSTGRES_URL; on CI a
missing URL is a failure, as in tests/service)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from dash_helpers import make_token, make_user
from flask import Flask
from svc_helpers import fresh_database, migrated_template

from diagnoser.store import users
from diagnoser.store.channels import generate_key
from diagnoser.web import create_app


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """argon2 with its smallest cost in these tests (the service's is argon2-cffi's default, ~0.1-0.5 s a hash):
    the same algorithm and code path, a thousandth of the time."""
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=64, parallelism=1))


@pytest.fixture(scope="session")
def dash_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory.mktemp("dash-template"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, dash_template: Path, tmp_path: Path) -> str:
    """An empty, migrated database of each kind."""
    return fresh_database(request.param, dash_template, tmp_path)


@pytest.fixture
def app(db_url: str) -> Iterator[Flask]:
    app = create_app({"database_url": db_url, "token_cache_seconds": 0.0, "base_url": "http://testserver",
                      "secret_key": "test-secret", "encryption_key": generate_key()})
    yield app
    app.extensions["diagnoser"].engine.dispose()


@pytest.fixture
def team(app: Flask) -> dict[str, str]:
    """Our team ("default": an admin, a member, tokens) and another team ("rivals": a member and a token)."""
    make_user(app, "admin@ours.io", "admin")
    make_user(app, "member@ours.io", "member")
    make_user(app, "spy@rivals.io", "member", team="rivals")
    return {
        "ingest": make_token(app, "vision", "ingest"),
        "read": make_token(app, "vision", "read"),
        "rival_ingest": make_token(app, "theirs", "ingest", team="rivals"),
    }
