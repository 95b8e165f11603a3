#!/usr/bin/env python3
"""Print the labelled runs whose planted cause the family recognising them does not declare.

    python corpus/undeclared.py

Such a run can never be answered right, whatever the evidence: the family's `causes` must list it, with one of
those runs as its example (how the 24 pairs added on 2026-12-04 were found). Prints nothing when every family
declares what the corpus plants behind its message.
"""

from __future__ import annotations

import collections
import glob
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diagnoser.engine.families import SHAPE_CAUSES  # noqa: E402
from diagnoser.engine.reading import read_traceback  # noqa: E402


def main() -> None:
    pairs: collections.Counter[tuple[str, str]] = collections.Counter()
    kinds: dict[tuple[str, str], set[str]] = collections.defaultdict(set)
    for path in sorted(glob.glob(str(ROOT / "corpus" / "generated" / "*.jsonl"))):
        if path.endswith(".dropped.jsonl"):
            continue
        for line in open(path, encoding="utf-8"):
            rec = json.loads(line)
            if rec["label_cause"] not in SHAPE_CAUSES:
                continue
            reading = read_traceback(rec["stderr"])
            if reading is None or not reading.recognitions or rec["label_cause"] in reading.allowed:
                continue
            key = (reading.recognitions[0].family.id, rec["label_cause"])
            pairs[key] += 1
            kinds[key].add(rec["fault_id"])
    for (family, cause), n in pairs.most_common():
        print(f"{n:4d}  {family}  {cause}  {', '.join(sorted(kinds[family, cause])[:4])}")


if __name__ == "__main__":
    main()
