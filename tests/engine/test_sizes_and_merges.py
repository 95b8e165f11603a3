"""Sizes followed through a torch model and merges traced through a functional Keras script: the facts that say
whether a module declares the wrong size, the data's axes are out of order, or a skip connection takes the wrong
tensor. Each test is one mechanism, on a traceback shaped as the library prints it."""

from __future__ import annotations

import textwrap

from diagnoser.engine.reading import read_traceback
from diagnoser.engine.source import read_source


def features(text: str, summary: str | None = None, source: str | None = None) -> set[str]:
    reading = read_traceback(textwrap.dedent(text), summary=summary, source=source)
    assert reading is not None
    return set(reading.features)


CONV_CHAIN = """\
    Traceback (most recent call last):
      File "train.py", line 20, in <module>
        loss = loss_fn(model(X), y)
      File "train.py", line 16, in forward
        x = torch.relu(self.conv2(x))
      File "<venv>/lib/python3.11/site-packages/torch/nn/modules/conv.py", line 459, in _conv_forward
        return F.conv2d(input, weight, bias, self.stride,
    RuntimeError: Given groups=1, weight of size [16, 7, 3, 3], expected input[24, 4, 15, 15] to have 7 channels, but got 4 channels instead
    """

CONV_SCRIPT = textwrap.dedent(
    """
    import torch
    import torch.nn as nn

    X = torch.randn(24, 7, 32, 32)
    y = torch.randint(0, 15, (24,))

    class Classifier(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(7, 4, 3)
            self.conv2 = nn.Conv2d(7, 16, 3)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(2704, 15)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv1(x)))
            x = torch.relu(self.conv2(x))
            return self.fc(x.flatten(1))
    """
)

CONV_PRINTED = textwrap.dedent(
    """\
    Classifier(
      (conv1): Conv2d(7, 4, kernel_size=(3, 3), stride=(1, 1))
      (conv2): Conv2d(7, 16, kernel_size=(3, 3), stride=(1, 1))
      (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
      (fc): Linear(in_features=2704, out_features=15, bias=True)
    )"""
)


def test_a_conv_that_receives_what_the_conv_before_gives_declares_the_wrong_in_channels() -> None:
    got = features(CONV_CHAIN, source=CONV_SCRIPT)
    assert "src:arrived_is_previous_output" in got
    assert "src:declared_size_is_data_size" not in got  # the chain explains what arrived: the data is not consulted


def test_print_model_gives_the_same_chain_without_the_script() -> None:
    got = features(CONV_CHAIN, summary=CONV_PRINTED)
    assert "summary:arrived_is_previous_output" in got
    assert not any(name.startswith("src:") for name in got)


def test_the_failing_conv_is_found_by_its_printed_weight_when_the_forward_line_does_not_name_it() -> None:
    text = CONV_CHAIN.replace("x = torch.relu(self.conv2(x))", "x = self.body(x)")
    assert "src:arrived_is_previous_output" in features(text, source=CONV_SCRIPT)


RNN_TRACEBACK = """\
    Traceback (most recent call last):
      File "train.py", line 22, in <module>
        loss = loss_fn(model(xb), yb)
      File "train.py", line 15, in forward
        out, _ = self.rnn(x)
      File "<venv>/lib/python3.11/site-packages/torch/nn/modules/rnn.py", line 329, in check_input
        raise RuntimeError(
    RuntimeError: input.size(-1) must be equal to input_size. Expected {expected}, got {got}
    """

RNN_SCRIPT = """
import torch
import torch.nn as nn

X = torch.randn({shape})
y = torch.randint(0, 7, (40,))
xb, yb = X, y

class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.rnn = nn.GRU({expected}, 8, batch_first=True)
        self.fc = nn.Linear(8, 7)

    def forward(self, x):
        out, _ = self.rnn(x)
        return self.fc(out[:, -1])
"""


def test_data_that_holds_the_declared_features_on_another_axis_has_its_axes_swapped() -> None:
    text = RNN_TRACEBACK.format(expected=3, got=20)
    got = features(text, source=RNN_SCRIPT.format(shape="40, 3, 20", expected=3))
    assert "src:data_holds_declared_size_elsewhere" in got  # X and its alias xb are one array


def test_data_without_the_declared_size_anywhere_is_another_count_of_features() -> None:
    text = RNN_TRACEBACK.format(expected=7, got=5)
    got = features(text, source=RNN_SCRIPT.format(shape="40, 14, 5", expected=7))
    assert "src:data_lacks_declared_size" in got
    assert "src:data_holds_declared_size_elsewhere" not in got


MERGE_TRACEBACK = """\
    Traceback (most recent call last):
      File "train.py", line {line}, in <module>
        h = keras.layers.Add()([{a}, {b}])
      File "<venv>/lib/python3.11/site-packages/keras/src/layers/merging/base_merge.py", line 93, in _compute_elemwise_op_output_shape
        raise ValueError(
    ValueError: Inputs have incompatible shapes. Received shapes {left} and {right}
    """


