"""The read endpoints: groups (filters, pages), one group, one report, causes over a window."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from svc_helpers import auth


def _post(client, token, text):
    return client.post("/api/v1/reports", json={"traceback": text}, headers=auth(token)).get_json()


def test_groups_are_listed_most_recent_first_and_paginated(client, ingest_token, read_token):
    ids = [
        _post(client, ingest_token, f"Traceback\nKeyError: missing_{chr(97 + i)}_column")["group_id"] for i in range(5)
    ]
    assert len(set(ids)) == 5
    page = client.get("/api/v1/groups?limit=2", headers=auth(read_token)).get_json()
    assert [g["id"] for g in page["groups"]] == ids[::-1][:2] and page["next_offset"] == 2
    last = client.get("/api/v1/groups?limit=2&offset=4", headers=auth(read_token)).get_json()
    assert [g["id"] for g in last["groups"]] == [ids[0]] and last["next_offset"] is None


def test_groups_filter_by_status_cause_project_and_time(client, ingest_token, read_token):
    a = _post(client, ingest_token, "KeyError: 'a'")["group_id"]
    b = _post(client, ingest_token, "TypeError: nope")["group_id"]
    client.patch(f"/api/v1/groups/{a}", json={"status": "resolved"}, headers=auth(read_token))
    def get(q):
        return [g["id"] for g in client.get(f"/api/v1/groups?{q}", headers=auth(read_token)).get_json()["groups"]]

    assert get("status=resolved") == [a]
    assert get("status=open") == [b]
    causes = {g: client.get(f"/api/v1/groups/{g}", headers=auth(read_token)).get_json()["cause"] for g in (a, b)}
    for group_id, cause in causes.items():
        assert group_id in get(f"cause={cause or 'none'}")
    assert get("cause=no_such_cause") == []
    assert get("project=nope") == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat().replace("+00:00", "Z")
    assert get(f"since={future}") == []
    assert sorted(get(f"until={future}")) == sorted([a, b])


def test_a_group_shows_its_latest_diagnoses_and_page_url(client, ingest_token, read_token):
    created = _post(client, ingest_token, "ValueError: x")
    group = client.get(f"/api/v1/groups/{created['group_id']}", headers=auth(read_token)).get_json()
    assert group["count"] == 1 and group["status"] == "open" and group["latest_report_id"] == created["report_id"]
    assert group["url"] == created["url"]
    page = client.get(f"/groups/{created['group_id']}")  # the dashboard's page: people log in first
    assert page.status_code == 302 and page.headers["Location"] == f"/login?next=/groups/{created['group_id']}"
    page = client.get(f"/groups/{created['group_id']}", follow_redirects=True)
    assert page.status_code == 200 and b"<html" in page.data and b"ValueError" not in page.data


def test_causes_count_reports_and_groups_in_the_window(client, ingest_token, read_token):
    for text in ("Traceback\nZeroDivisionError: a", "Traceback\nZeroDivisionError: a", "Traceback\nKeyboardInterrupt"):
        _post(client, ingest_token, text)
    body = client.get("/api/v1/causes?days=1", headers=auth(read_token)).get_json()
    assert sum(c["reports"] for c in body["causes"]) == 3
    assert sum(c["groups"] for c in body["causes"]) == 2
    past = "2000-01-01T00:00:00Z"
    assert (
        client.get(f"/api/v1/causes?since={past}&until=2000-02-01T00:00:00Z", headers=auth(read_token)).get_json()[
            "causes"
        ]
        == []
    )
    assert client.get("/api/v1/causes?days=1&since=2000-01-01", headers=auth(read_token)).status_code == 400


def test_health_and_readiness(client, ingest_token):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").get_json() == {"status": "ready"}


def test_metrics_need_their_token_and_hold_no_team_data(app, client, ingest_token):
    _post(client, ingest_token, "ValueError: x")
    assert client.get("/metrics").status_code == 404  # not exposed without a token or the public setting
    services = app.extensions["diagnoser"]
    services.settings = services.settings.replace(metrics_token="scrape-secret")
    assert client.get("/metrics", headers=auth("wrong")).status_code == 404
    response = client.get("/metrics", headers=auth("scrape-secret"))
    assert response.status_code == 200
    text = response.get_data(as_text=True)
    assert "diagnoser_request_duration_seconds_bucket" in text
    assert re.search(r"diagnoser_reports_ingested_total [1-9]", text)
    assert "cause=" not in text and "vision" not in text  # no team's causes or project names
    services.settings = services.settings.replace(metrics_token="", metrics_public=True)
    assert client.get("/metrics").status_code == 200
