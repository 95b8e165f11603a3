"""Notification channels on the settings page: an admin adds one (the URL never in a page, encrypted in the
database; a webhook's signing secret shown once), lists it masked, tests it, reads every attempt of its
deliveries, re-enables it once disabled, changes its events and removes it; bad input is a 400 saying what to
change; without an encryption key the page says how to set one. Who may do what is in test_dash_access.py."""

from __future__ import annotations

import re
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from dash_helpers import csrf_of, form, logged_in, make_token
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from diagnoser.store.channels import decrypt
from diagnoser.store.db import reading
from diagnoser.store.models import Channel, Delivery, OutboxEvent

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "notify"))  # the stand-in remote

from notify_helpers import Clock  # noqa: E402
from remote import Remote, answer, start_remote  # noqa: E402

SLACK = "https://hooks.slack.com/services/T0AAAA/B0BBBB/verysecretpart1234"
SECRET_PART = "verysecretpart"


@pytest.fixture
def admin(app: Flask, team: dict[str, str]) -> FlaskClient:
    return logged_in(app, "admin@ours.io")


@pytest.fixture
def remote() -> Iterator[Remote]:
    server = start_remote()
    yield server
    server.stop()


def _add(client: FlaskClient, **fields: Any) -> Any:
    data: dict[str, Any] = {"kind": "slack", "project": "", "url": SLACK, "events": list(("new", "regressed")),
                            "digest_hour": "9", "digest_tz": "UTC"}
    data.update(fields)
    return form(client, "/settings/channels", data, page="/settings")


def _channels(app: Flask) -> list[Channel]:
    with reading(app.extensions["diagnoser"].sessions) as session:
        return list(session.scalars(select(Channel).order_by(Channel.id)).all())


def _allow_private(app: Flask) -> None:
    services = app.extensions["diagnoser"]
    services.settings = services.settings.replace(allow_private_webhooks=True)


def test_an_admin_adds_a_slack_channel_seen_masked_and_stored_encrypted(app: Flask, admin: FlaskClient) -> None:
    answer_ = _add(admin, project="vision", digest_hour="7", digest_tz="Europe/Paris", name="ops <team>")
    html = answer_.get_data(as_text=True)
    assert answer_.status_code == 200, html
    assert "Added slack channel" in html and "project vision" in html
    [channel] = _channels(app)
    assert SECRET_PART not in html and SLACK not in html
    assert SECRET_PART not in channel.url_encrypted and channel.url_hint == "https://hooks.slack.com/…1234"
    assert decrypt(app.extensions["diagnoser"].settings.encryption_key, channel.url_encrypted) == SLACK
    assert channel.events == "new,regressed" and channel.digest_tz == "Europe/Paris" and channel.digest_hour == 7
    assert channel.secret_encrypted is None and "new-secret" not in html

    listed = admin.get("/settings").get_data(as_text=True)
    row = re.search(rf'<tr id="channel-{channel.id}">(.*?)</tr>', listed, re.S)
    assert row, listed
    cells = row.group(1)
    assert "https://hooks.slack.com/…1234" in cells and ">vision<" in cells and "new, regressed" in cells
    assert "07:00 Europe/Paris" in cells and ">active<" in cells and "never" in cells
    assert "ops &lt;team&gt;" in cells  # escaped
    assert SECRET_PART not in listed
    page = admin.get(f"/settings/channels/{channel.id}").get_data(as_text=True)
    assert "https://hooks.slack.com/…1234" in page and SECRET_PART not in page and "No delivery yet" in page

    # the whole team's channel ("all projects"), with every event by default checked on the form
    assert "all projects" not in cells
    assert _add(admin, url="https://hooks.slack.com/services/T0/B0/anothersecretXYZW",
                events=list(("new", "regressed", "spike", "digest"))).status_code == 200
    second = admin.get("/settings").get_data(as_text=True)
    assert "all projects</td>" in second and "anothersecret" not in second


