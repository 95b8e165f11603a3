"""How fast both scrubbers go through ordinary training logs: the client's (diagnoser_client.scrub.scrub) and the
service's (diagnoser.store.scrub.scrub_text), in MB/s.

The log is the repository's own real tracebacks (tests/fixtures/real*/: stderr of real TensorFlow, Keras and PyTorch
runs; tests/fixtures/public*/: tracebacks pasted in public issues) with their scripts' source and model summaries,
repeated to 1 MB (--mb). Three figures per scrubber:

  1 MB log      the whole log as one text (the service: beyond its cache, every call scans)
  per report    the log cut into report-sized texts (one traceback each), each scrubbed once, no cache hits
  planted       the same 1 MB with the corpus's planted secrets (tests/fixtures/secrets/planted.jsonl) spread in it

and the service's cached case (the same report again, as a sweep of one broken script sends). Best of --runs.

    python benchmarks/bench_scrub.py [--mb 1] [--runs 5]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(REPO / "client"), str(REPO)]  # this checkout's scrubbers, whatever `pip install -e` points at

from diagnoser_client import scrub as client

from diagnoser.store import scrub as service

FIXTURES = REPO / "tests" / "fixtures"


def reports() -> list[str]:
    texts: list[str] = []
    for name in ("real", "real2", "public", "public2"):
        path = FIXTURES / name / "cases.jsonl"
        if not path.exists():
            continue
        for line in path.read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            for field in ("stderr", "traceback", "snippet", "code_excerpt", "stdout_summary", "model_summary"):
                if isinstance(case.get(field), str) and case[field].strip():
                    texts.append(case[field])
    return texts


def planted_texts() -> list[str]:
    path = FIXTURES / "secrets" / "planted.jsonl"
    cases = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [c["text"] for c in cases if "secret" in c and "text" in c]


def to_size(parts: list[str], size: int) -> list[str]:
    out: list[str] = []
    total = 0
    while total < size:
        for part in parts:
            out.append(part)
            total += len(part.encode("utf-8"))
            if total >= size:
                break
    return out


def best(runs: int, work: Callable[[], None]) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mb", type=float, default=1.0)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()
    size = int(options.mb * 1024 * 1024)

    pieces = to_size(reports(), size)
    log = "\n".join(pieces)
    secrets = planted_texts()
    mixed_pieces = [p if i % 40 else p + "\n" + secrets[(i // 40) % len(secrets)] for i, p in enumerate(pieces)]
    mixed = "\n".join(mixed_pieces)
    megabytes = len(log.encode("utf-8")) / 1e6
    mixed_mb = len(mixed.encode("utf-8")) / 1e6

    def uncached(text: str) -> str:
        service._CACHE.clear()
        return service.scrub_text(text)

    def each(scrub: Callable[[str], object], texts: list[str]) -> Callable[[], None]:
        def work() -> None:
            for text in texts:
                scrub(text)

        return work

    def service_each(texts: list[str]) -> Callable[[], None]:
        def work() -> None:
            service._CACHE.clear()
            for text in texts:
                service.scrub_text(text)

        return work

    rows = [
        (
            "1 MB log",
            megabytes,
            best(options.runs, lambda: client.scrub(log)),
            best(options.runs, lambda: uncached(log)),
        ),
        (
            "per report",
            megabytes,
            best(options.runs, each(client.scrub, pieces)),
            best(options.runs, service_each(pieces)),
        ),
        (
            "planted",
            mixed_mb,
            best(options.runs, lambda: client.scrub(mixed)),
            best(options.runs, lambda: uncached(mixed)),
        ),
    ]
    again = [p for p in pieces if service.SHORT <= len(p) <= service._CACHE_LONGEST][: service._CACHE_SIZE // 2]
    service._CACHE.clear()
    for text in again:  # warm the cache with what the next loop sends again
        service.scrub_text(text)
    cached = best(options.runs, each(service.scrub_text, again))
    cached_mb = sum(len(p.encode("utf-8")) for p in again) / 1e6

    print(
        f"{len(pieces)} report texts, {megabytes:.2f} MB (ordinary tracebacks, sources, summaries); "
        f"best of {options.runs}"
    )
    print(f"{'input':<14}{'client scrub()':>18}{'service scrub_text()':>24}")
    for label, mb, client_s, service_s in rows:
        print(
            f"{label:<14}{mb / client_s:>12.1f} MB/s{mb / service_s:>18.1f} MB/s"
            f"    ({client_s * 1000:.0f} ms, {service_s * 1000:.0f} ms)"
        )
    print(f"{'cached':<14}{'':>18}{cached_mb / cached:>18.1f} MB/s    (the same {len(again)} reports again)")
    client_out, service_out = client.scrub(mixed) or "", service._scrub(mixed)
    print(
        f"planted: {client_out.count('[REDACTED')} redactions by the client, "
        f"{service_out.count('[REDACTED')} by the service"
    )


if __name__ == "__main__":
    main()
