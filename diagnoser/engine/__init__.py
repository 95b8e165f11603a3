"""The diagnosis engine: pure Python (stdlib, regex, yaml), no web or database.

`diagnose(text, summary=None, source=None)` is the one entry point the rest of Diagnoser uses.
"""

from diagnoser.engine.answer import diagnose
from diagnoser.engine.result import Diagnosis, DiagnosisResult, Evidence, Frame, TracebackResult

__all__ = ["diagnose", "Diagnosis", "DiagnosisResult", "Evidence", "Frame", "TracebackResult"]
