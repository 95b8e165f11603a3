"""Facts about one traceback that rules' conditions and templates refer to by name.

A rule's regex yields raw facts (named groups: layer, expected, received, ...). This module adds what the
message alone cannot say: the phase the error was raised in (from the frames), whether the batch axis is
symbolic (model being built) or concrete (real data), how the received shape relates to the expected one,
and, from the model summary, which layer feeds the offending one.
"""

from __future__ import annotations

import re
from typing import Any

from diagnoser.engine.fed import FedData, read_fed
from diagnoser.engine.parse import ParsedTraceback
from diagnoser.engine.shapes import Shape, batch_state, fmt, fmt_data, parse_shape, permutation_relations, relations
from diagnoser.engine.summary import ModelSummary, layer_kind, layer_spatial_rank

_PHASE_FUNCS: list[tuple[str, set[str]]] = [
    ("collate", {"default_collate", "collate", "collate_fn", "collate_tensor_fn"}),
    ("map", {"map", "_map_fn", "wrapped_fn", "_wrapper_helper"}),
    ("getitem", {"__getitem__"}),
    (
        "evaluate",
        {"evaluate", "test_function", "test_step", "test_on_batch", "_test_function", "one_step_on_iterator_test"},
    ),
    ("predict", {"predict", "predict_function", "predict_step", "predict_on_batch"}),
    (
        "fit",
        {
            "fit",
            "fit_generator",
            "train_function",
            "train_step",
            "train_on_batch",
            "one_step_on_data",
            "multi_step_on_iterator",
            "one_step_on_iterator",
            "step_function",
            "run_step",
        },
    ),
]
_BUILD_FUNCS = {
    "_maybe_rebuild",
    "build",
    "build_wrapper",
    "add",
    "compute_output_spec",
    "symbolic_call",
    "_infer_output_shapes",
    "compute_output_shape",
    "_functional_construction_call",
    "_keras_tensor_symbolic_call",
    "_init_graph_network",
}
_LOSS_FILE_RE = re.compile(r"loss|compile_utils")
_NUMBERED_RE = re.compile(r"^(?P<base>.*?)_(?P<n>\d+)$")
_MODEL_NAMES_RE = re.compile(r"^(?:sequential|functional|model)(?:_\d+)?$", re.I)


_USER_CALL_RE = [
    ("evaluate", re.compile(r"\.(?:evaluate|test_on_batch)\(")),
    ("predict", re.compile(r"\.(?:predict|predict_on_batch)\(")),
    ("fit", re.compile(r"\.(?:fit|fit_generator|train_on_batch)\(")),
    # Building a model: a layer made and called on a tensor, Sequential([...]), Model(...), model.add(...)
    (
        "build",
        re.compile(
            r"\b[A-Z]\w*\([^()]*(?:\([^()]*\)[^()]*)*\)\(\s*\w|\bSequential\(|\b(?:Model|Functional)\(|\.add\(|\.build\(|\.summary\("
        ),
    ),
]


def detect_phase(tb: ParsedTraceback) -> str:
    phase = _phase_from_frames(tb)
    if phase not in ("unknown", "build", "forward"):
        return phase
    if tb.call_arguments.get("training") == "True":
        return "fit"  # Keras printed the call's arguments: training=True is a train step
    # Keras filters its own frames out of tracebacks; the user's line still says which call failed.
    if tb.framework not in ("keras3", "tf_keras2", "keras_standalone", "tensorflow", "unknown"):
        return phase
    for frame in reversed(tb.frames):
        for name, pattern in _USER_CALL_RE:
            if frame.code and pattern.search(frame.code):
                return name
    return phase


def _phase_from_frames(tb: ParsedTraceback) -> str:
    funcs = [f.function.split(".")[-1].strip("<>") for f in tb.all_frames]
    files = "\n".join(f.file for f in tb.all_frames)
    names = set(funcs)
    if "DataLoader worker" in tb.message or "torch/utils/data/_utils/collate" in files:
        return "collate" if ("collate" in files or names & _PHASE_FUNCS[0][1]) else "loader"
    found = {phase for phase, fn in _PHASE_FUNCS if names & fn}
    if "map" in found and "dataset_ops" not in files and "tf__" not in " ".join(funcs):
        found.discard("map")
    if "fit" in found and "evaluate" in found:
        return "validation"
    for phase, _ in _PHASE_FUNCS:
        if phase in found:
            return phase
    if names & _BUILD_FUNCS:
        return "build"
    if tb.framework in ("keras3", "tf_keras2", "keras_standalone") and any(
        f.function == "__init__" and ("sequential" in f.file or "functional" in f.file) for f in tb.all_frames
    ):
        return "build"
    if "forward" in names:
        return "forward"
    return "unknown"


