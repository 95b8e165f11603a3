"""Store a batch of reports in the caller's transaction: check their tokens, recognise resends, count each into its
group, keep each distinct text once, insert the reports.

Why one upsert per group: `INSERT .. ON CONFLICT (project_id, fingerprint) DO UPDATE SET count = count + n` is
atomic on SQLite and PostgreSQL, so two web nodes seeing the same new fingerprint at once make one group with the
exact count, and its RETURNING says whether the group was just created (previous_status NULL), reopened (it was
resolved) or counted. Groups are upserted in key order, so two concurrent batches cannot deadlock on PostgreSQL.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import (
    Connection,
    Integer,
    String,
    any_,
    bindparam,
    case,
    cast,
    literal,
    null,
    select,
    union_all,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects import postgresql, sqlite

from diagnoser.store.analysis import Analysis
from diagnoser.store.models import (
    AnalysisRow,
    CauseDay,
    Group,
    GroupDay,
    GroupFacet,
    OutboxEvent,
    Report,
    Token,
    table,
)

META_FIELDS = (
    "hostname",
    "user",
    "run_id",
    "script",
    "framework",
    "framework_version",
    "python_version",
    "versions",
    "git_commit",
    "tags",
)


class TokenRevoked(Exception):
    """The token a report came with was revoked before the report could be stored."""


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
    token_id: int | None = None  # checked for revocation in the transaction that stores the report
    event_id: str | None = None  # the client's id for this report: a resend carries the same


@dataclass(frozen=True)
class Stored:
    report_id: int
    group_id: int
    group_status: str  # "new" | "existing" | "regressed"
    repeated: bool = False  # a resend of a report already stored: this is the first answer again


def _dialect(connection: Connection) -> str:
    name = connection.dialect.name
    if name not in ("postgresql", "sqlite"):
        raise RuntimeError(f"upserts are implemented for SQLite and PostgreSQL, not {name}")
    return name


def _insert(connection: Connection) -> Any:
    """The dialect's INSERT, which knows ON CONFLICT."""
    return postgresql.insert if _dialect(connection) == "postgresql" else sqlite.insert


@dataclass(frozen=True)
class _Statements:
    """The batch's statements, built once per dialect: building them per batch cost more than running them."""

    lookup: Any
    group_upsert: Any
    analysis_insert: Any
    report_insert: Any
    report_status: Any
    day_upsert: Any
    facet_upsert: Any
    cause_day_upsert: Any
    event_insert: Any


@cache
def _statements(dialect: str) -> _Statements:
    reports = table(Report).c
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    return _Statements(
        lookup=_lookup(dialect),
        group_upsert=_group_upsert(insert),
        analysis_insert=insert(table(AnalysisRow)).on_conflict_do_nothing().returning(table(AnalysisRow).c.id),
        report_insert=table(Report).insert().returning(reports.id, sort_by_parameter_order=True),
        event_insert=table(OutboxEvent).insert(),
        day_upsert=_adding_upsert(insert, GroupDay, ("group_id", "day")),
        facet_upsert=_adding_upsert(insert, GroupFacet, ("group_id", "facet", "value")),
        cause_day_upsert=_adding_upsert(insert, CauseDay, ("project_id", "cause", "day")),
        report_status=table(Report)
        .update()
        .where(reports.id == bindparam("report_id"))
        .values(group_status=bindparam("status")),
    )


def _lookup(dialect: str) -> Any:
    """Everything a batch must know before it writes, for one project, in one round trip: which of its tokens are
    revoked, which of its event ids are stored already (and their answer), which of its groups and texts exist.

    Why one statement: each statement is a round trip during which the writer thread gives up the GIL, and under
    load it waits to get it back from the request threads; four lookups cost four such waits. Rows are tagged by
    kind: (kind, key, id, group_id, status).

    On PostgreSQL the lists are arrays (`= ANY(...)`), one statement text for any batch; on SQLite they are
    expanded into IN (...).
    """
    tokens, reports, groups, analyses = (table(Token).c, table(Report).c, table(Group).c, table(AnalysisRow).c)
    no_int, no_text = cast(null(), Integer), cast(null(), String)
    project: Any = bindparam("project_id")

    def among(column: Any, name: str, item: Any) -> Any:
        if dialect == "postgresql":
            return column == any_(bindparam(name, type_=postgresql.ARRAY(item)))
        return column.in_(bindparam(name, expanding=True))

    return union_all(
        select(literal("revoked", String), no_text, tokens.id, no_int, no_text).where(
            among(tokens.id, "token_ids", Integer), tokens.revoked_at.is_not(None)
        ),
        # One project per query: SQLite searches (project_id, x) IN (...) by the project alone, a scan of it.
        select(literal("event", String), reports.event_id, reports.id, reports.group_id, reports.group_status).where(
            reports.project_id == project, among(reports.event_id, "event_ids", String)
        ),
        select(literal("group", String), groups.fingerprint, groups.id, no_int, groups.status).where(
            groups.project_id == project, among(groups.fingerprint, "fingerprints", String)
        ),
        select(literal("text", String), analyses.content_hash, analyses.id, no_int, analyses.ruleset_version).where(
            analyses.project_id == project, among(analyses.content_hash, "hashes", String)
        ),
    )


