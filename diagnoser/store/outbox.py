"""The notification worker's reads and writes: fan the outbox out into deliveries, claim due deliveries, record
what the remote answered, read new reports by id, keep the worker's small state.

Every function runs in the caller's transaction. On PostgreSQL the rows a worker takes are locked with
`FOR UPDATE SKIP LOCKED`, so several workers share the outbox without waiting on each other or taking the same
row; on SQLite the writing transaction (BEGIN IMMEDIATE) already makes them take turns.

Why claim a channel, not a delivery: one message a second per webhook and coalescing (several due events of a
channel become one message) are decisions about a channel, so the worker locks the channel's row, takes its due
deliveries, marks them `sending` with a lease and commits, then sends. A worker that dies with a lease leaves the
deliveries to be taken again once the lease has passed, so nothing is lost; the one message that can be sent
twice is the one whose answer came back but was not yet recorded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from diagnoser.store.models import (
    AnalysisRow,
    Channel,
    Delivery,
    DeliveryAttempt,
    Group,
    GroupDay,
    OutboxEvent,
    Project,
    Report,
    Team,
    WorkerState,
    table,
)

TARGETED = ("test", "digest")  # events meant for one channel (payload["channel_id"])


# -- fan-out --------------------------------------------------------------------------------------------------


def has_unfanned(session: Session) -> bool:
    return session.scalar(select(OutboxEvent.id).where(OutboxEvent.fanned_out_at.is_(None)).limit(1)) is not None


def fan_out(session: Session, now: datetime, limit: int = 500) -> int:
    """Turn outbox events not yet fanned out into one delivery per channel that hears them; how many deliveries.

    A channel hears an event of its team (of its project, or of any project for a team channel) whose kind it
    listens to; nothing about a group that is ignored now. Test and digest events go
    to the one channel they name.
    """
    rows = session.execute(
        select(OutboxEvent, Project.team_id)
        .join(Project, Project.id == OutboxEvent.project_id)
        .where(OutboxEvent.fanned_out_at.is_(None))
        .order_by(OutboxEvent.id)
        .limit(limit)
        .with_for_update(skip_locked=True, of=OutboxEvent)
    ).all()
    if not rows:
        return 0
    teams = {team_id for _, team_id in rows}
    channels = session.scalars(select(Channel).where(Channel.team_id.in_(teams))).all()
    group_ids = {e.group_id for e, _ in rows if e.group_id is not None}
    ignored = set(session.scalars(select(Group.id).where(Group.id.in_(group_ids), Group.status == "ignored")).all()) \
        if group_ids else set()
    deliveries = []
    for event, team_id in rows:
        for channel in channels:
            if _hears(channel, event, team_id, ignored):
                deliveries.append({"event_id": event.id, "channel_id": channel.id, "state": "pending", "attempts": 0,
                                   "next_attempt_at": now, "created_at": now})
    if deliveries:
        session.execute(table(Delivery).insert(), deliveries)
    session.execute(
        update(OutboxEvent).where(OutboxEvent.id.in_([e.id for e, _ in rows])).values(fanned_out_at=now)
    )
    return len(deliveries)


def _hears(channel: Channel, event: OutboxEvent, team_id: int, ignored: set[int]) -> bool:
    if channel.team_id != team_id:
        return False
    if event.kind in TARGETED:
        return channel.id == (event.payload or {}).get("channel_id") and (
            event.kind == "test" or channel.state == "active"
        )
    if channel.state != "active" or event.kind not in channel.events.split(","):
        return False
    if channel.project_id is not None and channel.project_id != event.project_id:
        return False
    return event.group_id not in ignored


# -- claiming and recording deliveries ------------------------------------------------------------------------


@dataclass
class Claim:
    """Deliveries of one channel taken by this worker until `lease`, to be sent as one message."""

    channel_id: int
    kind: str
    url_encrypted: str
    secret_encrypted: str | None
    url_hint: str
    lease: datetime
    deliveries: list[tuple[int, int, str]]  # (delivery id, event id, event kind)
    attempts: dict[int, int] = field(default_factory=dict)  # delivery id -> attempts including this one


def _due(now: datetime) -> Any:
    return or_(
        and_(Delivery.state == "pending", Delivery.next_attempt_at <= now),
        and_(Delivery.state == "sending", Delivery.locked_until < now),
    )


def has_due(session: Session, now: datetime) -> bool:
    return session.scalar(select(Delivery.id).where(_due(now)).limit(1)) is not None


def claim(
    session: Session, now: datetime, lease: datetime, *, channels: int = 4, per_message: int = 10,
    spacing: timedelta = timedelta(seconds=1), only_channel: int | None = None,
) -> list[Claim]:
    """Take up to `channels` channels that have due deliveries and may be sent to now (one message per `spacing`
    per channel), with up to `per_message` of each one's due deliveries (a digest always alone)."""
    test_due = exists().where(Delivery.channel_id == Channel.id, _due(now), Delivery.event_id == OutboxEvent.id,
                              OutboxEvent.kind == "test")
    any_due = exists().where(Delivery.channel_id == Channel.id, _due(now))
    statement = (
        select(Channel)
        .where(or_(Channel.next_send_at.is_(None), Channel.next_send_at <= now), any_due,
               or_(Channel.state == "active", test_due))
        .order_by(Channel.next_send_at.is_not(None), Channel.next_send_at, Channel.id)
        .limit(channels)
        .with_for_update(skip_locked=True)
    )
    if only_channel is not None:
        statement = statement.where(Channel.id == only_channel)
    picked = session.scalars(statement).all()
    claims = []
    for channel in picked:
        due: Any = (
            select(Delivery.id, Delivery.event_id, OutboxEvent.kind, Delivery.attempts)
            .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
            .where(Delivery.channel_id == channel.id, _due(now))
            .order_by(Delivery.id)
            .limit(per_message)
            .with_for_update(skip_locked=True, of=Delivery)
        )
        if channel.state != "active":
            due = due.where(OutboxEvent.kind == "test")
        rows: Any = session.execute(due).all()
        if not rows:
            continue
        if rows[0].kind == "digest":
            rows = rows[:1]
        else:
            rows = [r for r in rows if r.kind != "digest"]
        ids = [r.id for r in rows]
        session.execute(
            update(Delivery).where(Delivery.id.in_(ids))
            .values(state="sending", locked_until=lease, attempts=Delivery.attempts + 1)
        )
        channel.next_send_at = now + spacing
        claims.append(Claim(channel.id, channel.kind, channel.url_encrypted, channel.secret_encrypted,
                            channel.url_hint, lease, [(r.id, r.event_id, r.kind) for r in rows],
                            {r.id: r.attempts + 1 for r in rows}))
    session.flush()
    return claims


