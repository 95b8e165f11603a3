"""The names a family may give what it recognised, with their types: the one list that family files are validated
against, that the evidence features read, and that rules/README.md documents (`diagnoser rules vocabulary`).

A family says what the library checked (`check`), where the check ran (`site`), and the operands and numbers the
message printed, under these names. It never names a cause: that is the evidence model's job.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Term:
    name: str
    kind: str  # "shape" | "int" | "text"
    meaning: str


SHAPES = (
    Term("received", "shape", "the tensor that failed the check, as it arrived"),
    Term("expected", "shape", "what the check wanted, when the message prints it as a shape"),
    Term("declared", "shape", "the model's declared input, when the message prints it"),
    Term("target", "shape", "the labels (targets) given to a loss or metric"),
    Term("output", "shape", "the model's output (logits, predictions) given to a loss or metric"),
    Term("weights", "shape", "a layer's weight or kernel"),
    Term("left", "shape", "the first operand of a two-operand op (matmul, broadcast, concat)"),
    Term("right", "shape", "the second operand of a two-operand op"),
)
INTS = (
    Term("expected_rank", "int", "the number of axes the check wanted (ndim, min_ndim or a rank)"),
    Term("found_rank", "int", "the number of axes that arrived"),
    Term("axis", "int", "the axis the check looked at"),
    Term("expected_dim", "int", "the size the check wanted on that axis"),
    Term("found_dim", "int", "the size that arrived on that axis"),
    Term("expected_channels", "int", "channels a convolution's weights take"),
    Term("found_channels", "int", "channels that arrived"),
    Term("label_value", "int", "a label value that is out of range"),
    Term("num_classes", "int", "the number of classes (the valid range's end)"),
    Term("index", "int", "an index that is out of range"),
    Term("range_end", "int", "the end of the valid index range (vocabulary size, axis size)"),
    Term("elements_in", "int", "elements of the tensor being reshaped"),
    Term("elements_out", "int", "elements the requested shape holds"),
    Term("kernel_size", "int", "a kernel or pool size"),
    Term("input_size", "int", "the spatial size a kernel or pool met"),
    Term("count_a", "int", "a count (samples, inputs, batch) on one side of a mismatch"),
    Term("count_b", "int", "the count on the other side"),
    Term("size_a", "int", "an axis size (or a rank) on one side of a mismatch, in the order the message prints them"),
    Term("size_b", "int", "the size (or rank) on the other side"),
)
TEXTS = (
    Term("layer", "text", "the layer whose check failed, as the message prints it"),
    Term("op", "text", "the op that failed (MatMul, conv2d, ...)"),
    Term("node", "text", "TensorFlow's node path of the op"),
    Term("spec", "text", "the kind of rank check: ndim, min_ndim or max_ndim"),
    Term("dtype_expected", "text", "the dtype the op wanted"),
    Term("dtype_found", "text", "the dtype that arrived"),
    Term("input_name", "text", "the model input's name, as the message prints it"),
    Term("loss", "text", "the loss the message names"),
)
TERMS = {t.name: t for t in SHAPES + INTS + TEXTS}

CHECKS = {
    "rank": "the number of axes",
    "dim": "the size of one axis (often the last: features, channels)",
    "shape": "a whole shape against another",
    "channels": "the channels a convolution's weights take",
    "element_count": "that a reshape keeps the number of elements",
    "batch_size": "that two tensors (inputs and targets) have the same number of samples",
    "label_range": "that every label is a class index below the number of classes",
    "index_range": "that every index is below the table's size (embedding lookup, one-hot)",
    "dtype": "the element type",
    "output_size": "that a kernel, pool or crop leaves a positive output size",
    "broadcast": "that two shapes broadcast together",
    "concat": "that tensors joined along an axis agree on the other axes",
    "matmul": "that a matrix product's inner dimensions agree",
    "structure": "the number or names of the inputs or outputs",
    "cardinality": "that inputs and targets have the same number of samples",
    "ragged": "that a nested sequence is rectangular",
    "missing": "that a value is present (not None)",
    "squeeze": "that an axis to remove has size 1",
    "defined": "that an axis size is known when a layer builds its weights",
    "truth_value": "that an array used as a condition holds one element (NumPy's ambiguous truth value)",
}
SITES = {
    "model_input": "the model's own input check, on what was passed to the model",
    "layer_input": "a layer's input check, on what reached it from the layer before (or from the model's input)",
    "layer_build": "a layer building its weights from the shape it first received",
    "op": "an op inside the model (matmul, conv, reshape), at run time",
    "loss": "the loss or a metric, on the labels against the model's output",
    "data_adapter": "fit/evaluate/predict preparing the arrays or dataset before any layer",
    "dataset": "a tf.data pipeline (map, batch, from_generator)",
    "collate": "a PyTorch DataLoader assembling a batch",
    "embedding": "an embedding lookup of token ids",
    "preprocessing": "user-side preprocessing (NumPy, to_categorical, tensor conversion)",
    "unknown": "the message does not say",
}
