"""The PyTorch families, the Python families and the non-shape families: they pass their own examples, read the
same facts from a torch 1.x and a torch 2.x wording of one check, and never mix shape and non-shape messages."""

from __future__ import annotations

import glob
import json
from pathlib import Path

import pytest

from diagnoser.engine.families import SHAPE_CAUSES, FamilySet, Recognition, load_families
from diagnoser.engine.familycheck import parsed_tracebacks, run_all

REPO = Path(__file__).resolve().parents[2]
OWNED = ("torch-", "py-", "other-")
NON_SHAPE = {"out_of_memory", "device_unavailable", "file_not_found", "missing_name", "unknown_identifier",
             "missing_key"}


@pytest.fixture(scope="module")
def families() -> FamilySet:
    return load_families()


def read(families: FamilySet, text: str) -> list[Recognition]:
    found = []
    for tb in parsed_tracebacks(text)[-1:]:
        found += families.recognise(tb.core_message, tb.core_type)
    return found


def one(families: FamilySet, text: str) -> Recognition:
    found = read(families, text)
    assert len(found) == 1, [r.family.id for r in found]
    return found[0]


def test_the_owned_families_pass_their_examples_and_the_lint():
    loaded, failures = run_all()
    assert loaded is not None, [f.problem for f in failures]
    mine = [f"{f.family}: {f.problem}" for f in failures if f.family.startswith(OWNED) or f.family == "(load)"]
    assert mine == []
    owned = [f for f in loaded.families if f.id.startswith(OWNED)]
    assert len(owned) >= 40
    for family in owned:
        assert family.causes and family.examples_no_match, family.id


def test_non_shape_families_declare_one_non_shape_cause(families):
    for family in families.families:
        if family.id.startswith("other-"):
            assert len(family.causes) == 1 and family.causes[0] in NON_SHAPE, family.id
        elif family.id.startswith(("torch-", "py-")):
            assert any(c in SHAPE_CAUSES for c in family.causes), family.id
            assert not set(family.causes) & NON_SHAPE, family.id


def test_shape_and_non_shape_families_never_read_each_others_examples(families):
    owned = [f for f in families.families if f.id.startswith(OWNED)]
    for family in owned:
        shape = not family.id.startswith("other-")
        for example in family.examples_match:
            for reading in read(families, str(example["text"])):
                other_shape = not reading.family.id.startswith("other-")
                if reading.family.id.startswith(OWNED):
                    assert other_shape == shape, (family.id, reading.family.id)