def test_a_skip_connection_that_adds_the_raw_input_is_a_combination_of_the_wrong_tensors() -> None:
    script = textwrap.dedent(
        """
        import keras
        inputs = keras.Input(shape=(21, 7))
        seq = keras.layers.Bidirectional(keras.layers.GRU(12, return_sequences=True))(inputs)
        h = keras.layers.Add()([seq, inputs])
        """
    )
    text = MERGE_TRACEBACK.format(line=5, a="seq", b="inputs", left="(21, 24)", right="(21, 7)")
    got = features(text, source=script)
    assert "src:merge_takes_model_input" in got
    assert "src:merge_width_is_units" not in got


def test_two_branches_whose_widths_come_from_their_units() -> None:
    script = textwrap.dedent(
        """
        import keras
        inputs = keras.Input(shape=(8,))
        h = keras.layers.Dense(16, activation="relu")(inputs)
        r = keras.layers.Dense(units=24, name="block1_dense")(h)
        h = keras.layers.Add()([h, r])
        out = keras.layers.Dense(3)(h)
        """
    )
    got = features(MERGE_TRACEBACK.format(line=6, a="h", b="r", left="(16,)", right="(24,)"), source=script)
    assert {"src:merge_of_layer_outputs", "src:merge_width_is_units"} <= got


def test_the_reader_traces_each_operand_one_assignment_back() -> None:
    facts = read_source("import keras\nx = keras.Input((4,))\nd = keras.layers.Dense(4)(x)\nm = keras.layers.add([d, x])\n")
    assert facts is not None and len(facts.merges) == 1
    merge = facts.merges[0]
    assert merge.cls == "Add" and [o.made_by for o in merge.operands] == ["layer", "input"]
    assert merge.operands[0].units == 4 and merge.operands[0].cls == "Dense"


def test_a_pasted_fragment_is_repaired_and_operands_of_unknown_origin_are_other() -> None:
    facts = read_source("h = Add()([a, b]\n")  # a closing parenthesis lost in the paste
    assert facts is not None and not facts.parse_ok
    assert [o.made_by for o in facts.merges[0].operands] == ["other", "other"]


def test_the_fix_names_the_module_the_argument_and_the_size_that_arrives() -> None:
    from diagnoser.engine import diagnose

    answer = diagnose(textwrap.dedent(CONV_CHAIN), source=CONV_SCRIPT).to_dict()["tracebacks"][-1]["diagnoses"][0]
    assert answer["cause"] == "layer_definition"
    assert "conv2 (Conv2d) with in_channels=4 (not 7)" in answer["fix"]
    assert answer["fix_code"].startswith("in_channels=4")


def test_the_skip_connection_fix_names_the_input_and_both_shapes() -> None:
    from diagnoser.engine import diagnose

    script = textwrap.dedent(
        """
        import keras
        inputs = keras.Input(shape=(21, 7))
        seq = keras.layers.Bidirectional(keras.layers.GRU(12, return_sequences=True))(inputs)
        h = keras.layers.Add()([seq, inputs])
        """
    )
    text = MERGE_TRACEBACK.format(line=5, a="seq", b="inputs", left="(21, 24)", right="(21, 7)")
    answers = diagnose(textwrap.dedent(text), source=script).to_dict()["tracebacks"][-1]["diagnoses"]
    combination = next(a for a in answers if a["cause"] == "layer_combination")
    assert "Input inputs ((21, 7) per sample)" in combination["explanation"]
    assert "((21, 24))" in combination["explanation"]


BN_NESTED_SCRIPT = """
import torch
import torch.nn as nn

X = torch.randn(32, 19)

class Model(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc1 = nn.Linear(19, 32)
        self.bn = nn.BatchNorm1d(16)
        self.fc2 = nn.Linear(32, 17)

    def forward(self, x):
        x = torch.relu(self.bn(self.fc1(x)))
        return self.fc2(x)
"""

BN_NESTED_ERROR = textwrap.dedent(
    """\
    Traceback (most recent call last):
      File "train.py", line 16, in forward
        x = torch.relu(self.bn(self.fc1(x)))
      File "<venv>/lib/python3.11/site-packages/torch/nn/modules/batchnorm.py", line 193, in forward
        return F.batch_norm(
    RuntimeError: running_mean should contain 32 elements not 16
    """
)


def test_the_module_a_shared_check_failed_in_is_the_one_whose_torch_file_raised_it() -> None:
    # two modules are called on the failing line; batchnorm.py raised, so the BatchNorm is the one that failed,
    # and the Linear before it gives exactly what arrived
    assert "src:arrived_is_previous_output" in features(BN_NESTED_ERROR, source=BN_NESTED_SCRIPT)
