"""Delivery against a real HTTP server on 127.0.0.1 standing in for Slack, Mattermost and a webhook receiver: each
answer (200, 429 with Retry-After, 500, 404 no_service, 410, a hang past the timeout, a closed connection) is
handled as promised, and every attempt is recorded."""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from datetime import timedelta
from pathlib import Path

import pytest
from notify_helpers import attempts, channel, deliveries, drain, other_error, project, report, set_status
from remote import answer, close, hang, ok
from sqlalchemy import select

from diagnoser.notify.payloads import slack_problems
from diagnoser.store.channels import decrypt, get_channel, list_channels
from diagnoser.store.db import reading
from diagnoser.store.models import Channel


def _setup(sessions, key, remote, path, *actions, kind="slack", **options):
    team_id, project_id = project(sessions)
    url = remote.plan(path, *actions)
    channel_id = channel(sessions, key, team_id, url, kind=kind, project_id=project_id, **options)
    return team_id, project_id, channel_id


def _channel(sessions, channel_id):
    with reading(sessions) as session:
        return get_channel(session, channel_id)


def test_a_200_is_sent_once_and_its_attempt_recorded(sessions, key, remote, make_worker, clock):
    _, project_id, channel_id = _setup(sessions, key, remote, "/ok", ok())
    report(sessions, project_id)
    drain(make_worker(), clock, rounds=3)
    assert len(remote.to("/ok")) == 1
    [delivery] = deliveries(sessions)
    assert delivery.state == "sent" and delivery.attempts == 1 and delivery.sent_at is not None
    [attempt] = attempts(sessions, delivery.id)
    assert attempt.status == 200 and attempt.error is None and attempt.duration_ms >= 0
    assert _channel(sessions, channel_id)["last_delivery_status"] == "sent (200)"
    assert not slack_problems(remote.to("/ok")[0].json())


def test_a_429_waits_for_its_retry_after_then_delivers(sessions, key, remote, make_worker, clock):
    _, project_id, channel_id = _setup(sessions, key, remote, "/busy",
                                       answer(429, "rate_limited", {"Retry-After": "30"}), ok())
    report(sessions, project_id)
    worker = make_worker()
    worker.run_once()
    [delivery] = deliveries(sessions)
    assert delivery.state == "pending" and delivery.last_status == 429
    assert timedelta(seconds=29) <= delivery.next_attempt_at - clock.now <= timedelta(seconds=31)
    drain(worker, clock, rounds=5, step=5)  # 25 s: still held back
    assert len(remote.to("/busy")) == 1
    drain(worker, clock, rounds=3, step=5)
    assert len(remote.to("/busy")) == 2
    [delivery] = deliveries(sessions)
    assert delivery.state == "sent"
    assert [a.status for a in attempts(sessions, delivery.id)] == [429, 200]


def test_a_429_with_an_http_date_is_honoured_too(sessions, key, remote, make_worker, clock):
    from email.utils import format_datetime

    when = format_datetime(clock.now.replace(microsecond=0) + timedelta(seconds=20), usegmt=True)
    _, project_id, _ = _setup(sessions, key, remote, "/busy", answer(429, "", {"Retry-After": when}), ok())
    report(sessions, project_id)
    make_worker().run_once()
    [delivery] = deliveries(sessions)
    # the worker's clock is the test's; the header's date is read against the real clock (a few ms apart)
    assert timedelta(seconds=15) < delivery.next_attempt_at - clock.now < timedelta(seconds=25)


def test_a_500_is_retried_with_backoff_then_delivered(sessions, key, remote, make_worker, clock):
    _, project_id, _ = _setup(sessions, key, remote, "/flaky", answer(500, "oops"), answer(502), ok())
    report(sessions, project_id)
    worker = make_worker(backoff_base=4.0)
    worker.run_once()
    [delivery] = deliveries(sessions)
    first_wait = delivery.next_attempt_at - clock.now
    assert delivery.state == "pending" and timedelta(seconds=2) <= first_wait <= timedelta(seconds=4)
    clock.advance(first_wait.total_seconds() + 0.01)
    worker.run_once()
    [delivery] = deliveries(sessions)
    second_wait = delivery.next_attempt_at - clock.now
    assert timedelta(seconds=4) <= second_wait <= timedelta(seconds=8)  # exponential, with jitter
    clock.advance(second_wait.total_seconds() + 0.01)
    worker.run_once()
    [delivery] = deliveries(sessions)
    assert delivery.state == "sent"
    assert [(a.status, a.error) for a in attempts(sessions, delivery.id)] == [(500, "500 oops"), (502, "502"),
                                                                               (200, None)]


