"""Titles, explanations and fixes from the facts, in the user's own numbers (rules/fixes.yaml).

A fix entry belongs to a cause and holds when features of the evidence hold (`when` all of them, `any` one of
them); the first entry that holds for the answered cause is used, the cause's default otherwise. The entries are
written from what each fault needs done, with the layer, the shapes and the sizes the message printed filled in:
"Dense(10) -> Dense(5): the labels are one-hot with 5 classes", not a menu of options, when the evidence decides.
"""

from __future__ import annotations

import os
import re
from collections.abc import Collection, Set
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from diagnoser.engine.features import Feature, layer_kind
from diagnoser.engine.reading import Reading
from diagnoser.engine.shapes import Shape, fmt, fmt_data


@dataclass(frozen=True)
class FixEntry:
    id: str
    cause: str
    when: tuple[str, ...]
    any: tuple[str, ...]
    title: str | None
    explanation: str
    fix: str
    fix_code: str | None
    clause: str | None  # "if ...": what would make this cause the right one, for an undecided answer


def default_fixes_path() -> Path:
    env = os.environ.get("DIAGNOSER_FIXES")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "rules" / "fixes.yaml"
    if checkout.exists():
        return checkout
    from importlib import resources

    return Path(str(resources.files("diagnoser._rules"))) / "fixes.yaml"


def load_fixes(path: Path | None = None) -> list[FixEntry]:
    data = yaml.safe_load((path or default_fixes_path()).read_text(encoding="utf-8")) or {}
    out = []
    for item in data.get("fixes", []):
        out.append(
            FixEntry(
                id=str(item["id"]),
                cause=str(item["cause"]),
                when=tuple(item.get("when") or ()),
                any=tuple(item.get("any") or ()),
                title=item.get("title"),
                explanation=str(item.get("explanation") or ""),
                fix=str(item.get("fix") or ""),
                fix_code=item.get("fix_code"),
                clause=item.get("clause"),
            )
        )
    return out


@lru_cache(maxsize=1)
def default_fixes() -> tuple[FixEntry, ...]:
    return tuple(load_fixes())


def _holds(condition: str, features: Collection[str]) -> bool:
    if condition.startswith("!"):
        return not _holds(condition[1:], features)
    if condition.endswith("*"):
        return any(name.startswith(condition[:-1]) for name in features)
    return condition in features


_Plain = tuple[frozenset[str], frozenset[str], frozenset[str]]


@lru_cache(maxsize=1)
def _fixes_by_cause() -> dict[str, tuple[tuple[FixEntry, _Plain | None], ...]]:
    by: dict[str, list[tuple[FixEntry, _Plain | None]]] = {}
    for entry in default_fixes():
        by.setdefault(entry.cause, []).append((entry, _plain(entry)))
    return {c: tuple(es) for c, es in by.items()}


def condition_names(features: Collection[str], facts: dict[str, str] | None = None) -> Set[str]:
    """What fix conditions are tested against: the features, and `fact:name` for every fact that can be quoted."""
    return features.keys() if isinstance(features, dict) and not facts else set(features) | {
        f"fact:{k}" for k in facts or ()
    }


def choose(
    cause: str,
    features: dict[str, Feature],
    fixes: tuple[FixEntry, ...] | None = None,
    facts: dict[str, str] | None = None,
    names: Set[str] | None = None,
) -> FixEntry | None:
    """The first fix entry of the cause whose conditions hold (file order: the most specific first).

    A condition `fact:name` holds when the fact can be quoted, so an entry whose sentences need it is only chosen
    when they can be written. `names` is `condition_names(features, facts)` made once for several causes."""
    entries = (
        tuple((e, _plain(e)) for e in fixes) if fixes is not None else _fixes_by_cause().get(cause, ())
    )
    if names is None:
        names = condition_names(features, facts)
    for entry, plain in entries:
        if entry.cause != cause:
            continue
        if plain is not None:
            required, forbidden, wanted = plain  # methods, not <= and &: mypyc wants a frozenset on both sides
            if required.issubset(names) and forbidden.isdisjoint(names) and not (wanted and wanted.isdisjoint(names)):
                return entry
        elif all(_holds(c, names) for c in entry.when) and (
            not entry.any or any(_holds(c, names) for c in entry.any)
        ):
            return entry
    return None


def _plain(entry: FixEntry) -> _Plain | None:
    """An entry's conditions as sets (required, forbidden, any of), when none is a prefix pattern."""
    if any(c.endswith("*") for c in (*entry.when, *entry.any)) or any(c.startswith("!") for c in entry.any):
        return None
    required = frozenset(c for c in entry.when if not c.startswith("!"))
    forbidden = frozenset(c[1:] for c in entry.when if c.startswith("!"))
    return required, forbidden, frozenset(entry.any)


