"""Migrations keep what was stored: a database of the journal era (0002) with reports and diagnoses comes to head
with every report's text and diagnoses, no drift between the models and the migrations, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import datetime

from sqlalchemy import text
from svc_helpers import postgres_url, reset_postgres

from diagnoser.store.db import make_engine
from diagnoser.store.migrate import check, upgrade


def _fresh(db_url: str, tmp_path) -> str:
    if db_url.startswith("sqlite"):
        return f"sqlite:///{tmp_path}/old.db"
    url = postgres_url()
    engine = make_engine(url)
    with engine.begin() as c:
        c.execute(text("DROP SCHEMA public CASCADE"))
        c.execute(text("CREATE SCHEMA public"))
    engine.dispose()
    return url


def test_a_journal_era_database_comes_to_head_with_everything(db_url, tmp_path):
    url = _fresh(db_url, tmp_path)
    upgrade(url, "0002")
    engine = make_engine(url)
    at = datetime(2026, 11, 30, 12, 0, 0)
    with engine.begin() as c:
        c.execute(text("INSERT INTO teams (id, name, created_at) VALUES (1, 'default', :t)"), {"t": at})
        c.execute(text("INSERT INTO projects (id, team_id, name, created_at) VALUES (1, 1, 'vision', :t)"), {"t": at})
        c.execute(
            text(
                "INSERT INTO groups (id, project_id, fingerprint, cause, rule, title, exception_type, first_seen,"
                " last_seen, count, status) VALUES (1, 1, 'fp', 'input_layer', 'r', 't', 'ValueError', :t, :t,"
                " 3, 'open')"
            ),
            {"t": at},
        )
        for rid, tb in ((1025, "ValueError: a"), (1026, "ValueError: b"), (2049, "ValueError: a")):
            c.execute(
                text(
                    "INSERT INTO reports (id, project_id, group_id, received_at, traceback, exception_type,"
                    ' exception_message, cause, fingerprint, ruleset_version, "user") VALUES (:id, 1, 1, :t, :tb,'
                    " 'ValueError', :tb, 'input_layer', 'fp', 'v1', :u)"
                ),
                {"id": rid, "t": at, "tb": tb, "u": f"user{rid}"},
            )
            c.execute(
                text(
                    "INSERT INTO diagnoses (report_id, rank, cause, rule, ruleset_version, confidence, title,"
                    " explanation, fix, evidence, fingerprint) VALUES (:id, 0, 'input_layer', 'r', 'v1', 0.9,"
                    " 'T', 'E', 'F', :ev, 'fp')"
                ),
                {"id": rid, "ev": json.dumps([{"source": "message", "text": tb}])},
            )
    engine.dispose()

    upgrade(url)
    check(url)  # the models and the migrations agree
    engine = make_engine(url)
    try:
        with engine.begin() as c:
            rows = c.execute(
                text(
                    'SELECT r.id, r."user", a.traceback, a.diagnoses FROM reports r '
                    "JOIN analyses a ON a.id = r.analysis_id ORDER BY r.id"
                )
            ).all()
            texts = c.execute(text("SELECT count(*) FROM analyses")).scalar()
            c.execute(
                text(
                    "INSERT INTO reports (project_id, group_id, analysis_id, received_at, group_status) "
                    "VALUES (1, 1, 1, :t, 'existing')"
                ),
                {"t": at},
            )
            next_id = c.execute(text("SELECT max(id) FROM reports")).scalar()
    finally:
        engine.dispose()
    assert [(r[0], r[1], r[2]) for r in rows] == [
        (1025, "user1025", "ValueError: a"),
        (1026, "user1026", "ValueError: b"),
        (2049, "user2049", "ValueError: a"),
    ]
    diagnoses = rows[0][3] if isinstance(rows[0][3], list) else json.loads(rows[0][3])
    assert diagnoses[0]["cause"] == "input_layer" and diagnoses[0]["fix"] == "F"
    assert texts == 2  # the same text twice is kept once
    engine = make_engine(url)
    try:
        with engine.connect() as c:
            assert c.execute(text("SELECT sum(count) FROM group_days")).scalar() == 3  # rollups filled from reports
            assert c.execute(text("SELECT sum(count) FROM cause_days")).scalar() == 3  # and the causes per day
            assert c.execute(text("SELECT count(*) FROM group_facets WHERE facet = 'user'")).scalar() == 3
            assert c.execute(text("SELECT message FROM groups")).scalar() == "ValueError: a"
    finally:
        engine.dispose()
    assert next_id == 2050  # ids go on after the largest one, in arrival order


def teardown_module() -> None:
    """The next PostgreSQL test needs the schema made again: this one dropped it."""
    import os

    if os.environ.get("DIAGNOSER_TEST_POSTGRES_URL"):
        reset_postgres(os.environ["DIAGNOSER_TEST_POSTGRES_URL"], force=True)
