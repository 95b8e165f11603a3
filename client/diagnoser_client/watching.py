"""watch(model): remember a model and the shapes its data methods receive, without changing what they do.

The wrappers only read their arguments, then call the original method with exactly the same arguments;
anything that goes wrong while reading is swallowed and logged. They are set on the instance (bypassing
Keras' attribute tracking), so the class and other models are untouched.
"""

from __future__ import annotations

import copy
import functools
import inspect
from typing import Any, Callable

from diagnoser_client import capture
from diagnoser_client._log import logger

_METHODS = ("fit", "evaluate", "predict", "train_on_batch", "test_on_batch", "predict_on_batch")
_MARK = "__diagnoser_watched__"


def _arguments(method: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    try:
        return dict(inspect.signature(method).bind_partial(*args, **kwargs).arguments)
    except Exception:
        return dict(kwargs, args=args)


class _Watched:
    """One watched model's fit/evaluate/predict: records the shapes of the arguments, then calls the method it
    replaced with exactly the same arguments. A deep copy of the model gets a wrapper around its own method
    (copy.deepcopy copies the instance's attributes), never one that would train the original."""

    def __init__(self, original: Callable[..., Any], name: str) -> None:
        functools.update_wrapper(self, original)
        self._original = original
        self._name = name
        setattr(self, _MARK, True)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        try:
            capture.record_inputs(self._name, _arguments(self._original, args, kwargs))
            model = getattr(self._original, "__self__", None)
            if model is not None and getattr(model, "built", False) and not capture.has_summary(model):
                capture.record_summary(model)
        except Exception:
            logger.debug("watch(%s) could not record its inputs", self._name, exc_info=True)
        return self._original(*args, **kwargs)

    def __deepcopy__(self, memo: dict[int, Any]) -> _Watched:
        return _Watched(copy.deepcopy(self._original, memo), self._name)


def watch(model: Any) -> Any:
    """Register `model`; wrap its fit/evaluate/predict (Keras) or add a one-shot forward pre-hook (PyTorch)."""
    try:
        capture.register_model(model)
        if capture.is_torch_module(model):
            _watch_torch(model)
            return model
        for name in _METHODS:
            original = getattr(model, name, None)
            if callable(original) and not getattr(original, _MARK, False):
                object.__setattr__(model, name, _Watched(original, name))
    except Exception:
        logger.warning("watch() could not wrap the model", exc_info=True)
    return model


def _watch_torch(model: Any) -> None:
    handle = None

    def record_first_call(module: Any, args: tuple[Any, ...]) -> None:
        try:
            capture.record_inputs("forward", {"inputs": args[0] if len(args) == 1 else list(args)})
            if handle is not None:
                handle.remove()
        except Exception:
            logger.debug("could not record the first forward call", exc_info=True)

    handle = model.register_forward_pre_hook(record_first_call)
