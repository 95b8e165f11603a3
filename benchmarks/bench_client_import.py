"""What `import diagnoser_client; diagnoser_client.install()` adds to a script's start (limit: 20 ms).

Runs, interleaved so machine noise hits both alike, N times each:
  plain    python -c pass
  client   python -c 'import diagnoser_client; diagnoser_client.install()'   (DIAGNOSER_URL/TOKEN set, empty spool)

in two interpreters: "site" (python as installed here, its site-packages .pth files and all) and "bare" (python -S:
no site-packages, so every stdlib module the client imports counts against it). Prints the median wall times, the
median extra beside the 20 ms limit, and their ratio; then, from one `python -X importtime` run of each, the modules
the client adds and the ones that cost most (importtime's own overhead inflates these figures).

    python benchmarks/bench_client_import.py [--runs 20] [--client DIR]

--client measures another copy of the client (the folder holding diagnoser_client/), e.g. an older commit's
(`git archive <commit> client | tar -x -C /tmp/old` then --client /tmp/old/client).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIENT = str(REPO / "client")  # this checkout's client, whatever `pip install -e` points at
LIMIT_MS = 20.0
PLAIN = "pass"
WITH_CLIENT = "import diagnoser_client; diagnoser_client.install()"
MODES = {"site": [], "bare": ["-S"]}


def environment(spool: str, client: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSER_")}
    env.update(PYTHONPATH=client, DIAGNOSER_URL="http://127.0.0.1:9", DIAGNOSER_TOKEN="bench-token",
               DIAGNOSER_SPOOL_DIR=spool)
    return env


def wall(flags: list[str], code: str, env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run([sys.executable, *flags, "-c", code], env=env, check=True)
    return time.perf_counter() - started


def importtime(flags: list[str], code: str, env: dict[str, str]) -> dict[str, tuple[int, int]]:
    """module -> (self us, cumulative us) from one `-X importtime` run."""
    done = subprocess.run([sys.executable, *flags, "-X", "importtime", "-c", code], env=env, capture_output=True,
                          text=True, check=True)
    found: dict[str, tuple[int, int]] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "imported package" in line:
            continue
        own, cumulative, name = line[len("import time:"):].split("|")
        found[name.strip()] = (int(own), int(cumulative))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--client", default=CLIENT, help="folder holding the diagnoser_client package")
    options = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-client-import-") as spool:
        env = environment(spool, options.client)
        for flags in MODES.values():  # compile and cache the bytecode first
            wall(flags, WITH_CLIENT, env)
        times: dict[str, dict[str, list[float]]] = {mode: {"plain": [], "client": []} for mode in MODES}
        for _ in range(options.runs):
            for mode, flags in MODES.items():
                times[mode]["plain"].append(wall(flags, PLAIN, env))
                times[mode]["client"].append(wall(flags, WITH_CLIENT, env))
        imports = {mode: (importtime(flags, PLAIN, env), importtime(flags, WITH_CLIENT, env))
                   for mode, flags in MODES.items()}
        leftovers = sorted(os.listdir(spool))

    print(f"client {options.client}; {options.runs} runs each, interleaved; medians of wall time "
          f"(Python {sys.version.split()[0]})")
    print(f"{'interpreter':<13}{'plain':>10}{'with client':>14}{'extra':>10}{'limit':>9}{'ratio':>8}")
    worst = 0.0
    for mode in MODES:
        plain = statistics.median(times[mode]["plain"]) * 1000
        client = statistics.median(times[mode]["client"]) * 1000
        extra = client - plain
        worst = max(worst, extra)
        print(f"{mode:<13}{plain:>7.1f} ms{client:>11.1f} ms{extra:>7.1f} ms{LIMIT_MS:>6.0f} ms{client / plain:>8.2f}")
    for mode in MODES:
        before, after = imports[mode]
        added = {name: value for name, value in after.items() if name not in before}
        own = sum(value[0] for value in added.values()) / 1000
        costly = sorted(added.items(), key=lambda item: -item[1][0])[:6]
        print(f"-X importtime, {mode}: {len(added)} modules added, {own:.1f} ms of their own import time; most: "
              + ", ".join(f"{name} {value[0] / 1000:.1f}" for name, value in costly))
        heavy = sorted(name for name in added if name in ("http.client", "urllib.request", "ssl", "json", "logging",
                                                          "socket", "email", "uuid", "dataclasses", "inspect"))
        print(f"  heavy stdlib modules imported by install(): {', '.join(heavy) or 'none'}")
    if leftovers:
        print(f"note: install() left {leftovers} in the spool folder")
    print(f"limit {LIMIT_MS:.0f} ms: {'met' if worst < LIMIT_MS else 'MISSED'} (worst median extra {worst:.1f} ms)")


if __name__ == "__main__":
    main()
