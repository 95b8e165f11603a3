"""A real HTTP server on 127.0.0.1 standing in for Slack, Mattermost and webhook receivers.

Each path follows a plan of answers, taken in order (the last one repeats): `ok()`, `answer(429, headers=...)`,
`hang(seconds)` (no answer past the client's timeout), `close()` (the connection closed without an answer).
Every request is recorded: path, headers, body, time.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Action:
    kind: str  # answer | hang | close
    status: int = 200
    body: bytes = b"ok"
    headers: tuple[tuple[str, str], ...] = ()
    seconds: float = 0.0


def ok(body: bytes = b"ok") -> Action:
    return Action("answer", 200, body)


def answer(status: int, body: bytes | str = b"", headers: dict[str, str] | None = None) -> Action:
    return Action("answer", status, body.encode() if isinstance(body, str) else body, tuple((headers or {}).items()))


def hang(seconds: float) -> Action:
    return Action("hang", seconds=seconds)


def close() -> Action:
    return Action("close")


@dataclass
class Request:
    path: str
    headers: dict[str, str]
    body: bytes
    at: float

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Remote:
    server: ThreadingHTTPServer
    plans: dict[str, list[Action]] = field(default_factory=dict)
    requests: list[Request] = field(default_factory=list)
    delay: float = 0.0  # every answer waits this long (a slow remote)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str) -> str:
        return self.base + path

    def plan(self, path: str, *actions: Action) -> str:
        with self.lock:
            self.plans[path] = list(actions)
        return self.url(path)

    def _next(self, path: str) -> Action:
        with self.lock:
            actions = self.plans.get(path) or [ok()]
            return actions.pop(0) if len(actions) > 1 else actions[0]

    def to(self, path: str) -> list[Request]:
        with self.lock:
            return [r for r in self.requests if r.path == path]

    def wait_for(self, path: str, count: int, seconds: float = 20.0) -> list[Request]:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            got = self.to(path)
            if len(got) >= count:
                return got
            time.sleep(0.05)
        return self.to(path)

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_remote() -> Remote:
    remote: Remote

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - quiet
            pass

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            with remote.lock:
                remote.requests.append(Request(self.path, {k.lower(): v for k, v in self.headers.items()}, body,
                                               time.time()))
            action = remote._next(self.path)
            if remote.delay:
                time.sleep(remote.delay)
            if action.kind == "hang":
                time.sleep(action.seconds)
                self.close_connection = True
                return
            if action.kind == "close":
                self.connection.shutdown(socket.SHUT_RDWR)
                self.close_connection = True
                return
            self.send_response(action.status)
            for name, value in action.headers:
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(action.body)))
            self.end_headers()
            self.wfile.write(action.body)

    server = _QuietServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    remote = Remote(server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return remote


class _QuietServer(ThreadingHTTPServer):
    """A client that gives up on an answer (the worker's timeout, by design in these tests) is not an error of the
    stand-in: say nothing, as a real remote would."""

    def handle_error(self, request: object, client_address: object) -> None:
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionResetError, BrokenPipeError)):
            return
        super().handle_error(request, client_address)  # type: ignore[arg-type]
