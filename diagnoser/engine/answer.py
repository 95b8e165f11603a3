"""From a read traceback to ranked diagnoses: the evidence model names the causes, the facts explain and fix them.

Three steps kept apart: families recognise (engine.families), one model weighs the same features for every family
(engine.model), and the facts fill the explanation and the fix (engine.explain). When the evidence that would
decide between two causes is missing (no summary, no script, no fed shapes) and the model is unsure, the answer
says so: it names the family and what was read, says when each cause would be right and what would decide, and its
confidence is at most 0.5.
"""

from __future__ import annotations

from collections.abc import Set
from dataclasses import replace
from itertools import chain
from typing import Any

from diagnoser.engine.explain import FixEntry, choose, condition_names, render, render_facts, title_for
from diagnoser.engine.extract import RawBlock
from diagnoser.engine.families import SHAPE_CAUSES, FamilySet
from diagnoser.engine.features import layer_kind
from diagnoser.engine.grouping import fingerprint
from diagnoser.engine.model import Scored, Weights, default_weights, score
from diagnoser.engine.parse import parse_block
from diagnoser.engine.reading import Reading, blocks_of, coerce_text, read_block, read_source_facts
from diagnoser.engine.result import Diagnosis, DiagnosisResult, Evidence, TracebackResult
from diagnoser.engine.summary import ModelSummary, parse_summary

MIN_ALTERNATIVE = 0.05  # causes less likely than this are not listed
UNDECIDED_BELOW = 0.6  # a best cause below this, with deciding evidence missing, is answered as undecided
PROMOTE_EVIDENCE_AT = 0.15
NOT_EVIDENCE = ("has_", "bare", "exception=", "framework=")
MAX_EVIDENCE = 5
_WHAT_DECIDES = (("summary", "the model summary"), ("code", "the training script"), ("fed", "the shapes fed to fit"))


def diagnose(
    text: str | bytes | None,
    summary: str | None = None,
    source: str | None = None,
    *,
    inputs: Any = None,
    families: FamilySet | None = None,
    weights: Weights | None = None,
) -> DiagnosisResult:
    """Every traceback in `text`, in order, each with its ranked diagnoses. Never raises on any text.

    `inputs` is optional evidence from the client: shapes and dtypes of what fit/evaluate/predict received."""
    blocks = blocks_of(coerce_text(text))
    model = parse_summary(coerce_text(summary)) if summary else None
    facts = read_source_facts(coerce_text(source)) if source else None
    results: list[TracebackResult] = []
    for block in blocks:
        results.append(diagnose_block(block, model, facts, inputs, families, weights, results[-1] if results else None))
    if len(blocks) == 1 and blocks[0].bare and not results[0].diagnoses and not results[0].exception_type:
        return DiagnosisResult([])  # pasted text with no exception type that no family recognises: not an error
    return DiagnosisResult(results)


def diagnose_block(
    block: RawBlock,
    model: ModelSummary | None = None,
    facts: Any = None,
    inputs: Any = None,
    families: FamilySet | None = None,
    weights: Weights | None = None,
    previous: TracebackResult | None = None,
) -> TracebackResult:
    """One traceback block diagnosed; `previous` is the block before it in the same log, for chained errors."""
    tb = parse_block(block)
    weights = weights or default_weights()
    reading = read_block(tb, model, facts, inputs, families, known=weights.known)
    diagnoses = diagnoses_for(reading, weights)
    if not diagnoses and block.chained_from_previous and previous is not None and previous.diagnoses:
        # "During handling of the above exception, another exception occurred": the run died of this one,
        # but the explained error before it is what the user needs
        diagnoses = [_inherited(d) for d in previous.diagnoses]
    return TracebackResult(
        exception_type=tb.exception_type,
        message=tb.message,
        framework=tb.framework,
        frames=tb.frames,
        diagnoses=diagnoses,
        headline=_first_line(tb.core_message),
    )


def _inherited(d: Diagnosis) -> Diagnosis:
    evidence = [Evidence("frame", "the error this one was raised while handling")] + d.evidence
    return replace(d, evidence=evidence[: MAX_EVIDENCE + 1])


