"""The write path under faults, in one process: unreachable, locked, full or read-only databases are 503 with
Retry-After, a failed write leaves nothing half-written, a timed-out report is never written, and one bad report
fails alone."""

from __future__ import annotations

import threading
import time

import pytest
from sqlalchemy import event, func, select
from sqlalchemy import exc as sa_exc
from svc_helpers import auth, make_token, post_report

from diagnoser.store.analysis import analyse
from diagnoser.store.base import utcnow
from diagnoser.store.db import make_engine
from diagnoser.store.ingest import NewReport, store_batch
from diagnoser.store.models import AnalysisRow, Group, Report
from diagnoser.store.writer import Refused, Unavailable, Writer, WriteTimeout
from diagnoser.web import create_app

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:9/nothing"


def _assert_503(response):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"].isdigit()
    assert response.get_json()["error"]["code"] == "database_unavailable"


def _report(project_id: int = 1, text: str = "ValueError: x") -> NewReport:
    return NewReport(project_id=project_id, received_at=utcnow(), traceback=text, analysis=analyse(text))


def _counts(app):
    with app.extensions["diagnoser"].sessions() as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Group, Report, AnalysisRow))


def test_an_unreachable_database_is_503_with_retry_after_and_health_still_answers():
    app = create_app({"database_url": UNREACHABLE, "token_cache_seconds": 0.0, "metrics_public": True})
    client = app.test_client()
    _assert_503(post_report(client, "dgn_whatever-token-value"))
    _assert_503(client.get("/api/v1/groups", headers=auth("dgn_whatever-token-value")))
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_the_database_going_away_after_auth_is_503_and_logged_once(app, client, ingest_token, caplog):
    services = app.extensions["diagnoser"]
    services.tokens.ttl = 60.0
    assert post_report(client, ingest_token).status_code == 201  # the token is now cached
    services.writer = Writer(make_engine(UNREACHABLE))
    for _ in range(5):
        _assert_503(post_report(client, ingest_token))
    lines = [r for r in caplog.records if "database unavailable" in r.getMessage()]
    assert len(lines) == 1 and "127.0.0.1" in lines[0].getMessage()  # the cause, once, not per request


def test_a_failure_at_commit_leaves_nothing_half_written(app, client, ingest_token):
    def store_then_fail(connection, reports):
        store_batch(connection, reports)  # groups, texts and reports are written...
        raise sa_exc.OperationalError("COMMIT", {}, Exception("connection lost"))  # ...then the commit fails

    services = app.extensions["diagnoser"]
    before = _counts(app)
    services.writer = Writer(services.engine, store=store_then_fail)
    _assert_503(post_report(client, ingest_token))
    assert _counts(app) == before
    services.writer = Writer(services.engine)
    assert post_report(client, ingest_token).get_json()["group_status"] == "new"


def test_one_bad_report_in_a_batch_fails_alone(app):
    """The writer retries a failing batch report by report, so the good ones are still stored."""
    make_token(app, "vision", "ingest")
    gate = threading.Event()

    def store(connection, reports):
        gate.wait(5)
        if any(r.project_id == 999 for r in reports):
            raise sa_exc.IntegrityError("INSERT", {}, Exception("no such project"))
        return store_batch(connection, reports)

    writer = Writer(app.extensions["diagnoser"].engine, store=store)
    answers: dict[int, object] = {}

    def send(index: int, project_id: int) -> None:
        try:
            answers[index] = writer.write(_report(project_id))
        except Exception as error:  # noqa: BLE001
            answers[index] = error

    threads = [threading.Thread(target=send, args=(i, pid)) for i, pid in enumerate((1, 999, 1))]
    for t in threads:
        t.start()
    time.sleep(0.2)  # all three are queued behind the gate: one batch
    gate.set()
    for t in threads:
        t.join(10)
    assert answers[0].report_id and answers[2].report_id  # type: ignore[union-attr]
    assert isinstance(answers[1], Refused)


def test_a_write_that_times_out_is_withdrawn_or_awaited_never_both(app):
    """A 503 after a timeout must mean "not stored": a queued report is withdrawn; one being written is awaited."""
    make_token(app, "vision", "ingest")
    release = threading.Event()
    written = []

    def slow_store(connection, reports):
        release.wait(10)
        written.extend(reports)
        return store_batch(connection, reports)

    writer = Writer(app.extensions["diagnoser"].engine, store=slow_store, write_timeout=0.3)
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", writer.write(_report())))
    first.start()
    time.sleep(0.1)  # the writer has taken the first report and is stuck writing it
    with pytest.raises(WriteTimeout):
        writer.write(_report())  # still queued at the timeout: withdrawn
    release.set()
    first.join(10)
    assert results["first"].report_id  # taken before its timeout: awaited, stored, answered
    time.sleep(0.2)
    assert len(written) == 1


