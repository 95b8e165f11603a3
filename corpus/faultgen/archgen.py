"""Shared machinery for the architecture templates of the second generation (cases_keras_arch.py,
cases_torch_arch.py) and the third (cases_keras_arch3.py, cases_torch_arch3.py).

Why templates instead of one function per fault kind: each new architecture is one correct script
with several mutation points. `template(p, mut, fault)` draws every parameter first (the same
draws for the fault and its control), then writes the script; `mut` names the variant (it may
force a model style so that fault and control share it) and `fault` switches the mutation on.
The label of every record is the cause registered with the mutation, never the message.
"""
from __future__ import annotations

import random
import zlib
from collections.abc import Callable
from dataclasses import dataclass

from kbuild import P
from labels import Case

Template = Callable[[P, str, bool], tuple[str, str, str]]

ABBR = {"data_preprocessing": "dp", "layer_definition": "ld", "input_pipeline": "ip", "input_layer": "il",
        "layer_combination": "lc", "loss_label_mismatch": "ll", "other": "other", "none": "none"}


@dataclass
class Mut:
    arch: str
    mut: str
    cause: str
    phase: str
    template: Template
    n: int = 2
    tf: bool = False            # needs TensorFlow itself (tf.data, TextVectorization, GradientTape)
    expect: tuple[str, ...] = ()
    valid_if_silent: str = ""

    @property
    def fault_id(self) -> str:
        return f"{ABBR[self.cause]}_{self.arch.removeprefix('torch_')}_{self.mut}" if self.arch.startswith("torch_") \
            else f"{ABBR[self.cause]}_{self.arch}_{self.mut}"


def register(registry: list[Mut], arch: str, template: Template, muts: list[tuple], tf: bool = False) -> None:
    """muts: (mut, cause, phase[, n[, extra dict]]) tuples."""
    for m in muts:
        name, cause, phase = m[0], m[1], m[2]
        n = m[3] if len(m) > 3 else 2
        extra = m[4] if len(m) > 4 else {}
        registry.append(Mut(arch, name, cause, phase, template, n, extra.get("tf", tf),
                            tuple(extra.get("expect", ())), extra.get("valid_if_silent", "")))


def build_cases(registry: list[Mut], env: str, framework: str, backend: str, keras: bool) -> list[Case]:
    from envs import ENVS
    spec = ENVS.get(env, {})
    scale = spec.get("new_scale", spec.get("scale", 1.0))
    share = spec.get("new_share", 1.0)
    cases: list[Case] = []
    for k in registry:
        if k.tf and backend != "tensorflow":
            continue
        fid = k.fault_id
        if share < 1.0 and zlib.crc32(f"{fid}|{k.arch}".encode()) % 1000 >= share * 1000:
            continue   # env runs a consistent share of the mutations
        for i in range(max(1, round(k.n * scale))):
            cid = f"{fid}__{k.arch}__{i}"
            seed = f"{fid}|{k.arch}|{i}"
            pf = P(seed, env, framework, backend, k.arch)
            pc = P(seed, env, framework, backend, k.arch)
            snippet, fix, notes = k.template(pf, k.mut, True)
            control, _, _ = k.template(pc, k.mut, False)
            assert pf.params == pc.params, f"{cid}: fault and control drew different parameters"
            erng = random.Random(f"{env}|{cid}")
            clear = (erng.random() < 0.85) if keras else True
            keep_control = (zlib.crc32(f"{env}|{cid}".encode()) % 100) < 6 and k.cause != "none"
            arch = k.arch
            if pf.params.get("model_style") == "subclassed":
                arch = f"{arch}_subclassed"
            if keras and not clear:
                notes += "; Keras session not cleared after the previous case (auto-numbered layer names continue)"
            cases.append(Case(case_id=cid, fault_id=fid, cause=k.cause, arch=arch, phase=k.phase,
                              snippet=snippet, control=control, fix=fix, notes=notes, params=dict(pf.params),
                              clear_session=clear, keep_control=keep_control, expect_exc=k.expect,
                              valid_if_silent=k.valid_if_silent, summary_kind="keras" if keras else "torch"))
    return cases


def lines_to_script(blocks: list[list[str]]) -> str:
    out: list[str] = []
    for b in blocks:
        if b:
            out += b + [""]
    while out and out[-1] == "":
        out.pop()
    return "\n".join(out) + "\n"


def odd(p: P, name: str, options: list[int]) -> int:
    """Sizes that are not the usual round numbers."""
    return p.choice(name, options)