@dataclass(frozen=True)
class Outcome:
    """What came of sending one message, and what the worker decided about it."""

    sent: bool
    status: int | None = None  # the remote's HTTP status, when it answered
    error: str | None = None  # one line, never the URL
    duration_ms: int = 0
    retry_at: datetime | None = None  # when to try again (None: never)
    disable: str | None = None  # a permanent failure: the channel is disabled, saying why
    hold_until: datetime | None = None  # no message to the channel before (429's Retry-After)
    attempt_limit: int = 12  # a delivery whose attempts reached this is failed instead of retried


def record(session: Session, claim: Claim, outcome: Outcome, now: datetime) -> int:
    """Record the attempt on every delivery of the message, and their new state; the deliveries still ours (a
    delivery whose lease passed and that another worker took meanwhile keeps the other's state)."""
    ids = [d for d, _, _ in claim.deliveries]
    session.execute(
        table(DeliveryAttempt).insert(),
        [{"delivery_id": d, "at": now, "status": outcome.status, "error": outcome.error,
          "duration_ms": outcome.duration_ms} for d in ids],
    )
    ours = set(session.scalars(
        select(Delivery.id)
        .where(Delivery.id.in_(ids), Delivery.state == "sending", Delivery.locked_until == claim.lease)
        .with_for_update()
    ).all())
    for delivery_id in ids:
        if delivery_id not in ours:
            continue
        values: dict[str, Any] = {"last_status": outcome.status, "last_error": outcome.error, "locked_until": None}
        if outcome.sent:
            values.update(state="sent", sent_at=now)
        elif outcome.disable is None and outcome.retry_at is not None and \
                claim.attempts.get(delivery_id, 0) < outcome.attempt_limit:
            values.update(state="pending", next_attempt_at=outcome.retry_at)
        else:
            values.update(state="failed")
        session.execute(update(Delivery).where(Delivery.id == delivery_id).values(**values))
    channel = session.get(Channel, claim.channel_id, with_for_update=True)
    if channel is not None:
        channel.last_delivery_at = now
        channel.last_delivery_status = _status_line(outcome)
        hold = outcome.hold_until
        if hold is not None and (channel.next_send_at is None or channel.next_send_at < hold):
            channel.next_send_at = hold
        if outcome.disable is not None:
            disable_channel(session, channel, outcome.disable, now)
    session.flush()
    return len(ours)


def _status_line(outcome: Outcome) -> str:
    if outcome.sent:
        return f"sent ({outcome.status})"
    text = f"{outcome.status} " if outcome.status is not None else ""
    text += outcome.error or "failed"
    if outcome.disable is None and outcome.retry_at is not None:
        text += "; retrying"
    return text[:300]


