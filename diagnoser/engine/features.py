"""The evidence of one traceback as named features, computed once for every family alike.

A family says what the library checked and with which operands; these producers add what separates the causes
that share a message: how the shapes relate (a missing trailing unit axis, a missing batch axis, channels moved,
the element count kept, one size a multiple of the other, an output rank above the target's), when it was raised,
what kind of layer and what came before it (the summary), what the script declares and does (its source), and what
was really fed (the client's shapes). Each producer is one named function with one job. Every feature carries
where it came from and a sentence, so the features that weigh most for an answer are its evidence.

Names are stable strings ("phase=build", "rel:missing_trailing_unit"); the weights file keys on them. Pairs of a
"what" feature (the check, the family) with a context feature are added by `crossed`, so a weight can say "a rank
check while building" without a hand-written rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from diagnoser.engine.families import Recognition, TypedFacts
from diagnoser.engine.fed import FedData
from diagnoser.engine.parse import ParsedTraceback
from diagnoser.engine.phase import detect_phase
from diagnoser.engine.shapes import Shape, fmt
from diagnoser.engine.summary import ModelSummary

SOURCES = ("message", "frame", "summary", "code", "fed")


@dataclass(slots=True)
class Feature:  # a value never changed once made; not frozen, which costs 3x to make
    name: str
    source: str  # one of SOURCES: where a user can see this for themselves
    text: str  # the evidence, in words
    scored: bool = True  # False: a fact for the fixes and the crosses, weighed only in its pairs


@dataclass
class Context(TypedFacts):
    """Everything known about one traceback besides the families' readings."""

    tb: ParsedTraceback
    summary: ModelSummary | None = None
    source: Any = None  # engine.source.SourceFacts
    fed: FedData | None = None
    phase: str = "unknown"
    facts: dict[str, Any] = field(default_factory=dict)  # the recognitions' facts merged, the first reading wins


class Collector:
    """Features of one traceback, with their evidence texts; the first text given for a name is kept."""

    def __init__(self) -> None:
        self.items: dict[str, Feature] = {}

    def add(self, name: str, source: str, text: str) -> None:
        if name not in self.items:
            self.items[name] = Feature(name, source, text)


# ------------------------------------------------------------------------------------------------------------
# Layer kinds, from a layer's name ("conv2d_3"), a class ("Conv2D", "Linear") or an op ("MatMul")

_KINDS: list[tuple[str, str]] = [
    ("model", r"^(?:sequential|functional|model|net)(?:_\d+)?$"),
    ("input", r"^input(?:_?layer)?(?:_\d+)?$|inputlayer"),
    ("embedding", r"embed"),
    ("bidirectional", r"bidirectional"),
    ("time_distributed", r"time_?distributed"),
    ("rnn", r"lstm|gru|simple_?rnn|^rnn|rnn$|convlstm"),
    ("globalpool", r"global\w*pool"),
    ("pool", r"pool"),
    ("conv", r"conv"),
    ("dense", r"dense|linear|matmul|^fc\d*$|^mlp|^head|^out(?:put)?$|^classifier"),
    ("flatten", r"flatten"),
    ("reshape", r"reshape|permute|view"),
    ("norm", r"norm"),
    ("merge", r"concat|^add(?:_\d+)?$|multiply|average|^dot|subtract"),
    ("crop", r"crop|zero_?padding"),
    ("dropout", r"dropout"),
]


_KIND_RES = [(kind, re.compile(pattern)) for kind, pattern in _KINDS]
_NUMBERED = re.compile(r"_\d+$")
_NUMBERED_MODEL = re.compile(r"^(?:sequential|functional|model)_\d+$")


@lru_cache(maxsize=4096)
def layer_kind(name: str | None) -> str | None:
    if not name:
        return None
    low = name.strip().strip("'\"`").lower()
    low = _NUMBERED.sub("", low) if not _NUMBERED_MODEL.match(low) else low
    for kind, pattern in _KIND_RES:
        if pattern.search(low):
            return kind
    return "other"


def spatial_rank(name: str | None) -> int | None:
    """1 for conv1d/pool1d, 2 for conv2d, 3 for conv3d, from a name or class."""
    m = re.search(r"(\d)d", (name or "").lower())
    return int(m.group(1)) if m else None


# ------------------------------------------------------------------------------------------------------------
# Producers


_LOSS_SCOPE = re.compile(r"(?:^|/)(?:\w*_)?loss(?:_\d+)?/|crossentropy|cross_entropy|mean_squared_error|"
                         r"mean_absolute_error|hinge|kl_divergence|poisson|huber")


