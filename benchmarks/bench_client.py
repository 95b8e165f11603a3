"""How much time the diagnoser-client hook adds when a training script dies.

Runs the same crashing script N times each way:
  plain      python script.py                                 (no client)
  up         python -m diagnoser_client script.py, service up (a real `diagnoser serve` on SQLite, or --fake)
  down       python -m diagnoser_client script.py, nothing listening on the service's port
  hung       python -m diagnoser_client script.py, a server that accepts connections and never answers
             (the worst case: the hook waits its full DIAGNOSER_TIMEOUT, then spools)

and prints the medians of two figures: the exit phase (from the moment the traceback starts printing to the
last atexit handler, measured inside the process by a sitecustomize), and the whole run's wall time. The
goal: extra exit time under 100 ms with the service up, under 2.5 s with it down.

    python benchmarks/bench_client.py [--runs 9] [--keras] [--fake]

--keras uses a real Keras 3 script with a shape fault (slow: TensorFlow's import dominates the wall time,
but the exit phase is still measured exactly); --fake answers with a stdlib server instead of the service.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

SIMPLE = """\
import json, math
def preprocess(batch):
    return [[v / 255.0 for v in row] for row in batch]
def train(data, input_dim=784):
    if len(data[0]) != input_dim:
        raise ValueError(f"Input 0 of layer \\"dense\\" is incompatible with the layer: expected axis -1 of input "
                         f"shape to have value {input_dim}, but received input with shape (32, {len(data[0])})")
train(preprocess([[0] * 28] * 32))
"""

KERAS = """\
import numpy as np
import keras
from keras import layers
x = np.zeros((64, 28, 28), dtype="float32")
y = np.zeros((64,), dtype="int64")
model = keras.Sequential([keras.Input(shape=(784,)), layers.Dense(32, activation="relu"), layers.Dense(10)])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
model.fit(x, y, epochs=1, batch_size=16, verbose=0)
"""

REPO = Path(__file__).resolve().parents[1]
# This checkout's client and service, whatever `pip install -e` last pointed the environment at.
CHECKOUT_PATH = os.pathsep.join([str(REPO / "client"), str(REPO)])

# The sitecustomize that times the exit phase, shared with the client tests.
EXIT_TIMER_DIR = REPO / "tests" / "client" / "exit_timer"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class RealService:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = dict(os.environ, DIAGNOSER_DATA_DIR=str(folder / "data"), PYTHONPATH=CHECKOUT_PATH)
        self.env.pop("DIAGNOSER_DATABASE_URL", None)
        done = subprocess.run(
            [sys.executable, "-m", "diagnoser", "tokens", "create", "--project", "bench", "--scope", "ingest"],
            env=self.env,
            capture_output=True,
            text=True,
            check=True,
            cwd=str(folder),
        )
        self.token = done.stdout.strip().splitlines()[-1]
        self.process = subprocess.Popen(
            [sys.executable, "-m", "diagnoser", "serve", "--host", "127.0.0.1", "--port", str(self.port)],
            env=self.env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            cwd=str(folder),
        )
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(self.url + "/healthz", timeout=1).close()
                return
            except OSError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    raise SystemExit("diagnoser serve did not start") from None
                time.sleep(0.2)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(15)


class FakeService:
    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                self.rfile.read(int(self.headers.get("Content-Length", "0")))
                body = json.dumps(
                    {
                        "report_id": 1,
                        "group_id": 1,
                        "group_status": "new",
                        "diagnoses": [],
                        "url": "http://127.0.0.1/groups/1",
                    }
                ).encode()
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.token = "fake"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()


def one_run(script: Path, folder: Path, client: bool, url: str | None, token: str | None) -> tuple[float, float]:
    timer_file = folder / "exit.txt"
    timer_file.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("DIAGNOSER_")}
    env.update(
        PYTHONPATH=os.pathsep.join([str(EXIT_TIMER_DIR), CHECKOUT_PATH]),
        EXIT_TIMER_FILE=str(timer_file),
        TF_CPP_MIN_LOG_LEVEL="2",
        DIAGNOSER_SPOOL_DIR=str(folder / "spool"),
        NO_COLOR="1",
    )
    if url:
        env["DIAGNOSER_URL"] = url
    if token:
        env["DIAGNOSER_TOKEN"] = token
    args = [sys.executable] + (["-m", "diagnoser_client"] if client else []) + [str(script)]
    started = time.perf_counter()
    subprocess.run(args, env=env, cwd=str(folder), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - started
    return float(timer_file.read_text()), wall


def measure(
    runs: int, script: Path, folder: Path, modes: dict[str, tuple[bool, str | None, str | None]]
) -> dict[str, list[tuple[float, float]]]:
    results: dict[str, list[tuple[float, float]]] = {name: [] for name in modes}
    for _ in range(runs):  # interleaved, so machine noise hits every mode alike
        for name, (client, url, token) in modes.items():
            results[name].append(one_run(script, folder, client, url, token))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=9)
    parser.add_argument("--keras", action="store_true", help="a Keras 3 script instead of a plain Python one")
    parser.add_argument("--fake", action="store_true", help="a stdlib stand-in instead of `diagnoser serve`")
    options = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="bench-client-") as tmp:
        folder = Path(tmp)
        script = folder / "train.py"
        script.write_text(KERAS if options.keras else SIMPLE)
        service = FakeService() if options.fake else RealService(folder)
        dead = f"http://127.0.0.1:{free_port()}"
        hung = socket.socket()
        hung.bind(("127.0.0.1", 0))
        hung.listen(128)  # the kernel completes handshakes; nobody ever reads or answers
        hung_url = f"http://127.0.0.1:{hung.getsockname()[1]}"
        try:
            one_run(script, folder, True, service.url, service.token)  # warm caches and the service
            results = measure(
                options.runs,
                script,
                folder,
                {
                    "plain": (False, None, None),
                    "up": (True, service.url, service.token),
                    "down": (True, dead, service.token),
                    "hung": (True, hung_url, service.token),
                },
            )
        finally:
            service.stop()
            hung.close()

    base_exit = statistics.median(r[0] for r in results["plain"])
    base_wall = statistics.median(r[1] for r in results["plain"])
    kind = "Keras 3 script" if options.keras else "plain Python script"
    where = "stdlib stand-in" if options.fake else "diagnoser serve (SQLite)"
    print(f"{kind}, {options.runs} runs per mode, service: {where}; medians")
    print(f"{'mode':<8}{'exit phase':>14}{'extra at exit':>16}{'wall time':>12}{'extra wall':>13}")
    for name, values in results.items():
        exit_median = statistics.median(v[0] for v in values)
        wall_median = statistics.median(v[1] for v in values)
        print(
            f"{name:<8}{exit_median * 1000:>11.1f} ms{(exit_median - base_exit) * 1000:>13.1f} ms"
            f"{wall_median:>10.2f} s{(wall_median - base_wall) * 1000:>10.0f} ms"
        )
    up = statistics.median(v[0] for v in results["up"]) - base_exit
    down = statistics.median(v[0] for v in results["down"]) - base_exit
    print(f"goal: < 100 ms up ({'met' if up < 0.1 else 'MISSED'}), < 2.5 s down ({'met' if down < 2.5 else 'MISSED'})")


if __name__ == "__main__":
    main()
