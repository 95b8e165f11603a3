#!/usr/bin/env python3
"""Print the corpus counts as Markdown (pasted into corpus/README.md): per env versions, kept,
silent, dropped (with reasons), causes, architectures, phases, fault kinds, and the faults whose
outcome differs across versions (raised in one env, silent or accepted in another)."""
from __future__ import annotations

import collections
import glob
import json
import os
import re

OUT_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "generated")
CAUSES = ["data_preprocessing", "layer_definition", "input_pipeline", "input_layer",
          "layer_combination", "loss_label_mismatch", "none", "other"]


def load() -> dict[str, list[dict]]:
    out = {}
    for p in sorted(glob.glob(os.path.join(OUT_DIR, "*.jsonl"))):
        if p.endswith(".dropped.jsonl"):
            continue
        out[os.path.basename(p)[:-6]] = [json.loads(l) for l in open(p, encoding="utf-8") if l.strip()]
    return out


def main() -> None:
    data = load()
    print("| env | versions | kept | silent | dropped | " + " | ".join(c[:10] for c in CAUSES) + " |")
    print("|---|---|---|---|---|" + "---|" * len(CAUSES))
    tot = collections.Counter()
    arch = collections.Counter()
    kinds = collections.Counter()
    phase = collections.Counter()
    drops = collections.Counter()
    arch_cause: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    for env, recs in data.items():
        kept = [r for r in recs if not r["notes"].startswith("SILENT:")]
        sil = len(recs) - len(kept)
        dp = os.path.join(OUT_DIR, f"{env}.dropped.jsonl")
        dl = [json.loads(l) for l in open(dp)] if os.path.exists(dp) else []
        for d in dl:
            drops[re.sub(r"[:(].*", "", d["reason"]).strip()] += 1
        c = collections.Counter(r["label_cause"] for r in kept)
        tot.update(c)
        tot["_kept"] += len(kept)
        tot["_silent"] += sil
        tot["_dropped"] += len(dl)
        for r in kept:
            arch[r["arch"]] += 1
            arch_cause[r["arch"]][r["label_cause"]] += 1
            kinds[r["fault_id"]] += 1
            phase[r["phase"]] += 1
        v = recs[0]["lib_versions"] if recs else {}
        vs = " ".join(f"{k} {x}" for k, x in v.items() if k != "python")
        print(f"| {env} | {vs} | {len(kept)} | {sil} | {len(dl)} | " + " | ".join(str(c[x]) for x in CAUSES) + " |")
    print(f"| **all** | | {tot['_kept']} | {tot['_silent']} | {tot['_dropped']} | " + " | ".join(str(tot[x]) for x in CAUSES) + " |")
    neg = tot["none"] + tot["other"]
    print(f"\nnone+other: {neg} of {tot['_kept']} kept ({100 * neg / max(1, tot['_kept']):.1f}%)")
    print("\ndrop reasons: " + ", ".join(f"{k} {n}" for k, n in drops.most_common()))
    print("\narchs: " + ", ".join(f"{k} {n}" for k, n in sorted(arch.items())))
    print("\n| arch | kept | " + " | ".join(c[:10] for c in CAUSES) + " |")
    print("|---|---|" + "---|" * len(CAUSES))
    for a in sorted(arch_cause):
        c = arch_cause[a]
        print(f"| {a} | {sum(c.values())} | " + " | ".join(str(c[x]) for x in CAUSES) + " |")
    print("\nphases: " + ", ".join(f"{k} {n}" for k, n in sorted(phase.items())))
    real = sorted(k for k in kinds if not k.startswith("none__"))
    print(f"\nfault kinds ({len(real)}): " + ", ".join(real))
    # version differences: same case id, raised in one env, silent/accepted in another
    outcome: dict[str, dict[str, str]] = collections.defaultdict(dict)
    for env, recs in data.items():
        for r in recs:
            if r["case_id"].endswith("__control"):
                continue
            o = "SILENT" if r["notes"].startswith("SILENT:") else ("ok" if not r["exc_type"] else r["exc_type"].rsplit(".", 1)[-1])
            outcome[r["fault_id"]][env] = outcome[r["fault_id"]].get(env, "") + "," + o
    print("\nfaults that raise in some envs and are silent/accepted in others:")
    for fid, per in sorted(outcome.items()):
        silent_envs = [e for e, o in per.items() if ("SILENT" in o or ",ok" in o) and not re.search(r"Error|Exception", o)]
        raising = [e for e, o in per.items() if re.search(r"Error|Exception", o)]
        if silent_envs and raising:
            print(f"- {fid}: quiet in {', '.join(sorted(silent_envs))}")


if __name__ == "__main__":
    main()
