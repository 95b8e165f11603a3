"""Fixtures for the notification tests: a database of each kind, a stand-in remote, and a worker on them."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))  # svc_helpers, servers

from notify_helpers import Clock  # noqa: E402
from remote import Remote, start_remote  # noqa: E402
from svc_helpers import fresh_database, migrated_template  # noqa: E402

from diagnoser.notify.worker import Worker, WorkerConfig  # noqa: E402
from diagnoser.store.channels import generate_key  # noqa: E402
from diagnoser.store.db import make_engine, make_sessionmaker  # noqa: E402


@pytest.fixture(scope="session")
def notify_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return migrated_template(tmp_path_factory.mktemp("notify-template"))


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, notify_template: Path, tmp_path: Path) -> str:
    """An empty, migrated database of each kind."""
    return fresh_database(request.param, notify_template, tmp_path)


@pytest.fixture
def sessions(db_url: str) -> Iterator[object]:
    engine = make_engine(db_url)
    yield make_sessionmaker(engine)
    engine.dispose()


@pytest.fixture
def key() -> str:
    return generate_key()


@pytest.fixture
def remote() -> Iterator[Remote]:
    server = start_remote()
    yield server
    server.stop()


@pytest.fixture
def clock() -> Clock:
    return Clock(datetime.now(UTC))


@pytest.fixture
def make_worker(sessions: object, key: str, clock: Clock) -> Iterator[object]:
    workers: list[Worker] = []

    def make(**changes: object) -> Worker:
        options: dict[str, object] = {"keys": key, "base_url": "https://diagnoser.example", "allow_private": True,
                                      "timeout": 2.0, "scan_delay": 30.0, "backoff_base": 1.0}
        options.update(changes)
        worker = Worker(sessions, WorkerConfig(**options), clock=clock)  # type: ignore[arg-type]
        workers.append(worker)
        return worker

    yield make
    for worker in workers:
        worker._pool.shutdown(wait=True)


@pytest.fixture
def app(db_url: str, key: str) -> Iterator[object]:
    from diagnoser.web import create_app

    application = create_app({"database_url": db_url, "token_cache_seconds": 0.0, "base_url": "http://testserver",
                              "encryption_key": key, "allow_private_webhooks": True})
    yield application
    application.extensions["diagnoser"].engine.dispose()


@pytest.fixture
def client(app: object) -> object:
    return app.test_client()  # type: ignore[attr-defined]