def test_a_deadlock_victim_batch_is_retried(app):
    make_token(app, "vision", "ingest")

    class Deadlock(Exception):
        sqlstate = "40P01"

    calls = []

    def store(connection, reports):
        calls.append(len(reports))
        if len(calls) == 1:
            raise sa_exc.OperationalError("UPDATE groups", {}, Deadlock("deadlock detected"))
        return store_batch(connection, reports)

    stored = Writer(app.extensions["diagnoser"].engine, store=store).write(_report())
    assert stored.group_status == "new" and calls == [1, 1]


def test_a_full_queue_is_503_at_once(app):
    make_token(app, "vision", "ingest")
    gate = threading.Event()

    def blocked(connection, reports):
        gate.wait(10)
        return store_batch(connection, reports)

    writer = Writer(app.extensions["diagnoser"].engine, store=blocked, queue_max=1, write_timeout=5)
    threading.Thread(target=lambda: writer.write(_report()), daemon=True).start()  # taken, blocked
    time.sleep(0.2)
    threading.Thread(target=lambda: writer.write(_report()), daemon=True).start()  # queued: the queue is full
    time.sleep(0.2)
    started = time.monotonic()
    with pytest.raises(Unavailable, match="queue is full"):
        writer.write(_report())
    assert time.monotonic() - started < 0.5
    gate.set()


sqlite_only = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)  # a SQLite file's own failure modes


@sqlite_only
def test_ready_means_writable_a_read_only_database_is_not_ready(db_url, app, client, ingest_token, caplog):
    """A read-only database still answers SELECTs: readiness is a real write, and so 503."""
    assert client.get("/readyz").status_code == 200
    services = app.extensions["diagnoser"]
    engine = make_engine(db_url)
    event.listen(engine, "connect", lambda conn, _: conn.execute("PRAGMA query_only = 1"))
    services.writer = Writer(engine)
    services.ready_cache = None
    response = client.get("/readyz")
    assert response.status_code == 503 and "readonly" in response.get_json()["reason"].lower()
    for _ in range(3):
        _assert_503(post_report(client, ingest_token))
    assert sum("database unavailable" in r.getMessage() for r in caplog.records) == 1


@pytest.fixture
def small_disk(tmp_path):
    """A real 2 MB file system (tmpfs), so a full disk is a real ENOSPC; needs root, as CI is."""
    import os
    import subprocess

    mount = tmp_path / "disk"
    mount.mkdir()
    if (
        os.geteuid() != 0
        or subprocess.run(
            ["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(mount)], capture_output=True
        ).returncode
        != 0
    ):
        pytest.fail("mounting a tmpfs needs root (CI runs as root)") if os.environ.get("CI") else pytest.skip(
            "not root"
        )
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], capture_output=True)


def test_a_full_disk_is_not_ready_answers_503_and_recovers_by_itself(small_disk, caplog):
    from diagnoser.store.migrate import upgrade

    url = f"sqlite:///{small_disk}/diagnoser.db"
    upgrade(url)
    app = create_app({"database_url": url, "token_cache_seconds": 0.0})
    client = app.test_client()
    token = make_token(app, "vision", "ingest")
    assert post_report(client, token).status_code == 201
    with app.extensions["diagnoser"].engine.connect() as connection:  # an empty WAL: any commit must grow it
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    filler = small_disk / "filler"
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * 65536)
        except OSError:
            pass
    app.extensions["diagnoser"].ready_cache = None
    response = client.get("/readyz")
    assert response.status_code == 503, response.get_json()
    for n in range(3):
        _assert_503(post_report(client, token, {"traceback": f"ValueError: {n}"}))
    assert sum("database unavailable" in r.getMessage() for r in caplog.records) == 1
    filler.unlink()
    deadline = time.monotonic() + 5
    while post_report(client, token).status_code != 201:
        assert time.monotonic() < deadline, "the writer did not come back once there was room"
        time.sleep(0.2)
    app.extensions["diagnoser"].engine.dispose()


@sqlite_only
def test_a_write_lock_held_elsewhere_is_503_within_about_a_second_and_stores_nothing(db_url, app, client, ingest_token):
    """Another process holding SQLite's write lock (a CLI session, a migration): requests answer 503 quickly
    instead of waiting out a 30 s busy timeout, and a report answered 503 is never stored later."""
    import sqlite3

    path = db_url.removeprefix("sqlite:///")
    holder = sqlite3.connect(path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    before = _counts(app)
    try:
        started = time.monotonic()
        _assert_503(post_report(client, ingest_token))
        assert time.monotonic() - started < 2.5
        started = time.monotonic()
        _assert_503(post_report(client, ingest_token))  # in trouble: answered at once
        assert time.monotonic() - started < 0.5
        assert client.get("/healthz").status_code == 200
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # the writer probes the database and comes back by itself
        response = post_report(client, ingest_token)
        if response.status_code == 201:
            break
        time.sleep(0.2)
    assert response.status_code == 201
    assert _counts(app)[1] == before[1] + 1  # only the report answered 201
