"""The dashboard's routes: thin handlers that check who is asking, parse, call diagnoser.store.dashboard and render.

Every read is scoped to the logged-in person's team (another team's group or report is a 404, as a missing one);
every POST carries the session's CSRF token; managing projects, tokens, people and notification channels needs the
admin role. Members see the team's channels (masked URLs) and their deliveries read-only.
"""

from __future__ import annotations

from typing import Any

from flask import Response, abort, current_app, make_response, render_template, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response as WerkzeugResponse

from diagnoser import __version__
from diagnoser.store.base import utcnow
from diagnoser.store.channels import (
    EVENTS,
    KINDS,
    NO_KEY,
    ChannelError,
    add_channel,
    channel_deliveries,
    find_project,
    get_channel,
    list_channels,
    queue_test,
    remove_channel,
    update_channel,
)
from diagnoser.store.dashboard import (
    LIST_WINDOWS,
    SORTS,
    TRIAGE_STATUSES,
    WINDOWS,
    ListFilter,
    bulk_status,
    cause_summary,
    change_group_status,
    create_team_token,
    filter_options,
    group_detail,
    group_reports,
    has_reports,
    list_groups,
    overview,
    projects_with_tokens,
    report_detail,
    revoke_team_token,
)
from diagnoser.store.db import reading, writing
from diagnoser.store.models import GROUP_STATUSES, ROLES, TOKEN_SCOPES
from diagnoser.store.users import Person, UserError, authenticate, create_user, list_users, set_disabled
from diagnoser.web.dashboard import bp
from diagnoser.web.dashboard.render import highlight_traceback, number, share, spark_points, time_tag
from diagnoser.web.login import (
    CSRF_FIELD,
    admin_required,
    check_csrf,
    client_address,
    csrf_token,
    current_person,
    end_session,
    login_required,
    redirect_to,
    safe_next,
    start_session,
    throttles,
)

MAX_ID = 2**31 - 1
PER_PAGE = 50
REPORTS_PER_PAGE = 25


def _services() -> Any:
    return current_app.extensions["diagnoser"]


def _person() -> Person:
    person = current_person()
    assert person is not None  # login_required ran first
    return person


def base_url() -> str:
    return str(_services().settings.base_url or request.host_url.rstrip("/"))


@bp.app_template_global()
def csrf_field() -> Any:
    from markupsafe import Markup

    return Markup('<input type="hidden" name="{}" value="{}">').format(CSRF_FIELD, csrf_token())


@bp.context_processor
def _context() -> dict[str, Any]:
    return {"person": current_person() if request.endpoint != "dashboard.static" else None,
            "version": __version__, "base_url": base_url(), "now": utcnow()}


bp.add_app_template_filter(time_tag, "time")
bp.add_app_template_filter(spark_points, "spark")
bp.add_app_template_filter(highlight_traceback, "traceback")
bp.add_app_template_filter(number, "number")
bp.add_app_template_filter(share, "share")


@bp.before_request
def _before() -> None:
    if request.method == "POST":
        check_csrf()


@bp.after_request
def _after(response: Response) -> Response:
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "private, no-store"
    return response


@bp.errorhandler(HTTPException)
def _error(error: HTTPException) -> Any:
    status = error.code or 500
    titles = {400: "Bad request", 403: "Not allowed", 404: "Not found", 405: "Method not allowed",
              429: "Too many attempts"}
    response = make_response(render_template("error.html", status=status, title=titles.get(status, error.name),
                                             message=error.description), status)
    if status == 405 and getattr(error, "valid_methods", None):
        response.headers["Allow"] = ", ".join(error.valid_methods)  # type: ignore[attr-defined]
    return response


def _id(value: int) -> int:
    if not 0 < value <= MAX_ID:
        abort(404)
    return value


def _int_arg(name: str, default: int, allowed: tuple[int, ...] | None = None, low: int = 1,
             high: int = 10_000_000) -> int:
    text = request.args.get(name, "").strip()
    if not text.isascii() or not text.isdigit():
        return default
    value = int(text)
    if allowed is not None:
        return value if value in allowed else default
    return value if low <= value <= high else default


