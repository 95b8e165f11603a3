"""Shared fixtures for engine tests: the labelled development runs and fixtures of real tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CORPUS = REPO / "corpus" / "dev" / "dev.jsonl"
REAL_CASES = REPO / "tests" / "fixtures" / "real" / "cases.jsonl"
PUBLIC_CASES = REPO / "tests" / "fixtures" / "public" / "cases.jsonl"
BACKEND_CASES = REPO / "tests" / "fixtures" / "real2" / "cases.jsonl"
PUBLIC2_CASES = REPO / "tests" / "fixtures" / "public2" / "cases.jsonl"


def load_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def corpus() -> list[dict]:
    if not CORPUS.exists():
        pytest.skip("corpus/dev/dev.jsonl is missing")
    return load_jsonl(CORPUS)


@pytest.fixture(scope="session")
def real_cases() -> list[dict]:
    if not REAL_CASES.exists():
        pytest.skip("tests/fixtures/real/cases.jsonl has not been generated")
    return load_jsonl(REAL_CASES)


@pytest.fixture(scope="session")
def public_cases() -> list[dict]:
    return load_jsonl(PUBLIC_CASES) + load_jsonl(PUBLIC2_CASES)


@pytest.fixture(scope="session")
def backend_cases() -> list[dict]:
    return load_jsonl(BACKEND_CASES)
