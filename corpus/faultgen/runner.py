"""In-process case runner: executed by a virtualenv's python, it imports the framework once and
then runs many case scripts in the same process.

Why in-process: importing TensorFlow takes seconds, a subprocess per case would make a corpus of
thousands of runs impractical on two cores. To keep each record as close as possible to what
`python train.py` would print in a fresh process, the runner
  * captures the framework's start-up log lines once (at the file-descriptor level, where TF's C++
    logging writes) and prepends them to every record's stderr,
  * compiles each script with filename "train.py" and registers its source in linecache, so
    tracebacks (and autograph, which needs the source of map functions) see the code lines,
  * execs it in a fresh namespace with __name__ == "__main__" inside a scratch working directory,
  * captures fd 1 / fd 2 per case (Python warnings, C++ log lines, progress bars),
  * formats an uncaught exception with traceback.format_exception on the real exception object
    after cutting the runner's own frames, exactly like the interpreter's default hook,
  * resets the warnings registry so "once per location" warnings show again for every case.

Usage (normally started by generate.py):
    python runner.py --env NAME --out corpus/generated/NAME.jsonl [--only GLOB] [--force] [--list]
"""
from __future__ import annotations

import argparse
import fnmatch
import importlib
import importlib.metadata as md
import json
import linecache
import os
import platform
import random
import signal
import sys
import tempfile
import time
import traceback
import warnings
import zlib
from typing import Any

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import labels  # noqa: E402
from envs import ENVS  # noqa: E402

CASE_TIMEOUT = 60


class CaseTimeout(BaseException):
    """Raised by SIGALRM; a BaseException so that a script's `except Exception` cannot swallow it."""


def _alarm(signum: int, frame: Any) -> None:
    raise CaseTimeout()


class FdCapture:
    """Redirect fd 1 and fd 2 (and flush Python's streams) into temporary files.

    fd-level because TensorFlow's C++ logging and absl write straight to fd 2, bypassing sys.stderr.
    """

    def __init__(self) -> None:
        self.files: dict[int, Any] = {}
        self.saved: dict[int, int] = {}

    def __enter__(self) -> FdCapture:
        for fd in (1, 2):
            sys.stdout.flush()
            sys.stderr.flush()
            f = tempfile.TemporaryFile(mode="w+b")
            self.saved[fd] = os.dup(fd)
            os.dup2(f.fileno(), fd)
            self.files[fd] = f
        return self

    def __exit__(self, *exc: Any) -> None:
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except Exception:  # noqa: BLE001 - a case may have closed or replaced the streams
            pass
        for fd in (1, 2):
            os.dup2(self.saved[fd], fd)
            os.close(self.saved[fd])

    def read(self, fd: int) -> str:
        f = self.files[fd]
        f.seek(0)
        return f.read().decode("utf-8", "replace")


def shorten_paths(text: str) -> str:
    """Replace this venv's site-packages (and the base interpreter's stdlib) prefix like dev.jsonl."""
    site = [p for p in sys.path if p.endswith("site-packages")]
    for p in sorted(set(site), key=len, reverse=True):
        text = text.replace(p, "<venv>/lib/python3.11/site-packages")
    base = os.path.join(sys.base_prefix, "lib", "python3.11")
    text = text.replace(base + "/", "<python>/lib/python3.11/")
    return text


def dist_version(name: str) -> str:
    try:
        return md.version(name)
    except md.PackageNotFoundError:
        return ""


def lib_versions(framework: str, env: dict[str, str]) -> dict[str, str]:
    v = {"python": platform.python_version()}
    if framework == "torch":
        v["torch"] = dist_version("torch")
    else:
        if dist_version("tensorflow") or dist_version("tensorflow-cpu"):
            v["tensorflow"] = dist_version("tensorflow") or dist_version("tensorflow-cpu")
        if framework == "keras3":
            v["keras"] = dist_version("keras")
            v["backend"] = env.get("KERAS_BACKEND", "tensorflow")
            if v["backend"] == "torch":
                v["torch"] = dist_version("torch")
            if v["backend"] == "jax":
                v["jax"] = dist_version("jax")
                v["jaxlib"] = dist_version("jaxlib")
        else:
            if dist_version("tf-keras") or dist_version("tf_keras"):
                v["tf_keras"] = dist_version("tf-keras") or dist_version("tf_keras")
            else:
                v["keras"] = dist_version("keras")
    v["numpy"] = dist_version("numpy")
    return v


