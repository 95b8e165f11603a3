"""`diagnoser channels add|list|test|remove|deliveries|keygen`: the id on add's last line, URLs masked, no channel
without a key (one line saying how to make one), bad input one line and exit 2, a test message's outcome said."""

from __future__ import annotations

import subprocess
import sys

import pytest
from remote import answer
from servers import cli, service_env, token

from diagnoser.settings import SettingsError, load_settings
from diagnoser.store.channels import generate_key


def run(env, cwd, *args):
    return subprocess.run([sys.executable, "-m", "diagnoser", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


@pytest.fixture
def env(tmp_path):
    environment = service_env(DIAGNOSER_DATA_DIR=str(tmp_path / "data"), DIAGNOSER_ENCRYPTION_KEY=generate_key(),
                              DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS="1", DIAGNOSER_NOTIFY_TIMEOUT_SECONDS="2")
    token(environment, tmp_path, "vision")  # makes the team and the project
    return environment


def test_no_channel_without_a_key_and_the_message_says_how_to_make_one(env, tmp_path):
    env = dict(env)
    del env["DIAGNOSER_ENCRYPTION_KEY"]
    done = run(env, tmp_path, "channels", "add", "--project", "vision", "--kind", "slack", "--url",
               "https://hooks.slack.com/services/T/B/x")
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("diagnoser: no encryption key")
    assert "diagnoser channels keygen" in done.stderr and "Traceback" not in done.stderr
    key = cli(env, tmp_path, "channels", "keygen").strip()
    assert load_settings({"DIAGNOSER_ENCRYPTION_KEY": key}).encryption_key == key


def test_a_bad_key_stops_the_command_in_one_line(env, tmp_path):
    done = run(dict(env, DIAGNOSER_ENCRYPTION_KEY="not-a-key"), tmp_path, "channels", "list")
    assert done.returncode == 2 and len(done.stderr.strip().splitlines()) == 1
    assert "DIAGNOSER_ENCRYPTION_KEY" in done.stderr


def test_the_key_may_come_from_a_file_and_rotate(tmp_path):
    old, new = generate_key(), generate_key()
    (tmp_path / "key").write_text(f"{new},{old}\n")
    assert load_settings({"DIAGNOSER_ENCRYPTION_KEY_FILE": str(tmp_path / "key")}).encryption_key == f"{new},{old}"
    with pytest.raises(SettingsError, match="DIAGNOSER_ENCRYPTION_KEY"):
        load_settings({"DIAGNOSER_ENCRYPTION_KEY": new + ",short"})


def test_add_list_remove(env, tmp_path, remote):
    secret_url = remote.url("/services/T0/B0/supersecretpath1234")
    added = cli(env, tmp_path, "channels", "add", "--project", "vision", "--kind", "slack", "--url", secret_url,
                "--events", "new,regressed", "--digest-tz", "Europe/Paris")
    channel_id = int(added.strip().splitlines()[-1])
    hook = cli(env, tmp_path, "channels", "add", "--kind", "webhook", "--url", remote.url("/receiver"))
    assert "signing secret (shown only now" in hook and "whsec_" in hook
    listing = cli(env, tmp_path, "channels", "list")
    assert "supersecretpath" not in listing and "…1234" in listing
    lines = listing.strip().splitlines()
    assert lines[0].split()[:4] == ["id", "team", "project", "kind"] and len(lines) == 3
    assert lines[1].split()[:4] == [str(channel_id), "default", "vision", "slack"]
    assert "new,regressed" in lines[1] and "active" in lines[1] and lines[1].endswith("never")
    assert "(all)" in lines[2]
    assert cli(env, tmp_path, "channels", "remove", str(channel_id)).strip() == f"removed channel {channel_id}"
    assert len(cli(env, tmp_path, "channels", "list").strip().splitlines()) == 2
    done = run(env, tmp_path, "channels", "remove", str(channel_id))
    assert done.returncode == 2 and "no channel" in done.stderr


@pytest.mark.parametrize("args,message", [
    (["--project", "nope", "--kind", "slack", "--url", "https://hooks.slack.com/x"], "no project 'nope'"),
    (["--project", "vision", "--kind", "slack", "--url", "ftp://x/y"], "only http:// and https://"),
    (["--project", "vision", "--kind", "slack", "--url", "https://h.example/x", "--events", "new,loud"], "events"),
    (["--project", "vision", "--kind", "slack", "--url", "https://h.example/x", "--digest-tz", "Mars/Olympus"],
     "unknown time zone"),
    (["--project", "vision", "--kind", "slack", "--url", "https://h.example/x", "--team", "ghosts"], "no team"),
])
def test_bad_input_is_one_line_and_exit_2(env, tmp_path, args, message):
    done = run(env, tmp_path, "channels", "add", *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr


def test_private_targets_are_refused_unless_allowed(env, tmp_path):
    env = dict(env, DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS="0")
    done = run(env, tmp_path, "channels", "add", "--project", "vision", "--kind", "slack", "--url",
               "http://169.254.169.254/latest")
    assert done.returncode == 2 and "DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS=1" in done.stderr


def test_channels_test_says_what_the_remote_answered(env, tmp_path, remote):
    good = int(cli(env, tmp_path, "channels", "add", "--project", "vision", "--kind", "slack", "--url",
                   remote.plan("/good")).strip().splitlines()[-1])
    bad = int(cli(env, tmp_path, "channels", "add", "--project", "vision", "--kind", "slack", "--url",
                  remote.plan("/bad", answer(404, "no_service"))).strip().splitlines()[-1])
    done = run(env, tmp_path, "channels", "test", str(good))
    assert done.returncode == 0 and f"test message delivered to channel {good} (200" in done.stdout
    assert remote.to("/good")[0].json()["text"].startswith("Diagnoser test message")
    done = run(env, tmp_path, "channels", "test", str(bad))
    assert done.returncode == 1 and "404 Slack answered 404 no_service" in done.stderr
    listing = cli(env, tmp_path, "channels", "list")
    assert "disabled: Slack answered 404 no_service: the webhook was removed or its app uninstalled" in listing
    assert "sent (200)" in listing
    history = cli(env, tmp_path, "channels", "deliveries", str(bad))
    assert "test event" in history and "failed" in history and "404" in history
    assert remote.to("/good") and len(remote.to("/bad")) == 1


def test_a_disabled_channel_is_enabled_again_from_the_cli(env, tmp_path, remote):
    from sqlalchemy import update

    from diagnoser.store.db import make_engine
    from diagnoser.store.models import Channel

    added = cli(env, tmp_path, "channels", "add", "--project", "vision", "--kind", "slack", "--url",
                remote.url("/services/T0/B0/gone"))
    channel_id = int(added.strip().splitlines()[-1])
    database = next(path for path in (tmp_path / "data").rglob("*.db"))
    engine = make_engine(f"sqlite:///{database}")
    with engine.begin() as connection:  # as the worker leaves it after Slack answered 404 no_service
        connection.execute(update(Channel).where(Channel.id == channel_id)
                           .values(state="disabled", disabled_reason="Slack answered 404 no_service"))
    engine.dispose()
    assert "disabled: Slack answered 404 no_service" in cli(env, tmp_path, "channels", "list")
    assert cli(env, tmp_path, "channels", "enable", str(channel_id)).strip() == f"channel {channel_id} is active"
    listing = cli(env, tmp_path, "channels", "list")
    assert "disabled" not in listing and "active" in listing
    done = run(env, tmp_path, "channels", "enable", "999")
    assert done.returncode == 2 and "no channel 999" in done.stderr
