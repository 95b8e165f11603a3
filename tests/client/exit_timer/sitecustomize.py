# Measures the exit phase: from the moment the traceback starts printing to the last atexit handler.
import atexit
import os
import sys
import time

_file = os.environ.get("EXIT_TIMER_FILE")
if _file:
    _marks = {}
    _previous = sys.excepthook
    def _mark(*args):
        _marks["raised"] = time.perf_counter()
        _previous(*args)
    sys.excepthook = _mark
    def _write():
        if "raised" in _marks:
            with open(_file, "w") as fh:
                fh.write(repr(time.perf_counter() - _marks["raised"]))
    atexit.register(_write)