@dataclass
class _Known:
    """What the lookup found, by project and key."""

    revoked: set[int] = field(default_factory=set)
    events: dict[tuple[int, str], Stored] = field(default_factory=dict)
    groups: dict[tuple[int, str], tuple[int, str]] = field(default_factory=dict)  # -> (id, status)
    texts: dict[tuple[int, str], tuple[int, str]] = field(default_factory=dict)  # -> (id, rule-set version)


def _look_up(connection: Connection, statements: _Statements, reports: list[NewReport]) -> _Known:
    known = _Known()
    token_ids = sorted({r.token_id for r in reports if r.token_id is not None})
    rows: Any
    for project_id in sorted({r.project_id for r in reports}):
        mine = [r for r in reports if r.project_id == project_id]
        rows = connection.execute(
            statements.lookup,
            {
                "project_id": project_id,
                "token_ids": token_ids,
                "event_ids": sorted({r.event_id for r in mine if r.event_id}),
                "fingerprints": sorted({r.analysis.fingerprint for r in mine}),
                "hashes": sorted({r.analysis.content_hash for r in mine}),
            },
        )
        for kind, key, row_id, group_id, status in rows:
            if kind == "revoked":
                known.revoked.add(row_id)
            elif kind == "event":
                known.events[(project_id, key)] = Stored(row_id, group_id, status, repeated=True)
            elif kind == "group":
                known.groups[(project_id, key)] = (row_id, status)
            else:
                known.texts[(project_id, key)] = (row_id, status)
    return known


def _adding_upsert(insert: Any, model: type[Any], key: tuple[str, ...]) -> Any:
    """INSERT a rollup row, or add its count to the one there (and keep the latest last_seen)."""
    rollup = table(model)
    statement = insert(rollup)
    values: dict[str, Any] = {"count": rollup.c.count + statement.excluded.count}
    if "last_seen" in rollup.c:
        values["last_seen"] = case(
            (statement.excluded.last_seen > rollup.c.last_seen, statement.excluded.last_seen), else_=rollup.c.last_seen
        )
    return statement.on_conflict_do_update(index_elements=[rollup.c[k] for k in key], set_=values)


def _group_upsert(insert: Any) -> Any:
    groups = table(Group)
    statement = insert(groups)
    new = statement.excluded
    return statement.on_conflict_do_update(
        index_elements=[groups.c.project_id, groups.c.fingerprint],
        set_={
            "count": groups.c.count + new.count,
            "last_seen": case((new.last_seen > groups.c.last_seen, new.last_seen), else_=groups.c.last_seen),
            "first_seen": case((new.first_seen < groups.c.first_seen, new.first_seen), else_=groups.c.first_seen),
            "status": case((groups.c.status == "resolved", "regressed"), else_=groups.c.status),
            "previous_status": groups.c.status,
            "message": new.message,
        },
    ).returning(groups.c.id, groups.c.previous_status)


