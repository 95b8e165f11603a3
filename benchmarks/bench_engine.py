"""Engine speed, printed as figures beside their limits measured in the same run (this machine is noisy).

1. tracebacks per second on one core over a realistic mix (the dev corpus: logs, summaries, every framework);
2. how that rate changes from 30 to 300 rules (the shipped ones, cut down or topped up with synthetic rules
   whose literals never occur, as most of a big rule set is for any one message): the literal prefilter's effect;
3. `scan` throughput in MB/s on a generated training log, beside `grep -c Traceback` on the same file.

Run: python benchmarks/bench_engine.py [--log-mb 200] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from diagnoser.engine import diagnose  # noqa: E402
from diagnoser.engine.extract import iter_blocks_in_chunks  # noqa: E402
from diagnoser.engine.rules import default_rules_dir, load_rules  # noqa: E402
from diagnoser.engine.scan import iter_line_chunks, scan_stream  # noqa: E402

CORPUS = REPO.parent / "shared" / "corpus" / "dev.jsonl"
FIXTURES = REPO / "tests" / "fixtures" / "real" / "cases.jsonl"


def load_mix() -> list[tuple[str, str | None]]:
    mix = []
    for path in (CORPUS, FIXTURES):
        if path.exists():
            for line in path.read_text().splitlines():
                rec = json.loads(line)
                if rec.get("stderr") and "Traceback (most recent call last)" in rec["stderr"]:
                    mix.append((rec["stderr"], rec.get("stdout_summary") or None))
    if not mix:
        sys.exit("no corpus found (shared/corpus/dev.jsonl or tests/fixtures/real/cases.jsonl)")
    return mix


def rate(mix, rules, seconds: float = 3.0) -> float:
    n, t0 = 0, time.perf_counter()
    while time.perf_counter() - t0 < seconds:
        for text, summary in mix:
            diagnose(text, summary=summary, rules=rules)
            n += 1
    return n / (time.perf_counter() - t0)


def rules_of_size(total: int) -> Path:
    """A rules folder of `total` rules: the shipped ones (cut down when total is smaller), topped up with
    synthetic rules whose literals never occur, as most of a big rule set is for any one message."""
    d = Path(tempfile.mkdtemp(prefix="diagnoser-bench-rules-"))
    shutil.copy(default_rules_dir() / "taxonomy.yaml", d / "taxonomy.yaml")
    shipped = sorted(p for p in default_rules_dir().glob("*.yaml") if p.name != "taxonomy.yaml")
    for p in shipped[:total]:
        shutil.copy(p, d / p.name)
    for i in range(max(0, total - len(shipped))):
        rid = f"synthetic-{i:04d}"
        (d / f"{rid}.yaml").write_text(
            f"id: {rid}\ntitle: synthetic {i}\n"
            f"match:\n  literals: ['zqx{i}marker']\n"
            f"  pattern: 'zqx{i}marker (?P<layer>\\w+) expected (?P<expected>\\([^()]*\\))'\n"
            "candidates: [{cause: data_preprocessing, explanation: e, fix: f}]\n"
            f"examples: {{match: [{{text: 'ValueError: zqx{i}marker d expected (1,)'}}], "
            f"no_match: [{{text: 'ValueError: x'}}]}}\n"
        )
    return d


def make_log(path: Path, megabytes: int, mix) -> int:
    noise = "".join(
        f"2026-11-29 10:00:{i % 60:02d},{i % 1000:03d} INFO trainer: step {i} loss=0.{i % 97:02d} lr=1e-3 "
        "throughput=512 samples/s\n"
        for i in range(2000)
    )
    bar = "".join(f"\r{j}/100 [{'=' * (j // 5):<20}] - ETA: 1s - loss: 0.2" for j in range(0, 101, 10)) + "\n"
    n_tb = 0
    with path.open("w") as fh:
        while fh.tell() < megabytes * 1024 * 1024:
            fh.write(noise)
            fh.write(bar * 20)
            fh.write(mix[n_tb % len(mix)][0] + "\n")
            n_tb += 1
    return n_tb


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--log-mb", type=int, default=200)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    try:
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})  # one core, as the figure says
    except (AttributeError, OSError):
        pass
    mix = load_mix()
    shipped = load_rules()
    sizes = [30, len(shipped.rules), 100, 300]
    folders = {n: rules_of_size(n) for n in sizes}
    sets = {n: load_rules(folders[n]) for n in sizes}
    for n in sizes:  # warm up: condition regexes compile on first use
        for text, summary in mix:
            diagnose(text, summary=summary, rules=sets[n])
    rates: dict[int, list[float]] = {n: [] for n in sizes}
    for _ in range(args.repeat):
        for n in sizes:  # interleaved, so machine noise hits every size alike
            rates[n].append(rate(mix, sets[n], seconds=2.0))
    base = statistics.median(rates[30])
    for n in sizes:
        med = statistics.median(rates[n])
        label = " (the shipped rules)" if n == len(shipped.rules) else ""
        print(
            f"engine: {med:8.0f} tracebacks/s with {n:3d} rules{label}; {med / base:.2f} of the 30-rule rate "
            f"(median of {args.repeat}, one core, {len(mix)}-traceback mix)"
        )
    for d in folders.values():
        shutil.rmtree(d)

    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "train.log"
        n_tb = make_log(log, args.log_mb, mix)
        size_mb = log.stat().st_size / 1e6
        scan_t, grep_t, find_t = [], [], []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            with log.open("rb") as fh:
                sum(1 for _ in iter_blocks_in_chunks(iter_line_chunks(fh)))
            find_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            with log.open("rb") as fh:
                found = sum(1 for _ in scan_stream(fh, rules=shipped))
            scan_t.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            subprocess.run(["grep", "-c", "Traceback", str(log)], capture_output=True, check=False)
            grep_t.append(time.perf_counter() - t0)
        s, g, f = statistics.median(scan_t), statistics.median(grep_t), statistics.median(find_t)
        print(f"find tracebacks only: {size_mb / f:8.0f} MB/s; {g / f:.3f} of grep's speed")
        print(
            f"scan: {size_mb / s:8.0f} MB/s over {size_mb:.0f} MB ({found} tracebacks found, {n_tb} written), "
            f"median of {args.repeat}"
        )
        print(f"grep -c Traceback: {size_mb / g:8.0f} MB/s; scan runs at {g / s:.3f} of grep's speed (the limit)")


if __name__ == "__main__":
    main()
