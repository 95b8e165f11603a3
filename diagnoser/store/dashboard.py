"""The dashboard's reads and triage, every one scoped to a team: a row of another team is simply not found.

Why no page reads the reports table beyond one group's latest rows: trends, windows, counts and breakdowns come
from the rollups that the ingest transaction keeps exact (GroupDay per group and day, GroupFacet per group and
user/host/framework/tag) and from the groups themselves, a few thousand rows per team; a group's reports are read
by the (group_id, id) index, a page at a time.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import and_, case, exists, func, or_, select
from sqlalchemy.orm import Session

from diagnoser.engine.taxonomy import Cause, default_causes
from diagnoser.store.base import utcnow
from diagnoser.store.models import (
    GROUP_STATUSES,
    AnalysisRow,
    CauseDay,
    Group,
    GroupDay,
    GroupFacet,
    Project,
    Report,
    StatusChange,
    Team,
    Token,
)
from diagnoser.store.queries import get_report, set_group_status
from diagnoser.store.tokens import create_token

WINDOWS = (7, 30, 90)  # days the overview offers
LIST_WINDOWS = (1, 7, 30, 90, 0)  # the groups list's; 0: all time
SORTS = ("last_seen", "count", "trend")
TRIAGE_STATUSES = ("open", "resolved", "ignored")
FACET_TOP = 10


@cache
def causes() -> dict[str, Cause]:
    """The taxonomy (rules/taxonomy.yaml), in its order."""
    return default_causes()


def _team_groups() -> Any:
    return select(Group.id).join(Project, Project.id == Group.project_id)


def _days(today: date, n: int) -> list[date]:
    return [today - timedelta(days=n - 1 - i) for i in range(n)]


def _as_date(value: Any) -> date:
    # SQLite answers an aggregated or selected Date column as a date already; be lenient with strings anyway.
    return value if isinstance(value, date) else date.fromisoformat(str(value))


def _sparks(session: Session, ids: list[int], since: date) -> dict[int, dict[date, int]]:
    """Reports per day of each of `ids` since `since` (a page of groups: by the group_days key)."""
    out: dict[int, dict[date, int]] = defaultdict(dict)
    if not ids:
        return out
    rows: Any = session.execute(
        select(GroupDay.group_id, GroupDay.day, GroupDay.count).where(
            GroupDay.group_id.in_(ids), GroupDay.day >= since
        )
    )
    for group_id, day, n in rows:
        out[group_id][_as_date(day)] = n
    return out


def _people(session: Session, ids: list[int]) -> dict[int, dict[str, int]]:
    """How many distinct users and hosts each of `ids` was reported from (all time)."""
    out: dict[int, dict[str, int]] = defaultdict(dict)
    if not ids:
        return out
    rows: Any = session.execute(
        select(GroupFacet.group_id, GroupFacet.facet, func.count())
        .where(GroupFacet.group_id.in_(ids), GroupFacet.facet.in_(("user", "host")))
        .group_by(GroupFacet.group_id, GroupFacet.facet)
    )
    for group_id, facet, n in rows:
        out[group_id][facet] = n
    return out


def _group_row(group: Group, project: str, week_ago: datetime) -> dict[str, Any]:
    return {
        "id": group.id,
        "project": project,
        "project_id": group.project_id,
        "cause": group.cause,
        "rule": group.rule,
        "title": group.title,
        "message": group.message,
        "exception_type": group.exception_type,
        "first_seen": group.first_seen,
        "last_seen": group.last_seen,
        "count": group.count,
        "status": group.status,
        "new": group.first_seen >= week_ago,
        "regressed": group.status == "regressed" and group.last_seen >= week_ago,
    }


def has_reports(session: Session, team_id: int) -> bool:
    return session.scalar(_team_groups().where(Project.team_id == team_id).limit(1)) is not None


def overview(session: Session, team_id: int, days: int, top: int = 20, now: datetime | None = None) -> dict[str, Any]:
    """The overview: reports per cause per day over the window (a stacked chart), the groups with most reports in
    it, the share of reports with no diagnosis, and what is new or regressed this week."""
    now = now or utcnow()
    today = now.date()
    since = today - timedelta(days=days - 1)
    week_ago = now - timedelta(days=7)
    per_cause: Any = session.execute(
        select(CauseDay.cause, CauseDay.day, func.sum(CauseDay.count))
        .join(Project, Project.id == CauseDay.project_id)
        .where(Project.team_id == team_id, CauseDay.day >= since)
        .group_by(CauseDay.cause, CauseDay.day)
    ).all()
    axis = _days(today, days)
    index = {d: i for i, d in enumerate(axis)}
    series: dict[str | None, list[int]] = {}
    for cause, day, n in per_cause:
        if int(n) and _as_date(day) in index:
            series.setdefault(cause or None, [0] * days)[index[_as_date(day)]] += int(n)
    totals = {c: sum(v) for c, v in series.items()}
    total = sum(totals.values())
    names = causes()
    chart = [
        {"cause": c, "name": names[c].name if c in names else (c or "no diagnosis"), "counts": series[c],
         "total": totals[c]}
        for c in sorted(series, key=lambda c: (-totals[c], c or "~"))
    ]
    ranked = _top_in_window(session, team_id, since, top)
    ids = [r[0] for r in ranked]
    groups = _groups_by_id(session, team_id, ids, week_ago)
    sparks = _sparks(session, ids, since)
    people = _people(session, ids)
    rows = []
    for group_id, n in ranked:
        row = groups[group_id]
        row["window_count"] = int(n)
        row["spark"] = [sparks[group_id].get(d, 0) for d in axis]
        row["users"] = people[group_id].get("user", 0)
        row["hosts"] = people[group_id].get("host", 0)
        rows.append(row)
    week: Any = session.execute(
        select(
            func.sum(case((Group.first_seen >= week_ago, 1), else_=0)),
            func.sum(case((and_(Group.status == "regressed", Group.last_seen >= week_ago), 1), else_=0)),
            func.count(),
        )
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id)
    ).one()
    undiagnosed = totals.get(None, 0)
    return {
        "days": days,
        "axis": [d.isoformat() for d in axis],
        "chart": chart,
        "total": total,
        "undiagnosed": undiagnosed,
        "undiagnosed_share": (undiagnosed / total) if total else 0.0,
        "ranked": rows,
        "new_this_week": int(week[0] or 0),
        "regressed_this_week": int(week[1] or 0),
        "groups": int(week[2] or 0),
    }


def _top_in_window(session: Session, team_id: int, since: date, top: int) -> list[tuple[int, int]]:
    """The `top` groups with most reports since `since`, exactly, without summing every group's days: groups are
    visited by their all-time count, largest first, a chunk at a time, and the visit stops once the next group's
    all-time count (a bound on its count in the window) cannot beat the last of the best found. Crashes are
    skewed, so the first chunk or two of the largest groups decide it."""
    by_size: Any = session.execute(
        select(Group.id, Group.count)
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id, Group.last_seen >= datetime.combine(since, datetime.min.time(), UTC))
        .order_by(Group.count.desc(), Group.id.desc())
    ).all()
    best: list[tuple[int, int]] = []
    chunk = max(50, top * 2)
    for start in range(0, len(by_size), chunk):
        part = by_size[start:start + chunk]
        if len(best) >= top and part[0].count < best[top - 1][1]:
            break
        sums: Any = session.execute(
            select(GroupDay.group_id, func.sum(GroupDay.count))
            .where(GroupDay.group_id.in_([g.id for g in part]), GroupDay.day >= since)
            .group_by(GroupDay.group_id)
        ).all()
        best = sorted([*best, *((int(g), int(n)) for g, n in sums)], key=lambda gn: (-gn[1], -gn[0]))[:top]
    return best


def _groups_by_id(session: Session, team_id: int, ids: list[int], week_ago: datetime) -> dict[int, dict[str, Any]]:
    if not ids:
        return {}
    rows: Any = session.execute(
        select(Group, Project.name)
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id, Group.id.in_(ids))
    ).all()
    return {g.id: _group_row(g, p, week_ago) for g, p in rows}


@dataclass(frozen=True)
class ListFilter:
    project_id: int | None = None
    cause: str | None = None  # a cause id, or "none" for groups with no diagnosis
    status: str | None = None
    framework: str | None = None  # "torch" or "torch 2.5.1"
    days: int = 30  # 0: all time
    q: str = ""
    sort: str = "last_seen"


@dataclass
class GroupPage:
    rows: list[dict[str, Any]]
    total: int
    page: int
    per_page: int
    axis: list[str] = field(default_factory=list)

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def list_groups(
    session: Session, team_id: int, flt: ListFilter, page: int = 1, per_page: int = 50, now: datetime | None = None
) -> GroupPage:
    """One page of the team's groups, filtered and sorted, with each one's count in the window, its trend (reports
    in the last 7 days against the 7 before) and a sparkline."""
    now = now or utcnow()
    today = now.date()
    week_ago = now - timedelta(days=7)
    conditions: list[Any] = [Project.team_id == team_id]
    if flt.project_id is not None:
        conditions.append(Group.project_id == flt.project_id)
    if flt.cause:
        conditions.append(Group.cause.is_(None) if flt.cause == "none" else Group.cause == flt.cause)
    if flt.status:
        conditions.append(Group.status == flt.status)
    if flt.days:
        conditions.append(Group.last_seen >= now - timedelta(days=flt.days))
    if flt.q.strip():
        needle = flt.q.strip().lower()[:200]
        conditions.append(or_(func.lower(Group.title).contains(needle, autoescape=True),
                              func.lower(Group.message).contains(needle, autoescape=True)))
    if flt.framework:
        conditions.append(exists().where(
            GroupFacet.group_id == Group.id, GroupFacet.facet == "framework",
            or_(GroupFacet.value == flt.framework, GroupFacet.value.startswith(flt.framework + " ", autoescape=True)),
        ))
    since = today - timedelta(days=(flt.days or 90) - 1)
    spark_days = flt.days if flt.days and flt.days >= 7 else (7 if flt.days else 90)
    spark_since = today - timedelta(days=spark_days - 1)
    total = session.scalar(
        select(func.count()).select_from(Group).join(Project, Project.id == Group.project_id).where(*conditions)
    ) or 0
    offset = (max(1, page) - 1) * per_page
    stmt = select(Group, Project.name).join(Project, Project.id == Group.project_id).where(*conditions)
    if flt.sort == "count" and flt.days:
        window = _window_counts(conditions, since)
        stmt = stmt.join(window, window.c.group_id == Group.id).order_by(window.c.n.desc(), Group.id.desc())
    elif flt.sort == "count":
        stmt = stmt.order_by(Group.count.desc(), Group.id.desc())
    elif flt.sort == "trend":
        trend = _trends(conditions, today)
        stmt = stmt.outerjoin(trend, trend.c.group_id == Group.id).order_by(
            func.coalesce(trend.c.trend, 0).desc(), Group.last_seen.desc(), Group.id.desc())
    else:
        stmt = stmt.order_by(Group.last_seen.desc(), Group.id.desc())
    found: Any = session.execute(stmt.offset(offset).limit(per_page)).all()
    rows = [_group_row(g, p, week_ago) for g, p in found]
    ids = [r["id"] for r in rows]
    sparks = _sparks(session, ids, min(since, today - timedelta(days=13), spark_since))
    axis = _days(today, spark_days)
    for row in rows:
        days_of = sparks[row["id"]]
        row["window_count"] = sum(n for d, n in days_of.items() if d >= since) if flt.days else row["count"]
        recent = sum(n for d, n in days_of.items() if d > today - timedelta(days=7))
        before = sum(n for d, n in days_of.items() if today - timedelta(days=14) < d <= today - timedelta(days=7))
        row["trend"] = recent - before
        row["spark"] = [days_of.get(d, 0) for d in axis]
    return GroupPage(rows=rows, total=int(total), page=max(1, page), per_page=per_page,
                     axis=[d.isoformat() for d in axis])


def _window_counts(conditions: list[Any], since: date) -> Any:
    """Reports per group since `since`, of the groups the filters keep only (they are applied inside too)."""
    return (
        select(GroupDay.group_id, func.sum(GroupDay.count).label("n"))
        .join(Group, Group.id == GroupDay.group_id)
        .join(Project, Project.id == Group.project_id)
        .where(*conditions, GroupDay.day >= since)
        .group_by(GroupDay.group_id)
        .subquery()
    )


def _trends(conditions: list[Any], today: date) -> Any:
    recent = today - timedelta(days=6)
    return (
        select(
            GroupDay.group_id,
            func.sum(case((GroupDay.day >= recent, GroupDay.count), else_=-GroupDay.count)).label("trend"),
        )
        .join(Group, Group.id == GroupDay.group_id)
        .join(Project, Project.id == Group.project_id)
        .where(*conditions, GroupDay.day >= today - timedelta(days=13))
        .group_by(GroupDay.group_id)
        .subquery()
    )


def filter_options(session: Session, team_id: int) -> dict[str, Any]:
    """What the groups page's filters offer: the team's projects, the causes, the framework versions seen."""
    projects = session.execute(
        select(Project.id, Project.name).where(Project.team_id == team_id).order_by(Project.name)
    ).all()
    frameworks = session.scalars(
        select(GroupFacet.value)
        .distinct()
        .join(Group, Group.id == GroupFacet.group_id)
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id, GroupFacet.facet == "framework")
        .order_by(GroupFacet.value)
        .limit(200)
    ).all()
    names = sorted({f.split(" ")[0] for f in frameworks})
    return {
        "projects": [(p.id, p.name) for p in projects],
        "causes": [(c.id, c.name) for c in causes().values()],
        "statuses": GROUP_STATUSES,
        "frameworks": names + [f for f in frameworks if f not in names],
    }


def group_detail(session: Session, team_id: int, group_id: int, now: datetime | None = None) -> dict[str, Any] | None:
    """One group: its row, the latest report's diagnoses and traceback, reports per day over 90 days, its
    breakdowns and its status history; None when it is not the team's."""
    now = now or utcnow()
    found: Any = session.execute(
        select(Group, Project.name)
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id, Group.id == group_id)
    ).first()
    if found is None:
        return None
    group, project = found
    result = _group_row(group, project, now - timedelta(days=7))
    latest: Any = session.execute(
        select(Report, AnalysisRow)
        .join(AnalysisRow, AnalysisRow.id == Report.analysis_id)
        .where(Report.group_id == group_id)
        .order_by(Report.id.desc())
        .limit(1)
    ).first()
    result["latest"] = None
    if latest is not None:
        report, analysis = latest
        result["latest"] = {"report_id": report.id, "received_at": report.received_at,
                            "traceback": analysis.traceback, "diagnoses": list(analysis.diagnoses or []),
                            "framework": analysis.framework, "ruleset_version": analysis.ruleset_version}
    today = now.date()
    axis = _days(today, 90)
    per_day = _sparks(session, [group_id], axis[0])[group_id]
    result["axis"] = [d.isoformat() for d in axis]
    result["days"] = [per_day.get(d, 0) for d in axis]
    result["recent"] = {n: sum(c for d, c in per_day.items() if d > today - timedelta(days=n)) for n in (1, 7, 30, 90)}
    result["facets"] = group_facets(session, group_id)
    result["history"] = [
        {"at": c.at, "actor": c.actor, "old": c.old_status, "new": c.new_status}
        for c in session.scalars(
            select(StatusChange).where(StatusChange.group_id == group_id).order_by(StatusChange.id.desc()).limit(50)
        )
    ]
    return result


