"""Reads and triage for the API, every one scoped to the caller's team: a row of another team is simply not found.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from diagnoser.store.counters import bump_changes
from diagnoser.store.models import Diagnosis, Group, Project, Report


@dataclass(frozen=True)
class GroupFilter:
    cause: str | None = None
    status: str | None = None
    project: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def _group_dict(group: Group, project: str) -> dict[str, Any]:
    return {
        "id": group.id, "project": project, "fingerprint": group.fingerprint, "cause": group.cause,
        "rule": group.rule, "title": group.title, "exception_type": group.exception_type,
        "first_seen": group.first_seen.isoformat(), "last_seen": group.last_seen.isoformat(),
        "count": group.count, "status": group.status,
    }


def _team_groups(team_id: int) -> Select[tuple[Group, str]]:
    return select(Group, Project.name).join(Project, Project.id == Group.project_id).where(Project.team_id == team_id)


def list_groups(session: Session, team_id: int, flt: GroupFilter, limit: int, offset: int) -> tuple[list[dict[str, Any]], bool]:
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
    rows = session.execute(stmt).all()
    return [_group_dict(g, p) for g, p in rows[:limit]], len(rows) > limit


def get_group(session: Session, team_id: int, group_id: int) -> dict[str, Any] | None:
    row = session.execute(_team_groups(team_id).where(Group.id == group_id)).first()
    if row is None:
        return None
    group, project = row
    result = _group_dict(group, project)
    latest = session.scalar(select(Report.id).where(Report.group_id == group.id).order_by(Report.id.desc()).limit(1))
    result["latest_report_id"] = latest
    result["diagnoses"] = _diagnoses(session, latest) if latest is not None else []
    return result


def set_group_status(session: Session, team_id: int, group_id: int, status: str) -> dict[str, Any] | None:
    row = session.execute(_team_groups(team_id).where(Group.id == group_id).with_for_update(of=Group)).first()
    if row is None:
        return None
    group, project = row
    group.status = status
    session.flush()
    bump_changes(session)  # workers stop answering "existing" for it from memory (store.acceptor)
    return _group_dict(group, project)


def _diagnoses(session: Session, report_id: int) -> list[dict[str, Any]]:
    rows = session.scalars(select(Diagnosis).where(Diagnosis.report_id == report_id).order_by(Diagnosis.rank)).all()
    return [
        {"cause": d.cause, "confidence": d.confidence, "rule": d.rule, "layer": d.layer, "expected": d.expected,
         "received": d.received, "title": d.title, "explanation": d.explanation, "fix": d.fix,
         "fix_code": d.fix_code, "evidence": d.evidence, "fingerprint": d.fingerprint,
         "ruleset_version": d.ruleset_version}
        for d in rows
    ]


def get_report(session: Session, team_id: int, report_id: int) -> dict[str, Any] | None:
    row = session.execute(
        select(Report, Project.name).join(Project, Project.id == Report.project_id)
        .where(Project.team_id == team_id, Report.id == report_id)
    ).first()
    if row is None:
        return None
    r, project = row
    return {
        "id": r.id, "project": project, "group_id": r.group_id, "received_at": r.received_at.isoformat(),
        "traceback": r.traceback, "summary": r.summary, "source": r.source, "inputs": r.inputs,
        "exception": {"type": r.exception_type, "message": r.exception_message}, "cause": r.cause,
        "fingerprint": r.fingerprint, "ruleset_version": r.ruleset_version,
        "meta": {"hostname": r.hostname, "user": r.user, "run_id": r.run_id, "script": r.script,
                 "framework": r.framework, "framework_version": r.framework_version,
                 "python_version": r.python_version, "versions": r.versions, "git_commit": r.git_commit,
                 "tags": r.tags},
        "diagnoses": _diagnoses(session, r.id),
    }


def cause_counts(session: Session, team_id: int, since: datetime, until: datetime | None,
                 project: str | None = None) -> list[dict[str, Any]]:
    """Reports and groups per cause over a window, most frequent first (undiagnosed reports under cause null)."""
    stmt = (
        select(Report.cause, func.count(Report.id), func.count(func.distinct(Report.group_id)), func.max(Report.received_at))
        .join(Project, Project.id == Report.project_id)
        .where(Project.team_id == team_id, Report.received_at >= since)
        .group_by(Report.cause)
    )
    if until is not None:
        stmt = stmt.where(Report.received_at < until)
    if project is not None:
        stmt = stmt.where(Project.name == project)
    rows = session.execute(stmt).all()
    result = [{"cause": c, "reports": n, "groups": g, "last_seen": _iso(last)} for c, n, g, last in rows]
    result.sort(key=lambda x: (-x["reports"], x["cause"] or "~"))
    return result


def _iso(value: Any) -> str | None:
    # func.max() loses the column's type decorator on some backends: normalise to an ISO string in UTC.
    if value is None:
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if value.tzinfo is None:
        from datetime import timezone

        value = value.replace(tzinfo=timezone.utc)
    return value.isoformat()


def reports_by_cause(session: Session) -> dict[str | None, int]:
    """All reports per cause, every team: for the /metrics counter (it is the same on every worker)."""
    return {c: n for c, n in session.execute(select(Report.cause, func.count(Report.id)).group_by(Report.cause)).all()}
