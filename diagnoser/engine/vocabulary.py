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
    Term("computed", "shape", "the output size a layer computed from its input and configuration (empty or negative)"),
    Term("kernel", "shape", "a kernel or pool window as the message prints it, e.g. (7 x 7)"),
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
    Term("concat_axis", "int", "the axis tensors are joined along (cat, stack), when the message prints it"),
    Term("position", "int", "which tensor of a list the message names (tensor number, entry)"),
    Term("expected_count", "int", "how many values the code expected (unpacking)"),
    Term("found_count", "int", "how many values arrived"),
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
    Term("expected_ranks", "text", "the ranks a check accepts, as printed (2D or 3D)"),
    Term("argument", "text", "the argument the message names ('target', 'mat1', 'indices', 'input')"),
    Term("found_type", "text", "the Python type that arrived where a tensor belongs (numpy.ndarray, tuple, list)"),
    Term("path", "text", "the file path the message names"),
    Term("undefined_name", "text", "the name Python could not find (NameError) or could not import"),
    Term("module", "text", "the module that could not be imported"),
    Term("key", "text", "the key a dict, record or dataframe does not hold, as printed"),
    Term("identifier", "text", "the string given for a loss, metric, optimizer or activation"),
    Term("identifier_kind", "text", "what that string was meant to name: loss, metric, optimizer, activation"),
    Term("device", "text", "the device the script asked for (cuda, GPU:0)"),
    Term("allocation", "text", "the memory the failing allocation asked for, as printed (2.00 GiB, 4096 bytes)"),
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
    "nonempty": "that the data holds something: a dataset at least one batch, a sequence at least one step",
    "output_shape": "that a layer's function runs on a symbolic input, so its output shape can be inferred",
    "truth_value": "that an array used as a condition holds one element (NumPy's ambiguous truth value)",
    "contiguous": "that a view's shape fits the tensor's memory layout (strides)",
    "type": "that an argument is a tensor (not a NumPy array, list, tuple or None)",
    "memory": "that a tensor fits in the device's memory",
    "device": "that the device the script asks for exists in this machine and build",
    "file": "that a file the script opens exists",
    "name": "that a name or module the script uses is defined or installed",
    "identifier": "that a string names a loss, metric, optimizer or activation the library knows",
    "key": "that a mapping or dataframe holds the key the script reads",
    "wrapped": "unknown: only a wrapper's line was pasted (Keras' layer call, TensorFlow's graph step)",
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
    "torch_dataset": "a PyTorch Dataset building or returning samples (TensorDataset, __getitem__, __len__)",
    "device": "placing the model or tensors on a device",
    "allocator": "a memory allocator (CUDA caching allocator, CPU allocator, TensorFlow's BFC allocator)",
    "io": "reading a file (data, weights, checkpoints)",
    "script": "the user's own code, where Python itself raised",
    "compile": "resolving the names given to compile() (loss, optimizer, metrics)",
}


def markdown() -> str:
    """The vocabulary as the Markdown tables of rules/README.md (`diagnoser rules vocabulary` prints it; a test
    keeps the README equal to it)."""
    lines = ["| fact | type | meaning |", "| --- | --- | --- |"]
    lines += [f"| `{t.name}` | {t.kind} | {t.meaning} |" for t in SHAPES + INTS + TEXTS]
    lines += ["", "| check | what the library checked |", "| --- | --- |"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in CHECKS.items()]
    lines += ["", "| site | where the check ran |", "| --- | --- |"]
    lines += [f"| `{name}` | {meaning} |" for name, meaning in SITES.items()]
    return "\n".join(lines) + "\n"