def disable_channel(session: Session, channel: Channel, reason: str, now: datetime) -> None:
    """Disable a channel for good (until someone enables it again): its waiting deliveries fail, saying why."""
    channel.state = "disabled"
    channel.disabled_reason = reason[:1000]
    session.execute(
        update(Delivery).where(Delivery.channel_id == channel.id, Delivery.state == "pending")
        .values(state="failed", last_error=f"channel disabled: {reason}"[:1000])
    )


# -- what a message says --------------------------------------------------------------------------------------


def event_views(session: Session, event_ids: list[int]) -> dict[int, dict[str, Any]]:
    """Everything a message about each event says, as plain data for the payload builders (diagnoser.notify.
    payloads): the event, its project and team, the group, the diagnosis of the report that caused it."""
    rows = session.execute(
        select(OutboxEvent, Project.name, Team.name)
        .join(Project, Project.id == OutboxEvent.project_id)
        .join(Team, Team.id == Project.team_id)
        .where(OutboxEvent.id.in_(event_ids))
    ).all()
    group_ids = {e.group_id for e, _, _ in rows if e.group_id is not None}
    groups = {g.id: g for g in session.scalars(select(Group).where(Group.id.in_(group_ids))).all()} \
        if group_ids else {}
    report_ids = {e.report_id for e, _, _ in rows if e.report_id is not None}
    reports: dict[int, Any] = {}
    if report_ids:
        for report, analysis in session.execute(
            select(Report, AnalysisRow).join(AnalysisRow, AnalysisRow.id == Report.analysis_id)
            .where(Report.id.in_(report_ids))
        ).all():
            reports[report.id] = (report, analysis)
    views = {}
    for event, project, team in rows:
        view: dict[str, Any] = {
            "id": event.id, "kind": event.kind, "created_at": event.created_at.isoformat(),
            "project": project, "team": team, "payload": event.payload or {},
        }
        group = groups.get(event.group_id) if event.group_id is not None else None
        if group is not None:
            view["group"] = {
                "id": group.id, "cause": group.cause, "rule": group.rule, "title": group.title,
                "exception_type": group.exception_type, "message": group.message, "status": group.status,
                "count": group.count, "first_seen": group.first_seen.isoformat(),
                "last_seen": group.last_seen.isoformat(),
            }
        found = reports.get(event.report_id) if event.report_id is not None else None
        if found is None and group is not None:
            found = _latest_report(session, group.id)
        if found is not None:
            report, analysis = found
            diagnoses = analysis.diagnoses or []
            view["diagnosis"] = dict(diagnoses[0]) if diagnoses else None
            view["exception"] = {"type": analysis.exception_type, "message": analysis.exception_message}
            view["traceback_tail"] = traceback_tail(analysis.traceback)
            view["report"] = {"id": report.id, "host": report.hostname, "user": report.user,
                              "framework": report.framework, "framework_version": report.framework_version}
        views[event.id] = view
    return views


def traceback_tail(text: str, lines: int = 20) -> str:
    """The last traceback of a text (a log's noise before it left out), at most its last `lines` lines."""
    start = text.rfind("Traceback (most recent call last)")
    kept = (text[start:] if start != -1 else text).rstrip().splitlines()
    return "\n".join(kept[-lines:])


def _latest_report(session: Session, group_id: int) -> Any:
    return session.execute(
        select(Report, AnalysisRow).join(AnalysisRow, AnalysisRow.id == Report.analysis_id)
        .where(Report.group_id == group_id).order_by(Report.id.desc()).limit(1)
    ).first()


def add_event(
    session: Session, kind: str, project_id: int, created_at: datetime, *, group_id: int | None = None,
    payload: dict[str, Any] | None = None,
) -> int:
    event = OutboxEvent(kind=kind, project_id=project_id, group_id=group_id, payload=payload, created_at=created_at)
    session.add(event)
    session.flush()
    return event.id


# -- reading new reports by id, and the worker's state --------------------------------------------------------


def reports_after(session: Session, cursor: int, limit: int) -> list[Any]:
    """Reports with an id above `cursor`, in id order (the primary key's index: no scan of the table)."""
    return list(session.execute(
        select(Report.id, Report.group_id, Report.received_at, Report.group_status)
        .where(Report.id > cursor).order_by(Report.id).limit(limit)
    ).all())


def last_report_id(session: Session) -> int:
    return int(session.scalar(select(func.max(Report.id))) or 0)


def first_unread_received_at(session: Session, cursor: int) -> datetime | None:
    return session.scalar(select(Report.received_at).where(Report.id > cursor).order_by(Report.id).limit(1))


@dataclass(frozen=True)
class GroupInfo:
    id: int
    project_id: int
    team_id: int
    status: str
    first_seen: datetime
    cause: str | None
    title: str


