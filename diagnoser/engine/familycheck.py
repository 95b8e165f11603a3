"""Check every family against its own examples and lint the set: the recognition half of `diagnoser rules test`.

Like semgrep's rule tests: a family carries tracebacks it must recognise, with the facts it must read from each,
and near-misses it must not; one run lists every failure of every family at once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from diagnoser.engine.extract import RawBlock, extract_blocks
from diagnoser.engine.families import REGEX_TIMEOUT, Family, FamilyError, FamilySet, load_families, typed_value
from diagnoser.engine.parse import ParsedTraceback, parse_block

# Inputs that make backtracking-prone patterns explode; a sound pattern answers each in microseconds.
ADVERSARIAL = [
    "a" * 5000 + "!", "word " * 3000 + "!", "x" * 20000, " " * 20000, "(" * 5000 + "None, " * 3000,
    "Input 0 of layer " + "x" * 20000, "expected shape=(" + "None, " * 5000, "[" + "1," * 10000, "'" * 10000,
    "shapes " + "[1, 2] vs. " * 3000, "size mismatch, m1: [" + "1 x " * 3000,
]


@dataclass
class Failure:
    family: str
    problem: str


def parsed_tracebacks(text: str) -> list[ParsedTraceback]:
    """The tracebacks of an example's text; a bare message line (pasted alone) counts as one."""
    blocks = extract_blocks(text)
    if not blocks and text.strip():
        lines = text.strip().splitlines()
        blocks = [RawBlock(exception_line=lines[0], message_lines=lines[1:], bare=True)]
    return [parse_block(b) for b in blocks]


def lint(families: FamilySet) -> list[Failure]:
    failures = []
    for family in families.families:
        for pattern in family.patterns:
            for text in ADVERSARIAL:
                started = time.perf_counter()
                try:
                    pattern.regex.search(text, timeout=REGEX_TIMEOUT * 4)
                except TimeoutError:
                    failures.append(Failure(family.id, f"pattern backtracks catastrophically on {text[:30]!r}..."))
                    break
                if time.perf_counter() - started > REGEX_TIMEOUT:
                    failures.append(Failure(family.id, f"pattern is slow on {text[:30]!r}..."))
                    break
    return failures


def _same(name: str, want: Any, got: Any) -> bool:
    typed = typed_value(name, want) if isinstance(want, str) else want
    if isinstance(typed, list):
        typed = tuple(typed)
    return bool(typed == got)


def check_family(family: Family, families: FamilySet) -> list[Failure]:
    failures = []
    for n, example in enumerate(family.examples_match, 1):
        readings = [
            r for tb in parsed_tracebacks(str(example["text"]))[-1:]
            for r in families.recognise(tb.core_message, tb.core_type) if r.family.id == family.id
        ]
        if not readings:
            failures.append(Failure(family.id, f"match example {n} is not recognised"))
            continue
        facts = readings[0].facts
        for name, want in (example.get("facts") or {}).items():
            if not _same(name, want, facts.get(name)):
                failures.append(Failure(family.id, f"match example {n}: {name} is {facts.get(name)!r}, "
                                                   f"expected {want!r}"))
    for n, example in enumerate(family.examples_no_match, 1):
        for tb in parsed_tracebacks(str(example["text"])):
            if any(r.family.id == family.id for r in families.recognise(tb.core_message, tb.core_type)):
                failures.append(Failure(family.id, f"no_match example {n} is recognised"))
    return failures


def run_all(directory: str | None = None) -> tuple[FamilySet | None, list[Failure]]:
    try:
        families = load_families(directory)
    except FamilyError as error:
        return None, [Failure("(load)", p) for p in error.problems]
    failures = lint(families)
    for family in families.families:
        failures += check_family(family, families)
    return families, failures
