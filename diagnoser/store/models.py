"""The tables. Every row hangs off a team (directly or through a project), so each query can be scoped to the
caller's team with one join."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from diagnoser.store.base import Base, UTCDateTime, utcnow

GROUP_STATUSES = ("open", "resolved", "ignored", "regressed")
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
    """

    __tablename__ = "groups"
    __table_args__ = (
        UniqueConstraint("project_id", "fingerprint"),
        Index("ix_groups_project_id_last_seen", "project_id", "last_seen"),
    )

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


class Report(Base):
    """One traceback as sent by a training run, already scrubbed of secrets."""

    __tablename__ = "reports"
    __table_args__ = (Index("ix_reports_project_id_received_at", "project_id", "received_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    project_id: Mapped[int] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    group_id: Mapped[int] = mapped_column(ForeignKey("groups.id", ondelete="CASCADE"), index=True)
    received_at: Mapped[datetime] = mapped_column(UTCDateTime())
    traceback: Mapped[str] = mapped_column(Text)
    summary: Mapped[str | None] = mapped_column(Text, nullable=True)
    source: Mapped[str | None] = mapped_column(Text, nullable=True)
    inputs: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    exception_type: Mapped[str] = mapped_column(String(200), default="")
    exception_message: Mapped[str] = mapped_column(Text, default="")
    cause: Mapped[str | None] = mapped_column(String(64), nullable=True)
    fingerprint: Mapped[str] = mapped_column(String(128))
    ruleset_version: Mapped[str] = mapped_column(String(64))
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


class Diagnosis(Base):
    """One of the engine's diagnoses for a report's last traceback; rank 0 is the best."""

    __tablename__ = "diagnoses"
    __table_args__ = (UniqueConstraint("report_id", "rank"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    report_id: Mapped[int] = mapped_column(ForeignKey("reports.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)
    cause: Mapped[str] = mapped_column(String(64))
    rule: Mapped[str] = mapped_column(String(200))
    ruleset_version: Mapped[str] = mapped_column(String(64))
    confidence: Mapped[float] = mapped_column(Float)
    layer: Mapped[str | None] = mapped_column(Text, nullable=True)
    expected: Mapped[str | None] = mapped_column(Text, nullable=True)
    received: Mapped[str | None] = mapped_column(Text, nullable=True)
    title: Mapped[str] = mapped_column(Text, default="")
    explanation: Mapped[str] = mapped_column(Text, default="")
    fix: Mapped[str] = mapped_column(Text, default="")
    fix_code: Mapped[str | None] = mapped_column(Text, nullable=True)
    evidence: Mapped[list[dict[str, str]]] = mapped_column(JSON, default=list)
    fingerprint: Mapped[str] = mapped_column(String(128), default="")


class Counter(Base):
    """Numbers handed out across processes and hosts: `report_id`, the next report id (ids are reserved in blocks,
    so a web worker can name a report before it is written: store.counters), and `changes`, bumped by every change
    that can make a worker's remembered group status or token wrong (a status set, a token revoked, a regrouping)."""

    __tablename__ = "counters"

    name: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[int] = mapped_column(BigInteger)


class JournalPosition(Base):
    """How far a journal file of accepted reports has been written into the database, in the same transaction as
    its reports, so a writer that restarts neither loses nor repeats any (store.journal)."""

    __tablename__ = "journal_positions"

    journal: Mapped[str] = mapped_column(String(255), primary_key=True)  # "<host>:<file stem>"
    position: Mapped[int] = mapped_column(BigInteger)
