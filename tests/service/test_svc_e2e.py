"""End to end: real gunicorn and `diagnoser serve`, real HTTP, real tracebacks, tokens made by the real CLI."""

from __future__ import annotations

import re
import socket
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from servers import TEXTS, get, post, service_env, start_gunicorn, start_serve, token
from sqlalchemy import select
from svc_helpers import KERAS_TRACEBACK

from diagnoser.engine import diagnose
from diagnoser.store.db import make_engine, make_sessionmaker
from diagnoser.store.models import Group, Report


@pytest.fixture
def gunicorn_server(db_url: str, tmp_path: Path):
    env = service_env(
        DIAGNOSER_DATABASE_URL=db_url,
        DIAGNOSER_DATA_DIR=str(tmp_path / "data"),
        WEB_CONCURRENCY="2",
        DIAGNOSER_THREADS="8",
        DIAGNOSER_METRICS_TOKEN="scrape-me",
    )
    server = start_gunicorn(tmp_path, env)
    try:
        yield server, tmp_path
    finally:
        server.stop()


def test_gunicorn_ingests_a_real_keras_traceback(gunicorn_server):
    server, cwd = gunicorn_server
    ingest = token(server.env, cwd, "mnist")
    assert ingest.startswith("dgn_") and " " not in ingest
    status, body, headers = post(server.base, ingest, {"traceback": KERAS_TRACEBACK, "meta": {"framework": "keras3"}})
    assert status == 201, body
    assert body["diagnoses"] == diagnose(KERAS_TRACEBACK).to_dict()["tracebacks"][-1]["diagnoses"]
    assert body["diagnoses"][0]["layer"] == "conv2d" and body["diagnoses"][0]["fix"]
    assert body["url"].endswith(f"/groups/{body['group_id']}")
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_two_workers_ingesting_one_new_fingerprint_make_one_group_with_the_exact_count(gunicorn_server, db_url):
    server, cwd = gunicorn_server
    ingest = token(server.env, cwd, "race")
    text = f"Traceback (most recent call last):\nRuntimeError: brand new failure {uuid.uuid4().hex}"
    n = 64
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: post(server.base, ingest, {"traceback": text}), range(n)))
    assert [s for s, _, _ in answers] == [201] * n
    assert sum(1 for _, b, _ in answers if b["group_status"] == "new") == 1
    assert len({b["group_id"] for _, b, _ in answers}) == 1
    ids = sorted(b["report_id"] for _, b, _ in answers)
    assert len(set(ids)) == n
    reader = token(server.env, cwd, "race", "read")
    group = get(server.base, reader, f"/api/v1/groups/{answers[0][1]['group_id']}")
    assert group["count"] == n and group["latest_report_id"] == ids[-1]  # ids follow arrival
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            from diagnoser.store.models import OutboxEvent

            rows = session.scalars(select(Report.id).where(Report.group_id == group["id"])).all()
            events = session.scalars(select(OutboxEvent.kind).where(OutboxEvent.group_id == group["id"])).all()
            assert events == ["new"]  # 64 reports of one new cause at once: one event to tell
            assert sorted(rows) == ids and session.get(Group, group["id"]).count == n  # type: ignore[union-attr]
    finally:
        engine.dispose()


def test_metrics_are_summed_over_the_workers_and_need_the_token(gunicorn_server):
    import urllib.error
    import urllib.request

    server, cwd = gunicorn_server
    ingest = token(server.env, cwd, "metrics")
    for text in TEXTS * 4:
        assert post(server.base, ingest, {"traceback": text})[0] == 201
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(server.base + "/metrics", timeout=10)
    assert refused.value.code == 404
    request = urllib.request.Request(server.base + "/metrics", headers={"Authorization": "Bearer scrape-me"})
    text = urllib.request.urlopen(request, timeout=10).read().decode()
    total = sum(float(v) for v in re.findall(r"^diagnoser_reports_ingested_total(?:\{[^}]*\})? (\S+)$", text, re.M))
    assert total == len(TEXTS) * 4  # whichever worker answered the scrape, every worker's reports are counted
    assert "diagnoser_write_batch_reports_bucket" in text


def test_a_chunked_body_with_an_invalid_chunk_size_is_400(gunicorn_server):
    server, cwd = gunicorn_server
    ingest = token(server.env, cwd, "chunks")
    host, port = server.base.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as s:
        s.sendall(
            (
                f"POST /api/v1/reports HTTP/1.1\r\nHost: {host}\r\nAuthorization: Bearer {ingest}\r\n"
                "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"
            ).encode()
        )
        answer = s.recv(65536).decode(errors="replace")
    assert answer.startswith("HTTP/1.1 400"), answer[:200]


def test_diagnoser_serve_starts_from_nothing_in_the_users_data_folder(tmp_path):
    """A fresh machine: no configuration, no data folder; `diagnoser serve` names its database on its first line,
    creates it in the per-user data folder and migrates it; tokens made from any other folder work."""
    home = tmp_path / "home"
    env = service_env(HOME=str(home), XDG_DATA_HOME=str(home / ".local" / "share"))
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server = start_serve(tmp_path, env)
    try:
        database = home / ".local" / "share" / "diagnoser" / "diagnoser.db"
        assert database.exists()
        assert server.log().splitlines()[0] == f"diagnoser: database sqlite:///{database}"
        ingest = token(env, elsewhere, "demo")
        status, body, _ = post(server.base, ingest, {"traceback": KERAS_TRACEBACK})
        assert status == 201 and body["group_status"] == "new"
        read = token(env, elsewhere, "demo", "read")
        assert get(server.base, read, "/api/v1/groups")["groups"][0]["count"] == 1
        assert not (tmp_path / "data").exists() and not (elsewhere / "data").exists()
    finally:
        server.stop()
