"""Load, validate and match the rules in `rules/`: one YAML file per rule, named by its id.

A rule names the literals its message must contain (a cheap prefilter: DESIGN.md measured `regex` on
every rule to be 8-23x slower), a regex with named groups run on the core message only, and candidate
causes with conditions on the facts. Validation collects every problem of every rule at once, so a
broken rule set is reported whole, never one error at a time.
"""

from __future__ import annotations

import ast
import hashlib
import operator
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import regex
import yaml

REGEX_TIMEOUT = 0.05  # seconds per rule and message: a pathological message can't stall the engine
MAX_MATCH_CHARS = 64 * 1024

RULE_KEYS = {"id", "title", "description", "match", "candidates", "examples", "references"}
MATCH_KEYS = {"exceptions", "literals", "pattern", "frameworks", "flags"}
CANDIDATE_KEYS = {
    "cause",
    "score",
    "require",
    "prefer",
    "title",
    "explanation",
    "fix",
    "fix_code",
    "key",
    "layer",
    "expected",
}
CONDITION_KEYS = {
    "phase",
    "batch",
    "framework",
    "layer_kind",
    "prev_kind",
    "first_layer_kind",
    "exception",
    "relation",
    "not_relation",
    "layer_numbered",
    "layer_is_model",
    "layer_is_first",
    "in_loss",
    "in_forward",
    "has_summary",
    "rank_delta",
    "received_rank",
    "function",
    "file",
    "source",
    "node",
    "message",
    "fact",
    "not",
    "any",
    "has_fact",
    "expr",
    "has_fed",
}
EXAMPLE_KEYS = {"text", "summary", "source", "cause", "layer", "fix_contains", "note"}


class RuleError(Exception):
    """A rule file that cannot be used; `problems` lists every problem found."""

    def __init__(self, problems: list[str]):
        super().__init__("\n".join(problems))
        self.problems = problems


@dataclass
class Preference:
    when: dict[str, Any]
    weight: float
    why: str


@dataclass
class Candidate:
    cause: str
    score: float
    require: dict[str, Any]
    prefer: list[Preference]
    explanation: str
    fix: str
    fix_code: str | None
    title: str | None
    key: str
    layer: str | None
    expected: str | None = None  # what the layer needs, when the candidate can say it better than the message


@dataclass
class Rule:
    id: str
    title: str
    description: str
    exceptions: frozenset[str]
    literals: tuple[str, ...]
    pattern: Any  # regex.Pattern
    frameworks: frozenset[str]
    candidates: list[Candidate]
    examples_match: list[dict[str, Any]]
    examples_no_match: list[dict[str, Any]]
    path: str

    def search(self, message: str) -> dict[str, str | None] | None:
        try:
            m = self.pattern.search(message[:MAX_MATCH_CHARS], timeout=REGEX_TIMEOUT)
        except TimeoutError:
            return None
        return None if m is None else m.groupdict()


@dataclass
class Cause:
    id: str
    name: str
    description: str
    shape: bool


@dataclass
class RuleSet:
    rules: list[Rule]
    causes: dict[str, Cause]
    version: str
    _by_literal: dict[str, list[Rule]] = field(default_factory=dict)
    _no_literal: list[Rule] = field(default_factory=list)

    def __post_init__(self) -> None:
        for rule in self.rules:
            if rule.literals:
                for lit in rule.literals:
                    self._by_literal.setdefault(lit, []).append(rule)
            else:
                self._no_literal.append(rule)

    def candidates_for(self, message: str, exc_type: str) -> Iterable[Rule]:
        """Rules one of whose literals occurs in the message: the only ones worth a regex.

        A rule lists one literal per alternative of its pattern, so any one of them suffices.
        """
        seen: set[str] = set()
        window = message[:MAX_MATCH_CHARS]
        for lit, rules in self._by_literal.items():
            if lit in window:
                for rule in rules:
                    if rule.id not in seen and (not rule.exceptions or not exc_type or exc_type in rule.exceptions):
                        seen.add(rule.id)
                        yield rule
        for rule in self._no_literal:
            if not rule.exceptions or not exc_type or exc_type in rule.exceptions:
                yield rule


