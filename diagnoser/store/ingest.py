"""Write a batch of reports in one transaction: count each into its group with the database's upsert, then insert
the reports and their diagnoses.

Why one upsert per group: `INSERT .. ON CONFLICT (project_id, fingerprint) DO UPDATE SET count = count + n` is
atomic on SQLite and PostgreSQL, so two workers seeing the same new fingerprint at once make one group with the exact
count. Its RETURNING says whether the group was just created (previous_status NULL), reopened (was resolved), or
counted. Groups are upserted in key order so two concurrent batches cannot deadlock on PostgreSQL.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, bindparam, case, select
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session

from diagnoser.store.analysis import Analysis
from diagnoser.store.bulk import BulkInsert, bulk_insert
from diagnoser.store.counters import reserve_report_ids
from diagnoser.store.db import sqlite_driver_cursor, sqlite_errors_as_sqlalchemy
from diagnoser.store.models import Diagnosis, Group, Report, Token
from diagnoser.store.tokens import TokenRevoked

META_FIELDS = ("hostname", "user", "run_id", "script", "framework", "framework_version", "python_version",
               "versions", "git_commit", "tags")


@dataclass
class NewReport:
    """A scrubbed, diagnosed report ready to be stored."""

    project_id: int
    received_at: datetime
    traceback: str
    analysis: Analysis
    summary: str | None = None
    source: str | None = None
    inputs: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    # The token it came with: checked for revocation in the transaction that stores it (None: not checked).
    token_id: int | None = None
    # Its row as the driver gets it, but for id and group_id, made by `prepare` before the write (see there).
    prepared: tuple[Any, ...] | None = field(default=None, repr=False, compare=False)
    # Set for a report a worker already accepted through its journal: the id it answered with (reserved from the
    # counter, store.counters), and where in which journal it is, saved with the report (store.journal).
    report_id: int | None = None
    journal: tuple[str, int, int] | None = None  # (journal, position before it, position after it)


@dataclass(frozen=True)
class Stored:
    report_id: int
    group_id: int
    group_status: str  # "new" | "existing" | "regressed"


_UPSERTS: dict[tuple[str, bool], Any] = {}


def _upsert_statement(dialect: str, reopen: bool) -> Any:
    """The group upsert, built once per dialect: building it per call cost more than running it."""
    key = (dialect, reopen)
    if key not in _UPSERTS:
        if dialect == "postgresql":
            dialect_insert = postgresql.insert
        elif dialect == "sqlite":
            dialect_insert = sqlite.insert
        else:
            raise RuntimeError(f"upserts are implemented for SQLite and PostgreSQL, not {dialect}")
        table = Group.__table__
        stmt = dialect_insert(table)
        ex = stmt.excluded
        status = table.c.status
        if reopen:
            status = case((table.c.status == "resolved", "regressed"), else_=table.c.status)
        _UPSERTS[key] = stmt.on_conflict_do_update(
            index_elements=[table.c.project_id, table.c.fingerprint],
            set_={
                "count": table.c.count + ex.count,
                "last_seen": case((ex.last_seen > table.c.last_seen, ex.last_seen), else_=table.c.last_seen),
                "first_seen": case((ex.first_seen < table.c.first_seen, ex.first_seen), else_=table.c.first_seen),
                "status": status,
                "previous_status": table.c.status,
            },
        ).returning(table.c.id, table.c.previous_status)
    return _UPSERTS[key]


def _group_params(project_id: int, fingerprint: str, count: int, first_seen: datetime, last_seen: datetime,
                  analysis: Analysis) -> dict[str, Any]:
    best = analysis.best or {}
    return {  # the keys of _GROUP_KEYS
        "project_id": project_id, "fingerprint": fingerprint, "cause": analysis.cause, "rule": best.get("rule"),
        "title": str(best.get("title") or f"{analysis.exception_type}: {analysis.exception_message}")[:1000],
        "exception_type": analysis.exception_type, "first_seen": first_seen, "last_seen": last_seen,
        "count": count, "status": "open", "previous_status": None,
    }


_GROUP_KEYS = ["project_id", "fingerprint", "cause", "rule", "title", "exception_type", "first_seen", "last_seen",
               "count", "status", "previous_status"]


def upsert_group(session: Session, project_id: int, fingerprint: str, count: int, first_seen: datetime,
                 last_seen: datetime, analysis: Analysis, reopen: bool = True) -> tuple[int, str | None]:
    """Count `count` occurrences into the group; returns (group id, status before, None when just created).
    With `reopen`, a resolved group becomes regressed."""
    params = _group_params(project_id, fingerprint, count, first_seen, last_seen, analysis)
    connection = session.connection()
    row = connection.execute(_upsert_statement(connection.dialect.name, reopen), params).one()
    return row.id, row.previous_status


_INSERT_REPORTS = Report.__table__.insert()


def _report_ids(connection: Connection, reports: list[NewReport]) -> list[int]:
    """Each report's id: the one its worker answered with (journaled), or one reserved now (store.counters)."""
    missing = sum(1 for r in reports if r.report_id is None)
    fresh = reserve_report_ids(connection, missing) if missing else 0
    ids = []
    for report in reports:
        if report.report_id is not None:
            ids.append(report.report_id)
        else:
            ids.append(fresh)
            fresh += 1
    return ids
