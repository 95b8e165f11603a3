"""Finding tracebacks in messy text: logs, colours, carriage returns, prefixes, chains, graph errors."""

from diagnoser.engine import diagnose
from diagnoser.engine.extract import extract_blocks
from diagnoser.engine.parse import parse_block
from diagnoser.engine.reading import read_traceback

KERAS2_NDIM = 'ValueError: Input 0 of layer "conv2d" is incompatible with the layer: expected min_ndim=4, found ndim=3. Full shape received: (None, 28, 28)'

TB = (
    """Traceback (most recent call last):
  File "train.py", line 4, in <module>
    h = tf.keras.layers.Conv2D(16, 3)(inp)
  File "/venv/lib/python3.11/site-packages/tf_keras/src/engine/input_spec.py", line 263, in assert_input_compatibility
    raise ValueError(
"""
    + KERAS2_NDIM
)


def only(text):
    blocks = extract_blocks(text)
    assert len(blocks) == 1, blocks
    return parse_block(blocks[0])


def test_it_parses_a_plain_traceback():
    tb = only(TB)
    assert tb.exception_type == "ValueError"
    assert tb.core_message.startswith("Input 0 of layer")
    assert [f.function for f in tb.frames] == ["<module>", "assert_input_compatibility"]
    assert tb.frames[0].code == "h = tf.keras.layers.Conv2D(16, 3)(inp)"
    assert tb.framework == "tf_keras2"


def test_it_strips_ansi_colours_and_progress_bar_redraws():
    log = (
        "Epoch 1/5\r 1/10 [==>....] - loss: 0.3\r10/10 [======] - loss: 0.1\n"
        + "\x1b[31m"
        + TB.replace("\n", "\x1b[0m\n", 1)
        + "\x1b[0m\n"
    )
    tb = only(log)
    assert tb.core_message.endswith("(None, 28, 28)")


def test_it_strips_timestamp_and_logger_prefixes_from_every_line():
    prefixed = "\n".join(
        f"2024-05-01 12:00:{i:02d},123 ERROR trainer: {line}" for i, line in enumerate(TB.splitlines())
    )
    log = (
        "2024-05-01 11:59:59,000 INFO trainer: starting\n" + prefixed + "\n2024-05-01 12:01:00,000 INFO trainer: bye\n"
    )
    tb = only(log)
    assert tb.exception_type == "ValueError"
    assert "bye" not in tb.message
    assert tb.frames[0].file == "train.py"


def test_it_reads_rank_prefixes_of_distributed_training():
    prefixed = "\n".join(f"[rank1]: {line}" for line in TB.splitlines())
    assert only(prefixed).core_message.startswith("Input 0")


def test_it_reads_windows_paths_and_crlf_line_ends():
    win = TB.replace("/venv/lib/python3.11/site-packages", "C:\\Users\\me\\venv\\Lib\\site-packages").replace(
        "\n", "\r\n"
    )
    tb = only(win)
    assert tb.frames[1].file.startswith("C:\\Users")
    assert tb.framework == "tf_keras2"


def test_it_keeps_chained_exceptions_in_order():
    text = (
        TB
        + "\n\nDuring handling of the above exception, another exception occurred:\n\n"
        + (
            'Traceback (most recent call last):\n  File "run.py", line 9, in <module>\n    main()\nRuntimeError: training failed\n'
        )
    )
    blocks = extract_blocks(text)
    assert [parse_block(b).exception_type for b in blocks] == ["ValueError", "RuntimeError"]
    assert blocks[1].chained_from_previous
    result = diagnose(text).to_dict()
    assert [t["exception"]["type"] for t in result["tracebacks"]] == ["ValueError", "RuntimeError"]


def test_it_unwraps_tf_keras_in_user_code_messages():
    text = """Traceback (most recent call last):
  File "train.py", line 13, in <module>
    model.fit(x, y, epochs=1, batch_size=8)
ValueError: in user code:

    File "/venv/lib/python3.11/site-packages/tf_keras/src/engine/training.py", line 1147, in train_step
        y_pred = self(x, training=True)

    ValueError: Input 0 of layer "sequential" is incompatible with the layer: expected shape=(None, 32, 32, 3), found shape=(8, 28, 28, 3)
"""
    tb = only(text)
    assert tb.core_message.startswith('Input 0 of layer "sequential"')
    assert any(f.function == "train_step" for f in tb.nested_frames)


def test_it_unwraps_graph_execution_errors_and_keeps_the_node():
    text = """Traceback (most recent call last):
  File "train.py", line 12, in <module>
    model.fit(x, y)
tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error:

Detected at node sequential/embedding/embedding_lookup defined at (most recent call last):
  File "train.py", line 12, in <module>

  File "/venv/lib/python3.11/site-packages/tf_keras/src/layers/core/embedding.py", line 273, in call

indices[0,1] = 828 is not in [0, 100)
	 [[{{node sequential/embedding/embedding_lookup}}]] [Op:__inference_train_function_703]
"""
    tb = only(text)
    assert tb.exception_type.endswith("InvalidArgumentError")
    assert tb.core_message == "indices[0,1] = 828 is not in [0, 100)"
    assert tb.node == "sequential/embedding/embedding_lookup"


