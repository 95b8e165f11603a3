"""Diagnoser: named root causes for deep-learning training tracebacks."""

__version__ = "0.1.0"
