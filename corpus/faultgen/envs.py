"""Virtualenv specifications: one env = one library-version combination the corpus is run on.

Why a Python module and not TOML: the orchestrator (generate.py) runs on the system python
and the runner inside each venv imports nothing from here, so a plain dict with no parser
dependency is the simplest thing both sides can read.

Each env has:
  pip        requirements installed with `pip install` into /work/venvs/<name> (python3.11 -m venv)
  framework  the record's `framework` field: keras3, tf_keras2 (tf.keras of TF <= 2.15 and the
             tf-keras package) or torch
  env        extra environment variables for the runner (backend selection, legacy Keras)
  kind       which case generator module supplies the cases: "keras" or "torch"
  scale      fraction of each fault kind's parameter draws run in this env (1.0 = all); the two
             reference Keras envs run everything, the others a consistent subset (the same
             case ids everywhere) so that the whole corpus regenerates in about an hour on 2 cores
  share      (optional, default 1.0) fraction of the first-generation (fault kind, arch) pairs
             run, chosen by crc32 of "kind|arch" so every env with the same share runs the same pairs
  new_scale  (optional, default = scale) like scale, for the second-generation architecture
             templates (cases_keras_arch.py, cases_torch_arch.py and the third generation's
             cases_keras_arch3.py, cases_torch_arch3.py)
  new_share  (optional, default 1.0) like share, for the second-generation mutations
"""
from __future__ import annotations

from typing import TypedDict


class EnvSpec(TypedDict, total=False):
    pip: list[str]
    framework: str
    env: dict[str, str]
    kind: str
    scale: float
    share: float
    new_scale: float
    new_share: float


VENV_ROOT = "/work/venvs"

ENVS: dict[str, EnvSpec] = {
    "tf2.12": {
        "pip": ["tensorflow-cpu==2.12.1", "numpy<1.24"],
        "framework": "tf_keras2", "env": {}, "kind": "keras",
        "scale": 0.6, "new_share": 0.7,
    },
    "tf2.15": {
        "pip": ["tensorflow-cpu==2.15.1", "numpy<2"],
        "framework": "tf_keras2", "env": {}, "kind": "keras",
        "scale": 0.4, "new_share": 0.7,
    },
    "tf2.17_keras3.4": {
        "pip": ["tensorflow-cpu==2.17.1", "keras==3.4.1", "numpy<2"],
        "framework": "keras3", "env": {}, "kind": "keras",
        "scale": 0.4, "new_share": 0.7,
    },
    "tf2.19_keras3.8": {
        "pip": ["tensorflow-cpu==2.19.0", "keras==3.8.0"],
        "framework": "keras3", "env": {}, "kind": "keras",
        "scale": 0.4, "new_share": 0.7,
    },
    "tf2.21_keras3.15": {
        "pip": ["tensorflow-cpu==2.21.0", "keras==3.15.1"],
        "framework": "keras3", "env": {}, "kind": "keras",
        "scale": 1.0,
    },
    "tf2.21_tfkeras2.21": {
        "pip": ["tensorflow-cpu==2.21.0", "tf-keras==2.21.0"],
        "framework": "tf_keras2", "env": {"TF_USE_LEGACY_KERAS": "1"}, "kind": "keras",
        "scale": 1.0,
    },
    "keras3.15_torch": {
        "pip": ["keras==3.15.1", "torch==2.13.0"],
        "framework": "keras3", "env": {"KERAS_BACKEND": "torch"}, "kind": "keras",
        "scale": 0.4, "new_share": 0.7,
    },
    "keras3.15_jax": {
        "pip": ["keras==3.15.1", "jax[cpu]"],
        "framework": "keras3", "env": {"KERAS_BACKEND": "jax"}, "kind": "keras",
        "scale": 0.4, "new_share": 0.7,
    },
    "torch2.0.1": {
        "pip": ["torch==2.0.1", "numpy<2"],
        "framework": "torch", "env": {}, "kind": "torch",
        "scale": 1.0, "new_scale": 1.5,
    },
    "torch2.5.1": {
        "pip": ["torch==2.5.1", "numpy<2.3"],
        "framework": "torch", "env": {}, "kind": "torch",
        "scale": 1.0, "new_scale": 1.5,
    },
    "torch2.13.0": {
        "pip": ["torch==2.13.0", "numpy"],
        "framework": "torch", "env": {}, "kind": "torch",
        "scale": 1.0, "new_scale": 1.5,
    },
    # --- added in the second generation (new versions; new architectures run everywhere) ---
    "tf2.13": {
        "pip": ["tensorflow-cpu==2.13.1", "numpy<1.25"],
        "framework": "tf_keras2", "env": {}, "kind": "keras",
        "scale": 0.3, "share": 0.25,
    },
    "tf2.14": {
        "pip": ["tensorflow-cpu==2.14.1", "numpy<2"],
        "framework": "tf_keras2", "env": {}, "kind": "keras",
        "scale": 0.3, "share": 0.25,
    },
    "tf2.16_keras3.0": {
        "pip": ["tensorflow-cpu==2.16.2", "keras==3.0.5", "numpy<2"],
        "framework": "keras3", "env": {}, "kind": "keras",
        "scale": 0.3, "share": 0.25,
    },
    "tf2.16_keras3.3": {
        "pip": ["tensorflow-cpu==2.16.2", "keras==3.3.3", "numpy<2"],
        "framework": "keras3", "env": {}, "kind": "keras",
        "scale": 0.3, "share": 0.25,
    },
    "tf2.17_tfkeras2.17": {
        "pip": ["tensorflow-cpu==2.17.1", "tf-keras==2.17.0", "numpy<2"],
        "framework": "tf_keras2", "env": {"TF_USE_LEGACY_KERAS": "1"}, "kind": "keras",
        "scale": 0.3, "share": 0.25,
    },
    "torch1.13.1": {
        "pip": ["torch==1.13.1", "numpy<2"],
        "framework": "torch", "env": {}, "kind": "torch",
        "scale": 1.0, "new_scale": 1.5,
    },
    "torch2.2.2": {
        "pip": ["torch==2.2.2", "numpy<2"],
        "framework": "torch", "env": {}, "kind": "torch",
        "scale": 1.0, "new_scale": 1.5,
    },
    "torch2.3.1": {
        "pip": ["torch==2.3.1", "numpy<2"],
        "framework": "torch", "env": {}, "kind": "torch",
        "scale": 1.0, "new_scale": 1.5,
    },
}
