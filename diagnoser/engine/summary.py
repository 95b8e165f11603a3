"""Read what `model.summary()` (Keras 2 ASCII, Keras 3 box drawing) and `print(model)` (PyTorch) print.

The summary names the layers in order with their output shapes, so the engine can say which layer feeds
the offending one, what the model's input is, and how many units the output layer has.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

from diagnoser.engine.shapes import Shape, parse_shape

_ROW_SPLIT_RE = re.compile(r"\s*[│┃|]\s*")
_NAME_TYPE_RE = re.compile(r"^(?P<name>[\w./:-]+)\s+\((?P<type>[\w.]+)\)")
_SHAPE_IN_ROW_RE = re.compile(
    r"\[?\((?:None|\d+|\?)?(?:,\s*(?:None|\d+|\?))*,?\)\]?|\[(?:None|\d+)(?:,\s*(?:None|\d+))*\]"
)
_TORCH_ROW_RE = re.compile(r"^(?P<indent>\s*)\((?P<name>[\w.]+)\):\s*(?P<type>\w+)\((?P<args>.*?)\)?\s*$")
_MODEL_NAME_RE = re.compile(r'^Model:\s*"(?P<name>[^"]+)"')


@dataclass
class Layer:
    name: str
    type: str
    output_shape: Shape | None = None
    params: int | None = None
    args: dict[str, str] = field(default_factory=dict)  # PyTorch constructor arguments

    @property
    def kind(self) -> str:
        return layer_kind(self.type or self.name)


@dataclass
class ModelSummary:
    framework: str  # "keras" | "torch"
    name: str | None
    layers: list[Layer]

    def find(self, name: str | None) -> Layer | None:
        if not name:
            return None
        low = name.lower()
        for layer in self.layers:
            if layer.name.lower() == low:
                return layer
        return None

    def index(self, name: str | None) -> int | None:
        layer = self.find(name)
        return None if layer is None else self.layers.index(layer)

    def previous(self, name: str | None) -> Layer | None:
        i = self.index(name)
        if i is None or i == 0:
            return None
        return self.layers[i - 1]

    @property
    def input_shape(self) -> Shape | None:
        for layer in self.layers:
            if layer.kind == "input":
                return layer.output_shape
        return None

    @property
    def output_layer(self) -> Layer | None:
        return self.layers[-1] if self.layers else None


KINDS = [
    ("input", r"inputlayer|^input"),
    ("embedding", r"embedding"),
    ("bidirectional", r"bidirectional"),
    ("rnn", r"lstm|gru|simplernn|^rnn|convlstm"),
    ("globalpool", r"global\w*pool"),
    ("pool", r"pool"),
    ("conv", r"conv"),
    ("dense", r"dense|linear"),
    ("flatten", r"flatten"),
    ("reshape", r"reshape|permute|view"),
    ("norm", r"norm"),
    ("merge", r"concatenate|^add$|^add_|multiply|average|dot"),
    ("crop", r"cropping|zeropadding"),
    ("model", r"^(?:sequential|functional|model)(?:_\d+)?$"),
]


_KIND_RES = [(kind, re.compile(pattern)) for kind, pattern in KINDS]


@lru_cache(maxsize=4096)
def layer_kind(type_or_name: str) -> str:
    """A coarse family ('conv', 'rnn', 'pool', ...) from a class name or an auto-generated layer name."""
    low = type_or_name.lower()
    for kind, pattern in _KIND_RES:
        if pattern.search(low):
            return kind
    return "other"


def layer_spatial_rank(type_or_name: str) -> int | None:
    """1 for Conv1D/MaxPooling1D, 2 for Conv2D, 3 for Conv3D: from the class or auto-generated name."""
    m = re.search(r"(\d)d", type_or_name.lower())
    return int(m.group(1)) if m else None


def parse_summary(text: str | None) -> ModelSummary | None:
    if not text or not text.strip():
        return None
    if re.search(r"^\s*\([\w.]+\):\s*\w+\(", text, re.M):
        return _parse_torch(text)
    return _parse_keras(text)


def _parse_keras(text: str) -> ModelSummary | None:
    name = None
    layers: list[Layer] = []
    for raw in text.splitlines():
        line = raw.strip()
        m = _MODEL_NAME_RE.match(line)
        if m:
            if layers:  # a second model's summary: keep the first (the one that was being trained)
                break
            name = m["name"]
            continue
        cells = (
            [c for c in _ROW_SPLIT_RE.split(line.strip("│┃| ")) if c]
            if ("│" in line or "┃" in line or "|" in line)
            else None
        )
        first = cells[0] if cells else line
        nm = _NAME_TYPE_RE.match(first)
        if not nm or nm["name"] == "Layer":
            continue
        rest = " ".join(cells[1:]) if cells else line[nm.end() :]
        shape = None
        sm = _SHAPE_IN_ROW_RE.search(rest)
        if sm:
            shape = parse_shape(sm.group(0))
        params = None
        after = rest[sm.end() :] if sm else rest
        pm = re.search(r"(?<![\w(\[])(\d[\d,]*)(?![\w)\]])", after)
        if pm:
            params = int(pm.group(1).replace(",", ""))
        layers.append(Layer(name=nm["name"], type=nm["type"], output_shape=shape, params=params))
    if not layers:
        return None
    return ModelSummary(framework="keras", name=name, layers=layers)


def _parse_torch(text: str) -> ModelSummary | None:
    layers: list[Layer] = []
    name = None
    first = text.strip().splitlines()[0]
    fm = re.match(r"^(\w+)\($", first.strip())
    if fm:
        name = fm.group(1)
    for raw in text.splitlines():
        m = _TORCH_ROW_RE.match(raw)
        if not m:
            continue
        args_text = m["args"]
        if raw.rstrip().endswith("("):  # a container such as Sequential( ... ): its children follow
            continue
        args: dict[str, str] = {}
        positional = 0
        for part in re.split(r",\s*(?![^()]*\))", args_text):
            if "=" in part:
                k, v = part.split("=", 1)
                args[k.strip()] = v.strip()
            elif part.strip():
                args[f"arg{positional}"] = part.strip()
                positional += 1
        layers.append(Layer(name=m["name"], type=m["type"], args=args))
    if not layers:
        return None
    return ModelSummary(framework="torch", name=name, layers=layers)
