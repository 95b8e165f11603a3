"""Diagnose every traceback in a log of any size, reading it in chunks so memory stays bounded."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import BinaryIO

from diagnoser.engine.answer import diagnose_block
from diagnoser.engine.extract import iter_blocks_in_chunks
from diagnoser.engine.families import FamilySet
from diagnoser.engine.reading import read_source_facts
from diagnoser.engine.result import TracebackResult
from diagnoser.engine.summary import ModelSummary

CHUNK_BYTES = 4 * 1024 * 1024


def iter_line_chunks(stream: BinaryIO, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
    """Chunks of whole lines as bytes (a UTF-8 character never spans two of them)."""
    carry = b""
    while True:
        raw = stream.read(CHUNK_BYTES)
        if progress is not None:
            progress(len(raw))
        if not raw:
            if carry:
                yield carry
            return
        data = carry + raw if carry else raw
        cut = data.rfind(b"\n")
        if cut == -1:
            carry = data
            if len(carry) > 16 * CHUNK_BYTES:  # one enormous line: hand it over rather than grow forever
                yield carry
                carry = b""
            continue
        carry = data[cut + 1:]
        yield data[: cut + 1]


def scan_stream(
    stream: BinaryIO,
    model: ModelSummary | None = None,
    source: str | None = None,
    families: FamilySet | None = None,
    progress: Callable[[int], None] | None = None,
) -> Iterator[tuple[int, TracebackResult]]:
    """(line number, diagnosed traceback) for every traceback in the stream, in order."""
    facts = read_source_facts(source)
    previous: TracebackResult | None = None
    for block in iter_blocks_in_chunks(iter_line_chunks(stream, progress)):
        previous = diagnose_block(block, model, facts, families=families, previous=previous)
        yield block.start_line, previous