@pytest.mark.parametrize(
    "old, new, same",
    [
        (
            "RuntimeError: size mismatch, m1: [64 x 3136], m2: [784 x 10] at /pytorch/aten/src/TH/generic/THTensorMath.cpp:41",
            "RuntimeError: mat1 and mat2 shapes cannot be multiplied (64x3136 and 784x10)",
            {"left": (64, 3136), "right": (784, 10)},
        ),
        (
            "RuntimeError: Expected 4-dimensional input for 4-dimensional weight [16, 1, 3, 3], but got 3-dimensional "
            "input of size [1, 28, 28] instead",
            "RuntimeError: Expected 3D (unbatched) or 4D (batched) input to conv2d, but got input of size: [1, 28, 28]",
            {"expected_rank": 4, "received": (1, 28, 28)},
        ),
        (
            "RuntimeError: Given groups=1, weight of size 64 3 7 7, expected input[64, 1, 28, 28] to have 3 channels, "
            "but got 1 channels instead",
            "RuntimeError: Given groups=1, weight of size [64, 3, 7, 7], expected input[64, 1, 28, 28] to have 3 "
            "channels, but got 1 channels instead",
            {"received": (64, 1, 28, 28), "expected_channels": 3, "found_channels": 1},
        ),
        (
            "RuntimeError: Expected object of scalar type Long but got scalar type Float for argument #2 'target' in "
            "call to _thnn_nll_loss_forward",
            "RuntimeError: expected target dtype to be Long or Byte, but got Float",
            {"dtype_found": "Float"},
        ),
        (
            "RuntimeError: Expected hidden size (1, 8, 32), got (1, 16, 32)",
            "RuntimeError: Expected hidden size (1, 8, 32), got [1, 16, 32]",
            {"expected": (1, 8, 32), "received": (1, 16, 32)},
        ),
        (
            "RuntimeError: Expected tensor for argument #1 'indices' to have scalar type Long; but got "
            "torch.FloatTensor instead (while checking arguments for embedding)",
            "RuntimeError: Expected tensor for argument #1 'indices' to have one of the following scalar types: Long, "
            "Int; but got torch.FloatTensor instead (while checking arguments for embedding)",
            {"dtype_found": "torch.FloatTensor", "layer": "embedding"},
        ),
        (
            "RuntimeError: Calculated input size: (3 x 7). Kernel size: (4 x 4). Kernel size can't greater than "
            "actual input size at /pytorch/aten/src/THNN/generic/SpatialConvolutionMM.c:48",
            "RuntimeError: Calculated padded input size per channel: (3 x 7). Kernel size: (4 x 4). Kernel size can't "
            "be greater than actual input size",
            {"received": (3, 7), "kernel": (4, 4)},
        ),
        (
            "RuntimeError: Given input size: (64x32x1). Calculated output size: (64x16x0). Output size is too small "
            "at /pytorch/aten/src/THNN/generic/SpatialDilatedMaxPooling.c:67",
            "RuntimeError: Given input size: (64x32x1). Calculated output size: (64x16x0). Output size is too small",
            {"received": (64, 32, 1), "computed": (64, 16, 0)},
        ),
        (
            "RuntimeError: invalid argument 2: size '[16 x 784]' is invalid for input with 6272 elements at "
            "/pytorch/aten/src/TH/THStorage.cpp:80",
            "RuntimeError: shape '[16, 784]' is invalid for input of size 6272",
            {"expected": (16, 784), "elements_in": 6272},
        ),
    ],
)
def test_a_torch_1x_and_a_torch_2x_wording_read_the_same_facts(families, old, new, same):
    a, b = one(families, old), one(families, new)
    assert a.family.id == b.family.id
    assert (a.check, a.site) == (b.check, b.site)
    for name, value in same.items():
        assert a.facts.get(name) == value == b.facts.get(name), name


def test_old_and_new_target_checks_are_one_family(families):
    old = one(families, "RuntimeError: multi-target not supported at /pytorch/aten/src/THNN/generic/ClassNLLCriterion.c:21")
    mid = one(families, "RuntimeError: 1D target tensor expected, multi-target not supported")
    new = one(families, "RuntimeError: 0D or 1D target tensor expected, multi-target not supported")
    assert old.family.id == mid.family.id == new.family.id == "torch-nll-target-rank"
    cpu_old = one(families, "RuntimeError: Assertion `cur_target >= 0 && cur_target < n_classes' failed.  at "
                            "/pytorch/aten/src/THNN/generic/ClassNLLCriterion.c:94")
    cpu_new = one(families, "IndexError: Target 7 is out of bounds.")
    assert cpu_old.family.id == cpu_new.family.id == "torch-loss-target-range"
    assert cpu_new.facts["label_value"] == 7 and cpu_new.check == "label_range"


def test_the_collate_wording_of_each_version_is_a_concat_check(families):
    old = one(families, "RuntimeError: invalid argument 0: Sizes of tensors must match except in dimension 0. Got 8 "
                        "and 6 in dimension 1 at /pytorch/aten/src/TH/generic/THTensor.cpp:689")
    new = one(families, "RuntimeError: stack expects each tensor to be equal size, but got [8] at entry 0 and [6] at "
                        "entry 1")
    assert old.check == new.check == "concat"
    assert (old.facts["size_a"], old.facts["size_b"]) == (8, 6)
    assert (new.facts["left"], new.facts["right"]) == ((8,), (6,))


def test_a_dataloader_worker_error_is_read_through_its_wrapper(families):
    text = (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 30, in <module>\n'
        "    for xb, yb in loader:\n"
        '  File "/venv/lib/python3.11/site-packages/torch/_utils.py", line 694, in reraise\n'
        "    raise exception\n"
        "RuntimeError: Caught RuntimeError in DataLoader worker process 0.\n"
        "Original Traceback (most recent call last):\n"
        '  File "/venv/lib/python3.11/site-packages/torch/utils/data/_utils/collate.py", line 162, in collate_tensor_fn\n'
        "    return torch.stack(batch, 0, out=out)\n"
        "RuntimeError: stack expects each tensor to be equal size, but got [10] at entry 0 and [4] at entry 1\n"
    )
    reading = one(families, text)
    assert reading.family.id == "torch-stack-sizes" and reading.site == "collate"


