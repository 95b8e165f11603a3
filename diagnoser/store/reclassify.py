"""Re-diagnose stored reports when the rules change, and move each to the group its new fingerprint names.

Works in batches of report ids, one transaction each, so it can be interrupted and resumed (reports already on the
current rule-set version are skipped) and so ingest keeps flowing between batches. Moving never reopens a resolved
group (a reclassification is not a recurrence); a group left with no report is removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from diagnoser.store import analysis as _analysis
from diagnoser.store.analysis import analyse
from diagnoser.store.counters import bump_changes
from diagnoser.store.db import reading, writing
from diagnoser.store.ingest import diagnosis_rows, upsert_group
from diagnoser.store.models import Diagnosis, Group, Report


@dataclass
class Outcome:
    seen: int = 0
    regrouped: int = 0
    groups_removed: int = 0


def _stale(everything: bool):  # type: ignore[no-untyped-def]
    return True if everything else Report.ruleset_version != _analysis.RULESET_VERSION


def count_stale(sessions: sessionmaker[Session], everything: bool = False) -> int:
    with reading(sessions) as session:
        return session.scalar(select(func.count(Report.id)).where(_stale(everything))) or 0


def reclassify(sessions: sessionmaker[Session], everything: bool = False, batch_size: int = 200,
               progress: Callable[[int], None] | None = None) -> Outcome:
    outcome = Outcome()
    last_id = 0
    while True:
        with writing(sessions) as session:
            reports = session.scalars(
                select(Report).where(Report.id > last_id, _stale(everything)).order_by(Report.id).limit(batch_size)
            ).all()
            if not reports:
                break
            for report in reports:
                _reclassify_one(session, report, outcome)
            bump_changes(session)  # groups may have moved or gone: workers forget what they knew (store.acceptor)
            last_id = reports[-1].id
        outcome.seen += len(reports)
        if progress is not None:
            progress(len(reports))
    return outcome


def _reclassify_one(session: Session, report: Report, outcome: Outcome) -> None:
    analysis = analyse(report.traceback, summary=report.summary, source=report.source, cache=False,
                       inputs=report.inputs)
    session.execute(delete(Diagnosis).where(Diagnosis.report_id == report.id))
    rows = diagnosis_rows(report.id, analysis)
    if rows:
        session.execute(Diagnosis.__table__.insert(), rows)
    old_group = report.group_id
    if analysis.fingerprint != report.fingerprint:
        new_group, _ = upsert_group(session, report.project_id, analysis.fingerprint, 1, report.received_at,
                                    report.received_at, analysis, reopen=False)
        if new_group != old_group:
            report.group_id = new_group
            outcome.regrouped += 1
            session.flush()
            session.execute(update(Group).where(Group.id == old_group).values(count=Group.count - 1))
            remaining = session.scalar(select(func.count(Report.id)).where(Report.group_id == old_group))
            if not remaining:
                session.execute(delete(Group).where(Group.id == old_group))
                outcome.groups_removed += 1
    else:
        best = analysis.best or {}
        title = str(best.get("title") or f"{analysis.exception_type}: {analysis.exception_message}")[:1000]
        session.execute(update(Group).where(Group.id == old_group)
                        .values(cause=analysis.cause, rule=best.get("rule"), title=title))
    report.fingerprint = analysis.fingerprint
    report.cause = analysis.cause
    report.exception_type = analysis.exception_type
    report.exception_message = analysis.exception_message
    report.ruleset_version = analysis.ruleset_version
    session.flush()
