"""One HTTP POST of one report, classified into what to do next.

urllib honours HTTP(S)_PROXY / NO_PROXY as training clusters expect. Connecting waits `connect_timeout` at
most; reading the answer may take longer (the service diagnoses and commits before it answers), up to
READ_TIMEOUT. A dying program does not wait that long: it waits on the sending thread for a bounded time and
spools the report if the answer is late. Every outcome is a value, never an exception: the hook must not raise.

This module (and with it http.client, urllib, ssl, json, gzip, email) is imported at the first report or flush,
never by install().
"""

from __future__ import annotations

import functools
import gzip
import http.client
import json
import socket
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any

from diagnoser_client import __version__

GZIP_ABOVE = 8 * 1024
READ_TIMEOUT = 15.0
MAX_BODY = 1024 * 1024  # the service's limit, after compression
RETRY_AFTER_STATUSES = (429, 503)
# Top-level fields an older service may not know: it refuses them by name (400, error.field), and the report is sent
# again without them. The traceback matters far more than its metadata or its idempotency key.
OPTIONAL_FIELDS = ("event_id", "meta")


@dataclass
class Outcome:
    """`delivered`: stored. `retry`: spool it (unreachable, 5xx, 429). Otherwise permanent (401, 413, 4xx).
    `not_before`: when a 429 or 503 came with Retry-After, the time (epoch seconds) it names."""

    status: int | None = None
    body: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    not_before: float | None = None

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300

    @property
    def retry(self) -> bool:
        if self.status is None:
            return True
        return self.status == 429 or self.status == 408 or self.status >= 500

    @property
    def permanent(self) -> bool:
        return not self.delivered and not self.retry

    def describe(self) -> str:
        if self.error or self.status is None:
            return self.error or "unreachable"
        message = self.body.get("error") or self.body.get("message") or self.body.get("detail")
        if isinstance(message, dict):
            message = message.get("message")
        return f"HTTP {self.status}" + (f": {message}" if isinstance(message, str) and message else "")


class _ReadTimeout:
    """Connects with the short timeout, then reads with the longer one (mixed into both connection kinds)."""

    sock: Any

    def __init__(self, *args: Any, read_timeout: float = READ_TIMEOUT, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._read_timeout = read_timeout

    def connect(self) -> None:
        super().connect()  # type: ignore[misc]
        self.sock.settimeout(self._read_timeout)


class _Connection(_ReadTimeout, http.client.HTTPConnection):
    pass


class _SecureConnection(_ReadTimeout, http.client.HTTPSConnection):
    pass


class _HTTPHandler(urllib.request.HTTPHandler):
    def http_open(self, req: Any) -> Any:
        return self.do_open(functools.partial(_Connection, read_timeout=READ_TIMEOUT), req)


class _HTTPSHandler(urllib.request.HTTPSHandler):
    def https_open(self, req: Any) -> Any:
        context = getattr(self, "_context", None)
        return self.do_open(functools.partial(_SecureConnection, read_timeout=READ_TIMEOUT), req, context=context)


_opener: urllib.request.OpenerDirector | None = None


def _open(request: urllib.request.Request, connect_timeout: float) -> Any:
    global _opener
    if _opener is None:
        _opener = urllib.request.build_opener(_HTTPHandler(), _HTTPSHandler())
    return _opener.open(request, timeout=connect_timeout)


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Retry-After (RFC 9110: delay-seconds or an HTTP-date) as a time in epoch seconds; None when absent,
    unparsable or already past."""
    if not value:
        return None
    text = value.strip()
    current = time.time() if now is None else now
    if text.isdigit():
        seconds = float(text)
    else:
        try:
            from email.utils import parsedate_to_datetime

            moment = parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if moment is None:  # Python 3.9 returns None for some malformed dates
            return None
        if moment.tzinfo is None:  # "-0000" and obsolete forms: HTTP dates are in GMT
            import datetime

            moment = moment.replace(tzinfo=datetime.timezone.utc)
        seconds = moment.timestamp() - current
    return current + seconds if seconds > 0 else None


def encode(payload: dict[str, Any]) -> tuple[bytes, dict[str, str]]:
    """(body bytes, extra headers): JSON, gzipped when large enough for it to matter."""
    raw = json.dumps(payload, ensure_ascii=False, default=str).encode("utf-8")
    if len(raw) > GZIP_ABOVE:
        return gzip.compress(raw, compresslevel=6), {"Content-Encoding": "gzip"}
    return raw, {}


def post(endpoint: str, token: str | None, payload: dict[str, Any], connect_timeout: float) -> Outcome:
    try:
        body, headers = encode(payload)
    except Exception as exc:
        return Outcome(status=400, error=f"could not encode the report: {exc}")
    if len(body) > MAX_BODY:
        return Outcome(status=413, error="report larger than 1 MB even compressed")
    headers.update(
        {
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": f"diagnoser-client/{__version__}",
        }
    )
    if token:
        headers["Authorization"] = f"Bearer {token}"
    try:
        request = urllib.request.Request(endpoint, data=body, headers=headers, method="POST")
    except ValueError as exc:  # not a URL at all: retrying will not help
        return Outcome(status=0, error=f"invalid DIAGNOSER_URL: {exc}")
    try:
        with _open(request, connect_timeout) as response:
            return Outcome(status=response.status, body=_json(response.read()))
    except urllib.error.HTTPError as exc:
        try:
            data = exc.read()
        except Exception:
            data = b""
        not_before = None
        if exc.code in RETRY_AFTER_STATUSES and exc.headers is not None:
            not_before = parse_retry_after(exc.headers.get("Retry-After"))
        return Outcome(status=exc.code, body=_json(data), not_before=not_before)
    except (urllib.error.URLError, socket.timeout, TimeoutError, ConnectionError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        return Outcome(error=_reason(reason))
    except ValueError as exc:  # "unknown url type" surfaces here for some schemes
        return Outcome(status=0, error=f"invalid DIAGNOSER_URL: {exc}")
    except Exception as exc:  # http.client.RemoteDisconnected, BadStatusLine, ...
        return Outcome(error=f"{type(exc).__name__}: {exc}")


def _reason(reason: Any) -> str:
    if isinstance(reason, ConnectionRefusedError):
        return "connection refused"
    if isinstance(reason, (socket.timeout, TimeoutError)):
        return "timed out"
    if isinstance(reason, socket.gaierror):
        return "unknown host"
    return str(reason) or type(reason).__name__


def _json(data: bytes) -> dict[str, Any]:
    try:
        value = json.loads(data.decode("utf-8")) if data else {}
    except Exception:
        return {}
    return value if isinstance(value, dict) else {}


def rejected_field(outcome: Outcome) -> str:
    error = outcome.body.get("error")
    field_name = error.get("field") if isinstance(error, dict) else None
    return field_name if isinstance(field_name, str) else ""


def send(endpoint: str, token: str | None, payload: dict[str, Any], connect_timeout: float) -> Outcome:
    """post(), and again without a top-level field the service refuses by name when it is one of
    OPTIONAL_FIELDS (`meta`, `event_id`): a service older or newer than this client must still get the traceback."""
    outcome = post(endpoint, token, payload, connect_timeout)
    dropped: set[str] = set()
    while outcome.status == 400:
        refused = rejected_field(outcome).split(".", 1)[0].split("[", 1)[0]
        if refused not in OPTIONAL_FIELDS or refused not in payload or refused in dropped:
            break
        dropped.add(refused)
        payload = {k: v for k, v in payload.items() if k != refused}
        outcome = post(endpoint, token, payload, connect_timeout)
    return outcome
