"""Signed cookie sessions for people (the dashboard), and none for machines (the API).

Why not Flask's interface as it is: it builds a signing serializer and parses cookies on every request, a seventh
of an ingest request's time, and the API identifies callers by bearer token alone. This one skips /api/ and the
probes, and builds its serializer once.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

_SESSIONLESS = ("/api/", "/healthz", "/readyz", "/metrics")


class Sessions(SecureCookieSessionInterface):
    def __init__(self) -> None:
        self._serializers: dict[int, URLSafeTimedSerializer | None] = {}

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        key = id(app)
        if key not in self._serializers:
            self._serializers[key] = super().get_signing_serializer(app)
        return self._serializers[key]

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if request.path.startswith(_SESSIONLESS):
            return None  # Flask then uses a null session that refuses writes
        return super().open_session(app, request)

    def save_session(self, app: Flask, session: Any, response: Any) -> None:
        if session is None or not isinstance(session, SecureCookieSession):
            return
        super().save_session(app, session, response)
