"""Rules are data with their own examples: all pass, and the linter catches broken rules."""

import shutil
from pathlib import Path

from diagnoser.engine.rulecheck import run_all
from diagnoser.engine.rules import default_rules_dir, load_rules


def test_every_shipped_rule_passes_its_examples_and_the_lint():
    ruleset, failures = run_all()
    assert ruleset is not None
    assert failures == []
    for rule in ruleset.rules:
        assert rule.examples_match and rule.examples_no_match, rule.id


def test_the_taxonomy_has_the_six_shape_causes():
    causes = load_rules().causes
    shape = {c.id for c in causes.values() if c.shape}
    assert shape == {
        "data_preprocessing",
        "layer_definition",
        "input_pipeline",
        "input_layer",
        "layer_combination",
        "loss_label_mismatch",
    }
    assert all(c.description for c in causes.values())


def _copy_rules(tmp_path: Path) -> Path:
    d = tmp_path / "rules"
    shutil.copytree(default_rules_dir(), d)
    return d


def test_it_lists_every_malformed_rule_at_once(tmp_path):
    d = _copy_rules(tmp_path)
    (d / "broken-one.yaml").write_text(
        "id: broken-one\ntitle: x\nmatch: {pattern: '(unclosed'}\ncandidates: [{cause: nope, explanation: a, fix: b}]\n"
    )
    (d / "broken-two.yaml").write_text("id: wrong-name\ntitle: y\nmatch: {pattern: 'x'}\n")
    _, failures = run_all(str(d))
    text = "\n".join(f"{f.rule}: {f.problem}" for f in failures)
    assert "does not compile" in text
    assert "unknown cause 'nope'" in text
    assert "must equal the file name" in text
    assert "examples.match" in text


def test_it_catches_catastrophic_backtracking(tmp_path):
    d = _copy_rules(tmp_path)
    (d / "slow-rule.yaml").write_text(
        "id: slow-rule\ntitle: slow\nmatch: {pattern: '(\\w+\\s?)+$'}\n"
        "candidates: [{cause: data_preprocessing, explanation: a, fix: b}]\n"
        "examples: {match: [{text: 'ValueError: aaa'}], no_match: [{text: 'ValueError: b'}]}\n"
    )
    _, failures = run_all(str(d))
    assert any(f.rule == "slow-rule" and "backtrack" in f.problem for f in failures)


def test_a_rule_example_that_stops_matching_fails_the_check(tmp_path):
    d = _copy_rules(tmp_path)
    p = d / "torch-batchnorm-batch-of-one.yaml"
    p.write_text(p.read_text().replace("cause: input_pipeline\n  no_match", "cause: data_preprocessing\n  no_match"))
    _, failures = run_all(str(d))
    assert any(f.rule == "torch-batchnorm-batch-of-one" for f in failures)