def test_a_webhooks_signing_secret_is_shown_once(app: Flask, admin: FlaskClient) -> None:
    html = _add(admin, kind="webhook", url="https://receiver.example/diagnoser/in/abcdefgh").get_data(as_text=True)
    found = re.search(r'<div class="notice" id="new-secret">.*?<pre class="code">(whsec_[\w-]+)</pre>', html, re.S)
    assert found, html
    assert "shown only once" in html and "abcdefgh" not in html
    again = admin.get("/settings").get_data(as_text=True)
    assert found.group(1) not in again and "new-secret" not in again


def test_test_queues_an_event_and_the_page_shows_every_attempt_then_reenable(
    app: Flask, admin: FlaskClient, remote: Remote
) -> None:
    from diagnoser.notify.worker import Worker, WorkerConfig

    _allow_private(app)
    url = remote.plan("/services/T/B/secretsecret9876", answer(404, "no_service"))
    assert _add(admin, url=url, project="vision").status_code == 200
    [channel] = _channels(app)

    queued = form(admin, f"/settings/channels/{channel.id}/test", page="/settings")
    assert queued.status_code == 303 and queued.headers["Location"] == f"/settings/channels/{channel.id}?queued=1"
    sessions = app.extensions["diagnoser"].sessions
    with reading(sessions) as session:
        events = list(session.scalars(select(OutboxEvent).where(OutboxEvent.kind == "test")).all())
    assert [e.payload for e in events] == [{"channel_id": channel.id}]
    assert "A test message is queued" in admin.get(queued.headers["Location"]).get_data(as_text=True)

    settings = app.extensions["diagnoser"].settings
    worker = Worker(sessions, WorkerConfig(keys=settings.encryption_key, base_url="http://testserver",
                                           allow_private=True, timeout=2.0, scan_delay=30.0, backoff_base=1.0),
                    clock=Clock(datetime.now(UTC)))
    try:
        worker.run_once()
    finally:
        worker._pool.shutdown(wait=True)
    assert len(remote.to("/services/T/B/secretsecret9876")) == 1

    page = admin.get(f"/settings/channels/{channel.id}").get_data(as_text=True)
    state = re.search(r'<dd id="channel-state">(.*?)</dd>', page, re.S).group(1)  # type: ignore[union-attr]
    assert "disabled:" in state and "no_service" in state
    attempts = re.search(r'<ol class="attempts">(.*?)</ol>', page, re.S).group(1)  # type: ignore[union-attr]
    assert '<span class="status">404</span>' in attempts and "no_service" in attempts and "<time" in attempts
    assert "test" in page and "failed" in page and "secretsecret" not in page
    listed = admin.get("/settings").get_data(as_text=True)
    row = re.search(rf'<tr id="channel-{channel.id}">(.*?)</tr>', listed, re.S).group(1)  # type: ignore[union-attr]
    assert "disabled: " in row and "no_service" in row and "Re-enable" in row and "<time" in row

    enabled = form(admin, f"/settings/channels/{channel.id}/enable", page="/settings")
    assert enabled.status_code == 303
    [channel] = _channels(app)
    assert channel.state == "active" and channel.disabled_reason is None
    assert "Re-enable" not in admin.get(f"/settings/channels/{channel.id}").get_data(as_text=True)


def test_change_events_and_digest_then_remove_after_confirming(app: Flask, admin: FlaskClient) -> None:
    assert _add(admin).status_code == 200
    [channel] = _channels(app)
    page = f"/settings/channels/{channel.id}"
    changed = form(admin, f"{page}/update", {"events": ["spike", "digest"], "digest_hour": "18",
                                             "digest_tz": "Asia/Tokyo"}, page=page)
    assert changed.status_code == 303 and changed.headers["Location"] == page
    [channel] = _channels(app)
    assert channel.events == "spike,digest" and channel.digest_hour == 18 and channel.digest_tz == "Asia/Tokyo"
    assert "18:00 Asia/Tokyo" in admin.get(page).get_data(as_text=True)

    asked = form(admin, f"{page}/remove", page=page)
    html = asked.get_data(as_text=True)
    assert asked.status_code == 200 and "Yes, remove channel" in html and 'name="confirm" value="yes"' in html
    assert len(_channels(app)) == 1  # asking changed nothing
    removed = form(admin, f"{page}/remove", {"confirm": "yes"}, page=page)
    assert removed.status_code == 303 and removed.headers["Location"] == "/settings#channels"
    assert _channels(app) == [] and admin.get(page).status_code == 404


