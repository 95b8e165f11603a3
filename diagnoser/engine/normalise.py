"""Put a core error message into the one form that family patterns are written against.

Why: the same template reaches users wrapped at 80 columns by a terminal or a log shipper, with doubled spaces where
a library concatenated two strings, in another case (Keras 2's "Error when checking" vs "error when checking"), with
TensorFlow 1's op suffix (`for 'MatMul' (op: 'MatMul') with input shapes: [2,2], [2].`) or TensorFlow 2's
(`for '{{node sequential/dense/MatMul}} = MatMul[T=DT_FLOAT](x, w)' with input shapes: [2,2], [2]`). Patterns
are matched case-insensitively against the message with every run of whitespace made one space; the op suffix is
parsed once into facts, whatever its generation.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import regex

_ANSI = regex.compile(r"\x1b\[[0-9;]*[A-Za-z]")
# A line a terminal or log shipper broke inside a bracketed shape: "(None, 28,\n 28)" -> "(None, 28, 28)".
_BROKEN_SHAPE = regex.compile(r"([\[(][^\[\]()]{0,200}?,)\s*\n\s*")

# TensorFlow's shape-function suffix, in both generations (core/framework/shape_inference.cc, common_shape_fns.cc):
#   TF1: for 'dense/MatMul' (op: 'MatMul') with input shapes: [?,784], [10,128].
#   TF2: for '{{node sequential/dense/MatMul}} = MatMul[T=DT_FLOAT, ...](sequential/flatten/Reshape, w)' with input
#        shapes: [?,784], [10,128].
_OP_SUFFIX = regex.compile(
    r"""for\s+'
        (?:
            \{\{node\s+(?P<node2>[^}]+)\}\}\s*=\s*(?P<op2>[\w.]+)   # TF2: '{{node a/b/MatMul}} = MatMul[...](...)'
            [^']*'
          |
            (?P<node1>[^']+)'\s*\(op:\s*'(?P<op1>[\w.]+)'\)          # TF1: 'a/b/MatMul' (op: 'MatMul')
        )
        \s*with\s+input\s+shapes:\s*(?P<shapes>\[[^\]]*\](?:\s*,\s*\[[^\]]*\])*)""",
    regex.VERBOSE | regex.IGNORECASE,
)
_SHAPE_LIST = regex.compile(r"\[([^\]]*)\]")


@dataclass(frozen=True)
class OpSuffix:
    """What TensorFlow's shape inference said about the op that failed."""

    op: str | None
    node: str | None
    input_shapes: tuple[str, ...] = field(default_factory=tuple)


def flatten(message: str) -> str:
    """The message as one line: colour codes gone, shapes broken over lines joined, whitespace runs one space."""
    text = _ANSI.sub("", message) if "\x1b" in message else message
    if "\n" in text:
        text = _BROKEN_SHAPE.sub(r"\1 ", text)
    return " ".join(text.split())


def op_suffix(message: str) -> OpSuffix | None:
    """The op, node path and input shapes of a TensorFlow shape-function message, in either quoting."""
    if "input shapes" not in message.lower():
        return None  # the suffix always ends "with input shapes:"; most messages are not shape-function ones
    m = _OP_SUFFIX.search(message)
    if m is None:
        return None
    node = m["node2"] or m["node1"]
    op = m["op2"] or m["op1"]
    if op is None and node:
        op = node.rsplit("/", 1)[-1]
    shapes = tuple(f"[{s.strip()}]" for s in _SHAPE_LIST.findall(m["shapes"]))
    return OpSuffix(op=op, node=node, input_shapes=shapes)
