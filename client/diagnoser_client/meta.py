"""Metadata that lets a team tell runs apart: who, where, which run, which script, which versions.

Versions are read from modules the program already imported; importing TensorFlow or PyTorch just to ask
their version would cost seconds at crash time.
"""

from __future__ import annotations

import getpass
import os
import platform
import shlex
import socket
import sys
import uuid
from typing import Any

from diagnoser_client import __version__
from diagnoser_client.gitinfo import git_info
from diagnoser_client.ranks import rank_info
from diagnoser_client.scrub import scrub_argv, scrub_value

_PROCESS_RUN_ID = uuid.uuid4().hex
_FRAMEWORKS = ("tensorflow", "keras", "tf_keras", "torch", "jax", "numpy")

_RUN_ID_VARS = (
    "DIAGNOSER_RUN_ID",
    "TORCHELASTIC_RUN_ID",
    "MLFLOW_RUN_ID",
    "WANDB_RUN_ID",
    "SLURM_JOB_ID",
)


def run_id(configured: str | None = None) -> str:
    """A run's id, shared by all its processes when the launcher gives one, else one per process."""
    if configured:
        return configured
    for name in _RUN_ID_VARS:
        value = os.environ.get(name, "").strip()
        if value and value != "none":
            return value
    return _PROCESS_RUN_ID


def framework_versions() -> dict[str, str]:
    versions: dict[str, str] = {}
    for name in _FRAMEWORKS:
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module is not None else None
        if isinstance(version, str):
            versions[name] = version
    return versions


def _user() -> str | None:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return None


def script_path(argv: list[str] | None = None) -> str | None:
    argv = sys.argv if argv is None else argv
    if argv and argv[0] and argv[0] not in ("-c", "-m", "-"):
        return os.path.abspath(argv[0])
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if isinstance(path, str) else None


def _clip(value: str | None, limit: int) -> str | None:
    return value if value is None or len(value) <= limit else value[: limit - 1] + "…"


def collect(
    configured_run_id: str | None = None,
    tags: dict[str, str] | None = None,
    secrets: tuple[str | None, ...] = (),
    thread: str | None = None,
) -> dict[str, Any]:
    """The `meta` object of a report, in the service's schema (it refuses unknown fields).

    Context without a field of its own (argv, ranks, thread, branch, pid) travels as tags; the user's own
    tags win on a name clash.
    """
    script = script_path()
    versions = {"python": platform.python_version(), "diagnoser-client": __version__}
    versions.update(framework_versions())
    context: dict[str, str] = {"argv": shlex.join(scrub_argv(list(sys.argv), secrets)), "pid": str(os.getpid())}
    git = git_info(script or os.getcwd()) or {}
    if git.get("branch"):
        context["git_branch"] = git["branch"]
    ranks = rank_info()
    for key, value in (ranks or {}).items():
        context[key] = str(value)
    if thread and thread != "MainThread":
        context["thread"] = thread
    context.update(tags or {})
    tags_scrubbed = scrub_value(context, secrets)  # before clipping: a clipped secret is no longer recognisable
    meta: dict[str, Any] = {
        "hostname": _clip(socket.gethostname(), 255),
        "user": _clip(_user(), 255),
        "run_id": _clip(run_id(configured_run_id), 255),
        "script": _clip(script, 4096),
        "python_version": platform.python_version(),
        "git_commit": _clip(git.get("commit"), 64),
        "versions": {k: _clip(v, 1000) for k, v in versions.items()},
        "tags": {_clip(str(k), 255): _clip(str(v), 1000) for k, v in list(tags_scrubbed.items())[:100]},
    }
    return {k: v for k, v in meta.items() if v is not None}