def render(template: str | None, facts: dict[str, str], *, code: bool = False) -> str | None:
    """Fill a fix template from the facts.

    `{name}` is the fact; `{name|words}` is the fact, or the words when it is unknown; `{name|words with {name}}`
    (the words quote a fact) is those words filled when `name` is known and nothing when it is not. A sentence
    quoting a fact that is unknown and has no fallback is left out, so a fix never prints an empty shape. Code
    (`code=True`) is one piece whose spacing and lines are kept as written."""
    if template is None:
        return None
    if code:
        return _fill(_code_tokens(template), facts) or None
    parts = []
    for sentence in _sentences(template):
        filled = _fill(sentence, facts)
        if filled is not None:
            parts.append(filled)
    return " ".join(" ".join(parts).split()) or None


Token = str | tuple[str, "str | None", "tuple[Token, ...] | None"]  # text, or (name, fallback, conditional)


@lru_cache(maxsize=4096)
def _sentences(template: str) -> tuple[tuple[Token, ...], ...]:
    """A template's sentences as tokens: parsed once per template."""
    return tuple(_tokens(sentence) for sentence in re.split(r"(?<=[.;])\s+(?![^{]*\})", template.strip()))


@lru_cache(maxsize=1024)
def _code_tokens(template: str) -> tuple[Token, ...]:
    return _tokens(template)


def _tokens(text: str) -> tuple[Token, ...]:
    out: list[Token] = []
    i = 0
    while i < len(text):
        start = text.find("{", i)
        if start < 0:
            out.append(text[i:])
            break
        out.append(text[i:start])
        depth, j = 0, start
        while j < len(text):
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        inner = text[start + 1 : j]
        name, bar, rest = inner.partition("|")
        if not re.fullmatch(r"\w+", name):
            out.append(text[start : j + 1])
        elif bar and "{" in rest:
            out.append((name, None, _tokens(rest)))
        else:
            out.append((name, rest if bar else None, None))
        i = j + 1
    return tuple(t for t in out if t != "")


def _fill(tokens: tuple[Token, ...], facts: dict[str, str]) -> str | None:
    """The tokens filled; None when a fact without fallback is unknown (conditionals never are)."""
    out = []
    for token in tokens:
        if isinstance(token, str):
            out.append(token)
            continue
        name, fallback, conditional = token
        value = facts.get(name)
        if conditional is not None:
            if value:
                filled = _fill(conditional, facts)
                out.append(filled or "")
            continue
        if value:
            out.append(value)
        elif fallback is not None:
            out.append(fallback)
        else:
            return None
    return "".join(out)


def template_names(text: str | None) -> list[str]:
    """Every fact name a template quotes, nested ones included (for `diagnoser rules test`)."""
    names: list[str] = []

    def walk(tokens: tuple[Token, ...]) -> None:
        for token in tokens:
            if not isinstance(token, str):
                names.append(token[0])
                if token[2] is not None:
                    walk(token[2])

    for sentence in _sentences(text or ""):
        walk(sentence)
    return names


def _dims(shape: Shape | None) -> str | None:
    if shape is None:
        return None
    return ", ".join("None" if d is None else str(d) for d in shape)


# The imports a name conventionally stands for, so a NameError on `np` can say which line is missing.
CONVENTIONAL_IMPORTS = {
    "np": "import numpy as np",
    "pd": "import pandas as pd",
    "tf": "import tensorflow as tf",
    "plt": "import matplotlib.pyplot as plt",
    "sns": "import seaborn as sns",
    "torch": "import torch",
    "nn": "import torch.nn as nn",
    "F": "import torch.nn.functional as F",
    "optim": "import torch.optim as optim",
    "DataLoader": "from torch.utils.data import DataLoader",
    "Dataset": "from torch.utils.data import Dataset",
    "TensorDataset": "from torch.utils.data import TensorDataset",
    "keras": "import keras",
    "layers": "from keras import layers",
    "Sequential": "from keras import Sequential",
    "os": "import os",
    "math": "import math",
    "random": "import random",
    "json": "import json",
    "time": "import time",
}
# Modules whose pip package has another name.
PIP_PACKAGES = {
    "sklearn": "scikit-learn", "cv2": "opencv-python", "PIL": "pillow", "yaml": "pyyaml", "skimage": "scikit-image"
}


CONTEXT_FACTS = (
    "module", "module_arg", "module_takes", "module_gets", "previous_module",
    "merge_call", "merge_input", "merge_input_shape", "merge_branch_shape", "merge_widths",
)


