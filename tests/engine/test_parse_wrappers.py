"""Every generation of TensorFlow and Keras wraps the error it caught in its own way; each must peel to the core
message that the families read. Texts marked "record" are real runs from corpus/generated (trimmed); the others
are rendered from the libraries' own formatting code at the version named."""

from __future__ import annotations

import pytest

from diagnoser.engine.extract import extract_blocks
from diagnoser.engine.families import load_families
from diagnoser.engine.parse import parse_block


def last(text: str):
    blocks = extract_blocks(text)
    assert blocks, "no traceback found"
    return parse_block(blocks[-1])


def family_of(tb) -> list[str]:
    return [r.family.id for r in load_families().recognise(tb.core_message, tb.core_type)]


# TF 2.0-2.1: autograph's "in converted code:" (tensorflow/python/autograph/pyct/errors.py at v2.1.0), frames as
# "path:line function  *" with the code line below.
TF21_CONVERTED = """Traceback (most recent call last):
  File "mnist.py", line 31, in <module>
    model.fit(x_train, y_train, epochs=5)
  File "/usr/local/lib/python3.7/site-packages/tensorflow_core/python/keras/engine/training.py", line 728, in fit
    use_multiprocessing=use_multiprocessing)
  File "/usr/local/lib/python3.7/site-packages/tensorflow_core/python/keras/engine/training_v2.py", line 224, in fit
    distribution_strategy=strategy)
ValueError: in converted code:

    /usr/local/lib/python3.7/site-packages/tensorflow_core/python/keras/engine/training_v2.py:677 map_fn
        batch_size=None)
    /usr/local/lib/python3.7/site-packages/tensorflow_core/python/keras/engine/training.py:2410 _standardize_tensors
        exception_prefix='input')
    /usr/local/lib/python3.7/site-packages/tensorflow_core/python/keras/engine/training_utils.py:573 standardize_input_data
        'with shape ' + str(data_shape))

    ValueError: Error when checking input: expected dense_input to have 2 dimensions, but got array with shape (None, 28, 28)

"""


def test_tf21_in_converted_code_is_peeled_and_its_frames_read():
    tb = last(TF21_CONVERTED)
    assert tb.core_type == "ValueError"
    assert tb.core_message == (
        "Error when checking input: expected dense_input to have 2 dimensions, but got array with shape (None, 28, 28)"
    )
    assert [f.function for f in tb.nested_frames] == ["map_fn", "_standardize_tensors", "standardize_input_data"]
    assert tb.nested_frames[0].line == 677
    assert family_of(tb) == ["keras-check-input-array"]


# TF 2.2-2.4: "in user code:" with the same frame format (errors.py at v2.4.0).
TF24_USER_CODE = """Traceback (most recent call last):
  File "train.py", line 20, in <module>
    model.fit(x, y, epochs=3)
ValueError: in user code:

    /usr/local/lib/python3.7/dist-packages/tensorflow/python/keras/engine/training.py:805 train_function  *
        return step_function(self, iterator)
    /usr/local/lib/python3.7/dist-packages/tensorflow/python/keras/engine/input_spec.py:255 assert_input_compatibility
        ' but received input with shape ' + display_shape(x.shape))

    ValueError: Input 0 of layer sequential is incompatible with the layer: expected axis -1 of input shape to have value 784 but received input with shape (None, 28, 28)

"""


def test_tf24_in_user_code_with_autograph_frames():
    tb = last(TF24_USER_CODE)
    assert tb.core_message.startswith("Input 0 of layer sequential is incompatible")
    assert tb.nested_frames[0].function == "train_function"
    assert family_of(tb) == ["keras-input-spec-axis"]


