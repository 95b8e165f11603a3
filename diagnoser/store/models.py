"""The tables. Every row hangs off a team (directly or through a project), so each query can be scoped to the
caller's team with one join."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, cast

from sqlalchemy import (
    JSON,
    Date,
    ForeignKey,
    Index,
    Integer,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from diagnoser.store.base import Base, UTCDateTime, utcnow

GROUP_STATUSES = ("open", "resolved", "ignored", "regressed")
ROLES = ("admin", "member")
FACETS = ("user", "host", "framework", "tag")  # what a group's reports are broken down by


def table(model: type[Base]) -> Table:
    """A model's Table, typed as one (SQLAlchemy types `__table__` as any FromClause), for Core statements."""
    return cast(Table, model.__table__)


TOKEN_SCOPES = ("read", "ingest")


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    projects: Mapped[list[Project]] = relationship(back_populates="team")


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (UniqueConstraint("team_id", "name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)

    team: Mapped[Team] = relationship(back_populates="projects")


class Token(Base):
    """An API token. Only the sha256 of the token is kept: the token itself is shown once, at creation."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), index=True)
    scope: Mapped[str] = mapped_column(String(16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(16))  # the first characters, to tell tokens apart in listings
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class Group(Base):
    """A recurring cause within a project, keyed by the engine's fingerprint.

    `previous_status` is the status before the latest occurrence: the one upsert that counts an occurrence also
    tells, through RETURNING, whether it created the group (NULL), reopened a resolved one, or just counted.

    No index holds a column every report changes (count, last_seen): a recurring cause's row is updated by every
    batch, and on PostgreSQL an update that touches no indexed column stays on its page (HOT), instead of adding
    an index entry per batch that every later lookup has to step over. A team has thousands of groups, not
    millions, so sorting them by last seen needs no index.
    """

    __tablename__ = "groups"
    __table_args__ = (UniqueConstraint("project_id", "fingerprint"), {"postgresql_with": {"fillfactor": 70}})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    fingerprint: Mapped[str] = mapped_column(String(128))
    cause: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    rule: Mapped[str | None] = mapped_column(String(200), nullable=True)
    title: Mapped[str] = mapped_column(Text, default="")
    exception_type: Mapped[str] = mapped_column(String(200), default="")
    first_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())
    count: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="open")
    previous_status: Mapped[str | None] = mapped_column(String(16), nullable=True)
    message: Mapped[str] = mapped_column(Text, default="")  # the latest exception message, for search


class AnalysisRow(Base):
    """One distinct report text of a project (traceback, summary, source, fed shapes) and the engine's answer.

    Why a table of its own: a broken script crashes the same way across a sweep, a cluster or a night of retries,
    so most reports repeat a text already stored. Keeping the text and its diagnoses once per project makes a
    report a small row, and lets `reclassify` diagnose each distinct text once instead of every report.
    """

    __tablename__ = "analyses"
    __table_args__ = (UniqueConstraint("project_id", "content_hash"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    content_hash: Mapped[str] = mapped_column(String(64))
    traceback: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    exception_type: Mapped[str] = mapped_column(String(200), default="")
    exception_message: Mapped[str] = mapped_column(Text, default="")
    framework: Mapped[str | None] = mapped_column(String(64), nullable=True)
    cause: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[str] = mapped_column(String(64))
    diagnoses: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)


class Report(Base):
    """One crash as a training run sent it (already scrubbed of secrets): when, where from, and which text.

    `event_id` is the client's own id for the report: a resend of the same report (after a 503 or a cut-off
    answer) is recognised by it and answered as the first time, never stored twice. `group_status` is what the
    report found its group to be (new, existing, regressed): the answer a repeat gets again.
    """

    __tablename__ = "reports"
    __table_args__ = (
        Index("ix_reports_group_id_id", "group_id", "id"),
        # event_id first: a batch looks its event ids up, and the selective column leads, so the lookup is an index
        # probe even while the planner's statistics still think the table is empty (a fresh database under load).
        UniqueConstraint("event_id", "project_id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    analysis_id: Mapped[int] = mapped_column(ForeignKey("analyses.id", ondelete="CASCADE"), index=True)
    event_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    group_status: Mapped[str] = mapped_column(String(16), default="existing")
    hostname: Mapped[str | None] = mapped_column(String(255), nullable=True)
    user: Mapped[str | None] = mapped_column(String(255), nullable=True)
    run_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    script: Mapped[str | None] = mapped_column(Text, nullable=True)
    framework: Mapped[str | None] = mapped_column(String(64), nullable=True)
    framework_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    python_version: Mapped[str | None] = mapped_column(String(64), nullable=True)
    versions: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)
    git_commit: Mapped[str | None] = mapped_column(String(64), nullable=True)
    tags: Mapped[dict[str, str] | None] = mapped_column(JSON, nullable=True)


class Heartbeat(Base):
    """One row per web node, rewritten by the readiness probe: a real write, so "ready" means "writable" (a
    read-only file or a full disk fails it where a SELECT would still succeed)."""

    __tablename__ = "heartbeats"

    node: Mapped[str] = mapped_column(String(255), primary_key=True)
    beat_at: Mapped[datetime] = mapped_column(UTCDateTime())


class User(Base):
    """A person of a team, who logs in to the dashboard. Only an argon2 hash of the password is kept."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[str] = mapped_column(String(16), default="member")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class GroupDay(Base):
    """A group's reports per day (UTC), kept exact by the transaction that stores them: the dashboard's trends
    and windows read these, never the reports table."""

    __tablename__ = "group_days"
    __table_args__ = (PrimaryKeyConstraint("group_id", "day"),)

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


class CauseDay(Base):
    """A project's reports per cause and day (UTC; cause '' when none was named), kept exact with GroupDay by the
    same transactions: the overview's chart of causes reads these, a few rows per day, never a pass over every
    group's days."""

    __tablename__ = "cause_days"
    __table_args__ = (PrimaryKeyConstraint("project_id", "cause", "day"),)

    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    cause: Mapped[str] = mapped_column(String(64))
    day: Mapped[date] = mapped_column(Date)
    count: Mapped[int] = mapped_column(Integer, default=0)


class GroupFacet(Base):
    """A group's reports by who, where and on what (user, host, framework version, tag), kept like GroupDay."""

    __tablename__ = "group_facets"
    __table_args__ = (PrimaryKeyConstraint("group_id", "facet", "value"),)

    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"))
    facet: Mapped[str] = mapped_column(String(16))
    value: Mapped[str] = mapped_column(String(300))
    count: Mapped[int] = mapped_column(Integer, default=0)
    last_seen: Mapped[datetime] = mapped_column(UTCDateTime())


class StatusChange(Base):
    """Who set a group's status, when, from what to what: the group page's history."""

    __tablename__ = "status_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(320))  # a user's email, "token <prefix>", or "diagnoser"
    old_status: Mapped[str] = mapped_column(String(16))
    new_status: Mapped[str] = mapped_column(String(16))


class Channel(Base):
    """Where a team hears about its causes: a Slack or Mattermost incoming webhook, or a signed JSON webhook.

    The URL (a secret: whoever holds it can post to the channel) and the webhook signing secret are kept encrypted
    with the key from the settings; `url_hint` is the masked form shown in listings.
    """

    __tablename__ = "channels"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    team_id: Mapped[int] = mapped_column(ForeignKey("teams.id", ondelete="CASCADE"), index=True)
    project_id: Mapped[int | None] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"), nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # slack | mattermost | webhook
    name: Mapped[str] = mapped_column(String(200), default="")
    url_encrypted: Mapped[str] = mapped_column(Text)
    url_hint: Mapped[str] = mapped_column(String(200))
    secret_encrypted: Mapped[str | None] = mapped_column(Text, nullable=True)
    events: Mapped[str] = mapped_column(String(100), default="new,regressed,spike,digest")
    state: Mapped[str] = mapped_column(String(16), default="active")  # active | disabled
    disabled_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    digest_hour: Mapped[int] = mapped_column(Integer, default=9)
    digest_tz: Mapped[str] = mapped_column(String(64), default="UTC")
    last_digest_day: Mapped[date | None] = mapped_column(Date, nullable=True)
    next_send_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)  # one message a second
    last_delivery_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_delivery_status: Mapped[str | None] = mapped_column(String(300), nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class OutboxEvent(Base):
    """Something to tell the team, written in the transaction that caused it: a group's first report (`new`), a
    resolved group seen again (`regressed`), or, written by the worker, a `spike` or a `digest`. A crash can
    neither send a message about a report that was not stored nor lose one about a report that was."""

    __tablename__ = "outbox_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    group_id: Mapped[int | None] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), nullable=True)
    report_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    kind: Mapped[str] = mapped_column(String(16))  # new | regressed | spike | digest | test
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    fanned_out_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True, index=True)


class Delivery(Base):
    """One event to one channel: its state, attempts and the next time to try."""

    __tablename__ = "deliveries"
    __table_args__ = (
        UniqueConstraint("event_id", "channel_id"),
        Index("ix_deliveries_state_due", "state", "next_attempt_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    event_id: Mapped[int] = mapped_column(ForeignKey("outbox_events.id", ondelete="CASCADE"))
    channel_id: Mapped[int] = mapped_column(ForeignKey("channels.id", ondelete="CASCADE"), index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")  # pending | sending | sent | failed
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    last_status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)


class DeliveryAttempt(Base):
    """Every attempt to send, kept: when, the answer's status, the error."""

    __tablename__ = "delivery_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    status: Mapped[int | None] = mapped_column(Integer, nullable=True)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)


class WorkerState(Base):
    """Small named values the notification worker keeps between runs (how far it has read the reports, when a
    group last spiked), each changed in the transaction that acts on it."""

    __tablename__ = "worker_state"

    key: Mapped[str] = mapped_column(String(200), primary_key=True)
    value: Mapped[str] = mapped_column(Text)