def test_too_many_failed_attempts_fail_the_delivery_and_leave_the_channel_active(sessions, key, remote, make_worker,
                                                                                  clock):
    _, project_id, channel_id = _setup(sessions, key, remote, "/down", answer(503))
    report(sessions, project_id)
    drain(make_worker(max_attempts=3, backoff_base=0.1, backoff_cap=0.5), clock, rounds=8)
    [delivery] = deliveries(sessions)
    assert delivery.state == "failed" and delivery.attempts == 3 and len(remote.to("/down")) == 3
    assert _channel(sessions, channel_id)["state"] == "active"


@pytest.mark.parametrize("status,body,why", [
    (404, "no_service", "removed"), (404, "channel_not_found", "deleted"), (410, "channel_is_archived", "archived"),
    (403, "action_prohibited", "restricted"), (400, "invalid_token", "no longer valid"),
])
def test_a_permanent_slack_failure_disables_the_channel_and_is_never_retried(sessions, key, remote, make_worker,
                                                                             clock, status, body, why):
    _, project_id, channel_id = _setup(sessions, key, remote, "/gone", answer(status, body))
    report(sessions, project_id)
    worker = make_worker()
    drain(worker, clock, rounds=3)
    report(sessions, project_id, other_error(1))  # a later event: not sent to a disabled channel
    drain(worker, clock, rounds=3, step=120)
    assert len(remote.to("/gone")) == 1
    listed = _channel(sessions, channel_id)
    assert listed["state"] == "disabled" and body in listed["disabled_reason"] and why in listed["disabled_reason"]
    assert [d.state for d in deliveries(sessions)] == ["failed"]
    assert listed["last_delivery_status"].startswith(str(status))


def test_slack_refusing_one_message_fails_it_alone(sessions, key, remote, make_worker, clock):
    _, project_id, channel_id = _setup(sessions, key, remote, "/picky", answer(400, "invalid_payload"), ok())
    report(sessions, project_id)
    worker = make_worker()
    drain(worker, clock, rounds=3, step=60)
    assert [d.state for d in deliveries(sessions)] == ["failed"] and len(remote.to("/picky")) == 1
    assert _channel(sessions, channel_id)["state"] == "active"
    report(sessions, project_id, other_error(2))
    drain(worker, clock, rounds=2)
    assert [d.state for d in deliveries(sessions)] == ["failed", "sent"]


def test_a_remote_hanging_past_the_timeout_is_a_timeout_retried_later(sessions, key, remote, make_worker, clock):
    _, project_id, _ = _setup(sessions, key, remote, "/slow", hang(5), ok())
    report(sessions, project_id)
    worker = make_worker(timeout=1.0)
    started = time.monotonic()
    worker.run_once()
    assert time.monotonic() - started < 4
    [delivery] = deliveries(sessions)
    [attempt] = attempts(sessions, delivery.id)
    assert delivery.state == "pending" and attempt.status is None and attempt.error == "no answer within 1 s"
    assert 900 <= attempt.duration_ms < 3000
    drain(worker, clock, rounds=3, step=3)
    assert deliveries(sessions)[0].state == "sent"


def test_a_closed_connection_is_retried(sessions, key, remote, make_worker, clock):
    _, project_id, _ = _setup(sessions, key, remote, "/cut", close(), ok())
    report(sessions, project_id)
    worker = make_worker()
    worker.run_once()
    [delivery] = deliveries(sessions)
    [attempt] = attempts(sessions, delivery.id)
    assert delivery.state == "pending" and "closed the connection" in attempt.error
    drain(worker, clock, rounds=3, step=3)
    assert deliveries(sessions)[0].state == "sent" and len(remote.to("/cut")) == 2