def group_facets(session: Session, group_id: int) -> dict[str, dict[str, Any]]:
    """Per breakdown (user, host, framework, tag): how many distinct values, and the most frequent ones."""
    sizes: Any = session.execute(
        select(GroupFacet.facet, func.count(), func.sum(GroupFacet.count))
        .where(GroupFacet.group_id == group_id)
        .group_by(GroupFacet.facet)
    ).all()
    out: dict[str, dict[str, Any]] = {}
    for facet, distinct, reports in sizes:
        top = session.execute(
            select(GroupFacet.value, GroupFacet.count, GroupFacet.last_seen)
            .where(GroupFacet.group_id == group_id, GroupFacet.facet == facet)
            .order_by(GroupFacet.count.desc(), GroupFacet.value)
            .limit(FACET_TOP)
        ).all()
        out[facet] = {"distinct": int(distinct), "reports": int(reports or 0),
                      "top": [{"value": v, "count": n, "last_seen": last} for v, n, last in top]}
    return out


def group_reports(
    session: Session, team_id: int, group_id: int, before: int | None = None, limit: int = 25
) -> tuple[list[dict[str, Any]], int | None]:
    """A page of a group's reports, newest first, by the (group_id, id) index; and the id to continue before."""
    stmt = (
        select(Report.id, Report.received_at, Report.hostname, Report.user, Report.framework,
               Report.framework_version, Report.group_status, Report.run_id, Report.project_id)
        .where(Report.group_id == group_id)
        .order_by(Report.id.desc())
        .limit(limit + 1)
    )
    if before is not None:
        stmt = stmt.where(Report.id < before)
    rows: Any = session.execute(stmt).all()
    # The group is the team's (the caller checked it); the project check costs nothing and keeps the promise here.
    allowed = set(session.scalars(select(Project.id).where(Project.team_id == team_id)))
    out = [dict(r._mapping) for r in rows[:limit] if r.project_id in allowed]
    return out, (rows[limit - 1].id if len(rows) > limit else None)


