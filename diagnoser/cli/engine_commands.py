"""Offline engine commands: diagnose, scan, rules. No server, no database.

Exit codes scripts can rely on: 0 a cause was found, 1 tracebacks were found but no rule explains any,
3 no traceback in the input, 2 bad usage or an unreadable file.
"""

from __future__ import annotations

import collections
import json
import os
import sys
import time
from pathlib import Path
from typing import BinaryIO

import click

from diagnoser.engine import diagnose
from diagnoser.engine.render import Style, render_traceback
from diagnoser.engine.result import DiagnosisResult, TracebackResult
from diagnoser.engine.summary import parse_summary

EXIT_DIAGNOSED, EXIT_UNEXPLAINED, EXIT_USAGE, EXIT_NO_TRACEBACK = 0, 1, 2, 3  # see the module docstring


class InputError(click.ClickException):
    """Unreadable input: a one-line message and exit status 2, never a traceback."""

    exit_code = EXIT_USAGE


MAX_DIAGNOSE_BYTES = 8 * 1024 * 1024


def _use_color(flag: bool | None, stream: object) -> bool:
    if flag is not None:
        return flag
    if os.environ.get("NO_COLOR"):
        return False
    return bool(getattr(stream, "isatty", lambda: False)())


def _read_text(path: str, what: str, limit: int = MAX_DIAGNOSE_BYTES) -> str:
    """Read a file or stdin ('-') as text; unreadable input is a clear error, never a traceback."""
    try:
        if path == "-":
            data = sys.stdin.buffer.read(limit + 1)
        else:
            p = Path(path)
            if p.is_dir():
                raise InputError(f"{what} {path!r} is a directory, not a file")
            with p.open("rb") as fh:
                data = fh.read(limit + 1)
    except FileNotFoundError:
        raise InputError(f"{what} {path!r} does not exist") from None
    except PermissionError:
        raise InputError(f"{what} {path!r} cannot be read (permission denied)") from None
    except OSError as exc:
        raise InputError(f"{what} {path!r} cannot be read: {exc.strerror or exc}") from None
    if len(data) > limit:
        # Keep the end: the traceback that ended a run is at the end of its output.
        data = data[-limit:]
    return data.decode("utf-8", errors="replace")


def _exit_code(tracebacks: list[TracebackResult]) -> int:
    if not tracebacks:
        return EXIT_NO_TRACEBACK
    return EXIT_DIAGNOSED if DiagnosisResult(tracebacks).primary.diagnoses else EXIT_UNEXPLAINED  # type: ignore[union-attr]


def diagnose_command(
    file: str, summary: str | None, source: str | None, fmt: str, color: bool | None, all_: bool
) -> int:
    text = _read_text(file, "input")
    summary_text = _read_text(summary, "summary file") if summary else None
    source_text = _read_text(source, "source file") if source else None
    result = diagnose(text, summary=summary_text, source=source_text)
    if fmt == "json":
        click.echo(json.dumps(result.to_dict(), indent=2, ensure_ascii=False))
    else:
        _print_text(result, Style(_use_color(color, sys.stdout)), all_)
    return _exit_code(result.tracebacks)


def _print_text(result: DiagnosisResult, style: Style, all_: bool) -> None:
    if not result.tracebacks:
        click.echo("No traceback found in the input.", err=True)
        return
    primary = result.primary
    shown = result.tracebacks if all_ or primary is None else [primary]
    if not all_ and len(result.tracebacks) > 1:
        which = "the last one" if primary is result.last else "the last one a rule explains"
        click.echo(style(f"{len(result.tracebacks)} tracebacks; {which} (use --all for every one):", "dim"))
    for i, tb in enumerate(shown, 1):
        click.echo(render_traceback(tb, style, i if len(shown) > 1 else None))
        if i < len(shown):
            click.echo()


class _Progress:
    """A progress bar on stderr for big files, only when stderr is a terminal."""

    def __init__(self, total: int, enabled: bool) -> None:
        self.total, self.done, self.enabled, self._last = max(total, 1), 0, enabled, 0.0

    def __call__(self, n: int) -> None:
        self.done += n
        now = time.monotonic()
        if self.enabled and (now - self._last > 0.2 or n == 0):
            self._last = now
            frac = min(self.done / self.total, 1.0)
            bar = "#" * int(frac * 30)
            sys.stderr.write(f"\r  scanning [{bar:<30}] {frac:6.1%} {self.done / 1e6:8.1f} MB")
            sys.stderr.flush()

    def finish(self) -> None:
        if self.enabled:
            sys.stderr.write("\r" + " " * 70 + "\r")
            sys.stderr.flush()