def test_connection_refused_is_retried(sessions, key, make_worker, clock):
    from servers import free_port

    team_id, project_id = project(sessions)
    channel(sessions, key, team_id, f"http://127.0.0.1:{free_port()}/nobody", project_id=project_id)
    report(sessions, project_id)
    make_worker().run_once()
    [delivery] = deliveries(sessions)
    assert delivery.state == "pending" and "refused" in attempts(sessions, delivery.id)[0].error


def test_several_due_events_of_a_channel_are_one_message_and_one_a_second(sessions, key, remote, make_worker,
                                                                          clock):
    _, project_id, _ = _setup(sessions, key, remote, "/many")
    for n in range(4):
        report(sessions, project_id, other_error(n))
    worker = make_worker()
    worker.run_once()
    [message] = remote.to("/many")
    body = message.json()
    assert body["text"].startswith("Diagnoser: 4 notifications") and not slack_problems(body)
    for n in range(4):
        assert other_error(n).splitlines()[-1] in str(body)
    report(sessions, project_id, other_error(9))
    worker.run_once()  # the same second: held back
    assert len(remote.to("/many")) == 1
    clock.advance(1.01)
    worker.run_once()
    assert len(remote.to("/many")) == 2
    assert [d.state for d in deliveries(sessions)] == ["sent"] * 5


def test_a_burst_of_one_new_cause_is_one_message(sessions, key, remote, make_worker, clock):
    _, project_id, _ = _setup(sessions, key, remote, "/burst")
    for _ in range(5):  # 500 ranks crash at once, in a few batches
        report(sessions, project_id, count=100)
    drain(make_worker(), clock, rounds=3)
    assert len(remote.to("/burst")) == 1


def test_ignored_groups_notify_nothing(sessions, key, remote, make_worker, clock):
    _, project_id, _ = _setup(sessions, key, remote, "/quiet")
    [stored] = report(sessions, project_id)
    set_status(sessions, stored.group_id, "ignored")  # before the worker fanned the event out
    worker = make_worker()
    drain(worker, clock, rounds=2)
    set_status(sessions, stored.group_id, "resolved")
    set_status(sessions, stored.group_id, "ignored")
    report(sessions, project_id)
    drain(worker, clock, rounds=2)
    assert remote.to("/quiet") == [] and deliveries(sessions) == []


def test_a_project_channel_hears_its_project_a_team_channel_every_project(sessions, key, remote, make_worker, clock):
    team_id, vision = project(sessions, "vision")
    _, audio = project(sessions, "audio")
    _, elsewhere = project(sessions, "other", team="another team")
    channel(sessions, key, team_id, remote.plan("/vision"), project_id=vision)
    channel(sessions, key, team_id, remote.plan("/team"))
    channel(sessions, key, team_id, remote.plan("/new-only"), project_id=audio, events="new")
    for p in (vision, audio, elsewhere):
        report(sessions, p)
    drain(make_worker(), clock, rounds=3)
    assert len(remote.to("/vision")) == 1 and len(remote.to("/new-only")) == 1
    assert "vision" in str(remote.to("/team")[0].json()) and "audio" in str(remote.to("/team")[0].json())


def test_mattermost_gets_attachments_with_a_fallback_and_no_block_kit(sessions, key, remote, make_worker, clock):
    _, project_id, _ = _setup(sessions, key, remote, "/hooks/abc", kind="mattermost")
    report(sessions, project_id)
    drain(make_worker(), clock, rounds=2)
    body = remote.to("/hooks/abc")[0].json()
    assert "blocks" not in body and body["text"].startswith("New root cause in vision")
    [attachment] = body["attachments"]
    assert attachment["fallback"].startswith("New root cause") and attachment["title_link"].endswith("/groups/1")
    assert {f["title"] for f in attachment["fields"]} >= {"Cause", "Layer", "Received"}


def test_a_mattermost_webhook_that_is_gone_disables_the_channel(sessions, key, remote, make_worker, clock):
    _, project_id, channel_id = _setup(sessions, key, remote, "/hooks/gone", answer(404, "not found"),
                                       kind="mattermost")
    report(sessions, project_id)
    drain(make_worker(), clock, rounds=2)
    assert _channel(sessions, channel_id)["state"] == "disabled"


