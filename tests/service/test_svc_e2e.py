"""End to end: real gunicorn (two gthread workers), real HTTP, real tracebacks, tokens made by the real CLI."""

from __future__ import annotations

import json
import re
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from sqlalchemy import select

from diagnoser.engine import diagnose
from diagnoser.store.db import make_engine, make_sessionmaker
from diagnoser.store.models import Group, Report
from svc_helpers import KERAS_TRACEBACK

ROOT = Path(__file__).resolve().parents[2]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(**extra: str) -> dict[str, str]:
    """The test's environment minus service settings, importing this checkout's code (whatever the editable
    install points at)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSER_") or k.startswith("DIAGNOSER_TEST")}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


def _wait_ready(base: str, process: subprocess.Popen, seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"server exited: {process.stdout.read() if process.stdout else ''}")
        try:
            with urllib.request.urlopen(base + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise AssertionError("server did not become ready")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def _cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run([sys.executable, "-m", "diagnoser", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _get(base: str, token: str, path: str) -> dict:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def _post(base: str, token: str, body: dict) -> tuple[int, dict]:
    request = urllib.request.Request(base + "/api/v1/reports", data=json.dumps(body).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _start_gunicorn(db_url: str, cwd: Path, **extra: str) -> tuple[str, dict[str, str], subprocess.Popen]:
    port = _free_port()
    env = _env(DIAGNOSER_DATABASE_URL=db_url, DIAGNOSER_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="2",
               DIAGNOSER_THREADS="8", **extra)
    process = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", str(ROOT / "deploy" / "gunicorn.conf.py")],
                               env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
    except BaseException:
        _stop(process)
        raise
    return base, env, process


@pytest.fixture
def gunicorn_server(db_url: str, tmp_path: Path):
    base, env, process = _start_gunicorn(db_url, tmp_path)
    try:
        yield base, env, tmp_path
    finally:
        _stop(process)


def _writer_processes(master: int) -> list[int]:
    """The writer processes among the children of the gunicorn master `master`."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if int(stat[1]) == master and "diagnoser.store.writer_process" in command:
            found.append(int(entry.name))
    return found


def _stored(db_url: str) -> int:
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            return len(session.scalars(select(Report.id)).all())
    finally:
        engine.dispose()


def _eventually_stored(db_url: str, expected: int, seconds: float = 10.0) -> int:
    """The stored count once it reaches `expected` (or whatever it is after `seconds`): a report a worker journaled
    is answered 201 a few milliseconds before the writer process writes it (README, "What a 201 means")."""
    deadline = time.monotonic() + seconds
    while True:
        found = _stored(db_url)
        if found >= expected or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def test_gunicorn_ingests_a_real_keras_traceback(gunicorn_server):
    base, env, cwd = gunicorn_server
    out = _cli(env, cwd, "tokens", "create", "--project", "mnist", "--scope", "ingest")
    token = out.strip().splitlines()[-1]
    assert token.startswith("dgn_") and " " not in token
    status, body = _post(base, token, {"traceback": KERAS_TRACEBACK, "meta": {"framework": "keras3"}})
    assert status == 201, body
    expected = diagnose(KERAS_TRACEBACK).to_dict()["tracebacks"][-1]["diagnoses"]
    assert body["diagnoses"] == expected
    if expected:  # the rules name this one: cause, layer and fix come back
        best = body["diagnoses"][0]
        assert best["cause"] and best["layer"] == "conv2d" and best["fix"]
    assert body["url"].endswith(f"/groups/{body['group_id']}")


def test_two_workers_ingesting_one_new_fingerprint_make_one_group_with_the_exact_count(gunicorn_server, db_url):
    base, env, cwd = gunicorn_server
    token = _cli(env, cwd, "tokens", "create", "--project", "race", "--scope", "ingest").strip().splitlines()[-1]
    text = f"Traceback (most recent call last):\nRuntimeError: brand new failure {uuid.uuid4().hex}"
    n = 64
    with ThreadPoolExecutor(32) as pool:
        answers = list(pool.map(lambda _: _post(base, token, {"traceback": text}), range(n)))
    assert [s for s, _ in answers] == [201] * n
    assert sum(1 for _, b in answers if b["group_status"] == "new") == 1
    assert len({b["group_id"] for _, b in answers}) == 1
    # A read sees every report answered 201, journaled ones included (it waits for the writer to write them).
    reader = _cli(env, cwd, "tokens", "create", "--project", "race", "--scope", "read").strip().splitlines()[-1]
    group = _get(base, reader, f"/api/v1/groups/{answers[0][1]['group_id']}")
    assert group["count"] == n
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            groups = session.scalars(select(Group).where(Group.id == answers[0][1]["group_id"])).all()
            assert len(groups) == 1 and groups[0].count == n
            assert len(session.scalars(select(Report.id).where(Report.group_id == groups[0].id)).all()) == n
    finally:
        engine.dispose()


