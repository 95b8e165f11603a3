"""The payload builders are pure: every message they make stays within Slack's limits (50 blocks, 3,000 characters
per section text, 150 per header, 2,000 per field), long fixes and tracebacks are trimmed with a marker and never
cut mid-word silently; Mattermost gets attachments with a fallback; the webhook signature verifies."""

from __future__ import annotations

import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnoser.notify import payloads
from diagnoser.notify.payloads import (
    MAX_EVENTS_PER_MESSAGE,
    TRIMMED,
    mattermost_message,
    sign,
    slack_message,
    slack_problems,
    trim,
    trim_head,
    verify,
    webhook_body,
)

BASE = "https://diagnoser.example"


def view(kind: str = "new", *, title: str = "Layer conv2d expects a rank-4 input but got rank 3",
         fix: str = "Declare the input with its channel axis.", fix_code: str = "inputs = keras.Input(shape=(28, 28, 1))",
         tail: str = "Traceback (most recent call last):\nValueError: boom", message: str = "expected min_ndim=4",
         layer: str | None = "conv2d", n: int = 1, payload: dict[str, Any] | None = None) -> dict[str, Any]:
    return {
        "id": n, "kind": kind, "created_at": "2026-12-01T10:00:00+00:00", "project": "vision", "team": "default",
        "payload": payload or {},
        "group": {"id": n, "cause": "input_layer", "rule": "keras-input-ndim", "title": title,
                  "exception_type": "ValueError", "message": message, "status": "open", "count": 3,
                  "first_seen": "2026-12-01T10:00:00+00:00", "last_seen": "2026-12-01T10:00:00+00:00"},
        "diagnosis": {"cause": "input_layer", "rule": "keras-input-ndim", "layer": layer, "title": title,
                      "expected": "(None, 28, 28, 1)", "received": "(None, 28, 28)", "fix": fix, "fix_code": fix_code,
                      "confidence": 0.9},
        "exception": {"type": "ValueError", "message": message},
        "traceback_tail": tail,
        "report": {"id": 1, "host": "gpu-7", "user": "ana", "framework": "keras3", "framework_version": "3.15"},
    }


def test_one_new_event_has_text_for_notifications_and_the_cause_layer_shapes_fix_and_link():
    message = slack_message([view()], BASE)
    assert slack_problems(message) == []
    assert message["text"] == "New root cause in vision: input_layer — Layer conv2d expects a rank-4 input but got rank 3"
    flat = str(message["blocks"])
    for expected in ("input_layer", "conv2d", "(None, 28, 28, 1)", "(None, 28, 28)", "Declare the input",
                     "keras.Input(shape=(28, 28, 1))", f"{BASE}/groups/1", "ValueError: boom"):
        assert expected in flat, expected
    assert message["blocks"][-1]["elements"][0]["url"] == f"{BASE}/groups/1"


def test_without_a_base_url_there_is_no_link_but_the_message_stands():
    message = slack_message([view()], "")
    assert slack_problems(message) == [] and "/groups/" not in str(message)


def test_a_long_fix_is_trimmed_at_a_word_with_a_marker():
    fix = " ".join(f"word{i}" for i in range(3000))
    message = slack_message([view(fix=fix)], BASE)
    assert slack_problems(message) == []
    [section] = [b for b in message["blocks"] if "*Fix:*" in b.get("text", {}).get("text", "")]
    text = section["text"]["text"]
    assert TRIMMED in text
    kept = text.split("*Fix:* ", 1)[1].split(TRIMMED)[0]
    assert fix.startswith(kept) and fix[len(kept)] == " "  # ends at a word's end


def test_a_long_traceback_keeps_its_last_lines_and_says_how_many_were_left_out():
    tail = "\n".join(f'  File "layer{i}.py", line {i}, in call' for i in range(2000)) + "\nValueError: the end"
    message = slack_message([view(tail=tail)], BASE)
    assert slack_problems(message) == []
    [section] = [b for b in message["blocks"] if "*Traceback*" in b.get("text", {}).get("text", "")]
    text = section["text"]["text"]
    assert "lines trimmed]" in text and text.rstrip("`").endswith("ValueError: the end")


def test_mrkdwn_is_escaped_and_code_fences_cannot_be_closed_from_inside():
    message = slack_message([view(title="<!channel> & <http://evil|click>", fix_code="a ``` b")], BASE)
    flat = str(message)
    assert "<!channel>" not in flat and "&lt;!channel&gt; &amp;" in flat
    assert "a ``` b" not in flat


