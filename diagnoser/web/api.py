"""The JSON API under /api/v1: thin handlers that authenticate, parse, and call the store."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request

from diagnoser.store.analysis import Analysis, analyse
from diagnoser.store.base import utcnow
from diagnoser.store.dashboard import change_group_status
from diagnoser.store.db import reading, writing
from diagnoser.store.ingest import NewReport, Stored
from diagnoser.store.models import GROUP_STATUSES
from diagnoser.store.queries import GroupFilter, cause_counts, get_group, get_report, list_groups
from diagnoser.store.scrub import scrub_text, scrub_value
from diagnoser.store.tokens import Principal
from diagnoser.web.auth import authenticate
from diagnoser.web.errors import ApiError
from diagnoser.web.openapi import openapi_document
from diagnoser.web.payload import ReportPayload, parse_report, parse_status, read_json

bp = Blueprint("api", __name__, url_prefix="/api/v1")

MAX_ID = 2**31 - 1
SETTABLE_STATUSES = ("open", "resolved", "ignored")


def _services() -> Any:
    return current_app.extensions["diagnoser"]


def _reading() -> Any:
    return reading(_services().sessions)


def base_url() -> str:
    """Where the dashboard is, for the `url` of answers: the configured base, or the request's own host."""
    return _services().settings.base_url or f"{request.scheme}://{request.host}"


def group_link(base: str, group_id: int) -> str:
    return f"{base}/groups/{int(group_id)}"


def group_url(group_id: int) -> str:
    return group_link(base_url(), group_id)


@bp.post("/reports")
def post_report() -> Response:
    services = _services()
    principal = authenticate("ingest")
    report = new_report(principal, parse_report(read_json(services.settings.max_body_bytes)))
    stored = services.writer.write(report)
    # A resend of a stored report (same event_id) gets the first answer again, exactly: it is stored once.
    return Response(report_answer(stored, report.analysis, base_url()), status=201, mimetype="application/json")


def new_report(principal: Principal, payload: ReportPayload) -> NewReport:
    """The report to store: scrubbed of secrets, then diagnosed."""
    traceback = scrub_text(payload.traceback)
    summary = scrub_text(payload.summary) if payload.summary else payload.summary
    source = scrub_text(payload.source) if payload.source else payload.source
    inputs = scrub_value(payload.inputs) if payload.inputs else payload.inputs
    analysis = analyse(traceback, summary=summary, source=source, inputs=inputs)
    return NewReport(
        project_id=principal.project_id,
        received_at=utcnow(),
        traceback=traceback,
        analysis=analysis,
        summary=summary,
        source=source,
        inputs=inputs,
        token_id=principal.token_id,
        event_id=payload.event_id,
        meta={k: scrub_value(v, k) for k, v in payload.meta.items() if v is not None},
    )


def report_answer(stored: Stored, analysis: Analysis, base: str) -> str:
    """The 201 answer's body, as jsonify would write it (compact, keys in this order). The diagnoses are most of it
    and are the same for every report of the same text (analyse shares the analysis), so their JSON is made once."""
    diagnoses = analysis.derived.get("json")
    if diagnoses is None:
        # Compact, keys in the engine's order, non-ASCII escaped: what the app's JSON provider writes here.
        diagnoses = analysis.derived["json"] = json.dumps(analysis.diagnoses, separators=(",", ":"))
    return (
        f'{{"report_id":{int(stored.report_id)},"group_id":{int(stored.group_id)},'
        f'"group_status":{json.dumps(stored.group_status)},"diagnoses":{diagnoses},'
        f'"url":{json.dumps(group_link(base, stored.group_id))}}}\n'
    )


def _query(allowed: tuple[str, ...]) -> dict[str, str]:
    unknown = sorted(set(request.args) - set(allowed))
    if unknown:
        raise ApiError(
            400,
            "unknown_parameter",
            f"unknown query parameter {unknown[0]!r}; allowed: {', '.join(allowed)}",
            field=unknown[0],
        )
    values = {k: request.args[k] for k in allowed if k in request.args}
    for name, value in values.items():
        if "\x00" in value:  # PostgreSQL refuses NUL in text: a 400 here, not its error later
            raise ApiError(400, "invalid_parameter", f"{name} must not contain NUL characters", field=name)
    return values