# tf.keras 2.12: "in user code:" holding a Keras wrapper holding a second "in user code:", then the outer layer's
# call arguments after the inner message (record tf2.12__dp_missing_channel_undeclared__cnn2d__0).
TF212_NESTED = """Traceback (most recent call last):
  File "train.py", line 28, in <module>
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
  File "<venv>/lib/python3.11/site-packages/keras/utils/traceback_utils.py", line 70, in error_handler
    raise e.with_traceback(filtered_tb) from None
  File "/tmp/__autograph_generated_fileyx_jozn5.py", line 18, in tf__train_function
    raise
ValueError: in user code:

    File "<venv>/lib/python3.11/site-packages/keras/engine/training.py", line 1284, in train_function  *
        return step_function(self, iterator)
    File "<venv>/lib/python3.11/site-packages/keras/engine/training.py", line 1050, in train_step
        y_pred = self(x, training=True)
    File "/tmp/__autograph_generated_file3ekwbq91.py", line 10, in tf__call
        x = ag__.converted_call(ag__.ld(self).conv2d_0, (ag__.ld(inputs),), None, fscope)

    ValueError: Exception encountered when calling layer 'net' (type Net).

    in user code:

        File "train.py", line 17, in call  *
            x = self.conv2d_0(inputs)
        File "<venv>/lib/python3.11/site-packages/keras/engine/input_spec.py", line 253, in assert_input_compatibility
            raise ValueError(

        ValueError: Input 0 of layer "conv2d" is incompatible with the layer: expected min_ndim=4, found ndim=3. Full shape received: (None, 30, 30)


    Call arguments received by layer 'net' (type Net):
      • inputs=tf.Tensor(shape=(None, 30, 30), dtype=float32)
"""


def test_tf_keras_nested_user_code_and_wrapper_and_call_arguments():
    tb = last(TF212_NESTED)
    assert tb.core_message == (
        'Input 0 of layer "conv2d" is incompatible with the layer: expected min_ndim=4, found ndim=3. '
        "Full shape received: (None, 30, 30)"
    )
    assert tb.wrapper_layer == "net"
    assert tb.call_arguments == {"inputs": "(None, 30, 30)"}
    assert any(f.file == "train.py" and f.function == "call" for f in tb.nested_frames)
    assert family_of(tb) == ["keras-input-spec-rank"]


# Keras 3.15 on jax: the wrapper, colour codes around the message, the arguments, then JAX's notice
# (record keras3.15_jax__il_wrong_feature_count__mlp__0).
KERAS3_JAX = (
    "Traceback (most recent call last):\n"
    '  File "train.py", line 14, in <module>\n'
    "    model.fit(x, y, epochs=1, batch_size=8, verbose=0)\n"
    '  File "<venv>/lib/python3.11/site-packages/keras/src/layers/input_spec.py", line 239, in '
    "assert_input_compatibility\n"
    "    raise ValueError(\n"
    "ValueError: Exception encountered when calling Sequential.call().\n\n"
    "\x1b[1mInput 0 with name 'None' of layer 'dense' is incompatible with the layer: expected axis -1 of input "
    "shape to have value 13, but received input with shape (8, 9)\x1b[0m\n\n"
    "Arguments received by Sequential.call():\n"
    "  • inputs=jnp.ndarray(shape=(8, 9), dtype=float32)\n"
    "  • training=False\n"
    "  • mask=None\n"
    "  • kwargs=<class 'inspect._empty'>\n"
    "--------------------\n"
    "For simplicity, JAX has removed its internal frames from the traceback of the following exception. Set "
    "JAX_TRACEBACK_FILTERING=off to include these.\n"
)


def test_keras3_wrapper_colour_codes_and_the_jax_notice():
    tb = last(KERAS3_JAX)
    assert tb.core_message == (
        "Input 0 with name 'None' of layer 'dense' is incompatible with the layer: expected axis -1 of input shape "
        "to have value 13, but received input with shape (8, 9)"
    )
    assert tb.wrapper_layer == "Sequential"
    assert tb.call_arguments == {"inputs": "(8, 9)", "training": "False"}


def test_the_jax_notice_alone_is_cut_from_a_plain_message():
    text = (
        "ValueError: Arguments `target` and `output` must have the same shape up until the last dimension: "
        "target.shape=(8,), output.shape=(8, 1, 14)\n--------------------\nFor simplicity, JAX has removed its "
        "internal frames from the traceback of the following exception. Set JAX_TRACEBACK_FILTERING=off to include "
        "these.\n"
    )
    tb = last(text)
    assert tb.core_message.endswith("output.shape=(8, 1, 14)")


