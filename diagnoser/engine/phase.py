"""When the error was raised: while the model was built, trained, validated, evaluated or asked to predict, in a
tf.data map or a DataLoader's collate, in a PyTorch forward or in the loss.

Why it matters: the same check on the same shape means different things then. A rank check failing while the model
is built saw the declared input; during fit it saw the data. Read from the frames (Keras and TensorFlow name their
step functions), the user's own calling line when Keras filtered its frames out, and Keras' call arguments.
"""

from __future__ import annotations

import re

from diagnoser.engine.parse import ParsedTraceback

PHASES = ("build", "fit", "validation", "evaluate", "predict", "map", "collate", "getitem", "loader", "forward",
          "loss", "backward", "unknown")

_BY_FUNCTION: list[tuple[str, set[str]]] = [
    ("collate", {"default_collate", "collate", "collate_fn", "collate_tensor_fn"}),
    ("map", {"map", "_map_fn", "wrapped_fn", "_wrapper_helper"}),
    ("getitem", {"__getitem__"}),
    ("evaluate", {"evaluate", "test_function", "test_step", "test_on_batch", "_test_function",
                  "one_step_on_iterator_test"}),
    ("predict", {"predict", "predict_function", "predict_step", "predict_on_batch"}),
    ("fit", {"fit", "fit_generator", "train_function", "train_step", "train_on_batch", "one_step_on_data",
             "multi_step_on_iterator", "one_step_on_iterator", "step_function", "run_step"}),
]
_BUILD = {"_maybe_rebuild", "build", "build_wrapper", "add", "compute_output_spec", "symbolic_call",
          "_infer_output_shapes", "compute_output_shape", "_functional_construction_call",
          "_keras_tensor_symbolic_call", "_init_graph_network"}
_LOSS_FILES = re.compile(r"(?:^|/)(?:losses?|compile_utils|loss_functions?)\.py$|/losses/|functional\.py$")
_LOSS_FUNCTIONS = re.compile(r"loss|cross_entropy|crossentropy|nll|mse")
_USER_CALLS = [
    ("evaluate", re.compile(r"\.(?:evaluate|test_on_batch)\(")),
    ("predict", re.compile(r"\.(?:predict|predict_on_batch)\(")),
    ("fit", re.compile(r"\.(?:fit|fit_generator|train_on_batch)\(")),
    ("loss", re.compile(r"\b(?:loss|criterion|loss_fn|loss_func)\s*\(|F\.(?:cross_entropy|nll_loss|mse_loss|"
                        r"binary_cross_entropy\w*)\(")),
    ("backward", re.compile(r"\.backward\(")),
    # building a model: a layer made and called on a tensor, Sequential([...]), Model(...), model.add(...)
    ("build", re.compile(r"\b[A-Z]\w*\([^()]*(?:\([^()]*\)[^()]*)*\)\(\s*\w|\bSequential\(|\b(?:Model|Functional)\(|"
                         r"\.add\(|\.build\(|\.summary\(")),
]


def detect_phase(tb: ParsedTraceback) -> str:
    phase = _from_frames(tb)
    if phase not in ("unknown", "build", "forward"):
        return phase
    if tb.call_arguments.get("training") == "True":
        return "fit"  # Keras printed the call's arguments: training=True is a train step
    for frame in reversed(tb.all_frames):
        if frame.code is None or "site-packages" in frame.file or "<venv>" in frame.file:
            continue
        for name, pattern in _USER_CALLS:
            if pattern.search(frame.code):
                if phase == "forward" and name not in ("fit", "evaluate", "predict"):
                    continue  # `loss_fn(model(x), y)`: the innermost frames are the forward pass, not the loss
                return name
    return phase


def _from_frames(tb: ParsedTraceback) -> str:
    functions = [f.function.split(".")[-1].strip("<>") for f in tb.all_frames]
    files = [f.file.replace("\\", "/") for f in tb.all_frames]
    names = set(functions)
    joined = "\n".join(files)
    if "DataLoader worker" in tb.message or "torch/utils/data/_utils/collate" in joined:
        return "collate" if ("collate" in joined or names & _BY_FUNCTION[0][1]) else "loader"
    found = {phase for phase, fns in _BY_FUNCTION if names & fns}
    if "map" in found and "dataset_ops" not in joined and not any(f.startswith("tf__") for f in functions):
        found.discard("map")
    if "fit" in found and "evaluate" in found:
        return "validation"
    library_loss = any(_LOSS_FILES.search(f) for f in files[-4:]) and any(
        _LOSS_FUNCTIONS.search(fn) for fn in functions[-4:])
    if library_loss and not ({"fit", "evaluate"} & found and tb.framework == "torch"):
        return "loss"
    for phase, _ in _BY_FUNCTION:
        if phase in found:
            return phase
    if names & _BUILD:
        return "build"
    if tb.framework in ("keras3", "tf_keras2", "keras_standalone") and any(
        f.function == "__init__" and ("sequential" in f.file or "functional" in f.file) for f in tb.all_frames
    ):
        return "build"
    if "backward" in names:
        return "backward"
    if "forward" in names or "_call_impl" in names:
        return "forward"
    return "unknown"