def diagnoses_for(reading: Reading, weights: Weights | None = None) -> list[Diagnosis]:
    if not reading.recognitions or not reading.allowed:
        return []
    ranked = score(reading.features, reading.allowed, weights, MIN_ALTERNATIVE)
    facts = render_facts(reading)
    names = condition_names(reading.features, facts)
    out = []
    undecided = _undecided(reading, ranked)
    for position, scored in enumerate(ranked):
        if position and scored.probability < MIN_ALTERNATIVE:
            break
        out.append(_diagnosis(reading, scored, facts, names, undecided if position == 0 else None))
    return out


def _missing_evidence(reading: Reading) -> list[str]:
    present = {f.source for f in reading.features.values()}
    have = {
        "summary": reading.context.summary is not None,
        "code": reading.context.source is not None,
        "fed": reading.context.fed is not None,
    }
    return [words for key, words in _WHAT_DECIDES if not have[key] and key not in present]


def _undecided(reading: Reading, ranked: list[Scored]) -> list[Scored] | None:
    """The close contenders when the best answer is unsure and the evidence that could decide is missing."""
    shape = [s for s in ranked if s.cause in SHAPE_CAUSES]
    if len(shape) < 2 or shape[0] is not ranked[0] or ranked[0].probability >= UNDECIDED_BELOW:
        return None
    if not _missing_evidence(reading):
        return None
    return [s for s in shape[:3] if s.probability >= 0.15]


def _diagnosis(
    reading: Reading, scored: Scored, facts: dict[str, str], names: Set[str], undecided: list[Scored] | None
) -> Diagnosis:
    entry = choose(scored.cause, reading.features, names=names)
    family = reading.recognitions[0].family
    title = title_for(reading, entry, facts)
    explanation = render(entry.explanation, facts) if entry else None
    fix = render(entry.fix, facts) if entry else None
    fix_code = render(entry.fix_code, facts, code=True) if entry else None
    evidence = [Evidence("message", _first_line(reading.tb.core_message))]
    shown = {evidence[0].text}
    # what the summary, the script, the frames or the fed shapes said comes first when it weighed (it is what the
    # error line alone could not say), then the rest by weight
    promoted = [fp[0].source != "message" and fp[1] >= PROMOTE_EVIDENCE_AT for fp in scored.evidence]
    ordered = chain(
        (fp for fp, p in zip(scored.evidence, promoted, strict=True) if p),
        (fp for fp, p in zip(scored.evidence, promoted, strict=True) if not p),
    )
    for feature, _ in ordered:
        if len(evidence) > MAX_EVIDENCE:
            break
        if feature.name.startswith(NOT_EVIDENCE):
            continue  # "the summary is known", "raised as ValueError": true, but evidence of nothing
        if feature.text and feature.text not in shown:
            shown.add(feature.text)
            evidence.append(Evidence(feature.source, feature.text))
    confidence = scored.probability
    if undecided and len(undecided) >= 2:
        confidence = min(confidence, 0.5)
        title, explanation = _undecided_text(reading, family.title, title, undecided, facts, names)
    layer = facts.get("layer")
    return Diagnosis(
        cause=scored.cause,
        confidence=max(0.01, min(0.99, confidence)),
        rule=family.id,
        title=title,
        explanation=explanation or family.description,
        fix=fix or "",
        fix_code=fix_code,
        layer=layer,
        expected=facts.get("expected") or _expected_rank(facts),
        received=facts.get("received"),
        evidence=evidence,
        fingerprint=fingerprint(scored.cause, family.id, reading.recognitions[0].check, layer_kind(layer), layer),
    )


def _expected_rank(facts: dict[str, str]) -> str | None:
    if "expected_rank" in facts:
        op = {"min_ndim": ">=", "max_ndim": "<="}.get(facts.get("spec", ""), "=")
        return f"ndim{op}{facts['expected_rank']}"
    return None


def _undecided_text(
    reading: Reading,
    family_title: str,
    title: str,
    contenders: list[Scored],
    facts: dict[str, str],
    names: Set[str],
) -> tuple[str, str]:
    clauses = []
    for s in contenders:
        entry: FixEntry | None = choose(s.cause, reading.features, names=names)
        clause = render(entry.clause, facts) if entry and entry.clause else None
        clauses.append(f"{s.cause} {clause}" if clause else s.cause)
    missing = _missing_evidence(reading)
    decide = " or ".join(missing) if missing else "more evidence"
    headline = f"shape fault in {reading.recognitions[0].family.id}: {title}"
    explanation = f"{family_title}. " + "; ".join(clauses) + f"; {decide} would decide."
    return headline, explanation


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 400 else line[:397] + "..."