class Framework:
    """Imports the framework once and knows how to reset its state between cases."""

    def __init__(self, framework: str, kind: str, backend: str) -> None:
        self.framework, self.kind, self.backend = framework, kind, backend
        self.keras: Any = None
        self.torch: Any = None
        with FdCapture() as cap:
            import numpy  # noqa: F401
            if kind == "torch":
                import torch
                self.torch = torch
                torch.zeros(1) + 1
            else:
                if backend == "tensorflow":
                    import tensorflow as tf
                    tf.constant(0.0) + 1.0   # device initialisation logs (cuInit) happen here
                if framework == "keras3":
                    import keras
                    self.keras = keras
                    keras.ops.convert_to_tensor([1.0])
                else:
                    if os.environ.get("TF_USE_LEGACY_KERAS") == "1":
                        import tf_keras
                        self.keras = tf_keras
                    else:
                        import tensorflow as tf
                        self.keras = tf.keras
        self.startup = shorten_paths(cap.read(2))

    def reset(self, clear_session: bool, seed: int) -> None:
        import numpy as np
        random.seed(seed)
        np.random.seed(seed)
        if self.torch is not None:
            self.torch.manual_seed(seed)
        if self.keras is not None and clear_session:
            self.keras.backend.clear_session()


def trim_traceback(exc: BaseException) -> Any:
    """Drop the runner's frames so the printed traceback starts at train.py like a real run."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_frame.f_code.co_filename != "train.py":
        tb = tb.tb_next
    return tb


def exc_type_name(exc: BaseException) -> str:
    t = type(exc)
    mod = t.__module__
    if mod in ("builtins", "__main__"):
        return t.__qualname__
    return f"{mod}.{t.__qualname__}"


def run_script(fw: Framework, source: str, clear_session: bool, seed: int) -> dict[str, Any]:
    """Run one script as train.py; return stdout, stderr (without start-up lines), exception info."""
    fw.reset(clear_session, seed)
    lines = source.splitlines(True)
    linecache.cache["train.py"] = (len(source), None, lines, "train.py")
    code = compile(source, "train.py", "exec")
    ns: dict[str, Any] = {"__name__": "__main__", "__file__": "train.py", "__builtins__": __builtins__}
    warnings._filters_mutated()  # type: ignore[attr-defined]  # make "once per location" warnings show again
    exc: BaseException | None = None
    exit_code = 0
    workdir = tempfile.mkdtemp(prefix="case_")
    old_cwd = os.getcwd()
    old_argv = sys.argv
    tb_text = ""
    t0 = time.time()
    timed_out = False
    with FdCapture() as cap:
        os.chdir(workdir)
        sys.argv = ["train.py"]
        signal.signal(signal.SIGALRM, _alarm)
        signal.alarm(CASE_TIMEOUT)
        try:
            exec(code, ns)
        except CaseTimeout:
            timed_out = True
        except SystemExit as e:  # a script calling sys.exit()
            exit_code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
        except BaseException as e:  # noqa: BLE001 - we record whatever the script raised
            exc = e
            exit_code = 1
            tb_text = "".join(traceback.format_exception(type(e), e, trim_traceback(e)))
        finally:
            signal.alarm(0)
            os.chdir(old_cwd)
            sys.argv = old_argv
        if tb_text:
            sys.stderr.write(tb_text)
    elapsed = time.time() - t0
    stdout, stderr = cap.read(1), cap.read(2)
    ns.clear()
    return {
        "stdout": shorten_paths(stdout),
        "stderr": shorten_paths(stderr),
        "exc": exc,
        "exc_type": exc_type_name(exc) if exc is not None else "",
        "exc_message": shorten_paths(str(exc)) if exc is not None else "",
        "exit_code": exit_code,
        "timed_out": timed_out,
        "elapsed": round(elapsed, 2),
    }


BUG_EXC = ("NameError", "SyntaxError", "ImportError", "ModuleNotFoundError", "UnboundLocalError",
           "IndentationError")


def is_generator_bug(res: dict[str, Any], expect: tuple[str, ...]) -> str:
    """A NameError/ImportError/... that the case did not plant is a bug in the generator."""
    t = res["exc_type"].rsplit(".", 1)[-1]
    if t in expect:
        return ""
    if t in BUG_EXC:
        return f"generator bug: {t}: {res['exc_message'][:200]}"
    if t == "AttributeError" and "module" in res["exc_message"]:
        return f"API missing in this version: {res['exc_message'][:200]}"
    if t == "TypeError" and "unexpected keyword argument" in res["exc_message"]:
        return f"API differs in this version: {res['exc_message'][:200]}"
    return ""


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--env", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--only", default="*")
    ap.add_argument("--force", action="store_true")
    ap.add_argument("--list", action="store_true")
    ap.add_argument("--max-cases", type=int, default=100,
                    help="exit with status 3 after this many cases so the orchestrator restarts a fresh "
                         "process: Keras 3 on TF keeps growing (GBs, slower per case) over hundreds of fits")
    args = ap.parse_args()

    spec = ENVS[args.env]
    framework, kind = spec["framework"], spec["kind"]
    backend = spec["env"].get("KERAS_BACKEND", "tensorflow") if kind == "keras" else "torch"
    # first-generation kinds, then the architecture templates of the second, third (and, for torch, fourth) generations
    mods = ("cases_keras", "cases_keras_arch", "cases_keras_arch3") if kind == "keras" else \
        ("cases_torch", "cases_torch_arch", "cases_torch_arch3", "cases_torch_arch4")
    cases = []
    for name in mods:
        cases += importlib.import_module(name).build_cases(args.env, framework, backend)
    globs = args.only.split(",")   # comma-separated globs
    cases = [c for c in cases if any(fnmatch.fnmatch(c.case_id, g) for g in globs)]
    if args.list:
        for c in cases:
            print(c.case_id, c.cause, c.arch, c.phase)
        return

    out_path = args.out
    drop_path = out_path.replace(".jsonl", ".dropped.jsonl")
    prog_path = out_path.replace(".jsonl", ".progress")
    done: set[str] = set()
    for p in (out_path, drop_path):
        if os.path.exists(p) and not args.force:
            with open(p, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        done.add(json.loads(line)["case_id"])
    todo = [c for c in cases if c.case_id not in done]
    if args.force and os.path.exists(out_path):
        keep = [l for l in open(out_path, encoding="utf-8")
                if l.strip() and json.loads(l)["case_id"] not in {c.case_id for c in todo}]
        open(out_path, "w", encoding="utf-8").writelines(keep)
    print(f"[{args.env}] {len(todo)} cases to run ({len(cases) - len(todo)} cached)", flush=True)
    if not todo:
        return

    fw = Framework(framework, kind, backend)
    versions = lib_versions(framework, spec["env"])
    out = open(out_path, "a", encoding="utf-8")
    drop = open(drop_path, "a", encoding="utf-8")

    def write_drop(case: Any, reason: str) -> None:
        drop.write(json.dumps({"case_id": case.case_id, "fault_id": case.fault_id, "reason": reason}) + "\n")
        drop.flush()

    for i, case in enumerate(todo):
        if i >= args.max_cases:
            out.close()
            drop.close()
            print(f"[{args.env}] {i} cases done in this process; restarting for the remaining {len(todo) - i}", flush=True)
            sys.exit(3)
        with open(prog_path, "w") as pf:
            pf.write(case.case_id)
        seed = zlib.crc32(case.case_id.encode())
        # 1. the unmutated control must run cleanly, else the case is a generator bug
        ctrl = run_script(fw, case.control, True, seed)
        if ctrl["timed_out"]:
            write_drop(case, "control timed out")
            continue
        if ctrl["exit_code"] != 0:
            write_drop(case, f"control failed: {ctrl['exc_type']}: {ctrl['exc_message'][:300]}")
            continue
        if case.keep_control:
            out.write(json.dumps(labels.control_record(case, ctrl, fw.startup, args.env, framework, versions)) + "\n")
        # 2. the planted fault (a `none` kind's snippet is its own control: record that run)
        if case.control == case.snippet:
            out.write(json.dumps(labels.fault_record(case, ctrl, fw.startup, args.env, framework, versions)) + "\n")
            out.flush()
            continue
        res = run_script(fw, case.snippet, case.clear_session, seed)
        if res["timed_out"]:
            write_drop(case, "fault run timed out")
            continue
        bug = is_generator_bug(res, case.expect_exc)
        if bug:
            write_drop(case, bug)
            continue
        out.write(json.dumps(labels.fault_record(case, res, fw.startup, args.env, framework, versions)) + "\n")
        out.flush()
        if i % 25 == 0:
            print(f"[{args.env}] {i + 1}/{len(todo)} {case.case_id} {res['exc_type']} {res['elapsed']}s", flush=True)
    out.close()
    drop.close()
    if os.path.exists(prog_path):
        os.remove(prog_path)
    print(f"[{args.env}] done", flush=True)


if __name__ == "__main__":
    main()
