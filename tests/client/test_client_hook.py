"""The crash hook end to end, in subprocesses, as users run it: `python -m diagnoser_client script.py` and the
one-line `diagnoser_client.install()`, against a stand-in service on 127.0.0.1 (no TensorFlow here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from client_helpers import client_env, exit_timer_env, free_port, run

CRASH = """\
import sys
print("starting")
def load(n):
    api_key = "sk-abcdefghijklmnopqrstuvwxyz123456"
    raise ValueError(f"expected ndim=4, found ndim={n}")
load(3)
"""


def test_it_prints_the_diagnosis_under_the_unchanged_traceback(tmp_path, fake_service, write_script):
    script = write_script(CRASH)
    plain = run([str(script)], client_env(tmp_path, None), tmp_path)
    hooked = run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, fake_service.url), tmp_path)

    assert plain.returncode == hooked.returncode == 1
    assert hooked.stdout == plain.stdout == "starting\n"
    assert hooked.stderr.startswith(plain.stderr)
    extra = hooked.stderr[len(plain.stderr):].splitlines()
    assert 1 <= len(extra) <= 6
    assert extra[0] == "diagnoser: The images were not flattened (data_preprocessing, 90%)"
    assert "expected (None, 784), received (16, 28, 28)" in extra[1] and "layer dense" in extra[1]
    assert any(line.strip().startswith("fix:") for line in extra)
    assert extra[-1].strip() == f"more:  {fake_service.url}/groups/7"

    (request,) = fake_service.requests
    assert request["path"] == "/api/v1/reports"
    assert request["headers"]["Authorization"] == "Bearer test-token"
    report = request["json"]
    assert report["traceback"] == plain.stderr
    assert "def load(n):" in report["source"]
    assert "sk-abcdefghij" not in json.dumps(report)
    meta = report["meta"]
    assert meta["script"] == str(script)
    assert meta["python_version"] == "{}.{}.{}".format(*sys.version_info[:3])
    assert meta["versions"]["diagnoser-client"]
    assert meta["tags"]["argv"] == str(script)
    assert meta["hostname"] and meta["run_id"]


def test_it_keeps_the_exit_code_and_reports_nothing_when_nothing_fails(tmp_path, fake_service, write_script):
    exits = write_script("import sys\nprint('bye')\nsys.exit(3)\n", "exits.py")
    ok = write_script("import sys\nprint(sys.argv[1:], __name__)\n", "ok.py")
    env = client_env(tmp_path, fake_service.url)

    assert run(["-m", "diagnoser_client", str(exits)], env, tmp_path).returncode == 3
    done = run(["-m", "diagnoser_client", str(ok), "--epochs", "3"], env, tmp_path)
    assert done.returncode == 0
    assert done.stdout == "['--epochs', '3'] __main__\n"
    assert done.stderr == ""
    assert fake_service.requests == []


def test_it_spools_when_the_service_is_down_and_flush_delivers(tmp_path, fake_service, write_script):
    script = write_script(CRASH)
    plain = run([str(script)], client_env(tmp_path, None), tmp_path)
    dead = f"http://127.0.0.1:{free_port()}"
    env = client_env(tmp_path, dead)
    timer = exit_timer_env(tmp_path, env, "down")
    hooked = run(["-m", "diagnoser_client", str(script)], env, tmp_path)

    assert hooked.returncode == 1 and float(timer.read_text()) < 2.5
    assert hooked.stdout == plain.stdout
    assert hooked.stderr.startswith(plain.stderr)
    (line,) = hooked.stderr[len(plain.stderr):].splitlines()
    assert line.startswith(f"diagnoser: could not reach {dead} (connection refused); report saved in ")
    assert "python -m diagnoser_client flush" in line
    spooled = list((tmp_path / "spool").glob("*.json"))
    assert len(spooled) == 1

    flushed = run(["-m", "diagnoser_client", "flush"], client_env(tmp_path, fake_service.url), tmp_path)
    assert flushed.returncode == 0, flushed.stderr
    # Counted after flushing: the one report is delivered and none is left waiting.
    assert flushed.stdout == f"diagnoser: 1 delivered, 0 still waiting, 0 dropped ({tmp_path / 'spool'})\n"
    assert [r["traceback"] for r in fake_service.reports()] == [plain.stderr]
    assert list((tmp_path / "spool").glob("*.json")) == []


def test_the_next_run_resends_the_spool(tmp_path, fake_service, write_script):
    script = write_script(CRASH)
    dead = f"http://127.0.0.1:{free_port()}"
    run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, dead), tmp_path)
    assert len(list((tmp_path / "spool").glob("*.json"))) == 1

    ok = write_script("print('fine')\n", "ok.py")
    done = run(["-m", "diagnoser_client", str(ok)], client_env(tmp_path, fake_service.url), tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "fine\n", "")
    assert len(fake_service.reports()) == 1
    assert list((tmp_path / "spool").glob("*.json")) == []


def test_it_spools_on_500_and_429(tmp_path, fake_service, write_script):
    script = write_script(CRASH)
    for status in (503, 429):
        fake_service.status = status
        fake_service.answer = {"error": {"code": "database_unavailable", "message": "retry later"}}
        hooked = run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, fake_service.url), tmp_path)
        assert f"(HTTP {status}: retry later); report saved in" in hooked.stderr.splitlines()[-1]
    assert len(list((tmp_path / "spool").glob("*.json"))) == 2


def test_it_reports_401_and_413_once_clearly_and_does_not_retry(tmp_path, fake_service, write_script):
    script = write_script(CRASH)
    fake_service.status = 401
    fake_service.answer = {"error": {"code": "invalid_token", "message": "unknown or revoked token"}}
    hooked = run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, fake_service.url), tmp_path)
    last = hooked.stderr.splitlines()[-1]
    assert "rejected the token (HTTP 401: unknown or revoked token)" in last and "DIAGNOSER_TOKEN" in last
    fake_service.status = 413
    hooked = run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, fake_service.url), tmp_path)
    assert "too large" in hooked.stderr.splitlines()[-1]
    assert len(fake_service.requests) == 2
    assert not (tmp_path / "spool").exists() or list((tmp_path / "spool").glob("*.json")) == []


def test_a_slow_service_delays_the_exit_a_bounded_time(tmp_path, fake_service, write_script):
    fake_service.delay = 6
    script = write_script(CRASH)
    env = client_env(tmp_path, fake_service.url, DIAGNOSER_TIMEOUT="1")
    from diagnoser_client.spool import Spool

    Spool(str(tmp_path / "spool")).put({"traceback": "an older report, resent in the background"}, None)
    timer = exit_timer_env(tmp_path, env, "slow")
    hooked = run(["-m", "diagnoser_client", str(script)], env, tmp_path)
    # One budget for everything at exit: its 1 s, not the service's 6 s, nor 1 s more for the older report.
    assert float(timer.read_text()) < 1.8
    assert hooked.returncode == 1
    assert "(no answer within 1.0 s); report saved in" in hooked.stderr.splitlines()[-1]
    assert len(list((tmp_path / "spool").glob("*.json*"))) == 2  # both kept (one still claimed by the dead run)


def test_one_line_install_wraps_the_previous_hook_and_reports_thread_errors(tmp_path, fake_service, write_script):
    script = write_script(
        """\
