"""Reads and triage for the API, every one scoped to the caller's team: a row of another team is simply not found."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from diagnoser.store.models import AnalysisRow, Group, GroupDay, Project, Report


@dataclass(frozen=True)
class GroupFilter:
    cause: str | None = None
    status: str | None = None
    project: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _group_dict(group: Group, project: str) -> dict[str, Any]:
    return {
        "id": group.id,
        "project": project,
        "fingerprint": group.fingerprint,
        "cause": group.cause,
        "rule": group.rule,
        "title": group.title,
        "exception_type": group.exception_type,
        "first_seen": group.first_seen.isoformat(),
        "last_seen": group.last_seen.isoformat(),
        "count": group.count,
        "status": group.status,
    }


def _team_groups(team_id: int) -> Any:  # a Select of (Group, project name)
    return select(Group, Project.name).join(Project, Project.id == Group.project_id).where(Project.team_id == team_id)


def list_groups(
    session: Session, team_id: int, flt: GroupFilter, limit: int, offset: int
) -> tuple[list[dict[str, Any]], bool]:
    """One page of the team's groups, most recently seen first; the flag says whether more follow."""
    stmt = _team_groups(team_id)
    if flt.cause is not None:
        stmt = stmt.where(Group.cause.is_(None) if flt.cause == "none" else Group.cause == flt.cause)
    if flt.status is not None:
        stmt = stmt.where(Group.status == flt.status)
    if flt.project is not None:
        stmt = stmt.where(Project.name == flt.project)
    if flt.since is not None:
        stmt = stmt.where(Group.last_seen >= flt.since)
    if flt.until is not None:
        stmt = stmt.where(Group.last_seen < flt.until)
    stmt = stmt.order_by(Group.last_seen.desc(), Group.id.desc()).offset(offset).limit(limit + 1)
    rows: Any = session.execute(stmt).all()
    return [_group_dict(g, p) for g, p in rows[:limit]], len(rows) > limit


def get_group(session: Session, team_id: int, group_id: int) -> dict[str, Any] | None:
    row: Any = session.execute(_team_groups(team_id).where(Group.id == group_id)).first()
    if row is None:
        return None
    group, project = row
    result = _group_dict(group, project)
    latest = session.execute(
        select(Report.id, Report.analysis_id).where(Report.group_id == group.id).order_by(Report.id.desc()).limit(1)
    ).first()
    result["latest_report_id"] = latest.id if latest is not None else None
    result["diagnoses"] = _diagnoses(session, latest.analysis_id) if latest is not None else []
    return result


def set_group_status(session: Session, team_id: int, group_id: int, status: str) -> dict[str, Any] | None:
    row: Any = session.execute(_team_groups(team_id).where(Group.id == group_id).with_for_update(of=Group)).first()
    if row is None:
        return None
    group, project = row
    group.status = status
    session.flush()
    return _group_dict(group, project)


def _diagnoses(session: Session, analysis_id: int) -> list[dict[str, Any]]:
    row: Any = session.execute(
        select(AnalysisRow.diagnoses, AnalysisRow.ruleset_version).where(AnalysisRow.id == analysis_id)
    ).first()
    if row is None:
        return []
    return [dict(d, ruleset_version=row.ruleset_version) for d in row.diagnoses or []]


def get_report(session: Session, team_id: int, report_id: int) -> dict[str, Any] | None:
    row: Any = session.execute(
        select(Report, AnalysisRow, Project.name)
        .join(Project, Project.id == Report.project_id)
        .join(AnalysisRow, AnalysisRow.id == Report.analysis_id)
        .where(Project.team_id == team_id, Report.id == report_id)
    ).first()
    if row is None:
        return None
    r, a, project = row
    return {
        "id": r.id,
        "project": project,
        "group_id": r.group_id,
        "received_at": r.received_at.isoformat(),
        "event_id": r.event_id,
        "group_status": r.group_status,
        "traceback": a.traceback,
        "summary": a.summary,
        "source": a.source,
        "inputs": a.inputs,
        "exception": {"type": a.exception_type, "message": a.exception_message},
        "cause": a.cause,
        "fingerprint": a.fingerprint,
        "ruleset_version": a.ruleset_version,
        "meta": {
            "hostname": r.hostname,
            "user": r.user,
            "run_id": r.run_id,
            "script": r.script,
            "framework": r.framework,
            "framework_version": r.framework_version,
            "python_version": r.python_version,
            "versions": r.versions,
            "git_commit": r.git_commit,
            "tags": r.tags,
        },
        "diagnoses": [dict(d, ruleset_version=a.ruleset_version) for d in a.diagnoses or []],
    }


def cause_counts(
    session: Session, team_id: int, since: datetime, until: datetime | None, project: str | None = None
) -> list[dict[str, Any]]:
    """Reports and groups per cause over a window of whole days (UTC), most frequent first (undiagnosed reports
    under cause null): from the daily rollups, so it costs the same at a million reports as at ten."""
    stmt = (
        select(Group.cause, func.sum(GroupDay.count), func.count(func.distinct(Group.id)), func.max(Group.last_seen))
        .join(Group, Group.id == GroupDay.group_id)
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id, GroupDay.day >= since.date())
        .group_by(Group.cause)
    )
    if until is not None:
        stmt = stmt.where(GroupDay.day <= (until - timedelta(microseconds=1)).date())
    if project is not None:
        stmt = stmt.where(Project.name == project)
    rows: Any = session.execute(stmt).all()
    result = [{"cause": c, "reports": n, "groups": g, "last_seen": _iso(last)} for c, n, g, last in rows]
    result.sort(key=lambda x: (-int(x["reports"] or 0), str(x["cause"] or "~")))
    return result


def _iso(value: Any) -> str | None:
    # func.max() loses the column's type decorator on some backends: normalise to an ISO string in UTC.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return str(value.isoformat())