def test_diagnoser_serve_starts_from_nothing(tmp_path):
    """A fresh machine: no configuration, no data folder; `diagnoser serve` creates and migrates it."""
    port = _free_port()
    env = _env()
    process = subprocess.Popen([sys.executable, "-m", "diagnoser", "serve", "--port", str(port), "--workers", "1"],
                               env=env, cwd=tmp_path, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(base, process)
        assert (tmp_path / "data" / "diagnoser.db").exists()
        token = _cli(env, tmp_path, "tokens", "create", "--project", "demo", "--scope", "ingest").splitlines()[-1]
        status, body = _post(base, token, {"traceback": KERAS_TRACEBACK})
        assert status == 201 and body["group_status"] == "new"
        read = _cli(env, tmp_path, "tokens", "create", "--project", "demo", "--scope", "read").splitlines()[-1]
        request = urllib.request.Request(base + "/api/v1/groups", headers={"Authorization": f"Bearer {read}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert json.loads(response.read())["groups"][0]["count"] == 1
    finally:
        _stop(process)
    log = process.stdout.read() if process.stdout else ""
    assert "writer process stopped after 1 reports" in log, log  # serve runs the same hooks as the config file


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the writer process through /proc")
def test_gunicorn_stores_through_one_writer_process_and_stops_it_last(db_url, tmp_path):
    base, env, process = _start_gunicorn(db_url, tmp_path)
    try:
        writers = _writer_processes(process.pid)
        assert len(writers) == 1
        token = _cli(env, tmp_path, "tokens", "create", "--project", "w", "--scope", "ingest").strip().splitlines()[-1]
        with ThreadPoolExecutor(16) as pool:
            answers = list(pool.map(lambda i: _post(base, token, {"traceback": KERAS_TRACEBACK}), range(40)))
        assert [s for s, _ in answers] == [201] * 40
        assert _eventually_stored(db_url, 40) == 40
    finally:
        _stop(process)
    log = process.stdout.read() if process.stdout else ""
    assert "writer process listening" in log and "writer process stopped after 40 reports" in log, log
    journaled = re.search(r"writer process stopped after 40 reports in \d+ batches \((\d+) from journals\)", log)
    assert journaled and int(journaled.group(1)) > 0, log  # most were answered from the workers' journals
    assert not Path(f"/proc/{writers[0]}").exists()  # stopped with the master, and its socket folder removed
    assert not [line for line in log.splitlines() if "unreachable" in line], log


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the writer process through /proc")
def test_a_killed_writer_process_loses_nothing_and_the_workers_carry_on(db_url, tmp_path):
    import signal

    base, env, process = _start_gunicorn(db_url, tmp_path)
    try:
        token = _cli(env, tmp_path, "tokens", "create", "--project", "k", "--scope", "ingest").strip().splitlines()[-1]
        (writer,) = _writer_processes(process.pid)

        def post(i: int) -> int:
            if i == 30:
                os.kill(writer, signal.SIGKILL)
            return _post(base, token, {"traceback": f"RuntimeError: failure {i % 4}"})[0]

        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(post, range(120)))
        assert set(statuses) <= {201, 503}, statuses  # 503 only for a report in flight when it died
        assert statuses.count(201) >= 110 and statuses[-20:] == [201] * 20  # the workers write themselves now
        assert _eventually_stored(db_url, statuses.count(201)) == statuses.count(201)
    finally:
        _stop(process)


def test_a_revoked_ingest_token_stores_nothing_at_once_despite_the_token_cache(db_url, tmp_path):
    base, env, process = _start_gunicorn(db_url, tmp_path, DIAGNOSER_TOKEN_CACHE_SECONDS="600")
    try:
        token = _cli(env, tmp_path, "tokens", "create", "--project", "r", "--scope", "ingest").strip().splitlines()[-1]
        for _ in range(4):  # both workers have verified and cached it
            assert _post(base, token, {"traceback": KERAS_TRACEBACK})[0] == 201
        _cli(env, tmp_path, "tokens", "revoke", token[:12])
        for _ in range(4):
            status, body = _post(base, token, {"traceback": KERAS_TRACEBACK})
            assert status == 401 and body["error"]["code"] == "revoked_token", body
        assert _eventually_stored(db_url, 4) == 4 and _eventually_stored(db_url, 5, seconds=0.5) == 4
    finally:
        _stop(process)


@pytest.mark.skipif(not Path("/proc").is_dir(), reason="finds the writer process through /proc")
def test_a_writer_that_dies_is_restarted_and_the_workers_come_back_to_it(db_url, tmp_path):
    import re
    import signal

    from diagnoser.store.remote_writer import RETRY_SECONDS

    base, env, process = _start_gunicorn(db_url, tmp_path)
    try:
        token = _cli(env, tmp_path, "tokens", "create", "--project", "s", "--scope", "ingest").strip().splitlines()[-1]
        assert _post(base, token, {"traceback": KERAS_TRACEBACK})[0] == 201
        (supervisor,) = _writer_processes(process.pid)
        (writer,) = _writer_processes(supervisor)
        os.kill(writer, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and not [p for p in _writer_processes(supervisor) if p != writer]:
            time.sleep(0.1)
        assert [p for p in _writer_processes(supervisor) if p != writer], "no new writer process"
        statuses = [_post(base, token, {"traceback": KERAS_TRACEBACK})[0] for _ in range(10)]
        time.sleep(RETRY_SECONDS + 0.5)  # workers that wrote themselves meanwhile try the writer process again
        statuses += [_post(base, token, {"traceback": KERAS_TRACEBACK})[0] for _ in range(10)]
        assert statuses == [201] * 20
        assert _eventually_stored(db_url, 21) == 21
    finally:
        _stop(process)
    log = process.stdout.read() if process.stdout else ""
    assert "the writer process died (signal 9); starting another" in log, log
    counts = [int(n) for n in re.findall(r"writer process stopped after (\d+) reports", log)]
    assert len(counts) == 1 and counts[0] >= 10, log  # the new writer stored (at least) the last ten


def test_with_journals_a_resolved_group_regresses_and_reads_see_every_accepted_report(db_url, tmp_path):
    """The journal path (README, "What a 201 means") keeps the API's answers exact: a PATCH is seen at once by the
    next report, reads include every report answered 201, and unusual requests are answered as always."""
    import gzip

    base, env, process = _start_gunicorn(db_url, tmp_path)
    try:
        token = _cli(env, tmp_path, "tokens", "create", "--project", "j", "--scope", "ingest").strip().splitlines()[-1]
        reader = _cli(env, tmp_path, "tokens", "create", "--project", "j", "--scope", "read").strip().splitlines()[-1]
        answers = [_post(base, token, {"traceback": KERAS_TRACEBACK}) for _ in range(30)]
        assert [s for s, _ in answers] == [201] * 30
        assert [b["group_status"] for _, b in answers].count("new") == 1
        first = answers[0][1]
        assert all(b["diagnoses"] == first["diagnoses"] and b["url"] == first["url"] for _, b in answers)
        group_id = first["group_id"]
        assert _get(base, reader, f"/api/v1/groups/{group_id}")["count"] == 30
        request = urllib.request.Request(base + f"/api/v1/groups/{group_id}", data=b'{"status": "resolved"}',
                                         method="PATCH", headers={"Authorization": f"Bearer {reader}",
                                                                  "Content-Type": "application/json"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert json.loads(response.read())["status"] == "resolved"
        statuses = [_post(base, token, {"traceback": KERAS_TRACEBACK})[1]["group_status"] for _ in range(6)]
        assert statuses == ["regressed"] + ["existing"] * 5  # whichever worker answers
        latest = _post(base, token, {"traceback": KERAS_TRACEBACK})[1]
        assert _get(base, reader, f"/api/v1/reports/{latest['report_id']}")["group_id"] == group_id
        zipped = urllib.request.Request(
            base + "/api/v1/reports", data=gzip.compress(json.dumps({"traceback": KERAS_TRACEBACK}).encode()),
            method="POST", headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json",
                                    "Content-Encoding": "gzip"})
        with urllib.request.urlopen(zipped, timeout=30) as response:
            assert response.status == 201
        bad = urllib.request.Request(base + "/api/v1/reports", data=b'{"traceback": ', method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(bad, timeout=30)
        assert refused.value.code == 400 and json.loads(refused.value.read())["error"]["code"] == "invalid_json"
        assert _get(base, reader, f"/api/v1/groups/{group_id}")["count"] == 38
    finally:
        _stop(process)
    assert _stored(db_url) == 38
