"""Shared by fit.py and evaluate.py: labelled records as training examples, the masked multinomial logistic model,
and the metrics.

An example is one record's last traceback read by the engine (families, then features) under one regime: what a
user sends varies, so every record is seen with its summary and script (`full`), with its summary only
(`summary`, what the scorer sends by default), with neither (`plain`), as the error line alone (`bare`, as
most people paste it), as that line with the automatic layer names replaced by a user's (`named`: users name
their layers, and a pasted line then says nothing of the layer's kind), and, where TensorFlow 2.9+ printed its
"Graph execution error:" wrapper, as the type and the op's own message on one line (`pasted`: how TensorFlow
2.0-2.8 prints the same error, and what users paste from the end of a long log). The label is the planted fault; `other`
for a record whose error is not a shape fault (its message recognised by a family that declares `other`). A
record no family recognises makes no example: it is a detection miss, counted by the metrics, not a training point.
"""

from __future__ import annotations

import glob
import json
import math
import re
import sys
import zlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from scipy import optimize, sparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diagnoser.engine.families import SHAPE_CAUSES  # noqa: E402
from diagnoser.engine.parse import parse_block  # noqa: E402
from diagnoser.engine.reading import blocks_of, read_traceback  # noqa: E402

CAUSES = (*SHAPE_CAUSES, "other")
REGIMES = ("full", "summary", "plain", "bare", "named", "pasted")
EXAMPLES = "examples"  # the version and architecture of the families' own examples: fitted on, never held out
DEV = "dev"  # the version and architecture of corpus/dev: fitted on by the final fit only, never in a fold
DEV_RUNS = str(ROOT / "corpus" / "dev" / "dev.jsonl")
# A family example stands for a mechanism (one wording, the context that decides it), a corpus record for one run
# of many alike; an example counts as this many runs.
EXAMPLE_WEIGHT = 8.0
# Our own runs only. tests/fixtures/public*/ hold tracebacks other people published: never fitted to.
TRAINING = sorted(glob.glob(str(ROOT / "corpus" / "generated" / "*.jsonl"))) + [
    str(ROOT / "tests" / "fixtures" / "real" / "cases.jsonl"),
    str(ROOT / "tests" / "fixtures" / "real2" / "cases.jsonl"),
    DEV_RUNS,
]


@dataclass
class Record:
    id: str
    label: str
    version: str  # the library versions it ran on: the leave-one-version-out group
    arch: str  # the architecture: the leave-one-architecture-out group
    text: str
    summary: str | None
    source: str | None
    regimes: tuple[str, ...] = REGIMES  # a family's example is seen only as written ("given")
    fed: dict[str, Any] | None = None  # a family example's shapes the client saw fed (its `fed:`)


@dataclass
class Example:
    record: Record
    regime: str
    features: list[str]
    allowed: tuple[str, ...]
    label: str  # a cause of CAUSES; "" when the record is not a fault (label none)
    weight: float = 1.0


def _mm(version: object) -> str:
    return ".".join(str(version).split("+")[0].split(".")[:2])


def _version(rec: dict) -> str:
    """The library versions a record ran on, named as the generator names its environments."""
    v = rec.get("lib_versions") or {}
    if rec.get("env"):
        env = str(rec["env"])
        return re.sub(r"^torch(\d+\.\d+)\.\d+$", r"torch\1", env)
    if rec.get("framework") == "torch" or ("torch" in v and "tensorflow" not in v and "keras" not in v):
        return f"torch{_mm(v.get('torch', '?'))}"
    backend = v.get("backend") or v.get("keras_backend")
    if "keras" in v and backend in ("torch", "jax"):
        return f"keras{_mm(v['keras'])}_{backend}"
    if "keras" in v and str(v["keras"]).startswith("3"):
        return f"tf{_mm(v.get('tensorflow', '?'))}_keras{_mm(v['keras'])}"
    return f"tf{_mm(v.get('tensorflow', '?'))}_tfkeras{_mm(v.get('tf_keras', v.get('keras', '?')))}"


def _arch(rec: dict) -> str:
    if rec.get("arch"):
        return re.sub(r"_subclassed$", "", str(rec["arch"]))
    return "unknown"


def load(paths: Iterable[str] = TRAINING) -> list[Record]:
    out = []
    for path in paths:
        if path.endswith(".dropped.jsonl") or not Path(path).exists():
            continue
        with open(path, encoding="utf-8") as f:
            for line in f:
                if not line.strip():
                    continue
                rec = json.loads(line)
                if str(rec.get("notes", "")).startswith("SILENT:"):
                    continue
                label = rec.get("label_cause", "none")
                dev = path == DEV_RUNS
                out.append(
                    Record(
                        id=str(rec.get("id")),
                        label=label,
                        version=DEV if dev else _version(rec),
                        arch=DEV if dev else _arch(rec),
                        text=rec.get("stderr") or rec.get("traceback") or "",
                        summary=rec.get("stdout_summary") or None,
                        source=rec.get("snippet") or rec.get("code_excerpt") or None,
                    )
                )
    return out


