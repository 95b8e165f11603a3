"""End to end with real TensorFlow (Keras 3): a training script with a shape fault, run as users run it.

Four TensorFlow processes in all (TensorFlow takes seconds to import here): the script alone, under
`python -m diagnoser_client` with the real service up, with it down, and the one-line install + callback.
"""

from __future__ import annotations

import os

import pytest
from client_helpers import client_env, exit_timer_env, quiet_lines, run
from diagnoser_client.render import diagnosis_lines

if os.environ.get("CI", "").lower() == "true":  # on CI the TensorFlow tests must run, never skip
    import keras  # noqa: F401
    import tensorflow  # noqa: F401
else:
    pytest.importorskip("tensorflow")
    pytest.importorskip("keras")

TRAIN = """\
import numpy as np
import keras
from keras import layers

x = np.zeros((64, 28, 28), dtype="float32")   # images not flattened
y = np.zeros((64,), dtype="int64")
model = keras.Sequential([
    keras.Input(shape=(784,)),
    layers.Dense(32, activation="relu"),
    layers.Dense(10, activation="softmax"),
])
model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
print("training")
model.fit(x, y, epochs=1, batch_size=16, verbose=0)
"""


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    """The script run without the client: the output everything else is compared with."""
    folder = tmp_path_factory.mktemp("keras")
    script = folder / "train.py"
    script.write_text(TRAIN)
    env = client_env(folder, None)
    timer = exit_timer_env(folder, env, "plain")
    done = run([str(script)], env, folder)
    assert done.returncode == 1, done.stderr
    assert "Expected shape (None, 784)" in done.stderr
    return script, done, float(timer.read_text())


def _stored_report(service, report_id: int = 1) -> dict:  # type: ignore[no-untyped-def]
    return service.get(f"/api/v1/reports/{report_id}")


def _check_stored(report: dict) -> None:
    assert "dense (Dense)" in report["summary"]
    assert report["inputs"]["fit"]["x"] == {"shape": [64, 28, 28], "dtype": "float32"}
    assert report["inputs"]["fit"]["y"] == {"shape": [64], "dtype": "int64"}
    assert report["inputs"]["fit"]["batch_size"] == 16
    assert "Expected shape (None, 784)" in report["traceback"]
    assert "model.fit(x, y" in report["source"]
    assert report["meta"]["versions"]["tensorflow"] and report["meta"]["versions"]["keras"].startswith("3.")


def test_a_keras_shape_fault_is_stored_and_diagnosed_under_the_traceback(plain, real_service_factory, tmp_path):
    script, baseline, _ = plain
    service = real_service_factory()
    service.start()
    hooked = run(["-m", "diagnoser_client", str(script)],
                 client_env(tmp_path, service.url, service.ingest_token), script.parent)

    assert hooked.returncode == baseline.returncode == 1
    assert hooked.stdout == baseline.stdout == "training\n"
    ours, theirs = quiet_lines(hooked.stderr), quiet_lines(baseline.stderr)
    assert ours[: len(theirs)] == theirs
    extra = ours[len(theirs):]
    assert 1 <= len(extra) <= 6

    report = _stored_report(service)
    _check_stored(report)
    assert report["diagnoses"], "the engine names a cause for this fault"
    assert extra == diagnosis_lines({"diagnoses": report["diagnoses"], "url": f"{service.url}/groups/{report['group_id']}"})
    assert "(None, 784)" in extra[1] and "(16, 28, 28)" in extra[1]


def test_with_the_service_down_one_line_is_added_and_the_report_arrives_later(plain, real_service_factory, tmp_path):
    script, baseline, baseline_exit = plain
    service = real_service_factory()  # tokens ready, not listening yet
    env = client_env(tmp_path, service.url, service.ingest_token)
    timer = exit_timer_env(tmp_path, env, "down")
    hooked = run(["-m", "diagnoser_client", str(script)], env, script.parent)
    env.pop("EXIT_TIMER_FILE")

    assert hooked.returncode == 1
    assert hooked.stdout == baseline.stdout
    ours, theirs = quiet_lines(hooked.stderr), quiet_lines(baseline.stderr)
    assert ours[:-1] == theirs
    assert ours[-1].startswith(f"diagnoser: could not reach {service.url} (connection refused); report saved in")
    assert float(timer.read_text()) - baseline_exit < 2.5  # it exits promptly
    assert len(list((tmp_path / "spool").glob("*.json"))) == 1

    service.start()
    nothing = script.parent / "after.py"
    nothing.write_text("print('next run')\n")
    after = run(["-m", "diagnoser_client", str(nothing)], env, script.parent)
    assert (after.returncode, after.stdout, after.stderr) == (0, "next run\n", "")
    assert list((tmp_path / "spool").glob("*.json")) == []
    _check_stored(_stored_report(service))


CALLBACK = """\
import numpy as np
import keras
from keras import layers
import diagnoser_client
from diagnoser_client.keras import DiagnoserCallback

x = np.zeros((32, 8), dtype="float32")
y = np.zeros((32, 1), dtype="float32")
model = diagnoser_client.watch(keras.Sequential([keras.Input(shape=(8,)), layers.Dense(1)]))
model.compile(optimizer="sgd", loss="mse")
history = model.fit(x, y, epochs=1, batch_size=8, verbose=0, callbacks=[DiagnoserCallback()])
import tensorflow as tf
model.evaluate(tf.data.Dataset.from_tensor_slices((x, y)).batch(8), verbose=0)
predictions = model.predict(np.zeros((4, 8), dtype="float32"), verbose=0)
print("trained", predictions.shape)
raise RuntimeError("writing the results failed")   # after training: no model in this traceback
"""


def test_the_callback_and_watch_record_the_model_for_errors_outside_keras(tmp_path, fake_service, write_script):
    script = write_script(CALLBACK, "callback_train.py")
    done = run([str(script)], client_env(tmp_path, fake_service.url), tmp_path)
    assert done.returncode == 1, done.stderr
    assert done.stdout == "trained (4, 1)\n"
    (report,) = fake_service.reports()
    assert "dense (Dense)" in report["summary"]
    assert report["inputs"]["fit"]["x"] == {"shape": [32, 8], "dtype": "float32"}
    assert report["inputs"]["fit"]["y"] == {"shape": [32, 1], "dtype": "float32"}
    assert report["inputs"]["predict"]["x"] == {"shape": [4, 8], "dtype": "float32"}
    assert report["inputs"]["evaluate"]["x"] == {"kind": "tf.data.Dataset", "element": [
        {"shape": [None, 8], "dtype": "float32"}, {"shape": [None, 1], "dtype": "float32"}]}
    assert quiet_lines(done.stderr)[-1].strip().startswith("more:")