_INSERT_DIAGNOSES = Diagnosis.__table__.insert()
_FIND_GROUP = select(Group.__table__.c.id).where(Group.__table__.c.project_id == bindparam("project_id"),
                                                 Group.__table__.c.fingerprint == bindparam("fingerprint"))


def _diagnosis_templates(analysis: Analysis) -> list[dict[str, Any]]:
    """The diagnosis rows of `analysis` without their report id, built once per analysis: an analysis is shared by
    every report of the same text (analyse's cache), so a recurring cause does not rebuild them per report."""
    templates: list[dict[str, Any]] | None = analysis.derived.get("rows")
    if templates is None:
        templates = []
        for rank, d in enumerate(analysis.diagnoses):
            templates.append({
                "rank": rank, "cause": str(d.get("cause") or "")[:64],
                "rule": str(d.get("rule") or "")[:200], "ruleset_version": analysis.ruleset_version,
                "confidence": float(d.get("confidence") or 0.0), "layer": d.get("layer"),
                "expected": d.get("expected"), "received": d.get("received"), "title": d.get("title") or "",
                "explanation": d.get("explanation") or "", "fix": d.get("fix") or "", "fix_code": d.get("fix_code"),
                "evidence": list(d.get("evidence") or []), "fingerprint": str(d.get("fingerprint") or "")[:128],
            })
        analysis.derived["rows"] = templates
    return templates


def diagnosis_rows(report_id: int, analysis: Analysis) -> list[dict[str, Any]]:
    return [{"report_id": report_id, **template} for template in _diagnosis_templates(analysis)]


def _report_row(report: NewReport, group_id: int) -> dict[str, Any]:
    a = report.analysis
    row = {
        "project_id": report.project_id, "group_id": group_id,
        "received_at": report.received_at, "traceback": report.traceback, "summary": report.summary,
        "source": report.source, "inputs": report.inputs, "exception_type": a.exception_type,
        "exception_message": a.exception_message, "cause": a.cause, "fingerprint": a.fingerprint,
        "ruleset_version": a.ruleset_version,
    }
    for name in META_FIELDS:
        row[name] = report.meta.get(name)
    if row["framework"] is None and a.framework and a.framework != "unknown":
        row["framework"] = a.framework
    return row


_REPORT_COLUMNS = tuple(c.name for c in Report.__table__.c)
_DIAGNOSIS_COLUMNS = ("report_id",) + tuple(c.name for c in Diagnosis.__table__.c if c.name not in ("id", "report_id"))
assert _REPORT_COLUMNS[:3] == ("id", "project_id", "group_id")  # the part of a row known only at write time


def prepare(report: NewReport, dialect: Dialect) -> None:
    """Make the report's row values ahead of the write, in the thread that submits it.

    Why: on SQLite the write runs under the database's write lock, which the two workers' writers take turns on, so
    everything done inside it delays both; the columns' processing (timestamps, JSON) needs neither the lock nor
    the ids, so it is done before. Other dialects write through Core and need nothing prepared.
    """
    if dialect.name != "sqlite":
        return
    insert = bulk_insert(Report.__table__, _REPORT_COLUMNS, dialect)
    row = _report_row(report, 0)
    report.prepared = insert.row([None, None, None] + [row[c] for c in _REPORT_COLUMNS[3:]])[3:]
    _processed_diagnoses(report.analysis, bulk_insert(Diagnosis.__table__, _DIAGNOSIS_COLUMNS, dialect), dialect.name)


class _CoreStatements:
    """The batch's statements through SQLAlchemy Core (PostgreSQL and any other database)."""

    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def revoked(self, token_ids: list[int]) -> set[int]:
        return set(self.connection.execute(_REVOKED_AMONG, {"ids": token_ids}).scalars())

    def find_group(self, project_id: int, fingerprint: str) -> int | None:
        return self.connection.execute(_FIND_GROUP, {"project_id": project_id, "fingerprint": fingerprint}).scalar()

    def upsert_group(self, params: dict[str, Any]) -> tuple[int, str | None]:
        row = self.connection.execute(_upsert_statement(self.connection.dialect.name, True), params).one()
        return row.id, row.previous_status

    def insert_reports(self, reports: list[NewReport], group_ids: list[int]) -> list[int]:
        ids = _report_ids(self.connection, reports)
        rows = [{"id": report_id, **_report_row(report, group_id)}
                for report_id, report, group_id in zip(ids, reports, group_ids)]
        self.connection.execute(_INSERT_REPORTS, rows)
        diag_rows = [r for report_id, report in zip(ids, reports) for r in diagnosis_rows(report_id, report.analysis)]
        if diag_rows:
            self.connection.execute(_INSERT_DIAGNOSES, diag_rows)
        return ids


