"""`diagnoser rules test`: every family answers its own examples, and a broken family is reported, not loaded."""

import shutil
from pathlib import Path

from click.testing import CliRunner

from diagnoser.cli import cli
from diagnoser.engine.families import SHAPE_CAUSES, default_families_dir, known_causes
from diagnoser.engine.selftest import run


def test_every_shipped_family_answers_its_examples_and_the_fixes_and_weights_lint():
    summary = run()
    assert summary.families >= 100
    assert [f"{f.family}: {f.problem}" for f in summary.failures] == []


def test_the_taxonomy_has_the_six_shape_causes_and_other():
    assert set(SHAPE_CAUSES) == {
        "data_preprocessing",
        "layer_definition",
        "input_pipeline",
        "input_layer",
        "layer_combination",
        "loss_label_mismatch",
    }
    assert "other" in known_causes(default_families_dir())


def _copy(tmp_path: Path) -> Path:
    d = tmp_path / "families"
    shutil.copytree(default_families_dir(), d)
    for beside in ("taxonomy.yaml", "fixes.yaml", "weights.json"):  # what a family folder is read with
        shutil.copy(default_families_dir().parent / beside, tmp_path / beside)
    return d


def test_it_lists_every_malformed_family_at_once(tmp_path):
    d = _copy(tmp_path)
    (d / "broken-one.yaml").write_text(
        "id: broken-one\ntitle: x\nlibrary: keras\ndescription: d\ncheck: rank\nsite: layer_input\n"
        "causes: [nope]\nmatch: {patterns: ['(unclosed']}\n"
    )
    (d / "broken-two.yaml").write_text("id: wrong-name\ntitle: y\n")
    summary = run(str(d))
    text = "\n".join(f"{f.family}: {f.problem}" for f in summary.failures)
    assert "broken-one" in text and "wrong-name" in text or "broken-two" in text
    assert len(summary.failures) >= 2


def test_it_catches_catastrophic_backtracking(tmp_path):
    d = _copy(tmp_path)
    (d / "slow-family.yaml").write_text(
        "id: slow-family\ntitle: slow\nlibrary: keras\ndescription: d\ncheck: rank\nsite: layer_input\n"
        "causes: [data_preprocessing]\nreferences: [x]\n"
        "match: {patterns: ['(\\w+\\s?)+$']}\n"
        "examples: {match: [{text: 'ValueError: aaa', cause: data_preprocessing}], "
        "no_match: [{text: 'ValueError: b!'}]}\n"
    )
    summary = run(str(d))
    assert any(f.family == "slow-family" for f in summary.failures), summary.failures


def test_the_cli_runs_the_same_checks():
    result = CliRunner().invoke(cli, ["rules", "test"])
    assert result.exit_code == 0, result.output
    assert "all passed" in result.output
    listing = CliRunner().invoke(cli, ["rules", "list", "--library", "torch"])
    assert listing.exit_code == 0
    assert "torch-matmul-shapes" in listing.output and "keras-input-spec-rank" not in listing.output


def test_the_rules_readme_holds_the_vocabulary_as_the_code_defines_it():
    from diagnoser.engine.vocabulary import markdown

    readme = (default_families_dir().parent / "README.md").read_text(encoding="utf-8")
    assert readme.endswith(markdown()), "regenerate: diagnoser rules vocabulary (the tables at the end of rules/README.md)"
