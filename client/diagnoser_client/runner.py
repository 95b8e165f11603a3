"""Run a script (or module) under the crash hook, as `python script.py` would run it.

Same sys.argv, same sys.path[0], `__name__ == "__main__"`, same exit code. When the script raises, the
runner's own frames are cut from the traceback before the hook prints it, so the output is the one the
user knows, plus the diagnosis.
"""

from __future__ import annotations

import builtins
import importlib.machinery
import os
import runpy
import sys
import types
import zipfile

from diagnoser_client.frames import trim_to_file


def run_script(path: str, args: list[str]) -> int:
    """Run `path` with `args`; return the exit code for an uncaught exception (1), after reporting it."""
    if not os.path.exists(path):
        sys.stderr.write(f"{sys.executable}: can't open file {os.path.abspath(path)!r}: [Errno 2] No such file or directory\n")
        return 2
    sys.argv = [path, *args]  # as given, like python itself; __file__ and tracebacks get the absolute path
    path = os.path.abspath(path)
    sys.path[0] = os.path.dirname(path)
    try:
        if os.path.isfile(path) and not zipfile.is_zipfile(path):
            _exec_file(path)
        else:  # a folder or zip with __main__.py
            runpy.run_path(path, run_name="__main__")
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        return _uncaught(exc, path)
    return 0


def _exec_file(path: str) -> None:
    """What `python path` does: compile the file under its absolute name and run it as the __main__ module
    (which stays __main__ afterwards, for atexit handlers and pickling)."""
    with open(path, "rb") as fh:
        source = fh.read()
    main = types.ModuleType("__main__")
    main.__file__ = path
    main.__loader__ = importlib.machinery.SourceFileLoader("__main__", path)
    main.__builtins__ = builtins  # type: ignore[attr-defined]
    sys.modules["__main__"] = main
    code = compile(source, path, "exec", dont_inherit=True)
    exec(code, main.__dict__)  # noqa: S102 - running the user's script is what the runner is for


def run_module(module: str, args: list[str]) -> int:
    sys.argv = [module, *args]
    sys.path[0] = os.getcwd()
    try:
        runpy.run_module(module, run_name="__main__", alter_sys=True)
    except (SystemExit, KeyboardInterrupt):
        raise
    except BaseException as exc:
        return _uncaught(exc, None)
    return 0


def _uncaught(exc: BaseException, path: str | None) -> int:
    """What the interpreter does with an uncaught exception: sys.excepthook, then exit status 1."""
    tb = exc.__traceback__
    trimmed = trim_to_file(tb, path) if path else None
    tb = trimmed if trimmed is not None else _skip_runner(tb)  # e.g. a SyntaxError: no frame of the script
    exc.__traceback__ = tb
    sys.excepthook(type(exc), exc, tb)
    return 1


def _skip_runner(tb: types.TracebackType | None) -> types.TracebackType | None:
    runner_files = {os.path.abspath(__file__), os.path.abspath(runpy.__file__)}
    while tb is not None and (
        os.path.abspath(tb.tb_frame.f_code.co_filename) in runner_files
        or tb.tb_frame.f_code.co_filename.startswith("<frozen runpy")
    ):
        tb = tb.tb_next
    return tb
