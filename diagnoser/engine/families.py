"""Message families: how each library builds an error message, as data (rules/families/*.yaml), and the matcher
that turns a message into what was checked, where, and with which operands.

A family is one check of one library, in every wording its versions used: Keras' InputSpec rank check from
Keras 1 ("Input 0 is incompatible with layer conv2d_1: expected ndim=4, found ndim=3") to Keras 3 ("Input 0 with
name 'x' of layer 'conv2d' is incompatible with the layer: expected min_ndim=4, found ndim=3. Full shape
received: (None, 28, 28)"). Its patterns name what the message printed with the names of engine.vocabulary;
it never names a cause. Finding candidates is flat in the number of families: one Aho-Corasick pass over the
message for every family's literals, then each candidate's patterns alone.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import ahocorasick
import regex
import yaml

from diagnoser.engine.normalise import OpSuffix, flatten, op_suffix
from diagnoser.engine.shapes import Shape, parse_shape
from diagnoser.engine.vocabulary import CHECKS, SITES, TERMS

REGEX_TIMEOUT = 0.05  # seconds per pattern and message: a pathological message cannot stall the engine
MAX_MATCH_CHARS = 64 * 1024

# Fragments a pattern may use by name, so every family reads shapes and names the same way.
MACROS = {
    "shape": r"(?:torch\.Size\(\s*|TensorShape\(\s*)?(?:\[\(|[\[(])[^\[\]()]{0,400}(?:\)\]|[\])])\)?",
    "dims": r"\d+(?:\s*x\s*\d+)+",
    "name": r"[\w./:-]+",
    "quote": r"[\"'`]?",
    "int": r"-?\d+",
}

FAMILY_KEYS = {"id", "title", "description", "references", "library", "check", "site", "causes", "match",
               "facts", "examples", "notes"}
MATCH_KEYS = {"exceptions", "literals", "patterns"}
PATTERN_KEYS = {"pattern", "check", "site", "facts"}
EXAMPLE_KEYS = {"text", "facts", "cause", "summary", "source", "fed", "note", "layer"}
SHAPE_CAUSES = ("data_preprocessing", "layer_definition", "input_pipeline", "input_layer", "layer_combination",
                "loss_label_mismatch")


def known_causes(folder: Path) -> set[str]:
    """Every cause id of rules/taxonomy.yaml (beside the families folder)."""
    taxonomy = folder.parent / "taxonomy.yaml"
    data = yaml.safe_load(taxonomy.read_text(encoding="utf-8")) if taxonomy.exists() else {}
    return {str(c["id"]) for c in (data or {}).get("causes", [])} | set(SHAPE_CAUSES)


class FamilyError(Exception):
    """Family files that cannot be used; `problems` lists every problem of every file."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass(frozen=True)
class Pattern:
    regex: Any  # regex.Pattern
    source: str
    check: str
    site: str
    facts: dict[str, Any]


@dataclass
class Family:
    id: str
    title: str
    description: str
    library: str
    causes: tuple[str, ...]
    exceptions: frozenset[str]
    literals: tuple[str, ...]
    patterns: tuple[Pattern, ...]
    examples_match: list[dict[str, Any]]
    examples_no_match: list[dict[str, Any]]
    references: tuple[str, ...]
    path: str


class TypedFacts:
    """Facts read by their vocabulary type: a shape is a tuple, an int is not a bool, a text is a str; anything else
    (or nothing) is None. Shared by one reading's facts and a traceback's merged ones."""

    facts: dict[str, Any]

    def shape(self, name: str) -> Shape | None:
        value = self.facts.get(name)
        return value if isinstance(value, tuple) else None

    def int(self, name: str) -> int | None:
        value = self.facts.get(name)
        return value if isinstance(value, int) and not isinstance(value, bool) else None

    def text(self, name: str) -> str | None:
        value = self.facts.get(name)
        return value if isinstance(value, str) else None


@dataclass
class Recognition(TypedFacts):
    """One family's reading of a message: what was checked, where, and the facts it printed (typed)."""

    family: Family
    check: str
    site: str
    facts: dict[str, Any]
    op: OpSuffix | None = None


