"""End to end with `diagnoser serve` (gunicorn, and the notification worker it starts): a new error is one Slack
message with its cause, layer, shapes, fix and link within seconds; the same error again is none; resolved, then
seen again, it is one `regressed` message."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from pathlib import Path

from servers import cli, post, service_env, start_serve, token
from svc_helpers import KERAS_TRACEBACK

from diagnoser.notify.payloads import slack_problems
from diagnoser.store.channels import generate_key


def _patch(base: str, read: str, group_id: int, status: str) -> int:
    request = urllib.request.Request(f"{base}/api/v1/groups/{group_id}", data=json.dumps({"status": status}).encode(),
                                     method="PATCH", headers={"Authorization": f"Bearer {read}",
                                                              "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_serve_new_error_one_message_repeat_none_resolved_then_seen_one_regressed(db_url, tmp_path, remote):
    env = service_env(DIAGNOSER_DATABASE_URL=db_url, DIAGNOSER_DATA_DIR=str(tmp_path / "data"),
                      DIAGNOSER_ENCRYPTION_KEY=generate_key(), DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS="1",
                      DIAGNOSER_BASE_URL="https://diagnoser.example", DIAGNOSER_NOTIFY_POLL_SECONDS="0.2")
    ingest = token(env, tmp_path, "e2e")
    read = token(env, tmp_path, "e2e", "read")
    added = cli(env, tmp_path, "channels", "add", "--project", "e2e", "--kind", "slack", "--url",
                remote.url("/services/T000/B000/XXXXXXXXXXXXXXXX"))
    channel_id = int(added.strip().splitlines()[-1])
    assert "XXXXXXXXXXXXXXXX" not in added  # the URL is a secret: shown masked
    server = start_serve(tmp_path, env)
    try:
        path = "/services/T000/B000/XXXXXXXXXXXXXXXX"
        started = time.monotonic()
        status, body, _ = post(server.base, ingest, {"traceback": KERAS_TRACEBACK})
        assert status == 201 and body["group_status"] == "new"
        group_id = body["group_id"]
        messages = remote.wait_for(path, 1, seconds=15)
        assert len(messages) == 1, server.log()
        latency = time.monotonic() - started
        message = messages[0].json()
        assert not slack_problems(message)
        text = json.dumps(message)
        assert message["text"].startswith("New root cause in e2e: input_layer")
        for expected in ("input_layer", "conv2d", "(None, 28, 28)", "(28, 28, 1)", "Declare the input with its "
                         "channel axis", f"https://diagnoser.example/groups/{group_id}"):
            assert expected in text, expected
        assert latency < 10

        status, body, _ = post(server.base, ingest, {"traceback": KERAS_TRACEBACK})
        assert status == 201 and body["group_status"] == "existing"
        time.sleep(2.0)
        assert len(remote.to(path)) == 1  # the same error again: no message

        assert _patch(server.base, read, group_id, "resolved") == 200
        status, body, _ = post(server.base, ingest, {"traceback": KERAS_TRACEBACK})
        assert status == 201 and body["group_status"] == "regressed"
        messages = remote.wait_for(path, 2, seconds=15)
        assert len(messages) == 2
        again = messages[1].json()
        assert again["text"].startswith("Regressed in e2e: input_layer") and not slack_problems(again)
        time.sleep(1.5)
        assert len(remote.to(path)) == 2
        listing = cli(env, tmp_path, "channels", "list")
        assert f"{channel_id}" in listing and "active" in listing and "sent (200)" in listing
        assert "XXXXXXXXXXXXXXXX" not in listing and "XXXXXXXXXXXXXXXX" not in server.log()
    finally:
        server.stop()


def _notification_worker_of(master_pid: int) -> int | None:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            cmdline = (stat.parent / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(fields[1]) == master_pid and b"worker" in cmdline:
            return int(stat.parent.name)
    return None


def test_serve_restarts_its_notification_worker_and_it_never_outlives_the_service(tmp_path, remote):
    env = service_env(DIAGNOSER_DATA_DIR=str(tmp_path / "data"), DIAGNOSER_ENCRYPTION_KEY=generate_key(),
                      DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS="1", DIAGNOSER_NOTIFY_POLL_SECONDS="0.2")
    ingest = token(env, tmp_path, "e2e")
    cli(env, tmp_path, "channels", "add", "--project", "e2e", "--kind", "slack", "--url", remote.url("/hook"))
    server = start_serve(tmp_path, env)
    try:
        deadline = time.monotonic() + 10
        while (first := _notification_worker_of(server.process.pid)) is None:
            assert time.monotonic() < deadline, server.log()
            time.sleep(0.1)
        os.kill(first, signal.SIGKILL)
        status, _, _ = post(server.base, ingest, {"traceback": KERAS_TRACEBACK})
        assert status == 201
        assert len(remote.wait_for("/hook", 1, seconds=20)) == 1, server.log()  # restarted, it delivered
        second = _notification_worker_of(server.process.pid)
        assert second is not None and second != first
        assert "the notification worker exited" in server.log()
        os.kill(server.process.pid, signal.SIGKILL)  # the master alone, as an OOM killer would
        deadline = time.monotonic() + 10
        while Path(f"/proc/{second}").exists() and "Z" not in Path(f"/proc/{second}/stat").read_text().split()[2]:
            assert time.monotonic() < deadline, "the worker outlived the service"
            time.sleep(0.1)
    finally:
        server.kill()
