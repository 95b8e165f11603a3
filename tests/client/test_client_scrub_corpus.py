"""The client's scrubber on the shared corpus of planted secrets and near-misses (tests/fixtures/secrets/planted.jsonl,
also read by tests/service/test_svc_scrub.py for the service's scrubber): every planted secret is redacted, every
private key leaves no line of its material, every near-miss comes out unchanged; then the same corpus through a real
crash, end to end, into a stand-in service."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from client_helpers import REPO, client_env, run
from diagnoser_client.scrub import REDACTED, scrub, scrub_argv, scrub_value

CORPUS_FILE = REPO / "tests" / "fixtures" / "secrets" / "planted.jsonl"
CORPUS: list[dict[str, Any]] = [json.loads(line) for line in CORPUS_FILE.read_text(encoding="utf-8").splitlines()]
PLANTED = [case for case in CORPUS if "secret" in case]
NEAR_MISSES = [case for case in CORPUS if "secret" not in case]
TEXT_PARTS = ("traceback", "source", "summary")


def scrubbed(case: dict[str, Any]) -> Any:
    """The case through the client, as a report part of its kind goes through it."""
    where = case["where"]
    if where in TEXT_PARTS:
        return scrub(case["text"])
    if where == "argv":
        return scrub_argv(case["value"])
    assert where in ("meta.tags", "inputs"), where
    return scrub_value(case["value"])


def as_text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def test_the_corpus_covers_what_it_promises():
    names = {case["name"] for case in CORPUS}
    assert len(names) == len(CORPUS)
    assert len(PLANTED) >= 50 and len(NEAR_MISSES) >= 15
    assert {case["where"] for case in CORPUS} == {"traceback", "source", "summary", "meta.tags", "inputs", "argv"}
    kinds = " ".join(sorted(names))
    for kind in ("pem_rsa", "pem_ec", "pem_openssh", "pem_pkcs8", "escaped_newlines", "gcp_service_account", "azure",
                 "sas", "basic", "url_credentials", "aws_secret_access_key", "github", "slack", "hugging_face",
                 "openai", "anthropic", "stripe", "google", "jwt", "webhook", "argv_password", "env_dump",
                 "as_a_tag_name", "as_an_input_name"):
        assert kind in kinds, kind


@pytest.mark.parametrize("case", PLANTED, ids=[case["name"] for case in PLANTED])
def test_every_planted_secret_is_redacted(case):
    out = as_text(scrubbed(case))
    assert case["secret"] not in out
    assert REDACTED[:-1] in out  # "[REDACTED" (a private key says which kind it was: "[REDACTED RSA PRIVATE KEY]")
    for material in case.get("also", ()):
        assert material not in out, f"key material line left: {material!r}"
    for kept in case.get("keep", ()):
        assert kept in out, f"context lost: {kept!r}"


@pytest.mark.parametrize("case", [c for c in PLANTED if c["name"].startswith(("pem_", "gcp_"))],
                         ids=[c["name"] for c in PLANTED if c["name"].startswith(("pem_", "gcp_"))])
def test_a_scrubbed_private_key_leaves_no_key_material_line(case):
    out = as_text(scrubbed(case))
    assert "PRIVATE KEY-----" not in out
    # No line (nor \n-separated piece) of the output is base64 key material of a PEM body's width.
    pieces = re.split(r"\\n|\n| ", out)
    assert [p for p in pieces if re.fullmatch(r"[A-Za-z0-9+/=]{40,}", p.strip(" '\","))] == []


@pytest.mark.parametrize("case", NEAR_MISSES, ids=[case["name"] for case in NEAR_MISSES])
def test_every_near_miss_stays_readable(case):
    original = case["text"] if "text" in case else case["value"]
    assert scrubbed(case) == original
    for kept in case["keep"]:
        assert kept in as_text(original)


@pytest.mark.parametrize("case", CORPUS, ids=[case["name"] for case in CORPUS])
def test_scrubbing_twice_changes_nothing_more(case):
    once = scrubbed(case)
    again = scrubbed(dict(case, text=once) if case["where"] in TEXT_PARTS else dict(case, value=once))
    assert again == once


def test_two_secret_keys_of_one_dict_both_stay_as_entries():
    out = scrub_value({"AKIAIOSFODNN7EXAMPLE": "a", "AKIAI44QH8DHBEXAMPLE": "b", "n": 1})
    assert sorted(out.values(), key=str) == [1, "a", "b"] and all("AKIA" not in k for k in out)


# --- end to end: a real crash carrying the corpus --------------------------------------------------------

CRASHING = """\
import json, sys
import diagnoser_client
corpus = [json.loads(line) for line in open({corpus!r}, encoding="utf-8")]
tags = {{}}
for case in corpus:
    if case["where"] == "meta.tags":
        tags.update({{k: v for k, v in case["value"].items()}})
diagnoser_client.install(tags=tags)
text = "\\n".join(case["text"] for case in corpus if case["where"] in ("traceback", "summary", "source"))
raise RuntimeError("training data loader failed:\\n" + text)
"""


def test_no_planted_secret_leaves_in_a_real_report(tmp_path, fake_service, write_script):
    script = write_script(CRASHING.format(corpus=str(CORPUS_FILE)), "leaky.py")
    argv = [arg for case in CORPUS if case["where"] == "argv" for arg in case["value"][1:]]
    done = run([str(script), *argv], client_env(tmp_path, fake_service.url), tmp_path, timeout=60)
    assert done.returncode == 1, done.stderr
    (report,) = fake_service.reports()
    sent = json.dumps(report, ensure_ascii=False)
    leaked = [case["name"] for case in PLANTED if case["where"] != "inputs" and case["secret"] in sent]
    assert leaked == []
    for case in PLANTED:
        for material in case.get("also", ()):
            assert material not in sent, case["name"]
    assert "training data loader failed" in report["traceback"]
    assert report["meta"]["tags"]["team"] == "vision" and "--epochs" in report["meta"]["tags"]["argv"]
    assert "TOKENIZERS_PARALLELISM=false" in report["traceback"]  # a near-miss in the same text stays


@pytest.mark.parametrize("hostile", [
    "-" * 200_000,                                   # separator lines: each "--" may start a flag
    "--" + "a-" * 100_000,                           # one endless flag name
    "token " * 50_000,                               # a secret word, over and over, with no value
    "password=" * 30_000,
    "://" + "a:@" * 60_000,                          # an authority of colons and at signs
    "-----BEGIN RSA PRIVATE KEY-----" + " \\n" * 100_000,
    '"secret": "' + "x" * 200_000,                   # a quoted value that never closes
    "Basic " + "QUJD" * 50_000,
    "a." * 100_000 + "token=x",
    "a.b-" * 50_000 + "password=x",
], ids=["dashes", "flag", "words", "assignments", "authority", "pem", "quote", "basic", "dots", "names"])
def test_no_input_makes_it_slow(hostile):
    import time

    started = time.perf_counter()
    scrub(hostile)
    assert time.perf_counter() - started < 1.0