def test_colour_codes_whose_escape_character_was_lost():
    text = (
        "ValueError: Exception encountered when calling Functional.call().\n\n[1mInvalid input shape for input "
        "Tensor(\"data:0\", shape=(8, 5), dtype=float32) with name 'keras_tensor' and path ''. Expected shape "
        "(None, 8, 5), but input has incompatible shape (8, 5)[0m\n\nArguments received by Functional.call():\n"
        "  • inputs=tf.Tensor(shape=(8, 5), dtype=float32)\n"
    )
    tb = last(text)
    assert tb.core_message.startswith("Invalid input shape for input")
    assert tb.core_message.endswith("incompatible shape (8, 5)")
    assert family_of(tb) == ["keras-functional-input-rank"]


# tf.keras 2.9-2.15: "Exception encountered when calling layer "x" (type X)." around a TF op's message
# (record tf2.12__ld_pool_stack_too_deep__cnn2d__0).
TF_KERAS_LAYER_WRAPPER = """Traceback (most recent call last):
  File "train.py", line 18, in <module>
    h = keras.layers.MaxPooling2D(2)(h)
  File "<venv>/lib/python3.11/site-packages/tensorflow/python/framework/ops.py", line 1973, in _create_c_op
    raise ValueError(e.message)
ValueError: Exception encountered when calling layer "max_pooling2d_4" (type MaxPooling2D).

Negative dimension size caused by subtracting 2 from 1 for '{{node max_pooling2d_4/MaxPool}} = MaxPool[T=DT_FLOAT, data_format="NHWC", explicit_paddings=[], ksize=[1, 2, 2, 1], padding="VALID", strides=[1, 2, 2, 1]](Placeholder)' with input shapes: [?,1,2,4].

Call arguments received by layer "max_pooling2d_4" (type MaxPooling2D):
  • inputs=tf.Tensor(shape=(None, 1, 2, 4), dtype=float32)
"""


def test_tf_keras_layer_wrapper():
    tb = last(TF_KERAS_LAYER_WRAPPER)
    assert tb.wrapper_layer == "max_pooling2d_4"
    assert tb.core_message.startswith("Negative dimension size caused by subtracting 2 from 1 for '{{node")
    assert tb.core_message.endswith("with input shapes: [?,1,2,4].")
    assert family_of(tb) == ["tf-negative-dimension"]


# Keras 3 on jax building a layer: "Could not automatically infer the output shape / dtype of 'x' ... Error
# encountered:" (record kb_ld_patch_reshape_wrong_patch_size__keras3_jax, whose caret lines start at column 0).
KERAS3_INFER = (
    "Traceback (most recent call last):\n"
    '  File "train.py", line 19, in <module>\n'
    '    x = PatchEmbed(name="patch_embed")(inputs)\n'
    "        ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "<venv>/lib/python3.11/site-packages/jax/_src/numpy/lax_numpy.py", line 1980, in reshape\n'
    "    return a.reshape(shape, order=order)  # pyrefly: ignore[missing-attribute]\n"
    "^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    '  File "<venv>/lib/python3.11/site-packages/jax/_src/numpy/array_methods.py", line 544, in _compute_newshape\n'
    "    return tuple(-core.divide_shape_sizes(arr.shape, newshape)\n"
    "           ^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^^\n"
    "jax.errors.InconclusiveDimensionOperation: Exception encountered when calling PatchEmbed.call().\n\n"
    "\x1b[1mCould not automatically infer the output shape / dtype of 'patch_embed' (of type PatchEmbed). Either "
    "the `PatchEmbed.call()` method is incorrect, or you need to implement the `PatchEmbed.compute_output_spec() / "
    "compute_output_shape()` method. Error encountered:\n\n"
    "Cannot divide evenly the sizes of shapes (dynamic_dimension, 32, 32, 3) and (-1, 64, 192). The remainder "
    "mod(3072*dynamic_dimension, - 12288) should be 0.\x1b[0m\n\n"
    "Arguments received by PatchEmbed.call():\n"
    "  • args=('<KerasTensor shape=(None, 32, 32, 3), dtype=float32, sparse=False, ragged=False, "
    "name=keras_tensor>',)\n"
    "  • kwargs=<class 'inspect._empty'>\n"
)


