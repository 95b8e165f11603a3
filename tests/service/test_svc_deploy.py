"""deploy/ without a container runtime: the files parse, name the services, and run exactly what the tests run; the
package built as a wheel (what the image installs: the engine compiled by mypyc) carries its migrations and rules,
serves, and answers exactly as the pure-Python engine does."""

from __future__ import annotations

import glob
import json
import os
import re
import subprocess
import sys
import venv

import yaml
from servers import GUNICORN_ARGS, ROOT, free_port, service_env, start

DEPLOY = ROOT / "deploy"


def _dockerfile() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1].strip()) for line in text.splitlines()
            if line.strip() and not line.lstrip().startswith("#")]


def test_the_image_is_slim_runs_as_nobody_in_particular_and_checks_its_health():
    instructions = _dockerfile()
    froms = [arg for op, arg in instructions if op == "FROM"]
    assert froms and all(arg.startswith("python:3.11-slim") for arg in froms)
    users = [arg for op, arg in instructions if op == "USER"]
    assert users and users[-1] not in ("root", "0")
    health = [arg for op, arg in instructions if op == "HEALTHCHECK"]
    assert health and "/healthz" in health[0]


def test_the_image_runs_the_gunicorn_configuration_the_tests_run():
    command = json.loads(next(arg for op, arg in _dockerfile() if op == "CMD"))
    assert command[0] == "gunicorn" and command[1:] == ["-c", "/app/gunicorn.conf.py"]
    assert GUNICORN_ARGS == ["-c", str(DEPLOY / "gunicorn.conf.py")]  # what tests/service/servers.py runs
    copied = next(arg for op, arg in _dockerfile() if op == "COPY" and arg.endswith("/app/gunicorn.conf.py"))
    assert copied.split()[0] == "deploy/gunicorn.conf.py"


def test_compose_has_postgresql_a_one_shot_migration_and_the_web_service():
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
    services = compose["services"]
    assert {"postgres", "migrate", "web"} <= set(services)
    assert services["migrate"]["command"] == ["diagnoser", "db", "upgrade"]
    assert services["migrate"]["restart"] == "no"
    assert services["migrate"]["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert services["web"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["build"]["dockerfile"] == "deploy/Dockerfile"
    for name in ("migrate", "web"):  # secrets come from files, never from the compose file itself
        env = services[name]["environment"]
        assert "DIAGNOSER_DATABASE_URL_FILE" in env and "DIAGNOSER_DATABASE_URL" not in env


def test_the_systemd_unit_migrates_first_then_runs_the_same_gunicorn_configuration():
    unit = (DEPLOY / "systemd" / "diagnoser.service").read_text()
    assert re.search(r"^ExecStartPre=\S*/diagnoser db upgrade$", unit, re.M)
    assert re.search(r"^ExecStart=\S*/gunicorn -c \S*gunicorn\.conf\.py$", unit, re.M)
    assert re.search(r"^User=diagnoser$", unit, re.M) and "NoNewPrivileges=yes" in unit


def test_the_proxies_take_a_whole_report_and_speak_tls():
    nginx = (DEPLOY / "nginx.conf").read_text()
    size = int(re.search(r"client_max_body_size (\d+)m;", nginx).group(1))  # type: ignore[union-attr]
    assert size * 1024 * 1024 >= 1048576 and "listen 443 ssl" in nginx and "X-Forwarded-Proto" in nginx
    caddy = (DEPLOY / "Caddyfile").read_text()
    assert "reverse_proxy 127.0.0.1:8000" in caddy and "/readyz" in caddy


# Every recorded traceback with its summary, then with its script too, diagnosed by whichever engine imports
# `diagnoser`: one JSON per line.
_ANSWERS = """
import glob, json, sys
from diagnoser.engine import COMPILED, diagnose
print(json.dumps(COMPILED))
for path in sorted(glob.glob(sys.argv[1])):
    for line in open(path):
        case = json.loads(line)
        text = case.get("traceback") or case.get("stderr") or ""
        summary = case.get("model_summary") or case.get("stdout_summary")
        for source in (None, case.get("code_excerpt") or case.get("snippet")):
            result = diagnose(text, summary=summary, source=source)
            print(json.dumps(result.to_dict(), sort_keys=True))
"""
_FIXTURES = str(ROOT / "tests" / "fixtures" / "*" / "cases.jsonl")


def test_the_wheel_the_image_installs_carries_migrations_and_rules_and_serves(tmp_path):
    """A plain (not editable) install, as `pip install` in the image does: migrations and rules come from inside
    the package, `gunicorn -c deploy/gunicorn.conf.py` serves from a folder that is not the checkout, and the
    engine, compiled as the image compiles it, gives the pure-Python engine's answers byte for byte."""
    wheels = tmp_path / "wheels"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                    "--wheel-dir", str(wheels), str(ROOT)], check=True, timeout=900,
                   env=dict(os.environ, DIAGNOSER_COMPILE="1"))
    env_dir = tmp_path / "venv"
    venv.create(env_dir, system_site_packages=True, with_pip=True)
    python = env_dir / "bin" / "python"
    wheel = next(wheels.glob("diagnoser-*.whl"))
    subprocess.run([str(python), "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall", str(wheel)],
                   check=True, timeout=300)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = service_env(DIAGNOSER_DATA_DIR=str(tmp_path / "data"))
    env.pop("PYTHONPATH")  # the installed package, not this checkout
    where = subprocess.run([str(python), "-c", "import diagnoser, diagnoser.store.migrate as m; "
                            "print(diagnoser.__file__); print(m.migrations_dir())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True).stdout.split()
    assert all(str(env_dir) in path for path in where), where
    compiled = subprocess.run([str(python), "-c", _ANSWERS, _FIXTURES], cwd=elsewhere, env=env,
                              capture_output=True, text=True, check=True, timeout=600).stdout.splitlines()
    pure = subprocess.run([sys.executable, "-c", _ANSWERS, _FIXTURES], cwd=ROOT, env=service_env(),
                          capture_output=True, text=True, check=True, timeout=600).stdout.splitlines()
    assert (compiled[0], pure[0]) == ("true", "false")
    assert len(compiled) == len(pure) == 1 + 2 * sum(1 for p in glob.glob(_FIXTURES) for _ in open(p))
    assert compiled[1:] == pure[1:]
    port = free_port()
    server = start([str(python), "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py")], elsewhere,
                   dict(env, DIAGNOSER_BIND=f"127.0.0.1:{port}"), port)
    try:
        rules = subprocess.run([str(env_dir / "bin" / "diagnoser"), "rules", "test"], cwd=elsewhere, env=env,
                               capture_output=True, text=True, timeout=300)
        assert rules.returncode == 0, rules.stdout[-2000:] + rules.stderr[-2000:]
    finally:
        server.stop()
