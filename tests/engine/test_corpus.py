"""The engine against labelled real tracebacks: the dev corpus and the fixtures this repo generated."""

import collections

from diagnoser.engine import diagnose
from diagnoser.engine.families import SHAPE_CAUSES

SHAPE = set(SHAPE_CAUSES)


def score(records, with_summary=True, with_source=False):
    right = positives = false_pos = 0
    misses = []
    for rec in records:
        if str(rec.get("notes", "")).startswith("SILENT:"):
            continue
        summary = rec.get("stdout_summary") if with_summary else None
        source = (rec.get("snippet") or rec.get("code_excerpt")) if with_source else None
        summary = summary or rec.get("model_summary") if with_summary else None
        res = diagnose(
            rec.get("stderr") or rec.get("traceback") or "", summary=summary or None, source=source or None
        ).to_dict()
        tbs = res["tracebacks"]
        got = tbs[-1]["diagnoses"] if tbs else []
        top = got[0]["cause"] if got else None
        want = rec["label_cause"]
        if want in SHAPE:
            positives += 1
            right += top == want
            if top != want:
                misses.append((rec["id"], want, top))
        elif top in SHAPE:
            false_pos += 1
            misses.append((rec["id"], want, top))
    return right / max(positives, 1), false_pos, misses


def test_dev_corpus_top1_is_at_least_90_percent_with_no_false_positive(corpus):
    top1, fp, misses = score(corpus)
    assert top1 >= 0.90, misses
    assert fp == 0, misses


def test_dev_corpus_without_summaries_still_scores(corpus):
    top1, fp, misses = score(corpus, with_summary=False)
    assert top1 >= 0.85, misses
    assert fp == 0


def test_non_shape_errors_never_get_a_shape_cause(corpus):
    for rec in corpus:
        if rec["label_cause"] in ("other", "none"):
            res = diagnose(rec["stderr"]).to_dict()
            causes = [d["cause"] for t in res["tracebacks"] for d in t["diagnoses"]]
            assert not (set(causes) & SHAPE), (rec["id"], causes)


# The floors below guard against regressions; they are not the goals. These fixtures are our own runs and are
# fitted on, so they say little about tracebacks the engine has never seen: `python corpus/evaluate.py` measures
# that (leave-one-version-out and leave-one-architecture-out), and README.md quotes its figures.


def test_generated_real_fixtures_score_well(real_cases):
    # As the client sends them: traceback, summary and the script's source.
    top1, fp, misses = score(real_cases, with_source=True)
    assert fp == 0, misses
    assert top1 >= 0.88, misses


def test_public_tracebacks_from_other_versions_score_well(public_cases):
    # Pasted by users of Keras 1/2, tf.keras, TF1 and PyTorch 1.x: wordings this machine cannot produce. Never
    # fitted on: a check on the mechanism (recognition, wrappers, no false alarm), measured at 0.613 with the
    # summaries when the floor was first set, and at 0.581 after the fourth corpus generation, which moved the
    # corpus's priors (leave-one-architecture-out on the earlier records rose 0.821 -> 0.847): the floor guards
    # against a broken mechanism, not the ranking, which is chosen on our own folds only.
    top1, fp, misses = score(public_cases)
    assert fp == 0, misses
    assert top1 >= 0.55, misses


def test_the_same_fault_groups_together_across_auto_numbered_layers():
    a = 'ValueError: Input 0 of layer "conv2d" is incompatible with the layer: expected min_ndim=4, found ndim=3. Full shape received: (8, 28, 28)'
    b = a.replace('"conv2d"', '"conv2d_14"')
    fa = diagnose(a).tracebacks[-1].diagnoses[0].fingerprint
    fb = diagnose(b).tracebacks[-1].diagnoses[0].fingerprint
    assert fa == fb


def test_frameworks_are_named(corpus):
    seen = collections.Counter(diagnose(r["stderr"]).tracebacks[-1].framework for r in corpus if r["exc_type"])
    assert {"keras3", "tf_keras2", "torch"} <= set(seen)


def test_keras3_on_torch_and_jax_backends_and_more_torch_score_well(backend_cases):
    # tests/fixtures/real2: Keras 3 on the PyTorch and JAX backends, validation/map/collate faults.
    top1, fp, misses = score(backend_cases)
    assert fp == 0, misses
    assert top1 >= 0.75, misses
    top1_src, _, misses_src = score(backend_cases, with_source=True)
    assert top1_src >= 0.8, misses_src


def test_what_the_client_saw_fed_separates_data_from_model_faults():
    """The client's `inputs` (shapes only) are evidence the traceback lacks."""
    msg = 'ValueError: Input 0 of layer "conv2d" is incompatible with the layer: expected min_ndim=4, found ndim=3. Full shape received: (None, 28, 28)'
    unbatched = {
        "fit": {
            "x": {
                "kind": "tf.data.Dataset",
                "element": [{"shape": [28, 28, 1], "dtype": "float32"}, {"shape": [], "dtype": "int64"}],
            }
        }
    }
    top = diagnose(msg.replace("(None, 28, 28)", "(28, 28, 1)"), inputs=unbatched).last.diagnoses[0]
    assert top.cause == "input_pipeline"
    assert any(e.source == "fed" and "never batched" in e.text for e in top.evidence)
    arrays = {
        "fit": {
            "x": {"shape": [64, 28, 28], "dtype": "float32"},
            "y": {"shape": [64], "dtype": "int64"},
            "batch_size": 16,
        }
    }
    # arrays that reached the conv unchanged: the data is as it was fed, so a wrongly declared input is less likely
    # and data lacking its channel axis more (a conv placed on data of another kind stays possible: the message
    # alone cannot tell images from a sequence)
    alone = {d.cause: d.confidence for d in diagnose(msg).last.diagnoses}
    fed = diagnose(msg, inputs=arrays).last.diagnoses
    with_fed = {d.cause: d.confidence for d in fed}
    assert with_fed["data_preprocessing"] > 1.5 * alone.get("data_preprocessing", 0.0)
    assert with_fed.get("input_layer", 0.0) < alone["input_layer"]
    assert any(e.source == "fed" and "reached the layer unchanged" in e.text for e in fed[0].evidence)
    assert diagnose(msg, inputs={"nonsense": 3}).last.diagnoses  # malformed inputs are ignored, never an error
