"""What the model looked like and what it was fed, so the service can tell a data fault from a model fault.

Two sources, both read-only:
- models the user registered with `watch(model)` or `DiagnoserCallback`, with the inputs their
  fit/evaluate/predict calls received;
- the crashed program's own frames: Keras wraps `fit`, `evaluate`, `predict` and `__call__` in an
  `error_handler(*args, **kwargs)` that stays in every traceback, so the model and its arguments can be read
  from the traceback after the fact, with no patching and no change in behaviour. The same holds for a
  frame of `Model.fit` itself (traceback filtering off, tf_keras). PyTorch's modules are found likewise, by
  `torchmodels`, when the program imported torch.
"""

from __future__ import annotations

import inspect
import threading
import weakref
from types import TracebackType
from typing import Any

from diagnoser_client import torchmodels
from diagnoser_client._log import logger
from diagnoser_client.describe import describe
from diagnoser_client.frames import iter_tracebacks

DATA_METHODS = (
    "fit",
    "evaluate",
    "predict",
    "train_on_batch",
    "test_on_batch",
    "predict_on_batch",
    "__call__",
    "forward",
    "_call_impl",
)
DATA_ARGS = ("x", "y", "validation_data", "sample_weight", "inputs", "input")
MAX_SUMMARY_CHARS = 100_000
SUMMARY_SECONDS = 1.0  # a 300-layer Keras model renders its summary in about 0.15 s here

_lock = threading.Lock()
_watched: list[weakref.ref[Any]] = []
_inputs: dict[str, dict[str, Any]] = {}
_summaries: dict[int, str] = {}


def is_keras_model(obj: Any) -> bool:
    try:
        mro = type(obj).__mro__
    except Exception:
        return False
    return any(
        c.__name__ in ("Model", "Functional", "Sequential")
        and c.__module__.split(".")[0] in ("keras", "tf_keras", "tensorflow")
        for c in mro
    )


def is_torch_module(obj: Any) -> bool:
    try:
        return any(c.__name__ == "Module" and c.__module__.startswith("torch.nn") for c in type(obj).__mro__)
    except Exception:
        return False


def is_model(obj: Any) -> bool:
    return is_keras_model(obj) or is_torch_module(obj)


def summary_text(model: Any) -> str | None:
    """model.summary() for Keras (2 and 3), print(model) for PyTorch; None when the model cannot say."""
    try:
        if is_torch_module(model):
            return repr(model)[:MAX_SUMMARY_CHARS]
        lines: list[str] = []

        def collect(text: str, *args: Any, **kwargs: Any) -> None:
            lines.append(str(text))

        model.summary(print_fn=collect)
        text = "\n".join(line.rstrip("\n") for line in lines)
        return text[:MAX_SUMMARY_CHARS] or None
    except Exception as exc:  # unbuilt models raise; that is an answer, not a failure
        logger.debug("no summary for %s: %s", type(model).__name__, exc)
        return None


def bounded_summary_text(model: Any, seconds: float = SUMMARY_SECONDS) -> str | None:
    """summary_text() on a helper thread, given up after `seconds`: a dying program must not wait on a
    model with thousands of layers."""
    box: list[str | None] = []
    worker = threading.Thread(target=lambda: box.append(summary_text(model)), name="diagnoser-summary", daemon=True)
    worker.start()
    worker.join(seconds)
    if not box:
        logger.info("model summary took longer than %.1f s; sent without it", seconds)
    return box[0] if box else None


def describe_call(args: dict[str, Any], first_batch: bool = False) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name in DATA_ARGS:
        if name in args and args[name] is not None:
            out[name] = describe(args[name], first_batch=first_batch)
    extra = args.get("args")
    if isinstance(extra, tuple) and extra and "x" not in out and "inputs" not in out:
        out["inputs"] = describe(extra[0] if len(extra) == 1 else list(extra), first_batch=first_batch)
    for name in ("batch_size", "epochs", "steps_per_epoch", "validation_split"):
        value = args.get(name)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


# --- registration (watch / callback) -------------------------------------------------------------------


def register_model(model: Any) -> None:
    with _lock:
        if not any(ref() is model for ref in _watched):
            try:
                _watched.append(weakref.ref(model))
            except TypeError:
                pass


