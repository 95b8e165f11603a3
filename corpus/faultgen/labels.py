"""The Case type shared by the case generators and the runner, and the functions that turn a run
into a corpus record (dev.jsonl's fields plus env, arch, phase, params, case_id).

Stdlib only: it is imported both by the runner inside every venv and by generate.py.

Labelling is by construction: label_cause is the cause of the planted mutation, whatever message
the library printed. Only label_layer is read off the message, because dev.jsonl's convention is
"the offending layer's name as the message prints it" (e.g. the model's own name "sequential"
when tf.keras reports its input check, "" when the message names no layer).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

CAUSES = ("data_preprocessing", "layer_definition", "input_pipeline", "input_layer",
          "layer_combination", "loss_label_mismatch", "none", "other")


@dataclass
class Case:
    """One planted fault (snippet) and its unmutated base script (control)."""

    case_id: str
    fault_id: str
    cause: str
    arch: str
    phase: str                 # where the fault is expected to fire
    snippet: str               # the mutated script
    control: str               # the same script without the fault; must exit 0
    fix: str                   # one concrete sentence with the case's numbers
    notes: str                 # what was planted
    params: dict[str, Any] = field(default_factory=dict)
    clear_session: bool = True
    keep_control: bool = False  # also emit the control run as a `none` record
    expect_exc: tuple[str, ...] = ()   # exception types the fault itself plants (NameError, ...)
    valid_if_silent: str = ""   # if set and the fault run exits 0: label none, with this note
    summary_kind: str = "keras"  # keras | torch | none: how to cut stdout_summary out of stdout


# --- label_layer: the layer name as the message prints it -------------------------------------
_LAYER_PATTERNS = [
    re.compile(r"""calling layer ['"]([\w/.-]+)['"]"""),           # tf.keras: calling layer "reshape"
    re.compile(r"""of layer ['"]([\w/.-]+)['"]"""),                 # Input 0 of layer "conv2d" ...
    re.compile(r"""Exception encountered when calling (\w+)\.call\(\)"""),  # keras 3
    re.compile(r"""due to downsampling in (\w+)\."""),             # tf.keras conv output <= 0
    re.compile(r"""Layer ['"]([\w/.-]+)['"] \(of type \w+\) was passed"""),
]


def _innermost_message(msg: str) -> str:
    """tf.keras wraps graph-mode errors in "in user code: ... ValueError: <real message>"."""
    if msg.startswith("in user code:"):
        m = list(re.finditer(r"\n\s*(\w+(?:Error|Exception)): ", msg))
        if m:
            return msg[m[-1].end():]
    return msg


def label_layer_from_message(msg: str) -> str:
    inner = _innermost_message(msg)
    for pat in _LAYER_PATTERNS:   # order matters: it reproduces dev.jsonl's choices
        m = pat.search(inner)
        if m:
            return m.group(1)
    return ""


# --- stdout_summary ------------------------------------------------------------------------------
_KERAS_SUMMARY = re.compile(r'^Model: ".*?"\n.*?Non-trainable params:[^\n]*\n(?:_{10,}\n)?', re.S | re.M)
_TORCH_REPR = re.compile(r"^\w+\(\n.*?^\)\n", re.S | re.M)


def extract_summary(stdout: str, kind: str) -> str:
    if kind == "keras":
        parts = _KERAS_SUMMARY.findall(stdout)
    elif kind == "torch":
        parts = _TORCH_REPR.findall(stdout)
    else:
        parts = []
    return "".join(parts).rstrip("\n")


# --- phase: where the fault really fired ------------------------------------------------------------
_TB_FRAME = re.compile(r'^  File "train\.py", line (\d+), in (\S+)\n(?:    (.*)\n)?', re.M)


