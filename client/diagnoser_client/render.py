"""The few lines printed under the traceback: the diagnosis, or one line saying why there is none.

At most six lines, so the traceback stays the thing people read first. Colour only on a terminal, never
with NO_COLOR set (https://no-color.org), always with FORCE_COLOR.
"""

from __future__ import annotations

import os
import time
from typing import IO, Any

from diagnoser_client.transport import Outcome

MAX_WIDTH = 200
_RESET = "\033[0m"
_STYLES = {"title": "\033[1;31m", "label": "\033[36m", "dim": "\033[2m", "link": "\033[4;34m", "warn": "\033[33m"}


def use_colour(stream: IO[str] | None) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return bool(stream is not None and stream.isatty())
    except Exception:
        return False


class _Painter:
    def __init__(self, colour: bool) -> None:
        self.colour = colour

    def __call__(self, style: str, text: str) -> str:
        return f"{_STYLES[style]}{text}{_RESET}" if self.colour else text


def _one_line(text: Any, width: int = MAX_WIDTH) -> str:
    line = " ".join(str(text).split())
    return line if len(line) <= width else line[: width - 1] + "…"


def diagnosis_lines(body: dict[str, Any], colour: bool = False) -> list[str]:
    """The answer of POST /api/v1/reports as at most six lines."""
    paint = _Painter(colour)
    diagnoses = [d for d in body.get("diagnoses") or [] if isinstance(d, dict)]
    url = body.get("url")
    lines: list[str] = []
    if not diagnoses:
        lines.append(paint("dim", "diagnoser: no known cause for this error yet; the report is stored."))
    else:
        best = diagnoses[0]
        title = best.get("title") or best.get("cause") or "diagnosis"
        details = [str(best.get("cause") or "")]
        if isinstance(best.get("confidence"), (int, float)):
            details.append(f"{round(100 * float(best['confidence']))}%")
        if len(diagnoses) > 1:
            details.append(f"+{len(diagnoses) - 1} other cause{'s' if len(diagnoses) > 2 else ''}")
        detail = ", ".join(d for d in details if d)
        lines.append(f"{paint('label', 'diagnoser:')} {paint('title', _one_line(title, 120))}" + (f" ({detail})" if detail else ""))
        where = []
        if best.get("layer"):
            where.append(f"layer {best['layer']}")
        shapes = [f"{name} {best[name]}" for name in ("expected", "received") if best.get(name)]
        if shapes:
            where.append(", ".join(shapes))
        if where:
            lines.append(f"  {paint('label', 'where:')} {_one_line('; '.join(where))}")
        if best.get("fix"):
            lines.append(f"  {paint('label', 'fix:')}   {_one_line(best['fix'])}")
        code = best.get("fix_code")
        if isinstance(code, str) and code.strip():
            first = next(line for line in code.splitlines() if line.strip())
            lines.append(f"  {paint('label', 'code:')}  {_one_line(first)}")
    if url:
        lines.append(f"  {paint('label', 'more:')}  {paint('link', str(url))}")
    return lines[:6]


def local_time(moment: float, now: float | None = None) -> str:
    """"12:03:10" today, "2025-12-02 12:03:10" another day (local time, as the user's clock shows it)."""
    when = time.localtime(moment)
    today = time.localtime(time.time() if now is None else now)
    if when[:3] == today[:3]:
        return time.strftime("%H:%M:%S", when)
    return time.strftime("%Y-%m-%d %H:%M:%S", when)


def failure_line(outcome: Outcome, url: str | None, spooled_to: str | None, colour: bool = False) -> str:
    """One line for a report that was not delivered."""
    paint = _Painter(colour)
    prefix = paint("warn", "diagnoser:")
    if outcome.status in (401, 403):
        return (
            f"{prefix} the service at {url} rejected the token ({outcome.describe()}); "
            "check DIAGNOSER_TOKEN (an ingest token). Report not sent."
        )
    if outcome.status == 0:
        return f"{prefix} {_one_line(outcome.describe(), 150)}; report not sent."
    if outcome.status == 413:
        return f"{prefix} the report is too large for the service ({outcome.describe()}); not sent."
    if outcome.permanent:
        return f"{prefix} the service refused the report ({_one_line(outcome.describe(), 150)}); not sent."
    if spooled_to:
        after = f" after {local_time(outcome.not_before)}" if outcome.not_before is not None else ""
        return (
            f"{prefix} could not reach {url} ({_one_line(outcome.describe(), 80)}); report saved in "
            f"{os.path.dirname(spooled_to)}, resent{after} on the next run or by `python -m diagnoser_client flush`."
        )
    return f"{prefix} could not reach {url} ({_one_line(outcome.describe(), 80)}) nor save the report; it is lost."