# Logging in and out


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_person() is not None:
            return redirect_to_path(target)
        return render_template("login.html", next=target, email="", error=None)
    email = request.form.get("email", "").strip()[:320]
    password = request.form.get("password", "")
    by_email, by_address = throttles(current_app)
    email_key, address_key = email.lower(), client_address()
    wait = max(by_email.retry_after(email_key), by_address.retry_after(address_key))
    if wait:
        response = make_response(render_template(
            "login.html", next=target, email=email,
            error=f"Too many failed attempts: try again in {max(1, wait // 60)} minute(s)."), 429)
        response.headers["Retry-After"] = str(wait)
        return response
    with writing(_services().sessions) as db:
        person = authenticate(db, email, password) if email and password else None
    if person is None:
        by_email.fail(email_key)
        by_address.fail(address_key)
        return make_response(render_template("login.html", next=target, email=email,
                                             error="Wrong email or password (or the account is disabled)."), 401)
    by_email.clear(email_key)
    start_session(person)
    return redirect_to_path(target)


def redirect_to_path(path: str) -> WerkzeugResponse:
    from flask import redirect

    return redirect(path, code=303)


@bp.post("/logout")
def logout() -> Any:
    end_session()
    return redirect_to("dashboard.login")


# Pages


@bp.get("/", endpoint="overview")
@login_required
def overview_page() -> Any:
    person = _person()
    days = _int_arg("days", 30, WINDOWS)
    with reading(_services().sessions) as db:
        data = overview(db, person.team_id, days)
        empty = data["groups"] == 0 and not has_reports(db, person.team_id)
    chart = {"axis": data["axis"], "series": [{"name": s["name"], "counts": s["counts"]} for s in data["chart"]]}
    return render_template("overview.html", data=data, chart=chart, days=days, windows=WINDOWS, empty=empty)



def _list_filter() -> ListFilter:
    args = request.args
    project = _int_arg("project", 0, low=1, high=MAX_ID) or None
    status = args.get("status", "")
    sort = args.get("sort", "last_seen")
    return ListFilter(
        project_id=project,
        cause=args.get("cause", "").strip()[:64] or None,
        status=status if status in GROUP_STATUSES else None,
        framework=args.get("framework", "").strip()[:100] or None,
        days=_int_arg("days", 30, LIST_WINDOWS),
        q=args.get("q", "")[:200].replace("\x00", ""),
        sort=sort if sort in SORTS else "last_seen",
    )


@bp.get("/groups")
@login_required
def groups_page() -> Any:
    person = _person()
    flt = _list_filter()
    page = _int_arg("page", 1, high=100_000)
    with reading(_services().sessions) as db:
        result = list_groups(db, person.team_id, flt, page, PER_PAGE)
        options = filter_options(db, person.team_id)
        empty = result.total == 0 and not has_reports(db, person.team_id)
    query = {k: v for k, v in request.args.items() if k != "page" and v}
    return render_template("groups.html", result=result, flt=flt, options=options, windows=LIST_WINDOWS,
                           sorts=SORTS, query=query, empty=empty, back=request.full_path)


@bp.post("/groups/bulk")
@login_required
def groups_bulk() -> Any:
    person = _person()
    status = request.form.get("status", "")
    if status not in TRIAGE_STATUSES:
        abort(400, description=f"status must be one of {', '.join(TRIAGE_STATUSES)}")
    ids = [int(v) for v in request.form.getlist("ids") if v.isascii() and v.isdigit() and 0 < int(v) <= MAX_ID]
    with writing(_services().sessions) as db:
        bulk_status(db, person.team_id, ids, status, person.email)
    back = request.form.get("back", "")
    return redirect_to_path(safe_next(back) if back.startswith("/groups") else "/groups")


@bp.get("/groups/<int:group_id>")
@login_required
def group_page(group_id: int) -> Any:
    person = _person()
    before = _int_arg("before", 0, low=1, high=MAX_ID) or None
    with reading(_services().sessions) as db:
        group = group_detail(db, person.team_id, _id(group_id))
        if group is None:
            abort(404)
        reports, next_before = group_reports(db, person.team_id, group_id, before, REPORTS_PER_PAGE)
    chart = {"axis": group["axis"], "series": [{"name": "reports", "counts": group["days"]}]}
    return render_template("group.html", group=group, reports=reports, next_before=next_before, before=before,
                           chart=chart, statuses=TRIAGE_STATUSES)


