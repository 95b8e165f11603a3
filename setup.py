"""The engine's hot modules compiled to C with mypyc when DIAGNOSER_COMPILE=1 (the image does); pure Python otherwise.

Why compiled: the engine reads every traceback a team's jobs post, and mypyc (the compiler mypy and black ship with)
turns the same type-checked source into a C extension about 1.6 times as fast, with byte-identical answers
(tests/service/test_svc_deploy.py compares them). Why only on request: an editable checkout must run the .py files
it shows, so an editable install is never compiled, and a plain `pip install .` needs a C compiler and mypy.
Everything else lives in pyproject.toml.
"""

from __future__ import annotations

import os
import sys

from setuptools import setup

# What diagnose() runs for every traceback. Not compiled: the script reader (engine/source.py, run only with a
# script, and mypyc miscompiles one of its zip() calls), the log scanner's driver, the rules self-test and the CLI.
COMPILED_MODULES = [
    f"diagnoser/engine/{name}.py"
    for name in (
        "answer", "explain", "extract", "families", "features", "fed", "grouping", "model", "normalise", "parse",
        "phase", "reading", "result", "shapes", "summary", "taxonomy", "vocabulary", "version",
    )
]


def _ext_modules() -> list:
    if os.environ.get("DIAGNOSER_COMPILE") != "1":
        return []
    if "editable_wheel" in sys.argv or "develop" in sys.argv:
        print("DIAGNOSER_COMPILE=1 ignored for an editable install: it runs the .py files", file=sys.stderr)
        return []
    from mypyc.build import mypycify  # needs mypy in the build environment: pip install --no-build-isolation

    return mypycify(COMPILED_MODULES, opt_level="3")


setup(ext_modules=_ext_modules())