@pytest.mark.parametrize("fields,message", [
    ({"url": "http://10.0.0.1/hook"}, "DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS=1 allows it"),
    ({"url": "http://localhost:8080/hook"}, "loopback, private or link-local"),
    ({"url": "ftp://files.example/hook"}, "only http:// and https:// URLs"),
    ({"url": "https://user:pw@hooks.example/x"}, "user name or password"),
    ({"url": "https://hooks.example/a b\x00c"}, "spaces or control characters"),
    ({"url": "not a url at all"}, "spaces or control characters"),
    ({"url": ""}, "only http:// and https:// URLs"),
    ({"digest_tz": "Mars/Olympus"}, "unknown time zone &#39;Mars/Olympus&#39;"),
    ({"digest_hour": "24"}, "the digest hour must be 0 to 23"),
    ({"digest_hour": "nine"}, "whole number from 0 to 23"),
    ({"events": []}, "events must be some of new,regressed,spike,digest; got none"),
    ({"events": ["new", "loud"]}, "got loud"),
    ({"kind": "pager"}, "kind must be one of slack, mattermost, webhook"),
    ({"project": "nonexistent"}, "no project &#39;nonexistent&#39; in this team"),
    ({"name": "a\x00b"}, "must not hold a NUL character"),
])
def test_bad_input_is_a_400_with_the_one_line_message(app: Flask, admin: FlaskClient, fields: dict[str, Any],
                                                      message: str) -> None:
    answer_ = _add(admin, **fields)
    html = answer_.get_data(as_text=True)
    assert answer_.status_code == 400 and message in html, html
    assert "Traceback" not in html and "ChannelError" not in html
    assert _channels(app) == []
    if "url" in fields and fields["url"]:
        assert fields["url"] not in html  # not even a refused URL is echoed back


def test_bad_changes_are_400_and_change_nothing(app: Flask, admin: FlaskClient) -> None:
    assert _add(admin).status_code == 200
    [channel] = _channels(app)
    page = f"/settings/channels/{channel.id}"
    for fields, message in (({"events": ["new"], "digest_hour": "9", "digest_tz": "Nowhere/City"}, "unknown time zone"),
                            ({"digest_hour": "9", "digest_tz": "UTC"}, "got none"),
                            ({"events": ["new"], "digest_hour": "-1", "digest_tz": "UTC"}, "whole number")):
        answer_ = form(admin, f"{page}/update", fields, page=page)
        assert answer_.status_code == 400 and message in answer_.get_data(as_text=True), fields
    assert _channels(app)[0].events == "new,regressed"


def test_a_team_without_a_project_cannot_test_its_channel(app: Flask) -> None:
    from dash_helpers import make_user

    make_user(app, "solo@fresh.io", "admin", team="fresh")
    solo = logged_in(app, "solo@fresh.io")
    assert _add(solo).status_code == 200
    [channel] = _channels(app)
    refused = form(solo, f"/settings/channels/{channel.id}/test", page="/settings")
    assert refused.status_code == 400 and "the team has no project yet" in refused.get_data(as_text=True)


def test_without_an_encryption_key_the_page_says_how_to_set_one(app: Flask, admin: FlaskClient) -> None:
    services = app.extensions["diagnoser"]
    services.settings = services.settings.replace(encryption_key="")
    html = admin.get("/settings").get_data(as_text=True)
    line = re.search(r'<p class="error" id="no-key">(.*?)</p>', html, re.S)
    assert line and "DIAGNOSER_ENCRYPTION_KEY" in line.group(1) and "diagnoser channels keygen" in line.group(1)
    assert 'id="channel-form"' not in html
    refused = _add(admin)
    assert refused.status_code == 400 and "diagnoser channels keygen" in refused.get_data(as_text=True)
    assert _channels(app) == []


