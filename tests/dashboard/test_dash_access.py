"""Every page and every form, as an admin, a member, another team's member and admin, and a logged-out visitor:
the expected status for each (200, a redirect to the login page, 403, 404), and nothing changed by a refusal."""

from __future__ import annotations

from typing import Any

import pytest
from dash_helpers import csrf_of, logged_in, make_user, post_report
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from diagnoser.store.channels import add_channel, find_team
from diagnoser.store.db import reading, writing
from diagnoser.store.models import Channel, Group, OutboxEvent, Token, User

ADMIN, MEMBER, RIVAL, RIVAL_ADMIN, ANON = "admin", "member", "rival", "rival_admin", "anon"


@pytest.fixture
def world(app: Flask, team: dict[str, str]) -> dict[str, Any]:
    make_user(app, "boss@rivals.io", "admin", team="rivals")
    client = app.test_client()
    ours = post_report(client, team["ingest"], meta={"user": "ana", "hostname": "gpu1"})
    theirs = post_report(client, team["rival_ingest"], "Traceback (most recent call last):\nKeyError: 'x'")
    services = app.extensions["diagnoser"]
    with reading(services.sessions) as session:
        token_id = session.scalar(select(Token.id).order_by(Token.id))
    with writing(services.sessions) as session:
        channel_id = add_channel(session, find_team(session, "default"), "slack",
                                 "https://hooks.slack.com/services/T0/B0/worldsecret", services.settings.encryption_key
                                 ).channel["id"]
    clients = {ADMIN: logged_in(app, "admin@ours.io"), MEMBER: logged_in(app, "member@ours.io"),
               RIVAL: logged_in(app, "spy@rivals.io"), RIVAL_ADMIN: logged_in(app, "boss@rivals.io"),
               ANON: app.test_client()}
    return {"group": ours["group_id"], "report": ours["report_id"], "their_group": theirs["group_id"],
            "token": token_id, "channel": channel_id, "clients": clients}


PAGES = ["/", "/?days=7", "/?days=90", "/groups", "/groups?sort=count&days=0", "/groups?sort=trend&cause=none",
         "/groups?q=conv2d&status=open&framework=keras3&project=1&days=1", "/groups/{group}", "/groups/{group}?before=5",
         "/reports/{report}", "/causes", "/settings", "/settings/channels/{channel}"]


def _status(answer: Any) -> int | str:
    if answer.status_code in (302, 303) and "/login" in answer.headers["Location"]:
        return "login"
    return int(answer.status_code)


@pytest.mark.parametrize("who", [ADMIN, MEMBER, RIVAL, RIVAL_ADMIN, ANON])
def test_every_page_answers_each_kind_of_visitor_as_expected(world: dict[str, Any], who: str) -> None:
    client: FlaskClient = world["clients"][who]
    for template in PAGES:
        path = template.format(**world)
        answer = client.get(path)
        if who == ANON:
            expected: int | str = "login"
        elif who in (RIVAL, RIVAL_ADMIN) and any(f"{{{k}}}" in template for k in ("group", "report", "channel")):
            expected = 404
        else:
            expected = 200
        assert _status(answer) == expected, (who, path, answer.status_code)
        if expected == 200:
            assert answer.mimetype == "text/html"
            assert answer.headers["Cache-Control"] == "private, no-store"
            assert "script-src 'self'" in answer.headers["Content-Security-Policy"]
        if expected == 404:
            assert b"another team" in answer.data and b"ValueError" not in answer.data


def test_the_logged_out_visitor_is_sent_to_the_login_page_and_back(world: dict[str, Any]) -> None:
    client = world["clients"][ANON]
    answer = client.get(f"/groups/{world['group']}")
    assert answer.status_code == 302 and answer.headers["Location"] == f"/login?next=/groups/{world['group']}"
    assert client.get("/login").status_code == 200
    # another team's ids are 404 as if they did not exist, unknown ids too; nothing leaks in the body
    ours = world["clients"][ADMIN]
    for path in (f"/groups/{world['their_group']}", "/groups/999999", "/groups/0", "/groups/99999999999",
                 "/reports/999999", "/reports/0"):
        assert ours.get(path).status_code == 404, path


def _forms(world: dict[str, Any]) -> list[tuple[str, dict[str, Any], dict[str, int | str]]]:
    g, t, c = world["group"], world["token"], world["channel"]
    theirs: dict[str, int | str] = {ADMIN: 303, MEMBER: 403, RIVAL: 403, RIVAL_ADMIN: 404, ANON: "login"}
    return [
        (f"/groups/{g}/status", {"status": "ignored"},
         {ADMIN: 303, MEMBER: 303, RIVAL: 404, RIVAL_ADMIN: 404, ANON: "login"}),
        ("/groups/bulk", {"status": "resolved", "ids": [str(g)]},
         {ADMIN: 303, MEMBER: 303, RIVAL: 303, RIVAL_ADMIN: 303, ANON: "login"}),
        ("/settings/tokens", {"project": "vision", "scope": "ingest"},
         {ADMIN: 200, MEMBER: 403, RIVAL: 403, RIVAL_ADMIN: 200, ANON: "login"}),
        (f"/settings/tokens/{t}/revoke", {},
         {ADMIN: 303, MEMBER: 403, RIVAL: 403, RIVAL_ADMIN: 404, ANON: "login"}),
        ("/settings/members", {"email": "new-{who}@ours.io", "role": "member", "password": "a long password"},
         {ADMIN: 200, MEMBER: 403, RIVAL: 403, RIVAL_ADMIN: 200, ANON: "login"}),
        ("/settings/members/disable", {"email": "member@ours.io"},
         {ADMIN: 303, MEMBER: 403, RIVAL: 403, RIVAL_ADMIN: 404, ANON: "login"}),
        ("/settings/channels", {"kind": "slack", "url": "https://hooks.slack.com/services/T/B/{who}-secret",
                                "events": ["new"], "digest_hour": "9", "digest_tz": "UTC"},
         {ADMIN: 200, MEMBER: 403, RIVAL: 403, RIVAL_ADMIN: 200, ANON: "login"}),
        (f"/settings/channels/{c}/test", {}, theirs),
        (f"/settings/channels/{c}/update", {"events": ["new", "spike"], "digest_hour": "8", "digest_tz": "UTC"},
         theirs),
        (f"/settings/channels/{c}/enable", {}, theirs),
        (f"/settings/channels/{c}/remove", {}, {**theirs, ADMIN: 200}),  # the confirmation step
        (f"/settings/channels/{c}/remove", {"confirm": "yes"}, theirs),
    ]


