"""The SQLite ingest inserts (store.bulk: plain tuples through the column types' bind processors) store exactly
what a Core insert stores, and a batch gets consecutive ids that match its reports."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

from sqlalchemy import text

from diagnoser.store.bulk import bulk_insert
from diagnoser.store.db import make_engine
from diagnoser.store.migrate import upgrade
from diagnoser.store.models import Diagnosis, Group, Project, Report, Team

_T = datetime(2026, 3, 1, 12, 30, 45, 123456, tzinfo=timezone(timedelta(hours=2)))


def _report(report_id: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {c.name: None for c in Report.__table__.c}
    row.update(id=report_id, project_id=1, group_id=1, received_at=_T, traceback="Traceback\nValueError: x 'é'",
               exception_type="ValueError", exception_message="x", fingerprint="f", ruleset_version="1",
               inputs={"x": [1, 2.5, "ü"]}, versions={"keras": "3.0"}, tags=None, user="me")
    row.update(changes)
    return row


def test_bulk_rows_are_stored_as_core_stores_them(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'bulk.db'}"
    upgrade(url)
    engine = make_engine(url)
    with engine.begin() as conn:
        conn.execute(Team.__table__.insert(), {"id": 1, "name": "t", "created_at": _T})
        conn.execute(Project.__table__.insert(), {"id": 1, "team_id": 1, "name": "p", "created_at": _T})
        conn.execute(Group.__table__.insert(), {"id": 1, "project_id": 1, "fingerprint": "f", "first_seen": _T,
                                                "last_seen": _T, "count": 2, "status": "open"})
        columns = tuple(c.name for c in Report.__table__.c)
        core_rows = [_report(1), _report(3, inputs=None, summary="s", tags={"a": "b"})]
        bulk_rows = [_report(2), _report(4, inputs=None, summary="s", tags={"a": "b"})]
        conn.execute(Report.__table__.insert(), core_rows)
        insert = bulk_insert(Report.__table__, columns, conn.dialect)
        insert.execute(conn, [insert.row([r[c] for c in columns]) for r in bulk_rows])
        d_columns = tuple(c.name for c in Diagnosis.__table__.c if c.name != "id")
        diagnosis = {"rank": 0, "cause": "c", "rule": "r", "ruleset_version": "1", "confidence": 1, "layer": None,
                     "expected": None, "received": "(1,)", "title": "t", "explanation": "", "fix": "f",
                     "fix_code": None, "evidence": [{"kind": "k", "text": "é"}], "fingerprint": "f"}
        conn.execute(Diagnosis.__table__.insert(), [{**diagnosis, "report_id": 1}])
        d_insert = bulk_insert(Diagnosis.__table__, d_columns, conn.dialect)
        d_insert.execute(conn, [d_insert.row([{**diagnosis, "report_id": 2}[c] for c in d_columns])])
        raw = {row[0]: row[1:] for row in conn.exec_driver_sql("SELECT * FROM reports ORDER BY id")}
        raw_d = {row[1]: row[2:] for row in conn.exec_driver_sql("SELECT * FROM diagnoses ORDER BY id")}
    engine.dispose()
    assert raw[1] == raw[2] and raw[3] == raw[4]
    assert raw_d[1] == raw_d[2]


def test_a_batch_gets_ids_matching_its_reports(app, ingest_token) -> None:
    from diagnoser.store.analysis import analyse
    from diagnoser.store.base import utcnow
    from diagnoser.store.db import writing
    from diagnoser.store.ingest import NewReport, store_reports

    services = app.extensions["diagnoser"]
    texts = ["ValueError: one", "KeyError: two", "ValueError: one", "TypeError: three"]
    for _ in range(2):  # the second batch follows the first
        reports = [NewReport(project_id=1, received_at=utcnow(), traceback=t, analysis=analyse(t),
                             meta={"run_id": f"run-{i}"}) for i, t in enumerate(texts)]
        with writing(services.sessions) as session:
            stored = store_reports(session, reports)
        with services.engine.connect() as conn:
            rows = {r[0]: (r[1], r[2], r[3]) for r in conn.execute(text(
                "SELECT id, traceback, run_id, group_id FROM reports"))}
        for i, answer in enumerate(stored):
            assert rows[answer.report_id] == (texts[i], f"run-{i}", answer.group_id)
        assert stored[0].group_id == stored[2].group_id != stored[1].group_id


def test_a_remembered_group_that_was_deleted_is_looked_up_again(app, client, ingest_token) -> None:
    """The writer's connection remembers group ids; a group deleted meanwhile (reclassify) fails that guess, and
    the retry stores the report in a new group."""
    from svc_helpers import post_report

    services = app.extensions["diagnoser"]
    first = post_report(client, ingest_token, {"traceback": "ValueError: one"}).get_json()
    again = post_report(client, ingest_token, {"traceback": "ValueError: one"}).get_json()
    assert again["group_status"] == "existing" and again["group_id"] == first["group_id"]
    with services.engine.begin() as conn:
        conn.execute(text("DELETE FROM diagnoses"))
        conn.execute(text("DELETE FROM reports"))
        conn.execute(text("DELETE FROM groups"))
        # another group takes the freed id where the database reuses ids (SQLite)
        conn.execute(text("INSERT INTO groups (id, project_id, fingerprint, title, exception_type, first_seen, "
                          "last_seen, count, status) VALUES (:id, 1, 'other', '', '', '2026-01-01 00:00:00', "
                          "'2026-01-01 00:00:00', 1, 'open')"), {"id": first["group_id"]})
    answer = post_report(client, ingest_token, {"traceback": "ValueError: one"})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    body = answer.get_json()
    assert body["group_status"] == "new" and body["group_id"] != first["group_id"]
    with services.engine.connect() as conn:
        assert conn.execute(text("SELECT group_id FROM reports")).scalars().all() == [body["group_id"]]
        counts = dict(conn.execute(text("SELECT fingerprint, count FROM groups")).all())
    assert counts["other"] == 1 and sorted(counts.values()) == [1, 1]


def test_the_writer_checkpoints_the_sqlite_wal_itself(tmp_path: Path) -> None:
    """SQLite's automatic checkpoint is off on the writer's connection (it would run inside the write lock); the
    writer checkpoints after every CHECKPOINT_EVERY reports instead, so the database file still receives them."""
    from diagnoser.store.analysis import analyse
    from diagnoser.store.base import utcnow
    from diagnoser.store.db import make_sessionmaker, writing
    from diagnoser.store.ingest import NewReport
    from diagnoser.store.tokens import create_token
    from diagnoser.store.writer import CHECKPOINT_EVERY, BatchWriter

    path = tmp_path / "wal.db"
    url = f"sqlite:///{path}"
    upgrade(url)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with writing(sessions) as session:
        create_token(session, "p", "ingest")
    with engine.connect() as conn:
        conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    size = path.stat().st_size
    writer = BatchWriter(sessions)
    analysis = analyse("ValueError: x")
    assert CHECKPOINT_EVERY <= 200
    for i in range(201):
        writer.write(NewReport(project_id=1, received_at=utcnow(), traceback="ValueError: x " + "y" * 2000,
                               analysis=analysis), timeout=10)
    assert writer.committer._connection is not None
    assert writer.committer._connection.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    assert path.stat().st_size > size + 200 * 1000
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT count(*) FROM reports").scalar() == 201
    engine.dispose()
