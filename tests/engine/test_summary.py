"""Reading model summaries: Keras 3 box tables, Keras 2 ASCII tables, PyTorch print(model)."""

from diagnoser.engine.summary import parse_summary

KERAS3 = """Model: "functional"
┏━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━━━━━━━━━━┳━━━━━━━━━━━━━━━┓
┃ Layer (type)                    ┃ Output Shape           ┃       Param # ┃
┡━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━━━━━━━━━━╇━━━━━━━━━━━━━━━┩
│ input_layer (InputLayer)        │ (None, 28, 28, 1)      │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ conv2d (Conv2D)                 │ (None, 26, 26, 16)     │           160 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ flatten (Flatten)               │ (None, 10816)          │             0 │
├─────────────────────────────────┼────────────────────────┼───────────────┤
│ dense (Dense)                   │ (None, 10)             │       108,170 │
└─────────────────────────────────┴────────────────────────┴───────────────┘
 Total params: 108,330 (423.16 KB)
"""

KERAS2 = """Model: "model"
_________________________________________________________________
 Layer (type)                Output Shape              Param #
=================================================================
 input_1 (InputLayer)        [(None, 20)]              0

 dense (Dense)               (None, 16)                336

 dense_1 (Dense)             (None, 5)                 85

=================================================================
Total params: 421
"""

TORCH = """Net(
  (conv1): Conv2d(1, 16, kernel_size=(3, 3), stride=(1, 1))
  (pool): MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)
  (fc): Linear(in_features=2704, out_features=10, bias=True)
)
"""


def test_it_reads_a_keras3_box_table():
    s = parse_summary(KERAS3)
    assert s.name == "functional"
    assert [(x.name, x.type) for x in s.layers][:2] == [("input_layer", "InputLayer"), ("conv2d", "Conv2D")]
    assert s.input_shape == (None, 28, 28, 1)
    assert s.find("dense").params == 108170
    assert s.previous("flatten").name == "conv2d"


def test_it_reads_a_keras2_ascii_table():
    s = parse_summary(KERAS2)
    assert s.input_shape == (None, 20)
    assert s.output_layer.output_shape == (None, 5)
    assert s.find("dense_1").params == 85


def test_it_reads_torch_print_model():
    s = parse_summary(TORCH)
    assert s.framework == "torch"
    assert [x.type for x in s.layers] == ["Conv2d", "MaxPool2d", "Linear"]
    assert s.find("fc").args["in_features"] == "2704"


def test_it_returns_none_for_text_that_is_no_summary():
    assert parse_summary("hello\nworld") is None
    assert parse_summary("") is None
