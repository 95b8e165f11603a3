"""Resending without duplicates and without hammering the service: every report's `event_id` survives the spool, a
429/503 Retry-After holds back every resend until its time, and `flush` says what became of the reports.

Real subprocesses (`python -m diagnoser_client ...`) against a stand-in service on 127.0.0.1."""

from __future__ import annotations

import email.utils
import json
import re
import time
from pathlib import Path
from typing import Any

import pytest
from client_helpers import client_env, exit_timer_env, free_port, run
from diagnoser_client import config
from diagnoser_client import spool as spool_module
from diagnoser_client.delivery import Delivery
from diagnoser_client.render import local_time
from diagnoser_client.spool import Spool
from diagnoser_client.transport import Outcome, parse_retry_after

CRASH = "def train():\n    raise ValueError('expected ndim=4, found ndim=3')\ntrain()\n"
UUID4_HEX = re.compile(r"^[0-9a-f]{12}4[0-9a-f]{3}[89ab][0-9a-f]{15}$")


def _spooled(tmp_path: Path) -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((tmp_path / "spool").glob("*.json"))]


def _not_before(tmp_path: Path) -> float:
    return json.loads((tmp_path / "spool" / spool_module.NOT_BEFORE).read_text())["not_before"]


# --- event_id ------------------------------------------------------------------------------------------


def test_each_report_has_its_own_event_id(tmp_path, fake_service, write_script):
    script = write_script(CRASH)
    env = client_env(tmp_path, fake_service.url)
    run(["-m", "diagnoser_client", str(script)], env, tmp_path)
    run(["-m", "diagnoser_client", str(script)], env, tmp_path)
    first, second = (r["event_id"] for r in fake_service.reports())
    assert UUID4_HEX.match(first) and UUID4_HEX.match(second) and first != second


def test_a_spooled_report_keeps_its_event_id_through_every_resend(tmp_path, fake_service, write_script):
    script = write_script(CRASH)
    run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, f"http://127.0.0.1:{free_port()}"), tmp_path)
    (record,) = _spooled(tmp_path)
    event_id = record["payload"]["event_id"]
    assert UUID4_HEX.match(event_id)

    env = client_env(tmp_path, fake_service.url)
    fake_service.status = 503  # no Retry-After: resent by the next flush as before
    assert run(["-m", "diagnoser_client", "flush"], env, tmp_path).returncode == 1
    fake_service.status = 201
    flushed = run(["-m", "diagnoser_client", "flush"], env, tmp_path)
    assert flushed.returncode == 0, flushed.stderr
    assert [r["event_id"] for r in fake_service.reports()] == [event_id, event_id]
    assert _spooled(tmp_path) == []


def test_a_report_whose_answer_came_too_late_is_resent_with_the_same_event_id(tmp_path, fake_service, write_script):
    """The service stored it but the dying program stopped waiting and spooled it: the resend is a repeat the
    service recognises by its event_id."""
    fake_service.delay = 3
    script = write_script(CRASH)
    env = client_env(tmp_path, fake_service.url, DIAGNOSER_TIMEOUT="0.5")
    hooked = run(["-m", "diagnoser_client", str(script)], env, tmp_path)
    assert "no answer within" in hooked.stderr.splitlines()[-1]
    (record,) = _spooled(tmp_path)
    fake_service.delay = 0
    assert run(["-m", "diagnoser_client", "flush"], env, tmp_path).returncode == 0
    first, again = fake_service.reports()
    assert first["event_id"] == again["event_id"] == record["payload"]["event_id"]
    assert first == again


def test_a_service_that_does_not_know_event_id_still_gets_the_report(tmp_path, fake_service, write_script):
    def older_service(body: dict[str, Any]):  # the service's answer to an unknown top-level field
        if "event_id" in body:
            return 400, {"error": {"code": "unknown_field", "message": "unknown field 'event_id'",
                                   "field": "event_id"}}, {}
        return 201, None, {}

    fake_service.respond = older_service
    script = write_script(CRASH)
    done = run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, fake_service.url), tmp_path)
    assert done.stderr.splitlines()[-1].strip().startswith("more:")
    with_id, without = fake_service.reports()
    assert "event_id" in with_id and "event_id" not in without
    assert {k: v for k, v in with_id.items() if k != "event_id"} == without


# --- Retry-After ---------------------------------------------------------------------------------------


def test_retry_after_in_seconds_holds_back_the_next_runs_and_flush_until_force(tmp_path, fake_service, write_script):
    fake_service.status = 429
    fake_service.headers = {"Retry-After": "120"}
    fake_service.answer = {"error": {"code": "rate_limited", "message": "slow down"}}
    script = write_script(CRASH)
    env = client_env(tmp_path, fake_service.url)
    timer = exit_timer_env(tmp_path, env, "429")
    before = time.time()
    hooked = run(["-m", "diagnoser_client", str(script)], env, tmp_path)
    env.pop("EXIT_TIMER_FILE")
    assert float(timer.read_text()) < 1.5  # no sleeping in a dying program for the service's 120 s
    until = _not_before(tmp_path)
    assert before + 119 <= until <= time.time() + 121
    last = hooked.stderr.splitlines()[-1]
    assert "(HTTP 429: slow down); report saved in" in last and f"resent after {local_time(until)} on the next" in last
    assert len(_spooled(tmp_path)) == 1 and len(fake_service.requests) == 1

    fake_service.status, fake_service.headers, fake_service.answer = 201, {}, None
    ok = write_script("print('fine')\n", "ok.py")
    done = run(["-m", "diagnoser_client", str(ok)], env, tmp_path)  # its background flush must not resend yet
    assert (done.returncode, done.stdout, done.stderr) == (0, "fine\n", "")
    waited = run(["-m", "diagnoser_client", "flush"], env, tmp_path)
    assert waited.returncode == 1
    assert waited.stdout == (f"diagnoser: the service asked to wait until {local_time(until)}; 1 report waiting in "
                             f"{tmp_path / 'spool'} (`flush --force` sends them now)\n")
    assert len(fake_service.requests) == 1 and len(_spooled(tmp_path)) == 1

    forced = run(["-m", "diagnoser_client", "flush", "--force"], env, tmp_path)
    assert forced.returncode == 0, forced.stderr
    assert forced.stdout == f"diagnoser: 1 delivered, 0 still waiting, 0 dropped ({tmp_path / 'spool'})\n"
    assert len(fake_service.reports()) == 2 and _spooled(tmp_path) == []
    assert not (tmp_path / "spool" / spool_module.NOT_BEFORE).exists()  # the service takes reports again