def family_records() -> list[Record]:
    """The families' match examples that name a cause: each is written (or rendered from a real run) to show what
    a correct engine answers for it, with the summary and script that decide it, so the model is fitted on them too
    (`diagnoser rules test` checks that it answers them). Examples that quote a message someone published (old
    wordings no wheel here can produce; their note says "public") witness a template for recognition and are
    checked, but never fitted on: fitting to labelled crash data that others published is how we are measured."""
    from diagnoser.engine.families import default_families
    from diagnoser.engine.selftest import quotes_a_publication

    out = []
    for family in default_families().families:
        for n, ex in enumerate(family.examples_match, 1):
            cause = ex.get("cause")
            if not cause or quotes_a_publication(ex):
                continue
            out.append(
                Record(
                    id=f"{family.id}#{n}",
                    label=str(cause),
                    version=EXAMPLES,
                    arch=EXAMPLES,
                    text=str(ex["text"]),
                    summary=ex.get("summary"),
                    source=ex.get("source"),
                    regimes=("given",),
                    fed=ex.get("fed"),
                )
            )
    return out


def held_out_training(records: Sequence[Record], test: Sequence[Record]) -> list[Record]:
    """The training records of a fold: every record outside `test`, without family examples quoting a held-out
    record's traceback (many examples are corpus runs), so a fold never sees its own answers, and without the
    development runs (their architectures are not labelled, so a fold could not keep its own out)."""
    held = {id(r) for r in test}
    texts = {_key(r.text) for r in test}
    return [
        r
        for r in records
        if id(r) not in held and r.version != DEV and not (r.version == EXAMPLES and _key(r.text) in texts)
    ]


