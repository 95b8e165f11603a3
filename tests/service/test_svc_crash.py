"""What survives a crash: every report answered 201 is stored exactly once when every process of the service is
killed mid-load, when a web node is lost for good, and when the database stops mid-load; nothing is half-written."""

from __future__ import annotations

import time

import pytest
from servers import (
    Load,
    assert_stored_exactly_once,
    free_port,
    private_postgres_cluster,
    service_env,
    start_serve,
    token,
)
from svc_helpers import postgres_url, reset_postgres


def _load_for(load: Load, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        time.sleep(0.05)


def test_every_process_killed_mid_load_then_restarted_loses_nothing_and_stores_nothing_twice(db_url, tmp_path):
    env = service_env(DIAGNOSER_DATABASE_URL=db_url, DIAGNOSER_DATA_DIR=str(tmp_path / "data"))
    port = free_port()
    server = start_serve(tmp_path, env, port, "--workers", "2", "--threads", "8")
    ingest = token(env, tmp_path, "crash")
    load = Load([server.base], ingest, clients=16)
    load.start()
    try:
        _load_for(load, 2.0)
        server.kill()  # master and workers, mid-request
        killed_at = load.sent()
        _load_for(load, 0.5)  # clients meet a closed port
        server = start_serve(tmp_path, env, port, "--workers", "2", "--threads", "8")
        _load_for(load, 1.5)
    finally:
        load.stop()
    try:
        load.finish([server.base])
    finally:
        server.stop()
    assert killed_at > 50 and load.statuses[0] > 0  # there was load, and the kill cut some of it off
    assert_stored_exactly_once(db_url, load)


def test_two_nodes_on_postgresql_one_lost_for_good(tmp_path):
    """Two `diagnoser serve` nodes (separate data folders and ports, as two machines) on one PostgreSQL; one is
    killed mid-load and never comes back; its clients go on with the other."""
    url = postgres_url()
    reset_postgres(url)
    nodes = []
    for name in ("a", "b"):
        folder = tmp_path / name
        folder.mkdir()
        env = service_env(DIAGNOSER_DATABASE_URL=url, DIAGNOSER_DATA_DIR=str(folder / "data"))
        nodes.append(start_serve(folder, env, None, "--workers", "2", "--threads", "8"))
    ingest = token(nodes[0].env, tmp_path, "fleet")
    load = Load([n.base for n in nodes], ingest, clients=24)
    load.start()
    try:
        _load_for(load, 2.0)
        nodes[0].kill()
        _load_for(load, 2.0)  # half the requests meet the dead node and are resent, some to the live one
    finally:
        load.stop()
    try:
        load.finish([nodes[1].base])
    finally:
        nodes[1].stop()
    assert load.statuses[0] > 0
    assert_stored_exactly_once(url, load)


@pytest.fixture
def private_postgres():
    """A PostgreSQL cluster of this test's own, so it can be stopped and started mid-load."""
    yield from private_postgres_cluster("diagnoser-test-pg-", max_connections=100)


def test_the_database_stopped_mid_load_is_503_with_retry_after_never_500(private_postgres, tmp_path):
    url, start_db, stop_db = private_postgres
    env = service_env(DIAGNOSER_DATABASE_URL=url, DIAGNOSER_DATA_DIR=str(tmp_path / "data"))
    server = start_serve(tmp_path, env, None, "--workers", "2", "--threads", "8")
    ingest = token(env, tmp_path, "outage")
    load = Load([server.base], ingest, clients=16)
    load.start()
    try:
        _load_for(load, 1.5)
        stop_db()  # an immediate stop: like a crash of the database server
        during = dict(load.statuses)
        _load_for(load, 2.0)
        refused = load.statuses[503] - during.get(503, 0)
        start_db()
        _load_for(load, 2.0)
    finally:
        load.stop()
    try:
        load.finish([server.base])
    finally:
        server.stop()
    assert refused > 0  # the outage was answered 503, with Retry-After (checked below), never 500
    assert_stored_exactly_once(url, load)
    log = server.log()
    assert log.count("database unavailable") <= 4, log  # the cause logged once per worker, not per request
    assert "database writable again" in log
