#!/usr/bin/env python3
"""Which messages the families recognise, over labelled corpora: what recall to work on, and what each family
meets, with the causes labelled for it.

    python corpus/coverage.py                          # corpus/generated/*.jsonl and tests/fixtures/real*/
    python corpus/coverage.py FILE.jsonl ... [--unrecognised 40] [--family ID]

Prints per family the records it recognised and their labelled causes (a family whose declared causes miss a
labelled one is listed), then the shape-fault records no family recognises, grouped by message shape (numbers and
names blanked), most frequent first, and the non-shape records some family claims (false alarms to look at).
"""

from __future__ import annotations

import argparse
import collections
import glob
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diagnoser.engine.families import SHAPE_CAUSES, load_families  # noqa: E402
from diagnoser.engine.familycheck import parsed_tracebacks  # noqa: E402

DEFAULT = sorted(glob.glob(str(ROOT / "corpus" / "generated" / "*.jsonl"))) + sorted(
    glob.glob(str(ROOT / "tests" / "fixtures" / "real*" / "cases.jsonl"))
)


def records(paths: list[str]) -> list[dict]:
    out = []
    for path in paths:
        if path.endswith(".dropped.jsonl"):
            continue
        with open(path, encoding="utf-8") as f:
            out += [json.loads(line) for line in f if line.strip()]
    return [r for r in out if not str(r.get("notes", "")).startswith("SILENT:")]


def signature(message: str) -> str:
    text = re.sub(r"'[^']*'|\"[^\"]*\"|`[^`]*`", "<q>", message)
    text = re.sub(r"[\[(][^\[\]()]*[\])]", "<shape>", text)
    text = re.sub(r"\d+", "<n>", text)
    return re.sub(r"\s+", " ", text).strip()[:140]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("corpus", nargs="*", default=DEFAULT)
    parser.add_argument("--unrecognised", type=int, default=40, help="how many message shapes to list")
    parser.add_argument("--family", help="list this family's records")
    args = parser.parse_args()
    families = load_families()
    per_family: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    missing: collections.Counter[str] = collections.Counter()
    example: dict[str, str] = {}
    false_alarms: collections.Counter[str] = collections.Counter()
    shape_total = recognised = 0
    for rec in records(args.corpus):
        text = rec.get("stderr") or rec.get("traceback") or ""
        tbs = parsed_tracebacks(text)
        readings = [r for tb in tbs[-1:] for r in families.recognise(tb.core_message, tb.core_type)]
        cause = rec.get("label_cause", "none")
        for reading in readings:
            per_family[reading.family.id][cause] += 1
            if args.family == reading.family.id:
                print(f"  {rec.get('id')}: {cause}: {tbs[-1].core_message[:160]!r}")
        if cause in SHAPE_CAUSES:
            shape_total += 1
            recognised += bool(readings)
            if not readings:
                core = tbs[-1].core_message if tbs else text.strip().splitlines()[-1:]
                sig = signature(f"{tbs[-1].core_type}: {core}" if tbs else str(core))
                missing[sig] += 1
                example.setdefault(sig, str(rec.get("id")))
        elif readings:
            false_alarms[f"{readings[0].family.id}: {signature(tbs[-1].core_message)}"] += 1
    print(f"shape-fault records recognised: {recognised}/{shape_total} ({recognised / max(shape_total, 1):.1%})")
    print("\nper family (labelled causes):")
    by_id = {f.id: f for f in families.families}
    for fid, counts in sorted(per_family.items(), key=lambda kv: -sum(kv[1].values())):
        undeclared = sorted(c for c in counts if c in SHAPE_CAUSES and c not in by_id[fid].causes)
        flag = f"   <- labelled but not declared: {undeclared}" if undeclared else ""
        print(f"  {fid:40s} {sum(counts.values()):5d}  {dict(counts.most_common())}{flag}")
    print(f"\nshape faults no family recognises ({sum(missing.values())}), by message shape:")
    for sig, n in missing.most_common(args.unrecognised):
        print(f"  {n:4d}  {sig}   [{example[sig]}]")
    if false_alarms:
        print(f"\nnone/other records a family recognises ({sum(false_alarms.values())}):")
        for sig, n in false_alarms.most_common(20):
            print(f"  {n:4d}  {sig}")


if __name__ == "__main__":
    main()
