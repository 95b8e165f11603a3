"""Ingest throughput and latency: POST /api/v1/reports under sustained load, beside the limit.

The limit is a bare Flask endpoint that reads and parses the same JSON under the same gunicorn settings (gthread,
same workers and threads) and stores nothing. Load: N keep-alive connections (default 32), spread over a few client
processes so the load generator is not itself the bottleneck of one GIL. After each service run the number of
stored reports must equal the number of 201 answers: nothing accepted is lost, nothing refused is stored.

    python benchmarks/bench_ingest.py                       # SQLite, and PostgreSQL when DIAGNOSER_TEST_POSTGRES_URL is set
    python benchmarks/bench_ingest.py --db sqlite --runs 3 --seconds 10

Notes from profiling this on a 2-CPU virtual machine (the load generator shares the CPUs, so the ratio is roughly
the ratio of machine CPU per request; figures from /proc, perf and py-spy):
- The service runs with its deployment's hooks (deploy/gunicorn.conf.py: migrations and the writer process), all
  other gunicorn settings on the command line and identical for both.
- A request that waits for its commit caps this near 70% of bare before any database work: under gthread a
  waiting request is parked and must win its worker's GIL back (a no-op write followed by a 1 ms sleep: ~70%).
  Most reports therefore do not wait: a worker that already knows the group and the token (from an earlier
  committed answer, with the change counter unchanged since) copies the report into its thread's memory-mapped
  journal and answers (store.journal, store.acceptor); the writer process writes the journals in batches.
  A write() there instead of a memory copy cost ~5 more context switches per request (it releases the GIL).
- Flask's per-request machinery was a third of an ingest request's CPU (cookie sessions alone ~40 us, with a
  secret key set); the everyday journaled request is answered by a WSGI fast path in front of Flask
  (web.fast_ingest) built from the same functions; cookie sessions are off (the API is token-only).
- Measured per request (one run, /proc): bare ~0.65 ms of worker CPU; the service before these changes ~1.5 ms
  in the workers plus ~0.45 ms in the writer; the writer's cost fell to ~0.25 ms once the journals were mapped
  rather than read (reads of the zeros past the last entry were a fifth of its CPU).
- Batches of journaled reports alone (nobody waiting for them) are written every 25 ms rather than 5: a batch
  costs ~0.3 ms of the writer's CPU however small; a read asks for a sync, which writes at once.
- Every microsecond of Python in a gthread worker under this load costs two to three (GIL hand-offs, cold
  caches), so a saving measured in isolation is worth more here.
- Runs vary by +-15 points on this shared machine (the bare limit itself swings from 1500 to 2300 req/s); use
  --runs 5 or more and read the median.
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


def _client(port: int, token: str, connections: int, start_at: float, warmup: float, seconds: float,
            out: "mp.Queue[tuple[int, int, list[float]]]") -> None:
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
            body = json.dumps({"traceback": TRACEBACK, "meta": {"run_id": f"{os.getpid()}-{index}-{n}",
                                                                "hostname": "bench"}}).encode()
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
        "ok_total": ok, "errors": errors, "rps": len(good) / seconds,
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
                raise SystemExit(f"server failed: {process.stderr.read().decode() if process.stderr else ''}")
            time.sleep(0.1)
    process.kill()
    raise SystemExit("server did not start")


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


def _gunicorn(app: str, port: int, workers: int, threads: int, config: Path | None = None,
              worker_class: str = "gthread") -> list[str]:
    """The same gunicorn settings for both; the service also gets its deployment's hooks (`config`): migrations
    and the writer process. Command-line settings win over the config file's."""
    extra = ["--config", str(config)] if config is not None else []
    return [sys.executable, "-m", "gunicorn", *extra, "--worker-class", worker_class, "--workers", str(workers),
            "--threads", str(threads), "--keep-alive", "5", "--bind", f"127.0.0.1:{port}", "--log-level", "warning",
            app]


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--pg-url", default=os.environ.get("DIAGNOSER_TEST_POSTGRES_URL"))
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--client-procs", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--worker-class", default="gthread")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    kinds = ["sqlite", "postgresql"] if opts.db == "both" else [opts.db]
    if "postgresql" in kinds and not opts.pg_url:
        print("no PostgreSQL URL (--pg-url or DIAGNOSER_TEST_POSTGRES_URL): SQLite only", file=sys.stderr)
        kinds = [k for k in kinds if k != "postgresql"]

    print(f"{opts.connections} connections, gunicorn gthread {opts.workers} workers x {opts.threads} threads, "
          f"{opts.seconds:.0f}s measured after {opts.warmup:.0f}s warm-up, median of {opts.runs} runs, "
          f"{os.cpu_count()} CPUs")
    tmp = Path(tempfile.mkdtemp(prefix="diagnoser-bench-"))
    results: dict[str, list[dict[str, float]]] = {}
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSER_")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "benchmarks"), str(ROOT), env.get("PYTHONPATH", "")])
    for run in range(opts.runs):
        port = _free_port()
        server = _serve(_gunicorn("bench_ingest:bare_app()", port, opts.workers, opts.threads,
                                     worker_class=opts.worker_class), env, port, tmp)
        try:
            bare = _load(port, "x", opts.connections, opts.client_procs, opts.warmup, opts.seconds)
            results.setdefault("bare flask", []).append(bare)
        finally:
            _stop(server)
        print(f"  run {run + 1} bare flask: {bare['rps']:.0f} req/s", file=sys.stderr)
        for kind in kinds:
            url = _fresh_database(kind, tmp, opts.pg_url)
            token = _token(url)
            port = _free_port()
            service_env = {**env, "DIAGNOSER_DATABASE_URL": url}
            server = _serve(_gunicorn("diagnoser.web:create_app()", port, opts.workers, opts.threads,
                                      ROOT / "deploy" / "gunicorn.conf.py", opts.worker_class), service_env, port, tmp)
            try:
                figures = _load(port, token, opts.connections, opts.client_procs, opts.warmup, opts.seconds)
            finally:
                _stop(server)
            stored = _stored(url)
            figures["stored"] = stored
            figures["stored_ok"] = float(stored == figures["ok_total"])
            figures["ratio"] = figures["rps"] / bare["rps"]  # against the limit measured just before, same load
            results.setdefault(f"diagnoser {kind}", []).append(figures)
            print(f"  run {run + 1} {kind}: {figures['rps']:.0f} req/s, 201s {figures['ok_total']:.0f}, "
                  f"stored {stored}, errors {figures['errors']:.0f}", file=sys.stderr)

    def median(name: str, key: str) -> float:
        return statistics.median(r[key] for r in results[name])

    print("vs bare: the median over runs of each run's ratio to the bare endpoint measured just before it (the")
    print("machine's load drifts between runs; pairing cancels most of it)")
    print(f"{'target':<22}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'vs bare':>9}  stored == 201s")
    for name in results:
        rps = median(name, "rps")
        check = "" if name == "bare flask" else (
            "yes" if all(r["stored_ok"] for r in results[name]) else "NO: " + ", ".join(
                f"{r['stored']:.0f} vs {r['ok_total']:.0f}" for r in results[name]))
        ratio = 1.0 if name == "bare flask" else median(name, "ratio")
        print(f"{name:<22}{rps:>9.0f}{median(name, 'p50_ms'):>9.1f}{median(name, 'p99_ms'):>9.1f}"
              f"{ratio:>8.0%}  {check}")


if __name__ == "__main__":
    main()
