#!/usr/bin/env python3
"""Which library error templates the families recognise: a coverage audit written from the libraries' source.

    python corpus/template_probe.py                    # corpus/templates.yaml
    python corpus/template_probe.py --missing          # only the templates no family recognises
    python corpus/template_probe.py --id torch-linear  # one template, with the facts read

corpus/templates.yaml lists one entry per message template a library raises (library, versions, the source file
and function that builds it, the message as that version prints it with plausible numbers, and the causes it can
come from, or `other` for the non-shape errors that look alike). Each message is probed twice: as the bare error
line a user pastes, and as a full traceback whose last frame is the library's file (so the parser's unwrapping
takes part). A template counts as recognised when some family recognises both; a template labelled `other` that
a shape family claims is a false alarm, and one that an `other-*` family claims is recognised as `other`.
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


def as_traceback(template: dict[str, Any]) -> str:
    """The message as the last line of a traceback whose innermost frame is the library's source file."""
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
    if shape:
        status = "ok" if family else ("partial" if bare or full else "MISSING")
    elif family is None:
        status = "ok-unrecognised"
    elif family.startswith("other-"):
        status = "ok-other"
    else:
        status = "FALSE-ALARM"
    return {"id": template["id"], "status": status, "family": family or (bare or full or [None])[0], "facts": facts,
            "shape": shape}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("templates", nargs="?", default=str(DEFAULT))
    parser.add_argument("--missing", action="store_true", help="list only the templates no family recognises")
    parser.add_argument("--id", help="probe this template only, and print the facts read")
    args = parser.parse_args()
    with open(args.templates, encoding="utf-8") as f:
        templates = yaml.safe_load(f)["templates"]
    ids = [t["id"] for t in templates]
    dupes = sorted({i for i in ids if ids.count(i) > 1})
    if dupes:
        sys.exit(f"duplicate template ids: {dupes}")
    families = load_families()
    results = [probe(families, t) for t in templates if not args.id or t["id"] == args.id]
    for t, r in zip([t for t in templates if not args.id or t["id"] == args.id], results):
        if args.missing and r["status"] not in ("MISSING", "partial", "FALSE-ALARM"):
            continue
        print(f"{r['status']:16s} {r['id']:48s} {r['family'] or '-'}")
        if args.id or r["status"] in ("MISSING", "partial", "FALSE-ALARM"):
            print(f"{'':16s}   {t['message'].strip().splitlines()[-1][:150]}")
        if args.id:
            print(f"{'':16s}   facts: {r['facts']}")
    shape = [r for r in results if r["shape"]]
    ok = sum(r["status"] == "ok" for r in shape)
    other = [r for r in results if not r["shape"]]
    alarms = sum(r["status"] == "FALSE-ALARM" for r in other)
    print(f"\nshape templates recognised: {ok}/{len(shape)}; non-shape look-alikes: {len(other)}, "
          f"claimed by a shape family: {alarms}")


if __name__ == "__main__":
    main()
