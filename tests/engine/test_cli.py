"""The offline CLI as scripts use it: exit codes, JSON schema, clear errors."""

import json
import os
import re
import subprocess
import sys

import pytest
from click.testing import CliRunner

from diagnoser.cli import cli

TB = """Traceback (most recent call last):
  File "train.py", line 10, in <module>
    model.fit(x, y, epochs=1, batch_size=8)
ValueError: Input 0 of layer "lstm" is incompatible with the layer: expected ndim=3, found ndim=2. Full shape received: (8, 20)
"""

SCRIPT = """import numpy as np
from tensorflow import keras

x = np.random.rand(64, 20)            # 64 series of 20 steps
y = np.random.randint(0, 2, 64)
model = keras.Sequential([keras.Input(shape=(20, 1)), keras.layers.LSTM(16), keras.layers.Dense(1, activation="sigmoid")])
model.compile(optimizer="adam", loss="binary_crossentropy")

model.fit(x, y, epochs=1, batch_size=8)
"""


@pytest.fixture()
def runner():
    return CliRunner()


def test_diagnose_prints_cause_layer_and_fix(runner, tmp_path):
    f = tmp_path / "tb.txt"
    f.write_text(TB)
    r = runner.invoke(cli, ["diagnose", str(f), "--no-color"])
    assert r.exit_code == 0, r.output
    # the message alone cannot tell data without its feature axis from a stacked LSTM without return_sequences:
    # the answer says so, names both, and what would decide
    assert "lstm" in r.output and "data_preprocessing" in r.output and "would decide" in r.output
    script = tmp_path / "train.py"
    script.write_text(SCRIPT)
    r = runner.invoke(cli, ["diagnose", str(f), "--no-color", "--source", str(script)])
    assert r.exit_code == 0, r.output
    first = r.output.splitlines()[1]
    assert "data_preprocessing" in first and "(N, 20) -> (N, 20, 1)" in r.output


def test_diagnose_json_has_the_contract_schema(runner):
    r = runner.invoke(cli, ["diagnose", "-", "--format", "json"], input=TB)
    data = json.loads(r.output)
    d = data["tracebacks"][0]["diagnoses"][0]
    assert set(d) == {
        "cause",
        "confidence",
        "rule",
        "layer",
        "expected",
        "received",
        "title",
        "explanation",
        "fix",
        "fix_code",
        "evidence",
        "fingerprint",
    }
    assert set(data["tracebacks"][0]) == {"exception", "framework", "frames", "diagnoses"}


def test_exit_codes_tell_scripts_what_happened(runner, tmp_path):
    assert runner.invoke(cli, ["diagnose", "-"], input="nothing to see").exit_code == 3
    unexplained = (
        'Traceback (most recent call last):\n  File "a.py", line 1, in <module>\n    f()\nRuntimeError: something odd\n'
    )
    assert runner.invoke(cli, ["diagnose", "-"], input=unexplained).exit_code == 1
    r = runner.invoke(cli, ["diagnose", str(tmp_path / "missing.txt")])
    assert r.exit_code == 2 and "does not exist" in r.output and "Traceback" not in r.output
    r = runner.invoke(cli, ["diagnose", str(tmp_path)])
    assert r.exit_code == 2 and "directory" in r.output


def test_binary_input_is_no_traceback_not_a_crash(runner, tmp_path):
    f = tmp_path / "bin"
    f.write_bytes(os.urandom(50000))
    r = runner.invoke(cli, ["diagnose", str(f)])
    assert r.exit_code in (1, 3)
    assert r.exception is None or isinstance(r.exception, SystemExit)


def test_scan_lists_every_traceback_and_a_table_of_causes(runner, tmp_path):
    log = tmp_path / "train.log"
    noise = "".join(f"2024-01-01 10:00:00 INFO step {i} loss=0.1\n" for i in range(2000))
    log.write_text(noise + TB + noise + TB.replace("lstm", "lstm_3") + noise)
    r = runner.invoke(cli, ["scan", str(log), "--no-color"])
    assert r.exit_code == 0, r.output
    cause = json.loads(runner.invoke(cli, ["diagnose", "-", "--format", "json"], input=TB).output)["tracebacks"][0][
        "diagnoses"
    ][0]["cause"]
    assert "2 tracebacks" in r.output and "line    2001" in r.output and "layer lstm_3" in r.output
    assert re.search(rf"^{cause}\s+2\s+2001$", r.output, re.M), r.output  # the table: cause, count, first line
    j = runner.invoke(cli, ["scan", str(log), "--format", "json"])
    assert len(json.loads(j.output)["tracebacks"]) == 2


def test_scan_streams_a_big_log_in_bounded_memory(tmp_path):
    log = tmp_path / "big.log"
    line = "2024-01-01 10:00:00 INFO step loss=0.1 " + "x" * 60 + "\n"
    with log.open("w") as fh:
        for _ in range(40):
            fh.write(line * 5000)
            fh.write(TB)
    # VmHWM, not ru_maxrss: the latter survives exec, so a child of a big pytest would report the parent's peak.
    code = (
        "import re\n"
        "from diagnoser.engine.scan import scan_stream\n"
        f"n = sum(1 for _ in scan_stream(open({str(log)!r}, 'rb')))\n"
        "hwm = re.search(r'VmHWM:\\s+(\\d+)', open('/proc/self/status').read()).group(1)\n"
        "print(n, hwm)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    assert int(out[0]) == 40
    assert int(out[1]) < 150_000  # KiB: the ~21 MB log is never held whole, and there is no leak per traceback


def test_rules_test_and_list(runner):
    r = runner.invoke(cli, ["rules", "test"])
    assert r.exit_code == 0, r.output
    assert "all passed" in r.output
    r = runner.invoke(cli, ["rules", "list"])
    assert "keras-input-spec-rank" in r.output


def test_the_engine_imports_nothing_of_flask_or_the_database():
    code = "import sys, diagnoser.engine; d = diagnoser.engine.diagnose('x'); print(sorted(m for m in ('flask','sqlalchemy','alembic') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"
