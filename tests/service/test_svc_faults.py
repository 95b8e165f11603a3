"""Database faults: unreachable means 503 with Retry-After; a failed write leaves nothing half-written."""

from __future__ import annotations

from sqlalchemy import exc as sa_exc
from sqlalchemy import func, select

from diagnoser.store.db import make_engine, make_sessionmaker
from diagnoser.store.ingest import store_reports
from diagnoser.store.models import Diagnosis, Group, Report
from diagnoser.store.writer import BatchWriter
from diagnoser.web import create_app
from svc_helpers import KERAS_TRACEBACK, auth, post_report

UNREACHABLE = "postgresql+psycopg://nobody@127.0.0.1:9/nothing"


def _assert_503(response):
    assert response.status_code == 503, response.get_data(as_text=True)
    assert response.headers["Retry-After"].isdigit()
    assert response.get_json()["error"]["code"] == "database_unavailable"


def test_an_unreachable_database_is_503_with_retry_after():
    app = create_app({"database_url": UNREACHABLE, "token_cache_seconds": 0.0})
    client = app.test_client()
    _assert_503(post_report(client, "dgn_whatever-token-value"))
    _assert_503(client.get("/api/v1/groups", headers=auth("dgn_whatever-token-value")))
    response = client.get("/readyz")
    assert response.status_code == 503 and response.headers["Retry-After"]
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_the_database_going_away_after_auth_is_503_too(app, client, ingest_token):
    services = app.extensions["diagnoser"]
    services.tokens.ttl = 60.0
    assert post_report(client, ingest_token).status_code == 201  # the token is now cached
    bad = make_sessionmaker(make_engine(UNREACHABLE))
    services.writer = BatchWriter(bad)
    _assert_503(post_report(client, ingest_token))


def _counts(app):
    with app.extensions["diagnoser"].sessions() as session:
        return tuple(session.scalar(select(func.count()).select_from(t)) for t in (Group, Report, Diagnosis))


def test_a_failure_mid_write_leaves_nothing_half_written(app, client, ingest_token):
    def store_then_fail(session, reports):
        store_reports(session, reports)  # groups, reports and diagnoses are written...
        raise sa_exc.OperationalError("COMMIT", {}, Exception("connection lost"))  # ...then the commit fails

    services = app.extensions["diagnoser"]
    before = _counts(app)
    services.writer = BatchWriter(services.sessions, store=store_then_fail)
    _assert_503(post_report(client, ingest_token))
    assert _counts(app) == before
    services.writer = BatchWriter(services.sessions)
    assert post_report(client, ingest_token).get_json()["group_status"] == "new"


def test_one_bad_report_in_a_batch_fails_alone(app):
    """The writer retries a failing batch report by report, so the good ones are still stored."""
    import threading

    from diagnoser.store.analysis import analyse
    from diagnoser.store.base import utcnow
    from diagnoser.store.ingest import NewReport
    from svc_helpers import make_token

    make_token(app, "vision", "ingest")
    services = app.extensions["diagnoser"]
    gate = threading.Event()

    def store(session, reports):
        gate.wait(5)
        if any(r.project_id == 999 for r in reports):
            raise sa_exc.IntegrityError("INSERT", {}, Exception("no such project"))
        return store_reports(session, reports)

    writer = BatchWriter(services.sessions, store=store)
    analysis = analyse(KERAS_TRACEBACK)
    futures = [writer.submit(NewReport(project_id=pid, received_at=utcnow(), traceback="t", analysis=analysis))
               for pid in (1, 999, 1)]
    gate.set()
    assert futures[0].result(10).report_id and futures[2].result(10).report_id
    assert isinstance(futures[1].exception(10), sa_exc.IntegrityError)


def test_a_write_that_times_out_is_withdrawn_or_awaited_never_both(app):
    """A 503 after a timeout must mean "not stored": a queued report is withdrawn; one being written is awaited."""
    import threading
    from concurrent.futures import TimeoutError as FutureTimeout

    import pytest

    from diagnoser.store.analysis import analyse
    from diagnoser.store.base import utcnow
    from diagnoser.store.ingest import NewReport
    from svc_helpers import make_token

    make_token(app, "vision", "ingest")
    services = app.extensions["diagnoser"]
    release = threading.Event()
    written = []

    def slow_store(session, reports):
        release.wait(10)
        written.extend(reports)
        return store_reports(session, reports)

    writer = BatchWriter(services.sessions, store=slow_store)
    report = lambda: NewReport(project_id=1, received_at=utcnow(), traceback="t", analysis=analyse("ValueError: x"))
    results = {}
    first = threading.Thread(target=lambda: results.setdefault("first", writer.write(report(), timeout=0.2)))
    first.start()
    import time

    time.sleep(0.1)  # the writer has taken the first report and is stuck writing it
    with pytest.raises(FutureTimeout):
        writer.write(report(), timeout=0.2)  # still queued at the timeout: withdrawn
    release.set()
    first.join(10)
    assert results["first"].report_id  # taken before its timeout: awaited, stored, answered
    assert len(written) == 1


def test_a_deadlock_victim_batch_is_retried(app):
    from diagnoser.store.analysis import analyse
    from diagnoser.store.base import utcnow
    from diagnoser.store.ingest import NewReport
    from svc_helpers import make_token

    make_token(app, "vision", "ingest")

    class Deadlock(Exception):
        sqlstate = "40P01"

    calls = []

    def store(session, reports):
        calls.append(len(reports))
        if len(calls) == 1:
            raise sa_exc.OperationalError("UPDATE groups", {}, Deadlock("deadlock detected"))
        return store_reports(session, reports)

    writer = BatchWriter(app.extensions["diagnoser"].sessions, store=store)
    stored = writer.write(NewReport(project_id=1, received_at=utcnow(), traceback="t",
                                    analysis=analyse("ValueError: x")), timeout=10)
    assert stored.group_status == "new" and calls == [1, 1]
