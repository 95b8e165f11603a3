"""Metadata that lets a team tell runs apart: who, where, which run, which script, which versions.

Versions are read from modules the program already imported; importing TensorFlow or PyTorch just to ask
their version would cost seconds at crash time.
"""

from __future__ import annotations

import datetime
import getpass
import os
import platform
import socket
import sys
import uuid
from typing import Any, Dict, List, Optional

from diagnoser_client import __version__
from diagnoser_client.gitinfo import git_info
from diagnoser_client.ranks import rank_info
from diagnoser_client.scrub import scrub, scrub_argv

_PROCESS_RUN_ID = uuid.uuid4().hex
_FRAMEWORKS = ("tensorflow", "keras", "tf_keras", "torch", "jax", "numpy")

_RUN_ID_VARS = (
    "DIAGNOSER_RUN_ID",
    "TORCHELASTIC_RUN_ID",
    "MLFLOW_RUN_ID",
    "WANDB_RUN_ID",
    "SLURM_JOB_ID",
)


def run_id(configured: Optional[str] = None) -> str:
    """A run's id, shared by all its processes when the launcher gives one, else one per process."""
    if configured:
        return configured
    for name in _RUN_ID_VARS:
        value = os.environ.get(name, "").strip()
        if value and value != "none":
            return value
    return _PROCESS_RUN_ID


def framework_versions() -> Dict[str, str]:
    versions: Dict[str, str] = {}
    for name in _FRAMEWORKS:
        module = sys.modules.get(name)
        version = getattr(module, "__version__", None) if module is not None else None
        if isinstance(version, str):
            versions[name] = version
    return versions


def _user() -> Optional[str]:
    try:
        return getpass.getuser()
    except Exception:  # no passwd entry in some containers
        return None


def script_path(argv: Optional[List[str]] = None) -> Optional[str]:
    argv = sys.argv if argv is None else argv
    if argv and argv[0] and argv[0] not in ("-c", "-m", "-"):
        return os.path.abspath(argv[0])
    main = sys.modules.get("__main__")
    path = getattr(main, "__file__", None)
    return os.path.abspath(path) if isinstance(path, str) else None


def collect(
    configured_run_id: Optional[str] = None,
    tags: Optional[Dict[str, str]] = None,
    secrets: tuple = (),
    thread: Optional[str] = None,
) -> Dict[str, Any]:
    script = script_path()
    meta: Dict[str, Any] = {
        "client": {"name": "diagnoser-client", "version": __version__},
        "report_uid": uuid.uuid4().hex,
        "time": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "hostname": socket.gethostname(),
        "user": _user(),
        "pid": os.getpid(),
        "run_id": run_id(configured_run_id),
        "script": script,
        "argv": scrub_argv(list(sys.argv), secrets),
        "cwd": scrub(os.getcwd(), secrets),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "versions": framework_versions(),
    }
    git = git_info(script or os.getcwd())
    if git:
        meta["git"] = git
    ranks = rank_info()
    if ranks:
        meta["distributed"] = ranks
    if thread:
        meta["thread"] = thread
    if tags:
        meta["tags"] = dict(tags)
    return meta