def test_retry_after_as_an_http_date_and_the_resend_once_it_has_passed(tmp_path, fake_service, write_script):
    script = write_script(CRASH)
    env = client_env(tmp_path, fake_service.url)
    # An HTTP date has whole seconds: ask for 3 s from now, at least 2 s once rounded down.
    fake_service.status = 503
    fake_service.headers = {"Retry-After": email.utils.formatdate(time.time() + 3, usegmt=True)}
    run(["-m", "diagnoser_client", str(script)], env, tmp_path)
    until = _not_before(tmp_path)
    assert time.time() + 1 <= until <= time.time() + 3.5

    fake_service.status, fake_service.headers = 201, {}
    ok = write_script("print('fine')\n", "ok.py")
    run(["-m", "diagnoser_client", str(ok)], env, tmp_path)
    assert len(fake_service.requests) == 1  # too early: nothing resent
    time.sleep(max(0.0, until - time.time()) + 0.2)
    done = run(["-m", "diagnoser_client", str(ok)], env, tmp_path)  # after the time: the next run's flush resends
    assert done.stderr == ""
    assert len(fake_service.reports()) == 2 and _spooled(tmp_path) == []


def test_a_resend_answered_with_retry_after_stops_the_flush_and_says_until_when(tmp_path, fake_service):
    folder = tmp_path / "spool"
    spool = Spool(str(folder))
    for n in range(3):
        spool.put({"traceback": f"report {n}", "event_id": f"{n:032x}"}, None)
    fake_service.status = 503
    fake_service.headers = {"Retry-After": "60"}
    env = client_env(tmp_path, fake_service.url)
    flushed = run(["-m", "diagnoser_client", "flush"], env, tmp_path)
    assert flushed.returncode == 1
    until = _not_before(tmp_path)
    assert flushed.stdout == (f"diagnoser: 0 delivered, 3 still waiting, 0 dropped ({folder}); stopped: HTTP 503; "
                              f"the service asked to wait until {local_time(until)}\n")
    assert len(fake_service.requests) == 1  # the first answer stopped the flush
    again = run(["-m", "diagnoser_client", "flush"], env, tmp_path)
    assert "asked to wait until" in again.stdout and len(fake_service.requests) == 1


def test_retry_after_is_parsed_as_seconds_or_an_http_date():
    now = 1_700_000_000.0
    assert parse_retry_after("120", now) == now + 120
    assert parse_retry_after(" 5 ", now) == now + 5
    assert parse_retry_after(email.utils.formatdate(now + 90, usegmt=True), now) == pytest.approx(now + 90, abs=1)
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) is None  # already past
    for junk in (None, "", "soon", "-5", "0", "1.5e3"):
        assert parse_retry_after(junk, now) is None


def test_the_wait_is_kept_in_one_file_written_atomically_and_bounded(tmp_path):
    spool = Spool(str(tmp_path))
    assert spool.not_before() is None
    spool.set_not_before(time.time() + 30, 429)
    assert spool.not_before() == pytest.approx(time.time() + 30, abs=2)
    assert sorted(p.name for p in tmp_path.iterdir()) == [spool_module.NOT_BEFORE]  # no temporary file left
    assert oct((tmp_path / spool_module.NOT_BEFORE).stat().st_mode)[-3:] == "600"
    spool.set_not_before(time.time() + 10 * 365 * 86400, 503)  # a bogus header must not strand reports for years
    assert spool.not_before() <= time.time() + spool_module.MAX_WAIT + 1
    (tmp_path / spool_module.NOT_BEFORE).write_text("{not json")
    assert spool.not_before() is None
    spool.set_not_before(time.time() - 1, 429)
    assert spool.not_before() is None
    assert len(spool) == 0  # the wait file is never taken for a report


def test_flush_counts_are_taken_after_flushing(tmp_path, monkeypatch):
    settings = config.load({"url": "http://svc", "spool_dir": str(tmp_path)}, environ={})
    delivery = Delivery(settings)
    delivery.spool.put({"traceback": "a"}, None)
    delivery.spool.put({"traceback": "b"}, None)
    monkeypatch.setattr("diagnoser_client.transport.send", lambda *a: Outcome(status=201))
    counts = delivery.flush_spool()
    assert (counts["delivered"], counts["waiting"], counts["dropped"]) == (2, 0, 0)
    delivery.spool.put({"traceback": "c"}, None)
    delivery.spool.set_not_before(time.time() + 60, 429)
    held = delivery.flush_spool()
    assert (held["delivered"], held["waiting"]) == (0, 1) and held["not_before"] is not None
    assert delivery.flush_spool(force=True)["delivered"] == 1