def scan_command(file: str, summary: str | None, fmt: str, color: bool | None) -> int:
    from diagnoser.engine.scan import scan_stream

    model = parse_summary(_read_text(summary, "summary file")) if summary else None
    try:
        if file == "-":
            stream: BinaryIO = sys.stdin.buffer
            size = 0
        else:
            p = Path(file)
            if p.is_dir():
                raise InputError(f"log {file!r} is a directory, not a file")
            stream = p.open("rb")
            size = p.stat().st_size
    except FileNotFoundError:
        raise InputError(f"log {file!r} does not exist") from None
    except OSError as exc:
        raise InputError(f"log {file!r} cannot be read: {exc.strerror or exc}") from None
    progress = _Progress(size, enabled=size > 8 * 1024 * 1024 and sys.stderr.isatty())
    found: list[tuple[int, TracebackResult]] = []
    try:
        with stream:
            for line_no, tb in scan_stream(stream, model=model, progress=progress):
                found.append((line_no, tb))
    except OSError as exc:
        raise InputError(f"log {file!r} could not be read to the end: {exc}") from None
    finally:
        progress.finish()
    tracebacks = [tb for _, tb in found]
    if fmt == "json":
        click.echo(json.dumps(DiagnosisResult(tracebacks).to_dict(), indent=2, ensure_ascii=False))
        return _exit_code(tracebacks)
    style = Style(_use_color(color, sys.stdout))
    if not found:
        click.echo("No traceback found in the log.", err=True)
        return EXIT_NO_TRACEBACK
    counts: collections.Counter[str] = collections.Counter()
    first_at: dict[str, int] = {}
    for line_no, tb in found:
        cause = tb.diagnoses[0].cause if tb.diagnoses else "(unexplained)"
        counts[cause] += 1
        first_at.setdefault(cause, line_no)
    for line_no, tb in found:
        top = tb.diagnoses[0] if tb.diagnoses else None
        where = style(f"line {line_no:>7}", "dim")
        what = f"{tb.exception_type}"
        cause = style(top.cause, "red") if top else style("(unexplained)", "yellow")
        layer = f" layer {top.layer}" if top and top.layer else ""
        click.echo(f"{where}  {cause:<20} {what}{layer}")
    click.echo()
    click.echo(style(f"{'cause':<24}{'count':>7}  first at line", "bold"))
    for cause, n in counts.most_common():
        click.echo(f"{cause:<24}{n:>7}  {first_at[cause]}")
    click.echo(style(f"{len(found)} tracebacks", "dim"))
    return _exit_code(tracebacks)


def register(cli: click.Group) -> None:
    @cli.command("diagnose")
    @click.argument("file", default="-", metavar="[FILE|-]")
    @click.option("--summary", "summary", metavar="FILE", help="model.summary() or print(model) output")
    @click.option("--source", "source", metavar="FILE", help="the training script, to use its code as evidence")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @click.option("--color/--no-color", default=None, help="colour the text (default: when stdout is a terminal)")
    @click.option("--all", "all_", is_flag=True, help="show every traceback, not only the last")
    def diagnose_cmd(
        file: str, summary: str | None, source: str | None, fmt: str, color: bool | None, all_: bool
    ) -> None:
        """Diagnose a traceback, several, or a whole log (FILE, or - for stdin).

        Exit status: 0 a cause was found, 1 no rule explains the error, 3 no traceback, 2 bad input.
        """
        sys.exit(diagnose_command(file, summary, source, fmt, color, all_))

    @cli.command("scan")
    @click.argument("logfile", metavar="LOGFILE|-")
    @click.option("--summary", "summary", metavar="FILE", help="model.summary() output for the run")
    @click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
    @click.option("--color/--no-color", default=None)
    def scan_cmd(logfile: str, summary: str | None, fmt: str, color: bool | None) -> None:
        """Every traceback in a log of any size, and a table of their causes."""
        sys.exit(scan_command(logfile, summary, fmt, color))

    @cli.group("rules")
    def rules_group() -> None:
        """Inspect and test the message families in rules/families/."""

    @rules_group.command("test")
    @click.option("--dir", "directory", metavar="DIR", help="families folder (default: the shipped families)")
    def rules_test(directory: str | None) -> None:
        """Run every family against its own examples (recognition and cause), and lint fixes and weights."""
        from diagnoser.engine.selftest import run

        summary = run(directory)
        for f in summary.failures:
            click.echo(f"FAIL {f.family}: {f.problem}")
        if summary.failures:
            click.echo(
                f"{len(summary.failures)} failed, {summary.families} families, {summary.examples} examples "
                f"({summary.undecided} undecided and {summary.runner_up} runner-up answers accepted)"
            )
            sys.exit(1)
        click.echo(
            f"{summary.families} families, {summary.examples} examples: all passed (families {summary.version}; "
            f"{summary.undecided} examples answered undecided, naming their cause: their evidence cannot decide; "
            f"{summary.runner_up} with their cause second behind an answer below 0.8: their evidence leans the other "
            "way; "
            f"{summary.quoted_right} of {summary.quoted} quoting published messages answered with the cause we read)"
        )

    @rules_group.command("list")
    @click.option("--dir", "directory", metavar="DIR", help="families folder (default: the shipped families)")
    @click.option("--library", metavar="NAME", help="only the families of one library (keras, torch, numpy, ...)")
    def rules_list(directory: str | None, library: str | None) -> None:
        """The message families: which library check each recognises and the causes it can name."""
        from rich.console import Console
        from rich.table import Table

        from diagnoser.engine.families import FamilyError, default_families, load_families

        try:
            families = load_families(directory) if directory else default_families()
        except FamilyError as exc:
            raise click.ClickException("the families do not load:\n" + "\n".join(exc.problems)) from None
        shown = [f for f in families.families if not library or f.library == library]
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("family", no_wrap=True)
        table.add_column("library")
        table.add_column("causes")
        table.add_column("recognises")
        for family in shown:
            table.add_row(family.id, family.library, ", ".join(family.causes), family.title)
        Console(width=None if sys.stdout.isatty() else 160).print(table)
        click.echo(f"{len(shown)} families")

    @rules_group.command("vocabulary")
    def rules_vocabulary() -> None:
        """The facts, checks and sites a family may name (the tables of rules/README.md)."""
        from diagnoser.engine.vocabulary import markdown

        click.echo(markdown(), nl=False)
