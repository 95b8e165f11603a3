"""The one evidence model: every cause scored from the same features with weights kept as data (rules/weights.json).

A multinomial logistic model: a cause's score is its bias plus the weights of the features that hold, and the
probabilities are the softmax of the scores over the causes the recognised families can produce, divided by a
temperature fitted on held-out folds so that 0.8 means right eight times in ten. The weights are fitted by
corpus/fit.py on the fault-injection corpus, never set by hand; a feature the file does not know weighs nothing.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from diagnoser.engine.features import Feature, KnownFeatures


@dataclass(frozen=True)
class Weights:
    causes: tuple[str, ...]
    bias: dict[str, float]
    weights: dict[str, dict[str, float]]  # feature -> cause -> weight
    temperature: float = 1.0
    version: str = "0"
    meta: dict[str, object] = field(default_factory=dict)
    vectors: dict[str, tuple[float, ...]] = field(default_factory=dict, repr=False)  # feature -> weight per cause
    projections: dict[tuple[str, ...], dict[str, tuple[tuple[float, ...], tuple[float, ...], bool]]] = field(
        default_factory=dict, repr=False, compare=False
    )
    columns: dict[tuple[str, ...], list[int]] = field(default_factory=dict, repr=False, compare=False)
    known: KnownFeatures = field(default_factory=lambda: KnownFeatures(()), repr=False, compare=False)

    def __post_init__(self) -> None:
        # the same weights as one tuple per feature in `causes` order: scoring is then index arithmetic
        if not self.vectors and self.weights:
            vectors = {f: tuple(row.get(c, 0.0) for c in self.causes) for f, row in self.weights.items()}
            object.__setattr__(self, "vectors", vectors)
        if not self.known.names and self.weights:
            object.__setattr__(self, "known", KnownFeatures(self.weights))


EVIDENCE_PUSH = 0.05  # a feature favouring a cause by less than this is not shown as its evidence


@dataclass(slots=True)
class Scored:  # a value never changed once made; not frozen, which costs 3x to make
    cause: str
    probability: float
    evidence: tuple[tuple[Feature, float], ...]  # the features that pushed toward this cause, strongest first


def default_weights_path() -> Path:
    env = os.environ.get("DIAGNOSER_WEIGHTS")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "rules" / "weights.json"
    if checkout.exists():
        return checkout
    from importlib import resources

    return Path(str(resources.files("diagnoser._rules"))) / "weights.json"


def load_weights(path: Path | str | None = None) -> Weights:
    file = Path(path) if path else default_weights_path()
    if not file.exists():  # before the first fit: every cause equally likely
        return Weights(causes=(), bias={}, weights={}, version="unfitted")
    raw = file.read_bytes()
    data = json.loads(raw)
    return Weights(
        causes=tuple(data["causes"]),
        bias={k: float(v) for k, v in data["bias"].items()},
        weights={f: {c: float(w) for c, w in ws.items()} for f, ws in data["weights"].items()},
        temperature=float(data.get("temperature", 1.0)),
        version=hashlib.sha256(raw).hexdigest()[:12],
        meta=dict(data.get("meta", {})),
    )


@lru_cache(maxsize=1)
def default_weights() -> Weights:
    return load_weights()


def logits(features: dict[str, Feature], allowed: tuple[str, ...], weights: Weights) -> dict[str, float]:
    scores = {c: weights.bias.get(c, 0.0) for c in allowed}
    for name in features:
        row = weights.weights.get(name)
        if row:
            for cause in allowed:
                scores[cause] += row.get(cause, 0.0)
    return scores


def softmax(scores: dict[str, float], temperature: float = 1.0) -> dict[str, float]:
    if not scores:
        return {}
    top = max(scores.values())
    exps = {c: math.exp((s - top) / max(temperature, 1e-6)) for c, s in scores.items()}
    total = sum(exps.values())
    return {c: e / total for c, e in exps.items()}


def _projection(
    weights: Weights, allowed: tuple[str, ...]
) -> dict[str, tuple[tuple[float, ...], tuple[float, ...], bool]]:
    """Per feature, its weights for just the allowed causes, how much it favours each, and whether it favours any
    enough to be evidence; filled lazily, kept per cause set (a family declares a fixed set, so there are few)."""
    cache = weights.projections.get(allowed)
    if cache is None:
        cache = weights.projections[allowed] = {}
    return cache


def _known_columns(weights: Weights, allowed: tuple[str, ...]) -> list[int]:
    """The weights' column of each allowed cause that has one, kept per cause set like the projections."""
    columns = weights.columns.get(allowed)
    if columns is None:
        index = {c: i for i, c in enumerate(weights.causes)}
        columns = weights.columns[allowed] = [index[c] for c in allowed if c in index]
    return columns


def score(
    features: dict[str, Feature],
    allowed: tuple[str, ...],
    weights: Weights | None = None,
    min_probability: float = 0.0,
) -> list[Scored]:
    """The allowed causes, most probable first, each with the features that favoured it over the others.

    Causes below `min_probability` (after the first) are left out: nobody is shown them, and their evidence is
    most of the cost."""
    weights = weights or default_weights()
    if not allowed:
        return []
    known = _known_columns(weights, allowed)
    projected = _projection(weights, allowed)
    rows: list[tuple[float, ...]] = []
    pushing: list[tuple[Feature, tuple[float, ...]]] = []  # the features that favour some cause: evidence
    n_others = len(allowed) - 1
    if len(known) == len(allowed):
        for name, feature in features.items():
            if not feature.scored:
                continue
            entry = projected.get(name)
            if entry is None:
                vec = weights.vectors.get(name)
                if vec is None:
                    continue
                sub = tuple(vec[i] for i in known)
                total = sum(sub)
                # how much this feature favours each cause over the mean of the others allowed
                push = tuple(w - ((total - w) / n_others if n_others else 0.0) for w in sub)
                entry = projected[name] = (sub, push, max(push) > EVIDENCE_PUSH)
            rows.append(entry[0])
            if entry[2]:
                pushing.append((feature, entry[1]))
    columns = zip(*rows, strict=True) if rows else ((),) * len(allowed)
    sums = [weights.bias.get(c, 0.0) + sum(column) for c, column in zip(allowed, columns, strict=True)]
    probabilities = softmax(dict(zip(allowed, sums, strict=True)), weights.temperature)
    ranked = sorted(range(len(allowed)), key=lambda k: (-probabilities[allowed[k]], k))
    out = []
    for position, k in enumerate(ranked):
        cause = allowed[k]
        if position and probabilities[cause] < min_probability:
            break
        pushes = [(feature, push[k]) for feature, push in pushing if push[k] > EVIDENCE_PUSH]
        pushes.sort(key=lambda fp: -fp[1])
        out.append(Scored(cause, probabilities[cause], tuple(pushes)))
    return out