@dataclass
class FamilySet:
    families: list[Family]
    version: str
    _automaton: Any = field(default=None, repr=False)
    _always: list[Family] = field(default_factory=list, repr=False)
    _rank: list[int] = field(default_factory=list, repr=False)  # a family's place in file order, by index

    def __post_init__(self) -> None:
        by_path = sorted(range(len(self.families)), key=lambda i: self.families[i].path)
        self._rank = [0] * len(self.families)
        for place, index in enumerate(by_path):
            self._rank[index] = place
        automaton = ahocorasick.Automaton()
        owners: dict[str, list[int]] = {}
        for index, family in enumerate(self.families):
            if not family.literals:
                self._always.append(family)
            for literal in family.literals:
                owners.setdefault(literal, []).append(index)
        for literal, indexes in owners.items():
            automaton.add_word(literal, tuple(indexes))
        if owners:
            automaton.make_automaton()
            self._automaton = automaton

    def candidates(self, lowered: str) -> list[Family]:
        """Families one of whose literals occurs in the (lower-cased, flattened) message, in file order."""
        found: set[int] = set()
        if self._automaton is not None:
            for _, indexes in self._automaton.iter(lowered):
                found.update(indexes)
        return [self.families[i] for i in sorted(found, key=self._rank.__getitem__)] + self._always

    def recognise(self, message: str, exception_type: str = "") -> list[Recognition]:
        """Every family that recognises `message` (the core message of one traceback), best pattern first."""
        flat = flatten(message)[:MAX_MATCH_CHARS]
        lowered = flat.lower()
        short = exception_type.rsplit(".", 1)[-1]
        suffix = op_suffix(flat)
        found = []
        for family in self.candidates(lowered):
            if family.exceptions and short and short not in family.exceptions:
                continue
            recognition = _match(family, flat, suffix)
            if recognition is not None:
                found.append(recognition)
        return found


def _match(family: Family, flat: str, suffix: OpSuffix | None) -> Recognition | None:
    for pattern in family.patterns:
        try:
            m = pattern.regex.search(flat, timeout=REGEX_TIMEOUT)
        except TimeoutError:
            continue
        if m is None:
            continue
        facts: dict[str, Any] = dict(pattern.facts)
        for name, value in m.groupdict().items():
            if value is None or name.startswith("_"):
                continue
            typed = typed_value(name, value)
            if typed is not None:
                facts.setdefault(name, typed)
        if suffix is not None:
            facts.setdefault("op", suffix.op)
            if suffix.node:
                facts.setdefault("node", suffix.node)
            if len(suffix.input_shapes) >= 2:
                for name, text in zip(("left", "right"), suffix.input_shapes[:2], strict=True):
                    shape = parse_shape(text)
                    if shape is not None:
                        facts.setdefault(name, shape)
        return Recognition(family=family, check=pattern.check, site=pattern.site, facts=facts, op=suffix)
    return None


_SPACED_SIZES_RE = re.compile(r"-?\d+(?:\s+-?\d+)+")


def typed_value(name: str, value: Any) -> Any:
    """A captured text as its vocabulary type: shapes parsed, integers read, names unquoted."""
    term = TERMS.get(name)
    if term is None:
        return None
    if term.kind == "shape":
        text = str(value).strip()
        if text and text[0] not in "([" and not text.startswith(("torch", "TensorShape")) and "," in text:
            text = f"[{text}]"  # "896,10" as TensorFlow prints inside its own brackets
        elif _SPACED_SIZES_RE.fullmatch(text):
            text = f"[{text}]"  # "64 3 7 7": torch 0.4's space-separated sizes
        return parse_shape(text)
    if term.kind == "int":
        try:
            return int(str(value).strip())
        except ValueError:
            return None
    return str(value).strip().strip("'\"`")


def default_families_dir() -> Path:
    env = os.environ.get("DIAGNOSER_FAMILIES_DIR")
    if env:
        return Path(env)
    checkout = Path(__file__).resolve().parents[2] / "rules" / "families"
    if checkout.is_dir():
        return checkout
    return Path(str(resources.files("diagnoser._rules"))) / "families"


def _expand(pattern: str) -> str:
    out = pattern
    for name, fragment in MACROS.items():
        out = out.replace("{" + name + "}", fragment)
    return out


def load_families(directory: Path | str | None = None, *, strict: bool = True) -> FamilySet:
    """Every family file of `directory`; with strict, any problem raises FamilyError listing them all."""
    folder = Path(directory) if directory else default_families_dir()
    problems: list[str] = []
    families: list[Family] = []
    digest = hashlib.sha256()
    causes = known_causes(folder)
    for path in sorted(folder.glob("*.yaml")):
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as error:
            problems.append(f"{path.name}: not valid YAML: {error}")
            continue
        family, errors = build_family(data, path, causes)
        problems += errors
        if family is not None and not errors:
            families.append(family)
    ids = [f.id for f in families]
    problems += [f"{i}: duplicate family id" for i in sorted({i for i in ids if ids.count(i) > 1})]
    if problems and strict:
        raise FamilyError(problems)
    return FamilySet(families=families, version=digest.hexdigest()[:12])


