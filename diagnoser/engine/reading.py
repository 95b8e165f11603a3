"""One traceback read by the engine: its families' recognitions, its context, and its features.

This is the part of diagnosis that has no weights in it, shared by `diagnose` and by the scripts that fit and
evaluate the weights (corpus/), so the model is always fitted on exactly what it will see.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from diagnoser.engine.extract import RawBlock, extract_blocks, paste_block
from diagnoser.engine.families import SHAPE_CAUSES, FamilySet, Recognition, default_families
from diagnoser.engine.features import Context, Feature, KnownFeatures, extract
from diagnoser.engine.fed import read_fed
from diagnoser.engine.parse import ParsedTraceback, parse_block
from diagnoser.engine.phase import detect_phase
from diagnoser.engine.summary import ModelSummary, parse_summary

MAX_INPUT_CHARS = 8 * 1024 * 1024  # the engine holds its text in memory; `scan` streams bigger logs
BARE_TEXT_LIMIT = 4096
CAUSE_ORDER = (*SHAPE_CAUSES, "other")


@dataclass
class Reading:
    tb: ParsedTraceback
    recognitions: list[Recognition]
    context: Context
    features: dict[str, Feature]
    allowed: tuple[str, ...]  # the causes the recognising families can produce


def coerce_text(text: str | bytes | None) -> str:
    if text is None:
        return ""
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    return text if len(text) <= MAX_INPUT_CHARS else text[-MAX_INPUT_CHARS:]


def blocks_of(text: str) -> list[RawBlock]:
    """The traceback blocks of a text; a short text with none is one bare message (pasted without its type)."""
    blocks = extract_blocks(text)
    if not blocks and text.strip() and len(text) <= BARE_TEXT_LIMIT:
        blocks = [paste_block(text.strip().splitlines())]
    return blocks


def read_block(
    tb: ParsedTraceback,
    summary: ModelSummary | None,
    source: Any,
    inputs: Any,
    families: FamilySet | None = None,
    known: KnownFeatures | None = None,
) -> Reading:
    """One traceback read: its recognitions, context and features (with `known`, the weights' feature names, only
    the crosses that have a weight; fitting reads them all)."""
    families = families or default_families()
    if source is None and tb.cell_code:
        source = read_source_facts(tb.cell_code)  # a notebook traceback quotes the cell: the script's own lines
    recognitions = families.recognise(tb.core_message, tb.core_type)
    phase = detect_phase(tb)
    context = Context(tb=tb, summary=summary, source=source, fed=read_fed(inputs, phase), phase=phase)
    features = extract(recognitions, context, known) if recognitions else {}
    declared = {c for r in recognitions for c in r.family.causes}
    allowed = tuple(c for c in CAUSE_ORDER if c in declared) + tuple(sorted(declared - set(CAUSE_ORDER)))
    return Reading(tb, recognitions, context, features, allowed)


def read_source_facts(source: str | None) -> Any:
    if not source:
        return None
    try:
        from diagnoser.engine.source import read_source  # type: ignore[import-not-found,unused-ignore]
    except ImportError:  # the script reader is optional evidence
        return None
    return read_source(source)


def read_traceback(
    text: str | bytes | None,
    summary: str | None = None,
    source: str | None = None,
    inputs: Any = None,
    families: FamilySet | None = None,
) -> Reading | None:
    """The last traceback of `text` (the one a run ended with), read; None when the text holds none."""
    blocks = blocks_of(coerce_text(text))
    if not blocks:
        return None
    model = parse_summary(coerce_text(summary)) if summary else None
    return read_block(parse_block(blocks[-1]), model, read_source_facts(source), inputs, families)