import sys, threading
def mine(*args):
    print("user hook ran", file=sys.stderr)
    sys.__excepthook__(*args)
sys.excepthook = mine
import diagnoser_client; diagnoser_client.install(tags={"team": "vision"})

def worker():
    raise RuntimeError("worker died")
t = threading.Thread(target=worker, name="loader")
t.start(); t.join()
print("main goes on")
raise KeyError("main died")
"""
    )
    done = run([str(script)], client_env(tmp_path, fake_service.url), tmp_path)
    assert done.returncode == 1
    assert done.stdout == "main goes on\n"
    assert "user hook ran" in done.stderr and "KeyError: 'main died'" in done.stderr
    assert 'Exception in thread loader' in done.stderr
    reports = fake_service.reports()
    assert len(reports) == 2
    by_thread = {r["meta"]["tags"].get("thread"): r for r in reports}
    assert "RuntimeError: worker died" in by_thread["loader"]["traceback"]
    assert "KeyError" in by_thread[None]["traceback"]
    assert all(r["meta"]["tags"]["team"] == "vision" for r in reports)


def test_ranks_raising_the_same_error_send_one_report(tmp_path, fake_service, write_script):
    script = write_script(
        "import os, time\ntime.sleep(0.2)\nraise RuntimeError(f'CUDA error on device cuda:{os.environ[\"RANK\"]}')\n"
    )
    procs = []
    for rank in range(3):
        env = client_env(tmp_path, fake_service.url, RANK=str(rank), LOCAL_RANK=str(rank), WORLD_SIZE="3",
                         MASTER_ADDR="127.0.0.1", MASTER_PORT="29500", TORCHELASTIC_RUN_ID="job-1")
        procs.append(
            subprocess.Popen([sys.executable, "-m", "diagnoser_client", str(script)], env=env, cwd=str(tmp_path),
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        )
    codes = [p.wait(60) for p in procs]
    for p in procs:
        p.stdout.close()
        p.stderr.close()
    assert codes == [1, 1, 1]
    (report,) = fake_service.reports()
    assert report["meta"]["run_id"] == "job-1"
    assert report["meta"]["tags"]["world_size"] == "3"


def test_secrets_in_argv_and_source_never_leave(tmp_path, fake_service, write_script):
    script = write_script("password = 'hunter2hunter2'\nraise SystemError('boom')\n")
    run(
        ["-m", "diagnoser_client", str(script), "--api-key", "abcdef123456", "--wandb-token=zzzzyyyyxxxx"],
        client_env(tmp_path, fake_service.url, HF_TOKEN="hf_secretvalue1234"),
        tmp_path,
    )
    (report,) = fake_service.reports()
    text = json.dumps(report)
    for secret in ("hunter2hunter2", "abcdef123456", "zzzzyyyyxxxx", "test-token"):
        assert secret not in text
    assert report["meta"]["tags"]["argv"].endswith("--api-key '[REDACTED]' '--wandb-token=[REDACTED]'")


def test_without_a_url_it_runs_the_script_and_says_so_once(tmp_path, write_script):
    script = write_script(CRASH)
    plain = run([str(script)], client_env(tmp_path, None), tmp_path)
    hooked = run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, None), tmp_path)
    assert hooked.returncode == 1
    assert hooked.stderr == "diagnoser: DIAGNOSER_URL is not set; running without crash reports.\n" + plain.stderr


def test_importing_the_client_loads_only_the_standard_library(tmp_path):
    code = (
        "import sys; before = set(sys.modules)\n"
        "import diagnoser_client, diagnoser_client.hooks, diagnoser_client.delivery, diagnoser_client.report\n"
        "new = {m.split('.')[0] for m in set(sys.modules) - before}\n"
        "print(sorted(m for m in new if m not in sys.stdlib_module_names and m != 'diagnoser_client'))\n"
    )
    done = run(["-c", code], client_env(tmp_path, None), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"



def test_reporting_a_crash_never_imports_a_framework_the_script_did_not(tmp_path, fake_service, write_script):
    script = write_script(
        "import atexit, sys\n"  # runs before the client's exit flush: after the report was built
        "atexit.register(lambda: print(sorted(m for m in ('torch', 'tensorflow', 'keras', 'numpy') if m in sys.modules)))\n"
        "class Module:\n    def forward(self, x):\n        raise ValueError('bad input')\n"
        "Module().forward([1.0, 2.0])\n",
        "no_frameworks.py",
    )
    done = run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, fake_service.url), tmp_path)
    assert done.returncode == 1
    assert done.stdout == "[]\n"
    (report,) = fake_service.reports()
    assert "summary" not in report and "inputs" not in report

def test_the_client_distribution_declares_no_dependencies():
    text = (Path(__file__).resolve().parents[2] / "client" / "pyproject.toml").read_text()
    assert "dependencies = []" in text and 'requires-python = ">=3.9"' in text
    assert os.path.isdir(Path(__file__).resolve().parents[2] / "client" / "diagnoser_client")


def test_relative_paths_syntax_errors_and_missing_files_look_as_under_python(tmp_path, fake_service, write_script):
    write_script(f"import sys\nprint(sys.argv[0], __file__ == {str(tmp_path / 'rel.py')!r})\nraise ValueError(1)\n",
                 "rel.py")
    write_script("def (\n", "syntax.py")
    env = client_env(tmp_path, fake_service.url)
    for args in (["rel.py"], ["syntax.py"], ["missing.py"]):
        plain = run(args, client_env(tmp_path, None), tmp_path)
        hooked = run(["-m", "diagnoser_client", *args], env, tmp_path)
        assert hooked.returncode == plain.returncode, args
        assert hooked.stdout == plain.stdout, args
        assert hooked.stderr.startswith(plain.stderr), args
    assert len(fake_service.reports()) == 2  # the ValueError and the SyntaxError; a missing file is no crash


def test_in_ipython_a_failing_cell_is_reported_under_its_traceback(tmp_path, fake_service, write_script):
    pytest.importorskip("IPython")
    script = write_script(
        """\
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
import diagnoser_client
diagnoser_client.install()
result = shell.run_cell("def f(x):\\n    raise ValueError('expected ndim=4, found ndim=3')\\nf(1)")
print("cell failed with", type(result.error_in_exec).__name__)
diagnoser_client.uninstall()
print("handlers after uninstall:", shell.custom_exceptions)
""",
        "notebook.py",
    )
    done = run([str(script)], client_env(tmp_path, fake_service.url), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "cell failed with ValueError" in done.stdout and "handlers after uninstall: ()" in done.stdout
    assert "more:  " + fake_service.url + "/groups/7" in done.stdout + done.stderr
    (report,) = fake_service.reports()
    assert "ValueError: expected ndim=4, found ndim=3" in report["traceback"]
    assert "raise ValueError('expected ndim=4" in report["source"]


def test_nothing_the_client_meets_can_hurt_the_script(tmp_path, write_script):
    """An unwritable spool, no service, and an exception whose str() itself raises: the script's own output and
    exit code are unchanged, and the client says in one line that the report is lost."""
    script = write_script(
        "class Weird(Exception):\n    def __str__(self):\n        raise RuntimeError('no str')\n"
        "print('work')\nraise Weird()\n"
    )
    (tmp_path / "not-a-folder").write_text("")
    plain = run([str(script)], client_env(tmp_path, None), tmp_path)
    env = client_env(tmp_path, f"http://127.0.0.1:{free_port()}",
                     DIAGNOSER_SPOOL_DIR=str(tmp_path / "not-a-folder" / "spool"))
    hooked = run(["-m", "diagnoser_client", str(script)], env, tmp_path)
    assert (hooked.returncode, hooked.stdout) == (plain.returncode, plain.stdout) == (1, "work\n")
    assert hooked.stderr.startswith(plain.stderr)
    (line,) = hooked.stderr[len(plain.stderr):].splitlines()
    assert line.endswith("(connection refused) nor save the report; it is lost.")


def test_the_keras_module_imports_without_keras_installed(tmp_path):
    code = (
        "import sys; sys.modules['keras'] = None; sys.modules['tf_keras'] = None\n"
        "from diagnoser_client.keras import DiagnoserCallback\n"
        "class Model:\n    built = False\n    def fit(self, x=None):\n        return 'ok'\n"
        "cb = DiagnoserCallback(install=False); cb.set_model(Model())\n"
        "print(DiagnoserCallback.__mro__[1].__name__, cb.model.fit(x=[1.0, 2.0]))\n"
    )
    done = run(["-c", code], client_env(tmp_path, None), tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "object ok\n"
