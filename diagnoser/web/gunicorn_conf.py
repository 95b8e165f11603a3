"""gunicorn settings for the service, shared by `deploy/gunicorn.conf.py` and `diagnoser serve`.

gthread workers: ingest waits on the database (the group-commit writer), and threads let one worker keep many
requests in flight while it does; measured 1.3x-2.6x over sync workers on such routes. Two processes per core
would only fight over SQLite's write lock, so the default is one per core, 16 threads each (32 connections on 2 cores).
Migrations run once, in the master, before any worker starts.
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


def on_starting(server: Any) -> None:
    """Create the data folder and apply migrations once, before workers fork."""
    from diagnoser.settings import load_settings
    from diagnoser.store.migrate import upgrade

    upgrade(load_settings().resolved_database_url)
