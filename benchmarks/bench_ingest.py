"""Ingest throughput and latency: POST /api/v1/reports under sustained load, beside the limit; and a burst.

The limit is a bare Flask endpoint that reads and parses the same JSON under the same gunicorn settings and stores
nothing. Both databases run one gthread worker with 32 threads by default, what `diagnoser serve` gives SQLite
(one process writes the file); `--pg-workers 2 --pg-threads 16` measures PostgreSQL with what it gives PostgreSQL
on this machine (a worker per core), against a bare run with the same settings.
Load: N keep-alive connections (default 32) spread over a few client processes so the load generator is not
itself the bottleneck of one GIL. After each service run the number of stored reports must equal the number of 201
answers: nothing accepted is lost, nothing refused is stored.

    python benchmarks/bench_ingest.py          # SQLite, and PostgreSQL when DIAGNOSER_TEST_POSTGRES_URL is set
    python benchmarks/bench_ingest.py --db sqlite --runs 5 --seconds 8
    python benchmarks/bench_ingest.py --burst 5000 --burst-clients 500   # every report stored once, 503s resent

Notes (2-CPU development VM shared with the load generator, so the ratio is roughly the ratio of CPU per request):
- 201 means committed: each request waits for the writer thread of its process, which commits everything queued
  in one transaction (store.writer). SQLite runs with synchronous=FULL, so each batch pays an fsync; under load
  batches grow and the fsync is shared.
- On this 2-CPU machine the bare endpoint with two workers answers ~5,000 req/s (it needs no database), twice
  its one-worker figure, while Diagnoser with two workers shares the CPUs with PostgreSQL and the load
  generator: measured per request, PostgreSQL's own CPU ~335 us and the workers' ~770 us against bare's ~270 us,
  so two workers gain ~40% absolute throughput but fall to ~30% of their bare pair. Where the database has
  machines of its own, as in production, that CPU is not taken from the web nodes.
- On PostgreSQL psycopg's automatic server-side prepared statements are off: a plan made once, with the
  statistics of a fresh table, kept the batch lookup scanning a table that had since grown (its cost rose by
  ~0.15 ms per thousand reports stored); the groups table has no index on what every batch updates, so the hot
  row's updates stay HOT.
- Figures from the final runs are in README.md ("Measured"); rerun this to check them.
"""

from __future__ import annotations

import argparse
import http.client
import json
import multiprocessing as mp
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TRACEBACK = (ROOT / "tests" / "service" / "fixtures" / "keras3_input_rank_missing_channel.txt").read_text()


