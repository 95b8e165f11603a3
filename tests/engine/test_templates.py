"""The template audit (corpus/templates.yaml, written from the libraries' source) holds: every shape or label
template is recognised, as a bare line and inside a traceback, by exactly one family, and no shape family claims
a non-shape look-alike."""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "corpus"))

import template_probe  # noqa: E402

from diagnoser.engine.families import default_families  # noqa: E402


def test_every_audited_template_is_recognised_and_no_look_alike_is_claimed():
    templates = yaml.safe_load(template_probe.DEFAULT.read_text(encoding="utf-8"))["templates"]
    results = [template_probe.probe(default_families(), t) for t in templates]
    problems = [(r["id"], r["status"], r["family"]) for r in results if r["status"] in template_probe.PROBLEMS]
    assert not problems
    assert sum(r["status"] == "ok" for r in results) >= 300
