"""Placeholder while the engine is being written: returns the contract's shape with no diagnoses."""

from __future__ import annotations

from diagnoser.engine.result import DiagnosisResult


def diagnose(text: str | bytes, summary: str | None = None, source: str | None = None) -> DiagnosisResult:
    return DiagnosisResult()
