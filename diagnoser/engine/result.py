"""The engine's answer, shaped exactly as the contract in DESIGN.md so every consumer reads one schema."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class Frame:  # a value never changed once made; not frozen, which costs 3x to make
    file: str
    line: int | None
    function: str
    code: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "line": self.line, "function": self.function, "code": self.code}


@dataclass(slots=True)
class Evidence:  # a value never changed once made; not frozen, which costs 3x to make
    source: str  # "message" | "summary" | "frame" | "code"
    text: str

    def to_dict(self) -> dict[str, str]:
        return {"source": self.source, "text": self.text}


@dataclass
class Diagnosis:
    cause: str
    confidence: float
    rule: str
    title: str
    explanation: str
    fix: str
    fix_code: str | None = None
    layer: str | None = None
    expected: str | None = None
    received: str | None = None
    evidence: list[Evidence] = field(default_factory=list)
    fingerprint: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "cause": self.cause,
            "confidence": round(self.confidence, 3),
            "rule": self.rule,
            "layer": self.layer,
            "expected": self.expected,
            "received": self.received,
            "title": self.title,
            "explanation": self.explanation,
            "fix": self.fix,
            "fix_code": self.fix_code,
            "evidence": [e.to_dict() for e in self.evidence],
            "fingerprint": self.fingerprint,
        }


@dataclass
class TracebackResult:
    exception_type: str
    message: str
    framework: str
    frames: list[Frame]
    diagnoses: list[Diagnosis] = field(default_factory=list)
    headline: str = ""  # the innermost error's first line, for people; not part of the contract's schema

    def to_dict(self) -> dict[str, Any]:
        return {
            "exception": {"type": self.exception_type, "message": self.message},
            "framework": self.framework,
            "frames": [f.to_dict() for f in self.frames],
            "diagnoses": [d.to_dict() for d in self.diagnoses],
        }


@dataclass
class DiagnosisResult:
    tracebacks: list[TracebackResult] = field(default_factory=list)

    @property
    def last(self) -> TracebackResult | None:
        """The traceback that ended the run: the one a user asks about."""
        return self.tracebacks[-1] if self.tracebacks else None

    @property
    def primary(self) -> TracebackResult | None:
        """The traceback to answer with: the last one a rule explains, else the last one.

        A run often ends in a wrapper (torch.distributed's ChildFailedError, an error raised while handling
        the real one); the explained error before it is what the user needs.
        """
        for tb in reversed(self.tracebacks):
            if tb.diagnoses:
                return tb
        return self.last

    def to_dict(self) -> dict[str, Any]:
        return {"tracebacks": [t.to_dict() for t in self.tracebacks]}
