"""deploy/ runs a notification worker: compose's `worker` service and a systemd unit, with the key from a file."""

from __future__ import annotations

import re

import yaml
from servers import ROOT

from diagnoser.settings import SETTINGS

DEPLOY = ROOT / "deploy"
NOTIFY_SETTINGS = [s.name for s in SETTINGS if s.name == "DIAGNOSER_ENCRYPTION_KEY" or "NOTIFY" in s.name
                   or "SPIKE" in s.name or "WEBHOOK" in s.name]


def test_compose_runs_a_worker_after_the_migration_with_secrets_from_files():
    services = yaml.safe_load((DEPLOY / "compose.yaml").read_text())["services"]
    worker = services["worker"]
    assert worker["command"] == ["diagnoser", "worker"] and worker["image"] == services["web"]["image"]
    assert worker["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    for name in ("worker", "web"):
        env = services[name]["environment"]
        assert "DIAGNOSER_ENCRYPTION_KEY_FILE" in env and "DIAGNOSER_ENCRYPTION_KEY" not in env
        assert "encryption_key" in services[name]["secrets"]


def test_the_systemd_worker_unit_migrates_then_runs_the_worker_as_the_service_user():
    unit = (DEPLOY / "systemd" / "diagnoser-worker.service").read_text()
    assert re.search(r"^ExecStartPre=\S*/diagnoser db upgrade$", unit, re.M)
    assert re.search(r"^ExecStart=\S*/diagnoser worker$", unit, re.M)
    assert re.search(r"^User=diagnoser$", unit, re.M) and "NoNewPrivileges=yes" in unit
    assert "EnvironmentFile=/etc/diagnoser/diagnoser.env" in unit


def test_the_environment_example_lists_every_notification_setting():
    example = (DEPLOY / "diagnoser.env.example").read_text()
    assert len(NOTIFY_SETTINGS) >= 9
    assert [n for n in NOTIFY_SETTINGS if n not in example] == []