def layer_base(name: str | None) -> str | None:
    """`conv2d_14` and `conv2d` are the same layer for grouping: Keras numbers auto-named layers."""
    if not name:
        return None
    low = name.strip().strip("'\"").lower()
    if _MODEL_NAMES_RE.match(low):
        return "model"
    m = _NUMBERED_RE.match(low)
    return m.group("base") if m else low


def build_facts(
    tb: ParsedTraceback,
    groups: dict[str, str | None],
    summary: ModelSummary | None,
    source: str | None,
    inputs: Any = None,
) -> dict[str, Any]:
    facts: dict[str, Any] = {k: v for k, v in groups.items() if v is not None}
    facts["framework"] = tb.framework
    facts["exception"] = tb.core_type
    facts["phase"] = detect_phase(tb)
    files = "\n".join(f.file for f in tb.all_frames)
    facts["in_loss"] = bool(
        (tb.node and re.search(r"loss|crossentropy|entropy", tb.node, re.I))
        or any(_LOSS_FILE_RE.search(f.file.rsplit("/", 1)[-1]) for f in tb.all_frames)
    )
    facts["in_forward"] = any(f.function == "forward" for f in tb.all_frames)
    facts["files"] = files
    facts["functions"] = "\n".join(f.function for f in tb.all_frames)
    facts["node"] = tb.node or ""
    facts["message"] = tb.core_message

    layer = (groups.get("layer") or "").strip().strip("'\"") or None
    if layer is None and tb.wrapper_layer:
        layer = tb.wrapper_layer
    if layer is None and tb.node:
        parts = tb.node.split("/")
        layer = next((p for p in parts[1:-1] if layer_kind(p) not in ("other", "model")), None)
    if layer:
        facts["layer"] = layer
        facts["layer_kind"] = layer_kind(layer)
        facts["layer_numbered"] = bool(_NUMBERED_RE.match(layer)) and not layer.startswith("input")
        facts["layer_is_model"] = bool(_MODEL_NAMES_RE.match(layer))
        facts["layer_spatial_rank"] = layer_spatial_rank(layer)
    facts["layer_base"] = layer_base(layer)

    expected = _shape(groups.get("expected"))
    received = _shape(groups.get("received"))
    call_input = _shape(tb.call_arguments.get("inputs") or tb.call_arguments.get("args") or tb.call_arguments.get("x"))
    if call_input is not None:
        facts["call_input"] = fmt(call_input)
        facts["call_input_shape"] = call_input
    sample = _shape(groups.get("expected_sample"))
    if expected is None and sample is not None and received is not None:
        # Keras 2 prints the per-sample shape, sometimes with the batch axis: (784,) or (None, 4)
        expected = sample if len(sample) == len(received) and sample[0] is None else (None,) + tuple(sample)
    axis, value = _int(groups.get("axis")), _int(groups.get("value"))
    if expected is None and received is not None and axis is not None and value is not None:
        expected = _with_axis(received, axis, value)
    if received is not None:
        facts["received_shape"] = received
        facts["received"] = fmt(received)
        facts["received_rank"] = len(received)
        if received and received[-1] is not None:
            facts["last_dim"] = received[-1]
        facts["batch"] = batch_state(received)
        if all(d is None for d in received):
            facts["batch"] = "unknown"
    if expected is not None:
        facts["expected_shape"] = expected
        facts["expected"] = fmt(expected)
        if value is not None and axis is not None and not groups.get("expected"):
            # Only one axis was checked: show that, not a shape the message never printed.
            facts["expected"] = f"(..., {value})" if axis == -1 else f"axis {axis} = {value}"
    if expected is None and groups.get("expected_ndim"):
        # Only the rank was checked: say so in the message's own terms.
        op = {"min_ndim": ">=", "max_ndim": "<="}.get(groups.get("kind") or "", "=")
        facts["expected"] = f"ndim{op}{groups['expected_ndim']}"
    rel = relations(expected, received)
    if value is not None and received is not None and len(received) >= 3:
        if received[1] == value and received[-1] != value and all(value <= d for d in received[2:] if d is not None):
            rel.add("channels_first")
    if call_input is not None and received is not None and len(call_input) > len(received) and 1 in call_input[1:]:
        rel.add("extra_unit_axis")
    _data_look(rel, received)
    if call_input is not None and received is not None and tuple(call_input) == tuple(received):
        rel.add("received_is_model_input")
    if (
        received is not None
        and len(received) >= 3
        and received[0] is None
        and received[1] is None
        and any(d is not None for d in received[2:])
    ):
        rel.add("two_unknown_leading_axes")
        rel.add("batched_twice")
    declared = _declared_input(source)
    if declared is not None:
        facts["declared_input"] = fmt(declared)
        if received is not None and tuple(received[1:]) == declared:
            rel.add("received_is_declared_input")
        if received is not None:
            rel |= {f"declared_{r}" for r in permutation_relations(declared, received[1:])}
    facts["relations"] = rel
    e_nd, f_nd = _int(groups.get("expected_ndim")), _int(groups.get("found_ndim"))
    if e_nd is None and expected is not None:
        e_nd = len(expected)
    if f_nd is None and received is not None:
        f_nd = len(received)
    if e_nd is not None and f_nd is not None:
        facts["rank_delta"] = f_nd - e_nd

    target, output = _shape(groups.get("target")), _shape(groups.get("output"))
    if target is not None and output is not None:
        # Labels against outputs: the same arithmetic, with the output as what was expected.
        rel |= {f"target_{r}" for r in relations(output, target)}
    _fed_facts(facts, read_fed(inputs, facts["phase"]), received, rel)
    _group_shape_facts(facts, groups)
    _model_input_facts(facts, summary)
    _summary_facts(facts, summary, layer, received)
    facts["has_summary"] = summary is not None
    facts["source"] = source or ""
    _render_helpers(facts)
    return facts


