#!/usr/bin/env python3
"""Orchestrate the corpus: create the virtualenvs that are missing, run runner.py inside each,
restart a runner that hangs (dropping the case it hung on), and print the counts.

Why a separate orchestrator: each env needs its own interpreter (library versions cannot share
a process), and a runner stuck inside C code cannot be interrupted from Python, so the watchdog
must live outside it.

    python corpus/faultgen/generate.py                  # all envs, 2 in parallel, cached cases skipped
    python corpus/faultgen/generate.py --env tf2.15 --only 'dp_*' --force
    python corpus/faultgen/generate.py --list --env torch2.13.0
    python corpus/faultgen/generate.py --stats          # counts from corpus/generated/*.jsonl
"""
from __future__ import annotations

import argparse
import collections
import glob
import json
import os
import subprocess
import sys
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from envs import ENVS, VENV_ROOT  # noqa: E402

OUT_DIR = os.path.join(os.path.dirname(HERE), "generated")
STALL_SECONDS = 240   # a runner silent (no new record) for this long is killed


def ensure_venv(name: str) -> str:
    """Create /work/venvs/<name> with python3.11 and install its pinned requirements if missing."""
    d = os.path.join(VENV_ROOT, name)
    py = os.path.join(d, "bin", "python")
    marker = os.path.join(d, ".corpus-installed")
    if os.path.exists(marker):
        return py
    os.makedirs(VENV_ROOT, exist_ok=True)
    if not os.path.exists(py):
        subprocess.run(["python3.11", "-m", "venv", d], check=True)
    subprocess.run([py, "-m", "pip", "install", "--no-cache-dir", *ENVS[name]["pip"]], check=True)
    open(marker, "w").write(" ".join(ENVS[name]["pip"]) + "\n")
    return py


def run_env(name: str, only: str, force: bool, log: callable) -> None:
    py = ensure_venv(name)
    out = os.path.join(OUT_DIR, f"{name}.jsonl")
    env = dict(os.environ)
    env.update(ENVS[name]["env"])
    env.setdefault("PYTHONHASHSEED", "0")
    first = True
    while True:
        cmd = [py, os.path.join(HERE, "runner.py"), "--env", name, "--out", out, "--only", only]
        if force and first:
            cmd.append("--force")
        first = False
        proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        last = [time.time()]

        def reader(proc: subprocess.Popen[str] = proc) -> None:
            for line in proc.stdout:  # type: ignore[union-attr]
                if line.startswith("["):
                    log(line.rstrip())

        th = threading.Thread(target=reader, daemon=True)
        th.start()
        size = os.path.getsize(out) if os.path.exists(out) else 0
        while proc.poll() is None:
            time.sleep(5)
            s = os.path.getsize(out) if os.path.exists(out) else 0
            if s != size:
                size, last[0] = s, time.time()
            elif time.time() - last[0] > STALL_SECONDS:
                proc.kill()
                proc.wait()
                prog = out.replace(".jsonl", ".progress")
                cid = open(prog).read().strip() if os.path.exists(prog) else ""
                log(f"[{name}] runner stalled on {cid}: killed, case dropped")
                if cid:
                    with open(out.replace(".jsonl", ".dropped.jsonl"), "a") as f:
                        f.write(json.dumps({"case_id": cid, "fault_id": cid.split("__")[0],
                                            "reason": "runner stalled (killed by watchdog)"}) + "\n")
                break
        th.join(timeout=5)
        if proc.returncode == 0:
            return
        if proc.returncode == 3:   # runner finished its share of cases: start a fresh process
            continue
        if proc.returncode not in (-9,):
            log(f"[{name}] runner exited with {proc.returncode}; restarting")
            prog = out.replace(".jsonl", ".progress")
            cid = open(prog).read().strip() if os.path.exists(prog) else ""
            if proc.returncode < 0 and cid:
                # the case killed the interpreter (e.g. a segfault inside the library): drop it, or the
                # restarted runner would crash on it again forever
                log(f"[{name}] runner crashed on {cid} (signal {-proc.returncode}): case dropped")
                with open(out.replace(".jsonl", ".dropped.jsonl"), "a") as f:
                    f.write(json.dumps({"case_id": cid, "fault_id": cid.split("__")[0],
                                        "reason": f"runner crashed (signal {-proc.returncode}) in this case"}) + "\n")
            time.sleep(2)


def finalize() -> None:
    """Deduplicate each env file by id (last record wins: a rerun replaces) and scrub the
    in-process artifacts again (idempotent), so files stay valid after interrupted runs."""
    from labels import scrub_inprocess_artifacts
    for path in sorted(glob.glob(os.path.join(OUT_DIR, "*.jsonl"))):
        if path.endswith(".dropped.jsonl"):
            continue
        recs: dict[str, dict] = {}
        for line in open(path, encoding="utf-8"):
            if line.strip():
                r = json.loads(line)
                r["stderr"] = scrub_inprocess_artifacts(r["stderr"])
                recs[r["id"]] = r
        with open(path, "w", encoding="utf-8") as f:
            for r in recs.values():
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        # a case rerun after a fix (--force) leaves its old drop line behind: keep one line per
        # case id, and none for a case that now has a record
        drop = path.replace(".jsonl", ".dropped.jsonl")
        if os.path.exists(drop):
            kept = {r["case_id"] for r in recs.values()}
            drops: dict[str, str] = {}
            for line in open(drop, encoding="utf-8"):
                if line.strip():
                    d = json.loads(line)
                    if d["case_id"] not in kept:
                        drops[d["case_id"]] = line if line.endswith("\n") else line + "\n"
            with open(drop, "w", encoding="utf-8") as f:
                f.writelines(drops.values())


def stats() -> None:
    by_env: dict[str, collections.Counter] = {}
    for path in sorted(glob.glob(os.path.join(OUT_DIR, "*.jsonl"))):
        if path.endswith(".dropped.jsonl"):
            continue
        c: collections.Counter = collections.Counter()
        for line in open(path):
            r = json.loads(line)
            silent = r["notes"].startswith("SILENT:")
            c["silent" if silent else r["label_cause"]] += 1
        drop = path.replace(".jsonl", ".dropped.jsonl")
        c["dropped"] = sum(1 for _ in open(drop)) if os.path.exists(drop) else 0
        by_env[os.path.basename(path)[:-6]] = c
    print(json.dumps(by_env, indent=1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", action="append", help="env name (repeatable); default: all")
    ap.add_argument("--only", default="*", help="case-id glob")
    ap.add_argument("--force", action="store_true", help="rerun cached cases")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--stats", action="store_true")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--no-finalize", action="store_true",
                    help="skip the dedupe/rewrite of corpus/generated at the end (when another generate.py "
                         "is still appending to those files); run --stats afterwards")
    args = ap.parse_args()
    if args.stats:
        finalize()
        stats()
        return
    names = args.env or list(ENVS)
    os.makedirs(OUT_DIR, exist_ok=True)
    if args.list:
        for n in names:
            py = ensure_venv(n)
            subprocess.run([py, os.path.join(HERE, "runner.py"), "--env", n, "--out", "/dev/null",
                            "--only", args.only, "--list"], env={**os.environ, **ENVS[n]["env"]})
        return
    lock = threading.Lock()

    def log(msg: str) -> None:
        with lock:
            print(msg, flush=True)

    queue = list(names)

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                n = queue.pop(0)
            run_env(n, args.only, args.force, log)

    threads = [threading.Thread(target=worker) for _ in range(max(1, args.jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if not args.no_finalize:
        finalize()
    stats()


if __name__ == "__main__":
    main()