def test_a_form_without_the_csrf_token_is_refused(app: Flask, admin: FlaskClient) -> None:
    data = {"kind": "slack", "url": SLACK, "events": "new", "digest_hour": "9", "digest_tz": "UTC"}
    for token in (None, "forged"):
        answer_ = admin.post("/settings/channels", data=data if token is None else {**data, "csrf_token": token})
        assert answer_.status_code == 400 and "did not come from this site" in answer_.get_data(as_text=True)
    assert _channels(app) == []
    assert _add(admin).status_code == 200
    [channel] = _channels(app)
    for action in ("test", "enable", "update", "remove"):
        answer_ = admin.post(f"/settings/channels/{channel.id}/{action}", data={"confirm": "yes", "events": "new"})
        assert answer_.status_code == 400, action
    with reading(app.extensions["diagnoser"].sessions) as session:
        assert session.scalar(select(func.count(OutboxEvent.id)).where(OutboxEvent.kind == "test")) == 0
    assert _channels(app)[0].events == "new,regressed"


def test_another_teams_channel_is_404_on_every_route(app: Flask, admin: FlaskClient) -> None:
    from dash_helpers import make_user

    make_user(app, "boss@rivals.io", "admin", team="rivals")
    make_token(app, "theirs", "ingest", team="rivals")
    rival = logged_in(app, "boss@rivals.io")
    assert _add(admin).status_code == 200
    [ours] = _channels(app)
    theirs = rival.get("/settings").get_data(as_text=True)
    assert "…1234" not in theirs and "No channel yet" in theirs
    token = csrf_of(rival, "/settings")
    assert rival.get(f"/settings/channels/{ours.id}").status_code == 404
    for action, data in (("test", {}), ("enable", {}), ("remove", {}), ("remove", {"confirm": "yes"}),
                         ("update", {"events": ["new"], "digest_hour": "9", "digest_tz": "UTC"}),
                         ("update", {"digest_hour": "x", "digest_tz": "Bad/Zone"})):
        answer_ = rival.post(f"/settings/channels/{ours.id}/{action}", data={"csrf_token": token, **data})
        assert answer_.status_code == 404, (action, data)
        assert b"another team" in answer_.data
    for missing in ("999999", "0", "99999999999"):
        assert admin.get(f"/settings/channels/{missing}").status_code == 404
        assert form(admin, f"/settings/channels/{missing}/test", page="/settings").status_code == 404
    [after] = _channels(app)
    assert after.events == ours.events and after.state == "active"
    with reading(app.extensions["diagnoser"].sessions) as session:
        assert session.scalar(select(func.count(Delivery.id))) == 0
        assert session.scalar(select(func.count(OutboxEvent.id))) == 0


def test_a_member_sees_the_channels_read_only(app: Flask, admin: FlaskClient) -> None:
    assert _add(admin).status_code == 200
    [channel] = _channels(app)
    member = logged_in(app, "member@ours.io")
    html = member.get("/settings").get_data(as_text=True)
    assert "https://hooks.slack.com/…1234" in html and SECRET_PART not in html
    assert 'id="channel-form"' not in html and "Send test" not in html and "Remove" not in html
    page = member.get(f"/settings/channels/{channel.id}").get_data(as_text=True)
    assert "https://hooks.slack.com/…1234" in page and "events-form" not in page and "send-test" not in page
    token = csrf_of(member, "/settings")
    assert member.post("/settings/channels", data={"csrf_token": token, "kind": "slack", "url": SLACK,
                                                   "events": "new"}).status_code == 403
    for action in ("test", "enable", "update", "remove"):
        assert member.post(f"/settings/channels/{channel.id}/{action}",
                           data={"csrf_token": token, "confirm": "yes"}).status_code == 403, action
    assert len(_channels(app)) == 1


def test_the_url_is_never_logged(app: Flask, admin: FlaskClient, caplog: pytest.LogCaptureFixture) -> None:
    import logging

    with caplog.at_level(logging.DEBUG):
        assert _add(admin).status_code == 200
        assert _add(admin, url=SLACK.replace("1234", "56 78")).status_code == 400
        admin.get("/settings")
    assert SECRET_PART not in caplog.text
