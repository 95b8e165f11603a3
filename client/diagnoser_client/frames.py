"""Tracebacks as text, and the source of the user's own files.

"Own" means not in the standard library, not in site-packages, not in this client: the files a user
wrote and can fix. The engine reads them to tell, say, a missing `reshape` from a wrong `input_shape`.
"""

from __future__ import annotations

import functools
import linecache
import os
import sys
import sysconfig
import traceback
from collections.abc import Iterator
from types import TracebackType

_CLIENT_DIR = os.path.dirname(os.path.abspath(__file__))
MAX_SOURCE_FILES = 5
MAX_SOURCE_CHARS = 200_000


@functools.lru_cache(maxsize=1)
def _library_dirs() -> tuple[str, ...]:
    dirs: set[str] = set()
    for name in ("stdlib", "platstdlib", "purelib", "platlib"):
        try:
            path = sysconfig.get_path(name)
        except Exception:
            continue
        if path:
            dirs.add(os.path.realpath(path))
    for prefix in (sys.prefix, sys.base_prefix, sys.exec_prefix):
        dirs.add(os.path.realpath(os.path.join(prefix, "lib")))
    return tuple(sorted(dirs))


def is_user_file(filename: str) -> bool:
    if filename.startswith("<ipython-input"):
        return True  # an IPython cell: linecache holds its text
    if not filename or filename.startswith("<"):
        return False
    path = os.path.realpath(filename)
    if path.startswith(_CLIENT_DIR + os.sep):
        return False
    parts = path.split(os.sep)
    if "site-packages" in parts or "dist-packages" in parts:
        return False
    return not any(path.startswith(d + os.sep) for d in _library_dirs())


def iter_tracebacks(exc: BaseException | None, tb: TracebackType | None) -> Iterator[TracebackType]:
    """Every traceback entry of the exception and its causes/contexts, outermost chain first."""
    seen: set[int] = set()
    chain = []
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        chain.append(exc)
        exc = exc.__cause__ or (None if exc.__suppress_context__ else exc.__context__)
    for item in reversed(chain):
        entry = tb if item is chain[0] and tb is not None else item.__traceback__
        while entry is not None:
            yield entry
            entry = entry.tb_next


def format_traceback(exc_type: type, exc: BaseException, tb: TracebackType | None) -> str:
    """The text Python itself prints for this exception, chained exceptions included."""
    return "".join(traceback.format_exception(exc_type, exc, tb))


def user_files(exc: BaseException, tb: TracebackType | None) -> list[str]:
    """The user's files in the traceback, the one that raised first."""
    files: list[str] = []
    for entry in iter_tracebacks(exc, tb):
        name = entry.tb_frame.f_code.co_filename
        if name not in files and is_user_file(name):
            files.append(name)
    files.reverse()
    return files


def collect_source(exc: BaseException, tb: TracebackType | None) -> str | None:
    """Source of the user's files in the traceback, each under a `# file:` header, bounded in size."""
    chunks: list[str] = []
    budget = MAX_SOURCE_CHARS
    for name in user_files(exc, tb)[:MAX_SOURCE_FILES]:
        lines = linecache.getlines(name)
        if not lines:
            continue
        text = "".join(lines)
        if len(text) > budget:
            text = text[:budget] + "\n# [truncated]\n"
        chunks.append(f"# file: {name}\n{text}")
        budget -= len(text)
        if budget <= 0:
            break
    return "\n".join(chunks) or None


def raising_location(exc: BaseException, tb: TracebackType | None) -> str:
    """file:line of the innermost frame of the exception itself (not of its causes)."""
    entry = tb or exc.__traceback__
    last = None
    while entry is not None:
        last = entry
        entry = entry.tb_next
    if last is None:
        return ""
    return f"{last.tb_frame.f_code.co_filename}:{last.tb_lineno}"


def trim_to_file(tb: TracebackType | None, filename: str) -> TracebackType | None:
    """Drop the runner's frames before the first frame of `filename`, so the printed traceback is the
    one `python script.py` would print; None when no frame is of `filename`."""
    target = os.path.realpath(filename)
    entry = tb
    while entry is not None:
        if os.path.realpath(entry.tb_frame.f_code.co_filename) == target:
            return entry
        entry = entry.tb_next
    return None