def report_detail(session: Session, team_id: int, report_id: int) -> dict[str, Any] | None:
    report = get_report(session, team_id, report_id)
    if report is not None:
        report["received_at"] = datetime.fromisoformat(report["received_at"])
    return report


def change_group_status(
    session: Session, team_id: int, group_id: int, status: str, actor: str | None = None, token_id: int | None = None
) -> dict[str, Any] | None:
    """Set a group's status and record who did (a person's email, or "token <prefix>" for the API); the API's
    answer for the group, or None when it is not the team's."""
    old = session.scalar(
        select(Group.status)
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id, Group.id == group_id)
        .with_for_update(of=Group)
    )
    if old is None:
        return None
    if actor is None:
        prefix = session.scalar(select(Token.prefix).where(Token.id == token_id)) if token_id is not None else None
        actor = f"token {prefix}" if prefix else "diagnoser"
    result = set_group_status(session, team_id, group_id, status)
    if old != status:
        session.add(StatusChange(group_id=group_id, at=utcnow(), actor=actor[:320], old_status=old, new_status=status))
        session.flush()
    return result


def bulk_status(session: Session, team_id: int, group_ids: list[int], status: str, actor: str) -> int:
    """Set the status of several groups of the team; how many were the team's."""
    changed = 0
    for group_id in sorted(set(group_ids))[:500]:
        if change_group_status(session, team_id, group_id, status, actor=actor) is not None:
            changed += 1
    return changed