def _readme_verify():
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", readme, re.S)
    [recipe] = [b for b in blocks if "def verify(secret" in b]
    namespace: dict = {}
    exec(recipe, namespace)  # noqa: S102 - the README's code, as a receiver would paste it
    return namespace["verify"]


def test_the_webhook_is_signed_and_the_readme_recipe_verifies_it(sessions, key, remote, make_worker, clock):
    _, project_id, channel_id = _setup(sessions, key, remote, "/receiver", kind="webhook")
    report(sessions, project_id)
    drain(make_worker(), clock, rounds=2)
    [request] = remote.to("/receiver")
    with reading(sessions) as session:
        secret = decrypt(key, session.scalar(select(Channel.secret_encrypted).where(Channel.id == channel_id)))
    # The README's recipe, step by step: split the header, recompute HMAC-SHA256 over "<t>." + raw body, compare.
    header = request.headers["diagnoser-signature"]
    fields = dict(part.split("=", 1) for part in header.split(","))
    signed = fields["t"].encode() + b"." + request.body
    expected = hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert hmac.compare_digest(expected, fields["v1"])
    assert abs(time.time() - int(fields["t"])) < 300
    tampered = hmac.new(secret.encode(), fields["t"].encode() + b"." + request.body + b" ", hashlib.sha256)
    assert not hmac.compare_digest(tampered.hexdigest(), fields["v1"])
    # And the README's own function, run as written: it accepts the real request and refuses a tampered one.
    verify = _readme_verify()
    assert verify(secret, header, request.body)
    assert not verify(secret, header, request.body.replace(b"input_layer", b"other_cause"))
    assert not verify("whsec_wrong", header, request.body)
    body = request.json()
    assert body["type"] == "diagnoser.notifications" and body["events"][0]["kind"] == "new"
    assert body["events"][0]["diagnosis"]["cause"] == "input_layer"
    assert body["events"][0]["group"]["url"] == "https://diagnoser.example/groups/1"


def test_a_webhook_receiver_answering_410_disables_it_and_4xx_is_retried(sessions, key, remote, make_worker, clock):
    team_id, project_id = project(sessions)
    gone = channel(sessions, key, team_id, remote.plan("/gone", answer(410)), kind="webhook")
    picky = channel(sessions, key, team_id, remote.plan("/picky", answer(401, "bad signature"), ok()), kind="webhook")
    report(sessions, project_id)
    drain(make_worker(), clock, rounds=4, step=3)
    assert _channel(sessions, gone)["state"] == "disabled"
    assert _channel(sessions, picky)["state"] == "active" and deliveries(sessions, picky)[0].state == "sent"


def test_the_url_is_encrypted_at_rest_and_listed_masked(sessions, key, remote):
    team_id, project_id = project(sessions)
    secret_url = remote.url("/services/T0/B0/abcdefghSECRET1234")
    channel_id = channel(sessions, key, team_id, secret_url, project_id=project_id)
    with reading(sessions) as session:
        row = session.get(Channel, channel_id)
        assert "SECRET" not in row.url_encrypted and decrypt(key, row.url_encrypted) == secret_url
        [listed] = list_channels(session, team_id)
    assert "SECRET" not in str(listed) and listed["url"].endswith("/…1234")


def test_a_test_message_reaches_even_a_disabled_channel(sessions, key, remote, make_worker, clock):
    from diagnoser.store.channels import queue_test
    from diagnoser.store.db import writing

    _, _, channel_id = _setup(sessions, key, remote, "/test", answer(404, "no_service"), ok())
    with writing(sessions) as session:
        queue_test(session, channel_id)
    drain(make_worker(), clock, rounds=2)
    assert _channel(sessions, channel_id)["state"] == "disabled"
    with writing(sessions) as session:
        queue_test(session, channel_id)
    drain(make_worker(), clock, rounds=2)
    requests = remote.to("/test")
    assert len(requests) == 2 and requests[1].json()["text"].startswith("Diagnoser test message")
