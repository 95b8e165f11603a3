"""Small code-writing helpers shared by the Keras case generators.

Why generate source text instead of calling Keras directly: a record's `snippet` must be the
exact script that ran, readable as a user's train.py. These helpers write that text in several
styles (Sequential with Input, input_shape= kwarg, functional, subclassed, no declared input), so
one fault is seen through several model-building idioms and layer-naming schemes.
"""
from __future__ import annotations

import random
from typing import Any


class P:
    """Seeded parameter drawer. Fault and control call the generator with equal seeds and draw the
    same values in the same order, so they differ only by the planted mutation."""

    def __init__(self, seed: str, env: str, framework: str, backend: str, arch: str) -> None:
        self.rng = random.Random(seed)
        self.env, self.framework, self.backend, self.arch = env, framework, backend, arch
        self.params: dict[str, Any] = {"arch": arch}

    def choice(self, name: str, options: list[Any]) -> Any:
        v = self.rng.choice(options)
        self.params[name] = v
        return v

    def randint(self, name: str, a: int, b: int) -> int:
        v = self.rng.randint(a, b)
        self.params[name] = v
        return v

    def flag(self, name: str, prob: float) -> bool:
        v = self.rng.random() < prob
        self.params[name] = v
        return v

    def set(self, name: str, v: Any) -> Any:
        self.params[name] = v
        return v

    @property
    def keras3(self) -> bool:
        return self.framework == "keras3"


def header(p: P, tf: bool = False) -> list[str]:
    """Import lines in one of the idioms real scripts use for this env."""
    lines = ["import numpy as np"]
    if p.framework == "keras3" and p.backend != "tensorflow":
        lines.append("import keras")
        return lines
    if "_tfkeras" in p.env:
        opts = ["import tf_keras as keras", "from tensorflow import keras"]
    elif p.framework == "keras3":
        opts = ["import keras", "from tensorflow import keras"]
    else:
        opts = ["from tensorflow import keras", "import keras"]
    imp = p.choice("import_style", opts)
    if tf or imp.startswith("from tensorflow"):
        lines.append("import tensorflow as tf")
    lines.append(imp)
    return lines


def shape(t: tuple[int, ...] | list[int]) -> str:
    return repr(tuple(t))


def nm(name: str | None) -> str:
    return f', name="{name}"' if name else ""


def add_kw(layer: str, kw: str) -> str:
    """Insert a keyword argument into a layer constructor expression 'keras.layers.X(...)'."""
    assert layer.endswith(")")
    inner = layer[layer.index("(") + 1:-1]
    return layer[:-1] + (", " if inner.strip() else "") + kw + ")"


def _attr(layer: str, i: int) -> str:
    cls = layer.split("(")[0].split(".")[-1]
    return f"{cls.lower()}_{i}"


def model_lines(p: P, layers: list[str], input_shape: tuple[int, ...] | None, style: str,
                model_name: str | None = None, dtype: str | None = None) -> list[str]:
    """Write `model = ...` in one of the styles: input | kwarg | functional | subclassed | noinput."""
    mn = f', name="{model_name}"' if model_name else ""
    dt = f', dtype="{dtype}"' if dtype else ""
    out: list[str] = []
    if style == "input":
        out.append("model = keras.Sequential([")
        out.append(f"    keras.Input(shape={shape(input_shape)}{dt}),")
        out += [f"    {l}," for l in layers]
        out.append(f"]{mn})")
    elif style == "kwarg":
        out.append("model = keras.Sequential([")
        out.append(f"    {add_kw(layers[0], f'input_shape={shape(input_shape)}')},")
        out += [f"    {l}," for l in layers[1:]]
        out.append(f"]{mn})")
    elif style == "noinput":
        out.append("model = keras.Sequential([")
        out += [f"    {l}," for l in layers]
        out.append(f"]{mn})")
    elif style == "functional":
        out.append(f"inputs = keras.Input(shape={shape(input_shape)}{dt})")
        prev = "inputs"
        for i, l in enumerate(layers):
            tgt = "outputs" if i == len(layers) - 1 else "h"
            out.append(f"{tgt} = {l}({prev})")
            prev = "h"
        out.append(f"model = keras.Model(inputs, outputs{mn})")
    elif style == "subclassed":
        cls = p.params.get("class_name", "Net")
        out.append(f"class {cls}(keras.Model):")
        out.append("    def __init__(self, **kwargs):")
        out.append("        super().__init__(**kwargs)")
        for i, l in enumerate(layers):
            out.append(f"        self.{_attr(l, i)} = {l}")
        out.append("")
        out.append("    def call(self, inputs):")
        prev = "inputs"
        for i, l in enumerate(layers):
            out.append(f"        x = self.{_attr(l, i)}({prev})")
            prev = "x"
        out.append("        return x")
        out.append("")
        out.append("")
        out.append(f"model = {cls}({mn.lstrip(', ')})")
    else:
        raise ValueError(style)
    return out


def wrap_twice(lines: list[str], p: P) -> list[str]:
    """Build the model twice (a baseline first): layer names get auto-numbered, e.g. conv2d_1."""
    body = ["def build_model():"] + ["    " + l if l else "" for l in lines] + ["    return model", "", ""]
    return body + ["baseline = build_model()", "model = build_model()"]


def build(p: P, layers: list[str], input_shape: tuple[int, ...] | None, style: str,
          twice: bool = False, model_name: str | None = None) -> list[str]:
    lines = model_lines(p, layers, input_shape, style, model_name)
    if style == "subclassed":
        cls_end = lines.index("        return x") + 3
        cls, rest = lines[:cls_end], lines[cls_end:]
        if twice:
            return cls + ["baseline = Net()".replace("Net", p.params.get("class_name", "Net")), *rest]
        return lines
    return wrap_twice(lines, p) if twice else lines


def styles_for(p: P, allowed: list[str]) -> str:
    return p.choice("model_style", allowed)


def fit_line(p: P, x: str = "x", y: str = "y", bs: int | None = None, extra: str = "") -> str:
    bs = bs if bs is not None else p.params.get("batch_size", 8)
    verbose = p.params.get("verbose", 0)
    return f"model.fit({x}, {y}, epochs=1, batch_size={bs}{extra}, verbose={verbose})"
