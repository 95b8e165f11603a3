"""What the pages show: the overview's chart data and ranking, the groups list's filters, sorts and pages, bulk
triage, a group's diagnosis, breakdowns, traceback and history (the API's PATCH recorded too), a report, the
causes, the settings (a token shown once, revoked; members), the empty states; and escaping of hostile input."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta

from dash_helpers import KERAS_TRACEBACK, PASSWORD, auth, form, logged_in, post_report
from flask import Flask
from sqlalchemy import select, update

from diagnoser.store.db import reading, writing
from diagnoser.store.models import Group, GroupDay, StatusChange, Token

HOSTILE = ('Traceback (most recent call last):\n  File "<script>alert(1)</script>.py", line 3, in <img src=x '
           'onerror=alert(2)>\n    x = "</pre><script>alert(3)</script>"\nValueError: <script>alert(4)</script> '
           '<img src=x onerror=alert(5)> & "quotes"')


def _tags(html: str) -> list[tuple[str, dict[str, str]]]:
    from html.parser import HTMLParser

    found: list[tuple[str, dict[str, str]]] = []

    class Collect(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            found.append((tag, {k: v or "" for k, v in attrs}))

    Collect().feed(html)
    return found


def _json_block(html: str, block: str) -> dict:
    found = re.search(rf'<script type="application/json" id="{block}">(.*?)</script>', html, re.S)
    assert found, block
    return json.loads(found.group(1))


def test_the_overview_stacks_reports_per_cause_per_day_and_ranks_the_groups(app: Flask, team: dict[str, str]) -> None:
    client = app.test_client()
    for n in range(3):
        post_report(client, team["ingest"], meta={"user": f"u{n}", "hostname": "gpu1"})
    post_report(client, team["ingest"], "Traceback (most recent call last):\nZeroDivisionError: division by zero")
    admin = logged_in(app, "admin@ours.io")
    html = admin.get("/").get_data(as_text=True)
    chart = _json_block(html, "overview-data")
    assert len(chart["axis"]) == 30 and chart["axis"][-1] == datetime.now(UTC).date().isoformat()
    totals = {s["name"]: sum(s["counts"]) for s in chart["series"]}
    assert totals == {"Input layer": 3, "no diagnosis": 1}
    assert html.index("conv2d: expected 4 axes, got 3") < html.index("ZeroDivisionError")  # ranked by reports
    assert 'id="undiagnosed-share">25.0%' in html
    assert "<b>2</b> new this week" in html
    ranked = re.search(r'<table class="groups" id="ranked">.*?</table>', html, re.S).group(0)
    assert ranked.count("<svg class=\"spark\"") == 2 and 'datetime="' in ranked
    assert len(_json_block(admin.get("/?days=7").get_data(as_text=True), "overview-data")["axis"]) == 7
    assert len(_json_block(admin.get("/?days=1000").get_data(as_text=True), "overview-data")["axis"]) == 30


def test_the_empty_states_say_how_to_start_with_the_teams_own_url(app: Flask, team: dict[str, str]) -> None:
    html = logged_in(app, "member@ours.io").get("/").get_data(as_text=True)
    assert "pip install diagnoser-client" in html and "DIAGNOSER_URL=http://testserver" in html
    assert "DIAGNOSER_TOKEN" in html and "/settings" in html
    assert "pip install diagnoser-client" in logged_in(app, "member@ours.io").get("/groups").get_data(as_text=True)


def _name(n: int) -> str:  # numbers and quoted names are blanked in the fallback group key: letters differ
    return "col" + chr(97 + n // 26) + chr(97 + n % 26)


def _many_groups(app: Flask, token: str) -> list[int]:
    client = app.test_client()
    ids = []
    for n in range(60):
        text = f"Traceback (most recent call last):\n  File \"t.py\", line {n}\nKeyError: missing {_name(n)}"
        body = post_report(client, token, text, meta={"framework": "torch" if n % 2 else "keras3",
                                                      "framework_version": "2.5.1" if n % 2 else "3.8.0"})
        ids.append(body["group_id"])
    return ids


def test_the_groups_list_filters_sorts_and_pages(app: Flask, team: dict[str, str]) -> None:
    ids = _many_groups(app, team["ingest"])
    post_report(app.test_client(), team["ingest"])  # one diagnosed group
    for _ in range(4):
        post_report(app.test_client(), team["ingest"], "Traceback (most recent call last):\nKeyError: missing colah")
    admin = logged_in(app, "admin@ours.io")

    def titles(path: str) -> list[str]:
        html = admin.get(path).get_data(as_text=True)
        return re.findall(r'<td class="title"><a href="/groups/\d+">([^<]*)</a>', html)

    first = titles("/groups")
    assert len(first) == 50 and "page 1 of 2" in admin.get("/groups").get_data(as_text=True)
    assert len(titles("/groups?page=2")) == 11
    assert titles("/groups?sort=count")[0] == "KeyError: missing colah"
    assert titles("/groups?sort=trend")[0] == "KeyError: missing colah"
    assert titles("/groups?q=COLAM") == ["KeyError: missing colam"]
    assert titles("/groups?q=100%25") == []  # a % is searched for as a character, not a wildcard
    assert titles("/groups?cause=input_layer") == ["conv2d: expected 4 axes, got 3 (None, 28, 28)"]
    assert len(titles("/groups?cause=none")) == 50
    assert len(titles("/groups?framework=torch")) == 30
    assert len(titles("/groups?framework=keras3+3.8.0&q=missing+cola")) == 13  # the even ones of the first 26
    assert titles("/groups?status=resolved") == []
    project = re.search(r'<option value="(\d+)" >vision</option>', admin.get("/groups").get_data(as_text=True))
    assert project and len(titles(f"/groups?project={project.group(1)}&days=0")) == 50
    with writing(app.extensions["diagnoser"].sessions) as session:  # a group last seen 40 days ago
        old = datetime.now(UTC) - timedelta(days=40)
        session.execute(update(Group).where(Group.id == ids[0]).values(last_seen=old, first_seen=old))
    assert len(titles("/groups?days=30&q=colaa")) == 0 and len(titles("/groups?days=90&q=colaa")) == 1
    assert len(titles("/groups?days=0&q=colaa")) == 1
    # nonsense parameters fall back to the defaults, never a 500
    assert admin.get("/groups?days=x&page=-1&sort=evil&status=nope&project=abc").status_code == 200


def test_bulk_resolve_and_ignore_apply_to_the_teams_groups_only(app: Flask, team: dict[str, str]) -> None:
    ids = _many_groups(app, team["ingest"])[:3]
    theirs = post_report(app.test_client(), team["rival_ingest"])["group_id"]
    member = logged_in(app, "member@ours.io")
    answer = form(member, "/groups/bulk", {"status": "resolved", "ids": [str(i) for i in ids[:2]] + [str(theirs)],
                                           "back": "/groups?status=open"}, page="/groups")
    assert answer.status_code == 303 and answer.headers["Location"] == "/groups?status=open"
    assert form(member, "/groups/bulk", {"status": "ignored", "ids": str(ids[2]), "back": "https://evil/"},
                page="/groups").headers["Location"] == "/groups"
    assert form(member, "/groups/bulk", {"status": "regressed", "ids": str(ids[2])}, page="/groups").status_code == 400
    with reading(app.extensions["diagnoser"].sessions) as session:
        status = dict(session.execute(select(Group.id, Group.status)).all())
        actors = set(session.scalars(select(StatusChange.actor)))
    assert [status[i] for i in ids] == ["resolved", "resolved", "ignored"] and status[theirs] == "open"
    assert actors == {"member@ours.io"}


def test_a_group_page_shows_the_diagnosis_breakdowns_traceback_reports_and_history(
    app: Flask, team: dict[str, str]
) -> None:
    client = app.test_client()
    first = None
    for n in range(30):
        body = post_report(client, team["ingest"], meta={
            "user": f"user{n % 3}", "hostname": f"host{n % 2}", "framework": "keras3", "framework_version": "3.15.1",
            "tags": {"exp": str(n % 4)}})
        first = first or body
    group = first["group_id"]
    runner_up = first["diagnoses"][1]["cause"]  # whichever the fitted weights rank second: shown as also possible
    admin = logged_in(app, "admin@ours.io")
    html = admin.get(f"/groups/{group}").get_data(as_text=True)
    for text in ("input_layer", "<code>conv2d</code>", "(28, 28, 1)", "(None, 28, 28)", "Why:", "Fix:",
                 "keras.Input(shape=(28, 28, 1))", "Evidence", "Also possible", runner_up):
        assert text in html, text
    assert runner_up != "input_layer"
    assert "Users <span class=\"muted\">(3)</span>" in html and "host0" in html and "keras3 3.15.1" in html
    assert "exp=0" in html and '<meter min="0" max="30" value="10">' in html
    assert 'File "<span class=tb-file>train.py</span>", line <span class=tb-line>4</span>' in html and "<span class=tb-exc>" in html
    chart = _json_block(html, "group-data")
    assert len(chart["axis"]) == 90 and sum(chart["series"][0]["counts"]) == 30
    def listed(page: str) -> list[str]:
        table = re.search(r'<table class="reports" id="reports">.*?</table>', page, re.S).group(0)
        return re.findall(r'<a href="/reports/(\d+)">#', table)

    reports = listed(html)
    assert len(reports) == 25 and reports == sorted(reports, key=int, reverse=True)
    older = re.search(r'href="/groups/\d+\?before=(\d+)" rel="next"', html)
    assert older
    rest = listed(admin.get(f"/groups/{group}?before={older.group(1)}").get_data(as_text=True))
    assert len(rest) == 5 and set(rest).isdisjoint(reports)
    # triage from the page, then through the API with a read token: both recorded, with who and when
    assert form(admin, f"/groups/{group}/status", {"status": "resolved"}).status_code == 303
    assert client.patch(f"/api/v1/groups/{group}", json={"status": "ignored"}, headers=auth(team["read"])).status_code \
        == 200
    assert form(admin, f"/groups/{group}/status", {"status": "bogus"}).status_code == 400
    html = admin.get(f"/groups/{group}").get_data(as_text=True)
    history = re.search(r'<ul class="history" id="history">(.*?)</ul>', html, re.S).group(1)
    with reading(app.extensions["diagnoser"].sessions) as session:
        prefix = session.scalar(select(Token.prefix).where(Token.scope == "read"))
    assert f"token {prefix}" in history and "admin@ours.io" in history
    assert history.index(f"token {prefix}") < history.index("admin@ours.io")  # newest first
    assert "resolved &rarr; ignored" in history and "open &rarr; resolved" in history
    assert 'id="reopen"' in html


def test_a_resolved_group_regresses_when_the_error_comes_again(app: Flask, team: dict[str, str]) -> None:
    group = post_report(app.test_client(), team["ingest"])["group_id"]
    member = logged_in(app, "member@ours.io")
    form(member, f"/groups/{group}/status", {"status": "resolved"})
    assert post_report(app.test_client(), team["ingest"])["group_status"] == "regressed"
    html = member.get("/").get_data(as_text=True)
    assert "status-regressed" in html and '<span class="badge regressed">regressed</span>' in html
    assert "<b>1</b> regressed this week" in html


def test_a_report_page_shows_traceback_summary_source_shapes_and_metadata(app: Flask, team: dict[str, str]) -> None:
    body = post_report(app.test_client(), team["ingest"], summary="Model: sequential\n conv2d (Conv2D)",
                       source="model.fit(x, y)", inputs={"fit": {"x": {"shape": [16, 28, 28], "dtype": "float32"}}},
                       meta={"hostname": "gpu7", "user": "ana", "git_commit": "abc123", "tags": {"team": "vision"}},
                       event_id="5f0c7a2e3b1d4c6e8f9a0b1c2d3e4f50")
    html = logged_in(app, "member@ours.io").get(f"/reports/{body['report_id']}").get_data(as_text=True)
    for text in ("Model: sequential", "model.fit(x, y)", "\"shape\": [", "gpu7", "abc123", "team=vision",
                 "5f0c7a2e3b1d4c6e8f9a0b1c2d3e4f50", "input_layer", "tb-frame"):
        assert text in html, text


def test_the_causes_page_explains_the_taxonomy_with_the_teams_counts(app: Flask, team: dict[str, str]) -> None:
    post_report(app.test_client(), team["ingest"])
    post_report(app.test_client(), team["rival_ingest"])  # not ours: not counted
    html = logged_in(app, "member@ours.io").get("/causes").get_data(as_text=True)
    row = re.search(r'<tr id="cause-input_layer">(.*?)</tr>', html, re.S).group(1)
    assert "Input layer" in row and "declared input is wrong" in row
    assert re.findall(r'<td class="num">(?:<a [^>]*>)?(\d+)', row) == ["1", "1", "1"]
    assert 'href="/groups?cause=input_layer&amp;days=0"' in row
    assert 'id="cause-out_of_memory"' in html and 'id="cause-none"' in html


def test_settings_create_a_token_shown_once_revoke_it_and_manage_members(app: Flask, team: dict[str, str]) -> None:
    admin = logged_in(app, "admin@ours.io")
    answer = form(admin, "/settings/tokens", {"project": "speech", "scope": "ingest"}, page="/settings")
    html = answer.get_data(as_text=True)
    token = re.search(r'<pre class="code">(dgn_[\w-]+)</pre>', html).group(1)
    assert "shown only once" in html and "DIAGNOSER_URL=http://testserver" in html
    assert token not in admin.get("/settings").get_data(as_text=True)  # never again
    assert post_report(app.test_client(), token)["report_id"]  # it works, for the new project
    with reading(app.extensions["diagnoser"].sessions) as session:
        token_id = session.scalar(select(Token.id).where(Token.prefix == token[:12]))
    assert form(admin, f"/settings/tokens/{token_id}/revoke", page="/settings").status_code == 303
    assert app.test_client().post("/api/v1/reports", json={"traceback": KERAS_TRACEBACK},
                                  headers=auth(token)).status_code == 401
    assert form(admin, "/settings/tokens", {"project": "", "scope": "ingest"}, page="/settings").status_code == 400
    created = form(admin, "/settings/members", {"email": "new@ours.io", "role": "member", "password": PASSWORD},
                   page="/settings")
    assert created.status_code == 200 and "Created member new@ours.io" in created.get_data(as_text=True)
    assert logged_in(app, "new@ours.io").get("/").status_code == 200
    for bad in ({"email": "new@ours.io", "password": "another password"}, {"email": "x@ours.io", "password": "short"},
                {"email": "not-an-email", "password": "a fine password"},
                {"email": "y@ours.io", "password": "a fine password", "role": "owner"}):
        assert form(admin, "/settings/members", bad, page="/settings").status_code == 400, bad
    assert form(admin, "/settings/members/disable", {"email": "admin@ours.io"}, page="/settings").status_code == 400
    assert form(admin, "/settings/members/disable", {"email": "new@ours.io"}, page="/settings").status_code == 303
    assert "disabled" in admin.get("/settings").get_data(as_text=True)
    assert form(admin, "/settings/members/disable", {"email": "new@ours.io", "enable": "1"},
                page="/settings").status_code == 303


def test_hostile_text_is_escaped_everywhere_it_is_shown(app: Flask, team: dict[str, str]) -> None:
    body = post_report(app.test_client(), team["ingest"], HOSTILE,
                       meta={"user": "<script>alert(6)</script>", "hostname": "<img src=x onerror=alert(7)>",
                             "tags": {"<b>k</b>": "<i>v</i>"}, "framework": "keras3",
                             "framework_version": "<svg onload=alert(8)>"})
    admin = logged_in(app, "admin@ours.io")
    pages = ["/", "/groups", "/groups?q=%3Cscript%3E", f"/groups/{body['group_id']}", f"/reports/{body['report_id']}"]
    for path in pages:
        html = admin.get(path).get_data(as_text=True)
        assert "<script>alert" not in html and "<img src=x" not in html and "<svg onload" not in html, path
        assert "<b>k</b>" not in html and "<i>v</i>" not in html
        assert "javascript:" not in html
        # parsed as a browser would: the only elements with scripts are ours, no inline handler, no style
        tags = _tags(html)
        for name, attrs in tags:
            assert not any(key.startswith("on") for key in attrs), (path, name, attrs)
            assert "style" not in attrs and name not in ("img", "svg", "iframe", "object") or name == "svg" and \
                attrs.get("class") == "spark", (path, name, attrs)
        scripts = [attrs for name, attrs in tags if name == "script"]
        for attrs in scripts:
            assert attrs.get("src", "").startswith("/static/") or attrs.get("type") == "application/json", attrs
    group_html = admin.get(f"/groups/{body['group_id']}").get_data(as_text=True)
    assert "&lt;script&gt;alert(4)&lt;/script&gt;" in group_html and "&lt;img src=x onerror=alert(2)&gt;" in group_html
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in group_html


def test_pages_read_only_the_rollups_and_a_groups_own_reports(app: Flask, team: dict[str, str]) -> None:
    """No page scans the reports table: every statement that reads `reports` is bounded by a report id or a group
    id (the (group_id, id) index) with a LIMIT."""
    from sqlalchemy import event

    body = post_report(app.test_client(), team["ingest"])
    admin = logged_in(app, "admin@ours.io")
    statements: list[str] = []
    engine = app.extensions["diagnoser"].engine

    def capture(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        statements.append(" ".join(statement.split()))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        for path in ("/", "/?days=90", "/groups", "/groups?sort=count", "/groups?sort=trend&q=x&framework=keras3",
                     f"/groups/{body['group_id']}", f"/groups/{body['group_id']}?before=9", "/causes", "/settings",
                     f"/reports/{body['report_id']}"):
            assert admin.get(path).status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", capture)
    reading_reports = [s for s in statements if re.search(r"\bFROM reports\b|\bJOIN reports\b", s)]
    assert reading_reports
    for statement in reading_reports:
        assert re.search(r"reports\.group_id = \S+ .*ORDER BY reports\.id DESC.* LIMIT", statement) or re.search(
            r"reports\.id = ", statement), statement
    with reading(app.extensions["diagnoser"].sessions) as session:
        assert session.scalar(select(GroupDay.count)) == 1