@bp.post("/groups/<int:group_id>/status")
@login_required
def group_status(group_id: int) -> Any:
    person = _person()
    status = request.form.get("status", "")
    if status not in TRIAGE_STATUSES:
        abort(400, description=f"status must be one of {', '.join(TRIAGE_STATUSES)}")
    with writing(_services().sessions) as db:
        if change_group_status(db, person.team_id, _id(group_id), status, actor=person.email) is None:
            abort(404)
    return redirect_to("dashboard.group_page", group_id=group_id)


@bp.get("/reports/<int:report_id>")
@login_required
def report_page(report_id: int) -> Any:
    person = _person()
    with reading(_services().sessions) as db:
        report = report_detail(db, person.team_id, _id(report_id))
    if report is None:
        abort(404)
    return render_template("report.html", report=report)


@bp.get("/causes")
@login_required
def causes_page() -> Any:
    person = _person()
    with reading(_services().sessions) as db:
        rows = cause_summary(db, person.team_id, 30)
    return render_template("causes.html", causes=rows)


# Settings


def _settings_page(status: int = 200, **extra: Any) -> Any:
    person = _person()
    with reading(_services().sessions) as db:
        projects = projects_with_tokens(db, person.team_id)
        members = list_users(db, person.team_id) if person.is_admin else []
        channels = list_channels(db, person.team_id)
    extra.setdefault("channel_form", {})
    response = make_response(render_template("settings.html", projects=projects, members=members, scopes=TOKEN_SCOPES,
                                             roles=ROLES, channels=channels, kinds=KINDS, events=EVENTS,
                                             has_key=bool(_services().settings.encryption_key), no_key=NO_KEY,
                                             **extra), status)
    return response


@bp.get("/settings")
@login_required
def settings_page() -> Any:
    return _settings_page()


@bp.post("/settings/tokens")
@admin_required
def token_create() -> Any:
    person = _person()
    project = request.form.get("project", "").strip()[:200]
    scope = request.form.get("scope", "ingest")
    if not project or scope not in TOKEN_SCOPES or "\x00" in project:
        return _settings_page(400, error="Give a project name and a scope (ingest or read).")
    with writing(_services().sessions) as db:
        prefix, token = create_team_token(db, person.team_id, project, scope)
    return _settings_page(new_token={"project": project, "scope": scope, "prefix": prefix, "token": token})


@bp.post("/settings/tokens/<int:token_id>/revoke")
@admin_required
def token_revoke(token_id: int) -> Any:
    person = _person()
    with writing(_services().sessions) as db:
        if not revoke_team_token(db, person.team_id, _id(token_id)):
            abort(404)
    return redirect_to("dashboard.settings_page")


@bp.post("/settings/members")
@admin_required
def member_create() -> Any:
    person = _person()
    email = request.form.get("email", "")[:320]
    role = request.form.get("role", "member")
    password = request.form.get("password", "")
    try:
        with writing(_services().sessions) as db:
            created = create_user(db, person.team, email, role, password)
    except UserError as error:
        return _settings_page(400, error=str(error))
    return _settings_page(notice=f"Created {created.role} {created.email}: give them their password.")


@bp.post("/settings/members/disable")
@admin_required
def member_disable() -> Any:
    person = _person()
    email = request.form.get("email", "").strip().lower()
    enable = request.form.get("enable") == "1"
    if email == person.email and not enable:
        return _settings_page(400, error="You cannot disable your own account.")
    with writing(_services().sessions) as db:
        if not set_disabled(db, email, not enable, team_id=person.team_id):
            abort(404)
    return redirect_to("dashboard.settings_page")


# Notification channels: thin handlers over diagnoser.store.channels (the functions the CLI and the API call).
# A channel's URL is never put in a page, not even back into the form after an error; only its masked form is.


def _text_field(name: str, limit: int = 200) -> str:
    value = request.form.get(name, "")
    if "\x00" in value:
        abort(400, description=f"{name} must not hold a NUL character")
    return value.strip()[:limit]


def _digest_hour() -> int:
    text = request.form.get("digest_hour", "9").strip()
    if not text.isascii() or not text.isdigit() or len(text) > 2:
        raise ChannelError("the digest hour must be a whole number from 0 to 23")
    return int(text)


