"""The web layer: `create_app()` is the only way an app is built (gunicorn, `diagnoser serve`, the tests).

Thin by design: handlers authenticate, parse and call `diagnoser.store`; one error mapper shapes every failure.
"""

from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from flask import Flask, Response, request
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from diagnoser.settings import Settings, load_settings
from diagnoser.store.db import is_sqlite, make_engine, make_sessionmaker
from diagnoser.store.writer import Writer
from diagnoser.web import metrics
from diagnoser.web.auth import TokenCache
from diagnoser.web.sessions import Sessions


@dataclass
class Services:
    """What the handlers need, built once per app (so once per worker process)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    writer: Writer
    tokens: TokenCache


SECURITY_HEADERS = {
    "Content-Security-Policy": ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
                                "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "X-Frame-Options": "DENY",
}


def create_app(test_config: dict[str, Any] | Settings | None = None) -> Flask:
    """Build the app from DIAGNOSER_* settings; `test_config` overrides them (a Settings, or a dict of its fields)."""
    if isinstance(test_config, Settings):
        settings = test_config
    else:
        settings = load_settings()
        if test_config:
            settings = settings.replace(**test_config)
    logging.getLogger("diagnoser").setLevel(settings.log_level)

    app = Flask(__name__, static_folder=None)
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_body_bytes)
    if test_config is None and not any(k in os.environ for k in ("DIAGNOSER_SECRET_KEY", "DIAGNOSER_SECRET_KEY_FILE")):
        from diagnoser.web.login import persistent_secret_key

        app.config["SECRET_KEY"] = persistent_secret_key(settings.data_dir) or settings.secret_key
    # The dashboard's session cookie (web.login): signed, HttpOnly, SameSite=Lax, Secure behind HTTPS.
    app.config.update(SESSION_COOKIE_NAME="diagnoser_session", SESSION_COOKIE_HTTPONLY=True,
                      SESSION_COOKIE_SAMESITE="Lax", SESSION_COOKIE_SECURE=settings.secure_cookies,
                      PERMANENT_SESSION_LIFETIME=timedelta(hours=settings.session_hours))
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = Sessions()
    url = settings.resolved_database_url
    engine = make_engine(url) if is_sqlite(url) else make_engine(
        url, statement_timeout=settings.write_timeout_seconds, pool_size=settings.db_pool_size,
        max_overflow=settings.db_pool_size)
    writer = Writer(engine, batch_max=settings.batch_max, queue_max=settings.queue_max,
                    write_timeout=settings.write_timeout_seconds, on_batch=metrics.observe_batch)
    app.extensions["diagnoser"] = Services(settings=settings, engine=engine, sessions=make_sessionmaker(engine),
                                           writer=writer, tokens=TokenCache(settings.token_cache_seconds))

    from diagnoser.web import api, errors, health, pages

    errors.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    from diagnoser.web.channels_api import register as register_channels_api  # notifications (#12)
    register_channels_api(app)
    _init_response_hooks(app)
    return app


def _init_response_hooks(app: Flask) -> None:
    """Security headers on every answer, and its timing for /metrics (the start is stamped in the WSGI environ by
    a wrapper, which costs less per request than a before_request hook and `g`)."""
    inner = app.wsgi_app

    def timed(environ: dict[str, Any], start_response: Any) -> Any:
        environ[_STARTED] = time.perf_counter()
        return inner(environ, start_response)

    app.wsgi_app = timed  # type: ignore[method-assign]
    security = list(SECURITY_HEADERS.items())

    @app.after_request
    def _finish(response: Response) -> Response:
        response.headers.extend(security)  # no page sets these itself; setdefault would cost an exception each
        req = request._get_current_object()  # type: ignore[attr-defined]
        endpoint = req.url_rule.rule if req.url_rule is not None else "unmatched"
        metrics.REQUESTS.labels(endpoint, req.method, str(response.status_code)).inc()
        metrics.LATENCY.labels(endpoint).observe(time.perf_counter() - req.environ.get(_STARTED, time.perf_counter()))
        return response


_STARTED = "diagnoser.started"