def test_keras3_could_not_infer_the_output_shape():
    tb = last(KERAS3_INFER)
    assert tb.exception_type == "jax.errors.InconclusiveDimensionOperation"
    assert tb.core_type == "InconclusiveDimensionOperation"
    assert tb.wrapper_layer == "patch_embed"
    assert tb.core_message == (
        "Cannot divide evenly the sizes of shapes (dynamic_dimension, 32, 32, 3) and (-1, 64, 192). The remainder "
        "mod(3072*dynamic_dimension, - 12288) should be 0."
    )
    assert [f.function for f in tb.frames][-1] == "_compute_newshape"


# TF 2.x eager ops: "{{function_node __wrapped__Op_device_...}} message [Op:Op] name: "
# (record k2_ll_gradienttape_softmax_ce_int_labels__keras3).
EAGER = """Traceback (most recent call last):
  File "train.py", line 13, in <module>
    loss = tf.reduce_mean(tf.nn.softmax_cross_entropy_with_logits(labels=yb, logits=logits))
  File "<venv>/lib/python3.11/site-packages/tensorflow/python/framework/ops.py", line 6027, in raise_from_not_ok_status
    raise core._status_to_exception(e) from None  # pylint: disable=protected-access
tensorflow.python.framework.errors_impl.InvalidArgumentError: {{function_node __wrapped__SoftmaxCrossEntropyWithLogits_device_/job:localhost/replica:0/task:0/device:CPU:0}} logits and labels must be broadcastable: logits_size=[8,5] labels_size=[1,8] [Op:SoftmaxCrossEntropyWithLogits] name:\x20
"""


def test_eager_function_node_prefix_and_op_suffix():
    tb = last(EAGER)
    assert tb.exception_type == "tensorflow.python.framework.errors_impl.InvalidArgumentError"
    assert tb.core_type == "InvalidArgumentError"
    assert tb.core_message == "logits and labels must be broadcastable: logits_size=[8,5] labels_size=[1,8]"
    assert tb.node == "SoftmaxCrossEntropyWithLogits"
    assert family_of(tb) == ["tf-softmax-ce-shape"]


# TF 2.9-2.12 graph errors: quoted node, frames with their code lines, "Node:", the message
# (record tf2.12__ld_missing_flatten_before_dense__cnn2d__0).
GRAPH_212 = """Traceback (most recent call last):
  File "train.py", line 17, in <module>
    model.fit(x, y, epochs=1, batch_size=16, verbose=2)
  File "<venv>/lib/python3.11/site-packages/tensorflow/python/eager/execute.py", line 58, in quick_execute
    except TypeError as e:
tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error:

Detected at node 'sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits' defined at (most recent call last):
    File "train.py", line 17, in <module>
      model.fit(x, y, epochs=1, batch_size=16, verbose=2)
    File "<venv>/lib/python3.11/site-packages/keras/backend.py", line 5660, in sparse_categorical_crossentropy
      res = tf.nn.sparse_softmax_cross_entropy_with_logits(
Node: 'sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits'
logits and labels must have the same first dimension, got logits shape [3136,17] and labels shape [16]
	 [[{{node sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits}}]] [Op:__inference_train_function_134981]
"""


def test_graph_execution_error_drops_the_last_frames_code_line():
    tb = last(GRAPH_212)
    assert tb.core_message == (
        "logits and labels must have the same first dimension, got logits shape [3136,17] and labels shape [16]"
    )
    assert tb.node == "sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits"
    assert tb.nested_frames[-1].function == "sparse_categorical_crossentropy"
    assert tb.nested_frames[-1].code == "res = tf.nn.sparse_softmax_cross_entropy_with_logits("
    assert family_of(tb) == ["tf-sparse-softmax-rows"]