def test_a_coalesced_message_of_the_most_events_still_fits():
    huge = "x " * 5000
    views = [view(kind, title=huge, fix=huge, fix_code=huge, tail=huge, n=i, payload={"count": 99, "window_minutes": 15})
             for i, kind in zip(range(MAX_EVENTS_PER_MESSAGE), ["new", "regressed", "spike", "test"] * 3, strict=False)]
    message = slack_message(views, BASE)
    assert slack_problems(message) == [] and len(message["blocks"]) <= 50
    assert message["text"].startswith(f"Diagnoser: {MAX_EVENTS_PER_MESSAGE} notifications")


def test_a_spike_says_how_many_reports_in_how_long():
    message = slack_message([view("spike", payload={"count": 57, "window_minutes": 15, "usual": 0.4})], BASE)
    assert "57 reports in the last 15 min" in str(message) and message["text"].startswith("Spike in vision")


def test_the_digest_lists_top_causes_groups_new_ones_and_the_share_with_no_diagnosis():
    digest = {"scope": "vision", "day": "2026-12-01", "total": 40, "groups": 3, "no_diagnosis": 10, "causes": 2,
              "top_causes": [{"cause": "input_layer", "count": 30}, {"cause": None, "count": 10}],
              "top_groups": [{"id": 1, "title": "conv2d rank", "cause": "input_layer", "count": 30}],
              "new_groups": [{"id": i, "title": f"new {i}", "cause": None, "count": 1} for i in range(8)],
              "end_local": "Tue 01 Dec 09:00", "tz": "Europe/Paris"}
    message = slack_message([{"id": 9, "kind": "digest", "project": "vision", "team": "t", "payload": digest}], BASE)
    assert slack_problems(message) == []
    flat = str(message)
    for expected in ("40 reports", "25% with no diagnosis", "Top causes", "input_layer", "Top groups", "New today",
                     "… and 3 more", f"{BASE}/groups/1"):
        assert expected in flat, expected
    assert message["text"] == "Diagnoser daily digest for vision: 40 reports, top cause input_layer (30)"


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(st.sampled_from(["new", "regressed", "spike", "test"]), st.text(max_size=4000),
                          st.text(max_size=6000), st.text(max_size=3000), st.text(max_size=8000),
                          st.one_of(st.none(), st.text(max_size=3000))), min_size=1, max_size=MAX_EVENTS_PER_MESSAGE))
def test_any_text_in_any_field_stays_within_slacks_limits(events):
    views = [view(kind, title=title or "t", fix=fix, fix_code=code, tail=tail, layer=layer, n=i,
                  payload={"count": 1, "window_minutes": 1})
             for i, (kind, title, fix, code, tail, layer) in enumerate(events)]
    message = slack_message(views, BASE)
    assert slack_problems(message) == []
    mattermost = mattermost_message(views, BASE)
    assert all(a["fallback"] for a in mattermost["attachments"]) and len(mattermost["text"]) <= 1000


@given(st.text(max_size=5000), st.integers(min_value=20, max_value=3000))
def test_trim_fits_and_marks(text, limit):
    out = trim(text, limit)
    assert len(out) <= limit
    assert out == text or out.endswith(TRIMMED)
    assert len(trim_head(text, max(limit, 60))) <= max(limit, 60)


def test_mattermost_has_attachments_with_fallbacks():
    message = mattermost_message([view(), view("regressed", n=2)], BASE)
    assert "blocks" not in message and message["text"] == "Diagnoser: 2 notifications"
    assert [a["fallback"][:10] for a in message["attachments"]] == ["New root c", "Regressed "]
    assert message["attachments"][0]["title_link"] == f"{BASE}/groups/1"


def test_the_webhook_body_carries_events_as_data():
    body = webhook_body([view()], BASE, "2026-12-01T10:00:01+00:00")
    [event] = body["events"]
    assert event["group"]["url"] == f"{BASE}/groups/1" and event["diagnosis"]["layer"] == "conv2d"


def test_signatures_verify_and_tampering_or_age_is_refused():
    body = payloads.encode(webhook_body([view()], BASE, "now"))
    now = int(time.time())
    header = sign("whsec_x", now, body)
    assert verify("whsec_x", header, body, now)
    assert not verify("whsec_y", header, body, now)
    assert not verify("whsec_x", header, body + b" ", now)
    assert not verify("whsec_x", header, body, now + 301)
    assert not verify("whsec_x", "v1=abc", body, now)
    assert verify("whsec_x", header + ",v1=" + "0" * 64, body, now)  # several signatures (a secret rotating)