def detect_phase(stderr: str, declared: str) -> str:
    """Read the train.py frames of the last traceback; fall back to the declared phase."""
    tb = stderr.rsplit("Traceback (most recent call last):", 1)
    if len(tb) < 2:
        return declared
    frames = _TB_FRAME.findall(tb[1])
    if not frames:
        return declared
    funcs = [f[1] for f in frames]
    outer = frames[0][2] or ""
    inner_func = funcs[-1]
    text = tb[1]
    if "torch/utils/data/_utils/collate.py" in text:
        return "collate"
    if "__getitem__" in funcs or "__len__" in funcs:
        return "getitem" if declared not in ("collate",) else declared
    if inner_func == "forward":
        return "forward"
    last_file_func = re.findall(r'^  File "([^"]+)", line \d+, in (\S+)', text, re.M)
    if last_file_func and "torch/nn/" in text:
        lf, lfn = last_file_func[-1]
        if lf.endswith("nn/modules/loss.py") or lfn in ("cross_entropy", "binary_cross_entropy_with_logits",
                                                          "binary_cross_entropy", "mse_loss", "nll_loss"):
            return "loss"
        if "nn/modules/" in lf or "nn/functional.py" in lf:
            return "forward"
    if "collate" in inner_func:
        return "collate"
    if ".backward(" in outer or ".step(" in outer:
        return "backward"
    if re.search(r"\b(loss_fn|criterion|loss)\s*\(", outer) or "F.cross_entropy" in outer or "F.mse_loss" in outer:
        return "loss"
    if ".fit(" in outer or ".fit_generator(" in outer:
        return declared if declared in ("validation", "map", "generator", "loss") else "fit"
    if ".evaluate(" in outer:
        return "evaluate"
    if ".predict(" in outer:
        return "predict"
    if ".compile(" in outer:
        return "compile"
    if ".map(" in outer:
        return "map"
    return declared


# --- in-process artifacts -------------------------------------------------------------------------
# TF counts tf.function traces per process; after many cases in one process it logs a retracing
# warning that a fresh `python train.py` would never print. It is the only line removed.
_RETRACING = re.compile(r"^WARNING:tensorflow:\d+ out of the last \d+ calls to .*? triggered tf\.function retracing\..*\n", re.M)


def scrub_inprocess_artifacts(stderr: str) -> str:
    return _RETRACING.sub("", stderr)


# --- records --------------------------------------------------------------------------------------
def _base(case: Case, res: dict[str, Any], startup: str, env: str, framework: str,
          versions: dict[str, str]) -> dict[str, Any]:
    return {
        "id": f"{env}__{case.case_id}",
        "fault_id": case.fault_id,
        "framework": framework,
        "lib_versions": versions,
        "snippet": case.snippet,
        "stderr": scrub_inprocess_artifacts(startup + res["stderr"]),
        "stdout_summary": extract_summary(res["stdout"], case.summary_kind),
        "exc_type": res["exc_type"],
        "exc_message": res["exc_message"],
        "exit_code": res["exit_code"],
    }


def fault_record(case: Case, res: dict[str, Any], startup: str, env: str, framework: str,
                 versions: dict[str, str]) -> dict[str, Any]:
    rec = _base(case, res, startup, env, framework, versions)
    cause, fix, notes, layer = case.cause, case.fix, case.notes, ""
    phase = case.phase
    if res["exit_code"] == 0 and not res["exc_type"]:
        if case.cause in ("none", "other"):
            pass
        elif case.valid_if_silent:
            cause, fix = "none", "nothing to fix: " + case.valid_if_silent
            notes = f"{case.notes}; accepted by this version: {case.valid_if_silent}"
        else:
            notes = f"SILENT: no exception on this version; planted: {case.notes}"
    else:
        layer = label_layer_from_message(res["exc_message"])
        phase = detect_phase(rec["stderr"], case.phase)
        if phase != case.phase:
            notes = f"{notes} (fired in {phase}, not {case.phase} as planned)"
    if cause == "none":
        phase = "none"
    rec.update({
        "label_cause": cause, "label_layer": layer, "label_fix": fix, "notes": notes,
        "env": env, "arch": case.arch, "phase": phase, "params": case.params,
        "case_id": case.case_id,
    })
    return rec


def control_record(case: Case, res: dict[str, Any], startup: str, env: str, framework: str,
                   versions: dict[str, str]) -> dict[str, Any]:
    rec = _base(case, res, startup, env, framework, versions)
    rec["snippet"] = case.control
    rec.update({
        "id": f"{env}__{case.case_id}__control",
        "fault_id": f"none__{case.fault_id}",
        "label_cause": "none", "label_layer": "",
        "label_fix": "nothing to fix: the script is correct",
        "notes": f"control: the unmutated base of {case.fault_id} ({case.arch})",
        "env": env, "arch": case.arch, "phase": "none", "params": case.params,
        "case_id": f"{case.case_id}__control",
    })
    return rec
