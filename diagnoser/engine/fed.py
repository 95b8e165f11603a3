"""What the training call was fed, as the client reports it: shapes and dtypes, never values.

The client sends {"fit": {"x": {"shape": [64, 28, 28], "dtype": "float32"}, "y": {...}}, ...} (for
tf.data, {"kind": "tf.data.Dataset", "element": [...]}; for PyTorch, {"call": {"inputs": ...}}). The data's
own shape is the evidence a traceback lacks: it separates "the data is wrong" from "the model is wrong".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diagnoser.engine.shapes import Shape

PHASE_KEYS = {"fit": ("fit", "train_on_batch", "fit_generator"), "evaluate": ("evaluate", "test_on_batch"),
              "predict": ("predict", "predict_on_batch"), "validation": ("fit",), "forward": ("call", "forward")}
X_KEYS = ("x", "inputs", "input")


@dataclass(frozen=True)
class FedData:
    x: Shape | None
    y: Shape | None
    x_dtype: str | None
    from_dataset: bool  # a tf.data pipeline: its element shapes say whether it was batched
    batch_size: int | None


def read_fed(inputs: Any, phase: str) -> FedData | None:
    """The x and y of the call that failed (or of any call, when the phase is unknown)."""
    if not isinstance(inputs, dict) or not inputs:
        return None
    calls = [v for k, v in inputs.items() if k in PHASE_KEYS.get(phase, ())] or list(inputs.values())
    for call in calls:
        if not isinstance(call, dict):
            continue
        x_desc = next((call[k] for k in X_KEYS if k in call), None)
        if x_desc is None:
            continue
        from_dataset = isinstance(x_desc, dict) and "element" in x_desc
        x_desc, y_desc = _split_dataset(x_desc) if from_dataset else (x_desc, call.get("y"))
        x, x_dtype = _shape_of(x_desc)
        y, _ = _shape_of(y_desc)
        batch = call.get("batch_size")
        return FedData(x, y, x_dtype, from_dataset, batch if isinstance(batch, int) else None)
    return None


def _split_dataset(desc: dict[str, Any]) -> tuple[Any, Any]:
    element = desc.get("element")
    if isinstance(element, list) and element:
        return element[0], element[1] if len(element) > 1 else None
    return element, None


def _shape_of(desc: Any) -> tuple[Shape | None, str | None]:
    if isinstance(desc, list) and desc:  # several inputs: the first one speaks for the model's first Input
        desc = desc[0]
    if not isinstance(desc, dict) or not isinstance(desc.get("shape"), list):
        return None, None
    try:
        shape = tuple(None if d is None else int(d) for d in desc["shape"])
    except (TypeError, ValueError):
        return None, None
    dtype = desc.get("dtype")
    return shape, dtype if isinstance(dtype, str) else None
