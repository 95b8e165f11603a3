"""Prometheus metrics in the text exposition format, without a client library.

Request counts and latency histograms live in each worker process and carry a `worker` label (the pid), so a
scrape that lands on either worker stays monotonic per series; reports stored per cause come from the database, so
they are the same whichever worker answers.
"""

from __future__ import annotations

import os
import threading
from bisect import bisect_left
from collections import defaultdict

BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.requests: dict[tuple[str, str, int], int] = defaultdict(int)
        self.latency: dict[str, list[int]] = {}
        self.latency_sum: dict[str, float] = defaultdict(float)
        self.ingested: dict[str, int] = defaultdict(int)
        self.stored_cache: tuple[float, dict[str | None, int]] | None = None  # see health._stored_by_cause

    def observe(self, endpoint: str, method: str, status: int, seconds: float) -> None:
        with self._lock:
            self.requests[(endpoint, method, status)] += 1
            counts = self.latency.setdefault(endpoint, [0] * (len(BUCKETS) + 1))
            counts[bisect_left(BUCKETS, seconds)] += 1
            self.latency_sum[endpoint] += seconds

    def count_ingested(self, cause: str | None) -> None:
        with self._lock:
            self.ingested[cause or "none"] += 1

    def render(self, stored_by_cause: dict[str | None, int] | None) -> str:
        worker = str(os.getpid())
        lines = [
            "# HELP diagnoser_http_requests_total HTTP requests answered by this worker.",
            "# TYPE diagnoser_http_requests_total counter",
        ]
        with self._lock:
            for (endpoint, method, status), n in sorted(self.requests.items()):
                lines.append(f'diagnoser_http_requests_total{{worker="{worker}",endpoint="{_escape(endpoint)}",'
                             f'method="{method}",status="{status}"}} {n}')
            lines += ["# HELP diagnoser_request_duration_seconds Time to answer a request, by endpoint.",
                      "# TYPE diagnoser_request_duration_seconds histogram"]
            for endpoint, counts in sorted(self.latency.items()):
                labels = f'worker="{worker}",endpoint="{_escape(endpoint)}"'
                cumulative = 0
                for bound, n in zip(BUCKETS, counts):
                    cumulative += n
                    lines.append(f'diagnoser_request_duration_seconds_bucket{{{labels},le="{bound}"}} {cumulative}')
                cumulative += counts[-1]
                lines.append(f'diagnoser_request_duration_seconds_bucket{{{labels},le="+Inf"}} {cumulative}')
                lines.append(f"diagnoser_request_duration_seconds_sum{{{labels}}} {self.latency_sum[endpoint]:.6f}")
                lines.append(f"diagnoser_request_duration_seconds_count{{{labels}}} {cumulative}")
            lines += ["# HELP diagnoser_reports_ingested_total Reports accepted by this worker, by cause.",
                      "# TYPE diagnoser_reports_ingested_total counter"]
            for cause, n in sorted(self.ingested.items()):
                lines.append(f'diagnoser_reports_ingested_total{{worker="{worker}",cause="{_escape(cause)}"}} {n}')
        if stored_by_cause is not None:
            lines += ["# HELP diagnoser_reports_stored Reports in the database, by cause of their best diagnosis.",
                      "# TYPE diagnoser_reports_stored gauge"]
            for cause, n in sorted(stored_by_cause.items(), key=lambda kv: kv[0] or ""):
                lines.append(f'diagnoser_reports_stored{{cause="{_escape(cause or "none")}"}} {n}')
        return "\n".join(lines) + "\n"