# TF 2.13+ graph errors: unquoted node, frames without code (record tf2.15__ll_output_units_lt_classes__mlp__0).
GRAPH_215 = """Traceback (most recent call last):
  File "train.py", line 23, in <module>
    model.fit(x, y, epochs=1, batch_size=16, verbose=0)
tensorflow.python.framework.errors_impl.InvalidArgumentError: Graph execution error:

Detected at node sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits defined at (most recent call last):
  File "train.py", line 23, in <module>

  File "<venv>/lib/python3.11/site-packages/keras/src/backend.py", line 5775, in sparse_categorical_crossentropy

Received a label value of 11 which is outside the valid range of [0, 11).  Label values: 6 0 1 1 11 7 0 4 2 9 6 11 8 2 6 7
	 [[{{node sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits}}]] [Op:__inference_train_function_72798]
"""


def test_graph_execution_error_of_tf_2_13_and_later():
    tb = last(GRAPH_215)
    assert tb.core_message.startswith("Received a label value of 11 which is outside the valid range of [0, 11).")
    assert tb.node.endswith("SparseSoftmaxCrossEntropyWithLogits")
    assert family_of(tb) == ["tf-sparse-label-range"]


# TF 2.0-2.8 graph errors: the message first, then "[[node X (defined at f.py:N) ]]", "Errors may have
# originated from an input operation." and "Function call stack:" (tensorflow/python/eager/execute.py,
# framework/error_interpolation.py at v2.4).
GRAPH_24 = """Traceback (most recent call last):
  File "train.py", line 41, in <module>
    model.fit(x, y, epochs=3)
tensorflow.python.framework.errors_impl.InvalidArgumentError:  Incompatible shapes: [32,5] vs. [32,10]
	 [[node mean_squared_error/SquaredDifference (defined at train.py:41) ]] [Op:__inference_train_function_812]

Errors may have originated from an input operation.
Input Source operations connected to node mean_squared_error/SquaredDifference:
 IteratorGetNext (defined at train.py:41)

Function call stack:
train_function

"""


def test_tf24_graph_error_appendices_are_cut():
    tb = last(GRAPH_24)
    assert tb.core_message.strip() == "Incompatible shapes: [32,5] vs. [32,10]"
    assert tb.node == "mean_squared_error/SquaredDifference"
    assert family_of(tb) == ["tf-incompatible-shapes"]


# TF1 session errors: "(see above for traceback)", "[[Node: ...]]", "Caused by op ..., defined at:"
# (tensorflow/python/client/session.py and framework/errors_impl.py at v1.4).
TF1_SESSION = """Traceback (most recent call last):
  File "mnist.py", line 52, in <module>
    sess.run(train_step, feed_dict={x: batch_xs, y_: batch_ys})
  File "/usr/local/lib/python3.6/site-packages/tensorflow/python/client/session.py", line 1323, in _do_call
    raise type(e)(node_def, op, message)
InvalidArgumentError (see above for traceback): Incompatible shapes: [100,10] vs. [100]
	 [[Node: sub = Sub[T=DT_FLOAT, _device="/job:localhost/replica:0/task:0/device:CPU:0"](Softmax, _arg_y_0_1)]]

Caused by op 'sub', defined at:
  File "mnist.py", line 38, in <module>
    loss = tf.reduce_mean(tf.square(y - y_))
"""


def test_tf1_see_above_for_traceback_and_caused_by_op():
    tb = last(TF1_SESSION)
    assert tb.exception_type == "InvalidArgumentError"
    assert tb.core_message == "Incompatible shapes: [100,10] vs. [100]"
    assert family_of(tb) == ["tf-incompatible-shapes"]


# TF 1.14-1.15: "Original stack trace for 'x':" after the message (framework/ops.py at v1.15).
TF115_ORIGINAL_STACK = """Traceback (most recent call last):
  File "model.py", line 30, in <module>
    out = sess.run(logits, {x: batch})
  File "/usr/local/lib/python3.7/site-packages/tensorflow_core/python/client/session.py", line 1384, in _do_call
    raise type(e)(node_def, op, message)
tensorflow.python.framework.errors_impl.InvalidArgumentError: Matrix size-incompatible: In[0]: [32,13], In[1]: [12,64]
	 [[node MatMul (defined at /usr/local/lib/python3.7/site-packages/tensorflow_core/python/framework/ops.py:1748) ]]

Original stack trace for 'MatMul':
  File "model.py", line 14, in <module>
    h = tf.matmul(x, W1)
"""


