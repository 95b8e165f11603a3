"""Run the engine on a (scrubbed) report and reduce its answer to what the store keeps: the diagnoses of the
traceback to answer with, and a group key.

The group key is the best diagnosis's fingerprint; with no diagnosis we derive one from the exception type and its
message with the variable parts (numbers, quoted names, addresses) blanked, so the same unexplained error still
groups with itself across runs.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

from diagnoser.engine import diagnose
from diagnoser.engine.version import engine_version

RULESET_VERSION: str = engine_version()

_EXCEPTION_LINE = re.compile(
    r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning|Failure|Fault|Stop\w*|Iteration))(?::\s*(.*))?$"
)
_QUOTED = re.compile(r"'[^'\n]*'|\"[^\"\n]*\"|`[^`\n]*`")
_HEX = re.compile(r"0x[0-9a-fA-F]+")
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_SPACES = re.compile(r"\s+")
MAX_FINGERPRINT = 128


@dataclass
class Analysis:
    """The engine's answer for one report text, shared by every report of that text (do not mutate)."""

    content_hash: str
    exception_type: str
    exception_message: str
    framework: str | None
    diagnoses: list[dict[str, Any]] = field(default_factory=list)
    fingerprint: str = ""
    ruleset_version: str = RULESET_VERSION
    # The answer's JSON for the diagnoses, made once per analysis (web.api).
    derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @property
    def best(self) -> dict[str, Any] | None:
        return self.diagnoses[0] if self.diagnoses else None

    @property
    def cause(self) -> str | None:
        return self.best["cause"] if self.best else None

    @property
    def title(self) -> str:
        best = self.best or {}
        return str(best.get("title") or f"{self.exception_type}: {self.exception_message}".strip(": "))[:1000]


def normalise_message(message: str) -> str:
    text = _QUOTED.sub("<q>", message)
    text = _HEX.sub("<hex>", text)
    text = _NUMBER.sub("<n>", text)
    return _SPACES.sub(" ", text).strip()[:2000]


def fallback_fingerprint(exception_type: str, message: str) -> str:
    digest = hashlib.sha1(f"{exception_type}\n{normalise_message(message)}".encode("utf-8", "replace")).hexdigest()
    return f"x:{digest}"


def last_exception_line(text: str) -> tuple[str, str]:
    """The last `SomeError: message` line of `text`, or ("", last non-empty line) when there is none."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        match = _EXCEPTION_LINE.match(line)
        if match:
            return match.group(1), match.group(2) or ""
    return "", (lines[-1] if lines else "")


def _clean_fingerprint(value: object) -> str:
    text = str(value or "")
    if len(text) > MAX_FINGERPRINT:
        text = "h:" + hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()
    return text


def content_hash(traceback: str, summary: str | None, source: str | None, inputs: Any) -> str:
    """What identifies a report's text: equal hashes, equal engine input, equal answer."""
    digest = hashlib.blake2b(digest_size=20)
    inputs_text = json.dumps(inputs, sort_keys=True, default=str) if inputs else None
    for part in (traceback, summary, source, inputs_text):
        digest.update(b"\x00" if part is None else b"\x01" + part.encode("utf-8", "surrogatepass") + b"\x02")
    return digest.hexdigest()


class _AnalysisCache:
    """The last answers of the engine, by content hash.

    Why: a recurring cause is the common case (one broken script crashing across a sweep, a cluster, a night of
    retries), and the engine is pure, so the same text gets the same answer without running it again.
    """

    def __init__(self, size: int = 2048) -> None:
        self.size = size
        self._entries: OrderedDict[tuple[str, str], Analysis] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[str, str]) -> Analysis | None:
        with self._lock:
            found = self._entries.get(key)
            if found is not None:
                self._entries.move_to_end(key)
            return found

    def put(self, key: tuple[str, str], value: Analysis) -> None:
        with self._lock:
            self._entries[key] = value
            if len(self._entries) > self.size:
                self._entries.popitem(last=False)


_cache = _AnalysisCache()


def analyse(traceback: str, summary: str | None = None, source: str | None = None, inputs: Any = None,
            cache: bool = True) -> Analysis:
    """Diagnose one report. Never raises on any text: an engine failure leaves the report undiagnosed but stored."""
    digest = content_hash(traceback, summary, source, inputs)
    key = (RULESET_VERSION, digest)
    found = _cache.get(key) if cache else None
    if found is None:
        found = _analyse(digest, traceback, summary, source, inputs)
        if cache:
            _cache.put(key, found)
    return found


def _analyse(digest: str, traceback: str, summary: str | None, source: str | None, inputs: Any) -> Analysis:
    try:
        # The traceback to answer with is the last one the engine explains (a run often ends in a wrapper such as
        # torch.distributed's ChildFailedError), else the last one.
        primary = diagnose(traceback, summary=summary, source=source, inputs=inputs).primary
        last = primary.to_dict() if primary is not None else None
    except Exception:  # noqa: BLE001 - the engine promises not to raise; a report must still be kept if it does
        last = None
    if last:
        exc = last.get("exception") or {}
        exc_type, message = str(exc.get("type") or ""), str(exc.get("message") or "")
        diagnoses = list(last.get("diagnoses") or [])
        framework = last.get("framework")
    else:
        exc_type, message = last_exception_line(traceback)
        diagnoses, framework = [], None
    fingerprint = _clean_fingerprint(diagnoses[0].get("fingerprint")) if diagnoses else ""
    if not fingerprint:
        fingerprint = fallback_fingerprint(exc_type, message)
    return Analysis(content_hash=digest, exception_type=exc_type[:200], exception_message=message,
                    framework=framework, diagnoses=diagnoses, fingerprint=fingerprint,
                    ruleset_version=RULESET_VERSION)
