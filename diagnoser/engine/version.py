"""The engine's version: what a stored diagnosis was computed with, so `reclassify` knows what is stale.

It changes when any input to an answer changes: a family file, the fitted weights, the fixes or the grouping
configuration (a new grouping moves reports between groups even when the causes stay the same).
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from diagnoser.engine.explain import default_fixes_path
from diagnoser.engine.families import default_families
from diagnoser.engine.grouping import GROUPING
from diagnoser.engine.model import default_weights


@lru_cache(maxsize=1)
def engine_version() -> str:
    digest = hashlib.sha256()
    digest.update(default_families().version.encode())
    digest.update(default_weights().version.encode())
    path = default_fixes_path()
    digest.update(path.read_bytes() if path.exists() else b"")
    digest.update(GROUPING.encode())
    return digest.hexdigest()[:12]
