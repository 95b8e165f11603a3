"""PyTorch: the nn.Module(s) of a crashed program, and what their forward received, read after the fact.

PyTorch calls a module through `Module._wrapped_call_impl` / `_call_impl(self, *args, **kwargs)`, frames that stay
in every traceback raised inside a forward: `self` is the module, `args`/`kwargs` exactly what its forward got (the
forward itself may have rebound its parameters by the time it raised). An error raised outside any forward (the
loss on the model's output, backward, the optimizer, after training) leaves no such frame: then the script's own
frames are searched for a local variable, or an attribute of their `self`, holding a module.

Read-only, shapes and dtypes only, never values. torch is never imported here: nothing runs unless the program
imported it already (it is in sys.modules).
"""

from __future__ import annotations

import sys
from types import TracebackType
from typing import Any

from diagnoser_client._log import logger
from diagnoser_client.describe import MAX_ITEMS, describe
from diagnoser_client.frames import is_user_file, iter_tracebacks

CALL_FRAMES = ("_wrapped_call_impl", "_call_impl")
MAX_LOCALS = 512  # names looked at per frame (a script's globals come first in its <module> frame)
MAX_USER_FRAMES = 32
MAX_MODULE_PATHS = 10_000  # modules walked to name the failing layer inside the model ("features.3")
_MODEL_NAMES = ("model", "net")

Call = tuple[Any, dict[str, Any]]  # (module, shapes of what its forward received)


def loaded() -> bool:
    return sys.modules.get("torch") is not None


def is_module(obj: Any) -> bool:
    """An nn.Module that is not a Keras layer (Keras 3 on the torch backend builds its layers on nn.Module)."""
    torch = sys.modules.get("torch")
    try:
        module_class = getattr(getattr(torch, "nn", None), "Module", None)
        if not isinstance(module_class, type) or not isinstance(obj, module_class):
            return False
        return not any(c.__module__.split(".")[0] in ("keras", "tf_keras") for c in type(obj).__mro__)
    except Exception:
        return False


def has_weights(module: Any) -> bool:
    """A model or layer (parameters, submodules), not a stateless loss or activation."""
    try:
        return next(iter(module.children()), None) is not None or next(iter(module.parameters()), None) is not None
    except Exception:
        return False


def describe_forward(args: Any, kwargs: Any) -> dict[str, Any]:
    """{"inputs": ...} for the positional arguments (one, or a list of several), then each keyword argument."""
    out: dict[str, Any] = {}
    if isinstance(args, tuple) and args:
        out["inputs"] = describe(args[0] if len(args) == 1 else list(args))
    if isinstance(kwargs, dict):
        for name, value in list(kwargs.items())[:MAX_ITEMS]:
            if value is not None:
                out[str(name)] = describe(value)
    return out


def module_calls(exc: BaseException, tb: TracebackType | None) -> list[Call]:
    """Each module call in the traceback, outermost first, with the shapes its forward received."""
    calls: list[Call] = []
    for entry in iter_tracebacks(exc, tb):
        frame = entry.tb_frame
        code = frame.f_code
        if code.co_name not in CALL_FRAMES and code.co_name != "forward":
            continue
        try:
            local = frame.f_locals
            module = local.get("self")
        except Exception:
            continue
        if not is_module(module) or (calls and calls[-1][0] is module):
            continue  # _wrapped_call_impl, _call_impl and forward of one call: the first one says it all
        described: dict[str, Any] = {}
        if code.co_name in CALL_FRAMES:  # a forward called directly (model.forward(x)) may have rebound its
            try:  # parameters by the time it raised: its locals do not tell what it received
                described = describe_forward(local.get("args"), local.get("kwargs"))
            except Exception:
                logger.debug("could not describe what %s received", type(module).__name__, exc_info=True)
        calls.append((module, described))
    return calls


def user_modules(exc: BaseException, tb: TracebackType | None) -> list[Any]:
    """Modules held by the local variables (or `self`'s attributes) of the script's own frames, innermost frame
    first, "model"/"net" names before the others."""
    named: list[tuple[int, int, Any]] = []
    seen: set[int] = set()
    frames = [e.tb_frame for e in iter_tracebacks(exc, tb) if is_user_file(e.tb_frame.f_code.co_filename)]
    for frame in reversed(frames[-MAX_USER_FRAMES:]):
        try:
            items = list(frame.f_locals.items())[:MAX_LOCALS]
        except Exception:
            continue
        owner = dict(items).get("self")
        if owner is not None and not is_module(owner):
            try:
                items += list(vars(owner).items())[:MAX_LOCALS]
            except Exception:  # __slots__, or a __dict__ that raises
                pass
        for name, value in items:
            if not isinstance(name, str) or name.startswith("__") or id(value) in seen or not is_module(value):
                continue
            seen.add(id(value))
            preferred = 0 if any(word in name.lower() for word in _MODEL_NAMES) else 1
            named.append((preferred, len(named), value))
    return [value for _, _, value in sorted(named, key=lambda item: item[:2])]


def _path_in(model: Any, module: Any) -> str | None:
    """The name of `module` inside `model` ("classifier.1"), as print(model) shows it."""
    try:
        for n, (name, candidate) in enumerate(model.named_modules()):
            if n >= MAX_MODULE_PATHS:
                return None
            if candidate is module:
                return name or None
    except Exception:
        return None
    return None


def from_traceback(exc: BaseException, tb: TracebackType | None) -> tuple[Any | None, dict[str, Any]]:
    """(the model to print, inputs) for a crash in a program that imported torch.

    The model is the outermost module called in the traceback that has weights, else one the script holds in a
    variable, else the outermost module called (a loss). inputs["call"] is what the model's forward received,
    inputs["layer"] what the innermost module (the failing layer, or the loss) received, with its class and name.
    """
    if not loaded():
        return None, {}
    calls = module_calls(exc, tb)
    model = next((m for m, _ in calls if has_weights(m)), None)
    if model is None:
        held = user_modules(exc, tb)
        model = next((m for m in held if has_weights(m)), None) or (calls[0][0] if calls else None) or (held[0] if held else None)
    inputs: dict[str, Any] = {}
    for module, described in calls:
        if module is model and described:
            inputs["call"] = described
            break
    if calls and calls[-1][0] is not model and calls[-1][1]:
        layer, described = calls[-1]
        entry: dict[str, Any] = {"module": type(layer).__name__}
        path = _path_in(model, layer) if model is not None else None
        if path:
            entry["path"] = path
        entry.update((k, v) for k, v in described.items() if k not in entry)
        inputs["layer"] = entry
    return model, inputs
