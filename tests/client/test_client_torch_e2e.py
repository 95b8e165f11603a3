"""End to end with real PyTorch (CPU): training scripts with a fault, run as users run them.

The printed model (`print(model)`) and the shapes and dtypes of what the modules' forward received are read from
the traceback's frames (or the script's variables) after the crash; the report is checked where it is stored, in
a real `diagnoser serve`.
"""

from __future__ import annotations

import json
import os

import pytest
from client_helpers import client_env, exit_timer_env, quiet_lines, run
from diagnoser_client.render import diagnosis_lines

if os.environ.get("CI", "").lower() == "true":  # on CI the PyTorch tests must run, never skip
    import torch  # noqa: F401
else:
    pytest.importorskip("torch")

MODEL_END = "== end of model =="
TRAIN = f"""\
import torch
from torch import nn

torch.manual_seed(0)
x = torch.rand(64, 1, 28, 28)                      # images, never flattened
y = torch.randint(0, 10, (64,))
model = nn.Sequential(nn.Linear(784, 32), nn.ReLU(), nn.Linear(32, 10))
print(model)
print("{MODEL_END}")
optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
loss_fn = nn.CrossEntropyLoss()
for start in range(0, len(x), 16):
    xb, yb = x[start:start + 16], y[start:start + 16]
    optimizer.zero_grad()
    loss = loss_fn(model(xb), yb)
    loss.backward()
    optimizer.step()
print("trained")
"""
FAULT = "mat1 and mat2 shapes cannot be multiplied (448x28 and 784x32)"


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The script run without the client: the output everything else is compared with."""
    folder = tmp_path_factory.mktemp("torch")
    script = folder / "train.py"
    script.write_text(TRAIN)
    env = client_env(folder, None)
    timer = exit_timer_env(folder, env, "plain")
    done = run([str(script)], env, folder)
    assert done.returncode == 1, done.stderr
    assert f"RuntimeError: {FAULT}" in done.stderr
    return script, done, float(timer.read_text())


def _printed_model(stdout: str) -> str:
    return stdout[: stdout.index(MODEL_END)].rstrip("\n")


def test_a_pytorch_shape_fault_is_stored_with_the_model_and_diagnosed_under_the_traceback(
    plain, real_service_factory, tmp_path
):
    script, baseline, baseline_exit = plain
    service = real_service_factory()
    service.start()
    env = client_env(tmp_path, service.url, service.ingest_token)
    timer = exit_timer_env(tmp_path, env, "hooked")
    hooked = run(["-m", "diagnoser_client", str(script)], env, script.parent)

    assert hooked.returncode == baseline.returncode == 1
    assert hooked.stdout == baseline.stdout
    ours, theirs = quiet_lines(hooked.stderr), quiet_lines(baseline.stderr)
    assert ours[: len(theirs)] == theirs  # the traceback exactly as python prints it, then the diagnosis
    extra = ours[len(theirs):]
    assert 1 <= len(extra) <= 6
    assert float(timer.read_text()) - baseline_exit < 2.0

    report = service.get("/api/v1/reports/1")
    assert report["summary"] == _printed_model(baseline.stdout)  # print(model), exactly
    assert report["inputs"] == {
        "call": {"inputs": {"shape": [16, 1, 28, 28], "dtype": "float32"}},
        "layer": {"module": "Linear", "path": "0", "inputs": {"shape": [16, 1, 28, 28], "dtype": "float32"}},
    }
    assert FAULT in report["traceback"]
    assert "loss = loss_fn(model(xb), yb)" in report["source"]
    assert report["meta"]["versions"]["torch"].startswith("2.")
    stored = json.dumps(report["inputs"])
    assert "0." not in stored  # shapes and dtypes, never values

    assert report["diagnoses"], "the engine names a cause for this fault"
    best = report["diagnoses"][0]
    # images fed to a model that starts with Linear: the data was never flattened (as the corpus labels it)
    assert (best["rule"], best["cause"]) == ("torch-matmul-shapes", "data_preprocessing")
    assert "flatten" in best["fix"].lower()
    assert extra == diagnosis_lines({"diagnoses": report["diagnoses"], "url": f"{service.url}/groups/{report['group_id']}"})
    assert extra[0].startswith("diagnoser: ") and "(data_preprocessing" in extra[0]
    assert any("flatten" in line.lower() for line in extra[1:])


LOSS_FAULT = """\
import torch
from torch import nn

class Classifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(12, 8), nn.ReLU())
        self.head = nn.Linear(8, 3)

    def forward(self, images, mask=None):
        return self.head(self.body(images))

def train(net, batches):
    criterion = nn.CrossEntropyLoss()
    for images, labels in batches:
        loss = criterion(net(images, mask=torch.ones(len(images), dtype=torch.bool)), labels)
        loss.backward()

def main():
    net = Classifier()
    train(net, [(torch.rand(4, 3, 4), torch.randint(0, 3, (5,)))])   # one label too many

main()
"""


def test_an_error_outside_the_model_reports_the_script_s_model_and_what_the_loss_received(
    tmp_path, fake_service, write_script
):
    script = write_script(LOSS_FAULT)
    plain = run([str(script)], client_env(tmp_path, None), tmp_path)
    hooked = run(["-m", "diagnoser_client", str(script)], client_env(tmp_path, fake_service.url), tmp_path)
    assert plain.returncode == hooked.returncode == 1
    assert "Expected input batch_size (4) to match target batch_size (5)" in plain.stderr
    assert hooked.stderr.startswith(plain.stderr) and hooked.stdout == plain.stdout == ""

    (report,) = fake_service.reports()
    assert report["summary"].startswith("Classifier(\n  (body): Sequential(\n    (0): Flatten(start_dim=1, end_dim=-1)")
    assert "(head): Linear(in_features=8, out_features=3, bias=True)" in report["summary"]
    assert report["inputs"] == {
        "layer": {"module": "CrossEntropyLoss", "inputs": [{"shape": [4, 3], "dtype": "float32"},
                                                           {"shape": [5], "dtype": "int64"}]},
    }


SLOW_REPR = """\
import time
import torch
from torch import nn

class Slow(nn.Linear):
    def extra_repr(self):
        time.sleep(30)
        return "never"

model = nn.Sequential(Slow(4, 2))
model(torch.zeros(3, 5))
"""


def test_a_model_that_prints_slowly_delays_the_exit_at_most_a_second(tmp_path, fake_service, write_script):
    script = write_script(SLOW_REPR)
    env = client_env(tmp_path, fake_service.url, DIAGNOSER_DEBUG="1")
    timer = exit_timer_env(tmp_path, env, "slow")
    hooked = run(["-m", "diagnoser_client", str(script)], env, tmp_path, timeout=60)
    assert hooked.returncode == 1
    assert "mat1 and mat2 shapes cannot be multiplied (3x5 and 4x2)" in hooked.stderr
    assert float(timer.read_text()) < 2.0

    (report,) = fake_service.reports()
    assert "summary" not in report
    assert report["inputs"]["call"] == {"inputs": {"shape": [3, 5], "dtype": "float32"}}
    assert report["inputs"]["layer"] == {"module": "Slow", "path": "0", "inputs": {"shape": [3, 5], "dtype": "float32"}}
    assert "model summary took longer than 1.0 s" in hooked.stderr
