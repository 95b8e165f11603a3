"""The channels API: a read token manages its team's channels (masked URLs, the signing secret once), tests them
and reads every attempt; another team's token sees none of them; no key, no channel."""

from __future__ import annotations

import pytest
from remote import answer
from svc_helpers import auth, make_token


@pytest.fixture
def tokens(app):
    return {"read": make_token(app, "vision", "read"), "ingest": make_token(app, "vision", "ingest"),
            "foreign": make_token(app, "vision", "read", team="theirs")}



def test_add_list_show_change_test_and_remove(client, tokens, remote, make_worker, clock):
    read = auth(tokens["read"])
    response = client.post("/api/v1/channels", headers=read, json={
        "kind": "slack", "url": remote.plan("/services/T/B/secretsecret9876", answer(404, "no_service"), ),
        "project": "vision", "events": ["new", "regressed"], "digest_tz": "Europe/Paris"})
    assert response.status_code == 201, response.get_json()
    channel = response.get_json()["channel"]
    assert channel["url"].endswith("/…9876") and "secretsecret" not in response.get_data(as_text=True)
    assert channel["events"] == ["new", "regressed"] and channel["state"] == "active" and channel["project"] == "vision"
    webhook = client.post("/api/v1/channels", headers=read, json={"kind": "webhook", "url": remote.url("/in")})
    assert webhook.status_code == 201 and webhook.get_json()["signing_secret"].startswith("whsec_")
    assert [c["id"] for c in client.get("/api/v1/channels", headers=read).get_json()["channels"]] == [
        channel["id"], webhook.get_json()["channel"]["id"]]
    assert client.patch(f"/api/v1/channels/{channel['id']}", headers=read,
                        json={"events": ["new"], "digest_hour": 7}).get_json()["events"] == ["new"]

    queued = client.post(f"/api/v1/channels/{channel['id']}/test", headers=read)
    assert queued.status_code == 202
    make_worker().run_once()
    shown = client.get(f"/api/v1/channels/{channel['id']}", headers=read).get_json()
    assert shown["state"] == "disabled" and "no_service" in shown["disabled_reason"] and shown["digest_hour"] == 7
    [delivery] = client.get(f"/api/v1/channels/{channel['id']}/deliveries", headers=read).get_json()["deliveries"]
    assert delivery["event"] == "test" and delivery["state"] == "failed"
    assert delivery["attempts"][0]["status"] == 404 and "no_service" in delivery["attempts"][0]["error"]
    enabled = client.patch(f"/api/v1/channels/{channel['id']}", headers=read, json={"state": "active"}).get_json()
    assert enabled["state"] == "active" and enabled["disabled_reason"] is None
    assert client.delete(f"/api/v1/channels/{channel['id']}", headers=read).status_code == 204
    assert client.get(f"/api/v1/channels/{channel['id']}", headers=read).status_code == 404


def test_another_teams_token_sees_and_changes_nothing(client, tokens, remote):
    read, foreign = auth(tokens["read"]), auth(tokens["foreign"])
    ours = client.post("/api/v1/channels", headers=read, json={"kind": "slack", "url": remote.url("/x")}).get_json()
    cid = ours["channel"]["id"]
    assert client.get("/api/v1/channels", headers=foreign).get_json()["channels"] == []
    for method, path, body in [("get", f"/api/v1/channels/{cid}", None), ("patch", f"/api/v1/channels/{cid}",
                               {"events": ["new"]}), ("delete", f"/api/v1/channels/{cid}", None),
                               ("post", f"/api/v1/channels/{cid}/test", None),
                               ("get", f"/api/v1/channels/{cid}/deliveries", None)]:
        response = getattr(client, method)(path, headers=foreign, json=body) if body else getattr(client, method)(
            path, headers=foreign)
        assert response.status_code == 404, (method, path)
    project = client.post("/api/v1/channels", headers=foreign, json={"kind": "slack", "url": remote.url("/y"),
                                                                     "project": "nonexistent"})
    assert project.status_code == 400
    assert client.get(f"/api/v1/channels/{cid}", headers=read).get_json()["events"] == [
        "new", "regressed", "spike", "digest"]


def test_an_ingest_token_cannot_manage_channels(client, tokens):
    assert client.get("/api/v1/channels", headers=auth(tokens["ingest"])).status_code == 403
    assert client.get("/api/v1/channels").status_code == 401


@pytest.mark.parametrize("body,code", [
    ({"kind": "slack"}, "invalid_field"), ({"kind": "pager", "url": "https://h.example/x"}, "invalid_channel"),
    ({"kind": "slack", "url": "ftp://h.example/x"}, "invalid_url"),
    ({"kind": "slack", "url": "https://h.example/x", "events": ["loud"]}, "invalid_channel"),
    ({"kind": "slack", "url": "https://h.example/x", "digest_hour": 24}, "invalid_channel"),
    ({"kind": "slack", "url": "https://h.example/x", "colour": "red"}, "unknown_field"),
])
def test_bad_channels_are_400_naming_the_problem(client, tokens, body, code):
    response = client.post("/api/v1/channels", headers=auth(tokens["read"]), json=body)
    assert response.status_code == 400 and response.get_json()["error"]["code"] == code


def test_no_key_no_channel_and_private_targets_refused(app, client, tokens):
    settings = app.extensions["diagnoser"].settings
    app.extensions["diagnoser"].settings = settings.replace(encryption_key="")
    response = client.post("/api/v1/channels", headers=auth(tokens["read"]),
                           json={"kind": "slack", "url": "https://hooks.slack.com/services/T/B/x"})
    assert response.status_code == 409 and "diagnoser channels keygen" in response.get_json()["error"]["message"]
    app.extensions["diagnoser"].settings = settings.replace(allow_private_webhooks=False)
    response = client.post("/api/v1/channels", headers=auth(tokens["read"]),
                           json={"kind": "slack", "url": "http://10.0.0.1/hook"})
    assert response.status_code == 400 and "DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS" in response.get_json()["error"]["message"]
