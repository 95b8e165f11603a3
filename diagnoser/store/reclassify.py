"""Re-diagnose stored texts after the engine changed, and move reports whose group key changed.

Each distinct text is diagnosed once (store.models.AnalysisRow), however many reports share it, so a database of a
million reports of a few thousand texts costs a few thousand engine runs. Work goes in batches of texts, one
transaction each, so it can be interrupted and resumed (texts already on the current rule set are skipped) and
ingest keeps flowing between batches. Moving never reopens a resolved group (a reclassification is not a
recurrence); a group left with no report is removed; moved groups are recounted from their reports.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, delete, func, select, update
from sqlalchemy.orm import Session, sessionmaker

from diagnoser.store import analysis as _analysis
from diagnoser.store.analysis import analyse
from diagnoser.store.base import utcnow
from diagnoser.store.db import reading, writing
from diagnoser.store.ingest import _insert, facets_of
from diagnoser.store.models import AnalysisRow, CauseDay, Group, GroupDay, GroupFacet, Report, table


@dataclass
class Outcome:
    texts: int = 0  # distinct texts diagnosed again
    reports_moved: int = 0
    groups_removed: int = 0


def _stale(everything: bool):  # type: ignore[no-untyped-def]
    return True if everything else AnalysisRow.ruleset_version != _analysis.RULESET_VERSION


def count_stale(sessions: sessionmaker[Session], everything: bool = False) -> int:
    """How many distinct texts a run will diagnose."""
    with reading(sessions) as session:
        return session.scalar(select(func.count(AnalysisRow.id)).where(_stale(everything))) or 0


def reclassify(
    sessions: sessionmaker[Session],
    everything: bool = False,
    batch_size: int = 100,
    progress: Callable[[int], None] | None = None,
) -> Outcome:
    outcome = Outcome()
    last_id = 0
    while True:
        with writing(sessions) as session:
            rows = session.scalars(
                select(AnalysisRow)
                .where(AnalysisRow.id > last_id, _stale(everything))
                .order_by(AnalysisRow.id)
                .limit(batch_size)
            ).all()
            if not rows:
                break
            for row in rows:
                _diagnose_again(row)
            session.flush()
            _move_reports(session.connection(), [r.id for r in rows], outcome)
            last_id = rows[-1].id
        outcome.texts += len(rows)
        if progress is not None:
            progress(len(rows))
    # Texts whose answer was refreshed by ingest under new rules still have reports in their old group.
    with writing(sessions) as session:
        misplaced = session.scalars(
            select(Report.analysis_id)
            .distinct()
            .join(Group, Group.id == Report.group_id)
            .join(AnalysisRow, AnalysisRow.id == Report.analysis_id)
            .where(Group.fingerprint != AnalysisRow.fingerprint)
        ).all()
        if misplaced:
            _move_reports(session.connection(), list(misplaced), outcome)
    return outcome


def _diagnose_again(row: AnalysisRow) -> None:
    a = analyse(row.traceback, summary=row.summary, source=row.source, inputs=row.inputs, cache=False)
    row.exception_type, row.exception_message, row.framework = a.exception_type, a.exception_message, a.framework
    row.cause, row.fingerprint, row.ruleset_version, row.diagnoses = (
        a.cause,
        a.fingerprint,
        a.ruleset_version,
        a.diagnoses,
    )


def _move_reports(connection: Connection, analysis_ids: list[int], outcome: Outcome) -> None:
    """Put the reports of these texts into the group their fingerprint names, and recount what changed."""
    touched: set[int] = set()
    for analysis in connection.execute(select(AnalysisRow).where(AnalysisRow.id.in_(analysis_ids))):
        best = (analysis.diagnoses or [{}])[0] if analysis.diagnoses else {}
        title = str(best.get("title") or f"{analysis.exception_type}: {analysis.exception_message}".strip(": "))[:1000]
        groups = table(Group)
        now = utcnow()
        insert = _insert(connection)(groups)
        target: Any = connection.execute(
            insert.on_conflict_do_update(
                index_elements=[groups.c.project_id, groups.c.fingerprint],
                set_={
                    "cause": insert.excluded.cause,
                    "rule": insert.excluded.rule,
                    "title": insert.excluded.title,
                    "exception_type": insert.excluded.exception_type,
                },
            ).returning(groups.c.id),
            {
                "project_id": analysis.project_id,
                "fingerprint": analysis.fingerprint,
                "cause": analysis.cause,
                "rule": best.get("rule"),
                "title": title,
                "exception_type": analysis.exception_type,
                "first_seen": now,
                "last_seen": now,
                "count": 0,
                "status": "open",
            },
        ).scalar_one()
        sources = set(
            connection.execute(
                select(Report.group_id).distinct().where(Report.analysis_id == analysis.id, Report.group_id != target)
            ).scalars()
        )
        if sources:
            moved = connection.execute(
                update(Report)
                .where(Report.analysis_id == analysis.id, Report.group_id != target)
                .values(group_id=target)
            )
            outcome.reports_moved += moved.rowcount or 0
            touched |= sources | {target}
        elif not connection.execute(select(Report.id).where(Report.group_id == target).limit(1)).first():
            touched.add(target)  # made just now for a text without reports: removed again below
    outcome.groups_removed += recount_groups(connection, touched)


def recount_groups(connection: Connection, group_ids: Iterable[int]) -> int:
    """Set each group's count and first/last seen from its reports; remove those left empty (returns how many)."""
    removed = 0
    for group_id in sorted(group_ids):
        count, first, last = connection.execute(
            select(func.count(Report.id), func.min(Report.received_at), func.max(Report.received_at)).where(
                Report.group_id == group_id
            )
        ).one()
        if not count:
            _shift_cause_days(connection, group_id, -1)
            connection.execute(delete(Group).where(Group.id == group_id))
            removed += 1
            continue
        connection.execute(
            update(Group)
            .where(Group.id == group_id)
            .values(count=count, first_seen=_as_datetime(first), last_seen=_as_datetime(last))
        )
        rebuild_rollups(connection, group_id)
    return removed


