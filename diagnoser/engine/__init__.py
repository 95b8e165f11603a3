"""The diagnosis engine: pure Python (stdlib, regex, yaml), no web or database.

`diagnose(text, summary=None, source=None)` is the one entry point the rest of Diagnoser uses.
"""

from diagnoser.engine import answer
from diagnoser.engine.answer import diagnose
from diagnoser.engine.result import Diagnosis, DiagnosisResult, Evidence, Frame, TracebackResult

# True in an install built with DIAGNOSER_COMPILE=1 (setup.py): the same source, compiled by mypyc
COMPILED = not (answer.__file__ or "").endswith(".py")

__all__ = ["COMPILED", "diagnose", "Diagnosis", "DiagnosisResult", "Evidence", "Frame", "TracebackResult"]
