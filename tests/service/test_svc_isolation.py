"""A token of one team can never read or change another team's data: every endpoint, walked with a foreign token."""

from __future__ import annotations

import pytest
from svc_helpers import KERAS_TRACEBACK, auth, make_token


@pytest.fixture
def two_teams(app, client):
    ours = {
        "ingest": make_token(app, "vision", "ingest", team="ours"),
        "read": make_token(app, "vision", "read", team="ours"),
    }
    # the other team even uses the same project name: names are per team
    theirs = {
        "ingest": make_token(app, "vision", "ingest", team="theirs"),
        "read": make_token(app, "vision", "read", team="theirs"),
    }
    mine = client.post("/api/v1/reports", json={"traceback": KERAS_TRACEBACK}, headers=auth(ours["ingest"])).get_json()
    return ours, theirs, mine


def test_foreign_tokens_see_nothing_of_ours(client, two_teams):
    ours, theirs, mine = two_teams
    foreign = auth(theirs["read"])
    assert client.get(f"/api/v1/groups/{mine['group_id']}", headers=foreign).status_code == 404
    assert client.get(f"/api/v1/reports/{mine['report_id']}", headers=foreign).status_code == 404
    assert client.get("/api/v1/groups", headers=foreign).get_json()["groups"] == []
    assert client.get("/api/v1/groups?project=vision", headers=foreign).get_json()["groups"] == []
    assert client.get("/api/v1/causes", headers=foreign).get_json()["causes"] == []
    response = client.patch(f"/api/v1/groups/{mine['group_id']}", json={"status": "ignored"}, headers=foreign)
    assert response.status_code == 404
    assert client.get(f"/api/v1/groups/{mine['group_id']}", headers=auth(ours["read"])).get_json()["status"] == "open"


def test_the_same_error_from_another_team_makes_its_own_group(client, two_teams):
    ours, theirs, mine = two_teams
    their = client.post(
        "/api/v1/reports", json={"traceback": KERAS_TRACEBACK}, headers=auth(theirs["ingest"])
    ).get_json()
    assert their["group_id"] != mine["group_id"] and their["group_status"] == "new"
    groups = client.get("/api/v1/groups", headers=auth(ours["read"])).get_json()["groups"]
    assert [g["id"] for g in groups] == [mine["group_id"]] and groups[0]["count"] == 1


def test_every_api_route_is_covered_by_this_walk(app):
    """When a route is added, this test fails until the walk above covers it. (The dashboard's routes, the
    settings page's notification channels among them, have their own walk and exact route set in
    tests/dashboard/test_dash_access.py.)"""
    walked = {
        ("GET", "/api/v1/groups/<int:group_id>"),
        ("GET", "/api/v1/reports/<int:report_id>"),
        ("GET", "/api/v1/groups"),
        ("GET", "/api/v1/causes"),
        ("PATCH", "/api/v1/groups/<int:group_id>"),
        ("POST", "/api/v1/reports"),
        ("GET", "/api/v1/openapi.json"),
        # notification channels: walked with a foreign token in tests/notify/test_channels_api.py
        ("GET", "/api/v1/channels"),
        ("POST", "/api/v1/channels"),
        ("GET", "/api/v1/channels/<int:channel_id>"),
        ("PATCH", "/api/v1/channels/<int:channel_id>"),
        ("DELETE", "/api/v1/channels/<int:channel_id>"),
        ("POST", "/api/v1/channels/<int:channel_id>/test"),
        ("GET", "/api/v1/channels/<int:channel_id>/deliveries"),
    }
    routes = {
        (m, r.rule)
        for r in app.url_map.iter_rules()
        if r.rule.startswith("/api/")
        for m in r.methods - {"HEAD", "OPTIONS"}
    }
    assert routes == walked