def default_rules_dir() -> Path:
    env = os.environ.get("DIAGNOSER_RULES_DIR")
    if env:
        return Path(env)
    repo = Path(__file__).resolve().parents[2] / "rules"
    if (repo / "taxonomy.yaml").exists():
        return repo
    return Path(str(resources.files("diagnoser._rules")))


def _engine_version() -> str:
    """Engine code changes diagnoses too, so the rule-set version covers it."""
    from diagnoser import __version__

    return __version__


def load_causes(directory: Path) -> dict[str, Cause]:
    data = yaml.safe_load((directory / "taxonomy.yaml").read_text(encoding="utf-8"))
    causes = {}
    for item in data.get("causes", []):
        causes[item["id"]] = Cause(
            item["id"], item["name"], item["description"].strip(), bool(item.get("shape", False))
        )
    return causes


def load_rules(directory: Path | str | None = None, *, strict: bool = True) -> RuleSet:
    """Load every rule; with strict, any problem raises RuleError listing all problems."""
    d = Path(directory) if directory else default_rules_dir()
    causes = load_causes(d)
    rules: list[Rule] = []
    problems: list[str] = []
    digest = hashlib.sha256(_engine_version().encode())
    for path in sorted(d.glob("*.yaml")):
        if path.name in ("taxonomy.yaml", "fixes.yaml"):
            continue
        raw = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + raw)
        try:
            data = yaml.safe_load(raw)
        except yaml.YAMLError as exc:
            problems.append(f"{path.name}: not valid YAML: {exc}")
            continue
        rule, errs = _build_rule(data, path, causes)
        problems += errs
        if rule is not None and not errs:
            rules.append(rule)
    ids = [r.id for r in rules]
    for rid in {i for i in ids if ids.count(i) > 1}:
        problems.append(f"{rid}: duplicate rule id")
    if problems and strict:
        raise RuleError(problems)
    return RuleSet(rules=rules, causes=causes, version=digest.hexdigest()[:12])


def _build_rule(data: Any, path: Path, causes: dict[str, Cause]) -> tuple[Rule | None, list[str]]:
    name = path.stem
    errs: list[str] = []
    if not isinstance(data, dict):
        return None, [f"{path.name}: a rule is a mapping"]
    for k in set(data) - RULE_KEYS:
        errs.append(f"{name}: unknown key {k!r}")
    rid = data.get("id")
    if rid != name:
        errs.append(f"{name}: id {rid!r} must equal the file name {name!r}")
    m = data.get("match") or {}
    if not isinstance(m, dict):
        return None, errs + [f"{name}: match must be a mapping"]
    for k in set(m) - MATCH_KEYS:
        errs.append(f"{name}: unknown key match.{k}")
    pattern_src = m.get("pattern")
    pattern = None
    if not isinstance(pattern_src, str) or not pattern_src.strip():
        errs.append(f"{name}: match.pattern is required")
    else:
        flags = regex.V0
        for f in m.get("flags", []) or []:
            flags |= {"ignorecase": regex.IGNORECASE, "dotall": regex.DOTALL, "multiline": regex.MULTILINE}.get(f, 0)
        try:
            pattern = regex.compile(pattern_src.strip(), flags)
        except regex.error as exc:
            errs.append(f"{name}: pattern does not compile: {exc}")
    literals = tuple(m.get("literals") or ())
    if not all(isinstance(x, str) and x for x in literals):
        errs.append(f"{name}: literals must be non-empty strings")
    cands: list[Candidate] = []
    for i, c in enumerate(data.get("candidates") or []):
        where = f"{name}: candidates[{i}]"
        if not isinstance(c, dict):
            errs.append(f"{where}: must be a mapping")
            continue
        for k in set(c) - CANDIDATE_KEYS:
            errs.append(f"{where}: unknown key {k!r}")
        cause = c.get("cause")
        if cause not in causes:
            errs.append(f"{where}: unknown cause {cause!r} (see rules/taxonomy.yaml)")
        for k in ("explanation", "fix"):
            if not isinstance(c.get(k), str) or not c.get(k, "").strip():
                errs.append(f"{where}: {k} is required")
        require = c.get("require") or {}
        errs += [f"{where}: require: {e}" for e in validate_condition(require)]
        prefs = []
        for j, p in enumerate(c.get("prefer") or []):
            if not isinstance(p, dict) or "when" not in p or "weight" not in p:
                errs.append(f"{where}: prefer[{j}] needs when and weight")
                continue
            errs += [f"{where}: prefer[{j}]: {e}" for e in validate_condition(p["when"])]
            prefs.append(Preference(p["when"], float(p["weight"]), str(p.get("why", "")).strip()))
        cands.append(
            Candidate(
                cause=str(cause),
                score=float(c.get("score", 0.5)),
                require=require,
                prefer=prefs,
                explanation=str(c.get("explanation", "")).strip(),
                fix=str(c.get("fix", "")).strip(),
                fix_code=(str(c["fix_code"]).strip() if c.get("fix_code") else None),
                title=c.get("title"),
                key=str(c.get("key") or f"{rid}:{cause}"),
                layer=c.get("layer"),
                expected=c.get("expected"),
            )
        )
    if not cands:
        errs.append(f"{name}: at least one candidate is required")
    ex = data.get("examples") or {}
    ex_match = ex.get("match") or []
    ex_no = ex.get("no_match") or []
    if not ex_match:
        errs.append(f"{name}: examples.match must hold at least one traceback")
    if not ex_no:
        errs.append(f"{name}: examples.no_match must hold at least one near-miss")
    for e in list(ex_match) + list(ex_no):
        if not isinstance(e, dict) or not isinstance(e.get("text"), str):
            errs.append(f"{name}: every example needs a text")
            continue
        for k in set(e) - EXAMPLE_KEYS:
            errs.append(f"{name}: example has unknown key {k!r}")
    if not data.get("title"):
        errs.append(f"{name}: title is required")
    if errs or pattern is None:
        return None, errs
    return (
        Rule(
            id=str(rid),
            title=str(data["title"]),
            description=str(data.get("description", "")).strip(),
            exceptions=frozenset(m.get("exceptions") or ()),
            literals=literals,
            pattern=pattern,
            frameworks=frozenset(m.get("frameworks") or ()),
            candidates=cands,
            examples_match=list(ex_match),
            examples_no_match=list(ex_no),
            path=str(path),
        ),
        [],
    )


