"""The client's small parts, in process: settings, scrubbing, shapes, spool, rendering, ranks, git, hooks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from diagnoser_client import capture, config, hooks, ranks, render, scrub
from diagnoser_client.delivery import Delivery
from diagnoser_client.describe import describe
from diagnoser_client.gitinfo import git_info
from diagnoser_client.spool import Spool
from diagnoser_client.transport import Outcome

# --- settings --------------------------------------------------------------------------------------------


def test_arguments_win_over_the_environment_which_wins_over_defaults(tmp_path):
    env = {"DIAGNOSER_URL": "http://env", "DIAGNOSER_TOKEN": "t", "DIAGNOSER_TAGS": "team=vision, exp=42",
           "DIAGNOSER_TIMEOUT": "1.5", "DIAGNOSER_SEND_SOURCE": "no", "DIAGNOSER_SPOOL_MAX_FILES": "7"}
    settings = config.load({"url": "http://arg"}, environ=env)
    assert settings.url == "http://arg" and settings.token == "t"
    assert settings.tags == {"team": "vision", "exp": "42"}
    assert (settings.timeout, settings.send_source, settings.spool_max_files) == (1.5, False, 7)
    assert settings.endpoint == "http://arg/api/v1/reports"


def test_a_malformed_variable_falls_back_to_the_default_instead_of_crashing_the_job():
    settings = config.load(environ={"DIAGNOSER_TIMEOUT": "soon", "DIAGNOSER_PRINT": "maybe"})
    assert settings.timeout == 2.0 and settings.print_diagnosis is True


def test_an_unknown_option_is_a_typo_reported_at_once():
    with pytest.raises(TypeError, match="spool_max_file"):
        config.load({"spool_max_file": 3})


def test_the_default_spool_is_in_the_users_cache_folder(monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", "/somewhere/cache")
    if sys.platform.startswith("linux"):
        assert config.default_spool_dir() == "/somewhere/cache/diagnoser/spool"


# --- scrubbing -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, secret",
    [
        ('api_key = "sk-abcdefghijklmnopqrstuvwxyz"', "sk-abcdefghijklmnopqrstuvwxyz"),
        ("WANDB_API_KEY=0123456789abcdef0123", "0123456789abcdef0123"),
        ("headers={'Authorization': 'Bearer abcdefghijklmnop'}", "abcdefghijklmnop"),
        ("postgresql://user:s3cretpass@db:5432/x", "s3cretpass"),
        ("key AKIAIOSFODNN7EXAMPLE here", "AKIAIOSFODNN7EXAMPLE"),
        ("login(token='hf_abcdefghijklmnopqrstuvwxyzABCDEF')", "hf_abcdefghijklmnopqrstuvwxyzABCDEF"),
        ('{"password": "correct horse"}', "correct horse"),
    ],
)
def test_secrets_are_redacted(text, secret):
    assert secret not in scrub.scrub(text)
    assert scrub.REDACTED in scrub.scrub(text)


@pytest.mark.parametrize(
    "text",
    [
        "tokenizer = AutoTokenizer.from_pretrained(name)",
        "max_tokens = 512",
        "x = layers.Dense(64)(inputs)",
        "ValueError: expected ndim=4, found ndim=3. Full shape received: (None, 28, 28)",
        "token = get_token()",
    ],
)
def test_ordinary_code_is_left_alone(text):
    assert scrub.scrub(text) == text


def test_secret_values_from_the_environment_and_argv_are_redacted(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_TOKEN", "plain-looking-value-42")
    assert "plain-looking-value-42" not in scrub.scrub("connect with plain-looking-value-42")
    assert scrub.scrub_argv(["train.py", "--token", "abc", "--lr=0.1", "--db-password=x1"]) == [
        "train.py", "--token", "[REDACTED]", "--lr=0.1", "--db-password=[REDACTED]"]


# --- shapes and dtypes -----------------------------------------------------------------------------------


def test_shapes_and_dtypes_are_described_never_values():
    np = pytest.importorskip("numpy")
    x = np.full((32, 28, 28), 7.25, dtype="float32")
    described = describe({"image": x, "label": [1, 2, 3], "pair": (x[:2], np.arange(4))})
    assert described == {
        "image": {"shape": [32, 28, 28], "dtype": "float32"},
        "label": {"kind": "list", "shape": [3], "dtype": "int"},
        "pair": [{"shape": [2, 28, 28], "dtype": "float32"}, {"shape": [4], "dtype": "int64"}],
    }
    assert "7.25" not in json.dumps(described)


def test_a_generator_is_peeked_only_when_the_program_is_dying():
    def batches():
        yield [[0.0, 1.0]] * 4

    lazy = batches()
    assert describe(lazy) == {"kind": "generator"}
    assert describe(batches(), first_batch=True) == {"kind": "generator", "first_batch": {"kind": "list", "shape": [4, 2]}}


def test_datasets_are_described_by_their_element_spec():
    class Spec:
        shape = (None, 28, 28)
        dtype = type("DType", (), {"name": "float32"})()

    class Dataset:
        element_spec = (Spec(), Spec())

    assert describe(Dataset()) == {"kind": "tf.data.Dataset", "element": [
        {"shape": [None, 28, 28], "dtype": "float32"}, {"shape": [None, 28, 28], "dtype": "float32"}]}


def test_the_model_and_its_inputs_are_read_from_the_traceback():
    np = pytest.importorskip("numpy")

    class Model:  # what capture recognises: a class named Model from a keras module
        def summary(self, print_fn):
            print_fn("Model: fake\n dense (Dense)  (None, 10)", line_break=False)

        def fit(self, x=None, y=None, batch_size=None):
            raise ValueError("bad shapes")

    Model.__module__ = "keras.src.models.model"

    def error_handler(*args, **kwargs):  # as keras.src.utils.traceback_utils wraps fit
        fn = Model.fit
        return fn(*args, **kwargs)

    model = Model()
    try:
        error_handler(model, np.zeros((8, 3), "float32"), y=np.zeros(8), batch_size=4)
    except ValueError as exc:
        summary, inputs = capture.gather(exc, exc.__traceback__)
    assert summary == "Model: fake\n dense (Dense)  (None, 10)"
    assert inputs == {"fit": {"x": {"shape": [8, 3], "dtype": "float32"}, "y": {"shape": [8], "dtype": "float64"},
                              "batch_size": 4}}



def _torch():  # type: ignore[no-untyped-def]
    if os.environ.get("CI", "").lower() == "true":  # on CI the PyTorch tests must run, never skip
        import torch

        return torch
    return pytest.importorskip("torch")


def _gather_from(call):  # type: ignore[no-untyped-def]
    try:
        call()
    except Exception as exc:  # noqa: BLE001 - whatever the call raised is what is gathered
        return capture.gather(exc, exc.__traceback__)
    raise AssertionError("no exception")


def test_pytorch_modules_are_read_from_the_traceback_and_from_the_callers_variables():
    torch = _torch()
    nn = torch.nn
    capture.reset()

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = nn.Conv2d(3, 4, 3)
            self.fc = nn.Linear(5, 2)

        def forward(self, x):
            x = self.conv(x)  # rebinds x: a forward frame's own locals never say what it received
            return self.fc(x)

    net = Net()
    received = {"shape": [2, 3, 5, 5], "dtype": "float32"}
    assert _gather_from(lambda: net(torch.zeros(2, 3, 5, 5))) == (repr(net), {
        "call": {"inputs": received},
        "layer": {"module": "Linear", "path": "fc", "inputs": {"shape": [2, 4, 3, 3], "dtype": "float32"}}})
    summary, inputs = _gather_from(lambda: net.forward(torch.zeros(2, 3, 5, 5)))
    assert summary == repr(net) and "call" not in inputs and inputs["layer"]["path"] == "fc"

    class Trainer:  # the model is an attribute of the script's own object; the error is not in any forward
        def __init__(self):
            self.criterion = nn.MSELoss()
            self.network = net

        def step(self):
            self.network(torch.zeros(1, 3, 7, 7))
            raise RuntimeError("NaN loss")

    assert _gather_from(Trainer().step) == (repr(net), None)


def test_a_pytorch_model_that_cannot_print_itself_is_sent_without_a_summary():
    torch = _torch()
    capture.reset()

    class Broken(torch.nn.Linear):
        def extra_repr(self):
            raise RuntimeError("repr failed")

    model = Broken(3, 2)
    summary, inputs = _gather_from(lambda: model(torch.zeros(4, 2, dtype=torch.float64)))
    assert summary is None
    assert inputs == {"call": {"inputs": {"shape": [4, 2], "dtype": "float64"}}}


# --- spool -----------------------------------------------------------------------------------------------


def test_the_spool_drops_the_oldest_reports_first(tmp_path):
    spool = Spool(str(tmp_path), max_files=3)
    for n in range(5):
        spool.put({"traceback": f"report {n}"}, "http://x")
    kept = [json.loads(Path(p).read_text())["payload"]["traceback"] for p in spool.entries()]
    assert kept == ["report 2", "report 3", "report 4"]
    assert all(oct(os.stat(p).st_mode)[-3:] == "600" for p in spool.entries())


def test_the_spool_is_bounded_in_bytes_too(tmp_path):
    spool = Spool(str(tmp_path), max_files=100, max_bytes=2500)
    for n in range(5):
        spool.put({"traceback": str(n) * 1000}, None)
    assert len(spool) == 2


def test_a_claimed_report_is_not_sent_twice(tmp_path):
    spool = Spool(str(tmp_path))
    spool.put({"traceback": "x"}, None)
    first = list(spool.claim())
    assert len(first) == 1 and list(Spool(str(tmp_path)).claim()) == []
    spool.release(first[0][0])
    assert len(spool) == 1


def test_a_claim_left_by_a_dead_process_is_taken_back(tmp_path):
    spool = Spool(str(tmp_path))
    path = spool.put({"traceback": "x"}, None)
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    os.rename(path, f"{path}.{dead.pid}.sending")
    assert [record["payload"] for _, record in spool.claim()] == [{"traceback": "x"}]


def test_a_spooled_report_the_service_refuses_is_dropped_and_one_it_cannot_take_is_kept(tmp_path, monkeypatch):
    settings = config.load({"url": "http://svc", "spool_dir": str(tmp_path)}, environ={})
    delivery = Delivery(settings)
    delivery.spool.put({"traceback": "bad"}, None)
    delivery.spool.put({"traceback": "later"}, None)
    answers = iter([Outcome(status=422), Outcome(status=503)])
    monkeypatch.setattr("diagnoser_client.transport.send", lambda *a: next(answers))
    counts = delivery.flush_spool()
    assert {k: counts[k] for k in ("delivered", "kept", "dropped", "waiting")} == {
        "delivered": 0, "kept": 1, "dropped": 1, "waiting": 1}
    assert counts["stopped"] == "HTTP 503" and counts["not_before"] is None
    assert [json.loads(Path(p).read_text())["payload"]["traceback"] for p in delivery.spool.entries()] == ["later"]


# --- rendering -------------------------------------------------------------------------------------------


def test_the_diagnosis_is_a_few_plain_lines_without_a_terminal(monkeypatch):
    body = {"diagnoses": [{"title": "Missing channel axis", "cause": "data_preprocessing", "confidence": 0.83,
                           "layer": "conv2d", "expected": "(None, 28, 28, 1)", "received": "(None, 28, 28)",
                           "fix": "Add the channel axis.", "fix_code": "\nx = x[..., None]\n"}, {"cause": "input_layer"}],
            "url": "http://svc/groups/3"}
    assert render.diagnosis_lines(body) == [
        "diagnoser: Missing channel axis (data_preprocessing, 83%, +1 other cause)",
        "  where: layer conv2d; expected (None, 28, 28, 1), received (None, 28, 28)",
        "  fix:   Add the channel axis.",
        "  code:  x = x[..., None]",
        "  more:  http://svc/groups/3",
    ]
    coloured = render.diagnosis_lines(body, colour=True)
    assert "\033[" in coloured[0]


def test_colour_follows_the_terminal_and_no_color(monkeypatch):
    class Tty:
        def isatty(self):
            return True

    monkeypatch.delenv("NO_COLOR", raising=False)
    monkeypatch.delenv("FORCE_COLOR", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert render.use_colour(Tty()) is True
    monkeypatch.setenv("NO_COLOR", "1")
    assert render.use_colour(Tty()) is False


# --- ranks and git ---------------------------------------------------------------------------------------


def test_rank_specific_parts_of_a_message_are_masked():
    a = ranks.normalize_message("CUDA out of memory on cuda:3 (rank 3) at 0x7f3a2b1c4d00")
    b = ranks.normalize_message("CUDA out of memory on cuda:0 (rank 0) at 0x7f99aa001122")
    assert a == b


def test_rank_info_reads_the_launchers_variables(monkeypatch):
    for name in ("RANK", "LOCAL_RANK", "WORLD_SIZE", "OMPI_COMM_WORLD_RANK", "SLURM_PROCID", "SLURM_NTASKS",
                 "SLURM_LOCALID", "PMI_RANK", "PMI_SIZE", "PMIX_RANK", "OMPI_COMM_WORLD_SIZE",
                 "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert ranks.rank_info() is None
    monkeypatch.setenv("OMPI_COMM_WORLD_RANK", "2")
    monkeypatch.setenv("OMPI_COMM_WORLD_SIZE", "4")
    assert ranks.rank_info() == {"rank": 2, "world_size": 4}


def test_only_the_first_claim_of_an_error_wins(tmp_path):
    assert ranks.claim(str(tmp_path), "k1") is True
    assert ranks.claim(str(tmp_path), "k1") is False
    assert ranks.claim(str(tmp_path), "k2") is True


def test_the_git_commit_is_read_without_running_git(tmp_path):
    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", "-b", "exp", str(repo)], check=True)
    (repo / "train.py").write_text("pass\n")
    subprocess.run(["git", "-C", str(repo), "add", "train.py"], check=True)
    subprocess.run(["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "x"],
                   check=True)
    sha = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], capture_output=True, text=True,
                         check=True).stdout.strip()
    assert git_info(str(repo / "train.py")) == {"branch": "exp", "commit": sha}
    subprocess.run(["git", "-C", str(repo), "pack-refs", "--all"], check=True)
    assert git_info(str(repo / "train.py"))["commit"] == sha
    assert git_info(str(tmp_path)) is None or git_info(str(tmp_path))["commit"] != sha


# --- hooks in process ------------------------------------------------------------------------------------


@pytest.fixture
def clean_hooks(tmp_path):
    before = (sys.excepthook, threading.excepthook)
    yield
    hooks.uninstall()
    sys.excepthook, threading.excepthook = before


def test_install_wraps_and_uninstall_restores_every_hook(clean_hooks, tmp_path):
    def mine(*args):
        pass

    sys.excepthook = mine
    previous_thread_hook = threading.excepthook
    client = hooks.install("http://127.0.0.1:9", "t", spool_dir=str(tmp_path), flush_spool=False)
    assert client is not None and sys.excepthook is not mine and threading.excepthook is not previous_thread_hook
    hooks.uninstall()
    assert sys.excepthook is mine and threading.excepthook is previous_thread_hook


def test_without_a_url_nothing_is_installed(clean_hooks, monkeypatch):
    monkeypatch.delenv("DIAGNOSER_URL", raising=False)
    hook = sys.excepthook
    assert hooks.install() is None and sys.excepthook is hook


def test_an_internal_failure_is_swallowed_and_the_previous_hook_still_runs(clean_hooks, tmp_path, monkeypatch, caplog):
    calls = []
    sys.excepthook = lambda *args: calls.append(args[0])
    hooks.install("http://127.0.0.1:9", "t", spool_dir=str(tmp_path), flush_spool=False)

    def broken(*args, **kwargs):
        raise RuntimeError("bug in the client")

    monkeypatch.setattr("diagnoser_client.report.build", broken)
    with caplog.at_level("WARNING", logger="diagnoser_client"):
        sys.excepthook(ValueError, ValueError("x"), None)
    assert calls == [ValueError]
    assert "could not report ValueError" in caplog.text


def test_a_hook_installed_after_ours_keeps_working_after_uninstall(clean_hooks, tmp_path):
    hooks.install("http://127.0.0.1:9", "t", spool_dir=str(tmp_path), flush_spool=False)
    ours = sys.excepthook
    calls = []

    def theirs(*args):
        calls.append("theirs")
        ours(*args)

    sys.excepthook = theirs
    hooks.uninstall()
    assert sys.excepthook is theirs
    sys.excepthook(KeyboardInterrupt, KeyboardInterrupt(), None)  # ours is now pass-through
    assert calls == ["theirs"]


def test_ipython_gets_a_custom_exception_handler_that_uninstall_removes(clean_hooks, tmp_path, monkeypatch):
    shown = []

    class Shell:
        custom_exceptions = ()
        CustomTB = None

        def set_custom_exc(self, exc_tuple, handler):
            self.custom_exceptions = exc_tuple
            self.CustomTB = lambda *args, **kwargs: handler(self, *args, **kwargs)

        def showtraceback(self, exc_tuple=None, tb_offset=None):
            shown.append(exc_tuple[0])

    shell = Shell()
    fake_ipython = type(sys)("IPython")
    fake_ipython.get_ipython = lambda: shell
    monkeypatch.setitem(sys.modules, "IPython", fake_ipython)
    reported = []
    monkeypatch.setattr("diagnoser_client.client.Client.report_exception",
                        lambda self, etype, value, tb, **kw: reported.append(etype))
    hooks.install("http://127.0.0.1:9", "t", spool_dir=str(tmp_path), flush_spool=False)
    assert shell.custom_exceptions == (Exception,)
    shell.CustomTB(ValueError, ValueError("cell failed"), None)
    assert shown == [ValueError] and reported == [ValueError]
    hooks.uninstall()
    assert shell.custom_exceptions == () and shell.CustomTB is None


def test_a_thread_error_is_sent_in_the_background_without_blocking(clean_hooks, tmp_path, monkeypatch):
    """The failing thread ends while its report is still being sent (the send waits until the test lets it go)."""
    release, sent = threading.Event(), threading.Event()

    def blocked_send(*args):
        release.wait(30)
        sent.set()
        return Outcome(status=201, body={"diagnoses": []})

    monkeypatch.setattr("diagnoser_client.transport.send", blocked_send)
    monkeypatch.setattr(threading, "excepthook", lambda args: None)
    hooks.install("http://127.0.0.1:9", "t", spool_dir=str(tmp_path), flush_spool=False, print_diagnosis=False)
    worker = threading.Thread(target=lambda: 1 / 0)
    worker.start()
    worker.join(timeout=30)
    assert not worker.is_alive(), "the thread waited for its report to be sent"
    assert not sent.is_set()
    release.set()
    hooks.uninstall()  # the exit flush: waits for the report in flight, bounded
    assert sent.is_set()


def test_watch_records_inputs_and_a_deep_copy_never_trains_the_original():
    np = pytest.importorskip("numpy")
    from diagnoser_client.watching import watch

    class Model:
        def __init__(self):
            self.trained_on = []

        def fit(self, x=None, y=None, epochs=1):
            self.trained_on.append(x.shape)
            return "history"

    capture.reset()
    model = watch(Model())
    assert model.fit(np.zeros((5, 2)), y=np.zeros(5), epochs=2) == "history"
    assert capture.recorded_inputs()["fit"] == {"x": {"shape": [5, 2], "dtype": "float64"},
                                               "y": {"shape": [5], "dtype": "float64"}, "epochs": 2}
    import copy

    twin = copy.deepcopy(model)
    twin.fit(np.zeros((3, 2)))
    assert model.trained_on == [(5, 2)] and twin.trained_on == [(5, 2), (3, 2)]
    capture.reset()
