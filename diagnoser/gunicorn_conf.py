"""gunicorn settings for the service, shared by `deploy/gunicorn.conf.py` and `diagnoser serve`.

Outside `diagnoser.web` on purpose: the master must not import the app (nor prometheus-client, which picks its
multiprocess mode when first imported, after on_starting has set PROMETHEUS_MULTIPROC_DIR).

gthread workers: a report waits for its commit (store.writer), and threads let one worker keep many requests in
flight meanwhile. On SQLite one worker process with 32 threads by default, so one process writes the file (a
second would take turns with it on the write lock); on PostgreSQL one worker per core, 16 threads each. The master
applies migrations once before any worker starts.
"""

from __future__ import annotations

import os
import shutil
from typing import Any


def _on_sqlite() -> bool:
    try:
        from diagnoser.settings import load_settings
        from diagnoser.store.db import is_sqlite

        return is_sqlite(load_settings().resolved_database_url)
    except Exception:  # noqa: BLE001 - a bad setting is reported by on_starting, with its message
        return True


_SQLITE = _on_sqlite()
bind = os.environ.get("DIAGNOSER_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY") or (1 if _SQLITE else max(1, min(os.cpu_count() or 1, 4))))
worker_class = "gthread"
threads = int(os.environ.get("DIAGNOSER_THREADS") or (32 if _SQLITE else 16))
keepalive = 5
timeout = 60
graceful_timeout = 30
accesslog = None
errorlog = "-"
loglevel = "info"
wsgi_app = "diagnoser.web:create_app()"


def on_starting(server: Any) -> None:
    """Before the workers start: apply migrations once, and give the workers an empty folder for their shared
    Prometheus metrics (prometheus-client's multiprocess mode): <data folder>/metrics, emptied at every start, so
    a master killed without cleaning up leaves nothing that grows."""
    from diagnoser.settings import load_settings
    from diagnoser.store.migrate import upgrade

    settings = load_settings()
    upgrade(settings.resolved_database_url)
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        folder = settings.data_dir / "metrics"
        shutil.rmtree(folder, ignore_errors=True)
        folder.mkdir(parents=True, exist_ok=True)
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(folder)


def child_exit(server: Any, worker: Any) -> None:
    """A worker is gone: its live gauges leave the sums (its counters stay, as Prometheus expects)."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