def test_it_unwraps_keras3_call_wrappers_and_reads_the_arguments():
    text = """ValueError: Exception encountered when calling Sequential.call().

Input 0 with name 'None' of layer 'conv2d' is incompatible with the layer: expected axis -1 of input shape to have value 1, but received input with shape (8, 1, 28, 28)

Arguments received by Sequential.call():
  • inputs=tf.Tensor(shape=(8, 1, 28, 28, 1), dtype=float32)
  • training=True
"""
    tb = only(text)
    assert tb.core_message.startswith("Input 0 with name")
    assert tb.call_arguments == {"inputs": "(8, 1, 28, 28, 1)", "training": "True"}
    assert tb.wrapper_layer == "Sequential"


def test_it_finds_a_bare_error_line_pasted_alone():
    tb = only(KERAS2_NDIM)
    assert tb.bare and tb.exception_type == "ValueError"


def test_it_reads_torch_dataloader_worker_errors():
    text = """Traceback (most recent call last):
  File "train.py", line 30, in <module>
    for xb, yb in loader:
RuntimeError: Caught RuntimeError in DataLoader worker process 0.
Original Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/torch/utils/data/_utils/collate.py", line 141, in collate
    return torch.stack(batch, 0, out=out)
RuntimeError: stack expects each tensor to be equal size, but got [3, 32, 32] at entry 0 and [3, 28, 28] at entry 1
"""
    tb = only(text)
    assert tb.core_message.startswith("stack expects each tensor")
    assert tb.framework == "torch"


def test_it_finds_nothing_in_a_clean_log():
    assert extract_blocks("Epoch 1/3\nloss: 0.2\nWARNING: deprecated\nUserWarning: x\n") == []
    assert diagnose("all good").tracebacks == []


def test_it_survives_deeply_chained_and_huge_inputs():
    chain = "\n\nThe above exception was the direct cause of the following exception:\n\n".join(
        f'Traceback (most recent call last):\n  File "a.py", line {i}, in f\n    g()\nRuntimeError: level {i}'
        for i in range(300)
    )
    assert len(diagnose(chain).tracebacks) == 300
    one_line = "ValueError: " + "x" * (1024 * 1024)
    assert diagnose(one_line).tracebacks[0].exception_type == "ValueError"
    binary = bytes(range(256)) * 4000
    assert diagnose(binary).tracebacks == [] or diagnose(binary).tracebacks[-1].diagnoses == []


IPYTHON8 = """---------------------------------------------------------------------------
ValueError                                Traceback (most recent call last)
Cell In[3], line 10
      8 model.compile(optimizer="adam", loss="sparse_categorical_crossentropy")
      9 x = np.random.rand(32, 28, 28)
---> 10 model.fit(x, y, epochs=1)

File ~/venv/lib/python3.11/site-packages/keras/src/utils/traceback_utils.py:122, in filter_traceback.<locals>.error_handler(*args, **kwargs)
    119     filtered_tb = _process_traceback_frames(e.__traceback__)
    120     # To get the full stack trace, call:
    121     # `keras.config.disable_traceback_filtering()`
--> 122     raise e.with_traceback(filtered_tb) from None
    123 finally:

File ~/venv/lib/python3.11/site-packages/keras/src/layers/input_spec.py:186, in assert_input_compatibility(input_spec, inputs, layer_name)
    184 if spec.min_ndim is not None:
    185     if ndim is not None and ndim < spec.min_ndim:
--> 186         raise ValueError(

ValueError: Input 0 with name 'None' of layer 'conv2d' is incompatible with the layer: expected min_ndim=4, found ndim=3. Full shape received: (None, 28, 28)
"""

IPYTHON7 = """---------------------------------------------------------------------------
ValueError                                Traceback (most recent call last)
<ipython-input-7-3b5d0e2c1f3a> in <module>()
      1 model.compile(loss='categorical_crossentropy', optimizer='adam')
----> 2 model.fit(x_train, y_train, epochs=5)

/usr/local/lib/python3.7/dist-packages/keras/engine/training.py in fit(self, x, y, batch_size, epochs)
    950             sample_weight=sample_weight,
--> 952             batch_size=batch_size)

ValueError: Error when checking input: expected conv2d_1_input to have 4 dimensions, but got array with shape (60000, 28, 28)
"""


def test_it_reads_ipython_8_notebook_tracebacks():
    tb = only(IPYTHON8)
    assert tb.exception_type == "ValueError"
    assert [f.function for f in tb.frames][0] == "<module>"
    assert tb.frames[0].code == "model.fit(x, y, epochs=1)"
    assert tb.frames[-1].function == "assert_input_compatibility"
    assert tb.framework == "keras3"
    # the cell's own lines are read as the script: the array it made is what reached the layer
    assert "src:received_is_script_array" in read_traceback(IPYTHON8).features
    # Keras 3 builds a Sequential without an Input at fit, so the first conv2d's check also reads what a layer
    # before it made: the data lacking its channel axis is one of the two causes the answer names
    assert "data_preprocessing" in [d.cause for d in diagnose(IPYTHON8).last.diagnoses[:2]]


def test_it_reads_old_ipython_colab_tracebacks():
    tb = only(IPYTHON7)
    assert [f.function for f in tb.frames] == ["<module>", "fit"]
    assert tb.frames[0].code == "model.fit(x_train, y_train, epochs=5)"
    assert diagnose(IPYTHON7).last.diagnoses[0].cause == "data_preprocessing"


def test_a_message_ends_at_a_markdown_fence_or_a_tracker_log_line():
    pasted = "I get this error:\n```\n" + TB + "\n```\nany idea?"
    assert only(pasted).message.endswith("(None, 28, 28)")
    logged = TB + "\nwandb: Waiting for W&B process to finish... (failed 1).\n"
    assert only(logged).message.endswith("(None, 28, 28)")