def test_tf115_original_stack_trace_is_cut():
    tb = last(TF115_ORIGINAL_STACK)
    assert tb.core_message == "Matrix size-incompatible: In[0]: [32,13], In[1]: [12,64]"
    assert tb.node == "MatMul"
    assert family_of(tb) == ["tf-matmul"]


def test_a_tf1_session_error_pasted_without_its_traceback():
    tb = last("InvalidArgumentError (see above for traceback): Incompatible shapes: [100,10] vs. [100]\n")
    assert tb.core_type == "InvalidArgumentError"
    assert tb.core_message == "Incompatible shapes: [100,10] vs. [100]"


def test_a_keras_1_bare_exception_is_found_in_a_log():
    text = "Epoch 1/10\nException: Error when checking model input: expected input_1 to have 4 dimensions, but got array with shape (100, 28, 28)\n"
    tb = last(text)
    assert tb.exception_type == "Exception"
    assert family_of(tb) == ["keras-check-input-array"]


def read_paste(text: str):
    from diagnoser.engine.reading import blocks_of

    blocks = blocks_of(text)
    assert blocks, "nothing read"
    return parse_block(blocks[-1])


# Partial pastes, each as users copy it: (text, exception type, start of the core message, the family).
PARTIAL_PASTES = {
    # TF 2.9+ prints "Graph execution error:", the frames, "Node: '<name>'" and the op's message; users often copy
    # from the Node line down, which is not an exception type.
    "graph error body from its Node line": (
        "Node: 'sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits'\n"
        "Received a label value of 7 which is outside the valid range of [0, 5).  Label values: 1 7 2\n"
        "\t [[{{node sparse_categorical_crossentropy/SparseSoftmaxCrossEntropyWithLogits/SparseSoftmaxCrossEntropyWithLogits}}]]"
        " [Op:__inference_train_function_812]\n",
        "", "Received a label value of 7 which is outside the valid range of [0, 5).", "tf-sparse-label-range",
    ),
    # Python's warnings module: "<file>.py:<line>: <Category>: <message>", then the source line indented; the log
    # line above it is not the error.
    "a warning under a log line": (
        "Using TensorFlow backend.\n"
        "/usr/lib/python3.7/site-packages/keras_preprocessing/image/numpy_array_iterator.py:136: UserWarning: "
        'NumpyArrayIterator is set to use the data format convention "channels_last" (channels on axis 3), i.e. '
        "expected either 1, 3, or 4 channels on axis 3. However, it was passed an array with shape (64, 3, 32, 32) "
        "(32 channels).\n"
        "  str(self.x.shape[channels_axis]) + ' channels).')\n",
        "UserWarning", "NumpyArrayIterator is set to use", "keras-image-generator-array",
    ),
    # IPython prints "<Type>   Traceback (most recent call last)", the cells, then "<Type>: message"; a user who
    # copies the header and the last line only leaves a message without its type below the header.
    "a notebook header over the message alone": (
        "ValueError                                Traceback (most recent call last)\n"
        "Error when checking input: expected conv2d_1_input to have shape (None, 64, 64, 3) but got array with "
        "shape (32, 64, 64, 1)\n",
        "ValueError", "Error when checking input: expected conv2d_1_input", "keras-check-input-array",
    ),
}


@pytest.mark.parametrize("name", sorted(PARTIAL_PASTES))
def test_a_partial_paste_is_read_from_its_message_line(name):
    text, exc_type, message_start, family = PARTIAL_PASTES[name]
    tb = read_paste(text)
    assert tb.exception_type == exc_type
    assert tb.core_message.startswith(message_start)
    assert "str(self.x.shape" not in tb.core_message  # a warning's source line is not its message
    assert family_of(tb) == [family]


def test_a_graph_error_body_keeps_its_node():
    tb = read_paste(PARTIAL_PASTES["graph error body from its Node line"][0])
    assert tb.node and tb.node.startswith("sparse_categorical_crossentropy/")
