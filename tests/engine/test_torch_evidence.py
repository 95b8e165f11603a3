"""The facts a torch traceback gives once its frames and the script are read as structure: which module failed (by
the attribute its forward calls), whether the model flattens in forward, how the script feeds its model, and
torch.compile's user frames. Each test is one mechanism, on a traceback shaped as torch prints it."""

from __future__ import annotations

import textwrap

from diagnoser.engine.families import default_families
from diagnoser.engine.model import default_weights
from diagnoser.engine.parse import parse_block
from diagnoser.engine.phase import detect_phase
from diagnoser.engine.reading import blocks_of, read_block
from diagnoser.engine.source import read_source
from diagnoser.engine.summary import parse_summary

CONV_SCRIPT = textwrap.dedent(
    """
    import torch
    import torch.nn as nn

    X = torch.randn(32, 5, 32, 32)
    y = torch.randint(0, 15, (32,))

    class Net(nn.Module):
        def __init__(self):
            super().__init__()
            self.conv1 = nn.Conv2d(5, 8, 3)
            self.conv2 = nn.Conv2d(5, 8, 3)
            self.pool = nn.MaxPool2d(2)
            self.fc = nn.Linear(1352, 15)

        def forward(self, x):
            x = self.pool(torch.relu(self.conv1(x)))
            x = torch.relu(self.conv2(x))
            x = x.view(x.size(0), -1)
            return self.fc(x)

    model = Net()
    loss = nn.CrossEntropyLoss()(model(X), y)
    """
)

CONV_TRACEBACK = textwrap.dedent(
    """\
    Traceback (most recent call last):
      File "train.py", line 22, in <module>
        loss = nn.CrossEntropyLoss()(model(X), y)
      File "<venv>/lib/python3.11/site-packages/torch/nn/modules/module.py", line 1747, in _call_impl
        return forward_call(*args, **kwargs)
      File "train.py", line 18, in forward
        x = torch.relu(self.conv2(x))
      File "<venv>/lib/python3.11/site-packages/torch/nn/modules/conv.py", line 459, in _conv_forward
        return F.conv2d(input, weight, bias, self.stride,
    RuntimeError: Given groups=1, weight of size [8, 5, 3, 3], expected input[32, 8, 15, 15] to have 5 channels, but got 8 channels instead
    """
)


def features(text: str, summary: str | None = None, source: str | None = None) -> set[str]:
    weights = default_weights()
    out: set[str] = set()
    for block in blocks_of(text):
        reading = read_block(
            parse_block(block),
            parse_summary(summary) if summary else None,
            read_source(source) if source else None,
            None,
            default_families(),
            known=weights.known,
        )
        out |= set(reading.features)
    return out


def test_the_failing_module_is_the_one_its_forward_calls() -> None:
    found = features(CONV_TRACEBACK, source=CONV_SCRIPT)
    # conv2 sits after conv1 in the script, although a torch message names no layer
    assert "src:failing_layer_after_another" in found
    assert "src:failing_layer_first" not in found


def test_print_model_places_the_module_too() -> None:
    printed = textwrap.dedent(
        """\
        Net(
          (conv1): Conv2d(5, 8, kernel_size=(3, 3), stride=(1, 1))
          (conv2): Conv2d(5, 8, kernel_size=(3, 3), stride=(1, 1))
          (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
          (fc): Linear(in_features=1352, out_features=15, bias=True)
        )
        """
    )
    found = features(CONV_TRACEBACK, summary=printed)
    assert "summary:prev_kind=conv" in found
    assert "summary:layer_is_first" not in found


def test_a_forward_that_flattens_has_a_flatten_and_does_not_touch_the_data() -> None:
    found = features(CONV_TRACEBACK, source=CONV_SCRIPT)
    assert "src:dense_after_conv_without_flatten" not in found
    assert "src:data_view" not in found
    without = CONV_SCRIPT.replace("        x = x.view(x.size(0), -1)\n", "")
    assert "src:dense_after_conv_without_flatten" in features(CONV_TRACEBACK, source=without)


def test_an_rnn_without_batch_first_and_a_count_that_is_another_axis() -> None:
    script = textwrap.dedent(
        """
        import torch
        import torch.nn as nn
        X = torch.randn(16, 13, 4)
        y = torch.randint(0, 3, (16,))
        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.rnn = nn.LSTM(4, 8)
                self.fc = nn.Linear(8, 3)
            def forward(self, x):
                out, _ = self.rnn(x)
                return self.fc(out[:, -1])
        model = Net()
        loss = nn.CrossEntropyLoss()(model(X), y)
        """
    )
    text = (
        "Traceback (most recent call last):\n"
        '  File "train.py", line 15, in <module>\n'
        "    loss = nn.CrossEntropyLoss()(model(X), y)\n"
        "ValueError: Expected input batch_size (13) to match target batch_size (16).\n"
    )
    found = features(text, source=script)
    assert {"src:rnn_not_batch_first", "src:count_is_data_axis"} <= found


def test_a_model_called_on_one_indexed_sample() -> None:
    text = (
        "Traceback (most recent call last):\n"
        '  File "predict.py", line 30, in <module>\n'
        "    pred = model(X[4]).argmax(1)\n"
        '  File "<venv>/lib/python3.11/site-packages/torch/nn/modules/linear.py", line 125, in forward\n'
        "    return F.linear(input, self.weight, self.bias)\n"
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (4x209 and 836x3)\n"
    )
    assert "line:model_on_one_sample" in features(text)
    assert "line:model_on_one_sample" not in features(text.replace("model(X[4])", "len(X[4])"))


def test_a_conv_that_read_a_tensor_one_axis_short_as_unbatched() -> None:
    text = (
        "RuntimeError: Given groups=1, weight of size [4, 1, 3, 3], expected input[1, 8, 16, 24] to have 1 "
        "channels, but got 8 channels instead\n"
    )
    assert "rel:conv_read_unbatched" in features(text)
    assert "rel:conv_read_unbatched" not in features(CONV_TRACEBACK)


def test_torch_compile_user_frames_give_the_phase() -> None:
    text = textwrap.dedent(
        """\
        Traceback (most recent call last):
          File "train.py", line 8, in <module>
            out = compiled(torch.randn(4, 3, 16, 16))
          File "<venv>/lib/python3.11/site-packages/torch/__init__.py", line 1546, in _check_with
            raise error_type(message_evaluated)
        torch._dynamo.exc.TorchRuntimeError: Failed running call_function <built-in function linear>(*(FakeTensor(..., size=(4, 1568)), Parameter(FakeTensor(..., size=(2, 10)))), **{}):
        a and b must have same reduction dim, but got [4, 1568] X [10, 2].

        from user code:
           File "<venv>/lib/python3.11/site-packages/torch/nn/modules/container.py", line 250, in forward
            input = module(input)
          File "<venv>/lib/python3.11/site-packages/torch/nn/modules/linear.py", line 125, in forward
            return F.linear(input, self.weight, self.bias)

        Set TORCH_LOGS="+dynamo" and TORCHDYNAMO_VERBOSE=1 for more information
        """
    )
    (block,) = blocks_of(text)
    assert detect_phase(parse_block(block)) == "forward"


def test_no_frames_at_all_is_its_own_phase() -> None:
    found = features('ValueError: Input 0 of layer "conv2d" is incompatible with the layer: expected min_ndim=4, '
                     "found ndim=3. Full shape received: (8, 28, 28)")
    assert "phase=unseen" in found and "phase=unknown" not in found
    assert "phase=unseen" not in features(CONV_TRACEBACK)
