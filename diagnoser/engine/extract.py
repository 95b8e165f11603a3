"""Find every traceback in arbitrary text: a pasted error, stderr of a run, or a 200 MB training log.

Logs are messy: progress bars redraw with carriage returns, colours arrive as ANSI codes, loggers put a
timestamp or a rank in front of every line, and Python chains exceptions. The extractor is a line-driven
state machine so the same code serves a string in memory and a file streamed in chunks; outside a
traceback it only looks at lines that contain a trigger word, which keeps `scan` close to disk speed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

ANSI_RE = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[@-Z\\-_]")
HEADER = "Traceback (most recent call last):"
CHAIN_LINES = (
    "During handling of the above exception, another exception occurred:",
    "The above exception was the direct cause of the following exception:",
)
# An exception line: a (dotted) Python identifier, then ':' and the message, or nothing at all.
# TF 1.x session errors print "InvalidArgumentError (see above for traceback): <message>".
EXC_LINE_RE = re.compile(
    r"^(?P<type>[A-Za-z_][\w]*(?:\.[A-Za-z_][\w]*)*)(?: \(see above for traceback\))?(?::[ \t]?(?P<msg>.*))?$"
)
# A bare error pasted without its traceback: the type must look like an exception class.
BARE_RE = re.compile(
    r"^[ \t>`*\"']{0,8}(?P<type>(?:[A-Za-z_]\w*\.)*(?:[A-Z]\w*(?:Error|Exception)|Exception))"
    r"(?: \(see above for traceback\))?[ \t]*:[ \t]+(?P<msg>\S.*)$"
)
# A warning as Python's warnings module prints it: "<file>.py:<line>: <Category>: <message>", then the source line
# indented. Keras 2.1+ and keras_preprocessing only warn about arrays in the wrong layout; a user pastes the warning.
WARNING_LINE_RE = re.compile(r"^\s*\S+\.py:\d+: (?P<type>[A-Z]\w*Warning): (?P<msg>\S.*)$")
# Lines that begin a new log record: they end a message that has no other end marker.
LOG_RECORD_RE = re.compile(
    r"^(?:\d{4}-\d\d-\d\d[T ]\d\d:\d\d|\[?\d\d:\d\d:\d\d|[IWEF]\d{4} \d\d:|[IWEF]0000 |"
    r"(?:INFO|WARNING|WARN|ERROR|DEBUG|CRITICAL)[:\s\]]|Epoch \d+/\d+|\d+/\d+ [\[━=.]|\S+@\S+:.*[$#] |"
    r"```|~~~|(?:wandb|mlflow|comet_ml|neptune|absl|clearml):\s)"
)
IPYTHON_HEADER_RE = re.compile(r"^\s*(?P<type>[A-Za-z_][\w.]*)\s+Traceback \(most recent call last\)\s*$")
MAX_MESSAGE_LINES = 400
MAX_MESSAGE_CHARS = 256 * 1024
MAX_LINE_CHARS = 1024 * 1024
MAX_FRAMES = 2000


@dataclass
class RawBlock:
    """One traceback as text, before parsing: its frame lines, exception line and message lines."""

    frame_lines: list[str] = field(default_factory=list)
    exception_line: str = ""
    message_lines: list[str] = field(default_factory=list)
    chained_from_previous: bool = False
    bare: bool = False
    start_line: int = 0  # 1-based line number in the input, for `scan` reports
    ipython_type: str = ""  # set for IPython-style tracebacks, whose frames are printed differently


def clean_line(line: str) -> str:
    """What a terminal would show: no colour codes, only the last redraw of a carriage-returned line."""
    if "\x1b" in line:
        line = ANSI_RE.sub("", line)
    if "\r" in line:
        parts = [p for p in line.split("\r") if p.strip()]
        line = parts[-1] if parts else ""
    if len(line) > MAX_LINE_CHARS:
        line = line[:MAX_LINE_CHARS]
    line = line.rstrip("\n")
    return line.replace("\x00", "") if "\x00" in line else line


def _prefix_matcher(prefix: str) -> re.Pattern[str] | None:
    """A pattern for the per-line prefix (timestamp, logger name, rank) that the header line carries.

    Digits vary from line to line (timestamps, ranks), so they match any digits; the rest is literal, so
    the indentation after the prefix (which marks frames) survives.
    """
    if not prefix.strip():
        return None if not prefix else re.compile(re.escape(prefix))
    parts = re.split(r"(\d+)", prefix)
    regex = "".join(r"\d+" if p.isdigit() else re.escape(p) for p in parts if p)
    return re.compile(regex)


class Extractor:
    """Feed lines one by one; completed blocks come back as they close."""

    def __init__(self) -> None:
        self._state = "idle"  # idle | frames | message
        self._block: RawBlock | None = None
        self._prefix: re.Pattern[str] | None = None
        self._pending_chain = False
        self._blank_run = 0
        self._line_no = 0
        self._message_chars = 0

    @property
    def idle(self) -> bool:
        return self._state == "idle"

    def pass_line(self) -> None:
        """Account for one idle line that holds no trigger (it can neither start a block nor break a chain)."""
        self._line_no += 1

    def skip_lines(self, count: int) -> None:
        """Account for lines the caller skipped without feeding (they held no trigger)."""
        self._line_no += count
        self._pending_chain = False

    def feed(self, raw: str) -> list[RawBlock]:
        self._line_no += 1
        line = clean_line(raw)
        done: list[RawBlock] = []
        if self._state != "idle":
            stripped = line if self._prefix is None else self._strip_prefix(line)
            if stripped is None:  # a line from another source: this block is over
                done += self._close()
            else:
                closed = self._feed_in_block(stripped)
                if closed is not None:
                    done += closed
                    if self._state != "idle":
                        return done
                else:
                    return done
        # idle: look for a header, a chain separator or a bare error line
        self._feed_idle(line, done)
        return done

    def close(self) -> list[RawBlock]:
        return self._close() if self._state != "idle" else []

    # -- internals ---------------------------------------------------------------------------

    def _strip_prefix(self, line: str) -> str | None:
        if self._prefix is None:
            return line
        m = self._prefix.match(line)
        if m:
            return line[m.end():]
        if not line.strip():
            return ""
        return None

    def _feed_idle(self, line: str, done: list[RawBlock]) -> None:
        if "Traceback (most recent call last)" in line and not line.rstrip().endswith(":"):
            m = IPYTHON_HEADER_RE.match(line)
            if m:  # IPython / Jupyter / Colab: "ValueError      Traceback (most recent call last)"
                self._start("", bare=False)
                self._state = "ipython"
                assert self._block is not None
                self._block.ipython_type = m.group("type")
                return
        idx = line.find(HEADER)
        if idx >= 0 and not line[idx + len(HEADER):].strip():
            prefix = line[:idx]
            # "Original Traceback" (PyTorch workers) is part of the enclosing message, not a new block.
            if prefix.rstrip().endswith("Original"):
                return
            self._start(prefix, bare=False)
            return
        stripped = line.strip()
        if stripped in CHAIN_LINES or any(stripped.endswith(c) for c in CHAIN_LINES):
            self._pending_chain = True
            return
        if "rror" in line or "xception" in line:
            m = BARE_RE.match(line)
            if m and not line.lstrip().startswith(("raise ", "except ")):
                self._start("", bare=True)
                assert self._block is not None
                self._block.exception_line = line.strip().lstrip(">`*\"' \t")
                self._state = "message"
                self._message_chars = len(line)

    def _start(self, prefix: str, bare: bool) -> None:
        self._block = RawBlock(chained_from_previous=self._pending_chain, bare=bare, start_line=self._line_no)
        self._pending_chain = False
        self._prefix = _prefix_matcher(prefix)
        self._state = "frames"
        self._blank_run = 0
        self._message_chars = 0

    def _close(self) -> list[RawBlock]:
        block = self._block
        self._block = None
        self._state = "idle"
        self._prefix = None
        if block is None or not block.exception_line:
            return []
        while block.message_lines and not block.message_lines[-1].strip():
            block.message_lines.pop()
        return [block]

    def _feed_in_block(self, line: str) -> list[RawBlock] | None:
        """Returns None when the line was absorbed, or the closed blocks when it ended the block
        (the caller then re-reads the line as an idle line)."""
        block = self._block
        assert block is not None
        if self._state == "ipython":
            stripped = line.strip()
            if not line.startswith((" ", "\t")) and stripped and EXC_LINE_RE.match(stripped) and (
                ":" in stripped or stripped == block.ipython_type
            ) and stripped.split(":", 1)[0].rsplit(".", 1)[-1] == block.ipython_type.rsplit(".", 1)[-1]:
                block.exception_line = stripped
                self._state = "message"
                self._blank_run = 0
                self._message_chars = len(line)
                return None
            if len(block.frame_lines) < MAX_FRAMES * 3 and stripped and not set(stripped) <= set("-"):
                block.frame_lines.append(line)
            return None
        if self._state == "frames":
            if line.startswith("  File ") or line.startswith("File \""):
                if len(block.frame_lines) < MAX_FRAMES * 3:
                    block.frame_lines.append(line)
                return None
            if (
                line.startswith((" ", "\t"))
                or not line.strip()
                or line.startswith("[Previous line repeated")
                or set(line.strip()) <= set("^~")  # a caret line under a code line as wide as the terminal
            ):
                if line.strip() and len(block.frame_lines) < MAX_FRAMES * 3:
                    block.frame_lines.append(line)
                return None
            if EXC_LINE_RE.match(line.strip()) is None:
                # Not an exception line: the traceback was cut off (or interleaved). Close what we have.
                return self._close()
            block.exception_line = line.strip()
            self._state = "message"
            self._blank_run = 0
            self._message_chars = len(line)
            return None
        # message state
        stripped = line.strip()
        if stripped.startswith(HEADER) and not line.startswith((" ", "\t")):
            return self._close()
        if stripped in CHAIN_LINES:
            return self._close()
        if not stripped:
            self._blank_run += 1
            if self._blank_run >= 3 and self._prefix is None:
                return self._close()
            block.message_lines.append("")
            return None
        if self._prefix is None and not line.startswith((" ", "\t")):
            if LOG_RECORD_RE.match(line) or (block.bare and self._blank_run and BARE_RE.match(line)):
                return self._close()
            if self._blank_run and EXC_LINE_RE.match(stripped) is None and block.bare and not _continues(block):
                return self._close()
        self._blank_run = 0
        if len(block.message_lines) >= MAX_MESSAGE_LINES or self._message_chars > MAX_MESSAGE_CHARS:
            return None  # keep absorbing the message, but keep no more of it
        block.message_lines.append(line)
        self._message_chars += len(line)
        return None


def _continues(block: RawBlock) -> bool:
    """Whether a bare error's message announces more paragraphs (Keras 3 wraps the real error, and quotes it after
    "Exception encountered:" when it cannot build a model)."""
    last = next((x.strip() for x in reversed(block.message_lines) if x.strip()), "")
    return any(
        line.endswith(":") or "Exception encountered when calling" in line or "in user code" in line
        for line in (block.exception_line, last)
    )


def extract_blocks(text: str) -> list[RawBlock]:
    """All traceback blocks of an in-memory text, in order of appearance.

    While no block is open, a line without a trigger (a header, "Error" or "Exception", which the chain lines
    hold too) cannot start one, so it is counted, not fed: most of a log is such lines."""
    ex = Extractor()
    out: list[RawBlock] = []
    for line in text.splitlines():
        if (
            ex._state == "idle"
            and "rror" not in line
            and "xception" not in line
            and "Traceback (most recent" not in line
        ):
            ex.pass_line()
            continue
        out += ex.feed(line)
    out += ex.close()
    return out


def iter_blocks(lines: Iterable[str]) -> Iterator[RawBlock]:
    ex = Extractor()
    for line in lines:
        yield from ex.feed(line)
    yield from ex.close()


class _Triggers:
    """Where the next line worth reading starts. bytes.find per literal, cached until passed: far faster
    than decoding the whole log or running a regex alternation, which has no literal to skip ahead with."""

    LITERALS = (b"Traceback (most recent call last)", b"Error", b"Exception")

    def __init__(self, chunk: bytes) -> None:
        self.chunk = chunk
        self.next = {lit: -2 for lit in self.LITERALS}

    def find(self, pos: int) -> int:
        best = -1
        for lit in self.LITERALS:
            at = self.next[lit]
            if at != -1 and at < pos:
                at = self.chunk.find(lit, pos)
                # "Error"/"Exception" count only when a ':' follows (after optional blanks)
                while at != -1 and lit is not self.LITERALS[0] and not _colon_follows(self.chunk, at + len(lit)):
                    at = self.chunk.find(lit, at + 1)
                self.next[lit] = at
            if at != -1 and (best == -1 or at < best):
                best = at
        return best


def _colon_follows(text: bytes, i: int) -> bool:
    n = len(text)
    while i < n and text[i] in (32, 9):
        i += 1
    return i < n and text[i] == 58


_CHAIN_BYTES = tuple(c.encode() for c in CHAIN_LINES)


def _chain_start(chunk: bytes, start: int) -> int:
    """A chain separator a few lines above a header belongs to it: start there so it is seen."""
    i = start
    for _ in range(3):
        if i <= 0:
            break
        prev = chunk.rfind(b"\n", 0, i - 1) + 1
        line = chunk[prev : i - 1].strip()
        if line in _CHAIN_BYTES:
            return prev
        if line:
            break
        i = prev
    return start


def iter_blocks_in_chunks(chunks: Iterable[bytes]) -> Iterator[RawBlock]:
    """Stream over big logs as bytes: chunks end on a line boundary; lines with no trigger word are never
    decoded while no traceback is open, so memory stays bounded and speed near disk speed."""
    ex = Extractor()
    for chunk in chunks:
        pos = 0
        n = len(chunk)
        triggers = _Triggers(chunk)
        while pos < n:
            if ex.idle:
                at = triggers.find(pos)
                if at == -1:
                    ex.skip_lines(chunk.count(b"\n", pos))
                    break
                start = _chain_start(chunk, chunk.rfind(b"\n", 0, at) + 1)
                if start > pos:
                    ex.skip_lines(chunk.count(b"\n", pos, start))
                    pos = start
            end = chunk.find(b"\n", pos)
            if end == -1:
                end = n
            yield from ex.feed(chunk[pos:end].decode("utf-8", errors="replace"))
            pos = end + 1
    yield from ex.close()


def paste_block(lines: list[str]) -> RawBlock:
    """A short paste that holds no traceback, as one bare block: from its first warning line (the warning's source
    line left out), else with a notebook header's type given to the message below it, else from its first line."""
    for i, line in enumerate(lines):
        m = WARNING_LINE_RE.match(line)
        if m:
            rest = lines[i + 1 :]
            if rest and rest[0][:1].isspace():
                rest = rest[1:]
            return RawBlock(exception_line=f"{m['type']}: {m['msg']}", message_lines=rest, bare=True, start_line=i + 1)
    header = IPYTHON_HEADER_RE.match(lines[0])
    if header and len(lines) > 1:  # a notebook's header, then the message without its frames or its type
        return RawBlock(exception_line=f"{header['type']}: {lines[1].strip()}", message_lines=lines[2:], bare=True)
    return RawBlock(exception_line=lines[0], message_lines=lines[1:], bare=True)