def _channel_page(channel_id: int, status: int = 200, **extra: Any) -> Any:
    person = _person()
    with reading(_services().sessions) as db:
        channel = get_channel(db, _id(channel_id), person.team_id)
        if channel is None:
            abort(404)
        deliveries = channel_deliveries(db, channel_id, person.team_id) or []
    return make_response(render_template("channel.html", channel=channel, deliveries=deliveries, events=EVENTS,
                                         queued=request.args.get("queued") == "1", **extra), status)


@bp.post("/settings/channels")
@admin_required
def channel_create() -> Any:
    person = _person()
    settings = _services().settings
    kind = _text_field("kind", 32)
    project = _text_field("project")
    url = request.form.get("url", "")
    events = request.form.getlist("events")
    name = _text_field("name")
    tz = _text_field("digest_tz", 64) or "UTC"
    # What the form is filled with again after an error: everything but the URL (a secret).
    kept = {"kind": kind, "project": project, "events": events, "name": name, "digest_tz": tz,
            "digest_hour": request.form.get("digest_hour", "9")[:2]}
    if not settings.encryption_key:
        return _settings_page(400, error=NO_KEY, channel_form=kept)
    try:
        hour = _digest_hour()
        with writing(_services().sessions) as db:
            project_id = find_project(db, person.team_id, project) if project else None
            added = add_channel(db, person.team_id, kind, url, settings.encryption_key, project_id=project_id,
                                events=events, name=name, digest_hour=hour, digest_tz=tz,
                                allow_private=settings.allow_private_webhooks)
    except ChannelError as error:
        return _settings_page(400, error=str(error), channel_form=kept)
    channel = added.channel
    where = f"project {channel['project']}" if channel["project"] else "all projects"
    return _settings_page(notice=f"Added {channel['kind']} channel {channel['id']} for {where}: {channel['url']}. "
                                 "Send it a test message to check it.",
                          new_channel={"channel": channel, "secret": added.secret})


@bp.get("/settings/channels/<int:channel_id>")
@login_required
def channel_page(channel_id: int) -> Any:
    return _channel_page(channel_id)


@bp.post("/settings/channels/<int:channel_id>/test")
@admin_required
def channel_test(channel_id: int) -> Any:
    person = _person()
    try:
        with writing(_services().sessions) as db:
            if queue_test(db, _id(channel_id), person.team_id) is None:
                abort(404)
    except ChannelError as error:
        abort(400, description=str(error))
    return redirect_to("dashboard.channel_page", channel_id=channel_id, queued=1)


@bp.post("/settings/channels/<int:channel_id>/enable")
@admin_required
def channel_enable(channel_id: int) -> Any:
    person = _person()
    try:
        with writing(_services().sessions) as db:
            if update_channel(db, _id(channel_id), person.team_id, enable=True) is None:
                abort(404)
    except ChannelError as error:
        abort(400, description=str(error))
    return redirect_to("dashboard.channel_page", channel_id=channel_id)


@bp.post("/settings/channels/<int:channel_id>/update")
@admin_required
def channel_update(channel_id: int) -> Any:
    person = _person()
    tz = _text_field("digest_tz", 64) or "UTC"
    try:
        with writing(_services().sessions) as db:
            if get_channel(db, _id(channel_id), person.team_id) is None:
                abort(404)  # before any complaint about the form: another team's channel is not there at all
            update_channel(db, channel_id, person.team_id, events=request.form.getlist("events"),
                           digest_hour=_digest_hour(), digest_tz=tz)
    except ChannelError as error:
        return _channel_page(channel_id, 400, error=str(error))
    return redirect_to("dashboard.channel_page", channel_id=channel_id)


@bp.post("/settings/channels/<int:channel_id>/remove")
@admin_required
def channel_remove(channel_id: int) -> Any:
    """Without confirm=yes, the page asking to confirm; with it, the channel and its delivery history go."""
    person = _person()
    if request.form.get("confirm") != "yes":
        with reading(_services().sessions) as db:
            channel = get_channel(db, _id(channel_id), person.team_id)
        if channel is None:
            abort(404)
        return render_template("channel_remove.html", channel=channel)
    with writing(_services().sessions) as db:
        if not remove_channel(db, _id(channel_id), person.team_id):
            abort(404)
    return redirect_to("dashboard.settings_page", _anchor="channels")
