"""The causes a diagnosis may name, with the words the dashboard and the API show for them (rules/taxonomy.yaml).

The taxonomy lives beside the families, so a folder of rules is read as one: the families name causes by id and
`load_families` refuses an id the taxonomy lacks.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

import yaml

from diagnoser.engine.families import default_families_dir


@dataclass(frozen=True)
class Cause:
    id: str
    name: str
    description: str
    shape: bool  # a shape fault (one of the six), or another cause the engine names (missing import, ...)


def load_causes(folder: Path) -> dict[str, Cause]:
    """Every cause of `folder`/taxonomy.yaml, in file order."""
    data = yaml.safe_load((folder / "taxonomy.yaml").read_text(encoding="utf-8")) or {}
    return {
        str(item["id"]): Cause(
            str(item["id"]), str(item["name"]), str(item.get("description", "")).strip(), bool(item.get("shape"))
        )
        for item in data.get("causes", [])
    }


@cache
def default_causes() -> dict[str, Cause]:
    """The shipped taxonomy (beside the shipped families)."""
    return load_causes(default_families_dir().parent)