def bare_app():  # type: ignore[no-untyped-def]
    """The limit: Flask, the same JSON parsed, a small JSON answer, no database."""
    from flask import Flask, jsonify, request

    app = Flask(__name__)

    @app.post("/api/v1/reports")
    def reports():  # type: ignore[no-untyped-def]
        body = json.loads(request.get_data().decode("utf-8"))
        if not isinstance(body, dict) or not isinstance(body.get("traceback"), str):
            return jsonify({"error": "bad"}), 400
        return jsonify({"report_id": 1, "group_id": 1, "group_status": "existing", "diagnoses": [], "url": "x"}), 201

    return app


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client(
    port: int,
    token: str,
    connections: int,
    start_at: float,
    warmup: float,
    seconds: float,
    out: mp.Queue[tuple[int, int, list[float]]],
) -> None:
    import threading

    ok = errors = 0
    latencies: list[float] = []
    lock = threading.Lock()
    end_warm, end = start_at + warmup, start_at + warmup + seconds

    def run(index: int) -> None:
        nonlocal ok, errors
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        n = 0
        mine: list[float] = []
        my_ok = my_err = 0
        while time.time() < start_at:
            time.sleep(0.001)
        while True:
            now = time.time()
            if now >= end:
                break
            n += 1
            body = json.dumps(
                {
                    "traceback": TRACEBACK,
                    "event_id": uuid.uuid4().hex,
                    "meta": {"run_id": f"{os.getpid()}-{index}-{n}", "hostname": "bench"},
                }
            ).encode()
            t0 = time.perf_counter()
            try:
                conn.request("POST", "/api/v1/reports", body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                status = response.status
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status = 0
            elapsed = time.perf_counter() - t0
            # Every 201 is counted (stored-count check); only those in the measured window make the figures.
            if status == 201:
                my_ok += 1
            else:
                my_err += 1
            if now >= end_warm:
                mine.append(elapsed if status == 201 else -elapsed)
        with lock:
            ok += my_ok
            errors += my_err
            latencies.extend(mine)
        conn.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out.put((ok, errors, latencies))


def _load(port: int, token: str, connections: int, procs: int, warmup: float, seconds: float) -> dict[str, float]:
    queue: mp.Queue = mp.Queue()
    start_at = time.time() + 0.5
    per = [connections // procs + (1 if i < connections % procs else 0) for i in range(procs)]
    workers = [mp.Process(target=_client, args=(port, token, n, start_at, warmup, seconds, queue)) for n in per if n]
    for w in workers:
        w.start()
    results = [queue.get() for _ in workers]
    for w in workers:
        w.join()
    ok = sum(r[0] for r in results)
    errors = sum(r[1] for r in results)
    measured = [x for r in results for x in r[2]]
    good = sorted(x for x in measured if x >= 0)
    return {
        "ok_total": ok,
        "errors": errors,
        "rps": len(good) / seconds,
        "p50_ms": 1000 * good[len(good) // 2] if good else float("nan"),
        "p99_ms": 1000 * good[min(len(good) - 1, int(len(good) * 0.99))] if good else float("nan"),
        "bad_in_window": sum(1 for x in measured if x < 0),
    }


def _serve(args: list[str], env: dict[str, str], port: int, cwd: Path) -> subprocess.Popen:
    process = subprocess.Popen(args, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.time() + 30
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1):
                return process
        except urllib.error.HTTPError:  # the bare app has no /healthz: any answer means it listens
            return process
        except OSError:
            if process.poll() is not None:
                raise SystemExit(f"server failed: {process.stderr.read().decode() if process.stderr else ''}") from None
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def _gunicorn(
    app: str, port: int, workers: int, threads: int, config: Path | None = None, worker_class: str = "gthread"
) -> list[str]:
    """The same gunicorn settings for both; the service also gets its deployment's hooks (`config`): migrations
    and the metrics folder. Command-line settings win over the config file's."""
    extra = ["--config", str(config)] if config is not None else []
    return [
        sys.executable,
        "-m",
        "gunicorn",
        *extra,
        "--worker-class",
        worker_class,
        "--workers",
        str(workers),
        "--threads",
        str(threads),
        "--keep-alive",
        "5",
        "--bind",
        f"127.0.0.1:{port}",
        "--log-level",
        "warning",
        app,
    ]


def _fresh_database(kind: str, tmp: Path, pg_url: str | None) -> str:
    from sqlalchemy import text

    from diagnoser.store.db import make_engine
    from diagnoser.store.migrate import upgrade

    if kind == "sqlite":
        path = tmp / f"bench-{time.time_ns()}.db"
        url = f"sqlite:///{path}"
    else:
        assert pg_url
        url = pg_url
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)
    return url


def _token(url: str) -> str:
    from diagnoser.store.db import make_engine, make_sessionmaker, writing
    from diagnoser.store.tokens import create_token

    engine = make_engine(url)
    with writing(make_sessionmaker(engine)) as session:
        _, token = create_token(session, "bench", "ingest")
    engine.dispose()
    return token


def _stored(url: str) -> int:
    from sqlalchemy import func, select

    from diagnoser.store.db import make_engine
    from diagnoser.store.models import Report

    engine = make_engine(url)
    with engine.connect() as conn:
        n = conn.execute(select(func.count(Report.id))).scalar_one()
    engine.dispose()
    return n


SETTINGS = {"sqlite": (1, 32), "postgresql": (1, 32)}  # (workers, threads); --pg-workers/--pg-threads change it


def _burst(url: str, token: str, port: int, total: int, clients: int) -> dict[str, float]:
    """`total` reports at once from `clients` concurrent clients, each resending a 503 after its Retry-After (as
    the client's spool does) until it is answered 201."""
    import threading

    events = [uuid.uuid4().hex for _ in range(total)]
    answered: dict[str, int] = {}
    statuses: dict[int, int] = {}
    lock = threading.Lock()
    work = list(events)
    started = time.monotonic()

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        while True:
            with lock:
                if not work:
                    break
                event = work.pop()
            body = json.dumps({"traceback": TRACEBACK, "event_id": event}).encode()
            try:
                conn.request("POST", "/api/v1/reports", body=body, headers=headers)
                response = conn.getresponse()
                data = response.read()
                status, retry = response.status, response.getheader("Retry-After")
            except (OSError, http.client.HTTPException):
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
                status, retry, data = 0, "1", b"{}"
            with lock:
                statuses[status] = statuses.get(status, 0) + 1
                if status == 201:
                    answered[event] = json.loads(data)["report_id"]
                else:
                    work.append(event)
            if status != 201:
                time.sleep(min(float(retry or 1), 5.0))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    return {
        "seconds": elapsed,
        "answered": len(answered),
        "stored": _stored(url),
        "distinct_ids": len(set(answered.values())),
        **{f"status_{k}": v for k, v in statuses.items()},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("DIAGNOSER_TEST_POSTGRES_URL"))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pg-workers", type=int, default=1)
    parser.add_argument("--pg-threads", type=int, default=32)
    parser.add_argument("--burst", type=int, default=0, help="instead: this many reports at once, all must be stored")
    parser.add_argument("--burst-clients", type=int, default=500)
    opts = parser.parse_args()
    SETTINGS["postgresql"] = (opts.pg_workers, opts.pg_threads)
    kinds = ["sqlite", "postgresql"] if opts.db == "both" else [opts.db]
    if "postgresql" in kinds and not opts.pg_url:
        print("no PostgreSQL URL (--pg-url or DIAGNOSER_TEST_POSTGRES_URL): SQLite only", file=sys.stderr)
        kinds = [k for k in kinds if k != "postgresql"]
    tmp = Path(tempfile.mkdtemp(prefix="diagnoser-bench-"))
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT), env.get("PYTHONPATH", "")])
    config = ROOT / "deploy" / "gunicorn.conf.py"

    if opts.burst:
        for kind in kinds:
            url = _fresh_database(kind, tmp, opts.pg_url)
            token = _token(url)
            port = _free_port()
            workers, threads = SETTINGS[kind]
            server = _serve(
                _gunicorn("diagnoser.web:create_app()", port, workers, threads, config),
                {**env, "DIAGNOSER_DATABASE_URL": url, "DIAGNOSER_DATA_DIR": str(tmp)},
                port,
                tmp,
            )
            try:
                figures = _burst(url, token, port, opts.burst, opts.burst_clients)
            finally:
                _stop(server)
            lost = opts.burst - figures["stored"]
            print(
                f"burst {kind}: {opts.burst} reports from {opts.burst_clients} clients in {figures['seconds']:.1f} s; "
                f"answers { ({k: v for k, v in figures.items() if k.startswith('status_')}) }; stored "
                f"{figures['stored']:.0f}, lost {lost:.0f}, distinct report ids {figures['distinct_ids']:.0f}"
            )
        return

    print(
        f"{opts.connections} connections, gunicorn gthread (workers x threads: "
        f"{', '.join(f'{k} {w}x{t}' for k, (w, t) in SETTINGS.items() if k in kinds)}), {opts.seconds:.0f}s measured "
        f"after {opts.warmup:.0f}s warm-up, median of {opts.runs} runs, {os.cpu_count()} CPUs"
    )
    results: dict[str, list[dict[str, float]]] = {}
    for run in range(opts.runs):
        for kind in kinds:
            workers, threads = SETTINGS[kind]
            port = _free_port()
            server = _serve(
                _gunicorn("bench_ingest:bare_app()", port, workers, threads, worker_class=opts.worker_class),
                env,
                port,
                tmp,
            )
            try:
                bare = _load(port, "x", opts.connections, opts.client_procs, opts.warmup, opts.seconds)
                results.setdefault(f"bare flask ({kind})", []).append(bare)
            finally:
                _stop(server)
            url = _fresh_database(kind, tmp, opts.pg_url)
            token = _token(url)
            port = _free_port()
            service_env = {**env, "DIAGNOSER_DATABASE_URL": url, "DIAGNOSER_DATA_DIR": str(tmp)}
            server = _serve(
                _gunicorn("diagnoser.web:create_app()", port, workers, threads, config, opts.worker_class),
                service_env,
                port,
                tmp,
            )
            try:
                figures = _load(port, token, opts.connections, opts.client_procs, opts.warmup, opts.seconds)
            finally:
                _stop(server)
            stored = _stored(url)
            figures["stored"] = stored
            figures["stored_ok"] = float(stored == figures["ok_total"])
            figures["ratio"] = figures["rps"] / bare["rps"]  # against the limit measured just before, same load
            results.setdefault(f"diagnoser {kind}", []).append(figures)
            print(
                f"  run {run + 1} {kind}: bare {bare['rps']:.0f} req/s, diagnoser {figures['rps']:.0f} req/s "
                f"({figures['ratio']:.0%}), 201s {figures['ok_total']:.0f}, stored {stored}, "
                f"errors {figures['errors']:.0f}",
                file=sys.stderr,
            )

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    print("vs bare: the median over runs of each run's ratio to the bare endpoint measured just before it (the")
    print("machine's load drifts between runs; pairing cancels most of it). Limits: >= 50% of bare, p99 < 100 ms.")
    print(f"{'target':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs bare':>9}  stored == 201s")
    for name in results:
        rps = median(name, "rps")
        bare_row = name.startswith("bare")
        check = (
            ""
            if bare_row
            else (
                "yes"
                if all(r["stored_ok"] for r in results[name])
                else "NO: " + ", ".join(f"{r['stored']:.0f} vs {r['ok_total']:.0f}" for r in results[name])
            )
        )
        ratio = 1.0 if bare_row else median(name, "ratio")
        runs = "" if bare_row else " (" + ", ".join(f"{r['ratio']:.0%}" for r in results[name]) + ")"
        print(
            f"{name:<24}{rps:>9.0f}{median(name, 'p50_ms'):>9.1f}{median(name, 'p99_ms'):>9.1f}"
            f"{ratio:>8.0%}  {check}{runs}"
        )


if __name__ == "__main__":
    main()
