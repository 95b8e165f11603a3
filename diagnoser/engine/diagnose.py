"""Rank candidate causes for each traceback and fill their explanation and fix from the facts.

Several causes often share one message ("expected ndim=4, found ndim=3" is a missing channel axis, an
unbatched dataset or a wrong Input). Every matching rule proposes candidates; each candidate's score is its
base plus the weights of the preferences whose conditions hold, and those conditions are the evidence
shown to the user. The best candidate per cause survives; the list is ranked best first.
"""

from __future__ import annotations

import hashlib
from typing import Any

from diagnoser.engine.extract import RawBlock, extract_blocks
from diagnoser.engine.facts import build_facts
from diagnoser.engine.parse import ParsedTraceback, parse_block
from diagnoser.engine.result import Diagnosis, DiagnosisResult, Evidence, TracebackResult
from diagnoser.engine.rules import Candidate, Preference, Rule, RuleSet, default_ruleset, holds, render
from diagnoser.engine.summary import ModelSummary, parse_summary

MAX_INPUT_CHARS = 8 * 1024 * 1024  # diagnose() holds its text in memory; `scan` streams bigger logs
BARE_TEXT_LIMIT = 4096
UNDECIDED_MARGIN = 0.1
_SUMMARY_KEYS = {"prev_kind", "layer_is_first", "has_summary"}
_FED_RELATIONS = {"received_is_fed_data", "fed_dataset_unbatched"}
_FRAME_KEYS = {"phase", "function", "file", "in_loss", "in_forward", "node"}


def coerce_text(text: str | bytes | None) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_INPUT_CHARS else text[-MAX_INPUT_CHARS:]


def diagnose(
    text: str | bytes | None,
    summary: str | None = None,
    source: str | None = None,
    *,
    inputs: Any = None,
    rules: RuleSet | None = None,
) -> DiagnosisResult:
    """Every traceback in `text`, in order, each with its ranked diagnoses. Never raises on any text.

    `inputs` is optional evidence from the client: shapes and dtypes of what fit/evaluate/predict received."""
    ruleset = rules or default_ruleset()
    body = coerce_text(text)
    blocks = extract_blocks(body)
    model = parse_summary(coerce_text(summary)) if summary else None
    src = coerce_text(source) if source else None
    if not blocks and body.strip() and len(body) <= BARE_TEXT_LIMIT:
        # A message pasted without "Type:" in front: kept only if a rule recognises it, so random text
        # never turns into a traceback.
        lines = body.strip().splitlines()
        pasted = diagnose_block(
            RawBlock(exception_line=lines[0], message_lines=lines[1:], bare=True), model, src, ruleset, inputs
        )
        return DiagnosisResult([pasted] if pasted.diagnoses else [])
    return DiagnosisResult([diagnose_block(b, model, src, ruleset, inputs) for b in blocks])


def diagnose_block(
    block: RawBlock, model: ModelSummary | None, source: str | None, ruleset: RuleSet, inputs: Any = None
) -> TracebackResult:
    tb = parse_block(block)
    return TracebackResult(
        exception_type=tb.exception_type,
        message=tb.message,
        framework=tb.framework,
        frames=tb.frames,
        diagnoses=rank(tb, model, source, ruleset, inputs),
        headline=_first_line(tb.core_message),
    )


def rank(
    tb: ParsedTraceback, model: ModelSummary | None, source: str | None, ruleset: RuleSet, inputs: Any = None
) -> list[Diagnosis]:
    scored: list[tuple[float, Diagnosis]] = []
    exc = tb.core_type if tb.core_type and ":" not in tb.core_type and " " not in tb.core_type else ""
    for rule in ruleset.candidates_for(tb.core_message, exc):
        if rule.frameworks and tb.framework not in rule.frameworks:
            continue
        groups = rule.search(tb.core_message)
        if groups is None:
            continue
        facts = build_facts(tb, groups, model, source, inputs)
        for cand in rule.candidates:
            if not holds(cand.require, facts):
                continue
            score = cand.score
            reasons: list[Preference] = []
            for pref in cand.prefer:
                if holds(pref.when, facts):
                    score += pref.weight
                    reasons.append(pref)
            scored.append((score, _make(rule, cand, facts, reasons, score, tb)))
    best: dict[str, tuple[float, Diagnosis]] = {}
    for score, d in scored:
        if d.cause not in best or score > best[d.cause][0]:
            best[d.cause] = (score, d)
    ranked = [d for _, d in sorted(best.values(), key=lambda sd: -sd[0])]
    _note_what_would_decide(ranked, model, source)
    return ranked


def _note_what_would_decide(ranked: list[Diagnosis], model: ModelSummary | None, source: str | None) -> None:
    """When two causes are nearly tied, say which missing evidence would separate them."""
    if len(ranked) < 2 or ranked[0].confidence - ranked[1].confidence >= UNDECIDED_MARGIN:
        return
    missing = [what for what, have in (("the model summary", model), ("the training script", source)) if not have]
    if not missing:
        return
    ranked[0].evidence.append(
        Evidence(
            "message",
            f"the message alone barely separates {ranked[0].cause} from {ranked[1].cause}; "
            f"{' and '.join(missing)} would decide",
        )
    )


def _make(
    rule: Rule, cand: Candidate, facts: dict[str, Any], reasons: list[Preference], score: float, tb: ParsedTraceback
) -> Diagnosis:
    layer = render(cand.layer, facts) if cand.layer else facts.get("layer")
    evidence = [Evidence("message", _first_line(tb.core_message))]
    for pref in reasons:
        if pref.why:
            evidence.append(Evidence(_evidence_source(pref.when), render(pref.why, facts) or pref.why))
    key = "|".join([cand.cause, cand.key, str(facts.get("layer_base") or "")])
    return Diagnosis(
        cause=cand.cause,
        confidence=max(0.05, min(0.97, score)),
        rule=rule.id,
        title=render(cand.title or rule.title, facts) or rule.title,
        explanation=render(cand.explanation, facts) or "",
        fix=render(cand.fix, facts) or "",
        fix_code=render(cand.fix_code, facts),
        layer=layer,
        expected=render(cand.expected, facts) if cand.expected else facts.get("expected"),
        received=facts.get("received"),
        evidence=evidence,
        fingerprint=hashlib.sha1(key.encode()).hexdigest()[:16],
    )


def _evidence_source(cond: dict[str, Any]) -> str:
    """Where a preference's evidence comes from: its own clauses first, then those nested in not/any."""
    nested: set[str] = set()
    for k in ("not", "any"):
        if k in cond:
            for c in cond[k] if isinstance(cond[k], list) else [cond[k]]:
                nested |= set(c)
    if "has_fed" in cond or set(_as_list(cond.get("relation"))) & _FED_RELATIONS:
        return "frame"  # what the client read from the fit/evaluate/predict call
    for keys in (set(cond), nested):
        if "source" in keys:
            return "code"
        if keys & _FRAME_KEYS:
            return "frame"
        if keys & _SUMMARY_KEYS:
            return "summary"
    return "message"


def _as_list(value: Any) -> list[Any]:
    return [] if value is None else value if isinstance(value, list) else [value]


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 400 else line[:397] + "..."
