"""The README's promises: both ways of adopting the client work exactly as written, every setting is documented,
and the client runs on the oldest Python it claims (3.9) when that interpreter is on this machine."""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess

import pytest
from client_helpers import REPO, client_env, run
from diagnoser_client import config

README = (REPO / "README.md").read_text()
CLIENT_SECTION = README.split("## Client", 1)[1] if "## Client" in README else ""
CRASH = "def train():\n    raise ValueError('expected ndim=4, found ndim=3')\ntrain()\n"


def _readme_line(pattern: str) -> str:
    found = re.search(pattern, CLIENT_SECTION, re.MULTILINE)
    assert found, f"the README's Client section lacks {pattern!r}"
    return found.group(1).strip()


def test_the_one_line_adoption_works_as_written(tmp_path, fake_service):
    line = _readme_line(r"^(import diagnoser_client; diagnoser_client\.install\(\))\s")
    script = tmp_path / "train.py"
    script.write_text(line + "\n" + CRASH)
    done = run([str(script)], client_env(tmp_path, fake_service.url), tmp_path)
    assert done.returncode == 1 and len(fake_service.reports()) == 1
    assert done.stderr.splitlines()[-1].strip().startswith("more:")


def test_the_zero_code_adoption_works_as_written(tmp_path, fake_service):
    command = _readme_line(r"^(python -m diagnoser_client train\.py[^#\n]*)")
    (tmp_path / "train.py").write_text("import sys\nprint(sys.argv[1:])\n" + CRASH)
    done = run(command.split()[1:], client_env(tmp_path, fake_service.url), tmp_path)
    assert done.returncode == 1
    assert done.stdout == "['--epochs', '3']\n"
    assert len(fake_service.reports()) == 1


def test_a_module_runs_under_the_hook_too(tmp_path, fake_service):
    package = tmp_path / "trainer"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "main.py").write_text(CRASH)
    done = run(["-m", "diagnoser_client", "-m", "trainer.main"], client_env(tmp_path, fake_service.url), tmp_path)
    assert done.returncode == 1
    assert done.stderr.startswith("Traceback (most recent call last):\n  File \"" + str(package / "main.py"))
    assert len(fake_service.reports()) == 1


def test_every_client_setting_is_documented_in_the_readme():
    names = list(config._ENV.values()) + ["DIAGNOSER_DISABLED", "DIAGNOSER_DEBUG"]
    missing = [name for name in names if f"`{name}`" not in CLIENT_SECTION]
    assert not missing, f"undocumented client settings: {missing}"


def _python39() -> str:
    candidates = sorted(glob.glob(os.path.expanduser("~/.pyenv/versions/3.9*/bin/python"))) + [shutil.which("python3.9")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            probe = subprocess.run([candidate, "-c", "import sys; print(sys.version_info[:2])"],
                                   capture_output=True, text=True, check=False)
            if probe.stdout.strip() == "(3, 9)":
                return candidate
    pytest.skip("no Python 3.9 on this machine")


def test_it_works_on_python_3_9(tmp_path, fake_service):
    python = _python39()
    script = tmp_path / "train.py"
    script.write_text(CRASH)
    env = client_env(tmp_path, fake_service.url)
    done = subprocess.run([python, "-m", "diagnoser_client", str(script)], env=env, cwd=str(tmp_path),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 1, done.stderr
    assert "ValueError: expected ndim=4" in done.stderr and done.stderr.splitlines()[-1].strip().startswith("more:")
    (report,) = fake_service.reports()
    assert report["meta"]["python_version"].startswith("3.9.")
