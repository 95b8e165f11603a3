"""Liveness, readiness and Prometheus metrics: for load balancers and monitoring, outside the versioned API."""

from __future__ import annotations

import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify
from sqlalchemy import text

from diagnoser.store.db import reading
from diagnoser.store.queries import reports_by_cause
from diagnoser.web.errors import RETRY_AFTER_SECONDS

bp = Blueprint("health", __name__)


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers: nothing else is checked, so a database outage does not restart healthy workers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int, dict[str, str]]:
    """Ready when the database answers and its schema is migrated."""
    try:
        with reading(current_app.extensions["diagnoser"].sessions) as session:
            session.execute(text("SELECT 1 FROM alembic_version"))
    except Exception as error:  # noqa: BLE001 - any failure means not ready, and says which kind
        return (jsonify({"status": "unavailable", "reason": type(error).__name__}), 503,
                {"Retry-After": RETRY_AFTER_SECONDS})
    return jsonify({"status": "ready"})


STORED_TTL_SECONDS = 5.0


def _stored_by_cause(services: Any) -> dict[str | None, int] | None:
    """Reports per cause from the database, remembered for a few seconds (per app): the count scans the reports
    table, and scrapers must not turn into load."""
    cached = services.metrics.stored_cache
    now = time.monotonic()
    if cached is not None and now - cached[0] < STORED_TTL_SECONDS:
        return cached[1]
    try:
        with reading(services.sessions) as session:
            stored = reports_by_cause(session)
    except Exception:  # noqa: BLE001 - metrics must answer even when the database does not
        return None
    services.metrics.stored_cache = (now, stored)
    return stored


@bp.get("/metrics")
def metrics() -> Response:
    services = current_app.extensions["diagnoser"]
    stored = _stored_by_cause(services)
    return Response(services.metrics.render(stored), mimetype="text/plain", content_type="text/plain; version=0.0.4")
