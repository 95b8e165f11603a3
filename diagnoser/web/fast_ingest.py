"""POST /api/v1/reports in its everyday form, answered before Flask's request machinery, when it can be journaled.

Why: with a report accepted into the worker's journal (store.acceptor), what is left of an ingest request is
parsing, scrubbing and Flask; Flask's part (request context, URL adapters, proxies, response object, hooks) was
about a third of the request's CPU, and under load every microsecond of Python in a gthread worker costs two or
three. This handles only the plain case (JSON, not gzipped, within the size limit, a token the worker has verified
recently, a payload that passes parse_report, an answer the journal can give); anything else, every refusal
included, goes to the Flask app untouched, which answers as it always does. The report is made by the same
functions as in api.post_report, so both paths store and answer the same thing.
"""

from __future__ import annotations

import io
import json
import time
from typing import Any, Callable, Iterable

from werkzeug.wsgi import get_host

from diagnoser.store.acceptor import JournalAcceptor
from diagnoser.store.tokens import hash_token
from diagnoser.web.api import new_report, report_answer
from diagnoser.web.errors import ApiError
from diagnoser.web.payload import parse_report

PATH = "/api/v1/reports"
ENDPOINT = "/api/v1/reports"  # as /metrics names it (the Flask rule)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]


class FastIngest:
    def __init__(self, inner: WsgiApp, services: Any, acceptor: JournalAcceptor) -> None:
        self.inner = inner
        self.services = services
        self.acceptor = acceptor
        self.max_bytes = services.settings.max_body_bytes
        self.base_url = services.settings.base_url

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != PATH or environ.get("REQUEST_METHOD") != "POST":
            return self.inner(environ, start_response)
        started = time.perf_counter()
        body = self._answer(environ)
        if body is None:
            return self.inner(environ, start_response)
        data = body.encode()
        start_response("201 CREATED", [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
        self.services.metrics.observe(ENDPOINT, "POST", 201, time.perf_counter() - started)
        return [data]

    def _answer(self, environ: dict[str, Any]) -> str | None:
        """The 201 body, or None: let the app answer (the body, if read, is put back for it)."""
        if environ.get("CONTENT_TYPE") != "application/json" or environ.get("HTTP_CONTENT_ENCODING"):
            return None
        header = environ.get("HTTP_AUTHORIZATION", "")
        if not header.startswith("Bearer ") or len(header) > 207:
            return None
        principal = self.services.tokens.get(hash_token(header[7:].strip()))
        if principal is None or principal.revoked or principal.scope != "ingest":
            return None
        try:
            length = int(environ.get("CONTENT_LENGTH") or "")
        except ValueError:
            return None
        if not 0 < length <= self.max_bytes:
            return None
        raw = environ["wsgi.input"].read(length)
        environ["wsgi.input"] = io.BytesIO(raw)  # for the app, if it answers after all
        if len(raw) != length:
            return None
        try:
            document = json.loads(raw.decode("utf-8"), parse_constant=_refuse)
            payload = parse_report(document)
        except (ValueError, RecursionError, ApiError):
            return None
        try:
            report = new_report(principal, payload)
        except Exception:  # noqa: BLE001 - nothing is stored yet: the app meets it again and answers as it does
            return None
        stored = self.acceptor.accept(report)
        if stored is None:
            return None
        self.services.metrics.count_ingested(report.analysis.cause)
        base = self.base_url or f"{environ.get('wsgi.url_scheme', 'http')}://{get_host(environ)}"
        return report_answer(stored, report.analysis, base)


def _refuse(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")

