"""What `diagnoser rules test` runs: every family against its own examples (recognition and the cause the engine
answers), the fixes and the weights linted against the features and the facts they name.

One run lists every failure at once, like semgrep's rule tests: a family's example says what text (with which
summary and script) must be recognised, with which facts, and which cause a correct engine answers for it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from diagnoser.engine.answer import diagnose
from diagnoser.engine.explain import _TEMPLATE, default_fixes
from diagnoser.engine.families import SHAPE_CAUSES, FamilySet, default_families_dir, known_causes
from diagnoser.engine.familycheck import Failure, run_all
from diagnoser.engine.model import default_weights
from diagnoser.engine.vocabulary import TERMS

# The names a fix template may quote besides the vocabulary's (explain.render_facts makes them).
DERIVED = {
    "layer_kind", "received_data", "received_plus_channel", "received_sample", "received_sample_plus_channel",
    "received_sample_dims", "received_channels_last", "received_channels_first", "received_squeezed",
    "expected_sample", "expected_data", "expected_hw", "in_features_given", "in_features_taken", "out_features",
    "target_width", "output_units", "output_layer", "model_input", "fed_x", "classes", "classes_needed",
}


@dataclass
class Summary:
    families: int
    examples: int
    failures: list[Failure]
    version: str


def check_causes(families: FamilySet) -> list[Failure]:
    """Each match example must be answered with its labelled cause (with its own summary and script)."""
    failures = []
    for family in families.families:
        for n, example in enumerate(family.examples_match, 1):
            want = example.get("cause")
            if not want:
                continue
            result = diagnose(str(example["text"]), summary=example.get("summary"), source=example.get("source"),
                              families=families)
            last = result.last
            got = last.diagnoses[0].cause if last and last.diagnoses else None
            if got != want and (want in SHAPE_CAUSES or got in SHAPE_CAUSES):
                failures.append(Failure(family.id, f"match example {n}: the engine answers {got}, labelled {want}"))
    return failures


def lint_fixes(causes: set[str]) -> list[Failure]:
    failures = []
    fixes = default_fixes()
    for cause in SHAPE_CAUSES:
        if not any(f.cause == cause and not f.when and not f.any for f in fixes):
            failures.append(Failure("fixes", f"no default fix for {cause}"))
    for fix in fixes:
        if fix.cause not in causes:
            failures.append(Failure("fixes", f"{fix.id}: unknown cause {fix.cause}"))
        for text in (fix.title, fix.explanation, fix.fix, fix.fix_code, fix.clause):
            for m in _TEMPLATE.finditer(text or ""):
                if m.group(1) not in TERMS and m.group(1) not in DERIVED:
                    failures.append(Failure("fixes", f"{fix.id}: {{{m.group(1)}}} is neither a fact nor derived"))
    return failures


def lint_weights() -> list[Failure]:
    weights = default_weights()
    failures = []
    if weights.version == "unfitted":
        return [Failure("weights", "rules/weights.json is missing: run python corpus/fit.py")]
    for name in weights.weights:
        if not re.fullmatch(r"[\w:=&.+<>*/-]+", name):
            failures.append(Failure("weights", f"feature {name!r} is not a feature name"))
    return failures


def run(directory: str | None = None) -> Summary:
    families, failures = run_all(directory)
    if families is None:
        return Summary(0, 0, failures, "-")
    folder = Path(directory) if directory else default_families_dir()
    failures += check_causes(families)
    failures += lint_fixes(known_causes(folder))
    failures += lint_weights()
    examples = sum(len(f.examples_match) + len(f.examples_no_match) for f in families.families)
    return Summary(len(families.families), examples, failures, families.version)
