"""Human-readable text for diagnoses, like a good linter: what, where, why, and the fix to paste."""

from __future__ import annotations

from diagnoser.engine.result import TracebackResult

_STYLES = {"bold": "1", "dim": "2", "red": "31", "green": "32", "yellow": "33", "cyan": "36"}


class Style:
    def __init__(self, color: bool) -> None:
        self.color = color

    def __call__(self, text: str, *names: str) -> str:
        if not self.color or not names:
            return text
        codes = ";".join(_STYLES[n] for n in names)
        return f"\x1b[{codes}m{text}\x1b[0m"


def render_traceback(tb: TracebackResult, style: Style, index: int | None = None, alternatives: int = 2) -> str:
    lines: list[str] = []
    first = tb.headline or (tb.message.strip().splitlines()[0] if tb.message.strip() else "")
    short_type = tb.exception_type.rsplit(".", 1)[-1]
    head = f"{short_type}: {first}" if short_type else first
    if len(head) > 160:
        head = head[:157] + "..."
    prefix = f"[{index}] " if index is not None else ""
    lines.append(style(prefix + head, "bold") + style(f"  ({tb.framework})", "dim"))
    if not tb.diagnoses:
        lines.append("  " + style("no known cause", "yellow") + ": no rule explains this error.")
        return "\n".join(lines)
    top = tb.diagnoses[0]
    lines.append(
        f"  {style(top.cause, 'red', 'bold')}  {top.title}  "
        + style(f"confidence {top.confidence:.2f} · rule {top.rule}", "dim")
    )
    facts = [
        f"layer {top.layer}" if top.layer else "",
        f"expected {top.expected}" if top.expected else "",
        f"received {top.received}" if top.received else "",
    ]
    facts = [f for f in facts if f]
    if facts:
        lines.append("  " + " · ".join(facts))
    lines.append("  " + style("why: ", "bold") + top.explanation)
    for ev in top.evidence[1:]:
        lines.append("    " + style(f"[{ev.source}]", "dim") + f" {ev.text}")
    lines.append("  " + style("fix: ", "green", "bold") + top.fix)
    if top.fix_code:
        lines.append("    " + style(top.fix_code, "cyan"))
    others = tb.diagnoses[1 : 1 + alternatives]
    if others:
        alt = ", ".join(f"{d.cause} ({d.confidence:.2f})" for d in others)
        lines.append("  " + style(f"also possible: {alt}", "dim"))
    return "\n".join(lines)