def _summary_facts(
    facts: dict[str, Any], summary: ModelSummary | None, layer: str | None, received: Shape | None
) -> None:
    if summary is None:
        return
    facts["model_name"] = summary.name
    inp = summary.input_shape
    if inp is not None:
        facts["model_input"] = fmt(inp)
    out = summary.output_layer
    if out is not None and out.output_shape:
        facts["output_units"] = out.output_shape[-1]
        facts["output_layer"] = out.name
    if out is not None and summary.framework == "torch":
        units = out.args.get("out_features") or out.args.get("arg1")
        if units:
            facts["output_units"] = units
    body_layers = [x for x in summary.layers if x.kind != "input"]
    if body_layers:
        facts["first_layer_kind"] = body_layers[0].kind
        facts["first_layer"] = body_layers[0].name
    target = summary.find(layer)
    if target is not None:
        idx = summary.layers.index(target)
        body = [x for x in summary.layers if x.kind != "input"]
        facts["layer_is_first"] = bool(body) and body[0] is target
        prev = summary.previous(layer)
        if prev is not None:
            facts["prev_layer"] = prev.name
            facts["prev_kind"] = prev.kind
            facts["prev_type"] = prev.type
        facts["layer_type"] = target.type
        facts["layer_index"] = idx


def _render_helpers(facts: dict[str, Any]) -> None:
    """Derived strings that fixes quote: the received data shape with a channel axis added, etc."""
    rec: Shape | None = facts.get("received_shape")
    exp: Shape | None = facts.get("expected_shape")
    if rec is not None:
        facts["received_data"] = fmt_data(rec)
        facts["received_plus_channel"] = fmt_data(rec + (1,))
        facts["received_plus_batch"] = fmt_data((None,) + rec)
        facts["received_features"] = fmt(rec[1:])
        facts["received_features_plus_channel"] = fmt(rec[1:] + (1,))
        facts["received_plus_channel_shape"] = fmt((None,) + rec[1:] + (1,))
        if len(rec) == 4:
            facts["received_channels_last"] = fmt_data((rec[0], rec[2], rec[3], rec[1]))
        facts["received_squeezed"] = fmt_data(tuple(d for i, d in enumerate(rec) if not (i > 0 and d == 1)))
    if exp is not None:
        facts["expected_data"] = fmt_data(exp)
        facts["expected_features"] = fmt(exp[1:])
        if len(exp) >= 3:
            facts["expected_hw"] = ", ".join(str(d) for d in exp[1:-1])
    call = facts.get("call_input_shape")
    if call is not None:
        facts["call_input_data"] = fmt_data(call)
        facts["call_input_squeezed"] = fmt_data(tuple(d for i, d in enumerate(call) if not (i > 0 and d == 1)))