def _time(args: dict[str, str], name: str) -> datetime | None:
    if name not in args:
        return None
    try:
        value = datetime.fromisoformat(args[name].strip())
    except ValueError:
        raise ApiError(
            400, "invalid_parameter", f"{name} must be an ISO 8601 time, e.g. 2026-01-31T12:00:00Z", field=name
        ) from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _int(args: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    if name not in args:
        return default
    text = args[name].strip()
    if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
        raise ApiError(400, "invalid_parameter", f"{name} must be a whole number from {low} to {high}", field=name)
    return int(text)


def _id(value: int) -> int:
    if not 0 < value <= MAX_ID:
        raise ApiError(404, "not_found", "no such resource")
    return value


@bp.get("/groups")
def groups_index() -> Response:
    principal = authenticate("read")
    args = _query(("cause", "status", "project", "since", "until", "limit", "offset"))
    status = args.get("status")
    if status is not None and status not in GROUP_STATUSES:
        raise ApiError(400, "invalid_parameter", f"status must be one of {', '.join(GROUP_STATUSES)}", field="status")
    flt = GroupFilter(
        cause=args.get("cause"),
        status=status,
        project=args.get("project"),
        since=_time(args, "since"),
        until=_time(args, "until"),
    )
    limit = _int(args, "limit", 50, 1, 200)
    offset = _int(args, "offset", 0, 0, 1_000_000_000)
    with _reading() as session:
        groups, more = list_groups(session, principal.team_id, flt, limit, offset)
    for group in groups:
        group["url"] = group_url(group["id"])
    return jsonify(
        {"groups": groups, "limit": limit, "offset": offset, "next_offset": offset + limit if more else None}
    )


def _group_answer(group: dict[str, Any] | None, group_id: int) -> Response:
    if group is None:
        raise ApiError(404, "not_found", f"no group {group_id}")
    group["url"] = group_url(group_id)
    return jsonify(group)


@bp.get("/groups/<int:group_id>")
def group_show(group_id: int) -> Response:
    principal = authenticate("read")
    _query(())
    with _reading() as session:
        group = get_group(session, principal.team_id, _id(group_id))
    return _group_answer(group, group_id)


@bp.patch("/groups/<int:group_id>")
def group_update(group_id: int) -> Response:
    principal = authenticate("read")
    _query(())
    status = parse_status(read_json(_services().settings.max_body_bytes), SETTABLE_STATUSES)
    with writing(_services().sessions) as session:
        group = change_group_status(session, principal.team_id, _id(group_id), status, token_id=principal.token_id)
    return _group_answer(group, group_id)


@bp.get("/reports/<int:report_id>")
def report_show(report_id: int) -> Response:
    principal = authenticate("read")
    _query(())
    with _reading() as session:
        report = get_report(session, principal.team_id, _id(report_id))
    if report is None:
        raise ApiError(404, "not_found", f"no report {report_id}")
    return jsonify(report)


@bp.get("/causes")
def causes() -> Response:
    principal = authenticate("read")
    args = _query(("since", "until", "days", "project"))
    until = _time(args, "until")
    since = _time(args, "since")
    if since is None:
        try:
            since = (until or utcnow()) - timedelta(days=_int(args, "days", 7, 1, 3660))
        except OverflowError:
            raise ApiError(400, "invalid_parameter", "until is too early for that many days", field="days") from None
    elif "days" in args:
        raise ApiError(400, "invalid_parameter", "give either since or days, not both", field="days")
    with _reading() as session:
        counts = cause_counts(session, principal.team_id, since, until, args.get("project"))
    return jsonify({"since": since.isoformat(), "until": until.isoformat() if until else None, "causes": counts})


@bp.get("/openapi.json")
def openapi() -> Response:
    return jsonify(openapi_document())