def store_batch(connection: Connection, reports: list[NewReport]) -> list[Stored | Exception]:
    """Store `reports` within the caller's transaction; the answers are in the same order: where each went, or
    TokenRevoked for a report whose token was revoked since the web node last verified it (not stored).

    Why check the token here: the web node verified it from a cache a few seconds old; this check runs in the very
    transaction that would store the report, so a revoked token stores nothing from the moment it is revoked.
    """
    statements = _statements(_dialect(connection))
    known = _look_up(connection, statements, reports)
    answers: list[Stored | Exception | None] = []
    for report in reports:
        if report.token_id in known.revoked:
            answers.append(TokenRevoked())
        else:  # a resend of a stored report (same project and event id) gets that report's first answer
            answers.append(known.events.get((report.project_id, report.event_id or "")))
    fresh: list[int] = []
    first_copy: dict[tuple[int, str], int] = {}
    copies: dict[int, int] = {}  # the same event twice in this batch: the second copy -> the first
    for index, report in enumerate(reports):
        if answers[index] is not None:
            continue
        if report.event_id:
            event = (report.project_id, report.event_id)
            if event in first_copy:
                copies[index] = first_copy[event]
                continue
            first_copy[event] = index
        fresh.append(index)
    stored_new = _store_new(connection, statements, known, [reports[i] for i in fresh])
    for index, stored in zip(fresh, stored_new, strict=True):
        answers[index] = stored
    for index, first in copies.items():
        answer = answers[first]
        answers[index] = replace(answer, repeated=True) if isinstance(answer, Stored) else answer
    return [a for a in answers if a is not None]


def _store_new(
    connection: Connection, statements: _Statements, known: _Known, reports: list[NewReport]
) -> list[Stored]:
    """Insert the reports; a group that exists already is counted last, just before the commit.

    Why last: on PostgreSQL the upsert locks the group's row until the transaction ends, and a recurring cause is
    one hot row that every web node's batch wants, so the lock is held for the commit alone rather than for all
    the inserts too. A new group must exist before its reports, so it is upserted first. The status a report found
    (new, existing, regressed) is the upsert's own answer; a guess made from the lookup is corrected if a
    concurrent change made it wrong.
    """
    if not reports:
        return []
    keys: dict[tuple[int, str], list[int]] = {}
    for index, report in enumerate(reports):
        keys.setdefault((report.project_id, report.analysis.fingerprint), []).append(index)
    looked_up = {key: found for key, found in known.groups.items() if key in keys}
    group_ids: dict[tuple[int, str], int] = {}
    statuses: dict[tuple[int, str], str] = {}

    def count(key: tuple[int, str]) -> str:
        members = keys[key]
        times = [reports[i].received_at for i in members]
        analysis = reports[members[-1]].analysis
        row = connection.execute(
            statements.group_upsert,
            {
                "project_id": key[0],
                "fingerprint": key[1],
                "cause": analysis.cause,
                "rule": (analysis.best or {}).get("rule"),
                "title": analysis.title,
                "exception_type": analysis.exception_type,
                "first_seen": min(times),
                "last_seen": max(times),
                "count": len(members),
                "status": "open",
                "previous_status": None,
                "message": analysis.exception_message[:2000],
            },
        ).one()
        if key in group_ids and group_ids[key] != row.id:  # removed and made again meanwhile (reclassify)
            raise sa_exc.IntegrityError("group changed during ingest", {}, Exception("retry the batch"))
        group_ids[key] = row.id
        return (
            "new" if row.previous_status is None else ("regressed" if row.previous_status == "resolved" else "existing")
        )

    for key in sorted(k for k in keys if k not in looked_up):
        statuses[key] = count(key)
    for key, (group_id, status) in looked_up.items():
        group_ids[key] = group_id
        statuses[key] = "regressed" if status == "resolved" else "existing"

    analysis_ids = _analysis_ids(connection, statements, known, reports)
    rows = []
    seen_groups: set[tuple[int, str]] = set()
    for report in reports:
        key = (report.project_id, report.analysis.fingerprint)
        status = "existing" if key in seen_groups else statuses[key]
        seen_groups.add(key)
        rows.append(
            {
                "project_id": report.project_id,
                "group_id": group_ids[key],
                "analysis_id": analysis_ids[(report.project_id, report.analysis.content_hash)],
                "event_id": report.event_id,
                "received_at": report.received_at,
                "group_status": status,
                **{name: report.meta.get(name) for name in META_FIELDS},
            }
        )
        if rows[-1]["framework"] is None and report.analysis.framework not in (None, "unknown"):
            rows[-1]["framework"] = report.analysis.framework
    inserted: Any = connection.execute(statements.report_insert, rows).scalars().all()
    first_of_group: dict[tuple[int, str], int] = {}
    for index, report in enumerate(reports):
        first_of_group.setdefault((report.project_id, report.analysis.fingerprint), index)
    for key in sorted(looked_up):
        actual = count(key)
        if actual != statuses[key]:  # a status set meanwhile: the first report of the group says so
            statuses[key] = actual
            index = first_of_group[key]
            connection.execute(statements.report_status, {"report_id": inserted[index], "status": actual})
            rows[index]["group_status"] = actual
    _count_rollups(connection, statements, rows, [report.analysis.cause for report in reports])
    events = [
        {"project_id": key[0], "group_id": group_ids[key], "report_id": inserted[index], "kind": statuses[key],
         "created_at": reports[index].received_at}
        for key, index in sorted(first_of_group.items()) if statuses[key] in ("new", "regressed")
    ]
    if events:  # the notification worker's outbox, in this same transaction (store.models.OutboxEvent)
        connection.execute(statements.event_insert, events)
    return [
        Stored(report_id, row["group_id"], row["group_status"])  # type: ignore[arg-type]
        for report_id, row in zip(inserted, rows, strict=True)
    ]