def _key(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


def bare_line(text: str) -> str:
    """The last exception line alone, as users paste it (the same rule as the scorer's `bare` variant)."""
    lines = [line for line in text.splitlines() if line.strip()]
    for line in reversed(lines):
        if re.match(r"^\s*[\w.]*(Error|Exception)\b", line):
            return line.strip()
    return lines[-1].strip() if lines else ""


# Keras's automatic layer names (conv2d, dense_1, ...) where a message names a layer: quoted, a node path segment,
# or after "layer ". Users name their layers as often; a pasted line then says nothing of the layer's kind.
_AUTO_BASES = (
    r"conv[123]d(?:_transpose)?|separable_conv[12]d|depthwise_conv2d|dense|lstm|gru|simple_rnn|flatten|"
    r"max_pooling[123]d|average_pooling[123]d|global_average_pooling[123]d|global_max_pooling[123]d|embedding|"
    r"batch_normalization|layer_normalization|concatenate|bidirectional|time_distributed|conv_lstm2d|"
    r"up_sampling[123]d|zero_padding[123]d|cropping[123]d|repeat_vector|reshape|dropout|input_layer|"
    r"multi_head_attention|add|multiply|average|lambda|permute|attention|masking|text_vectorization"
)
_AUTO_NAME = re.compile(
    rf"""(?:(?<=['"`])|(?<=/)|(?<={{{{node )|(?<=layer ))(?:{_AUTO_BASES})(?:_\d+)?(?=['"`/]|[\s,:.]|$)"""
)
# names that say nothing of a kind (engine.features.layer_kind reads none of them as one)
_USER_NAMES = ("encoder1_", "block_a", "feat", "trunk_2", "my_layer", "x_in", "stage3", "enc_out", "body", "layer_7")


def user_named(line: str, key: str) -> str:
    """The pasted line as it reads when the user named the layers: every automatic name one user-chosen name."""
    name = _USER_NAMES[zlib.crc32(key.encode()) % len(_USER_NAMES)]
    return _AUTO_NAME.sub(name, line)


def pasted_line(text: str) -> str:
    """The error as the exception type and the op's own message, without the frames and the wrapper that TF 2.9+
    prints around it ("Graph execution error:", "Detected at node ..."); the bare line where there is none."""
    blocks = blocks_of(text)
    line = bare_line(text)
    if not blocks or not re.search(r"(?:Graph execution error|Exception encountered):?\s*$", line):
        return line
    tb = parse_block(blocks[-1])
    return f"{tb.exception_type}: {tb.core_message}" if tb.core_message else line


def inputs_for(rec: Record, regime: str) -> tuple[str, str | None, str | None]:
    if regime == "given":
        return rec.text, rec.summary, rec.source
    if regime == "bare":
        return bare_line(rec.text), None, None
    if regime == "named":
        return user_named(bare_line(rec.text), rec.id), None, None
    if regime == "pasted":
        return pasted_line(rec.text), None, None
    summary = rec.summary if regime in ("full", "summary") else None
    source = rec.source if regime == "full" else None
    return rec.text, summary, source


def fed_for(rec: Record, regime: str) -> dict[str, Any] | None:
    """In the full regime, what the client's Keras callback reports for the arrays the script passes to
    fit/evaluate/predict, read from the script itself (the arrays it makes with a literal shape): the fed-shape
    features are fitted on what the client would have sent, labelled by construction like the rest."""
    if regime == "given":
        return rec.fed
    if regime != "full" or not rec.source:
        return None
    from diagnoser.engine.source import read_source

    facts = read_source(rec.source)
    arrays = {a.var: a for a in facts.arrays}
    datasets = {d.var: d for d in facts.datasets if d.var}
    out: dict[str, Any] = {}
    for call in facts.fit_calls:
        if call.method in out:
            continue
        ds = datasets.get(call.x or "")
        if ds is not None and ds.origin == "from_tensor_slices" and ds.slices and ds.slices[0] in arrays:
            # the element spec the callback reports: the sliced arrays' sample shapes, behind a batch axis if batched
            batched = "batch" in ds.ops or "padded_batch" in ds.ops
            element = []
            for name in ds.slices:
                if name not in arrays:
                    break
                sample = list(arrays[name].shape[1:])
                element.append({"shape": [None, *sample] if batched else sample, "dtype": arrays[name].dtype or ""})
            out[call.method] = {"x": {"kind": "tf.data.Dataset", "element": element}}
            continue
        x = arrays.get(call.x or "")
        if x is None:
            continue
        entry: dict[str, Any] = {"x": {"shape": list(x.shape), "dtype": x.dtype or "float32"}}
        y = arrays.get(call.y or "")
        if y is not None:
            entry["y"] = {"shape": list(y.shape), "dtype": y.dtype or "int64"}
        if call.batch_size is not None:
            entry["batch_size"] = call.batch_size
        out[call.method] = entry
    return out or None


_EXAMPLES: dict[tuple[int, str], Example | None] = {}


def example(rec: Record, regime: str) -> Example | None:
    """The example of one record under one regime; computed once per process (every fold reuses it)."""
    key = (id(rec), regime)
    if key not in _EXAMPLES:
        _EXAMPLES[key] = _example(rec, regime)
    return _EXAMPLES[key]


def _example(rec: Record, regime: str) -> Example | None:
    text, summary, source = inputs_for(rec, regime)
    if regime in ("named", "pasted") and text == bare_line(rec.text):
        return None  # no layer named, or no wrapper to take off: the bare example already
    reading = read_traceback(text, summary=summary, source=source, inputs=fed_for(rec, regime))
    if reading is None or not reading.allowed:
        return None
    label = rec.label if rec.label in SHAPE_CAUSES else ("other" if rec.label == "other" else "")
    # a non-shape cause of the taxonomy (file_not_found, unknown_identifier, ...) is "other" to the model
    allowed = tuple(dict.fromkeys(c if c in SHAPE_CAUSES else "other" for c in reading.allowed))
    # a family example and a development run were each labelled by hand, a generated run by its mutation
    weight = EXAMPLE_WEIGHT if rec.version in (EXAMPLES, DEV) else 1.0
    scored = sorted(name for name, feature in reading.features.items() if feature.scored)
    return Example(rec, regime, scored, allowed, label, weight)


def examples(records: Sequence[Record], regimes: Sequence[str] = REGIMES) -> list[Example]:
    out = []
    for rec in records:
        for regime in regimes if rec.regimes == REGIMES else rec.regimes:
            ex = example(rec, regime)
            if ex is not None and ex.label and ex.label in ex.allowed:
                out.append(ex)
    return out


# ------------------------------------------------------------------------------------------------------------
# The masked multinomial logistic model


@dataclass
class Fitted:
    features: list[str]
    weights: np.ndarray  # features x causes
    bias: np.ndarray  # causes
    temperature: float = 1.0


def design(exs: Sequence[Example], vocabulary: dict[str, int]) -> tuple[sparse.csr_matrix, np.ndarray, np.ndarray]:
    rows, cols = [], []
    for i, ex in enumerate(exs):
        for name in ex.features:
            j = vocabulary.get(name)
            if j is not None:
                rows.append(i)
                cols.append(j)
    x = sparse.csr_matrix((np.ones(len(rows)), (rows, cols)), shape=(len(exs), len(vocabulary)))
    mask = np.array([[c in ex.allowed for c in CAUSES] for ex in exs], dtype=bool)
    y = np.array([CAUSES.index(ex.label) for ex in exs])
    return x, mask, y


def fit(exs: Sequence[Example], l2: float = 1.0, min_count: int = 2, start: Fitted | None = None) -> Fitted:
    """The weights that minimise the masked softmax's log loss plus l2/2 * |w|^2; `start` (a model fitted on more
    data, e.g. all the folds) is where L-BFGS starts, which only makes it converge sooner: with l2 > 0 the loss is
    strictly convex, so its minimum (what a held-out fold is scored with) does not depend on where the search
    starts, and nothing of the held-out fold leaks in through the start."""
    counts: dict[str, int] = {}
    for ex in exs:
        for name in ex.features:
            counts[name] = counts.get(name, 0) + 1
    names = sorted(n for n, c in counts.items() if c >= min_count)
    vocabulary = {n: i for i, n in enumerate(names)}
    x, mask, y = design(exs, vocabulary)
    n, d = x.shape
    k = len(CAUSES)
    onehot = np.zeros((n, k))
    onehot[np.arange(n), y] = 1.0
    sample_weight = np.array([ex.weight for ex in exs], dtype=float)

    def unpack(theta: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        return theta[: d * k].reshape(d, k), theta[d * k :]

    def objective(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b = unpack(theta)
        z = x @ w + b
        z = np.where(mask, z, -1e9)
        z -= z.max(axis=1, keepdims=True)
        e = np.exp(z) * mask
        p = e / e.sum(axis=1, keepdims=True)
        loss = -np.sum(sample_weight * np.log(np.maximum(p[np.arange(n), y], 1e-12))) + 0.5 * l2 * np.sum(w * w)
        g = (p - onehot) * sample_weight[:, None]
        gw = x.T @ g + l2 * w
        gb = g.sum(axis=0)
        return float(loss), np.concatenate([np.asarray(gw).ravel(), gb])

    theta0 = np.zeros(d * k + k)
    if start is not None:
        known = {n: i for i, n in enumerate(start.features)}
        w0 = theta0[: d * k].reshape(d, k)
        for j, name in enumerate(names):
            i = known.get(name)
            if i is not None:
                w0[j] = start.weights[i]
        theta0[d * k :] = start.bias
    result = optimize.minimize(objective, theta0, jac=True, method="L-BFGS-B", options={"maxiter": 3000})
    w, b = unpack(result.x)
    return Fitted(names, w, b)


def predict_logits(model: Fitted, exs: Sequence[Example]) -> tuple[np.ndarray, np.ndarray]:
    vocabulary = {n: i for i, n in enumerate(model.features)}
    x, mask, _ = (
        design(exs, vocabulary)
        if exs
        else (sparse.csr_matrix((0, len(vocabulary))), np.zeros((0, len(CAUSES)), bool), None)
    )
    z = x @ model.weights + model.bias
    return np.asarray(z), mask


def probabilities(z: np.ndarray, mask: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    z = np.where(mask, z / temperature, -1e9)
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z) * mask
    return e / e.sum(axis=1, keepdims=True)


def fit_temperature(z: np.ndarray, mask: np.ndarray, y: np.ndarray) -> float:
    """The temperature that makes held-out probabilities honest (least negative log-likelihood)."""

    def nll(t: float) -> float:
        p = probabilities(z, mask, t)
        return float(-np.mean(np.log(np.maximum(p[np.arange(len(y)), y], 1e-12))))

    best = optimize.minimize_scalar(nll, bounds=(0.3, 10.0), method="bounded")
    return float(best.x)


def ece(confidences: Sequence[float], right: Sequence[bool], bins: int = 10) -> float:
    """Expected calibration error, as the scorer computes it."""
    if not confidences:
        return 0.0
    total = 0.0
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [
            (c, ok) for c, ok in zip(confidences, right, strict=True) if lo <= c < hi or (b == bins - 1 and c == 1.0)
        ]
        if inside:
            total += len(inside) * abs(
                sum(c for c, _ in inside) / len(inside) - sum(ok for _, ok in inside) / len(inside)
            )
    return total / len(confidences)


def calibration_table(confidences: Sequence[float], right: Sequence[bool], bins: int = 10) -> list[str]:
    rows = []
    for b in range(bins):
        lo, hi = b / bins, (b + 1) / bins
        inside = [
            (c, ok) for c, ok in zip(confidences, right, strict=True) if lo <= c < hi or (b == bins - 1 and c == 1.0)
        ]
        if inside:
            rows.append(
                f"  {lo:.1f}-{hi:.1f}  n={len(inside):5d}  confidence={sum(c for c, _ in inside) / len(inside):.3f}"
                f"  right={sum(ok for _, ok in inside) / len(inside):.3f}"
            )
    return rows


def entropy(p: np.ndarray) -> float:
    return float(-sum(x * math.log(x) for x in p if x > 0))