def validate_condition(cond: Any) -> list[str]:
    if not isinstance(cond, dict):
        return ["a condition is a mapping"]
    errs = [f"unknown condition {k!r}" for k in set(cond) - CONDITION_KEYS]
    for k in ("not",):
        if k in cond:
            errs += validate_condition(cond[k])
    if "any" in cond:
        if not isinstance(cond["any"], list):
            errs.append("any takes a list of conditions")
        else:
            for c in cond["any"]:
                errs += validate_condition(c)
    if "expr" in cond:
        try:
            _parse_expr(cond["expr"])
        except ValueError as exc:
            errs.append(f"expr: {exc}")
    for k in ("function", "file", "source", "node", "message"):
        if k in cond:
            try:
                regex.compile(cond[k])
            except regex.error as exc:
                errs.append(f"{k}: pattern does not compile: {exc}")
    return errs


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    return regex.compile(pattern, regex.MULTILINE)


def _search(pattern: str, text: str) -> bool:
    try:
        return _compiled(pattern).search(text[: 256 * 1024], timeout=REGEX_TIMEOUT) is not None
    except TimeoutError:
        return False


def _as_list(v: Any) -> list[Any]:
    return v if isinstance(v, list) else [v]


def holds(cond: dict[str, Any], facts: dict[str, Any]) -> bool:
    """Whether every clause of a condition holds for these facts. Unknown facts never satisfy a clause."""
    for key, want in cond.items():
        if key in ("phase", "batch", "framework", "layer_kind", "prev_kind", "first_layer_kind", "exception"):
            if facts.get(key) not in _as_list(want):
                return False
        elif key == "relation":
            if not set(_as_list(want)) & facts.get("relations", set()):
                return False
        elif key == "not_relation":
            if set(_as_list(want)) & facts.get("relations", set()):
                return False
        elif key in (
            "layer_numbered",
            "layer_is_model",
            "layer_is_first",
            "in_loss",
            "in_forward",
            "has_summary",
            "has_fed",
        ):
            if key not in facts or bool(facts[key]) != bool(want):
                return False
        elif key in ("rank_delta", "received_rank"):
            if facts.get(key) not in _as_list(want):
                return False
        elif key == "function":
            if not _search(want, facts.get("functions", "")):
                return False
        elif key == "file":
            if not _search(want, facts.get("files", "")):
                return False
        elif key in ("source", "node", "message"):
            if not _search(want, str(facts.get(key, ""))):
                return False
        elif key == "has_fact":
            if any(facts.get(name) in (None, "") for name in _as_list(want)):
                return False
        elif key == "fact":
            for name, pattern in want.items():
                if name not in facts or not _search(str(pattern), str(facts[name])):
                    return False
        elif key == "expr":
            if not evaluate(want, facts):
                return False
        elif key == "not":
            if holds(want, facts):
                return False
        elif key == "any":
            if not any(holds(c, facts) for c in want):
                return False
        else:
            return False
    return True


