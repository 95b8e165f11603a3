"""Shapes as every library prints them, and the arithmetic that tells causes apart.

Keras 2 prints `(None, 28, 28)`, Keras 3 also `[None 4 4 8]` (a numpy array), TensorFlow ops `[?,4,4,8]`
and `(?, 19)`, PyTorch `torch.Size([8, 1])`, `[16, 784]`, `64x784` and `(5 x 5)`. One parser reads them
all into a tuple whose unknown dimensions are None, so relations such as "the received shape is the
expected one without its trailing 1" are one comparison whatever the notation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

Dim = int | None
Shape = tuple[Dim, ...]

_DIM_RE = re.compile(r"None|\?|-?\d+")
_BRACKETED_RE = re.compile(r"[\(\[]\s*((?:None|\?|-?\d+)?(?:\s*[,\s]\s*(?:None|\?|-?\d+))*)\s*,?\s*[\)\]]")
_TIMES_RE = re.compile(r"^[\(\[]?\s*(-?\d+(?:\s*x\s*-?\d+)+)\s*[\)\]]?$")
_WRAPPED_RE = re.compile(r"^(?:torch\.Size|TensorShape)\(\s*(.*)\s*\)$")
_TIMES_SPLIT_RE = re.compile(r"\s*x\s*")
_DIMS_SPLIT_RE = re.compile(r"[,\s]+")


def parse_shape(text: str | None) -> Shape | None:
    """Parse one shape; None when the text is not a shape."""
    if text is None:
        return None
    s = text.strip()
    if not s:
        return None
    if s.startswith(("torch", "TensorShape")):
        s = _WRAPPED_RE.sub(r"\1", s).strip()
    m = _TIMES_RE.match(s)
    if m:
        return tuple(_dim(x) for x in _TIMES_SPLIT_RE.split(m.group(1)))
    if s.startswith("[(") and s.endswith(")]"):  # Keras 2 InputLayer output shape: [(None, 28, 28)]
        s = s[1:-1]
    if not (s[0] in "([" and s[-1] in ")]"):
        if _DIM_RE.fullmatch(s):
            return (_dim(s),)
        return None
    inner = s[1:-1].strip()
    if not inner:
        return ()
    parts = [p for p in _DIMS_SPLIT_RE.split(inner) if p]
    dims: list[Dim] = []
    for p in parts:
        if not _DIM_RE.fullmatch(p):
            return None
        dims.append(_dim(p))
    return tuple(dims)


def _dim(token: str) -> Dim:
    """-1 is "any size" in view/reshape; other negative sizes are kept (a convolution's negative output)."""
    if token in ("None", "?", "-1"):
        return None
    return int(token)


def find_shapes(text: str) -> list[Shape]:
    """Every shape-looking bracket group in a text, in order."""
    out = []
    for m in _BRACKETED_RE.finditer(text):
        shp = parse_shape(m.group(0))
        if shp is not None and len(shp) > 0:
            out.append(shp)
    return out


def fmt(shape: Sequence[Dim] | None) -> str | None:
    """Keras style, which users know best: (None, 28, 28, 1); a 1-tuple keeps its comma."""
    if shape is None:
        return None
    inner = ", ".join("None" if d is None else str(d) for d in shape)
    return f"({inner},)" if len(shape) == 1 else f"({inner})"


def fmt_data(shape: Sequence[Dim] | None) -> str | None:
    """For arrays a user holds: the first axis is the sample count N, whatever the batch size was."""
    if shape is None:
        return None
    dims = ["N" if i == 0 else ("?" if d is None else str(d)) for i, d in enumerate(shape)]
    return "(" + ", ".join(dims) + ("," if len(dims) == 1 else "") + ")"


def dims_match(a: Dim, b: Dim) -> bool:
    return a is None or b is None or a == b


def compatible(a: Sequence[Dim], b: Sequence[Dim]) -> bool:
    return len(a) == len(b) and all(dims_match(x, y) for x, y in zip(a, b, strict=True))


def product(shape: Sequence[Dim]) -> int | None:
    total = 1
    for d in shape:
        if d is None:
            return None
        total *= d
    return total


def relations(expected: Sequence[Dim] | None, received: Sequence[Dim] | None) -> set[str]:
    """Named relations between what a layer expected and what came.

    These names are the vocabulary rules use in their conditions.
    """
    rel: set[str] = set()
    if expected is None or received is None:
        return rel
    e, r = tuple(expected), tuple(received)
    if compatible(e, r):
        rel.add("equal")
        return rel
    pe, pr = product(e[1:]), product(r[1:])
    if pe is not None and pe == pr and len(e) != len(r):
        rel.add("same_size_other_layout")  # (N, 28, 28) for (None, 784): the data needs a reshape, not resizing
    if len(r) == len(e) - 1:
        rel.add("rank_minus_one")
        if e[-1] == 1 and compatible(e[:-1], r):
            rel.add("missing_trailing_one")
        elif compatible(e[:-1], r):
            rel.add("missing_trailing_axis")
        if compatible(e[1:], r) and r and r[0] is not None:
            rel.add("missing_batch")  # an unbatched sample has a fixed first axis; a batch has None there
        for i in range(1, len(e)):
            if e[i] == 1 and compatible(e[:i] + e[i + 1 :], r):
                rel.add("missing_unit_axis")
                break
    elif len(r) == len(e) + 1:
        rel.add("rank_plus_one")
        for i in range(len(r)):
            if r[i] == 1 and compatible(r[:i] + r[i + 1 :], e):
                rel.add("extra_unit_axis")
                break
        if compatible(r[1:], e):
            rel.add("extra_leading_axis")
        if len(r) >= 3 and r[1] is None and compatible(r[2:], e[1:]):
            rel.add("batched_twice")  # (32, None, 224, 224, 3): batches of batches
    elif len(r) != len(e):
        rel.add("rank_differs")
    else:
        rel.add("same_rank")
        diff = [i for i, (x, y) in enumerate(zip(e, r, strict=True)) if not dims_match(x, y)]
        if diff == [len(e) - 1]:
            rel.add("last_dim_differs")
        if diff == [0]:
            rel.add("batch_differs")  # a fixed batch size declared somewhere
        if len(e) >= 3:
            # channels-first data for a channels-last layer: (N, C, H, W) vs (N, H, W, C)
            # The channel axis is the small one: only then is "same sizes, moved" a layout fault.
            if e[-1] is not None and r[1] == e[-1] and compatible(r[2:], e[1:-1]) and _smallest(e[-1], e[1:-1]):
                rel.add("channels_first")
            elif e[1] is not None and r[-1] == e[1] and compatible(r[1:-1], e[2:]) and _smallest(e[1], e[2:]):
                rel.add("channels_last")
            spatial_e, spatial_r = e[1:-1], r[1:-1]
            if dims_match(e[-1], r[-1]) and not compatible(spatial_e, spatial_r):
                if (
                    sorted(x for x in spatial_e if x is not None) == sorted(x for x in spatial_r if x is not None)
                    and len(spatial_e) > 1
                ):
                    rel.add("spatial_swapped")
                else:
                    rel.add("spatial_differs")
        if diff and 0 not in diff and product(e[1:]) is not None and product(e[1:]) == product(r[1:]):
            rel.add("same_size_other_layout")
        rel |= permutation_relations(e[1:], r[1:])
    return rel


def batch_state(shape: Sequence[Dim] | None) -> str | None:
    """'symbolic' when the batch axis is None (the model is being built), 'concrete' when real data came."""
    if not shape:
        return None
    return "symbolic" if shape[0] is None else "concrete"


def permutation_relations(expected: Sequence[Dim], received: Sequence[Dim]) -> set[str]:
    """Same sizes in another order, and which side follows Keras' channels-last convention.

    The channel (or feature) axis is the small one. When the data has it last and the declaration has it
    elsewhere, the declaration is wrong ("expected_not_channels_last"); the other way round the data is
    channels-first ("channels_first").
    """
    rel: set[str] = set()
    if len(expected) < 2 or len(expected) != len(received) or any(d is None for d in (*expected, *received)):
        return rel
    if tuple(expected) == tuple(received) or sorted(expected) != sorted(received):  # type: ignore[type-var]
        return rel
    rel.add("axes_permuted")
    small = min(received)  # type: ignore[type-var]
    if received[-1] == small and expected[-1] != small:
        rel.add("expected_not_channels_last")
    elif expected[-1] == small and received[-1] != small:
        rel.add("channels_first")
    return rel


def _smallest(value: int, others: Sequence[Dim]) -> bool:
    return all(value <= d for d in others if d is not None)
