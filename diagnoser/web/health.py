"""Liveness, readiness and Prometheus metrics: for load balancers and monitoring, outside the versioned API."""

from __future__ import annotations

import hmac
import time

from flask import Blueprint, Response, current_app, jsonify, request

from diagnoser.store.writer import Unavailable
from diagnoser.web import metrics
from diagnoser.web.errors import RETRY_AFTER_SECONDS, ApiError

bp = Blueprint("health", __name__)

PROBE_TIMEOUT_SECONDS = 2.0
PROBE_CACHE_SECONDS = 1.0


@bp.get("/healthz")
def healthz() -> Response:
    """The process answers: nothing else is checked, so a database outage does not restart healthy workers."""
    return jsonify({"status": "ok"})


@bp.get("/readyz")
def readyz() -> Response | tuple[Response, int, dict[str, str]]:
    """Ready means writable: a real write (this node's heartbeat) commits through the same writer as reports,
    so a read-only file, a full disk, a lock held elsewhere or an unreachable server all answer 503. The outcome
    is kept for a second, so a busy load balancer does not turn into a write load."""
    services = current_app.extensions["diagnoser"]
    cached = getattr(services, "ready_cache", None)
    now = time.monotonic()
    if cached is None or now - cached[0] > PROBE_CACHE_SECONDS:
        try:
            services.writer.probe(PROBE_TIMEOUT_SECONDS)
            cached = (now, None)
        except Unavailable as error:
            cached = (now, error.reason)
        services.ready_cache = cached
    metrics.UNAVAILABLE.set(0 if cached[1] is None else 1)
    if cached[1] is not None:
        return (jsonify({"status": "unavailable", "reason": cached[1]}), 503,
                {"Retry-After": str(RETRY_AFTER_SECONDS)})
    return jsonify({"status": "ready"})


@bp.get("/metrics")
def metrics_page() -> Response:
    """The service's own metrics, for a scraper holding DIAGNOSER_METRICS_TOKEN (or anyone, with
    DIAGNOSER_METRICS_PUBLIC=1); otherwise there is nothing here to find."""
    settings = current_app.extensions["diagnoser"].settings
    if not settings.metrics_public:
        given = request.headers.get("Authorization", "").partition(" ")[2].strip()
        if not settings.metrics_token or not hmac.compare_digest(given.encode(), settings.metrics_token.encode()):
            raise ApiError(404, "not_found", "no such resource")
    return Response(metrics.render(), mimetype="text/plain", content_type="text/plain; version=0.0.4")