@pytest.mark.parametrize("who", [RIVAL, RIVAL_ADMIN, MEMBER, ANON, ADMIN])
def test_every_form_answers_each_kind_of_visitor_as_expected(app: Flask, world: dict[str, Any], who: str) -> None:
    client: FlaskClient = world["clients"][who]
    for path, data, expected in _forms(world):
        data = {k: (v.format(who=who) if isinstance(v, str) else v) for k, v in data.items()}
        token = csrf_of(client, "/login" if who == ANON else "/settings")
        answer = client.post(path, data={"csrf_token": token, **data})
        assert _status(answer) == expected[who], (who, path, answer.status_code)
    sessions = app.extensions["diagnoser"].sessions
    with reading(sessions) as session:
        status = session.scalar(select(Group.status).where(Group.id == world["group"]))
        revoked = session.scalar(select(Token.revoked_at).where(Token.id == world["token"]))
        disabled = session.scalar(select(User.disabled_at).where(User.email == "member@ours.io"))
        users = set(session.scalars(select(User.email)))
    if who in (ADMIN, MEMBER):
        assert status == "resolved"  # ignored by the first form, then resolved in bulk
    else:
        assert status == "open"  # another team's or nobody's triage changed nothing
    assert (revoked is not None) == (who == ADMIN)
    assert (disabled is not None) == (who == ADMIN)
    assert ("new-admin@ours.io" in users) == (who == ADMIN)
    with reading(sessions) as session:
        channels = {c.id: c for c in session.scalars(select(Channel))}
        tests = session.scalar(select(func.count(OutboxEvent.id)).where(OutboxEvent.kind == "test"))
        ours, rivals = (find_team(session, name) for name in ("default", "rivals"))
    assert (world["channel"] in channels) == (who != ADMIN)  # removed by our admin only
    if who != ADMIN:
        assert channels[world["channel"]].events == "new,regressed,spike,digest"
    assert tests == (1 if who == ADMIN else 0)
    assert sum(c.team_id == ours for c in channels.values()) == 1  # ours, or the one our admin added
    assert sum(c.team_id == rivals for c in channels.values()) == (1 if who == RIVAL_ADMIN else 0)
    if who == RIVAL_ADMIN:  # their admin made a member of their own team, not of ours
        with reading(sessions) as session:
            team_of = session.scalar(select(User.team_id).where(User.email == "new-rival_admin@ours.io"))
            theirs = session.scalar(select(User.team_id).where(User.email == "boss@rivals.io"))
        assert team_of == theirs


def test_a_member_sees_the_projects_but_no_management(world: dict[str, Any]) -> None:
    member = world["clients"][MEMBER].get("/settings").get_data(as_text=True)
    admin = world["clients"][ADMIN].get("/settings").get_data(as_text=True)
    assert "vision" in member and "token-form" not in member and "member-form" not in member
    assert "token-form" in admin and "member-form" in admin and "member@ours.io" in admin
    # channels: listed (masked) for both; the forms for the admin only
    assert "https://hooks.slack.com/…cret" in member and "worldsecret" not in member
    assert "channel-form" not in member and "channel-form" in admin and "worldsecret" not in admin


def test_every_dashboard_route_is_covered_by_the_walks_above(app: Flask) -> None:
    """When a dashboard route is added, this test fails until PAGES or _forms above cover it (as the API's own
    walk in tests/service/test_svc_isolation.py does for /api/)."""
    walked = {
        ("GET", "/"), ("GET", "/groups"), ("GET", "/groups/<int:group_id>"), ("GET", "/reports/<int:report_id>"),
        ("GET", "/causes"), ("GET", "/settings"), ("GET", "/settings/channels/<int:channel_id>"),
        ("POST", "/groups/<int:group_id>/status"), ("POST", "/groups/bulk"), ("POST", "/settings/tokens"),
        ("POST", "/settings/tokens/<int:token_id>/revoke"), ("POST", "/settings/members"),
        ("POST", "/settings/members/disable"), ("POST", "/settings/channels"),
        ("POST", "/settings/channels/<int:channel_id>/test"), ("POST", "/settings/channels/<int:channel_id>/update"),
        ("POST", "/settings/channels/<int:channel_id>/enable"), ("POST", "/settings/channels/<int:channel_id>/remove"),
        # logging in and out: tests/dashboard/test_dash_auth.py; the static files are public
        ("GET", "/login"), ("POST", "/login"), ("POST", "/logout"), ("GET", "/static/<path:filename>"),
    }
    routes = {(m, r.rule) for r in app.url_map.iter_rules() if r.endpoint.startswith("dashboard.")
              for m in r.methods - {"HEAD", "OPTIONS"}}
    assert routes == walked
