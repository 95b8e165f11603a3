"""The seed document's three examples, run for real on Keras 3 and tf-keras 2 (tests/fixtures/real/scripts/seed_*).

What really happens differs from what the document claims: examples 2 and 3 die on a NameError (numpy is
never imported); example 1 is reported as a data-cardinality error (x's 28 rows against 10 labels), not as
a rank error; example 3 with numpy imported fails on Keras 3 at the Input and on Keras 2 only inside the
loss, with 28x more logits than labels. These tests hold the engine to what really happens.
"""

import pytest

from diagnoser.engine import diagnose
from diagnoser.engine.families import SHAPE_CAUSES

SHAPE = set(SHAPE_CAUSES)


def seed_records(real_cases):
    recs = [r for r in real_cases if r["id"].startswith("seed_")]
    assert len(recs) >= 10, "seed runs missing from tests/fixtures/real/cases.jsonl"
    return recs


def top_cause(rec, with_source=True):
    res = diagnose(
        rec["stderr"], summary=rec.get("stdout_summary") or None, source=rec["snippet"] if with_source else None
    )
    last = res.last
    return last.diagnoses[0] if last and last.diagnoses else None


def test_seed_examples_are_diagnosed_as_they_really_fail(real_cases):
    for rec in seed_records(real_cases):
        top = top_cause(rec)
        if rec["label_cause"] in SHAPE:
            assert top is not None and top.cause == rec["label_cause"], (rec["id"], top)
        else:
            assert top is None or top.cause not in SHAPE, (rec["id"], top)


def test_seed_examples_2_and_3_as_written_are_a_missing_import(real_cases):
    for rec in seed_records(real_cases):
        if rec["id"].startswith(("seed_ex2_as_written", "seed_ex3_as_written")):
            top = top_cause(rec, with_source=False)
            assert top.cause == "missing_name" and "import numpy as np" in top.fix


def test_seed_example_1_names_the_missing_batch_axis_given_the_script(real_cases):
    for rec in seed_records(real_cases):
        if rec["id"].startswith("seed_ex1"):
            top = top_cause(rec)
            assert top.cause == "data_preprocessing"
            assert "28" in top.explanation
            alternatives = [d.cause for d in diagnose(rec["stderr"]).last.diagnoses]
            assert "data_preprocessing" in alternatives  # listed even without the script


@pytest.mark.parametrize("framework", ["keras3", "tf_keras2"])
def test_seed_example_3_blames_the_input_declaration(real_cases, framework):
    rec = next(r for r in seed_records(real_cases) if r["id"] == f"seed_ex3_with_numpy__{framework}")
    top = top_cause(rec, with_source=False)
    assert top.cause == "input_layer"
