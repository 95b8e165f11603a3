"""The service's scrubber (diagnoser.store.scrub, called directly: no app) on the shared corpus of planted secrets and
near-misses, tests/fixtures/secrets/planted.jsonl (tests/client/test_client_scrub_corpus.py runs the client's
scrubber on the same file): every planted secret is redacted, a private key leaves no line of its material, every
near-miss comes out unchanged, scrubbing is idempotent, the cache and the short-text fast path agree with the full
scan, and no input makes it slow."""

from __future__ import annotations

import json
import re
import shlex
import time
from pathlib import Path
from typing import Any

import pytest

from diagnoser.store import scrub as scrub_module
from diagnoser.store.scrub import REDACTED, scrub_text, scrub_value

CORPUS_FILE = Path(__file__).resolve().parents[1] / "fixtures" / "secrets" / "planted.jsonl"
CORPUS: list[dict[str, Any]] = [json.loads(line) for line in CORPUS_FILE.read_text(encoding="utf-8").splitlines()]
PLANTED = [case for case in CORPUS if "secret" in case]
NEAR_MISSES = [case for case in CORPUS if "secret" not in case]
TEXT_PARTS = ("traceback", "source", "summary")


def scrubbed(case: dict[str, Any]) -> Any:
    """The case through the service, as the API scrubs a report part of its kind (diagnoser.web.api)."""
    where = case["where"]
    if where in TEXT_PARTS:
        return scrub_text(case["text"])
    if where == "meta.tags":
        return scrub_value(case["value"], "tags")
    if where == "argv":  # the client sends its argv joined, as the tag "argv"
        return scrub_value({"argv": shlex.join(case["value"])}, "tags")
    assert where == "inputs", where
    return scrub_value(case["value"])


def original(case: dict[str, Any]) -> Any:
    if case["where"] == "argv":
        return {"argv": shlex.join(case["value"])}
    return case["text"] if "text" in case else case["value"]


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def test_the_scrubber_under_test_is_this_checkouts():
    assert (
        Path(scrub_module.__file__).resolve()
        == Path(__file__).resolve().parents[2] / "diagnoser" / "store" / "scrub.py"
    )
    assert len(PLANTED) >= 50 and len(NEAR_MISSES) >= 15


@pytest.mark.parametrize("case", PLANTED, ids=[case["name"] for case in PLANTED])
def test_every_planted_secret_is_redacted(case):
    out = as_text(scrubbed(case))
    assert case["secret"] not in out
    assert REDACTED[:-1] in out  # "[REDACTED" (a private key says which kind it was: "[REDACTED RSA PRIVATE KEY]")
    for material in case.get("also", ()):
        assert material not in out, f"key material line left: {material!r}"
    for kept in case.get("keep", ()):
        assert kept in out, f"context lost: {kept!r}"


@pytest.mark.parametrize(
    "case",
    [c for c in PLANTED if c["name"].startswith(("pem_", "gcp_"))],
    ids=[c["name"] for c in PLANTED if c["name"].startswith(("pem_", "gcp_"))],
)
def test_a_scrubbed_private_key_leaves_no_key_material_line(case):
    out = as_text(scrubbed(case))
    assert "PRIVATE KEY-----" not in out
    pieces = re.split(r"\\n|\n| ", out)
    assert [p for p in pieces if re.fullmatch(r"[A-Za-z0-9+/=]{40,}", p.strip(" '\","))] == []


@pytest.mark.parametrize("case", NEAR_MISSES, ids=[case["name"] for case in NEAR_MISSES])
def test_every_near_miss_stays_readable(case):
    assert scrubbed(case) == original(case)
    for kept in case["keep"]:
        assert kept in as_text(original(case))


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_scrubbing_twice_changes_nothing_more(case):
    once = scrubbed(case)
    if case["where"] in TEXT_PARTS:
        assert scrub_text(once) == once
    else:
        assert scrub_value(once, "tags" if case["where"] in ("meta.tags", "argv") else None) == once