def _with_axis(shape: Shape, axis: int, value: int) -> Shape:
    dims = list(shape)
    try:
        dims[axis] = value
    except IndexError:
        return shape
    return tuple(dims)


def _shape(text: str | None) -> Shape | None:
    return parse_shape(text) if text else None


def _int(text: str | None) -> int | None:
    try:
        return int(text) if text is not None else None
    except ValueError:
        return None


_DECLARED_RE = re.compile(r"(?:Input\(\s*(?:shape\s*=\s*)?|input_shape\s*=\s*)(\([^()]*\)|\[[^\[\]]*\])")


def _declared_input(source: str | None) -> Shape | None:
    """The shape the user's code declares for the model input: Input(shape=...) or input_shape=..."""
    if not source:
        return None
    m = _DECLARED_RE.search(source)
    return parse_shape(m.group(1)) if m else None


def _data_look(rel: set[str], received: Shape | None) -> None:
    """What a received tensor looks like when only its rank is known to be wrong.

    (28, 28, 1) looks like one image without its batch axis (a channel-sized last axis after two equal
    ones); (8, 28, 28) looks like a batch of images without their channel axis.
    """
    if not received or len(received) < 2 or any(d is None for d in received[1:]):
        return
    first, last = received[0], received[-1]
    if len(received) >= 3 and last in (1, 3, 4) and first is not None and first == received[1] and first > 4:
        rel.add("looks_unbatched")
    elif len(received) >= 3 and last is not None and last == received[-2] and last > 4:
        rel.add("looks_missing_channel")


def _group_shape_facts(facts: dict[str, Any], groups: dict[str, str | None]) -> None:
    """Integer facts for every shape a rule captured, so `expr` conditions can do arithmetic:
    `<group>_dim0` (first axis), `<group>_last` (last axis), `<group>_rank`."""
    for name, value in groups.items():
        if not value:
            continue
        text = value.strip()
        if not text.startswith(("(", "[", "torch.Size")) and "," in text:
            text = f"[{text}]"  # "896,10" as TensorFlow prints inside its own brackets
        shape = parse_shape(text)
        if not shape:
            continue
        facts[f"{name}_rank"] = len(shape)
        if shape[0] is not None:
            facts[f"{name}_dim0"] = shape[0]
        if shape[-1] is not None:
            facts[f"{name}_last"] = shape[-1]


def _model_input_facts(facts: dict[str, Any], summary: ModelSummary | None) -> None:
    """The model's declared per-sample input, from the summary's Input row or from the code."""
    shape: Shape | None = summary.input_shape if summary is not None else None
    if shape is not None:
        shape = shape[1:]
    elif facts.get("declared_input"):
        shape = parse_shape(facts["declared_input"])
    if shape:
        facts["input_features"] = fmt(shape)
        facts["input_rank"] = len(shape)
        if shape[0] is not None:
            facts["input_dim1"] = shape[0]


def _fed_facts(facts: dict[str, Any], fed: FedData | None, received: Shape | None, rel: set[str]) -> None:
    """Facts from what the client saw fed to fit/evaluate/predict: fed_x, fed_y, and how they relate."""
    if fed is None:
        return
    facts["has_fed"] = True
    if fed.x is not None:
        facts["fed_x"] = fmt(fed.x)
        facts["fed_x_rank"] = len(fed.x)
        if fed.from_dataset:
            facts["fed_dataset"] = True
            # A batched tf.data pipeline has an unknown (None) first axis in its element spec.
            if fed.x and fed.x[0] is not None:
                rel.add("fed_dataset_unbatched")
        if received is not None and len(fed.x) == len(received) and tuple(fed.x[1:]) == tuple(received[1:]):
            rel.add("received_is_fed_data")  # the data reached the failing layer unchanged
    if fed.x_dtype:
        facts["fed_x_dtype"] = fed.x_dtype
    if fed.y is not None:
        facts["fed_y"] = fmt(fed.y)
        facts["fed_y_rank"] = len(fed.y)
        if fed.y and fed.y[-1] is not None:
            facts["fed_y_last"] = fed.y[-1]