class _DriverStatement:
    """A Core statement compiled once for a positional-parameter dialect and run on the driver's own cursor, with
    the column types' own bind processors (so values are stored exactly as Core stores them)."""

    def __init__(self, statement: Any, dialect: Dialect, column_keys: list[str] | None = None) -> None:
        compiled = statement.compile(dialect=dialect, column_keys=column_keys)
        self.compiled = compiled
        self.sql = compiled.string
        self.names = tuple(compiled.positiontup or ())
        self.processors = {name: compiled.binds[name].type.dialect_impl(dialect).bind_processor(dialect)
                           for name in self.names}

    def parameters(self, params: dict[str, Any]) -> tuple[Any, ...]:
        values = self.compiled.construct_params(params)
        out = []
        for name in self.names:
            value = values[name]
            processor = self.processors[name]
            out.append(value if processor is None else processor(value))
        return tuple(out)


class _SqliteStatements:
    """The batch's statements on SQLite's own cursor, inside the transaction the caller began through SQLAlchemy.

    Why: SQLAlchemy's execution path costs 50-100 us per statement, several times SQLite's own work for these
    small statements, and a batch under light load is one report: Core made a one-report transaction cost ~1 ms
    of CPU, this ~0.2 ms. The statements are the same Core constructs, compiled once.
    """

    _compiled: dict[str, _DriverStatement] = {}

    def __init__(self, connection: Connection, cursor: Any) -> None:
        self.connection = connection
        self.cursor = cursor
        if not self._compiled:
            dialect = connection.dialect
            self._compiled["upsert"] = _DriverStatement(_upsert_statement("sqlite", True), dialect, _GROUP_KEYS)
            self._compiled["find"] = _DriverStatement(_FIND_GROUP, dialect)

    def revoked(self, token_ids: list[int]) -> set[int]:
        listed = ", ".join(str(int(i)) for i in token_ids)  # our own integer ids: nothing to escape
        rows = self.cursor.execute(f"SELECT id FROM tokens WHERE revoked_at IS NOT NULL AND id IN ({listed})")
        return {row[0] for row in rows.fetchall()}

    def find_group(self, project_id: int, fingerprint: str) -> int | None:
        statement = self._compiled["find"]
        row = self.cursor.execute(statement.sql, statement.parameters(
            {"project_id": project_id, "fingerprint": fingerprint})).fetchone()
        return None if row is None else row[0]

    def upsert_group(self, params: dict[str, Any]) -> tuple[int, str | None]:
        statement = self._compiled["upsert"]
        row = self.cursor.execute(statement.sql, statement.parameters(params)).fetchone()
        return row[0], row[1]

    def insert_reports(self, reports: list[NewReport], group_ids: list[int]) -> list[int]:
        """Insert `reports` (into the groups `group_ids`, same order) and their diagnoses; their ids in that order.

        Ids are given explicitly: the one a worker answered with, or reserved from the counter in this transaction
        (store.counters). The rows go as tuples.
        """
        dialect = self.connection.dialect
        for report in reports:
            if report.prepared is None:
                prepare(report, dialect)
        ids = _report_ids(self.connection, reports)
        self.cursor.executemany(bulk_insert(Report.__table__, _REPORT_COLUMNS, dialect).sql, [
            (report_id, report.project_id, group_id, *report.prepared)  # type: ignore[misc]
            for report_id, report, group_id in zip(ids, reports, group_ids)])
        diagnoses = bulk_insert(Diagnosis.__table__, _DIAGNOSIS_COLUMNS, dialect)
        diag_rows = []
        for report_id, report in zip(ids, reports):
            for values in _processed_diagnoses(report.analysis, diagnoses, dialect.name):
                diag_rows.append((report_id, *values))
        if diag_rows:
            self.cursor.executemany(diagnoses.sql, diag_rows)
        return ids


def _statements(connection: Connection) -> _CoreStatements | _SqliteStatements:
    cursor = sqlite_driver_cursor(connection)
    return _CoreStatements(connection) if cursor is None else _SqliteStatements(connection, cursor)


def _processed_diagnoses(analysis: Analysis, insert: BulkInsert, dialect: str) -> list[tuple[Any, ...]]:
    """The diagnosis rows of `analysis` as the driver gets them, without the report id; once per analysis."""
    key = f"rows:{dialect}"
    found: list[tuple[Any, ...]] | None = analysis.derived.get(key)
    if found is None:
        found = [insert.row([None] + [t[c] for c in _DIAGNOSIS_COLUMNS[1:]])[1:] for t in _diagnosis_templates(analysis)]
        analysis.derived[key] = found
    return found