def _shift_cause_days(connection: Connection, group_id: int, sign: int) -> None:
    """Add (sign 1) or take away (sign -1) a group's days from its project's causes per day: around a rebuild of
    the group's days, so the overview's rollup stays the sum of the groups'."""
    group = connection.execute(select(Group.project_id, Group.cause).where(Group.id == group_id)).first()
    if group is None:
        return
    days = connection.execute(select(GroupDay.day, GroupDay.count).where(GroupDay.group_id == group_id)).all()
    if not days:
        return
    rollup = table(CauseDay)
    insert = _insert(connection)(rollup)
    connection.execute(
        insert.on_conflict_do_update(
            index_elements=[rollup.c.project_id, rollup.c.cause, rollup.c.day],
            set_={"count": rollup.c.count + insert.excluded.count},
        ),
        [
            {"project_id": group.project_id, "cause": group.cause or "", "day": day, "count": sign * n}
            for day, n in sorted(days)
        ],
    )
    connection.execute(delete(CauseDay).where(CauseDay.project_id == group.project_id, CauseDay.count <= 0))


def rebuild_rollups(connection: Connection, group_id: int) -> None:
    """A group's days and breakdowns counted again from its reports (after reports moved in or out of it)."""
    _shift_cause_days(connection, group_id, -1)
    connection.execute(delete(GroupDay).where(GroupDay.group_id == group_id))
    connection.execute(delete(GroupFacet).where(GroupFacet.group_id == group_id))
    days: dict[Any, int] = {}
    facets: dict[tuple[str, str], list[Any]] = {}
    columns = [
        Report.received_at,
        Report.user,
        Report.hostname,
        Report.framework,
        Report.framework_version,
        Report.tags,
    ]
    for row in connection.execute(select(*columns).where(Report.group_id == group_id)):
        received = _as_datetime(row.received_at)
        day = received.date()  # type: ignore[attr-defined]
        days[day] = days.get(day, 0) + 1
        for facet, value in facets_of(dict(row._mapping)):
            entry = facets.setdefault((facet, value), [0, received])
            entry[0] += 1
            entry[1] = max(entry[1], received)
    if days:
        connection.execute(
            table(GroupDay).insert(), [{"group_id": group_id, "day": d, "count": n} for d, n in sorted(days.items())]
        )
        _shift_cause_days(connection, group_id, 1)
    if facets:
        connection.execute(
            table(GroupFacet).insert(),
            [
                {"group_id": group_id, "facet": f, "value": v, "count": n, "last_seen": last}
                for (f, v), (n, last) in sorted(facets.items())
            ],
        )


def _as_datetime(value: object) -> object:
    # min()/max() lose the column's type on SQLite, which then answers a string
    if isinstance(value, str):
        from datetime import datetime

        return datetime.fromisoformat(value)
    return value
