"""Group keys for diagnoses: which reports are "the same problem again".

Grouping is a named, dated configuration (as Sentry names its grouping strategies), so a change to it is a decision
with a name, and `diagnoser reclassify` regroups stored reports only when the fingerprints it gives differ. A key
depends on the cause, the message family and the stable parts of what was read (the kind of layer, the layer's
name without Keras' auto-numbering, the check): never on a family's wording, a shape (batch sizes vary from run to
run) or the weights.

Changelog:
- 2026-12-01: cause, family, check, layer kind and the layer's base name (conv2d_7 -> conv2d).
"""

from __future__ import annotations

import hashlib
import re

GROUPING = "2026-12-01"

_NUMBERED = re.compile(r"_\d+$")


def layer_base(name: str | None) -> str:
    """`conv2d_14` and `conv2d` are one layer for grouping: Keras numbers auto-named layers per process."""
    if not name:
        return ""
    return _NUMBERED.sub("", name.strip().strip("'\"`").lower())


def fingerprint(cause: str, family: str, check: str, layer_kind: str | None, layer: str | None) -> str:
    key = "|".join((GROUPING, cause, family, check, layer_kind or "", layer_base(layer)))
    return f"{GROUPING}:{hashlib.sha1(key.encode()).hexdigest()[:16]}"
