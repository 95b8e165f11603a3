#!/usr/bin/env python3
"""Which library error templates the families recognise: a coverage audit written from the libraries' source.

    python corpus/template_probe.py                    # corpus/templates.yaml
    python corpus/template_probe.py --missing          # only the templates no family recognises
    python corpus/template_probe.py --id torch-linear  # one template, with the facts read
    python corpus/template_probe.py --families DIR     # another set of families (git archive of an older commit)

corpus/templates.yaml lists one entry per message template a library raises (library, versions, the source file
and function that builds it, the message as that version prints it with plausible numbers, and the causes it can
come from, or `other` for the non-shape errors that look alike). Each message is probed twice: as the bare error
line a user pastes, and as a full traceback whose last frame is the library's file (so the parser's unwrapping
takes part). A template counts as recognised when one family recognises both; a template labelled `other` that
a shape family claims is a false alarm, one that an `other-*` family claims is recognised as `other`, and one
that two families claim is ambiguous (families of neighbouring checks must not share a message).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diagnoser.engine.families import SHAPE_CAUSES, FamilySet, load_families  # noqa: E402
from diagnoser.engine.familycheck import parsed_tracebacks  # noqa: E402

DEFAULT = ROOT / "corpus" / "templates.yaml"
PROBLEMS = ("MISSING", "partial", "FALSE-ALARM", "AMBIGUOUS")


def as_traceback(template: dict[str, Any]) -> str:
    """The message as the last line of a traceback whose innermost frame is the library's source file (a template
    marked `raw` is already a whole paste: a notebook's traceback, a log)."""
    if template.get("raw"):
        return str(template["message"])
    frame = template.get("frame") or "<venv>/lib/python3.11/site-packages/lib/module.py"
    lines = [
        "Traceback (most recent call last):",
        '  File "train.py", line 42, in <module>',
        "    out = model(x)",
        f'  File "{frame}", line 100, in call',
        "    raise error",
    ]
    return "\n".join(lines) + "\n" + template["message"].rstrip("\n") + "\n"


def recognise(families: FamilySet, text: str) -> tuple[list[str], dict[str, Any]]:
    tbs = parsed_tracebacks(text)
    if not tbs:
        return [], {}
    found = families.recognise(tbs[-1].core_message, tbs[-1].core_type)
    return [r.family.id for r in found], (dict(found[0].facts) if found else {})


def probe(families: FamilySet, template: dict[str, Any]) -> dict[str, Any]:
    bare, facts = recognise(families, template["message"])
    full, _ = recognise(families, as_traceback(template))
    causes = template.get("causes") or []
    shape = any(c in SHAPE_CAUSES for c in causes)
    family = bare[0] if bare and full else None
    if template.get("not_covered") and not (bare or full):
        status = "not-covered"  # read from the source and left out on purpose; the reason is in the template
    elif len(set(bare) | set(full)) > 1:
        status = "AMBIGUOUS"  # two families claim one message (tests/engine/test_families.py forbids it)
    elif shape:
        status = "ok" if family else ("partial" if bare or full else "MISSING")
    elif family is None:
        status = "ok-unrecognised"
    elif family.startswith("other-"):
        status = "ok-other"
    else:
        status = "FALSE-ALARM"
    named = ",".join(sorted(set(bare) | set(full))) if status == "AMBIGUOUS" else family or (bare or full or [None])[0]
    return {"id": template["id"], "status": status, "family": named, "facts": facts, "shape": shape}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("templates", nargs="?", default=str(DEFAULT))
    parser.add_argument("--missing", action="store_true", help="list only the templates no family recognises")
    parser.add_argument("--id", help="probe this template only, and print the facts read")
    parser.add_argument("--families", help="a folder of families to probe instead of rules/families (an older commit)")
    args = parser.parse_args()
    with open(args.templates, encoding="utf-8") as f:
        templates = yaml.safe_load(f)["templates"]
    ids = [t["id"] for t in templates]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        sys.exit(f"duplicate template ids: {dupes}")
    families = load_families(args.families)
    chosen = [t for t in templates if not args.id or t["id"] == args.id]
    results = [probe(families, t) for t in chosen]
    for t, r in zip(chosen, results, strict=True):
        if args.missing and r["status"] not in PROBLEMS:
            continue
        print(f"{r['status']:16s} {r['id']:48s} {r['family'] or '-'}")
        if args.id or r["status"] in PROBLEMS:
            print(f"{'':16s}   {t['message'].strip().splitlines()[-1][:150]}")
        if args.id:
            print(f"{'':16s}   facts: {r['facts']}")
    skipped = sum(r["status"] == "not-covered" for r in results)
    shape = [r for r in results if r["shape"] and r["status"] != "not-covered"]
    ok = sum(r["status"] == "ok" for r in shape)
    other = [r for r in results if not r["shape"] and r["status"] != "not-covered"]
    alarms = sum(r["status"] == "FALSE-ALARM" for r in other)
    ambiguous = sum(r["status"] == "AMBIGUOUS" for r in results)
    print(f"\nshape templates recognised: {ok}/{len(shape)}; non-shape look-alikes: {len(other)}, "
          f"claimed by a shape family: {alarms}; claimed by two families: {ambiguous}; left out on purpose: {skipped}")


if __name__ == "__main__":
    main()
