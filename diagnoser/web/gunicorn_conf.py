"""gunicorn settings for the service, shared by `deploy/gunicorn.conf.py` and `diagnoser serve`.

gthread workers: a report that cannot be journaled waits for its commit (store.acceptor), and threads let one
worker keep many requests in flight meanwhile. One worker per core, 16 threads each (32 connections on 2 cores). The master applies migrations
once and starts the writer process (store.writer_process) before any worker forks, and stops it after the last one.
"""

from __future__ import annotations

import os
from typing import Any

bind = os.environ.get("DIAGNOSER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", str(max(1, min(os.cpu_count() or 1, 4)))))
worker_class = "gthread"
threads = int(os.environ.get("DIAGNOSER_THREADS", "16"))
keepalive = 5
timeout = 60
graceful_timeout = 30
accesslog = None
errorlog = "-"
loglevel = "info"
wsgi_app = "diagnoser.web:create_app()"


_WRITER: list[Any] = []  # the writer process this master started, if any


def on_starting(server: Any) -> None:
    """Before the workers fork: create the data folder, apply migrations once, and start the writer process that
    stores every worker's reports (store.writer_process); the workers learn its socket from the environment."""
    from diagnoser.settings import load_settings
    from diagnoser.store.migrate import upgrade

    settings = load_settings()
    upgrade(settings.resolved_database_url)
    os.environ.pop("DIAGNOSER_WRITER_SOCKET", None)  # never one inherited from another master
    if settings.writer_process:
        from diagnoser.store.writer_process import start_writer_process

        writer = start_writer_process(settings.batch_max)
        if writer is not None:
            _WRITER.append(writer)
            os.environ["DIAGNOSER_WRITER_SOCKET"] = writer.socket_path


def on_exit(server: Any) -> None:
    """After the workers have stopped: the writer process answers what is left, then stops."""
    while _WRITER:
        _WRITER.pop().stop()
