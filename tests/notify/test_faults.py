"""Faults: `diagnoser worker` killed with SIGKILL in the middle of a delivery run delivers everything after a
restart; the database unavailable for a while delays messages and loses none; two workers on PostgreSQL never send
one event twice (and keep one message a second per channel between them)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pytest
from notify_helpers import channel, deliveries, other_error, project, report
from servers import private_postgres_cluster, service_env
from svc_helpers import postgres_url, reset_postgres

from diagnoser.store.db import make_engine, make_sessionmaker


def _worker(db_url: str, key: str, log: Path) -> subprocess.Popen[bytes]:
    env = service_env(DIAGNOSER_DATABASE_URL=db_url, DIAGNOSER_ENCRYPTION_KEY=key,
                      DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS="1", DIAGNOSER_NOTIFY_POLL_SECONDS="0.1",
                      DIAGNOSER_NOTIFY_TIMEOUT_SECONDS="1", DIAGNOSER_BASE_URL="https://diagnoser.example")
    return subprocess.Popen([sys.executable, "-m", "diagnoser", "worker"], env=env, stdout=log.open("ab"),
                            stderr=subprocess.STDOUT, start_new_session=True)


def _setup(sessions, key, remote, channels: int, events: int) -> dict[str, set[int]]:
    """`channels` webhook channels of one team, each hearing `events` new groups; the (path -> event ids) due."""
    team_id, project_id = project(sessions)
    paths = [f"/c{n}" for n in range(channels)]
    for path in paths:
        channel(sessions, key, team_id, remote.plan(path), kind="webhook")
    for n in range(events):
        report(sessions, project_id, other_error(n))
    event_ids = {d.event_id for d in deliveries(sessions)} if deliveries(sessions) else set()
    assert not event_ids  # nothing fanned out before a worker runs
    return {path: set() for path in paths}


def _received(remote) -> dict[str, Counter[int]]:
    seen: dict[str, Counter[int]] = {}
    for request in list(remote.requests):
        seen.setdefault(request.path, Counter()).update(e["id"] for e in request.json()["events"])
    return seen


def _wait_all(remote, paths, events: int, seconds: float) -> dict[str, Counter[int]]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        seen = _received(remote)
        if all(len(seen.get(p, ())) == events for p in paths):
            return seen
        time.sleep(0.1)
    return _received(remote)


def _wait_recorded(sessions, count: int, seconds: float) -> list[str]:
    deadline = time.monotonic() + seconds
    while True:
        states = [d.state for d in deliveries(sessions)]
        if states == ["sent"] * count or time.monotonic() > deadline:
            return states
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(5)


def test_a_worker_killed_mid_delivery_delivers_everything_after_a_restart(db_url, sessions, key, remote, tmp_path):
    remote.delay = 0.25
    paths = _setup(sessions, key, remote, channels=8, events=25)
    log = tmp_path / "worker.log"
    worker = _worker(db_url, key, log)
    try:
        deadline = time.monotonic() + 30
        while len(remote.requests) < 5:
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
            time.sleep(0.02)
        os.killpg(worker.pid, signal.SIGKILL)  # mid-run: some messages answered, some in flight, most not sent
        worker.wait(5)
        before = len(remote.requests)
        assert before < 8 * 3  # it was killed with work left
        time.sleep(0.5)
        worker = _worker(db_url, key, log)
        # what was in flight waits for its lease (12 s) to be taken again: sent again if its answer came back
        # before the kill but was not recorded
        states = _wait_recorded(sessions, 8 * 25, seconds=60)
        seen = _wait_all(remote, paths, 25, seconds=5)
    finally:
        _stop(worker)
    assert all(len(seen.get(p, ())) == 25 for p in paths), (seen, log.read_text())
    assert states == ["sent"] * (8 * 25)
    repeated = sum(n - 1 for counts in seen.values() for n in counts.values() if n > 1)
    assert repeated <= 4 * 10  # only what was in flight when it died (4 channels at once, 10 events a message)


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of this test's own, to stop and start."""
    yield from private_postgres_cluster("diagnoser-notify-pg-", max_connections=50)


def test_the_database_unavailable_for_a_while_delays_messages_and_loses_none(private_postgres, key, remote, tmp_path):
    url, start_db, stop_db = private_postgres
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    remote.delay = 0.3
    paths = _setup(sessions, key, remote, channels=6, events=25)
    log = tmp_path / "worker.log"
    worker = _worker(url, key, log)
    try:
        deadline = time.monotonic() + 30
        while len(remote.requests) < 3:
            assert time.monotonic() < deadline and worker.poll() is None, log.read_text()
            time.sleep(0.02)
        engine.dispose()
        stop_db()
        stopped = len(remote.requests)
        time.sleep(4)
        assert len(remote.requests) <= stopped + 4  # what was in flight, no more: nothing claimed meanwhile
        start_db()
        states = _wait_recorded(sessions, 6 * 25, seconds=60)
        seen = _wait_all(remote, paths, 25, seconds=5)
        assert worker.poll() is None
    finally:
        _stop(worker)
        engine.dispose()
    assert all(len(seen.get(p, ())) == 25 for p in paths), (seen, log.read_text())
    assert all(n == 1 for counts in seen.values() for n in counts.values()), "a message was sent twice"
    assert "database unavailable" in log.read_text()
    assert states == ["sent"] * (6 * 25)
    engine.dispose()


def test_two_workers_on_postgresql_never_send_one_event_twice(key, remote, tmp_path):
    url = postgres_url()
    reset_postgres(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    remote.delay = 0.05
    paths = _setup(sessions, key, remote, channels=16, events=30)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    workers = [_worker(url, key, log) for log in logs]
    try:
        seen = _wait_all(remote, paths, 30, seconds=90)
    finally:
        for worker in workers:
            _stop(worker)
    assert all(len(seen.get(p, ())) == 30 for p in paths), (seen, [log.read_text() for log in logs])
    assert all(n == 1 for counts in seen.values() for n in counts.values()), "an event was sent twice"
    for path in paths:  # one message a second per channel, between the two workers too
        times = sorted(r.at for r in remote.to(path))
        assert len(times) == 3 and all(b - a >= 0.9 for a, b in zip(times, times[1:], strict=False)), times
    engine.dispose()
