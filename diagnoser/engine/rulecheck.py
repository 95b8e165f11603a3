"""Check every rule against its own examples, and lint the rule set: what `diagnoser rules test` runs.

Like `promtool test rules` and semgrep's rule tests: a rule carries tracebacks it must match (with the
cause, layer and fix text they must produce) and near-misses it must not, and one run lists every
failure at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from diagnoser.engine.diagnose import diagnose
from diagnoser.engine.rules import REGEX_TIMEOUT, Rule, RuleError, RuleSet, load_rules

# Inputs that make backtracking-prone patterns explode; a sound pattern answers each in microseconds.
ADVERSARIAL = [
    "a" * 5000 + "!",
    "word " * 3000 + "!",
    "x" * 5000,
    "a" * 20000,
    " " * 20000,
    "(" * 5000 + "None, " * 3000,
    "Input 0 of layer " + "x" * 20000,
    "expected shape=(" + "None, " * 5000,
    "[" + "1," * 10000,
    "'" * 10000,
    "\n" * 10000,
]


@dataclass
class Failure:
    rule: str
    problem: str


def lint(ruleset: RuleSet) -> list[Failure]:
    failures: list[Failure] = []
    for rule in ruleset.rules:
        for text in ADVERSARIAL:
            t0 = time.perf_counter()
            try:
                rule.pattern.search(text, timeout=REGEX_TIMEOUT * 4)
            except TimeoutError:
                failures.append(Failure(rule.id, f"pattern backtracks catastrophically on {text[:30]!r}..."))
                break
            if time.perf_counter() - t0 > REGEX_TIMEOUT:
                failures.append(
                    Failure(rule.id, f"pattern is slow ({time.perf_counter() - t0:.3f}s) on {text[:30]!r}...")
                )
                break
        if rule.literals:
            for i, ex in enumerate(rule.examples_match):
                if not any(lit in ex["text"] for lit in rule.literals):
                    failures.append(
                        Failure(
                            rule.id, f"match example {i + 1} holds none of the literals: the prefilter would skip it"
                        )
                    )
    return failures


def check_examples(ruleset: RuleSet, rule: Rule) -> list[Failure]:
    """A match example must have this rule's diagnosis first, with the cause, layer and fix it names."""
    failures: list[Failure] = []
    for i, ex in enumerate(rule.examples_match):
        res = diagnose(ex["text"], summary=ex.get("summary"), source=ex.get("source"), rules=ruleset)
        last = res.last
        got = last.diagnoses if last else []
        if not got or got[0].rule != rule.id:
            first = f"{got[0].rule} ({got[0].cause})" if got else "nothing"
            failures.append(Failure(rule.id, f"match example {i + 1}: expected this rule first, got {first}"))
            continue
        top = got[0]
        if ex.get("cause") and top.cause != ex["cause"]:
            failures.append(Failure(rule.id, f"match example {i + 1}: cause {top.cause}, expected {ex['cause']}"))
        if ex.get("layer") is not None and (top.layer or "") != ex["layer"]:
            failures.append(Failure(rule.id, f"match example {i + 1}: layer {top.layer!r}, expected {ex['layer']!r}"))
        if ex.get("fix_contains") and ex["fix_contains"] not in f"{top.fix}\n{top.fix_code or ''}":
            failures.append(Failure(rule.id, f"match example {i + 1}: fix lacks {ex['fix_contains']!r}: {top.fix!r}"))
    for i, ex in enumerate(rule.examples_no_match):
        res = diagnose(ex["text"], summary=ex.get("summary"), source=ex.get("source"), rules=ruleset)
        for tb in res.tracebacks:
            if any(d.rule == rule.id for d in tb.diagnoses):
                failures.append(Failure(rule.id, f"no_match example {i + 1} matched"))
    return failures


def run_all(directory: str | None = None) -> tuple[RuleSet | None, list[Failure]]:
    try:
        ruleset = load_rules(directory)
    except RuleError as exc:
        return None, [Failure(p.split(":", 1)[0], p.split(":", 1)[-1].strip()) for p in exc.problems]
    failures = lint(ruleset)
    for rule in ruleset.rules:
        failures += check_examples(ruleset, rule)
    return ruleset, failures
