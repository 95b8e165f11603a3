"""Helpers and fixtures for the client tests: a stand-in service on 127.0.0.1, the real `diagnoser serve`, and a way to
run scripts the way users do (`python -m diagnoser_client script.py`) in a subprocess."""

from __future__ import annotations

import gzip
import json
import os
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CLIENT_DIR = REPO / "client"
# Test this checkout's code, whatever `pip install -e` last pointed the environment at (several clones of the
# repository may share one Python): in this process, and in every subprocess through PYTHONPATH.
if str(CLIENT_DIR) not in sys.path:
    sys.path.insert(0, str(CLIENT_DIR))


def checkout_pythonpath(env: dict[str, str]) -> dict[str, str]:
    parts = [str(CLIENT_DIR), str(REPO)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(parts)
    return env
NOISE_PREFIXES = ("WARNING: All log messages before absl", "I0000 ", "W0000 ", "E0000 ")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def quiet_lines(text: str) -> list[str]:
    """Output lines without TensorFlow's timestamped start-up chatter, which differs run to run."""
    return [line for line in text.splitlines() if not line.startswith(NOISE_PREFIXES)]


@dataclass
class FakeService:
    """A stdlib HTTP server answering POST /api/v1/reports like the service, recording what it receives.

    `status`, `answer` and `headers` (extra response headers, e.g. Retry-After) set every answer; `respond`, when
    set, decides each one instead from the decoded request body: it returns (status, body, headers)."""

    url: str
    requests: list[dict[str, Any]] = field(default_factory=list)
    status: int = 201
    answer: dict[str, Any] | None = None
    delay: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)
    respond: Callable[[dict[str, Any]], tuple[int, dict[str, Any], dict[str, str]]] | None = None

    def reports(self) -> list[dict[str, Any]]:
        return [r["json"] for r in self.requests if r["path"] == "/api/v1/reports"]


DIAGNOSIS = {
    "cause": "data_preprocessing",
    "confidence": 0.9,
    "rule": "keras-input-rank",
    "layer": "dense",
    "expected": "(None, 784)",
    "received": "(16, 28, 28)",
    "title": "The images were not flattened",
    "explanation": "The first Dense layer expects vectors of 784 values.",
    "fix": "Reshape the images to (n, 784) before fit.",
    "fix_code": "x = x.reshape(len(x), -1)",
    "evidence": [],
    "fingerprint": "abc",
}


@pytest.fixture
def fake_service() -> Iterator[FakeService]:
    service = FakeService(url="")

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            pass

        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                raw = gzip.decompress(raw)
            service.requests.append(
                {"path": self.path, "headers": dict(self.headers), "json": json.loads(raw.decode("utf-8"))}
            )
            if service.delay:
                time.sleep(service.delay)
            status, body, headers = service.status, service.answer, service.headers
            if service.respond is not None:
                status, body, headers = service.respond(service.requests[-1]["json"])
            if body is None:
                n = len(service.requests)
                body = {
                    "report_id": n,
                    "group_id": 7,
                    "group_status": "new",
                    "diagnoses": [DIAGNOSIS],
                    "url": f"{service.url}/groups/7",
                }
            data = json.dumps(body).encode()
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)
            except OSError:
                pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    service.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield service
    server.shutdown()
    server.server_close()


# A sitecustomize, put on PYTHONPATH, that times a script's exit phase (also used by benchmarks/bench_client.py).
EXIT_TIMER_DIR = Path(__file__).resolve().parent / "exit_timer"


def exit_timer_env(folder: Path, env: dict[str, str], name: str) -> Path:
    """Add a sitecustomize that writes the exit phase's duration to the returned file (read with float())."""
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(EXIT_TIMER_DIR), env.get("PYTHONPATH", "")) if p)
    out = folder / f"exit-{name}.txt"
    env["EXIT_TIMER_FILE"] = str(out)
    return out


def client_env(tmp_path: Path, url: str | None, token: str | None = "test-token", **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSER_")}
    env.update(
        {
            "DIAGNOSER_SPOOL_DIR": str(tmp_path / "spool"),
            "TF_CPP_MIN_LOG_LEVEL": "2",
            "PYTHONDONTWRITEBYTECODE": "1",
            "NO_COLOR": "1",
        }
    )
    checkout_pythonpath(env)
    if url:
        env["DIAGNOSER_URL"] = url
    if token:
        env["DIAGNOSER_TOKEN"] = token
    env.update(extra)
    return env


def run(args: list[str], env: dict[str, str], cwd: Path, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args], env=env, cwd=str(cwd), capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def write_script(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(text: str, name: str = "train.py") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path

    return write


# --- the real service ------------------------------------------------------------------------------------


def service_env(data_dir: Path) -> dict[str, str]:
    """The environment of a real `diagnoser` command run on this checkout, with its data in `data_dir`."""
    env = checkout_pythonpath(dict(os.environ, DIAGNOSER_DATA_DIR=str(data_dir)))
    env.pop("DIAGNOSER_DATABASE_URL", None)
    return env


@dataclass
class RealService:
    url: str
    port: int
    data_dir: Path
    ingest_token: str
    read_token: str
    process: subprocess.Popen | None = None

    def get(self, path: str) -> dict[str, Any]:
        request = urllib.request.Request(self.url + path, headers={"Authorization": f"Bearer {self.read_token}"})
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    def start(self) -> None:
        env = service_env(self.data_dir)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "diagnoser", "serve", "--host", "127.0.0.1", "--port", str(self.port),
             "--workers", "1", "--threads", "4"],
            env=env, cwd=str(self.data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"diagnoser serve exited: {self.process.stderr.read().decode()[-2000:]}")
            try:
                with urllib.request.urlopen(self.url + "/healthz", timeout=1) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("diagnoser serve did not answer /healthz within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(5)
        self.process = None


def _service_available() -> bool:
    try:
        import diagnoser.cli.service_commands  # noqa: F401
    except Exception:  # noqa: BLE001 - any reason the service cannot load means: not available here
        return False
    return True


def _create_token(data_dir: Path, scope: str) -> str:
    env = service_env(data_dir)
    done = subprocess.run(
        [sys.executable, "-m", "diagnoser", "tokens", "create", "--project", "client-e2e", "--scope", scope],
        env=env, cwd=str(data_dir), capture_output=True, text=True, timeout=120, check=False,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1].strip()


@pytest.fixture
def real_service_factory(tmp_path: Path) -> Iterator[Any]:
    """Prepares (tokens, port) a real `diagnoser serve` on SQLite in a temp folder; the test starts/stops it."""
    if not _service_available():
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail("CI=true but the service (diagnoser serve) cannot be imported")
        pytest.skip("the service (diagnoser serve) is not installed")
    services: list[RealService] = []

    def make() -> RealService:
        data_dir = tmp_path / "service-data"
        data_dir.mkdir(exist_ok=True)
        port = free_port()
        service = RealService(
            url=f"http://127.0.0.1:{port}", port=port, data_dir=data_dir,
            ingest_token=_create_token(data_dir, "ingest"), read_token=_create_token(data_dir, "read"),
        )
        services.append(service)
        return service

    yield make
    for service in services:
        service.stop()
