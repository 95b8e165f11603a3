"""Every shape notation the libraries print, and the relations that separate causes."""

import pytest

from diagnoser.engine.shapes import fmt, fmt_data, parse_shape, relations


@pytest.mark.parametrize(
    "text, shape",
    [
        ("(None, 28, 28)", (None, 28, 28)),
        ("[None, 28]", (None, 28)),
        ("(?, 19)", (None, 19)),
        ("[?,4,4,8]", (None, 4, 4, 8)),
        ("[None 4 4 8]", (None, 4, 4, 8)),
        ("torch.Size([8, 1])", (8, 1)),
        ("[16, 784]", (16, 784)),
        ("64x784", (64, 784)),
        ("(5 x 5)", (5, 5)),
        ("(28,)", (28,)),
        ("[(None, 28, 28)]", (None, 28, 28)),
        ("TensorShape([None, 10])", (None, 10)),
    ],
)
def test_it_parses_every_notation(text, shape):
    assert parse_shape(text) == shape


def test_it_refuses_what_is_not_a_shape():
    assert parse_shape("(a, b)") is None
    assert parse_shape("hello") is None


def test_it_formats_like_keras_and_like_user_data():
    assert fmt((None, 28)) == "(None, 28)"
    assert fmt((28,)) == "(28,)"
    assert fmt_data((8, 28, 28)) == "(N, 28, 28)"


@pytest.mark.parametrize(
    "expected, received, relation",
    [
        ((None, 28, 28, 1), (None, 28, 28), "missing_trailing_one"),
        ((None, 28, 28, 1), (28, 28, 1), "missing_batch"),
        ((None, 32, 32, 3), (8, 3, 32, 32), "channels_first"),
        ((None, 28, 28, 1), (8, 1, 28, 28, 1), "extra_unit_axis"),
        ((None, 32, 32, 3), (8, 28, 28, 3), "spatial_differs"),
        ((None, 64, 48, 3), (8, 48, 64, 3), "spatial_swapped"),
        ((None, 20), (8, 10), "last_dim_differs"),
    ],
)
def test_it_names_the_relation_between_expected_and_received(expected, received, relation):
    assert relation in relations(expected, received)


def test_equal_shapes_relate_as_equal_only():
    assert relations((None, 10), (8, 10)) == {"equal"}
