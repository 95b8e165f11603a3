"""The web layer: `create_app()` is the only way an app is built (gunicorn, `diagnoser serve`, the tests).

Thin by design: handlers authenticate, parse and call `diagnoser.store`; one error mapper shapes every failure.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

from flask import Flask, Response, request
from flask.sessions import SessionInterface
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from diagnoser.settings import Settings, load_settings
from diagnoser.store.acceptor import JournalAcceptor
from diagnoser.store.db import make_engine, make_sessionmaker
from diagnoser.store.remote_writer import RemoteWriter
from diagnoser.store.writer import BatchWriter
from diagnoser.web.auth import TokenCache
from diagnoser.web.metrics import Metrics


@dataclass
class Services:
    """What the handlers need, built once per app (so once per worker process)."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    writer: BatchWriter | RemoteWriter
    tokens: TokenCache
    metrics: Metrics


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
    app.config.update(SECRET_KEY=settings.secret_key, MAX_CONTENT_LENGTH=settings.max_body_bytes, JSON_SORT_KEYS=False)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    app.session_interface = _NoCookieSessions()
    engine = make_engine(settings.resolved_database_url)
    sessions = make_sessionmaker(engine)
    own_writer = BatchWriter(sessions, batch_max=settings.batch_max)
    writer: BatchWriter | RemoteWriter = own_writer
    if settings.writer_socket:  # under gunicorn with Diagnoser's configuration: the master's writer process
        acceptor = JournalAcceptor(settings.resolved_journal_dir, sessions) if settings.journal else None
        writer = RemoteWriter(settings.writer_socket, fallback=own_writer,
                              write_timeout=settings.write_timeout_seconds, acceptor=acceptor)
    app.extensions["diagnoser"] = Services(
        settings=settings, engine=engine, sessions=sessions, writer=writer,
        tokens=TokenCache(settings.token_cache_seconds), metrics=Metrics(),
    )

    from diagnoser.web import api, errors, health, pages

    errors.init_app(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(pages.bp)
    _init_timing(app)
    if isinstance(writer, RemoteWriter) and writer.acceptor is not None:
        from diagnoser.web.fast_ingest import FastIngest

        app.wsgi_app = FastIngest(app.wsgi_app, app.extensions["diagnoser"], writer.acceptor)  # type: ignore[method-assign]
    return app


class _NoCookieSessions(SessionInterface):
    """Every caller is identified by its bearer token; nothing lives in a cookie. Flask's default interface would
    still build a signing serializer and parse cookies on every request (~40 us, a tenth of an ingest request)."""

    def open_session(self, app: Flask, request: Any) -> None:
        return None

    def save_session(self, app: Flask, session: Any, response: Response) -> None:
        return None


def _init_timing(app: Flask) -> None:
    """Time every request for /metrics: the start is stamped in the WSGI environ by a wrapper (no before_request
    hook, no `g`), the end observed by one after_request hook."""
    metrics: Metrics = app.extensions["diagnoser"].metrics
    inner = app.wsgi_app

    def timed(environ: dict[str, Any], start_response: Any) -> Any:
        environ[_STARTED] = time.perf_counter()
        return inner(environ, start_response)

    app.wsgi_app = timed  # type: ignore[method-assign]

    @app.after_request
    def _observe(response: Response) -> Response:
        started = request.environ.get(_STARTED)
        if started is not None:
            rule = request.url_rule.rule if request.url_rule is not None else "unmatched"
            metrics.observe(rule, request.method, response.status_code, time.perf_counter() - started)
        return response


_STARTED = "diagnoser.started"
