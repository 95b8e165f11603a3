"""Where a bad index fell against its table, and which side of a count mismatch is the multiple: the facts that
separate a size counted without its +1 from ids of another vocabulary, and axes merged into the logits' rows from
label rows flattened into more targets."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from diagnoser.engine.families import default_families
from diagnoser.engine.reading import read_traceback

ROOT = Path(__file__).resolve().parents[2]


def features(text: str) -> set[str]:
    reading = read_traceback(text)
    assert reading is not None
    return set(reading.features)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("indices[4,0] = 10000 is not in [0, 10000)", "index:one_past_the_end"),
        ("indices[0,2] = 52 is not in [0, 20)", "index:far_beyond"),
        ("indices[0,2] = 23 is not in [0, 20)", "index:beyond"),
        ("indices[1,3] = -1 is not in [0, 50)", "index:negative"),
    ],
)
def test_a_gather_index_is_placed_against_the_table_size(line: str, expected: str) -> None:
    got = features(f"tensorflow.python.framework.errors_impl.InvalidArgumentError: {line}\n")
    assert expected in got
    assert len({f for f in got if f.startswith("index:")}) == 1


def test_logits_with_more_rows_than_targets_say_axes_were_merged_into_the_batch() -> None:
    got = features("ValueError: Expected input batch_size (64) to match target batch_size (8).\n")
    assert {"count:integer_ratio", "count:first_is_multiple"} <= got
    assert "count:second_is_multiple" not in got


def test_more_targets_than_logits_say_label_rows_were_flattened() -> None:
    got = features("ValueError: Expected input batch_size (8) to match target batch_size (40).\n")
    assert "count:second_is_multiple" in got


def test_one_row_of_logits_is_told_apart_from_any_other_multiple() -> None:
    got = features("ValueError: Expected input batch_size (1) to match target batch_size (16).\n")
    assert {"count:second_is_multiple", "count:one_against_many"} <= got


def test_the_torch_loss_batch_check_can_name_every_cause_the_corpus_plants_behind_it() -> None:
    family = next(f for f in default_families().families if f.id == "torch-loss-batch-size")
    assert {"layer_combination", "input_pipeline", "loss_label_mismatch"} <= set(family.causes)


def test_the_pasted_regime_takes_off_the_graph_execution_wrapper() -> None:
    pytest.importorskip("numpy", reason="corpus/learning.py is the fitting tool: it needs numpy and scipy")
    pytest.importorskip("scipy", reason="corpus/learning.py is the fitting tool: it needs numpy and scipy")
    sys.path.insert(0, str(ROOT / "corpus"))
    import learning

    text = (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 25, in <module>\n'
        "    model.fit(x, y)\n"
        "tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error:\n\n"
        "Detected at node sequential/embedding/embedding_lookup defined at (most recent call last):\n"
        '  File "train.py", line 25, in <module>\n\n'
        "indices[0,0] = 14 is not in [0, 10)\n"
        "\t [[{{node sequential/embedding/embedding_lookup}}]] [Op:__inference_train_function_105537]\n"
    )
    assert learning.bare_line(text).endswith("Graph execution error:")
    assert learning.pasted_line(text) == (
        "tensorflow.python.framework.errors_impl.InvalidArgumentError: indices[0,0] = 14 is not in [0, 10)"
    )
    plain = "ValueError: Expected input batch_size (8) to match target batch_size (7).\n"
    assert learning.pasted_line(plain) == learning.bare_line(plain)


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # an odd size halved and doubled back (Keras 3 Concatenate, torch.cat)
        ("ValueError: A `Concatenate` layer requires inputs with matching shapes except for the concatenation "
         "axis. Received: input_shape=[(None, 18, 18, 8), (None, 19, 19, 8)]", "merge:sizes_one_apart"),
        ("RuntimeError: Sizes of tensors must match except in dimension 1. Expected size 14 but got size 15 for "
         "tensor number 1 in the list.", "merge:sizes_one_apart"),
        # what two unpadded 3x3 convolutions crop
        ("ValueError: A `Concatenate` layer requires inputs with matching shapes except for the concatenation "
         "axis. Received: input_shape=[(None, 36, 36, 8), (None, 40, 40, 8)]", "merge:sizes_small_even_gap"),
        # branches downsampled a different number of times
        ("ValueError: A `Concatenate` layer requires inputs with matching shapes except for the concatenation "
         "axis. Received: input_shape=[(None, 24, 24, 8), (None, 6, 6, 8)]", "merge:sizes_whole_factor"),
    ],
)
def test_how_far_apart_two_joined_maps_are(line: str, expected: str) -> None:
    got = features(line + "\n")
    assert expected in got
    assert len({f for f in got if f.startswith("merge:")}) == 1


def _example(family: str, cause: str, note: str) -> dict[str, str]:
    import yaml

    data = yaml.safe_load((ROOT / "rules" / "families" / f"{family}.yaml").read_text())
    return next(e for e in data["examples"]["match"] if e["cause"] == cause and note in e.get("note", ""))


@pytest.mark.parametrize(
    ("family", "cause", "note", "words"),
    [
        ("torch-loss-batch-size", "layer_definition", "view", "torch.flatten(x, 1)"),
        ("torch-loss-batch-size", "layer_combination", "hidden state", "h[-1]"),
        ("torch-loss-batch-size", "loss_label_mismatch", "one-hot", "argmax(1)"),
        ("keras-concatenate-shapes", "layer_definition", "", "padding='same'"),
        ("keras-concatenate-shapes", "data_preprocessing", "", "multiple of 2"),
        ("torch-mha-shapes", "input_pipeline", "", "key_padding_mask"),
    ],
)
def test_the_fix_follows_the_numbers_that_decided_the_cause(family: str, cause: str, note: str, words: str) -> None:
    from diagnoser.engine import diagnose

    ex = _example(family, cause, note)
    answer = diagnose(ex["text"], summary=ex.get("summary"), source=ex.get("source")).to_dict()
    top = answer["tracebacks"][-1]["diagnoses"][0]
    assert top["cause"] == cause
    assert words in top["fix"]
