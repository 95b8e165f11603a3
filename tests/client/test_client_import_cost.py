"""`import diagnoser_client; diagnoser_client.install()` stays cheap: it sets the hooks and reads the settings, and
imports no HTTP, TLS, JSON, e-mail, uuid or logging module until there is a report to send. Checked by what lands in
sys.modules of a fresh interpreter, not by timing (benchmarks/bench_client_import.py measures the time)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from client_helpers import client_env, run

# Imported by the first report (or flush), never by install().
HEAVY = (
    "http", "http.client", "urllib.request", "urllib.error", "ssl", "socket", "email", "email.utils", "json", "gzip",
    "uuid", "logging", "dataclasses", "inspect", "hashlib", "platform", "getpass", "shlex", "traceback",
    "linecache", "sysconfig", "diagnoser_client.transport", "diagnoser_client.report", "diagnoser_client.meta",
    "diagnoser_client.capture", "diagnoser_client.render", "diagnoser_client.ranks", "diagnoser_client.scrub",
)
# On a bare interpreter (-S: no site-packages .pth files that import things first), not even these.
BARE_TOO = ("typing", "re", "weakref", "contextlib", "enum", "string")  # (threading brings functools, collections)

PROBE = """\
import sys
before = set(sys.modules)
import diagnoser_client
client = diagnoser_client.install()
assert client is not None, "install() returned None"
print(repr(sorted(set(sys.modules) - before)))
"""


def _new_modules(tmp_path, *flags: str, **env_extra: str):  # type: ignore[no-untyped-def]
    env = client_env(tmp_path, "http://127.0.0.1:9", **env_extra)  # nothing listens there; install() never connects
    done = run([*flags, "-c", PROBE], env, tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    return set(ast.literal_eval(done.stdout.strip()))


@pytest.mark.parametrize("flags", [(), ("-S",)], ids=["site", "bare"])
def test_install_imports_no_http_json_or_logging_module(tmp_path, flags):
    new = _new_modules(tmp_path, *flags)
    assert "diagnoser_client.hooks" in new  # the probe did what it says
    forbidden = HEAVY + (BARE_TOO if flags else ())
    assert sorted(new & set(forbidden)) == []
    assert sorted(m for m in new if m.startswith("diagnoser_client")) == [
        "diagnoser_client", "diagnoser_client._log", "diagnoser_client.client", "diagnoser_client.config",
        "diagnoser_client.hooks"]


def test_install_sees_the_spooled_reports_as_the_spool_counts_them(tmp_path):
    from diagnoser_client.hooks import _has_spooled_reports
    from diagnoser_client.spool import NOT_BEFORE, Spool

    spool = Spool(str(tmp_path))
    assert not _has_spooled_reports(str(tmp_path)) and not _has_spooled_reports(str(tmp_path / "missing"))
    spool.set_not_before(1e12, 429)
    (tmp_path / ".x.json.tmp").write_text("")
    assert not _has_spooled_reports(str(tmp_path)) and len(spool) == 0 and (tmp_path / NOT_BEFORE).exists()
    spool.put({"traceback": "x"}, None)
    assert _has_spooled_reports(str(tmp_path)) and len(spool) == 1


def test_with_reports_waiting_install_still_imports_nothing_heavy_before_the_service_asked_to_wait(tmp_path):
    """A spool under a Retry-After: install() reads its one not-before file (JSON: imported for it) and starts no
    flush, so no HTTP module."""
    from diagnoser_client.spool import Spool

    spool = Spool(str(tmp_path / "spool"))
    spool.put({"traceback": "waiting"}, None)
    import time

    spool.set_not_before(time.time() + 600, 429)
    new = _new_modules(tmp_path)
    assert sorted(new & {"http.client", "urllib.request", "ssl", "socket", "diagnoser_client.transport"}) == []


def test_the_first_report_loads_what_install_did_not(tmp_path, fake_service):
    code = (
        "import sys\n"
        "import diagnoser_client; diagnoser_client.install()\n"
        "assert 'http.client' not in sys.modules\n"
        "def train():\n    raise ValueError('expected ndim=4, found ndim=3')\n"
        "train()\n"
    )
    done = run(["-c", code], client_env(tmp_path, fake_service.url), tmp_path)
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].strip() == f"more:  {fake_service.url}/groups/7"
    (report,) = fake_service.reports()
    assert "ValueError: expected ndim=4" in report["traceback"] and report["event_id"]


def test_the_client_under_test_is_this_checkouts(tmp_path):
    import diagnoser_client
    from client_helpers import CLIENT_DIR

    assert Path(diagnoser_client.__file__).resolve().parent == CLIENT_DIR / "diagnoser_client"
    done = run(["-c", "import diagnoser_client; print(diagnoser_client.__file__)"], client_env(tmp_path, None), tmp_path)
    assert Path(done.stdout.strip()).resolve().parent == CLIENT_DIR / "diagnoser_client"