def group_infos(session: Session, group_ids: list[int] | set[int]) -> dict[int, GroupInfo]:
    if not group_ids:
        return {}
    rows = session.execute(
        select(Group.id, Group.project_id, Project.team_id, Group.status, Group.first_seen, Group.cause, Group.title)
        .join(Project, Project.id == Group.project_id).where(Group.id.in_(list(group_ids)))
    ).all()
    return {r.id: GroupInfo(r.id, r.project_id, r.team_id, r.status, r.first_seen, r.cause, r.title) for r in rows}


def recent_day_counts(session: Session, group_ids: list[int] | set[int], since: date) -> dict[int, int]:
    """Each group's reports on the days from `since` on (the daily rollups, never the reports table)."""
    if not group_ids:
        return {}
    rows = session.execute(
        select(GroupDay.group_id, func.sum(GroupDay.count))
        .where(GroupDay.group_id.in_(list(group_ids)), GroupDay.day >= since).group_by(GroupDay.group_id)
    ).all()
    return {g: int(n or 0) for g, n in rows}


def lock_state(session: Session, key: str, default: str) -> str | None:
    """The value of `key`, its row locked for this transaction; None when another worker holds it (PostgreSQL)."""
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    session.execute(insert(table(WorkerState)).values(key=key, value=default).on_conflict_do_nothing())
    row = session.scalar(select(WorkerState).where(WorkerState.key == key).with_for_update(skip_locked=True))
    return row.value if row is not None else None


def get_states(session: Session, keys: list[str]) -> dict[str, str]:
    if not keys:
        return {}
    return dict(session.execute(select(WorkerState.key, WorkerState.value).where(WorkerState.key.in_(keys))).all())


def states_with_prefix(session: Session, prefix: str) -> dict[str, str]:
    return dict(session.execute(
        select(WorkerState.key, WorkerState.value).where(WorkerState.key.startswith(prefix, autoescape=True))
    ).all())


def put_states(session: Session, values: dict[str, str | None]) -> None:
    """Set (or, for None, remove) worker state values."""
    for key, value in sorted(values.items()):
        row = session.get(WorkerState, key)
        if value is None:
            if row is not None:
                session.execute(delete(WorkerState).where(WorkerState.key == key))
        elif row is None:
            session.add(WorkerState(key=key, value=value))
        else:
            row.value = value
    session.flush()


def put_json(session: Session, values: dict[str, Any]) -> None:
    put_states(session, {k: (None if v is None else json.dumps(v, separators=(",", ":"))) for k, v in values.items()})


# -- digests --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class DigestChannel:
    id: int
    team_id: int
    project_id: int | None
    digest_hour: int
    digest_tz: str
    last_digest_day: date | None
    created_at: datetime


def counts_needed(session: Session) -> bool:
    """Whether any active channel hears spikes or digests (what the per-group counts are kept for)."""
    return any(set(events.split(",")) & {"spike", "digest"} for events in session.scalars(
        select(Channel.events).where(Channel.state == "active")).all())


def digest_channels(session: Session) -> list[DigestChannel]:
    rows = session.scalars(select(Channel).where(Channel.state == "active").order_by(Channel.id)).all()
    return [DigestChannel(c.id, c.team_id, c.project_id, c.digest_hour, c.digest_tz, c.last_digest_day, c.created_at)
            for c in rows if "digest" in c.events.split(",")]


def take_digest_day(session: Session, channel_id: int, day: date) -> bool:
    """Mark the channel's digest of `day` as made, in the transaction that writes it; False when it was already
    (by another worker) or another worker is at it now."""
    channel = session.scalar(select(Channel).where(Channel.id == channel_id).with_for_update(skip_locked=True))
    if channel is None or channel.state != "active" or (channel.last_digest_day is not None
                                                         and channel.last_digest_day >= day):
        return False
    channel.last_digest_day = day
    return True


def first_project(session: Session, team_id: int) -> int | None:
    return session.scalar(select(func.min(Project.id)).where(Project.team_id == team_id))


def new_groups_between(
    session: Session, team_id: int, project_id: int | None, start: datetime, end: datetime
) -> list[dict[str, Any]]:
    statement = (
        select(Group.id, Group.cause, Group.title, Group.count, Project.name)
        .join(Project, Project.id == Group.project_id)
        .where(Project.team_id == team_id, Group.first_seen >= start, Group.first_seen < end,
               Group.status != "ignored")
        .order_by(Group.count.desc(), Group.id).limit(50)
    )
    if project_id is not None:
        statement = statement.where(Group.project_id == project_id)
    return [{"id": r.id, "cause": r.cause, "title": r.title, "count": r.count, "project": r.name}
            for r in session.execute(statement).all()]


def project_names(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.execute(select(Project.id, Project.name).where(Project.id.in_(ids))).all())