@pytest.mark.parametrize(
    "case", [c for c in CORPUS if c["where"] in TEXT_PARTS], ids=[c["name"] for c in CORPUS if c["where"] in TEXT_PARTS]
)
def test_the_fast_paths_answer_as_the_full_scan(case):
    """Short texts (literal check first), long ones (remembered), very long ones (not): one answer."""
    text = case["text"]
    full = scrub_module._scrub(text)
    assert scrub_text(text) == full and scrub_text(text) == full  # the second one from the cache when long
    padded = text + "\n" + "x" * scrub_module._CACHE_LONGEST  # beyond the cache
    assert scrub_text(padded) == scrub_module._scrub(padded) == full + "\n" + "x" * scrub_module._CACHE_LONGEST
    for line in text.splitlines():  # each line alone, most of them short
        assert scrub_text(line) == scrub_module._scrub(line)


# --- the contract beyond the corpus ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, secret",
    [
        ("could not connect to postgresql://ml:hunter2@db:5432/runs", "hunter2"),
        ("redis://:s3cr3tpass@cache:6379/0", "s3cr3tpass"),
        ("Authorization: Bearer abcdefghijkl123456", "abcdefghijkl123456"),
        ('headers={"Authorization": "Basic dXNlcjpwYXNzd29yZA=="}', "dXNlcjpwYXNzd29yZA=="),
        ("requests.get(url, headers={'X': 'bearer eyJabc.def.ghi-long-token'})", "eyJabc.def.ghi-long-token"),
        ('{"password": "correct horse"}', "horse"),
        ("db_password: pa55word!", "pa55word!"),
        ("password=bunny1234", "unny1234"),
        ("train.py --api-key ABCDEF123 --epochs 3", "ABCDEF123"),
        ("DIAGNOSER token dgn_abcdefghijklmnopqrstuvwxyz0123", "dgn_abcdefghijklmnopqrstuvwxyz0123"),
        ("DB_PWD=hunter22", "hunter22"),
    ],
)
def test_it_redacts(text, secret):
    scrubbed_text = scrub_text(text)
    assert secret not in scrubbed_text and REDACTED in scrubbed_text


@pytest.mark.parametrize(
    "text",
    [
        "ValueError: Input 0 with name 'None' of layer 'conv2d' is incompatible with the layer: expected min_ndim=4, "
        "found ndim=3. Full shape received: (None, 28, 28)",
        '  File "tokenizer.py", line 3, in tokenize',
        "max_tokens: 512",
        "num_tokens=128",
        "KeyError: 'label'",
        "PWD=/home/ml/project",
        "token = get_token()",
        "password = os.environ['DB_PASSWORD']",
    ],
)
def test_it_leaves_ordinary_text_alone(text):
    assert scrub_text(text) == text


def test_values_under_secret_keys_are_dropped_whole_and_secret_keys_are_scrubbed():
    assert scrub_value({"api_key": "x1", "tags": {"Password": "p", "note": "fine"}, "n": 3}) == {
        "api_key": REDACTED,
        "tags": {"Password": REDACTED, "note": "fine"},
        "n": 3,
    }
    out = scrub_value({"AKIAIOSFODNN7EXAMPLE": "a", "AKIAI44QH8DHBEXAMPLE": "b", "pad_token": "[PAD]"})
    assert sorted(out.values()) == ["[PAD]", "a", "b"] and not any("AKIA" in k for k in out)


@pytest.mark.parametrize(
    "hostile",
    [
        "-" * 200_000,  # separator lines: each "--" may start a flag
        "--" + "a-" * 100_000,  # one endless flag name
        "token " * 50_000,  # a secret word, over and over, with no value
        "password=" * 30_000,
        "://" + "a:@" * 60_000,  # an authority of colons and at signs
        "-----BEGIN RSA PRIVATE KEY-----" + " \\n" * 100_000,
        '"secret": "' + "x" * 200_000,  # a quoted value that never closes
        "Basic " + "QUJD" * 50_000,
        "a." * 100_000 + "token=x",
        "a.b-" * 50_000 + "password=x",
    ],
    ids=["dashes", "flag", "words", "assignments", "authority", "pem", "quote", "basic", "dots", "names"],
)
def test_no_input_makes_it_slow(hostile):
    started = time.perf_counter()
    scrub_text(hostile)
    assert time.perf_counter() - started < 1.0