def facets_of(row: dict[str, Any]) -> list[tuple[str, str]]:
    """What a report is broken down by on its group's page: who ran it, where, on which library, its tags."""
    out = []
    if row.get("user"):
        out.append(("user", str(row["user"])[:300]))
    if row.get("hostname"):
        out.append(("host", str(row["hostname"])[:300]))
    if row.get("framework") and row.get("framework_version"):
        out.append(("framework", f"{row['framework']} {row['framework_version']}"[:300]))
    for key, value in sorted((row.get("tags") or {}).items()):
        out.append(("tag", f"{key}={value}"[:300]))
    return out


def _count_rollups(
    connection: Connection, statements: _Statements, rows: list[dict[str, Any]], causes: list[str | None]
) -> None:
    """Count the batch into each group's days and breakdowns and each project's causes per day, in key order,
    after the groups (hot rows last)."""
    days: dict[tuple[int, Any], int] = {}
    facets: dict[tuple[int, str, str], list[Any]] = {}
    cause_days: dict[tuple[int, str, Any], int] = {}
    for row, cause in zip(rows, causes, strict=True):
        day = row["received_at"].date()
        days[(row["group_id"], day)] = days.get((row["group_id"], day), 0) + 1
        cause_key = (row["project_id"], cause or "", day)
        cause_days[cause_key] = cause_days.get(cause_key, 0) + 1
        for facet, value in facets_of(row):
            entry = facets.setdefault((row["group_id"], facet, value), [0, row["received_at"]])
            entry[0] += 1
            entry[1] = max(entry[1], row["received_at"])
    connection.execute(
        statements.day_upsert, [{"group_id": g, "day": d, "count": n} for (g, d), n in sorted(days.items())]
    )
    if facets:
        connection.execute(
            statements.facet_upsert,
            [
                {"group_id": g, "facet": f, "value": v, "count": n, "last_seen": last}
                for (g, f, v), (n, last) in sorted(facets.items())
            ],
        )
    connection.execute(
        statements.cause_day_upsert,
        [{"project_id": p, "cause": c, "day": d, "count": n} for (p, c, d), n in sorted(cause_days.items())],
    )


def _analysis_ids(
    connection: Connection, statements: _Statements, known: _Known, reports: list[NewReport]
) -> dict[tuple[int, str], int]:
    """The row id of each distinct text of the batch: stored ones are looked up in one query, new ones inserted,
    and one stored under an older rule set takes this answer (reclassify regroups its reports)."""
    distinct: dict[tuple[int, str], NewReport] = {}
    for report in reports:
        distinct.setdefault((report.project_id, report.analysis.content_hash), report)
    c = table(AnalysisRow).c
    found = known.texts
    ids = {}
    for key in sorted(distinct):
        a = distinct[key].analysis
        values = {
            "exception_type": a.exception_type,
            "exception_message": a.exception_message,
            "framework": a.framework,
            "cause": a.cause,
            "fingerprint": a.fingerprint,
            "ruleset_version": a.ruleset_version,
            "diagnoses": a.diagnoses,
        }
        if key in found:
            ids[key], version = found[key]
            if version != a.ruleset_version:
                connection.execute(table(AnalysisRow).update().where(c.id == ids[key]).values(**values))
            continue
        report = distinct[key]
        new_id = connection.execute(
            statements.analysis_insert,
            {
                "project_id": key[0],
                "content_hash": key[1],
                "traceback": report.traceback,
                "summary": report.summary,
                "source": report.source,
                "inputs": report.inputs,
                **values,
            },
        ).scalar()
        if new_id is None:  # another node stored the same text a moment ago
            new_id = connection.execute(
                select(c.id).where(c.project_id == key[0], c.content_hash == key[1])
            ).scalar_one()
        ids[key] = new_id
    return ids