def record_inputs(method: str, args: dict[str, Any]) -> None:
    """Remember the shapes of one fit/evaluate/predict call; a failure here is swallowed and logged."""
    try:
        described = describe_call(args)
        with _lock:
            _inputs[method] = described
    except Exception:
        logger.debug("could not describe the inputs of %s", method, exc_info=True)


def record_summary(model: Any) -> None:
    text = summary_text(model)
    if text:
        with _lock:
            _summaries[id(model)] = text


def has_summary(model: Any) -> bool:
    with _lock:
        return id(model) in _summaries


def watched_models() -> list[Any]:
    with _lock:
        return [m for m in (ref() for ref in _watched) if m is not None]


def recorded_inputs() -> dict[str, dict[str, Any]]:
    with _lock:
        return {k: dict(v) for k, v in _inputs.items()}


def reset() -> None:
    with _lock:
        _watched.clear()
        _inputs.clear()
        _summaries.clear()


# --- after the crash -----------------------------------------------------------------------------------


def bind_call(fn: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """The arguments of a call by parameter name (x, y, validation_data...), as the function sees them."""
    try:
        bound = inspect.signature(fn).bind_partial(*args, **kwargs)
        values = dict(bound.arguments)
        nested = values.pop("kwargs", None)
        if isinstance(nested, dict):
            values.update({k: v for k, v in nested.items() if k not in values})
        return values
    except Exception:
        return {"args": tuple(args[1:]), **kwargs}


def _frame_call(frame: Any) -> tuple[Any, str, dict[str, Any]] | None:
    """(model, method, arguments) when this frame is a model's data method or Keras' error_handler around one."""
    code = frame.f_code
    try:
        local = frame.f_locals
    except Exception:
        return None
    if code.co_name == "error_handler" and "fn" in local and isinstance(local.get("args"), tuple):
        fn, args = local["fn"], local["args"]
        name = getattr(fn, "__name__", "")
        if args and is_keras_model(args[0]) and name in DATA_METHODS:
            values = bind_call(fn, args, dict(local.get("kwargs") or {}))
            return args[0], name, values
        return None
    if code.co_name in DATA_METHODS and is_keras_model(local.get("self")):
        return local["self"], code.co_name, dict(local)
    return None


def from_traceback(exc: BaseException, tb: TracebackType | None) -> tuple[Any | None, dict[str, Any]]:
    """The outermost Keras model in the traceback and the shapes of the data its outermost call received."""
    model = None
    inputs: dict[str, Any] = {}
    for entry in iter_tracebacks(exc, tb):
        frame = entry.tb_frame
        found = _frame_call(frame)
        if found is None:
            if model is None:
                try:
                    candidate = frame.f_locals.get("self")
                except Exception:
                    candidate = None
                if is_keras_model(candidate):
                    model = candidate
            continue
        candidate, method, values = found
        if model is None:
            model = candidate
        if candidate is model:
            key = "call" if method in ("__call__", "forward", "_call_impl") else method
            if key not in inputs:
                described = describe_call(values, first_batch=True)
                if described:
                    inputs[key] = described
    return model, inputs


def gather(exc: BaseException, tb: TracebackType | None) -> tuple[str | None, dict[str, Any] | None]:
    """(summary text, inputs) for a report: the traceback's own model first, then the watched ones."""
    try:
        model, inputs = from_traceback(exc, tb)
    except Exception:
        logger.debug("could not read the model from the traceback", exc_info=True)
        model, inputs = None, {}
    if model is None and torchmodels.loaded():
        try:
            model, found = torchmodels.from_traceback(exc, tb)
            inputs.update((k, v) for k, v in found.items() if k not in inputs)
        except Exception:
            logger.debug("could not read the PyTorch module from the traceback", exc_info=True)
    recorded = recorded_inputs()
    for method, described in recorded.items():
        inputs.setdefault(method, described)
    candidates = ([model] if model is not None else []) + [m for m in reversed(watched_models()) if m is not model]
    summary = None
    for candidate in candidates:
        summary = bounded_summary_text(candidate)
        if summary is None:
            with _lock:
                summary = _summaries.get(id(candidate))
        if summary:
            break
    return summary, (inputs or None)