def test_torch_compile_meta_wordings_are_read_inside_dynamos_wrapper(families):
    text = (
        "torch._dynamo.exc.TorchRuntimeError: RuntimeError when making fake tensor call\n"
        "  Explanation: Dynamo failed to run FX node with fake tensors: call_function <built-in function linear>"
        "(*(FakeTensor(..., size=(4, 1568)), Parameter(FakeTensor(..., size=(2, 10), requires_grad=True))), **{}): "
        "got RuntimeError('a and b must have same reduction dim, but got [4, 1568] X [10, 2].')\n"
    )
    reading = one(families, text)
    assert reading.family.id == "torch-matmul-shapes"
    assert (reading.facts["left"], reading.facts["right"]) == ((4, 1568), (10, 2))
    eager = one(families, "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x1568 and 10x2)")
    assert (eager.facts["left"], eager.facts["right"]) == ((4, 1568), (10, 2))


@pytest.mark.parametrize(
    "text, family",
    [
        ("torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB", "other-out-of-memory"),
        ("tensorflow.python.framework.errors_impl.ResourceExhaustedError: OOM when allocating tensor with "
         "shape[4096,4096] and type float", "other-out-of-memory"),
        ("AssertionError: Torch not compiled with CUDA enabled", "other-device-unavailable"),
        ("RuntimeError: No CUDA GPUs are available", "other-device-unavailable"),
        ("FileNotFoundError: [Errno 2] No such file or directory: 'data/train.csv'", "other-file-not-found"),
        ("NameError: name 'np' is not defined", "other-missing-name"),
        ("ModuleNotFoundError: No module named 'torchvision'", "other-missing-name"),
        ("ValueError: Could not interpret optimizer identifier: adamm", "other-unknown-identifier"),
        ("ValueError: Unknown loss function: 'categorical_crossentropyy'. Please ensure you are using a "
         "`keras.utils.custom_object_scope`", "other-unknown-identifier"),
        ("KeyError: 'label'", "other-missing-key"),
    ],
)
def test_non_shape_errors_read_only_as_their_non_shape_family(families, text, family):
    assert [r.family.id for r in read(families, text)] == [family]


@pytest.mark.parametrize(
    "text",
    [
        "I0000 00:00:1795949073.876205   24146 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU "
        "will not be used.",
        "KeyError: 0",
        "RuntimeError: Error(s) in loading state_dict for Model:\n\tMissing key(s) in state_dict: \"fc1.weight\".",
        "RuntimeError: Input type (torch.FloatTensor) and weight type (torch.cuda.FloatTensor) should be the same or "
        "input should be a MKLDNN tensor and weight is a dense tensor",
        "OSError: libcudart.so.11.0: cannot open shared object file: No such file or directory",
        "RuntimeError: Expected all tensors to be on the same device, but found at least two devices, cuda:0 and cpu!",
    ],
)
def test_messages_that_are_nobodys_are_not_read(families, text):
    assert [r.family.id for r in read(families, text) if r.family.id.startswith(OWNED)] == []


def _corpus_records() -> list[dict]:
    paths = [p for p in sorted(glob.glob(str(REPO / "corpus" / "generated" / "*.jsonl")))
             if not p.endswith(".dropped.jsonl")]
    paths += [str(REPO / "tests" / "fixtures" / d / "cases.jsonl") for d in ("real", "real2")]
    out = []
    for path in paths:
        if Path(path).exists():
            out += [json.loads(line) for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    return [r for r in out if not str(r.get("notes", "")).startswith("SILENT:")]


def test_the_torch_shape_faults_of_the_corpora_are_recognised_and_no_other_record_is_claimed(families):
    records = _corpus_records()
    if not records:
        pytest.skip("no labelled corpus in this checkout")
    shape_families = {f.id for f in families.families if any(c in SHAPE_CAUSES for c in f.causes)}
    total = recognised = 0
    claimed = []
    for rec in records:
        readings = read(families, rec.get("stderr") or "")
        cause = rec.get("label_cause", "none")
        if rec.get("framework") == "torch" and cause in SHAPE_CAUSES:
            total += 1
            recognised += bool(readings)
        if cause not in SHAPE_CAUSES:
            claimed += [(rec["id"], r.family.id) for r in readings
                        if r.family.id in shape_families and r.family.id.startswith(OWNED)]
    assert total and recognised / total >= 0.98
    assert claimed == []
