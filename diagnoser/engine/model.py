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

from diagnoser.engine.features import Feature


@dataclass(frozen=True)
class Weights:
    causes: tuple[str, ...]
    bias: dict[str, float]
    weights: dict[str, dict[str, float]]  # feature -> cause -> weight
    temperature: float = 1.0
    version: str = "0"
    meta: dict[str, object] = field(default_factory=dict)


@dataclass(frozen=True)
class Scored:
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


def score(features: dict[str, Feature], allowed: tuple[str, ...], weights: Weights | None = None) -> list[Scored]:
    """The allowed causes, most probable first, each with the features that favoured it over the others."""
    weights = weights or default_weights()
    if not allowed:
        return []
    probabilities = softmax(logits(features, allowed, weights), weights.temperature)
    ranked = sorted(allowed, key=lambda c: (-probabilities[c], allowed.index(c)))
    out = []
    for cause in ranked:
        pushes = []
        for name, feature in features.items():
            row = weights.weights.get(name)
            if not row:
                continue
            # how much this feature favours the cause over the mean of the others allowed
            others = [row.get(c, 0.0) for c in allowed if c != cause]
            push = row.get(cause, 0.0) - (sum(others) / len(others) if others else 0.0)
            if push > 0.05:
                pushes.append((feature, push))
        pushes.sort(key=lambda fp: -fp[1])
        out.append(Scored(cause, probabilities[cause], tuple(pushes)))
    return out
