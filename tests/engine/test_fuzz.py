"""diagnose() never raises, whatever text it gets: random text, and real tracebacks cut and spliced."""

import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from diagnoser.engine import diagnose

PIECES = [
    "Traceback (most recent call last):\n",
    '  File "a.py", line 3, in <module>\n',
    "    model.fit(x)\n",
    "ValueError: ",
    'Input 0 of layer "conv2d" is incompatible with the layer: expected min_ndim=4, found ndim=3. ',
    "Full shape received: (None, 28, 28)",
    "mat1 and mat2 shapes cannot be multiplied (4x5 and 6x7)",
    "\n",
    "\r",
    "\x1b[31m",
    "\x1b[0m",
    "During handling of the above exception, another exception occurred:\n",
    "Exception encountered when calling Sequential.call().\n\n",
    "Arguments received by Sequential.call():\n",
    "  • inputs=tf.Tensor(shape=(8, 28), dtype=float32)\n",
    "Graph execution error:\n",
    "Detected at node x/y defined at",
    "[[{{node a/b}}]]",
    "in user code:\n",
    "    ValueError: ",
    "(",
    ")",
    "[",
    "]",
    "None, ",
    "x",
    "expected shape=(",
    "found shape=(",
    "torch.Size([",
    "-------\n",
    "ValueError      Traceback (most recent call last)\n",
    "---> 10 f()\n",
]


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.sampled_from(PIECES), max_size=40), st.text(max_size=200))
def test_spliced_traceback_pieces_never_crash_the_engine(pieces, noise):
    result = diagnose("".join(pieces) + noise, summary=noise or None, source=noise or None)
    json.dumps(result.to_dict())


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_never_crash_the_engine(data):
    json.dumps(diagnose(data).to_dict())


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.none() | st.integers() | st.text(max_size=5),
        lambda c: st.lists(c, max_size=3) | st.dictionaries(st.text(max_size=5), c, max_size=3),
        max_leaves=10,
    )
)
def test_malformed_inputs_evidence_is_ignored(inputs):
    diagnose(
        'ValueError: Input 0 of layer "lstm" is incompatible with the layer: expected ndim=3, found ndim=2. Full shape received: (8, 20)',
        inputs=inputs,
    )