_REVOKED_AMONG = select(Token.__table__.c.id).where(Token.__table__.c.id.in_(bindparam("ids", expanding=True)),
                                                    Token.__table__.c.revoked_at.is_not(None))


def store_reports(target: Session | Connection, reports: list[NewReport]) -> list[Stored | Exception]:
    """Store `reports` within the caller's transaction (on a Session or a Connection); the answers are in the same
    order: where each went, or TokenRevoked for a report whose token was revoked since the worker last verified it
    (not stored).

    Why check the token here: the worker verified it from a cache a few seconds old; this check runs in the very
    transaction that would store the report, so a revoked token stores nothing from the moment it is revoked.
    """
    connection = target.connection() if isinstance(target, Session) else target
    statements = _statements(connection)
    with sqlite_errors_as_sqlalchemy() if isinstance(statements, _SqliteStatements) else nullcontext():
        token_ids = sorted({r.token_id for r in reports if r.token_id is not None})
        if token_ids:
            revoked = statements.revoked(token_ids)
            if revoked:
                kept = [r for r in reports if r.token_id not in revoked]
                answers = iter(_store_kept(connection, statements, kept) if kept else [])
                return [TokenRevoked() if r.token_id in revoked else next(answers) for r in reports]
        return list(_store_kept(connection, statements, reports))


# Where a connection remembers the ids of groups it has seen counted, by (project id, fingerprint): a recurring
# cause then costs no lookup per batch. A remembered id is only a guess, checked by the upsert that counts the
# group at the end of the batch (a different id there fails the batch, as does a reference to a deleted group).
_KNOWN_GROUPS = "diagnoser_known_groups"


def _store_kept(connection: Connection, statements: _CoreStatements | _SqliteStatements,
                reports: list[NewReport]) -> list[Stored]:
    """Store `reports`; the answers are in the same order.

    A group that already exists is counted last, just before the commit: on PostgreSQL the upsert locks the group's
    row until the transaction ends, and a recurring cause is one hot row every concurrent batch wants, so the lock
    is held for the commit alone rather than for all the inserts too. A new group must exist before its reports
    (they reference it), so it is upserted first. Groups are upserted in key order so two concurrent batches
    cannot deadlock on PostgreSQL.
    """
    keys: dict[tuple[int, str], list[int]] = {}
    for index, report in enumerate(reports):
        keys.setdefault((report.project_id, report.analysis.fingerprint), []).append(index)
    known: dict[tuple[int, str], int] = connection.info.setdefault(_KNOWN_GROUPS, {})
    try:
        return _store(statements, reports, keys, known)
    except BaseException:
        known.clear()  # a stale id (a group deleted meanwhile) fails the batch; its retry looks every group up
        raise


def _store(statements: _CoreStatements | _SqliteStatements, reports: list[NewReport],
           keys: dict[tuple[int, str], list[int]], known: dict[tuple[int, str], int]) -> list[Stored]:
    group_ids: dict[tuple[int, str], int] = {}
    for key in keys:
        found = known.get(key)
        if found is None:
            found = statements.find_group(*key)
        if found is not None:
            group_ids[key] = found
    statuses: dict[tuple[int, str], str] = {}

    def count(key: tuple[int, str]) -> None:
        members = keys[key]
        times = [reports[i].received_at for i in members]
        group_id, previous = statements.upsert_group(_group_params(
            key[0], key[1], len(members), min(times), max(times), reports[members[0]].analysis))
        group_ids[key] = group_id
        statuses[key] = "new" if previous is None else "regressed" if previous == "resolved" else "existing"

    for key in sorted(k for k in keys if k not in group_ids):
        count(key)
    report_ids = statements.insert_reports(reports, [group_ids[(r.project_id, r.analysis.fingerprint)]
                                                     for r in reports])
    for key in sorted(k for k in keys if k not in statuses):
        looked_up = group_ids[key]
        count(key)
        if group_ids[key] != looked_up:  # deleted and re-made meanwhile (reclassify): retry, reports point wrong
            raise sa_exc.IntegrityError("group changed during ingest", {}, Exception("retry"))
        if len(known) >= 10_000:
            known.clear()
        known[key] = looked_up  # existed before this transaction, so a rollback does not undo it

    answers = []
    first_seen: set[tuple[int, str]] = set()
    for index, report_id in enumerate(report_ids):
        key = (reports[index].project_id, reports[index].analysis.fingerprint)
        status = statuses[key] if key not in first_seen else "existing"
        first_seen.add(key)
        answers.append(Stored(report_id=report_id, group_id=group_ids[key], group_status=status))
    return answers