def cause_summary(session: Session, team_id: int, days: int = 30, now: datetime | None = None) -> list[dict[str, Any]]:
    """Each cause of the taxonomy (and "no diagnosis") with the team's groups and reports, all time and over the
    last `days` days."""
    now = now or utcnow()
    since = now.date() - timedelta(days=days - 1)
    all_time: Any = session.execute(
        select(Group.cause, func.count(), func.sum(Group.count), func.max(Group.last_seen))
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id)
        .group_by(Group.cause)
    ).all()
    recent: Any = session.execute(
        select(Group.cause, func.sum(GroupDay.count))
        .select_from(GroupDay)
        .join(Group, Group.id == GroupDay.group_id)
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id, GroupDay.day >= since)
        .group_by(Group.cause)
    ).all()
    counts = {c: {"groups": int(g), "reports": int(n or 0), "last_seen": last} for c, g, n, last in all_time}
    window = {c: int(n or 0) for c, n in recent}
    out = []
    for cause in [*causes().values(), None]:
        key = cause.id if cause is not None else None
        entry = counts.get(key, {"groups": 0, "reports": 0, "last_seen": None})
        if isinstance(entry["last_seen"], str):
            entry["last_seen"] = datetime.fromisoformat(entry["last_seen"])
        out.append({
            "id": key or "none",
            "name": cause.name if cause is not None else "No diagnosis",
            "description": cause.description if cause is not None else (
                "No rule explains these errors yet: the engine could not name a cause. They are grouped by their "
                "exception type and message."),
            "shape": cause.shape if cause is not None else False,
            "recent": window.get(key, 0),
            **entry,
        })
    known = {c["id"] for c in out}
    for cause_id, entry in counts.items():  # a cause of an older taxonomy still stored
        if cause_id is not None and cause_id not in known:
            out.append({"id": cause_id, "name": cause_id, "description": "A cause of an earlier rule set.",
                        "shape": False, "recent": window.get(cause_id, 0), **entry})
    return out