def render_facts(reading: Reading) -> dict[str, str]:
    """The strings a fix may quote, made from what the families read and the context."""
    out: dict[str, str] = {}
    shapes: dict[str, Shape] = {}
    for r in reading.recognitions:
        for name, value in r.facts.items():
            if isinstance(value, tuple):
                shapes.setdefault(name, value)
                out.setdefault(name, fmt(value) or "")
            elif value is not None:
                out.setdefault(name, str(value))
    for name in CONTEXT_FACTS:  # what the evidence read from the script or the printed model, for the fix
        value = reading.context.facts.get(name)
        if value is not None:
            out.setdefault(name, str(value))
    layer = out.get("layer") or reading.tb.wrapper_layer
    if layer:
        out["layer"] = layer
        out["layer_kind"] = layer_kind(layer) or ""
    received, expected = shapes.get("received"), shapes.get("expected") or shapes.get("declared")
    if received is not None:
        out["received_data"] = fmt_data(received) or ""
        out["received_plus_channel"] = fmt_data(received + (1,)) or ""
        if len(received) > 1:
            out["received_sample"] = fmt(received[1:]) or ""
            out["received_sample_plus_channel"] = fmt(received[1:] + (1,)) or ""
            out["received_sample_dims"] = _dims(received[1:]) or ""
        if len(received) == 4:
            out["received_channels_last"] = fmt_data((received[0], received[2], received[3], received[1])) or ""
            out["received_channels_first"] = fmt_data((received[0], received[3], received[1], received[2])) or ""
        squeezed = tuple(d for i, d in enumerate(received) if not (i and d == 1))
        if squeezed != received:
            out["received_squeezed"] = fmt_data(squeezed) or ""
    if expected is not None and len(expected) > 1:
        out["expected_sample"] = fmt(expected[1:]) or ""
        out["expected_data"] = fmt_data(expected) or ""
        if len(expected) >= 3:
            out["expected_hw"] = ", ".join(str(d) for d in expected[1:-1])
    left, right = shapes.get("left"), shapes.get("right")
    if left is not None and right is not None and len(left) == 2 and len(right) == 2:
        out["in_features_given"] = str(left[1])
        out["in_features_taken"] = str(right[0])
        out["out_features"] = str(right[1])
    target, output = shapes.get("target"), shapes.get("output")
    if target is not None and len(target) >= 1 and target[-1] is not None:
        out["target_width"] = str(target[-1])
    if output is not None and len(output) >= 1 and output[-1] is not None:
        out["output_units"] = str(output[-1])
    summary = reading.context.summary
    if summary is not None:
        if summary.output_layer is not None and summary.output_layer.output_shape:
            units = summary.output_layer.output_shape[-1]
            if units is not None:
                out.setdefault("output_units", str(units))
            out["output_layer"] = summary.output_layer.name
        if summary.input_shape is not None:
            out["model_input"] = fmt(summary.input_shape) or ""
    if reading.context.fed is not None and reading.context.fed.x is not None:
        out["fed_x"] = fmt(reading.context.fed.x) or ""
    calls = getattr(reading.context.source, "fit_calls", ()) or ()
    data_var = next((c.x for c in calls if c.x and c.x.isidentifier()), None)
    if data_var:
        out["data_var"] = data_var  # the script's own name for the data passed to fit
    if out.get("undefined_name") in CONVENTIONAL_IMPORTS:
        out["import_line"] = CONVENTIONAL_IMPORTS[out["undefined_name"]]
    if "module" in out:
        top = out["module"].split(".")[0]
        out["pip_package"] = PIP_PACKAGES.get(top, top)
    if "num_classes" in out:
        out.setdefault("classes", out["num_classes"])
    if "label_value" in out:
        try:
            out["classes_needed"] = str(int(out["label_value"]) + 1)
        except ValueError:
            pass
    return {k: v for k, v in out.items() if v}


def title_for(reading: Reading, entry: FixEntry | None, facts: dict[str, str]) -> str:
    """A one-line title: the entry's when it has one, else what was checked, on what, with what result."""
    if entry is not None and entry.title:
        titled = render(entry.title, facts)
        if titled:
            return titled
    r = reading.recognitions[0]
    layer = facts.get("layer") or facts.get("op")
    where = f"{layer}: " if layer else ""
    check = r.check
    if check == "rank" and "expected_rank" in facts and "found_rank" in facts:
        got = f" {facts['received']}" if "received" in facts else ""
        return f"{where}expected {facts['expected_rank']} axes, got {facts['found_rank']}{got}"
    if check in ("shape", "dim") and "expected" in facts and "received" in facts:
        return f"{where}expected {facts['expected']}, got {facts['received']}"
    if check == "dim" and "expected_dim" in facts:
        got = facts.get("found_dim") or facts.get("received", "?")
        return f"{where}expected {facts['expected_dim']} on axis {facts.get('axis', '-1')}, got {got}"
    if "target" in facts and "output" in facts:
        return f"{where}targets {facts['target']} do not fit the output {facts['output']}"
    if "left" in facts and "right" in facts:
        return f"{where}{facts['left']} does not fit {facts['right']}"
    if "label_value" in facts and "num_classes" in facts:
        return f"label {facts['label_value']} is outside the {facts['num_classes']} classes"
    if check in ("cardinality", "batch_size") and "count_a" in facts and "count_b" in facts:
        return f"{facts['count_a']} samples against {facts['count_b']}"
    if "expected_count" in facts and "found_count" in facts:
        return f"{facts['expected_count']} values expected, {facts['found_count']} given"
    if "elements_in" in facts and "elements_out" in facts:
        return f"{where}{facts['elements_in']} elements cannot make {facts['elements_out']}"
    if "index" in facts and "range_end" in facts:
        return f"{where}index {facts['index']} outside [0, {facts['range_end']})"
    return r.family.title


def describe(value: Any) -> str:
    return fmt(value) or "" if isinstance(value, tuple) else str(value)
