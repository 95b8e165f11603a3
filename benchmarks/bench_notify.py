"""Notification numbers on this machine: Block Kit payloads built per second, reports read into the spike counts per
second, and a backlog of events delivered to a local stand-in remote (messages and events per second, coalesced).

    python benchmarks/bench_notify.py [--database-url URL]      (default: a fresh SQLite file)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests" / "notify"))
sys.path.insert(0, str(ROOT / "tests" / "service"))

from notify_helpers import channel, other_error, project, report  # noqa: E402
from remote import start_remote  # noqa: E402

from diagnoser.notify.payloads import slack_message  # noqa: E402
from diagnoser.notify.worker import Worker, WorkerConfig  # noqa: E402
from diagnoser.store.channels import generate_key  # noqa: E402
from diagnoser.store.db import make_engine, make_sessionmaker  # noqa: E402
from diagnoser.store.migrate import upgrade  # noqa: E402


def bench_payloads() -> None:
    view = {"id": 1, "kind": "new", "project": "vision", "team": "t", "payload": {},
            "group": {"id": 1, "cause": "input_layer", "title": "Layer conv2d expects rank 4", "count": 3},
            "diagnosis": {"cause": "input_layer", "layer": "conv2d", "expected": "(None, 28, 28, 1)",
                          "received": "(None, 28, 28)", "fix": "Declare the channel axis. " * 20,
                          "fix_code": "inputs = keras.Input(shape=(28, 28, 1))"},
            "exception": {"type": "ValueError", "message": "expected min_ndim=4"},
            "traceback_tail": "Traceback (most recent call last):\n" + '  File "x.py", line 1\n' * 40}
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < 1.0:
        slack_message([view], "https://d.example")
        n += 1
    print(f"payloads: {n / (time.perf_counter() - started):,.0f} single-event Slack messages built per second")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--database-url", default="")
    parser.add_argument("--channels", type=int, default=50)
    parser.add_argument("--events", type=int, default=40)
    args = parser.parse_args()
    bench_payloads()
    with tempfile.TemporaryDirectory() as folder:
        url = args.database_url or f"sqlite:///{folder}/bench.db"
        upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        remote = start_remote()
        key = generate_key()
        team_id, project_id = project(sessions, "bench")
        for n in range(args.channels):
            channel(sessions, key, team_id, remote.url(f"/c{n}"), kind="webhook")
        worker = Worker(sessions, WorkerConfig(keys=key, allow_private=True, timeout=5, scan_delay=0.0,
                                               channels_per_run=8))
        worker.run_once()  # the scan's cursor starts here
        old = datetime.now(UTC) - timedelta(minutes=1)
        started = time.perf_counter()
        for n in range(args.events):
            report(sessions, project_id, other_error(n), at=old)
        for _ in range(10):  # a busy scan: 200 reports per batch
            report(sessions, project_id, other_error(0), at=old, count=200)
        stored = time.perf_counter() - started
        scanned = 0
        started = time.perf_counter()
        while True:
            before = worker.scan(datetime.now(UTC))
            scanned += 1
            if not before and scanned > 1:
                break
        print(f"scan: {args.events + 2000} reports read into the per-group counts in "
              f"{(time.perf_counter() - started) * 1000:.0f} ms (stored in {stored:.1f} s)")
        total = args.channels * args.events
        started = time.perf_counter()
        messages = 0
        while len({(r.path, e["id"]) for r in list(remote.requests) for e in r.json()["events"]}) < total:
            result = worker.run_once()
            messages += result.messages
            if not result.busy:
                time.sleep(0.05)
        took = time.perf_counter() - started
        print(f"delivery: {total} events to {args.channels} channels in {messages} messages, {took:.1f} s "
              f"({total / took:,.0f} events/s, {messages / took:,.1f} messages/s; one message a second per channel)")
        worker._pool.shutdown()
        remote.stop()
        engine.dispose()


if __name__ == "__main__":
    main()