_TEMPLATE_RE = regex.compile(r"\{(\w+)(?:\|([^{}]*))?\}")


def render(template: str | None, facts: dict[str, Any]) -> str | None:
    """`{name}` is a fact; `{name|fallback}` reads naturally when the fact is unknown."""
    if template is None:
        return None

    def sub(m: Any) -> str:
        v = facts.get(m.group(1))
        if v is None or v == "":
            return m.group(2) if m.group(2) is not None else "?"
        return str(v)

    return str(_TEMPLATE_RE.sub(sub, template))


@lru_cache(maxsize=1)
def default_ruleset() -> RuleSet:
    """The shipped rules, loaded once per process."""
    return load_rules()


def __getattr__(name: str) -> Any:
    # RULESET_VERSION: a short hash of every rule file, recorded with each stored diagnosis so the
    # service knows which reports to re-diagnose when rules change. Computed on first use.
    if name == "RULESET_VERSION":
        return default_ruleset().version
    raise AttributeError(name)


_BINOPS = {
    ast.Add: operator.add,
    ast.Sub: operator.sub,
    ast.Mult: operator.mul,
    ast.FloorDiv: operator.floordiv,
    ast.Div: operator.floordiv,
    ast.Mod: operator.mod,
}
_CMPOPS = {
    ast.Eq: operator.eq,
    ast.NotEq: operator.ne,
    ast.Lt: operator.lt,
    ast.LtE: operator.le,
    ast.Gt: operator.gt,
    ast.GtE: operator.ge,
}


@lru_cache(maxsize=512)
def _parse_expr(text: str) -> ast.Expression:
    """Integer arithmetic on facts, e.g. `m1r * m1c == m2r`: the shape arithmetic rules need, nothing more."""
    try:
        tree = ast.parse(str(text), mode="eval")
    except SyntaxError as exc:
        raise ValueError(f"not an expression: {text!r}") from exc
    allowed = (
        ast.Expression,
        ast.BinOp,
        ast.Compare,
        ast.BoolOp,
        ast.And,
        ast.Or,
        ast.Name,
        ast.Load,
        ast.Constant,
        ast.UnaryOp,
        ast.Not,
        ast.USub,
        *_BINOPS,
        *_CMPOPS,
    )
    for node in ast.walk(tree):
        if not isinstance(node, allowed):
            raise ValueError(f"{type(node).__name__} is not allowed in {text!r}")
    return tree


def evaluate(text: str, facts: dict[str, Any]) -> bool:
    """False when a fact is missing or not an integer, or on division by zero."""
    try:
        return bool(_eval(_parse_expr(text).body, facts))
    except (ValueError, KeyError, ZeroDivisionError, TypeError):
        return False


def _eval(node: ast.AST, facts: dict[str, Any]) -> Any:
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Name):
        return int(facts[node.id])
    if isinstance(node, ast.UnaryOp):
        v = _eval(node.operand, facts)
        return -v if isinstance(node.op, ast.USub) else not v
    if isinstance(node, ast.BinOp):
        return _BINOPS[type(node.op)](_eval(node.left, facts), _eval(node.right, facts))
    if isinstance(node, ast.BoolOp):
        vals = (_eval(v, facts) for v in node.values)
        return all(vals) if isinstance(node.op, ast.And) else any(vals)
    if isinstance(node, ast.Compare):
        left = _eval(node.left, facts)
        for op, comp in zip(node.ops, node.comparators, strict=True):
            right = _eval(comp, facts)
            if not _CMPOPS[type(op)](left, right):
                return False
            left = right
        return True
    raise ValueError("unsupported")
