"""Shapes and dtypes of what a model was fed, never values.

Duck-typed so the client needs none of the libraries it describes: anything with `.shape` and `.dtype` is a
tensor (NumPy, TensorFlow, PyTorch, JAX), anything with `.element_spec` is a tf.data pipeline, mappings and
sequences are walked to a bounded depth and width.
"""

from __future__ import annotations

import inspect
import threading
from typing import Any

MAX_DEPTH = 4
MAX_ITEMS = 16
FIRST_BATCH_SECONDS = 0.5


def _dims(shape: Any) -> list[int | None] | None:
    try:
        as_list = getattr(shape, "as_list", None)  # tf.TensorShape
        if callable(as_list):
            shape = as_list()
        return [None if d is None else int(d) for d in shape]
    except Exception:
        return None


def _dtype_name(dtype: Any) -> str:
    name = getattr(dtype, "name", None)  # tf.DType, numpy dtype
    text = name if isinstance(name, str) else str(dtype)
    return text.removeprefix("torch.")


def _kind(value: Any) -> str:
    cls = type(value)
    return f"{cls.__module__.split('.')[0]}.{cls.__qualname__}"


def describe(value: Any, depth: int = 0, first_batch: bool = False) -> Any:
    """A JSON-able description: {"shape": [...], "dtype": "float32"} for a tensor, nested for structures."""
    if value is None:
        return None
    if isinstance(value, (bool, int, float, complex)):
        return {"kind": type(value).__name__}
    if isinstance(value, (str, bytes)):
        return {"kind": type(value).__name__, "len": len(value)}
    if depth > MAX_DEPTH:
        return {"kind": _kind(value)}
    spec = _safe_getattr(value, "element_spec")
    if spec is not None:
        return {"kind": "tf.data.Dataset", "element": describe(spec, depth + 1)}
    shape = _safe_getattr(value, "shape")
    if shape is not None and not callable(shape):
        dims = _dims(shape)
        if dims is not None:
            dtype = _safe_getattr(value, "dtype")
            out: dict[str, Any] = {"shape": dims}
            if dtype is not None:
                out["dtype"] = _dtype_name(dtype)
            elif _safe_getattr(value, "dtypes") is not None:  # pandas DataFrame
                out["dtype"] = "DataFrame"
            if type(value).__name__ == "RaggedTensorSpec" or type(value).__name__ == "RaggedTensor":
                out["ragged"] = True
            return out
    if isinstance(value, dict):
        items = list(value.items())[:MAX_ITEMS]
        return {str(k): describe(v, depth + 1, first_batch) for k, v in items}
    if isinstance(value, (list, tuple)):
        return _describe_sequence(value, depth, first_batch)
    if inspect.isgenerator(value) or _is_batch_sequence(value):
        out = {"kind": "generator" if inspect.isgenerator(value) else _kind(value)}
        length = _safe_len(value)
        if length is not None:
            out["len"] = length
        if first_batch:
            batch = _first_batch(value)
            if batch is not None:
                out["first_batch"] = describe(batch, depth + 1)
        return out
    return {"kind": _kind(value)}


def _describe_sequence(value: Any, depth: int, first_batch: bool) -> Any:
    if value and all(isinstance(v, (int, float, bool)) for v in value[:MAX_ITEMS]):
        return {"kind": type(value).__name__, "shape": _nested_len(value), "dtype": type(value[0]).__name__}
    if value and all(isinstance(v, (list, tuple)) for v in value[:MAX_ITEMS]):
        dims = _nested_len(value)
        if len(dims) > 1:
            return {"kind": type(value).__name__, "shape": dims}
    described = [describe(v, depth + 1, first_batch) for v in value[:MAX_ITEMS]]
    if len(value) > MAX_ITEMS:
        described.append({"kind": "...", "len": len(value)})
    return described


def _nested_len(value: Any) -> list[int]:
    dims: list[int] = []
    while isinstance(value, (list, tuple)) and len(dims) < 8:
        dims.append(len(value))
        if not value:
            break
        value = value[0]
    return dims


def _is_batch_sequence(value: Any) -> bool:
    """keras.utils.PyDataset / Sequence and torch DataLoader-like objects: batches by index or iteration."""
    names = {c.__name__ for c in type(value).__mro__}
    return bool(names & {"PyDataset", "Sequence", "DataLoader"}) and not isinstance(value, (list, tuple))


def _first_batch(value: Any) -> Any:
    """One batch, when it comes within FIRST_BATCH_SECONDS; only used once the program is dying anyway."""
    box: list[Any] = []

    def fetch() -> None:
        try:
            if inspect.isgenerator(value):
                box.append(next(value))
            elif hasattr(value, "__getitem__"):
                box.append(value[0])
        except BaseException:
            pass

    worker = threading.Thread(target=fetch, name="diagnoser-first-batch", daemon=True)
    worker.start()
    worker.join(FIRST_BATCH_SECONDS)
    return box[0] if box else None


def _safe_getattr(value: Any, name: str) -> Any:
    try:
        return getattr(value, name, None)
    except Exception:
        return None


def _safe_len(value: Any) -> int | None:
    try:
        return len(value)
    except Exception:
        return None
