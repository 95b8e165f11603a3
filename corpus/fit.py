#!/usr/bin/env python3
"""Fit the evidence model's weights on our own corpus and write rules/weights.json.

    python corpus/fit.py [--l2 5]

The weights are fitted on every record of corpus/generated and tests/fixtures/real*/ (our own runs, in the five
regimes of corpus/learning.py) and of corpus/dev (the team's development runs: in the final fit only, never in a
fold); the temperature that calibrates them is fitted on the held-out answers of
leave-one-version-out and leave-one-architecture-out folds, so a confidence is what the model earns on library
versions and kinds of model it did not see. The families' own examples (rules/families/*.yaml) are fitted on too,
as written, and never held out.
Never edit the weights by hand: change the corpus or the features and fit again.
"""

from __future__ import annotations

import argparse
import datetime
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import evaluate  # noqa: E402
import learning as L  # noqa: E402

OUT = L.ROOT / "rules" / "weights.json"
PRUNE = 1e-3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--l2", type=float, default=5.0)
    parser.add_argument("--out", default=str(OUT))
    args = parser.parse_args()
    records = L.load() + L.family_records()
    # held-out logits of every version fold and every architecture fold, for the temperature: a confidence is
    # what the model earns on versions and on kinds of model it was not fitted on
    z_all, masks, ys = [], [], []
    everything = L.fit(L.examples(records), l2=args.l2)
    for split in ("version", "arch"):
        groups = evaluate.folds(records, split)
        for name, test in sorted(groups.items()):
            if name in ("unknown", L.EXAMPLES, L.DEV):
                continue
            model = L.fit(L.examples(L.held_out_training(records, test)), l2=args.l2, start=everything)
            exs = L.examples(test)
            if exs:
                z, mask = L.predict_logits(model, exs)
                z_all.append(z)
                masks.append(mask)
                ys.append(np.array([L.CAUSES.index(e.label) for e in exs]))
            print(f"  fold {split}={name}", file=sys.stderr)
    temperature = L.fit_temperature(np.vstack(z_all), np.vstack(masks), np.concatenate(ys))
    examples = L.examples(records)
    model = everything
    weights = {}
    for i, name in enumerate(model.features):
        row = {
            c: round(float(model.weights[i, j]), 4) for j, c in enumerate(L.CAUSES) if abs(model.weights[i, j]) >= PRUNE
        }
        if row:
            weights[name] = row
    doc = {
        "causes": list(L.CAUSES),
        "bias": {c: round(float(model.bias[j]), 4) for j, c in enumerate(L.CAUSES)},
        "temperature": round(temperature, 4),
        "meta": {
            "fitted": datetime.date.today().isoformat(),
            "l2": args.l2,
            "examples": len(examples),
            "records": len(records),
            "features": len(weights),
            "by": "corpus/fit.py: corpus/generated, tests/fixtures/real*, corpus/dev, the families' examples",
        },
        "weights": dict(sorted(weights.items())),
    }
    Path(args.out).write_text(json.dumps(doc, indent=0, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out}: {len(weights)} features, {len(examples)} examples, temperature {temperature:.3f}")


if __name__ == "__main__":
    main()