def build_family(data: Any, path: Path, known: set[str]) -> tuple[Family | None, list[str]]:
    name = path.stem
    if not isinstance(data, dict):
        return None, [f"{path.name}: a family is a mapping"]
    errors = [f"{name}: unknown key {k!r}" for k in sorted(set(data) - FAMILY_KEYS)]
    if data.get("id") != name:
        errors.append(f"{name}: id {data.get('id')!r} must equal the file name")
    check, site = data.get("check"), data.get("site")
    if check not in CHECKS:
        errors.append(f"{name}: check {check!r} is not one of {sorted(CHECKS)}")
    if site not in SITES:
        errors.append(f"{name}: site {site!r} is not one of {sorted(SITES)}")
    causes = tuple(data.get("causes") or ())
    for cause in causes:
        if cause not in known:
            errors.append(f"{name}: cause {cause!r} is not in rules/taxonomy.yaml")
    match = data.get("match") or {}
    if not isinstance(match, dict):
        return None, errors + [f"{name}: match must be a mapping"]
    errors += [f"{name}: unknown match key {k!r}" for k in sorted(set(match) - MATCH_KEYS)]
    literals = tuple(str(x) for x in match.get("literals") or ())
    errors += [f"{name}: literal {x!r} must be lower case (messages are matched lower-cased)"
               for x in literals if x != x.lower()]
    patterns: list[Pattern] = []
    for index, item in enumerate(match.get("patterns") or ()):
        spec = item if isinstance(item, dict) else {"pattern": item}
        errors += [f"{name}: pattern {index}: unknown key {k!r}" for k in sorted(set(spec) - PATTERN_KEYS)]
        source = str(spec.get("pattern") or "")
        try:
            compiled = regex.compile(_expand(source), regex.IGNORECASE)
        except regex.error as error:
            errors.append(f"{name}: pattern {index} does not compile: {error}")
            continue
        for group in compiled.groupindex:
            if not group.startswith("_") and group not in TERMS:
                errors.append(f"{name}: pattern {index}: group {group!r} is not in the vocabulary")
        p_check, p_site = spec.get("check", check), spec.get("site", site)
        if p_check not in CHECKS or p_site not in SITES:
            errors.append(f"{name}: pattern {index}: unknown check {p_check!r} or site {p_site!r}")
        facts = {**(data.get("facts") or {}), **(spec.get("facts") or {})}
        for key in facts:
            if key not in TERMS:
                errors.append(f"{name}: pattern {index}: fact {key!r} is not in the vocabulary")
        typed = {k: typed_value(k, v) for k, v in facts.items() if k in TERMS}
        patterns.append(Pattern(compiled, source, str(p_check), str(p_site), typed))
    if not patterns:
        errors.append(f"{name}: no patterns")
    examples = data.get("examples") or {}
    matches = list(examples.get("match") or [])
    no_matches = list(examples.get("no_match") or [])
    for example in matches + no_matches:
        if not isinstance(example, dict) or "text" not in example:
            errors.append(f"{name}: every example is a mapping with a text")
            continue
        errors += [f"{name}: example key {k!r} is unknown" for k in sorted(set(example) - EXAMPLE_KEYS)]
        for key in example.get("facts") or {}:
            if key not in TERMS:
                errors.append(f"{name}: example fact {key!r} is not in the vocabulary")
    for example in matches:
        if isinstance(example, dict) and literals:
            lowered = flatten(str(example.get("text", ""))).lower()
            if not any(lit in lowered for lit in literals):
                errors.append(f"{name}: no literal occurs in example {str(example.get('text'))[:60]!r}")
    for cause in causes:
        if not any(isinstance(e, dict) and e.get("cause") == cause for e in matches):
            errors.append(f"{name}: no example for its cause {cause}")
    family = Family(
        id=str(data.get("id") or name), title=str(data.get("title") or ""),
        description=str(data.get("description") or "").strip(), library=str(data.get("library") or ""),
        causes=causes, exceptions=frozenset(str(x) for x in match.get("exceptions") or ()), literals=literals,
        patterns=tuple(patterns), examples_match=matches, examples_no_match=no_matches,
        references=tuple(str(r) for r in data.get("references") or ()), path=str(path),
    )
    return family, errors


@lru_cache(maxsize=1)
def default_families() -> FamilySet:
    return load_families()
