"""Secrets are recognised and redacted; ordinary traceback and source text is left alone."""

from __future__ import annotations

import pytest

from diagnoser.store.scrub import REDACTED, scrub_text, scrub_value


@pytest.mark.parametrize("text, secret", [
    ("could not connect to postgresql://ml:hunter2@db:5432/runs", "hunter2"),
    ("redis://:s3cr3tpass@cache:6379/0", "s3cr3tpass"),
    ("Authorization: Bearer abcdefghijkl123456", "abcdefghijkl123456"),
    ('headers={"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}', "dXNlcjpwYXNzd29yZA=="),
    ("requests.get(url, headers={'X': 'bearer eyJabc.def.ghi-long-token'})", "eyJabc.def.ghi-long-token"),
    ("key id AKIAIOSFODNN7EXAMPLE in use", "AKIAIOSFODNN7EXAMPLE"),
    ("aws_secret_access_key=wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
    ('OPENAI_API_KEY="sk-proj-abcdefghijklmnopqrstuvwxyz123456"', "sk-proj-abcdefghijklmnopqrstuvwxyz123456"),
    ("HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz12", "hf_abcdefghijklmnopqrstuvwxyz12"),
    ("token ghp_abcdefghijklmnopqrstuvwxyz0123456789 expired", "ghp_abcdefghijklmnopqrstuvwxyz0123456789"),
    ("xoxb-1234567890-abcdefghij", "xoxb-1234567890-abcdefghij"),
    ("https://hooks.slack.com/services/T000/B000/XXXXXXXX", "T000/B000/XXXXXXXX"),
    ('{"password": "correct horse"}', "correct"),
    ("db_password: pa55word!", "pa55word!"),
    ("train.py --api-key ABCDEF123 --epochs 3", "ABCDEF123"),
    ("export WANDB_API_KEY=0123456789abcdef0123", "0123456789abcdef0123"),
    ("DIAGNOSER token dgn_abcdefghijklmnopqrstuvwxyz0123", "dgn_abcdefghijklmnopqrstuvwxyz0123"),
])
def test_it_redacts(text, secret):
    scrubbed = scrub_text(text)
    assert secret not in scrubbed and REDACTED in scrubbed


@pytest.mark.parametrize("text", [
    "ValueError: Input 0 with name 'None' of layer 'conv2d' is incompatible with the layer: expected min_ndim=4, "
    "found ndim=3. Full shape received: (None, 28, 28)",
    '  File "tokenizer.py", line 3, in tokenize',
    "max_tokens: 512",
    "tokens = tokenizer(text)",
    "KeyError: 'label'",
    "num_tokens=128",
    "see https://keras.io/api/layers/ for details",
])
def test_it_leaves_ordinary_text_alone(text):
    assert scrub_text(text) == text


def test_values_under_secret_keys_are_dropped_whole():
    assert scrub_value({"api_key": "x1", "tags": {"Password": "p", "note": "fine"}, "n": 3}) == {
        "api_key": REDACTED, "tags": {"Password": REDACTED, "note": "fine"}, "n": 3}


def test_it_is_idempotent():
    once = scrub_text("postgresql://u:pw@h/db token=ghp_abcdefghijklmnopqrstuvwxyz0123")
    assert scrub_text(once) == once