# Settings: projects, tokens, people


def team_name(session: Session, team_id: int) -> str:
    return session.scalar(select(Team.name).where(Team.id == team_id)) or ""


def projects_with_tokens(session: Session, team_id: int) -> list[dict[str, Any]]:
    projects = session.execute(
        select(Project.id, Project.name, Project.created_at).where(Project.team_id == team_id).order_by(Project.name)
    ).all()
    tokens: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for t in session.scalars(
        select(Token).join(Project, Project.id == Token.project_id).where(Project.team_id == team_id)
        .order_by(Token.id)
    ):
        tokens[t.project_id].append({"id": t.id, "scope": t.scope, "prefix": t.prefix, "created_at": t.created_at,
                                     "revoked_at": t.revoked_at})
    return [{"id": p.id, "name": p.name, "created_at": p.created_at, "tokens": tokens[p.id]} for p in projects]


def create_team_token(session: Session, team_id: int, project: str, scope: str) -> tuple[str, str]:
    """A new token of `scope` for the team's project `project` (created when new): (prefix, the token itself)."""
    row, plaintext = create_token(session, project, scope, team_name(session, team_id))
    return row.prefix, plaintext


def revoke_team_token(session: Session, team_id: int, token_id: int) -> bool:
    token = session.scalar(
        select(Token).join(Project, Project.id == Token.project_id)
        .where(Project.team_id == team_id, Token.id == token_id)
    )
    if token is None:
        return False
    if token.revoked_at is None:
        token.revoked_at = utcnow()
        session.flush()
    return True
