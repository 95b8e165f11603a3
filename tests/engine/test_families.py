"""Every message family recognises its own examples with the facts they list, rejects its near-misses, and is
fast on adversarial input (familycheck, the recognition half of `diagnoser rules test`); every family says
where in the libraries its wording comes from."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from diagnoser.engine import familycheck
from diagnoser.engine.families import SHAPE_CAUSES, default_families_dir, load_families

FAMILY_FILES = sorted(default_families_dir().glob("*.yaml"))


def test_every_family_passes_its_checks():
    families, failures = familycheck.run_all()
    assert families is not None
    assert [f"{f.family}: {f.problem}" for f in failures] == []


def test_the_families_load_strictly():
    families = load_families()
    assert len(families.families) == len(FAMILY_FILES)


@pytest.mark.parametrize("path", FAMILY_FILES, ids=lambda p: p.stem)
def test_every_family_cites_its_sources(path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    references = data.get("references") or []
    assert references, f"{path.name} has no references"
    assert all(str(r).strip() for r in references)


@pytest.mark.parametrize("path", FAMILY_FILES, ids=lambda p: p.stem)
def test_every_declared_cause_has_a_match_example(path: Path):
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    labelled = {e.get("cause") for e in (data.get("examples") or {}).get("match") or []}
    assert set(data.get("causes") or []) <= labelled


def test_one_message_is_read_by_one_family():
    """Families of neighbouring checks must not claim each other's messages (a near-miss list is not enough when
    two wordings share a literal)."""
    families = load_families()
    claimed: dict[str, list[str]] = {}
    for family in families.families:
        for n, example in enumerate(family.examples_match, 1):
            for tb in familycheck.parsed_tracebacks(str(example["text"]))[-1:]:
                ids = sorted({r.family.id for r in families.recognise(tb.core_message, tb.core_type)})
                if len(ids) > 1:
                    claimed[f"{family.id} example {n}"] = ids
    assert claimed == {}


@pytest.mark.parametrize(
    ("message", "family", "facts"),
    [
        # Keras 2 merge layers ("Operands", capitalised) against NumPy's broadcasting ("operands").
        ("ValueError: Operands could not be broadcast together with shapes (28, 28, 32) (28, 28, 64)",
         "keras-merge-shapes", {"left": (28, 28, 32), "right": (28, 28, 64)}),
        ("ValueError: operands could not be broadcast together with shapes (16,) (24,) ",
         "numpy-broadcast", {"left": (16,), "right": (24,)}),
        # TF1 and TF2 quoting of the shape-function suffix yield the same op and operands.
        ("ValueError: Dimensions must be equal, but are 784 and 100 for 'dense/MatMul' (op: 'MatMul') with input "
         "shapes: [?,784], [100,10].", "tf-shape-fn-dims",
         {"size_a": 784, "size_b": 100, "op": "MatMul", "left": (None, 784), "right": (100, 10)}),
        ("ValueError: Dimensions must be equal, but are 784 and 100 for '{{node sequential/dense/MatMul}} = "
         "MatMul[T=DT_FLOAT, transpose_a=false, transpose_b=false](sequential/flatten/Reshape, "
         "sequential/dense/MatMul/ReadVariableOp)' with input shapes: [?,784], [100,10].", "tf-shape-fn-dims",
         {"size_a": 784, "size_b": 100, "op": "MatMul", "node": "sequential/dense/MatMul"}),
        # ConcatOp's run-time wording against the shape function's.
        ("InvalidArgumentError: ConcatOp : Dimension 1 in both shapes must be equal: shape[0] = [4,2,4] vs. "
         "shape[1] = [4,1,4] [Op:ConcatV2] name: concat", "tf-concat-op", {"axis": 1, "left": (4, 2, 4)}),
    ],
)
def test_neighbouring_wordings_go_to_their_own_family(message: str, family: str, facts: dict):
    families = load_families()
    tb = familycheck.parsed_tracebacks(message)[-1]
    readings = families.recognise(tb.core_message, tb.core_type)
    assert [r.family.id for r in readings] == [family]
    for name, value in facts.items():
        assert readings[0].facts.get(name) == value, name


@pytest.mark.parametrize(
    "message",
    [
        "NameError: name 'np' is not defined",
        "FileNotFoundError: [Errno 2] No such file or directory: 'data/train.csv'",
        "KeyError: 'label'",
        "tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor with "
        "shape[256,3,224,224] and type float on /job:localhost/replica:0/task:0/device:GPU:0 by allocator GPU_0_bfc",
        "ValueError: Unknown loss function: 'categorical_crossentropyy'. Please ensure you are using a "
        "`keras.utils.custom_object_scope` and that this object is included in the scope.",
        "ValueError: Could not interpret loss identifier: sparse_crossentropy",
        "TypeError: Dense.__init__() got an unexpected keyword argument 'input_dim'",
        "ValueError: You must call `compile()` before using the model.",
        "ValueError: Invalid dtype: flaot32",
        "ValueError: Cannot convert 'flaot32' to a mixed precision Policy.",
    ],
)
def test_errors_that_are_not_about_shapes_are_not_recognised(message: str):
    """No shape family reads them; a non-shape family (other-*, naming its own cause) may."""
    families = load_families()
    tb = familycheck.parsed_tracebacks(message)[-1]
    found = families.recognise(tb.core_message, tb.core_type)
    assert [r.family.id for r in found if set(r.family.causes) & set(SHAPE_CAUSES)] == []
