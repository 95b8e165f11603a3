"""Run a script (or module) under the crash hook, as `python script.py` would run it.

Same sys.argv, same sys.path[0], `__name__ == "__main__"`, same exit code. When the script raises, the
runner's own frames are cut from the traceback before the hook prints it, so the output is the one the
user knows, plus the diagnosis.
"""

from __future__ import annotations

import os
import runpy
import sys
from typing import List, Optional

from diagnoser_client.frames import trim_to_file


def run_script(path: str, args: List[str]) -> int:
    """Run `path` with `args`; return the exit code for an uncaught exception (1), after reporting it."""
    path = os.path.abspath(path) if os.path.exists(path) else path
    sys.argv = [path, *args]
    sys.path[0] = os.path.dirname(path)
    try:
        runpy.run_path(path, run_name="__main__")
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        return _uncaught(exc, path)
    return 0


def run_module(module: str, args: List[str]) -> int:
    sys.argv = [module, *args]
    sys.path[0] = os.getcwd()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        return _uncaught(exc, None)
    return 0


def _uncaught(exc: BaseException, path: Optional[str]) -> int:
    """What the interpreter does with an uncaught exception: sys.excepthook, then exit status 1."""
    tb = exc.__traceback__
    tb = trim_to_file(tb, path) if path else _skip_runner(tb)
    exc.__traceback__ = tb
    sys.excepthook(type(exc), exc, tb)
    return 1


def _skip_runner(tb):  # type: ignore[no-untyped-def]
    runner_files = {os.path.abspath(__file__), os.path.abspath(runpy.__file__)}
    while tb is not None and (
        os.path.abspath(tb.tb_frame.f_code.co_filename) in runner_files
        or tb.tb_frame.f_code.co_filename.startswith("<frozen runpy")
    ):
        tb = tb.tb_next
    return tb
