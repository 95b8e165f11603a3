"""Prometheus metrics of the service itself (requests, latency, writes), never of a team's data.

Under gunicorn each worker is a process of its own: prometheus-client's multiprocess mode (PROMETHEUS_MULTIPROC_DIR,
set by `diagnoser serve` and deploy/gunicorn.conf.py before the workers start) lets any worker answer a scrape with
the sum over all of them. Without it (tests, the development server) the process's own registry answers.
"""

from __future__ import annotations

import os

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, multiprocess

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)

REQUESTS = Counter("diagnoser_http_requests", "HTTP requests answered.", ["endpoint", "method", "status"])
LATENCY = Histogram("diagnoser_request_duration_seconds", "Time to answer a request.", ["endpoint"],
                    buckets=LATENCY_BUCKETS)
INGESTED = Counter("diagnoser_reports_ingested", "Reports committed (each answered 201).")
REFUSED = Counter("diagnoser_reports_unavailable", "Reports answered 503: not stored, to be sent again.")
BATCH_SIZE = Histogram("diagnoser_write_batch_reports", "Reports committed per transaction.",
                       buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500))
BATCH_SECONDS = Histogram("diagnoser_write_batch_seconds", "Time to write and commit one batch.",
                          buckets=LATENCY_BUCKETS)
UNAVAILABLE = Gauge("diagnoser_database_unavailable", "1 while this process cannot write to the database.",
                    multiprocess_mode="max")


def observe_batch(reports: int, seconds: float) -> None:
    INGESTED.inc(reports)
    BATCH_SIZE.observe(reports)
    BATCH_SECONDS.observe(seconds)


def render() -> bytes:
    """The exposition text: every worker's metrics summed in multiprocess mode, else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry)
    return generate_latest()
