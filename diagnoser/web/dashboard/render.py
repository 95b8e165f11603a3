"""Template helpers: times, sparklines, highlighted tracebacks. Each escapes what it is given before adding markup."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from markupsafe import Markup, escape

_FRAME = re.compile(r'^(\s*)File "([^"\n]*)", line (\d+)(?:, in (.*))?$')
_EXCEPTION = re.compile(r"^(\s*)([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault))(:.*)?$")
_CHAIN = re.compile(r"^(During handling of the above exception|The above exception was the direct cause|"
                    r"Traceback \(most recent call last\))")


def time_tag(value: datetime | str | None, relative: bool = True) -> Markup:
    """<time datetime="...Z">2026-01-31 12:00 UTC</time>: UTC on the server; static/dashboard.js shows it in the
    viewer's time zone (and "3 h ago" where data-rel is set). An ISO 8601 string (as the store's channel listings
    give) is read first."""
    if value is None:
        return Markup("<span class=muted>never</span>")
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return Markup("<span class=muted>{}</span>").format(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    value = value.astimezone(UTC)
    iso = value.strftime("%Y-%m-%dT%H:%M:%SZ")
    text = value.strftime("%Y-%m-%d %H:%M UTC")
    rel = " data-rel" if relative else ""
    return Markup('<time datetime="{}"{} title="{}">{}</time>').format(iso, Markup(rel), text, text)


def spark_points(counts: list[int], width: int = 120, height: int = 24) -> str:
    """The points of an SVG polyline for a sparkline (numbers only, nothing to escape)."""
    if not counts:
        return ""
    top = max(counts) or 1
    step = width / max(1, len(counts) - 1)
    return " ".join(f"{i * step:.1f},{height - 1 - (n / top) * (height - 2):.1f}" for i, n in enumerate(counts))


def highlight_traceback(text: str) -> Markup:
    """A traceback as HTML: every line escaped first, then frames, code and exception lines marked up."""
    out = []
    previous_frame = False
    for line in text.splitlines():
        frame = _FRAME.match(line)
        if frame:
            indent, path, number, function = frame.groups()
            markup = Markup('{}File "<span class=tb-file>{}</span>", line <span class=tb-line>{}</span>').format(
                indent, path, number)
            if function is not None:
                markup += Markup(", in <span class=tb-fn>{}</span>").format(function)
            out.append(Markup("<span class=tb-frame>{}</span>").format(markup))
            previous_frame = True
            continue
        exception = _EXCEPTION.match(line)
        if exception:
            out.append(Markup("<span class=tb-exc>{}<b>{}</b>{}</span>").format(*exception.groups("")))
        elif _CHAIN.match(line):
            out.append(Markup("<span class=tb-chain>{}</span>").format(line))
        elif previous_frame and line.startswith("    "):
            out.append(Markup("<span class=tb-code>{}</span>").format(line))
        else:
            out.append(escape(line))
        previous_frame = False
    return Markup("\n").join(out)


def number(value: Any) -> str:
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def share(value: float) -> str:
    return f"{value * 100:.1f}%" if value else "0%"
