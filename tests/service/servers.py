"""Real servers for the end-to-end tests: `diagnoser serve` and gunicorn in their own process groups, a load of
clients that resend what was not answered 201 (as the client's spool does), and the check that every report
answered 201 is stored exactly once."""

from __future__ import annotations

import http.client
import json
import os
import random
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from diagnoser.store.db import make_engine, make_sessionmaker
from diagnoser.store.models import AnalysisRow, Group, Report

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = Path(__file__).parent / "fixtures"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def service_env(**extra: str) -> dict[str, str]:
    """The test's environment minus service settings, importing this checkout's code."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSER_") or k.startswith("DIAGNOSER_TEST")}
    env.pop("PROMETHEUS_MULTIPROC_DIR", None)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
    env.update(extra)
    return env


@dataclass
class Server:
    base: str
    env: dict[str, str]
    process: subprocess.Popen[str]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def kill(self) -> None:
        """SIGKILL to the whole process group: the master and every worker die at once, as in a power cut."""
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.process.wait(10)


def start(command: list[str], cwd: Path, env: dict[str, str], port: int, wait: float = 60) -> Server:
    log_path = cwd / f"server-{port}.log"
    log = open(log_path, "w")
    process = subprocess.Popen(
        command, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT, text=True, start_new_session=True
    )
    server = Server(f"http://127.0.0.1:{port}", env, process, log_path)
    try:
        wait_ready(server, wait)
    except BaseException:
        server.kill()
        raise
    return server


def start_serve(cwd: Path, env: dict[str, str], port: int | None = None, *args: str) -> Server:
    port = port or free_port()
    return start([sys.executable, "-m", "diagnoser", "serve", "--port", str(port), *args], cwd, env, port)


# What the image, the systemd unit and these tests run: gunicorn with the deployment's configuration.
GUNICORN_ARGS = ["-c", str(ROOT / "deploy" / "gunicorn.conf.py")]


def start_gunicorn(cwd: Path, env: dict[str, str]) -> Server:
    port = free_port()
    env = dict(env, DIAGNOSER_BIND=f"127.0.0.1:{port}")
    return start([sys.executable, "-m", "gunicorn", *GUNICORN_ARGS], cwd, env, port)


def wait_ready(server: Server, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise AssertionError(f"server exited:\n{server.log()}")
        try:
            with urllib.request.urlopen(server.base + "/readyz", timeout=2) as r:
                if r.status == 200:
                    return
        except (OSError, urllib.error.URLError):
            pass
        time.sleep(0.2)
    raise AssertionError(f"server did not become ready:\n{server.log()}")


def cli(env: dict[str, str], cwd: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "diagnoser", *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def token(env: dict[str, str], cwd: Path, project: str, scope: str = "ingest") -> str:
    return cli(env, cwd, "tokens", "create", "--project", project, "--scope", scope).strip().splitlines()[-1]


def post(
    base: str, token: str, body: dict[str, Any], timeout: float = 30
) -> tuple[int, dict[str, Any], dict[str, str]]:
    request = urllib.request.Request(
        base + "/api/v1/reports",
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read()), dict(response.headers)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"{}"), dict(error.headers)


def get(base: str, token: str, path: str) -> dict[str, Any]:
    request = urllib.request.Request(base + path, headers={"Authorization": f"Bearer {token}"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())  # type: ignore[no-any-return]


TEXTS = [(FIXTURES / "keras3_input_rank_missing_channel.txt").read_text()] + [
    f'Traceback (most recent call last):\n  File "train.py", line {n}, in <module>\nValueError: failure kind {n}'
    for n in range(5)
]


@dataclass
class Load:
    """Clients posting reports (each with its own event id) to the servers in `bases`, resending every report that
    was not answered 201 (connection refused or cut, 503) until it is, as the client's spool does."""

    bases: list[str]
    token: str
    clients: int = 16
    answers: dict[str, list[tuple[int, int | None]]] = field(default_factory=dict)  # event -> (status, report id)
    statuses: Counter[int] = field(default_factory=Counter)
    retry_after_missing: int = 0
    _waiting: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    _texts: dict[str, str] = field(default_factory=dict)

    def start(self) -> None:
        for n in range(self.clients):
            thread = threading.Thread(target=self._client, args=(n,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)

    def sent(self) -> int:
        return len(self.answers)

    def _next(self, rng: random.Random) -> str:
        with self._lock:
            if self._waiting and rng.random() < 0.5:
                return self._waiting.pop(0)
            event = uuid.uuid4().hex
            self._texts[event] = rng.choice(TEXTS)
            self.answers[event] = []
            return event

    def _client(self, n: int) -> None:
        rng = random.Random(n)
        connections: dict[str, http.client.HTTPConnection] = {}
        while not self._stop.is_set():
            event = self._next(rng)
            base = self.bases[rng.randrange(len(self.bases))]
            status, report_id, retry_after = self._send(connections, base, event)
            with self._lock:
                self.answers[event].append((status, report_id))
                self.statuses[status] += 1
                if status == 503 and not retry_after:
                    self.retry_after_missing += 1
                if status != 201:
                    self._waiting.append(event)
            if status != 201:
                time.sleep(0.05)

    def _send(
        self, connections: dict[str, http.client.HTTPConnection], base: str, event: str
    ) -> tuple[int, int | None, str | None]:
        body = json.dumps({"traceback": self._texts[event], "event_id": event}).encode()
        try:
            connection = connections.get(base)
            if connection is None:
                connection = connections[base] = http.client.HTTPConnection(base.removeprefix("http://"), timeout=30)
            connection.request(
                "POST",
                "/api/v1/reports",
                body=body,
                headers={"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"},
            )
            response = connection.getresponse()
            data = response.read()
            report_id = json.loads(data).get("report_id") if response.status == 201 else None
            return response.status, report_id, response.getheader("Retry-After")
        except (OSError, http.client.HTTPException, ValueError):
            connections.pop(base, None)
            return 0, None, None  # refused, reset or cut off: the outcome is unknown, so send it again

    def finish(self, bases: list[str], seconds: float = 120) -> None:
        """Resend every report not yet answered 201 to `bases` until each is."""
        deadline = time.monotonic() + seconds
        connections: dict[str, http.client.HTTPConnection] = {}
        pending = [e for e, a in self.answers.items() if not any(s == 201 for s, _ in a)]
        while pending:
            assert time.monotonic() < deadline, f"{len(pending)} reports never answered 201"
            event = pending.pop(0)
            status, report_id, _ = self._send(connections, bases[len(pending) % len(bases)], event)
            self.answers[event].append((status, report_id))
            self.statuses[status] += 1
            if status != 201:
                pending.append(event)
                time.sleep(0.05)


def assert_stored_exactly_once(db_url: str, load: Load) -> None:
    """Every report answered 201 is stored once, under the id it was answered with; every group's count equals
    its reports; every report has its text and group (nothing half-written)."""
    engine = make_engine(db_url)
    try:
        with make_sessionmaker(engine)() as session:
            stored = session.execute(select(Report.event_id, Report.id)).all()
            counts = dict(
                session.execute(select(Report.group_id, func.count(Report.id)).group_by(Report.group_id)).all()
            )
            groups = dict(session.execute(select(Group.id, Group.count)).all())
            orphans = session.scalar(
                select(func.count(Report.id))
                .outerjoin(AnalysisRow, AnalysisRow.id == Report.analysis_id)
                .where(AnalysisRow.id.is_(None))
            )
    finally:
        engine.dispose()
    ids = Counter(event for event, _ in stored)
    assert not [e for e, n in ids.items() if n > 1], "a report stored twice"
    answered = {e for e, a in load.answers.items() if any(s == 201 for s, _ in a)}
    assert answered == set(load.answers), "some reports were never answered 201"
    assert set(ids) == answered, (len(ids), len(answered))
    by_event = dict(stored)
    for event, answers in load.answers.items():
        assert {rid for s, rid in answers if s == 201} == {by_event[event]}, "answered with another id than stored"
    assert counts == {gid: n for gid, n in groups.items() if n}, "a group's count differs from its reports"
    assert orphans == 0
    assert load.statuses[500] == 0 and load.retry_after_missing == 0


def private_postgres_cluster(
    prefix: str, max_connections: int
) -> Iterator[tuple[str, Callable[[], None], Callable[[], None]]]:
    """A PostgreSQL cluster of a test's own (migrated), to stop and start: yields (url, start, stop). Skips where
    there is no root or no server binaries; on CI that is a failure."""
    import pytest

    from diagnoser.store.migrate import upgrade

    bins = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
    if not bins or os.geteuid() != 0:
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI must be able to run a private PostgreSQL (root and pg_ctl)")
        pytest.skip("needs root and PostgreSQL's server binaries")
    pg_bin = bins[-1].parent
    folder = Path(tempfile.mkdtemp(prefix=prefix))  # pytest's own folders are root's alone
    shutil.chown(folder, "postgres")
    port = free_port()

    def as_postgres(*command: str) -> None:
        subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", " ".join(command)], check=True, capture_output=True,
                       timeout=60)

    as_postgres(f"{pg_bin}/initdb", "-D", f"{folder}/data", "-A", "trust", "-U", "postgres")

    def start() -> None:
        as_postgres(f"{pg_bin}/pg_ctl", "-D", f"{folder}/data", "-l", f"{folder}/log", "-w", "-o",
                    f"'-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections={max_connections}'",
                    "start")

    def stop() -> None:
        as_postgres(f"{pg_bin}/pg_ctl", "-D", f"{folder}/data", "-m", "immediate", "-w", "stop")

    start()
    url = f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    upgrade(url)
    try:
        yield url, start, stop
    finally:
        subprocess.run(["su", "postgres", "-s", "/bin/sh", "-c", f"{pg_bin}/pg_ctl -D {folder}/data -m immediate stop"],
                       capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
