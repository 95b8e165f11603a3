"""Spikes (a group's reports in the window above a threshold and well above its usual rate, at most one message
per group per interval) and digests (at the team's hour in its time zone: top causes and groups of the day, new
ones, the share with no diagnosis; none when nothing happened). Reports are read by id from a cursor, only once
older than the scan delay."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from notify_helpers import channel, drain, other_error, project, report, set_status
from sqlalchemy import select

from diagnoser.notify.payloads import slack_problems
from diagnoser.notify.worker import CURSOR_KEY
from diagnoser.store.db import reading, writing
from diagnoser.store.models import Channel, GroupDay, OutboxEvent, Report, WorkerState


def _events(sessions, kind):
    with reading(sessions) as session:
        return list(session.scalars(select(OutboxEvent).where(OutboxEvent.kind == kind).order_by(OutboxEvent.id)))


def _start(sessions, key, remote, make_worker, clock, events="spike", **options):
    team_id, project_id = project(sessions)
    channel(sessions, key, team_id, remote.plan("/hook"), project_id=project_id, events=events, **options)
    worker = make_worker(spike_min_reports=20, spike_factor=5.0, spike_window=900.0, interval=3600.0, **options.pop(
        "worker", {}))
    worker.run_once()  # the first scan starts from the reports there are, not from the beginning of time
    return team_id, project_id, worker


def test_a_spike_is_one_message_then_quiet_for_the_interval(sessions, key, remote, make_worker, clock):
    _, project_id, worker = _start(sessions, key, remote, make_worker, clock)
    report(sessions, project_id, at=clock.now - timedelta(days=3))  # a group seen once, three days ago
    report(sessions, project_id, at=clock.now - timedelta(seconds=60), count=25)
    drain(worker, clock, rounds=2)
    [message] = remote.to("/hook")
    body = message.json()
    assert body["text"].startswith("Spike in vision: input_layer") and "25 reports in the last 15 min" in str(body)
    assert not slack_problems(body)
    for _ in range(3):  # it goes on: no second message within the hour
        clock.advance(300)
        report(sessions, project_id, at=clock.now - timedelta(seconds=60), count=25)
        drain(worker, clock, rounds=2)
    assert len(remote.to("/hook")) == 1
    clock.advance(3600)
    report(sessions, project_id, at=clock.now - timedelta(seconds=60), count=40)
    drain(worker, clock, rounds=2)
    assert len(remote.to("/hook")) == 2 and len(_events(sessions, "spike")) == 2


def test_below_the_threshold_or_near_the_usual_rate_is_no_spike(sessions, key, remote, make_worker, clock):
    _, project_id, worker = _start(sessions, key, remote, make_worker, clock)
    [first] = report(sessions, project_id, at=clock.now - timedelta(days=8))
    with writing(sessions) as session:  # a cause that fails 5,000 times a day
        for days in range(1, 8):
            session.add(GroupDay(group_id=first.group_id, day=(clock.now - timedelta(days=days)).date(), count=5000))
    report(sessions, project_id, other_error(1), at=clock.now - timedelta(seconds=60), count=19)  # below 20
    report(sessions, project_id, at=clock.now - timedelta(seconds=60), count=150)  # 52 per 15 min is its usual
    drain(worker, clock, rounds=2)
    assert remote.to("/hook") == [] and _events(sessions, "spike") == []


def test_a_new_cause_bursting_is_its_new_message_alone(sessions, key, remote, make_worker, clock):
    _, project_id, worker = _start(sessions, key, remote, make_worker, clock, events="new,regressed,spike")
    for _ in range(5):
        report(sessions, project_id, at=clock.now - timedelta(seconds=60), count=100)
    drain(worker, clock, rounds=3)
    [message] = remote.to("/hook")
    assert message.json()["text"].startswith("New root cause") and _events(sessions, "spike") == []


def test_reports_younger_than_the_scan_delay_wait_and_the_cursor_moves_by_id(sessions, key, remote, make_worker,
                                                                            clock):
    _, project_id, worker = _start(sessions, key, remote, make_worker, clock)
    report(sessions, project_id, at=clock.now - timedelta(days=2))
    report(sessions, project_id, at=clock.now - timedelta(seconds=5), count=30)  # maybe still committing elsewhere
    drain(worker, clock, rounds=1, step=0)
    assert remote.to("/hook") == []
    with reading(sessions) as session:
        old = session.scalar(select(Report.id).order_by(Report.id).limit(1))
        assert session.get(WorkerState, CURSOR_KEY).value == str(old)  # read up to the young ones, not past them
    clock.advance(30)
    drain(worker, clock, rounds=2)
    assert len(remote.to("/hook")) == 1
    with reading(sessions) as session:
        assert session.get(WorkerState, CURSOR_KEY).value == str(session.scalar(select(Report.id).order_by(
            Report.id.desc()).limit(1)))


def test_an_ignored_group_never_spikes(sessions, key, remote, make_worker, clock):
    _, project_id, worker = _start(sessions, key, remote, make_worker, clock)
    [stored] = report(sessions, project_id, at=clock.now - timedelta(days=2))
    set_status(sessions, stored.group_id, "ignored")
    report(sessions, project_id, at=clock.now - timedelta(seconds=60), count=50)
    drain(worker, clock, rounds=2)
    assert remote.to("/hook") == []


# -- digests --------------------------------------------------------------------------------------------------

PARIS = ZoneInfo("Europe/Paris")


def _made_at(sessions, channel_id: int, when: datetime) -> None:
    """The channel was added at `when` (on the test's clock): its first digest is the next one after."""
    with writing(sessions) as session:
        session.get(Channel, channel_id).created_at = when


def _next_nine_in_paris() -> datetime:
    """A 09:00 in Paris comfortably after now (so channels made now exist before it)."""
    day = datetime.now(PARIS).date() + timedelta(days=2)
    return datetime.combine(day, time(9), PARIS).astimezone(UTC)


def test_the_digest_comes_at_the_teams_hour_with_the_days_causes_groups_and_new_ones(sessions, key, remote,
                                                                                     make_worker, clock):
    boundary = _next_nine_in_paris()
    clock.now = boundary - timedelta(hours=30)
    team_id, project_id = project(sessions)
    _made_at(sessions, channel(sessions, key, team_id, remote.plan("/digest"), project_id=project_id,
                               events="digest", digest_hour=9, digest_tz="Europe/Paris"), boundary - timedelta(hours=23))
    worker = make_worker()
    worker.run_once()
    report(sessions, project_id, other_error(2), at=boundary - timedelta(hours=30))  # before the day
    clock.now = boundary - timedelta(hours=2)
    report(sessions, project_id, at=boundary - timedelta(hours=3), count=6)
    report(sessions, project_id, other_error(1), at=boundary - timedelta(hours=20), count=2)
    report(sessions, project_id, other_error(2), at=boundary - timedelta(hours=10), count=3)
    ignored = report(sessions, project_id, other_error(3), at=boundary - timedelta(hours=4), count=5)[0]
    set_status(sessions, ignored.group_id, "ignored")
    drain(worker, clock, rounds=2, step=60)
    assert remote.to("/digest") == []  # not yet 09:00 in Paris
    clock.now = boundary + timedelta(seconds=5)
    worker.run_once()
    assert remote.to("/digest") == []  # 09:00, but the last reports before it may still be committing
    clock.now = boundary + timedelta(seconds=40)
    drain(worker, clock, rounds=3, step=60)
    [message] = remote.to("/digest")
    body = message.json()
    assert not slack_problems(body)
    assert body["text"] == "Diagnoser daily digest for vision: 11 reports, top cause input_layer (6)"
    flat = str(body)
    for expected in ("11 reports", "45% with no diagnosis", "Top causes", "`input_layer` — 6 reports",
                     "Top groups", "New today", "failure bravo", "09:00"):
        assert expected in flat, expected
    assert "failure delta" not in flat  # the ignored group
    new_today = [b for b in body["blocks"] if "New today" in str(b)][0]
    assert "failure charlie" not in str(new_today)  # first seen the day before
    with reading(sessions) as session:
        assert session.scalar(select(Channel.last_digest_day)) == boundary.astimezone(PARIS).date()
    drain(worker, clock, rounds=3, step=3600)
    assert len(remote.to("/digest")) == 1  # once a day


def test_a_day_with_nothing_sends_no_digest(sessions, key, remote, make_worker, clock):
    boundary = _next_nine_in_paris()
    team_id, project_id = project(sessions)
    _, other = project(sessions, "other")
    _made_at(sessions, channel(sessions, key, team_id, remote.plan("/empty"), project_id=project_id,
                               events="digest", digest_hour=9, digest_tz="Europe/Paris"), boundary - timedelta(hours=23))
    clock.now = boundary - timedelta(hours=5)
    worker = make_worker()
    worker.run_once()
    report(sessions, other, at=boundary - timedelta(hours=3), count=4)  # another project's day
    clock.now = boundary + timedelta(minutes=5)
    drain(worker, clock, rounds=3)
    assert remote.to("/empty") == [] and _events(sessions, "digest") == []
    with reading(sessions) as session:
        assert session.scalar(select(Channel.last_digest_day)) == boundary.astimezone(PARIS).date()


def test_a_team_channel_digest_counts_every_project_in_its_own_time_zone(sessions, key, remote, make_worker, clock):
    zone = ZoneInfo("America/New_York")
    day = datetime.now(zone).date() + timedelta(days=2)
    boundary = datetime.combine(day, time(17), zone).astimezone(UTC)
    team_id, vision = project(sessions, "vision")
    _, audio = project(sessions, "audio")
    _made_at(sessions, channel(sessions, key, team_id, remote.plan("/team"), events="digest", digest_hour=17,
                               digest_tz="America/New_York"), boundary - timedelta(hours=23))
    clock.now = boundary - timedelta(hours=5)
    worker = make_worker()
    worker.run_once()
    report(sessions, vision, at=boundary - timedelta(hours=1))
    report(sessions, audio, other_error(4), at=boundary - timedelta(hours=2), count=3)
    clock.now = boundary + timedelta(minutes=1)
    drain(worker, clock, rounds=2)
    [message] = remote.to("/team")
    assert "4 reports" in str(message.json()) and "for team default:" in message.json()["text"]
    assert isinstance(day, date)
