"""The frames the web workers and the writer process exchange over their Unix socket: a report to store, and where
it went (or why it was not stored).

Why marshal: a report is plain data (strings, numbers, JSON-shaped dicts), marshal writes and reads it in a few
microseconds, both ends run the same Python and the same Diagnoser (the socket is private to one service), and a
frame starts with a protocol version so a worker of another release is told so instead of misread. The analysis
part of a report is encoded once per analysis (it is shared by every report of the same text) and decoded once
per distinct payload on the writer's side, so a recurring cause costs neither end its diagnoses again.
"""

from __future__ import annotations

import marshal
import struct
from collections import OrderedDict
from datetime import datetime, timedelta, timezone
from typing import Any

from diagnoser.store.analysis import Analysis
from diagnoser.store.ingest import NewReport, Stored

PROTOCOL = 2
REPORT, SYNC = "report", "sync"  # what a worker's frame asks for
HEADER = struct.Struct("!I")  # the length of the frame that follows
MAX_FRAME = 64 * 1024 * 1024  # far above any accepted report (the body limit is 1 MB by default)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)

# Why a report was not stored, as the writer process says it.
UNAVAILABLE = "unavailable"  # the database failed the write (unreachable, locked): 503, retry later
EXPIRED = "expired"  # its deadline passed before the writer reached it: nothing stored, 503
REVOKED = "revoked"  # its token was revoked meanwhile: nothing stored, 401
REFUSED = "refused"  # the database refused this report alone
PROTOCOL_MISMATCH = "protocol"  # the two ends are different releases


class WireError(ValueError):
    """A frame that cannot be read: the connection it came on is closed."""


def _micros(moment: datetime) -> int:
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def _analysis_bytes(analysis: Analysis) -> bytes:
    found: bytes | None = analysis.derived.get("wire")
    if found is None:
        found = marshal.dumps((analysis.exception_type, analysis.exception_message, analysis.framework,
                               analysis.diagnoses, analysis.fingerprint, analysis.ruleset_version))
        analysis.derived["wire"] = found
    return found


def _report_fields(report: NewReport) -> tuple[Any, ...]:
    """A report as both frames and journal entries carry it (_report_of reads it back)."""
    return (report.project_id, _micros(report.received_at), report.traceback, report.summary, report.source,
            report.inputs, report.meta, _analysis_bytes(report.analysis))


def _report_of(fields: tuple[Any, ...], analyses: AnalysisCache, report_id: int | None = None) -> NewReport:
    project_id, micros, traceback, summary, source, inputs, meta, analysis = fields
    return NewReport(project_id=project_id, received_at=_EPOCH + timedelta(microseconds=micros),
                     traceback=traceback, analysis=analyses.get(analysis), summary=summary, source=source,
                     inputs=inputs, meta=meta, report_id=report_id)


def _ours(body: bytes) -> tuple[Any, ...]:
    """The fields of a frame or entry this release wrote; WireError(PROTOCOL_MISMATCH) for another release's."""
    fields = marshal.loads(body)
    if not isinstance(fields, tuple) or not fields or fields[0] != PROTOCOL:
        raise WireError(PROTOCOL_MISMATCH)
    return fields


def encode_report(report: NewReport, token_id: int | None, deadline: float) -> bytes:
    """The frame (length included) asking the writer to store `report` by `deadline` (time.monotonic(), which is
    one clock for every process of a Linux machine). Raises ValueError for a value marshal cannot carry."""
    body = marshal.dumps((PROTOCOL, REPORT, token_id, deadline, *_report_fields(report)))
    return HEADER.pack(len(body)) + body


def encode_sync() -> bytes:
    """The frame asking the writer to write every journal entry appended so far, and to answer once it has."""
    body = marshal.dumps((PROTOCOL, SYNC))
    return HEADER.pack(len(body)) + body


def encode_journal_entry(report: NewReport, report_id: int) -> bytes:
    """A journal entry (store.journal): a report accepted as `report_id`. No token (it was checked when accepted)
    and no deadline (it was answered 201: it is written whenever the database can take it). Raises ValueError
    for a value marshal cannot carry."""
    return marshal.dumps((PROTOCOL, report_id, *_report_fields(report)))


def decode_journal_entry(body: bytes, analyses: AnalysisCache) -> NewReport:
    """The report of a journal entry; WireError when it is not one this release can read."""
    try:
        fields = _ours(body)
        return _report_of(fields[2:], analyses, report_id=fields[1])
    except WireError:
        raise
    except (ValueError, EOFError, TypeError, IndexError) as error:
        raise WireError(f"unreadable journal entry: {error}") from None


class AnalysisCache:
    """Decoded analyses by their encoded bytes, so the rows derived from one are derived once (store.ingest).
    Bounded: an analysis is a few KB to a few tens of KB, so 256 of them stay within a few MB."""

    def __init__(self, size: int = 256) -> None:
        self.size = size
        self._entries: OrderedDict[bytes, Analysis] = OrderedDict()

    def get(self, payload: bytes) -> Analysis:
        found = self._entries.get(payload)
        if found is not None:
            self._entries.move_to_end(payload)
            return found
        exc_type, message, framework, diagnoses, fingerprint, ruleset = marshal.loads(payload)
        found = Analysis(exception_type=exc_type, exception_message=message, framework=framework,
                         diagnoses=diagnoses, fingerprint=fingerprint, ruleset_version=ruleset)
        self._entries[payload] = found
        if len(self._entries) > self.size:
            self._entries.popitem(last=False)
        return found


def decode_request(body: bytes, analyses: AnalysisCache) -> tuple[NewReport, int | None, float] | None:
    """(report, token id, deadline) from a frame's body, or None for a sync request; WireError when it is not one
    of ours."""
    try:
        fields = _ours(body)
        if fields[1] == SYNC:
            return None
        token_id, deadline = fields[2], fields[3]
        report = _report_of(fields[4:], analyses)
    except WireError:
        raise
    except (ValueError, EOFError, TypeError, IndexError) as error:
        raise WireError(f"unreadable report frame: {error}") from None
    return report, token_id, deadline


def encode_stored(stored: Stored) -> bytes:
    body = marshal.dumps((True, stored.report_id, stored.group_id, stored.group_status))
    return HEADER.pack(len(body)) + body


def encode_refusal(reason: str, detail: str) -> bytes:
    body = marshal.dumps((False, reason, detail[:500]))
    return HEADER.pack(len(body)) + body


def encode_synced() -> bytes:
    body = marshal.dumps((None,))
    return HEADER.pack(len(body)) + body


def decode_answer(body: bytes) -> Stored | tuple[str, str] | None:
    """Where the report went, (reason, detail) when it was not stored, or None: synced."""
    try:
        answer: Any = marshal.loads(body)
        if answer[0] is None:
            return None
        if answer[0] is True:
            return Stored(report_id=int(answer[1]), group_id=int(answer[2]), group_status=str(answer[3]))
        return str(answer[1]), str(answer[2])
    except (ValueError, EOFError, TypeError, IndexError) as error:
        raise WireError(f"unreadable answer frame: {error}") from None