def what(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """Which families read the message, what they say was checked and where."""
    for r in recognitions:
        out.add(f"family={r.family.id}", "message", f"the message is {r.family.title.lower()}")
        out.add(f"check={r.check}", "message", f"the library checked {r.check.replace('_', ' ')}")
        site = r.site
        kind = layer_kind(r.text("layer"))
        if site == "layer_input" and kind == "model":
            site = "model_input"  # the model's own input check: it ran on what was passed to the model
        out.add(f"site={site}", "message", f"the check ran at the {site.replace('_', ' ')}")
    node = next((r.text("node") for r in recognitions if r.text("node")), None)
    if node:
        # TensorFlow names a node by its name scopes: Keras puts a loss's ops under the loss's scope and a layer's
        # under the layer's, in every version (loss/dense_2_loss/sub, compile_loss/sparse_categorical_crossentropy/,
        # sequential/dense/MatMul)
        lowered = node.lower()
        if _LOSS_SCOPE.search(lowered):
            out.add("node:in_loss", "message", f"the op that failed, {node}, belongs to the loss")
        elif "/" in lowered:
            out.add("node:in_layer", "message", f"the op that failed, {node}, belongs to a layer")
    out.add(f"framework={ctx.tb.framework}", "frame", f"raised by {ctx.tb.framework}")
    short = (ctx.tb.core_type or ctx.tb.exception_type or "").rsplit(".", 1)[-1]
    if short and short.isidentifier():
        out.add(f"exception={short}", "message", f"raised as {short}")


_PHASE_TEXT = {
    "build": "raised while the model was being built, before any data",
    "fit": "raised while fit fed real data",
    "validation": "raised while fit evaluated the validation data",
    "evaluate": "raised while evaluate fed data",
    "predict": "raised while predict fed data",
    "map": "raised inside a tf.data map function",
    "collate": "raised while the DataLoader assembled a batch",
    "getitem": "raised in the dataset's __getitem__",
    "loader": "raised in a DataLoader worker",
    "forward": "raised in a forward pass",
    "loss": "raised in the loss",
    "backward": "raised in the backward pass",
    "unknown": "the frames do not show when it was raised",
}


def phase(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    if not ctx.tb.frames and not ctx.tb.nested_frames:
        # no frames at all (a pasted error line) is another fact than frames that show no known phase (a plain
        # function under torch.compile, a script's own helper): weighed as one, the error line alone would lend
        # its label mix to every traceback whose frames are unusual
        out.add("phase=unseen", "frame", "no frames show when it was raised")
        out.add("bare", "message", "only the error line is known (no frames)")
        return
    out.add(f"phase={ctx.phase}", "frame", _PHASE_TEXT.get(ctx.phase, ctx.phase))


def _batch_state(shape: Shape) -> str:
    if not shape:
        return "unknown"
    if all(d is None for d in shape):
        return "unknown"
    return "symbolic" if shape[0] is None else "concrete"


def ranks(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """How many axes arrived against how many the check wanted."""
    received = ctx.shape("received")
    expected = (ctx.shape("expected") or ctx.shape("declared"))
    want = ctx.int("expected_rank")
    got = ctx.int("found_rank")
    if got is None and received is not None:
        got = len(received)
    if want is None and expected is not None:
        want = len(expected)
    if want is not None and got is not None:
        delta = got - want
        label = f"{delta:+d}" if abs(delta) < 2 else ("<=-2" if delta < 0 else ">=+2")
        out.add(f"rank_delta={label}", "message", f"{got} axes arrived where {want} were wanted")
        out.add(f"found_rank={min(got, 5)}", "message", f"{got} axes arrived")
    if received is not None:
        state = _batch_state(received)
        texts = {
            "symbolic": f"the batch axis of {fmt(received)} is None: a symbolic tensor (the model's "
            "declared input or a layer's output)",
            "concrete": f"the batch axis of {fmt(received)} is a real batch size: data",
            "unknown": f"no axis of {fmt(received)} is known",
        }
        out.add(f"batch={state}", "message", texts[state])
        if len(received) >= 3 and received[0] is None and received[1] is None:
            out.add("rel:two_leading_none", "message", f"{fmt(received)} has two unknown leading axes: batched twice")


def _product(shape: Iterable[int | None]) -> int | None:
    values = list(shape)
    if any(d is None for d in values):
        return None
    return math.prod(int(d) for d in values if d is not None)


def shape_relations(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """How what arrived relates to what was wanted: the arithmetic that names a missing or extra axis."""
    received = ctx.shape("received")
    expected = (ctx.shape("expected") or ctx.shape("declared"))
    if received is not None and len(received) >= 3 and received[0] == 1 and ctx.int("found_channels") == received[1]:
        # torch (1.11+) runs a convolution on an input one axis short as one unbatched sample and prints it with
        # a leading 1: what it calls channels is the batch (or the first axis) of a tensor missing an axis
        out.add(
            "rel:conv_read_unbatched",
            "message",
            f"input{fmt(received)}: the convolution read a tensor one axis short as one unbatched sample",
        )
    if received is None or expected is None:
        _axis_value(out, ctx, received)
        return
    r, e = list(received), list(expected)
    rs, es = fmt(received), fmt(expected)
    if len(r) + 1 == len(e) and e[-1] == 1 and _fits(r, e[:-1]):
        out.add("rel:missing_trailing_unit", "message", f"{rs} is {es} without its trailing axis of 1")
    if len(r) + 1 == len(e) and _fits(r, e[1:]):
        out.add("rel:missing_batch_axis", "message", f"{rs} is one sample of {es}: the batch axis is missing")
    if (
        len(r) == len(e) + 1
        and any(d == 1 for d in r[1:])
        and _fits([d for i, d in enumerate(r) if not (i and d == 1)], e)
    ):
        out.add("rel:extra_unit_axis", "message", f"{rs} is {es} with an extra axis of 1")
    if len(r) == len(e) + 1 and _fits(r[1:], e):
        out.add("rel:extra_leading_axis", "message", f"{rs} has an extra leading axis over {es}")
    if len(r) == len(e) and len(r) >= 3:
        if sorted(map(str, r[1:])) == sorted(map(str, e[1:])) and r[1:] != e[1:]:
            out.add("rel:axes_permuted", "message", f"{rs} holds the axes of {es} in another order")
            if r[1] == e[-1] or r[-1] == e[1]:
                out.add("rel:channels_moved", "message", f"the channel axis of {es} sits elsewhere in {rs}")
            sizes = [d for d in r[1:] if d is not None]
            small = min(sizes) if sizes else None
            # Keras is channels-last: the small axis (channels, features) belongs last. The side that breaks the
            # convention is the one that is wrong.
            if small is not None and r[-1] == small and e[-1] != small:
                out.add("rel:received_follows_channels_last", "message",
                        f"{rs} has its smallest axis last, as Keras wants; the declared {es} does not")
            elif small is not None and e[-1] == small and r[-1] != small:
                out.add("rel:expected_follows_channels_last", "message",
                        f"the declared {es} has its smallest axis last, as Keras wants; {rs} does not")
        differing = [i for i, (a, b) in enumerate(zip(r, e, strict=True)) if a is not None and b is not None and a != b]
        if differing and all(0 < i < len(r) - 1 for i in differing):
            out.add("rel:spatial_differs", "message", f"{rs} and {es} differ in height/width, not in channels")
    if len(r) == len(e) and r and r[-1] is not None and e[-1] is not None and r[-1] != e[-1] and _fits(r[:-1], e[:-1]):
        out.add("rel:last_dim_differs", "message", f"{rs} differs from {es} in its last axis only")
    pr, pe = _product(r[1:]), _product(e[1:])
    if pr is not None and pe is not None and pr == pe and r[1:] != e[1:]:
        out.add("rel:elements_kept", "message", f"{rs} holds as many values per sample as {es}: a reshape away")
    _axis_value(out, ctx, received)


def _fits(a: list[int | None], b: list[int | None]) -> bool:
    return len(a) == len(b) and all(x is None or y is None or x == y for x, y in zip(a, b, strict=True))


def _axis_value(out: Collector, ctx: Context, received: Shape | None) -> None:
    """One axis checked (Keras' "expected axis -1 ... to have value 784"): how the size found relates."""
    want = ctx.int("expected_dim")
    got = ctx.int("found_dim")
    axis = ctx.int("axis")
    if got is None and received is not None and axis is not None and -len(received) <= axis < len(received):
        got = received[axis]
    if want is None or got is None:
        return
    if got == 1 and want > 1:
        out.add("dim:found_one", "message", f"the axis holds 1 where {want} were wanted")
    if want == 1 and got > 1:
        out.add("dim:wanted_one", "message", f"the axis holds {got} where 1 was wanted")
    if received is not None and len(received) >= 3:
        rest = _product(received[1:])
        if rest == want:
            out.add(
                "dim:flattened_fits", "message", f"the {want} values wanted are the sample {fmt(received)} flattened"
            )
        if received[1] == want and axis in (-1, len(received) - 1):
            out.add("dim:channels_first", "message", f"{fmt(received)} has {want} on axis 1: channels first")
        inner = [d for d in received[1:] if d is not None]
        if (
            axis in (-1, len(received) - 1)
            and inner
            and received[-1] == min(inner)
            and want in received[1:-1]
        ):
            out.add(
                "dim:wanted_size_is_spatial",
                "message",
                f"{fmt(received)} is channels-last; the {want} wanted on its last axis is one of its other axes",
            )
    if want and got and max(want, got) % min(want, got) == 0 and want != got:
        out.add("dim:integer_ratio", "message", f"{got} and {want} differ by a whole factor")


def loss_relations(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """Labels against the model's output: which side has the extra axis or the other width."""
    target = ctx.shape("target")
    output = ctx.shape("output")
    if target is not None and output is not None:
        ts, os_ = fmt(target), fmt(output)
        if len(target) == 0:
            out.add("loss:target_rank0", "message", f"the target {ts} is a scalar per sample")
        if len(output) > len(target):
            out.add("loss:output_rank_above_target", "message", f"the output {os_} has more axes than the target {ts}")
            if len(output) >= len(target) + 2 or (len(output) >= 3 and len(target) <= 2):
                out.add(
                    "loss:output_keeps_axis",
                    "message",
                    f"the output {os_} keeps a sequence or spatial axis the target {ts} lacks",
                )
        if len(target) > len(output):
            out.add("loss:target_rank_above_output", "message", f"the target {ts} has more axes than the output {os_}")
        if len(target) == len(output) and target and output and target[-1] != output[-1]:
            out.add("loss:width_differs", "message", f"target width {target[-1]} against {output[-1]} outputs")
            if target[-1] == 1:
                out.add("loss:target_width_one", "message", f"the target {ts} holds one value per sample")
            elif output[-1] == 1:
                out.add("loss:output_width_one", "message", f"the output {os_} has one unit")
            elif target[-1] is not None and output[-1] is not None:
                out.add(
                    "loss:target_onehot_other_width",
                    "message",
                    f"the target looks one-hot with {target[-1]} classes against {output[-1]} outputs",
                )
        if len(target) + 1 == len(output) and output[-1] not in (None, 1) and _fits(list(target), list(output[:-1])):
            out.add("loss:target_is_class_ids", "message", f"the target {ts} holds class ids for the output {os_}")
        if len(target) == len(output) + 1 and target[-1] == 1:
            out.add("loss:target_extra_unit_axis", "message", f"the target {ts} has an extra axis of 1")
        if target and output and target[0] is not None and output[0] is not None and target[0] != output[0]:
            out.add("loss:batch_differs", "message", f"{target[0]} targets against {output[0]} outputs")
            # sparse losses flatten logits to (-1, classes) and labels to (-1,): a whole number of rows per label
            # means one side kept an axis the other lacks, folded into the rows
            low, high = sorted((target[0], output[0]))
            if low > 0 and high % low == 0:
                if output[0] > target[0]:
                    out.add(
                        "loss:output_rows_per_label",
                        "message",
                        f"{high // low} output rows per label ({output[0]} against {target[0]}): the output keeps an "
                        "axis the labels lack, folded into the rows",
                    )
                else:
                    out.add(
                        "loss:labels_per_output_row",
                        "message",
                        f"{high // low} labels per output row ({target[0]} against {output[0]}): the labels hold an "
                        "axis the output lacks, folded into the rows",
                    )
    label, classes = (
        ctx.int("label_value"),
        ctx.int("num_classes"),
    )
    if label is not None and classes is not None:
        if label >= classes:
            out.add("label:above_range", "message", f"a label {label} where only {classes} classes exist")
        if label < 0:
            out.add("label:negative", "message", f"a negative label {label}")
        if classes <= 2:
            out.add("label:range_tiny", "message", f"the output has {classes} unit(s) for class labels")


def operand_relations(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """Two operands of one op (a matmul's matrices, two broadcast shapes, concatenated tensors)."""
    left = ctx.shape("left")
    right = ctx.shape("right")
    if left is None or right is None or not left or not right:
        return
    ls, rs = fmt(left), fmt(right)
    if len(left) == 2 and len(right) == 2 and left[1] is not None and right[0] is not None:
        inner_l, inner_r = left[1], right[0]
        if inner_l != inner_r:
            if inner_r and inner_l and inner_r > inner_l and inner_r % inner_l == 0:
                out.add(
                    "mat:inner_wants_multiple",
                    "message",
                    f"the weights take {inner_r} features, a multiple of the {inner_l} given: an axis was "
                    "not flattened into the features",
                )
            elif inner_r and inner_l and inner_l > inner_r and inner_l % inner_r == 0:
                out.add(
                    "mat:inner_gives_multiple",
                    "message",
                    f"{inner_l} features arrive, a multiple of the {inner_r} the weights take",
                )
            else:
                out.add("mat:inner_differs", "message", f"{inner_l} features arrive where {inner_r} are taken")
    if len(left) != len(right):
        out.add("op:ranks_differ", "message", f"{ls} and {rs} have different ranks")
    elif left[-1] != right[-1] and left[:-1] == right[:-1]:
        out.add("op:last_differs", "message", f"{ls} and {rs} differ in the last axis only")
    elif left[0] != right[0] and left[1:] == right[1:]:
        out.add("op:first_differs", "message", f"{ls} and {rs} differ in the first axis only")


def _merge_gaps(ctx: Context) -> list[tuple[int, int]]:
    """The sizes two joined tensors disagree on, besides the join axis: the differing axes of two shapes of one
    rank but the last (Keras joins on it), or the one size pair torch's cat prints."""
    left, right = ctx.shape("left"), ctx.shape("right")
    if left is not None and right is not None and len(left) == len(right) >= 3:
        return [(a, b) for a, b in zip(left[1:-1], right[1:-1], strict=True)
                if a is not None and b is not None and a != b]
    a, b = ctx.int("expected_dim"), ctx.int("found_dim")
    if a is None or b is None:
        a, b = ctx.int("size_a"), ctx.int("size_b")
    return [(a, b)] if a is not None and b is not None and a != b else []


def merge_gaps(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """How far apart two joined feature maps are, which says what made them differ: one apart is an odd size
    halved and doubled back (the input size does not divide by the downsampling); a small even gap is what
    unpadded convolutions crop (2 per 3x3 kernel); a whole factor is branches downsampled a different number of
    times (or joined at the wrong level)."""
    if not recognitions or recognitions[0].check != "concat":
        return
    gaps = _merge_gaps(ctx)
    if not gaps or any(min(a, b) <= 0 for a, b in gaps):
        return
    shown = ", ".join(f"{a} vs {b}" for a, b in gaps)
    if all(abs(a - b) == 1 for a, b in gaps):
        out.add("merge:sizes_one_apart", "message",
                f"the joined maps are one apart ({shown}): an odd size halved and doubled back")
    elif all(max(a, b) % min(a, b) == 0 for a, b in gaps):
        out.add("merge:sizes_whole_factor", "message",
                f"the joined maps are a whole factor apart ({shown}): downsampled a different number of times")
    elif all(abs(a - b) % 2 == 0 and abs(a - b) <= 12 for a, b in gaps):
        out.add("merge:sizes_small_even_gap", "message",
                f"the joined maps are a few even steps apart ({shown}): what unpadded convolutions crop")


def counts(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """Two counts that disagree (samples of x and y, inputs given and taken, elements of a reshape)."""
    a = ctx.int("count_a")
    b = ctx.int("count_b")
    if a is not None and b is not None and a != b and min(a, b) > 0 and max(a, b) % min(a, b) == 0:
        out.add("count:integer_ratio", "message", f"{a} and {b} differ by a whole factor")
        # which side is the multiple says how: axes merged into the first's rows (a view, per-step outputs), or
        # several values per sample flattened into the second (one-hot or per-step targets)
        if a > b:
            out.add("count:first_is_multiple", "message", f"{a} is {a // b} times {b}")
        else:
            out.add("count:second_is_multiple", "message", f"{b} is {b // a} times {a}")
        if min(a, b) == 1:  # one row: a layer axis (an RNN's hidden state) or a lone sample where a batch was due
            out.add("count:one_against_many", "message", f"one against {max(a, b)}")
    _index_against_range(out, ctx.int("index"), ctx.int("range_end"))
    elements_in = ctx.int("elements_in")
    elements_out = ctx.int("elements_out")
    asked = ctx.shape("expected")
    if elements_in and not elements_out and asked and all(d != 0 for d in asked):
        # NumPy prints the array's size and the shape asked for: the size asked is the shape's product, and with
        # a -1 (read as None) the other axes must divide the array
        others = math.prod(d for d in asked if d is not None)
        if None not in asked:
            elements_out = others
        elif others > 0 and elements_in % others:
            out.add("reshape:other_axes_do_not_divide", "message",
                    f"{elements_in} values do not divide into rows of {others} ({fmt(asked)} without its -1)")
    if elements_in and elements_out and elements_in != elements_out:
        if max(elements_in, elements_out) % min(elements_in, elements_out) == 0:
            out.add(
                "reshape:integer_ratio",
                "message",
                f"{elements_in} values against {elements_out}: a whole factor apart (a hard-coded batch size "
                "or a missing axis)",
            )
            if elements_in > elements_out:
                factor = elements_in // elements_out
                out.add("reshape:array_holds_more", "message",
                        f"the array holds {factor} times the {elements_out} values the shape asks for")
                if factor in (3, 4) and asked and asked[-1] == 1:
                    out.add("reshape:colour_into_one_channel", "message",
                            f"{factor} times the values of a one-channel shape: {factor}-channel images reshaped "
                            "as one channel")
            else:
                out.add("reshape:array_holds_fewer", "message",
                        f"the array holds fewer values ({elements_in}) than the shape asks for ({elements_out}): "
                        "a fixed size that a smaller array (a last batch, a shorter split) does not fill")
        else:
            out.add("reshape:no_ratio", "message", f"{elements_in} values cannot fill {elements_out}")


def _index_against_range(out: Collector, index: int | None, end: int | None) -> None:
    """Where a bad index fell: one past the end is a size counted without its +1 (ids from 1, 0 kept for
    padding, `input_dim=len(vocab)`); far beyond is ids from another, larger vocabulary or label set; below zero
    is a padding or missing-value marker."""
    if index is None or end is None or end <= 0:
        return
    if index < 0:
        out.add("index:negative", "message", f"index {index} is negative: a padding or missing-value marker")
    elif index == end:
        out.add("index:one_past_the_end", "message",
                f"index {index} is exactly the size {end}: the largest id is one past the table (ids counted "
                "from 1, or a size without its +1)")
    elif index >= 2 * end:
        out.add("index:far_beyond", "message",
                f"index {index} is over twice the size {end}: the ids come from a larger vocabulary or label set")
    elif index > end:
        out.add("index:beyond", "message", f"index {index} is past the size {end}")


def looks(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """What the tensor that arrived looks like, when only its rank is known to be wrong."""
    received = ctx.shape("received")
    if not received or len(received) < 2 or any(d is None for d in received[1:]):
        return
    rs = fmt(received)
    last = received[-1]
    if (
        len(received) == 3
        and received[0] is not None
        and last in (1, 3, 4)
        and received[1] is not None
        and received[1] > 4
    ):
        out.add("looks:one_image", "message", f"{rs} looks like one image (height, width, channels)")
    if len(received) == 3 and last is not None and last > 4 and received[1] is not None and received[1] > 4:
        out.add("looks:images_without_channel", "message", f"{rs} looks like a batch of images without channels")
        if received[1] == last:  # a layer's (steps, features) output is rarely square; images often are
            out.add("looks:square_images_without_channel", "message",
                    f"{rs} ends in two equal axes, as square images without a channel axis do")
    if len(received) == 4 and received[1] in (1, 3, 4) and last is not None and last > 4:
        out.add("looks:channels_first", "message", f"{rs} looks like images with channels first")
    if len(received) == 2:
        out.add("looks:flat", "message", f"{rs} is a batch of flat vectors")


def layer_facts(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """The layer (or op) whose check failed, and its place in the model when the summary shows it."""
    name = ctx.text("layer") or ctx.tb.wrapper_layer
    op = ctx.text("op")
    kind = layer_kind(name) or layer_kind(op)
    if kind and kind != "other":  # a name no kind pattern knows (a user's own layer name) says nothing of the cause
        out.add(f"layer_kind={kind}", "message", f"the check is a {kind} layer's")
        dims = spatial_rank(name or op)
        if dims and kind in ("conv", "pool", "globalpool"):
            out.add(f"layer_dims={dims}", "message", f"a {dims}-D {kind} layer")
    summary = ctx.summary
    if summary is None:
        return
    body = [x for x in summary.layers if x.kind != "input"]
    target = summary.find(name)
    if target is None and kind is not None and body:
        same = [x for x in body if layer_kind(x.name) == kind]
        target = same[0] if len(same) == 1 else None
    right = ctx.shape("right")
    if target is None and right is not None and len(right) == 2 and body:
        # torch prints a matmul's weight as (in_features, out_features): print(model) names the one Linear of
        # that size, and so the failing layer's place in the model
        sized = [
            x for x in body
            if x.args.get("in_features") == str(right[0]) and x.args.get("out_features") == str(right[1])
        ]
        target = sized[0] if len(sized) == 1 else None
    if target is None and body:
        # print(model) names a torch module by its attribute, as the forward that failed calls it
        called = [x for x in (summary.find(a) for a in _called_attributes(ctx)) if x is not None]
        wanted = _CHECK_SUMMARY_KINDS.get(recognitions[0].check if recognitions else "")
        if len(called) > 1 and wanted:
            called = [x for x in called if layer_kind(x.type) == wanted]
        target = called[0] if len(called) == 1 else None
    if target is not None and body:
        if body[0] is target:
            out.add("summary:layer_is_first", "summary", f"{target.name} is the model's first layer")
        previous = summary.previous(target.name)
        if previous is not None and previous.kind != "input":
            prev_kind = layer_kind(previous.type) or "other"
            out.add(
                f"summary:prev_kind={prev_kind}",
                "summary",
                f"{target.name} follows {previous.name} ({previous.type}), output {fmt(previous.output_shape)}",
            )
            _rank_against(out, ctx, previous.output_shape, f"{previous.name} ({previous.type})", "summary")
    if body:
        first_kind = layer_kind(body[0].type) or "other"
        out.add(f"summary:first_kind={first_kind}", "summary", f"the model starts with {body[0].type}")


def _wanted_rank(ctx: Context) -> int | None:
    want = ctx.int("expected_rank")
    if want is None:
        expected = ctx.shape("expected")
        want = len(expected) if expected is not None else None
    return want


def _rank_against(out: Collector, ctx: Context, given: Shape | int | None, what: str, source: str) -> None:
    """The layer before the failing one (from the summary or the script) against the rank the check wanted."""
    want = _wanted_rank(ctx)
    rank = given if isinstance(given, int) else (len(given) if given is not None else None)
    if want is None or rank is None:
        return
    spec = ctx.text("spec") or "ndim"
    fits = rank >= want if spec == "min_ndim" else rank <= want if spec == "max_ndim" else rank == want
    prefix = "summary" if source == "summary" else "src"
    if fits:
        out.add(f"{prefix}:prev_gives_wanted_rank", source, f"{what} gives {rank}-D tensors, as the layer wants")
    else:
        out.add(
            f"{prefix}:prev_gives_other_rank",
            source,
            f"{what} gives {rank}-D tensors where the layer wants {want}-D: the two layers do not fit",
        )


_TORCH_RNNS = frozenset({"LSTM", "GRU", "RNN"})  # as print(model) names them


def summary_facts(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """The model as summary() printed it against what the message says arrived."""
    summary = ctx.summary
    if summary is None:
        return
    out.add("has_summary", "summary", "the model summary is known")
    received = ctx.shape("received")
    declared = summary.input_shape
    if declared is not None and received is not None:
        if len(declared) == len(received) and _fits(list(declared[1:]), list(received[1:])):
            out.add(
                "summary:received_is_declared_input",
                "summary",
                f"what arrived, {fmt(received)}, is the model's declared input {fmt(declared)}",
            )
        elif len(declared) != len(received):
            out.add(
                "summary:received_rank_differs_from_input",
                "summary",
                f"the model declares {fmt(declared)} but {fmt(received)} arrived",
            )
    if summary.framework == "torch":
        _printed_module_sizes(out, recognitions, ctx, summary)
    rnns = [x for x in summary.layers if x.type in _TORCH_RNNS] if summary.framework == "torch" else []
    if rnns and any(x.args.get("batch_first") != "True" for x in rnns):
        out.add(
            "summary:rnn_not_batch_first",
            "summary",
            f"{rnns[0].name} ({rnns[0].type}) has no batch_first=True: it reads (steps, batch, features)",
        )
    output = summary.output_layer
    target = ctx.shape("target")
    if output is not None and output.output_shape and target is not None and target:
        units = output.output_shape[-1]
        if units is not None and target[-1] is not None and len(target) >= 2 and target[-1] not in (1, units):
            out.add(
                "summary:units_differ_from_target_width",
                "summary",
                f"the output layer has {units} units, the labels {target[-1]} columns",
            )
        if output.output_shape and len(output.output_shape) >= 3:
            out.add(
                "summary:output_keeps_axis",
                "summary",
                f"the last layer outputs {fmt(output.output_shape)}: it keeps a sequence or spatial axis",
            )


def source_facts(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """What the script declares and does (engine.source), against what the message says."""
    src = ctx.source
    if src is None:
        return
    out.add("has_source", "code", "the training script is known")
    received = ctx.shape("received")
    declared = [d for d in getattr(src, "declared_inputs", ()) if getattr(d, "shape", None) is not None]
    if declared and received is not None:
        shape = tuple(declared[0].shape)
        if _fits(list(shape), list(received[1:])):
            out.add(
                "src:received_is_declared_input",
                "code",
                f"what arrived, {fmt(received)}, is the script's declared input {fmt(shape)}",
            )
        elif len(shape) + 1 != len(received):
            out.add(
                "src:declared_rank_differs", "code", f"the script declares {fmt(shape)} but {fmt(received)} arrived"
            )
    elif not declared and tuple(getattr(src, "layers", ())):
        out.add("src:no_declared_input", "code", "the script declares no input shape")
    if declared:
        shape = tuple(declared[0].shape)
        keras = any(getattr(layer, "framework", "keras") == "keras" for layer in getattr(src, "layers", ()))
        if keras and len(shape) == 3 and shape[0] in (1, 3, 4) and all(d is not None and d > 4 for d in shape[1:]):
            out.add(
                "src:declared_channels_first",
                "code",
                f"the script declares {fmt(shape)}: channels first, where Keras takes channels last",
            )
        sizes = {getattr(f, "batch_size", None) for f in getattr(src, "fit_calls", ())} - {None}
        if shape and shape[0] in sizes and len(shape) >= 2:
            out.add(
                "src:declared_starts_with_batch",
                "code",
                f"the declared input {fmt(shape)} begins with the batch size {shape[0]} given to fit",
            )
    arrays = {getattr(a, "var", "") for a in getattr(src, "arrays", ())}
    shapes_by_var = {getattr(a, "var", ""): tuple(getattr(a, "shape", ()) or ()) for a in getattr(src, "arrays", ())}
    if declared:
        wanted = tuple(declared[0].shape)
        for call in getattr(src, "fit_calls", ()):
            given = shapes_by_var.get(getattr(call, "x", None) or "")
            if not given:
                continue
            if _fits(list(wanted), list(given[1:])):
                out.add(
                    "src:fit_x_is_declared",
                    "code",
                    f"{call.x} {fmt(given)} holds samples of the declared input {fmt(wanted)}",
                )
            else:
                out.add(
                    "src:fit_x_not_declared",
                    "code",
                    f"{call.x} {fmt(given)} does not hold samples of the declared input {fmt(wanted)}",
                )
            break
    for call in getattr(src, "fit_calls", ()):
        validation = (getattr(call, "validation_data", None) or "").strip()
        if validation and validation in arrays:
            out.add(
                "src:validation_data_one_array",
                "code",
                f"validation_data={validation} is one array, without its labels",
            )
    if received is not None and len(received) >= 2:
        for array in getattr(src, "arrays", ()):
            shape = tuple(getattr(array, "shape", ()) or ())
            if len(shape) == len(received) and shape[1:] == tuple(received[1:]):
                out.add(
                    "src:received_is_script_array",
                    "code",
                    f"the script makes {array.var} as {fmt(shape)}: that is what reached the layer",
                )
                break
    for loss in getattr(src, "losses", ()):
        out.add(f"src:loss={loss}", "code", f"the script uses the {loss} loss")
    datasets = getattr(src, "datasets", ())
    for ds in datasets:
        ops = tuple(getattr(ds, "ops", ()))
        origin = getattr(ds, "origin", "other")
        if origin in ("from_tensor_slices", "from_generator", "tfds"):
            if "batch" not in ops and "padded_batch" not in ops:
                out.add("src:dataset_not_batched", "code", f"the dataset {ds.var} is never batched")
            elif ops.count("batch") + ops.count("padded_batch") >= 2:
                out.add("src:dataset_batched_twice", "code", f"the dataset {ds.var} is batched twice")
            if "map" in ops:
                out.add("src:dataset_map", "code", f"the dataset {ds.var} is mapped")
        if origin == "DataLoader":
            out.add("src:dataloader", "code", "the script feeds a PyTorch DataLoader")
            if "batch" not in ops:
                out.add("src:dataset_not_batched", "code", f"the DataLoader {ds.var} is built with batch_size=None")
            if getattr(ds, "drop_last", None) is not True:
                out.add("src:dataloader_keeps_last", "code", "the DataLoader keeps a last, smaller batch")
            if getattr(ds, "collate_fn", False):
                out.add("src:collate_fn", "code", "the DataLoader has its own collate_fn")
    model_ops = [op for op in getattr(src, "data_ops", ()) if getattr(op, "scope", None) in _MODEL_SCOPES]
    for op in getattr(src, "data_ops", ()):
        name = getattr(op, "op", "")
        if getattr(op, "scope", None) in _MODEL_SCOPES:
            continue  # the model's own reshaping of what flows through it, not what the script did to its data
        if name in (
            "reshape",
            "view",
            "expand_dims",
            "newaxis",
            "stack",
            "squeeze",
            "unsqueeze",
            "permute",
            "transpose",
            "resize",
            "to_categorical",
            "astype_float64",
            "double",
        ):
            out.add(f"src:data_{name}", "code", f"the script applies {name} to its data")
    layers = list(getattr(src, "layers", ()))
    kinds = [getattr(x, "kind", "other") for x in layers]
    _source_position(out, recognitions, ctx, layers)
    rnns = [x for x in layers if getattr(x, "kind", "") in ("lstm", "gru", "simple_rnn", "rnn")]
    torch_rnns = [x for x in rnns if getattr(x, "framework", "") == "torch"]
    if torch_rnns and any((getattr(x, "args", {}) or {}).get("batch_first") is not True for x in torch_rnns):
        out.add(
            "src:rnn_not_batch_first",
            "code",
            f"{torch_rnns[0].cls} without batch_first=True reads its input as (steps, batch, features)",
        )
    _counts_against_arrays(out, ctx, src)
    if rnns:
        last = rnns[-1]
        if (getattr(last, "args", {}) or {}).get("return_sequences") is True:
            out.add("src:last_rnn_returns_sequences", "code", "the last recurrent layer returns sequences")
        if len(rnns) >= 2 and not (getattr(rnns[0], "args", {}) or {}).get("return_sequences"):
            out.add(
                "src:stacked_rnn_without_sequences",
                "code",
                "a recurrent layer that feeds another does not return sequences",
            )
    if "dense" in kinds or "linear" in kinds:
        first_dense = kinds.index("dense") if "dense" in kinds else kinds.index("linear")
        before = kinds[:first_dense]
        if (
            any(k.startswith("conv") or k.startswith("pool") for k in before)
            and "flatten" not in before
            and not any(k.startswith("global_pool") for k in before)
            and not any(_flattens(op) for op in model_ops)
        ):
            out.add(
                "src:dense_after_conv_without_flatten",
                "code",
                "a dense layer follows convolutions with no Flatten or global pooling between",
            )
    dense_only = all(k in ("dense", "linear") or k in _PASSES for k in kinds)
    if kinds and dense_only and ("dense" in kinds or "linear" in kinds):
        by_var = {getattr(a, "var", ""): tuple(getattr(a, "shape", ()) or ()) for a in getattr(src, "arrays", ())}
        for call in getattr(src, "fit_calls", ()):
            fed = by_var.get(getattr(call, "x", None) or "")
            if fed is not None and len(fed) >= 3:
                out.add(
                    "src:dense_only_model_on_multiaxis_data",
                    "code",
                    f"a model of dense layers only is fed {call.x} of shape {fmt(fed)}: samples with several axes",
                )
                break
    classes = set(getattr(src, "num_classes", ()))
    units = [x for x in layers if getattr(x, "kind", "") in ("dense", "linear")]
    if classes and units:
        out_units = (units[-1].args or {}).get("units") or (units[-1].args or {}).get("out_features")
        if isinstance(out_units, int) and out_units not in classes:
            out.add(
                "src:output_units_differ_from_classes",
                "code",
                f"the output layer has {out_units} units; the script has {sorted(classes)} classes",
            )


# The rank of what a layer kind gives and takes (Keras and torch alike); None when it depends on the input.
_GIVES = {
    "dense": None, "linear": None, "flatten": 2, "global_pool1d": 2, "global_pool2d": 2, "global_pool3d": 2,
    "conv1d": 3, "pool1d": 3, "embedding": 3, "conv2d": 4, "pool2d": 4, "conv3d": 5, "pool3d": 5,
}
_TAKES = {"conv1d": 3, "pool1d": 3, "lstm": 3, "gru": 3, "simple_rnn": 3, "rnn": 3, "conv2d": 4, "pool2d": 4,
          "conv3d": 5, "pool3d": 5, "global_pool1d": 3, "global_pool2d": 4}
_PASSES = {"dropout", "batchnorm", "layernorm", "activation", "other"}
# the functions a model's own computation runs in: a torch module's forward, a Keras layer's or model's call
_MODEL_SCOPES = frozenset({"forward", "call", "__call__"})


def _counts_against_arrays(out: Collector, ctx: Context, src: Any) -> None:
    """Two sample counts that disagree (the model's output rows against the targets', x against y): when one of
    them is an axis of a script array other than its first, that axis was read as the batch."""
    counts = {c for c in (ctx.int("count_a"), ctx.int("count_b")) if c is not None}
    if len(counts) != 2:
        return
    for array in getattr(src, "arrays", ()):
        shape = tuple(getattr(array, "shape", ()) or ())
        for axis, size in enumerate(shape[1:], 1):
            if size in counts and size != shape[0]:
                out.add(
                    "src:count_is_data_axis",
                    "code",
                    f"{size} is axis {axis} of {array.var} {fmt(shape)}: an axis other than the samples was read as"
                    " the batch",
                )
                return


def _flattens(op: Any) -> bool:
    """`torch.flatten(x, 1)`, `x.flatten(1)`, `x.view(x.size(0), -1)`, `x.reshape(len(x), -1)` in a forward: the
    model flattens there, which its module list (built in __init__) does not show."""
    name = getattr(op, "op", "")
    args = tuple(getattr(op, "args", ()))
    return name == "flatten" or (name in ("view", "reshape") and len(args) == 2 and args[-1] == -1)


def _gives_rank(layer: Any) -> int | None:
    kind = getattr(layer, "kind", "other")
    if kind in ("lstm", "gru", "simple_rnn", "rnn"):
        return 3 if (getattr(layer, "args", {}) or {}).get("return_sequences") is True else 2
    return _GIVES.get(kind)


def _source_layer(name: str | None, layers: list[Any]) -> int | None:
    """Where the failing layer sits in the script: by its name= (or torch attribute), else by Keras' auto-name
    (`max_pooling2d_1` is the second MaxPooling2D), when that is unambiguous."""
    if not name or not layers:
        return None
    low = name.strip().strip("'\"`").lower()
    for i, layer in enumerate(layers):
        if (getattr(layer, "name", None) or "").lower() == low:
            return i
    base, _, number = low.rpartition("_") if re.search(r"_\d+$", low) else (low, "", "")
    same = [i for i, layer in enumerate(layers) if _auto_name(getattr(layer, "cls", "")) == base]
    if len(same) == 1:
        return same[0]
    if same and number.isdigit() and int(number) < len(same):
        return same[int(number)]
    return same[0] if same and not number else None


_SELF_CALL = re.compile(r"\bself\.(\w+)\(")
# the layer kinds (as the script's reader and as summary.layer_kind name them) a failing check belongs to
_CHECK_KINDS = {"channels": "conv", "matmul": "linear", "batchnorm": "batchnorm", "embedding": "embedding"}
# for the check several kinds of module share ("dim": a BatchNorm's features, an RNN's input size), the kind is
# the torch.nn module file that raised it
_MODULE_FILE = re.compile(r"torch/nn/modules/(batchnorm|rnn|conv|linear|sparse)\.py$")
_MODULE_FILE_KINDS = {"batchnorm": ("batchnorm",), "rnn": ("lstm", "gru", "rnn"), "conv": ("conv",),
                      "linear": ("linear",), "sparse": ("embedding",)}
_CHECK_SUMMARY_KINDS = {"channels": "conv", "matmul": "dense", "batchnorm": "norm", "embedding": "embedding"}


def _user_frames(ctx: Context) -> list[Any]:
    """The frames of the user's own code that show their line: not the libraries', not autograph's generated
    files."""
    return [
        f
        for f in ctx.tb.all_frames
        if f.code
        and "site-packages" not in f.file
        and "<venv>" not in f.file
        and not f.file.startswith("/tmp/__autograph")
    ]


def _called_attributes(ctx: Context) -> list[str]:
    """The modules the user's innermost frame calls as attributes of self, in the order written."""
    frames = _user_frames(ctx)
    return _SELF_CALL.findall(frames[-1].code or "") if frames else []


def _raising_module_kinds(ctx: Context) -> tuple[str, ...]:
    """The kinds of module whose torch.nn file raised the error (batchnorm.py: a BatchNorm; rnn.py: an LSTM, GRU
    or RNN), the last such frame; () when no torch.nn module's file is on the stack."""
    for frame in reversed(ctx.tb.frames):
        found = _MODULE_FILE.search(frame.file.replace("\\", "/"))
        if found:
            return _MODULE_FILE_KINDS[found.group(1)]
    return ()


def _called_module(ctx: Context, body: list[Any], recognitions: list[Recognition]) -> int | None:
    """A torch module names no layer in its message, but the user's innermost frame (a forward) calls it by its
    attribute: `x = torch.relu(self.bn(self.fc1(x)))`. Of the script's modules called there, the one of the kind
    the failing check (or, for a check several kinds share, the torch.nn file that raised it) belongs to, when that
    is one."""
    called = _called_attributes(ctx) if body else []
    if not called:
        return None
    by_name = {getattr(x, "name", None): i for i, x in enumerate(body) if getattr(x, "framework", "") == "torch"}
    found = [by_name[c] for c in called if c in by_name]
    if len(found) > 1:
        check = recognitions[0].check if recognitions else ""
        kinds: tuple[str, ...] = ()
        if check in _CHECK_KINDS:
            kinds = (_CHECK_KINDS[check],)
        elif check == "dim":
            kinds = _raising_module_kinds(ctx)
        if kinds:
            found = [i for i in found if str(getattr(body[i], "kind", "")).startswith(kinds)]
    return found[0] if len(set(found)) == 1 else None


def _linear_size(layer: Any) -> tuple[int, int] | None:
    """A torch Linear's (in_features, out_features) as the script writes them: by keyword or by position."""
    if getattr(layer, "cls", "") != "Linear":
        return None
    args = getattr(layer, "args", {}) or {}
    given, taken = args.get("in_features", args.get("0")), args.get("out_features", args.get("1"))
    return (given, taken) if isinstance(given, int) and isinstance(taken, int) else None


def _sized_conv(ctx: Context, body: list[Any]) -> int | None:
    """A torch convolution's message prints its weight as (out_channels, in_channels, *kernel): the script's one
    convolution of those channels is the failing layer."""
    weights = ctx.shape("weights")
    if weights is None or len(weights) < 3:
        return None
    sized = [
        i
        for i, x in enumerate(body)
        if getattr(x, "framework", "") == "torch"
        and str(getattr(x, "kind", "")).startswith("conv")
        and (getattr(x, "args", {}) or {}).get("out_channels") == weights[0]
        and (getattr(x, "args", {}) or {}).get("in_channels") == weights[1]
    ]
    return sized[0] if len(sized) == 1 else None


# What a torch module declares it takes on the axis its check reads, and what it gives on that axis: a torch
# script spells every size out (Keras infers them), so the sizes can be followed from module to module.
_TAKES_SIZE = {"conv": "in_channels", "linear": "in_features", "lstm": "input_size", "gru": "input_size",
               "rnn": "input_size", "batchnorm": "num_features"}
_GIVES_SIZE = {"conv": "out_channels", "linear": "out_features", "lstm": "hidden_size", "gru": "hidden_size",
               "rnn": "hidden_size", "embedding": "embedding_dim"}
# the modules that keep the size of the axis a convolution, a Linear or an RNN reads (a pool keeps channels)
_KEEPS_SIZE = {"dropout", "batchnorm", "layernorm", "activation", "pool1d", "pool2d", "pool3d"}
# the modules whose output size a failing module's declared input size can be held against
_FOLLOWS = {
    "conv": ("conv",),
    "linear": ("linear", "lstm", "gru", "rnn", "embedding"),
    "lstm": ("linear", "lstm", "gru", "rnn", "embedding"),
    "gru": ("linear", "lstm", "gru", "rnn", "embedding"),
    "rnn": ("linear", "lstm", "gru", "rnn", "embedding"),
    "batchnorm": ("conv", "linear"),
}


def _named(layer: Any) -> str:
    name = getattr(layer, "name", None)
    return f"{name} ({layer.cls})" if name else str(layer.cls)


def _size_kind(layer: Any) -> str:
    kind = str(getattr(layer, "kind", ""))
    return "conv" if kind.startswith("conv") else kind


def _arrived_size(ctx: Context) -> int | None:
    """The size the failing module's check found on the axis it reads: channels, an RNN's or a BatchNorm's
    features (found_dim), or the columns of a Linear's input (a matmul's left operand)."""
    found = ctx.int("found_channels")
    if found is None:
        found = ctx.int("found_dim")
    if found is None:
        left, right = ctx.shape("left"), ctx.shape("right")
        if left is not None and right is not None and len(left) == 2 and len(right) == 2:
            found = left[1]
    return found


def _module_sizes(out: Collector, ctx: Context, body: list[Any], at: int, where: str = "code") -> None:
    """Follow the size the failing torch module reads from the module before it and from the data: when the
    module before gives exactly what arrived, the data flowed as written and the failing module declares the
    wrong size; when the data holds the declared size on another axis, its axes are in the wrong order. `body` is
    the script's modules (`where` "code") or the modules print(model) listed ("summary")."""
    prefix = "src" if where == "code" else where
    layer = body[at]
    if getattr(layer, "framework", "") != "torch":
        return
    takes_arg = _TAKES_SIZE.get(_size_kind(layer))
    args = getattr(layer, "args", {}) or {}
    takes = args.get(takes_arg) if takes_arg else None
    arrived = _arrived_size(ctx)
    if not isinstance(takes, int) or arrived is None or takes == arrived:
        return
    previous, chained = None, False
    for x in reversed(body[:at]):
        kind = _size_kind(x)
        if kind in _GIVES_SIZE:
            previous = x if kind in _FOLLOWS.get(_size_kind(layer), ()) else None
            break
        if kind not in _KEEPS_SIZE:
            break  # a flatten, a reshape or a layer of unknown effect: the sizes are not comparable past it
    if previous is not None:
        gives = (getattr(previous, "args", {}) or {}).get(_GIVES_SIZE[_size_kind(previous)])
        if isinstance(gives, int) and (getattr(previous, "args", {}) or {}).get("bidirectional") is True:
            gives *= 2
        chained = gives == arrived
        if chained:
            # what the fix quotes: the module, the argument, its value and the size that arrives
            ctx.facts.update(
                module=_named(layer), module_arg=takes_arg, module_takes=takes, module_gets=arrived,
                previous_module=_named(previous),
            )
            out.add(
                f"{prefix}:arrived_is_previous_output",
                where,
                f"{_named(previous)} gives {arrived}, what {_named(layer)} received; it declares {takes_arg}={takes}",
            )
        elif isinstance(gives, int):
            out.add(
                f"{prefix}:arrived_is_not_previous_output",
                where,
                f"{_named(previous)} gives {gives} but {_named(layer)} received {arrived}: something between changed"
                " it",
            )
    data = _data_array(ctx, arrived) if ctx.source is not None and not chained else None
    if data is None:
        return
    shape = list(data.shape)
    axis = 1 if takes_arg in ("in_channels", "num_features") else len(shape) - 1
    if shape[axis] == arrived and takes in shape[1:]:
        out.add(
            "src:data_holds_declared_size_elsewhere",
            "code",
            f"{data.var} {fmt(tuple(shape))} holds {takes} on another axis: its axes are out of order",
        )
    elif shape[axis] == arrived:
        out.add(
            "src:data_lacks_declared_size",
            "code",
            f"{data.var} {fmt(tuple(shape))} has {arrived} where {layer.cls} declares {takes_arg}={takes}",
        )
    elif previous is not None and shape[axis] == takes:
        out.add(
            "src:declared_size_is_data_size",
            "code",
            f"{_named(layer)} declares {takes_arg}={takes}, the data's size, though it follows {_named(previous)}",
        )


# print(model) writes a module's sizes by position: Conv2d(5, 8, kernel_size=(3, 3)), LSTM(16, 32), Embedding(100, 8)
_PRINTED_POSITIONS = {"conv": ("in_channels", "out_channels"), "lstm": ("input_size", "hidden_size"),
                      "gru": ("input_size", "hidden_size"), "rnn": ("input_size", "hidden_size"),
                      "embedding": ("num_embeddings", "embedding_dim"), "batchnorm": ("num_features",),
                      "linear": ("in_features", "out_features")}


_TORCH_ACTIVATIONS = frozenset(
    {"relu", "relu6", "gelu", "tanh", "sigmoid", "leakyrelu", "elu", "selu", "silu", "softmax", "identity", "mish"}
)


@dataclass(slots=True)
class _PrintedModule:
    name: str
    cls: str
    kind: str
    args: dict[str, Any]
    framework: str = "torch"


def _printed_kind(type_name: str) -> str:
    low = type_name.lower()
    for prefix, kind in (("conv", "conv"), ("linear", "linear"), ("lstm", "lstm"), ("gru", "gru"), ("rnn", "rnn"),
                         ("embedding", "embedding"), ("batchnorm", "batchnorm"), ("dropout", "dropout"),
                         ("maxpool", "pool2d"), ("avgpool", "pool2d"), ("layernorm", "layernorm")):
        if low.startswith(prefix):
            return kind
    return "activation" if low in _TORCH_ACTIVATIONS else "other"


def _printed_modules(summary: Any) -> list[_PrintedModule]:
    """The modules print(model) listed, with their sizes as integers under the constructor's argument names."""
    modules = []
    for layer in summary.layers:
        kind = _printed_kind(layer.type)
        args: dict[str, Any] = {}
        names = _PRINTED_POSITIONS.get(kind, ())
        for key, value in layer.args.items():
            name = names[int(key[3:])] if key.startswith("arg") and int(key[3:]) < len(names) else key
            args[name] = int(value) if value.isdigit() else True if value == "True" else value
        modules.append(_PrintedModule(layer.name, layer.type, kind, args))
    return modules


def _printed_module_sizes(out: Collector, recognitions: list[Recognition], ctx: Context, summary: Any) -> None:
    """The failing module among those print(model) listed (by its printed weight, its Linear size or the
    attribute the forward calls), its sizes followed from the module before it."""
    modules = _printed_modules(summary)
    at = _sized_conv(ctx, modules)
    right = ctx.shape("right")
    if at is None and right is not None and len(right) == 2:
        sized = [i for i, x in enumerate(modules) if _linear_size(x) == (right[0], right[1])]
        at = sized[0] if len(sized) == 1 else None
    if at is None:
        at = _called_module(ctx, modules, recognitions)
    if at is not None:
        _module_sizes(out, ctx, modules, at, "summary")


_MERGE_CHECKS = frozenset({"broadcast", "concat"})


def merge_facts(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """What the failing merge combines, as the script wires it: the model's Input itself beside a transformed
    tensor (a skip connection from the wrong place: the layers do not combine) or two layers' outputs, one made
    as wide as it is by its own units (that layer's size is the mistake)."""
    src = ctx.source
    if src is None or not src.merges or not recognitions or recognitions[0].check not in _MERGE_CHECKS:
        return
    lines = {f.line for f in _user_frames(ctx)}
    merges = [m for m in src.merges if m.line in lines] or list(src.merges)
    if len(merges) != 1:
        return
    merge = merges[0]
    kinds = [o.made_by for o in merge.operands]
    written = f"{merge.cls}()([{', '.join(o.var for o in merge.operands)}])"
    if "input" in kinds and any(k != "input" for k in kinds):
        at = next(i for i, o in enumerate(merge.operands) if o.made_by == "input")
        raw = merge.operands[at].var
        ctx.facts.update(merge_call=written, merge_input=raw)
        shapes = (ctx.shape("left"), ctx.shape("right"))
        if len(merge.operands) == 2 and shapes[0] is not None and shapes[1] is not None:
            ctx.facts.update(merge_input_shape=fmt(shapes[at]), merge_branch_shape=fmt(shapes[1 - at]))
        out.add("src:merge_takes_model_input", "code", f"{written} combines the model's Input {raw} itself")
        return
    if all(k in ("layer", "merge") for k in kinds):
        out.add("src:merge_of_layer_outputs", "code", f"{written} combines what earlier layers made")
    left, right = ctx.shape("left"), ctx.shape("right")
    if len(merge.operands) != 2 or left is None or right is None or not left or not right:
        return
    sized = [
        f"{operand.var} ({shape[-1]} wide) from {operand.cls}({operand.units})"
        for operand, shape in zip(merge.operands, (left, right), strict=True)
        if operand.units is not None and shape[-1] == operand.units
    ]
    if sized and left[-1] != right[-1]:
        ctx.facts.update(merge_call=written, merge_widths=" and ".join(sized))
        out.add(
            "src:merge_width_is_units",
            "code",
            f"{merge.cls} gets {' and '.join(sized)}: a layer's units set the width that does not fit",
        )


def _data_array(ctx: Context, arrived: int) -> Any:
    """The script's one float array of two or more axes (the model's data), when there is one shape of them."""
    arrays = [
        a
        for a in getattr(ctx.source, "arrays", ())
        if len(a.shape) >= 2 and all(isinstance(d, int) for d in a.shape) and not str(a.dtype or "").startswith("int")
    ]
    if len({a.shape for a in arrays}) > 1:
        arrays = [a for a in arrays if arrived in a.shape[1:]]
    # `xb, yb = X, y` declares the same array again under another name
    return arrays[0] if arrays and len({a.shape for a in arrays}) == 1 else None


def _auto_name(cls: str) -> str:
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", cls).lower().replace("_d", "d")


def _source_position(out: Collector, recognitions: list[Recognition], ctx: Context, layers: list[Any]) -> None:
    """The failing layer's place in the script: first (it meets the declared input or the data) or after another
    layer whose output rank it cannot take (the layers do not fit together)."""
    name = ctx.text("layer") or ctx.tb.wrapper_layer
    body = [x for x in layers if getattr(x, "kind", "other") != "input"]
    at = _source_layer(name, body)
    right = ctx.shape("right")
    if at is None and right is not None and len(right) == 2:
        # a torch matmul prints the Linear's weight as (in_features, out_features): the script's one Linear of
        # that size is the failing layer
        sized = [i for i, x in enumerate(body) if _linear_size(x) == (right[0], right[1])]
        at = sized[0] if len(sized) == 1 else None
    if at is None:
        at = _sized_conv(ctx, body)
    if at is None:
        at = _called_module(ctx, body, recognitions)
    if at is None:
        return
    layer = body[at]
    _module_sizes(out, ctx, body, at)
    if at == 0:
        out.add("src:failing_layer_first", "code", f"{layer.cls} is the first layer in the script")
        return
    before = [x for x in body[:at] if getattr(x, "kind", "other") not in _PASSES]
    if not before:
        out.add("src:failing_layer_first", "code", f"{layer.cls} is the first layer in the script")
        return
    previous = before[-1]
    out.add("src:failing_layer_after_another", "code", f"{layer.cls} follows {previous.cls} in the script")
    gives = _gives_rank(previous)
    if gives is not None and _wanted_rank(ctx) is not None:
        _rank_against(out, ctx, gives, previous.cls, "code")
    elif gives is not None and _TAKES.get(getattr(layer, "kind", "")) is not None:
        takes = _TAKES[layer.kind]
        if gives != takes:
            out.add(
                "src:prev_gives_other_rank",
                "code",
                f"{previous.cls} gives {gives}-D tensors where {layer.cls} takes {takes}-D: the layers do not fit",
            )


def fed_facts(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """What the client saw fed to fit/evaluate/predict (shapes only), against what arrived."""
    fed = ctx.fed
    if fed is None or fed.x is None:
        return
    out.add("has_fed", "fed", f"the data fed was {fmt(fed.x)}")
    received = ctx.shape("received")
    if fed.from_dataset and fed.x and fed.x[0] is not None:
        # a batched dataset's element spec starts with a None batch axis; this one yields samples
        out.add("fed:dataset_unbatched", "fed", f"the dataset yields single samples {fmt(fed.x)}: never batched")
        if received is not None and _fits(list(fed.x), list(received)):
            out.add(
                "fed:received_is_one_sample", "fed", f"what arrived, {fmt(received)}, is one element of the dataset"
            )
    elif received is not None and len(fed.x) == len(received) and _fits(list(fed.x[1:]), list(received[1:])):
        out.add("fed:received_is_data", "fed", f"the data fed, {fmt(fed.x)}, reached the layer unchanged")
    if fed.x_dtype and ("float64" in fed.x_dtype or "object" in fed.x_dtype or fed.x_dtype.startswith("<U")):
        out.add("fed:dtype_unusual", "fed", f"the data's dtype is {fed.x_dtype}")


_INPUT_NAMES = r"(?:inputs?|inp|input_\w+|\w+_input|\w+_in|x_in|img|image|tokens|seq)"
_APPLIED = re.compile(r"\b[A-Z]\w*\([^()]*(?:\([^()]*\)[^()]*)*\)\(\s*(?P<arg>\w+)\s*\)")


_INPUT_NAME_RE = re.compile(_INPUT_NAMES, re.I)
_SEQUENTIAL_RE = re.compile(r"\bSequential\(")
# `model(X[3])`, `model.predict(x_test[0])`, `net(images[-1])`: a model (not a layer of self, not a builtin) called on
# one element taken out of an array by an integer index
_ONE_SAMPLE_CALL = re.compile(
    r"(?<![.\w])(?P<callee>[A-Za-z_]\w*)(?:\.(?:predict|predict_on_batch|predict_step|forward|__call__))?"
    r"\(\s*[A-Za-z_]\w*\[\s*-?\d+\s*\]\s*\)"
)
_NOT_MODELS = frozenset(
    {"len", "print", "str", "int", "float", "list", "tuple", "type", "range", "repr", "bool", "np", "max", "min", "sum",
     "abs", "sorted", "enumerate", "zip", "set", "dict", "round", "isinstance", "iter", "next"}
)


def user_line(out: Collector, recognitions: list[Recognition], ctx: Context) -> None:
    """The user's own line the error came from: a layer applied to the model's Input, layers listed in a
    Sequential, one added with model.add, or data passed to the model (Keras filters its own frames out, so
    this line is often all the traceback says about the script)."""
    frames = _user_frames(ctx)
    if not frames:
        return
    code = frames[-1].code or ""
    applied = _APPLIED.search(code)
    if applied and _INPUT_NAME_RE.fullmatch(applied.group("arg")):
        out.add("line:layer_on_input", "frame", f"the failing line applies a layer to the model's input: {code}")
    elif applied:
        out.add("line:layer_on_previous", "frame", f"the failing line applies a layer to an earlier output: {code}")
    if "Sequential(" in code and _SEQUENTIAL_RE.search(code):
        out.add("line:sequential", "frame", "the error comes from building a Sequential model")
    if ".add(" in code:
        out.add("line:model_add", "frame", f"the error comes from adding a layer: {code}")
    for frame in frames:
        one = _ONE_SAMPLE_CALL.search(frame.code or "") if "[" in (frame.code or "") else None
        if one and one.group("callee") not in _NOT_MODELS:
            out.add(
                "line:model_on_one_sample",
                "frame",
                f"{one.group(0).strip()} gives the model one sample, indexed out of its batch",
            )
            break
    call = ctx.tb.call_arguments.get("inputs") or ctx.tb.call_arguments.get("x")
    received = ctx.shape("received")
    if call and received is not None:
        from diagnoser.engine.shapes import parse_shape

        called = parse_shape(call)
        if called is not None and tuple(called) == tuple(received):
            out.add(
                "line:received_is_model_call_input",
                "frame",
                f"the model was called with {fmt(called)}, which reached the layer unchanged",
            )
        elif called is not None and len(called) != len(received):
            out.add(
                "line:model_call_input_other_rank",
                "frame",
                f"the model was called with {fmt(called)}; layers before changed it to {fmt(received)}",
            )


PRODUCERS: tuple[Callable[[Collector, list[Recognition], Context], None], ...] = (
    what,
    phase,
    ranks,
    shape_relations,
    loss_relations,
    operand_relations,
    merge_gaps,
    counts,
    looks,
    layer_facts,
    user_line,
    summary_facts,
    source_facts,
    merge_facts,
    fed_facts,
)

# Features that say what the message is; every other feature is context, and is also crossed with these.
_WHAT_PREFIXES = ("check=", "family=")
_NOT_CROSSED = ("framework=", "has_", "bare")


# What a tensor looks like and what kind of layer checked it mean different things in different checks (a 3-D
# tensor of two large axes is images without channels at a conv's input, a sequence after an RNN): they are
# features only in pairs with the check or the family, never alone.
_CROSSED_ONLY = ("looks:", "layer_kind=", "layer_dims=", "found_rank=")


class KnownFeatures:
    """The weights' feature names, with their pairs indexed by context feature: crossing then tests a context's few
    weighed partners instead of formatting every (what, context) name to look it up."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = frozenset(names)
        pairs: dict[str, set[str]] = {}
        for name in self.names:
            what, sep, context = name.partition("&")
            if sep and what.startswith(_WHAT_PREFIXES):
                pairs.setdefault(context, set()).add(what)
        self.partners = {context: frozenset(whats) for context, whats in pairs.items()}

    def __contains__(self, name: object) -> bool:
        return name in self.names


def crossed(items: dict[str, Feature], known: KnownFeatures | None = None) -> dict[str, Feature]:
    """Every (what, context) pair as a feature of its own: "check=rank&phase=build"; with `known`, only the pairs
    it holds (a pair without a weight moves no score and is no one's evidence: diagnosing skips making it)."""
    whats = [f for n, f in items.items() if n.startswith(_WHAT_PREFIXES)]
    contexts = [f for n, f in items.items() if not n.startswith(_WHAT_PREFIXES) and not n.startswith(_NOT_CROSSED)]
    out = {n: Feature(f.name, f.source, f.text, scored=False) if n.startswith(_CROSSED_ONLY) else f
           for n, f in items.items()}
    partners = [(c, known.partners.get(c.name, _NONE) if known is not None else None) for c in contexts]
    for w in whats:
        for c, whats_of_c in partners:
            if whats_of_c is None or w.name in whats_of_c:
                name = f"{w.name}&{c.name}"
                out[name] = Feature(name, c.source, c.text)
    return out


_NONE: frozenset[str] = frozenset()


def extract(
    recognitions: list[Recognition], ctx: Context, known: KnownFeatures | None = None
) -> dict[str, Feature]:
    """The features of one traceback (its families' readings and its context), crosses included (those `known`
    holds, when given: the weights' feature names)."""
    if ctx.phase == "unknown":
        ctx.phase = detect_phase(ctx.tb)
    if not ctx.facts:
        for r in recognitions:
            for name, value in r.facts.items():
                if value is not None:
                    ctx.facts.setdefault(name, value)
    out = Collector()
    for producer in PRODUCERS:
        producer(out, recognitions, ctx)
    return crossed(out.items, known)
