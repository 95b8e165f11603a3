"""DiagnoserCallback: a Keras callback that records the model and what fit() was fed.

Keras callbacks never see the data, but Keras calls `set_model` from inside fit/evaluate/predict, so the
callback reads the arguments of the enclosing call from the caller's frames (read-only; shapes and
dtypes only). It also watch()es the model for later calls, and installs the crash hook from the
environment if the script did not, so adding the callback is enough.

Keras is imported when this module is: `import diagnoser_client` alone never imports it. The base class is
Keras 3's Callback, or tf_keras' when TF_USE_LEGACY_KERAS=1 or only tf_keras is available.
"""

from __future__ import annotations

import os
import sys
from types import FrameType
from typing import Any

from diagnoser_client import capture
from diagnoser_client._log import logger
from diagnoser_client.watching import watch as _watch


def _keras_callback_base() -> type:
    legacy = os.environ.get("TF_USE_LEGACY_KERAS", "").strip().lower() in ("1", "true", "yes")
    order = ("tf_keras", "keras") if legacy else ("keras", "tf_keras")
    for name in order:
        try:
            module = __import__(name + ".callbacks", fromlist=["Callback"])
            base: type = module.Callback
            return base
        except Exception:
            continue
    return object


_Base = _keras_callback_base()
_DATA_METHODS = ("fit", "evaluate", "predict")


def _enclosing_call(model: Any) -> tuple[str, dict[str, Any]] | None:
    """(method, arguments) of the fit/evaluate/predict of `model` that is calling us, if any."""
    frame: FrameType | None = sys._getframe(2)
    depth = 0
    while frame is not None and depth < 40:
        code = frame.f_code
        local = frame.f_locals
        if code.co_name in _DATA_METHODS and local.get("self") is model:
            return code.co_name, dict(local)
        if code.co_name == "error_handler" and isinstance(local.get("args"), tuple):
            args = local["args"]
            fn = local.get("fn")
            name = getattr(fn, "__name__", "")
            if args and args[0] is model and name in _DATA_METHODS:
                return name, capture.bind_call(fn, args, dict(local.get("kwargs") or {}))
        frame = frame.f_back
        depth += 1
    return None


class DiagnoserCallback(_Base):  # type: ignore[misc, valid-type]
    """Pass it to fit(): `model.fit(x, y, callbacks=[DiagnoserCallback()])`."""

    def __init__(self, install: bool = True, **install_options: Any) -> None:
        if _Base is not object:
            super().__init__()
        self._install = install
        self._install_options: dict[str, Any] = install_options
        if install:
            try:
                from diagnoser_client.hooks import current
                from diagnoser_client.hooks import install as install_hook

                if current() is None:
                    install_hook(**install_options)
            except Exception:
                logger.warning("DiagnoserCallback could not install the crash hook", exc_info=True)

    def set_model(self, model: Any) -> None:
        if _Base is not object:
            super().set_model(model)
        else:
            self.model = model
        try:
            _watch(model)
            found = _enclosing_call(model)
            if found is not None:
                capture.record_inputs(found[0], found[1])
            if getattr(model, "built", False) and not capture.has_summary(model):
                capture.record_summary(model)
        except Exception:
            logger.debug("DiagnoserCallback could not record the model", exc_info=True)

    def on_train_begin(self, logs: Any = None) -> None:
        try:
            if self.model is not None and not capture.has_summary(self.model):
                capture.record_summary(self.model)
        except Exception:
            logger.debug("DiagnoserCallback could not record the summary", exc_info=True)


def watch(model: Any) -> Any:
    """Same as diagnoser_client.watch(model)."""
    return _watch(model)
