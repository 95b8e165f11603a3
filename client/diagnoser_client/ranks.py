"""One report per error in distributed training, not one per rank.

When eight ranks hit the same shape fault, each process dies with the same traceback a few milliseconds
apart. Each rank builds a key from the run (the launcher's run id, else the parent process) and the error
(type, message with rank-specific parts masked, the raising line) and tries to create a marker file named
by that key with O_EXCL: the first rank reports, the others stay quiet. Markers live in the spool folder, so
ranks on other nodes share them when that folder is on a shared file system; the service groups by
fingerprint in any case.
"""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time

from diagnoser_client._log import logger

_RANK_VARS = ("RANK", "OMPI_COMM_WORLD_RANK", "PMI_RANK", "PMIX_RANK", "SLURM_PROCID", "MV2_COMM_WORLD_RANK")
_LOCAL_RANK_VARS = ("LOCAL_RANK", "OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "SLURM_LOCALID")
_WORLD_SIZE_VARS = ("WORLD_SIZE", "OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "SLURM_NTASKS", "MV2_COMM_WORLD_SIZE")
_MARKER_TTL = 24 * 3600


def _first_int(names: tuple[str, ...]) -> int | None:
    for name in names:
        value = os.environ.get(name, "").strip()
        if value.lstrip("-").isdigit():
            return int(value)
    return None


def rank_info() -> dict[str, int] | None:
    """{"rank", "local_rank", "world_size"} as the launcher set them, or None in a single-process run."""
    info = {
        key: value
        for key, value in (
            ("rank", _first_int(_RANK_VARS)),
            ("local_rank", _first_int(_LOCAL_RANK_VARS)),
            ("world_size", _first_int(_WORLD_SIZE_VARS)),
        )
        if value is not None
    }
    if not info or info.get("world_size") == 1:
        return None
    return info


def run_key() -> str:
    """What all ranks of one launch share: the launcher's ids, else the parent (torchrun's agent, mpirun's orted)."""
    parts = [
        os.environ.get(name, "")
        for name in (
            "DIAGNOSER_RUN_ID",
            "TORCHELASTIC_RUN_ID",
            "SLURM_JOB_ID",
            "SLURM_STEP_ID",
            "MASTER_ADDR",
            "MASTER_PORT",
            "OMPI_COMM_WORLD_SIZE",
        )
    ]
    if not any(parts):
        parts.append(f"{socket.gethostname()}:{os.getppid()}")
    return "|".join(parts)


_MASKS = (
    (re.compile(r"0x[0-9a-fA-F]{6,}"), "0x?"),
    (re.compile(r"(?i)\b(gpu|cuda|xpu|tpu|cpu|device|rank|worker|replica|task|process|pid)([\s:_/#=-]*)\d+"), r"\1\2?"),
)


def normalize_message(message: str) -> str:
    """Mask what differs between ranks raising the same error: device and rank numbers, addresses, hostname."""
    for pattern, replacement in _MASKS:
        message = pattern.sub(replacement, message)
    host = socket.gethostname()
    return message.replace(host, "<host>") if host else message


def error_key(exc_type: str, message: str, location: str) -> str:
    text = "\n".join((run_key(), exc_type, normalize_message(message), location))
    return hashlib.sha256(text.encode("utf-8", "replace")).hexdigest()[:32]


def claim(marker_dir: str, key: str) -> bool:
    """True when this process should report the error `key`; False when another rank already does."""
    try:
        os.makedirs(marker_dir, exist_ok=True)
        _expire(marker_dir)
        fd = os.open(os.path.join(marker_dir, key), os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except FileExistsError:
        return False
    except OSError as exc:  # an unwritable folder must not silence the report
        logger.debug("rank de-duplication unavailable: %s", exc)
        return True
    try:
        os.write(fd, f"{socket.gethostname()} {os.getpid()}\n".encode())
    finally:
        os.close(fd)
    return True


def _expire(marker_dir: str) -> None:
    cutoff = time.time() - _MARKER_TTL
    try:
        with os.scandir(marker_dir) as entries:
            for entry in entries:
                try:
                    if entry.stat().st_mtime < cutoff:
                        os.unlink(entry.path)
                except OSError:
                    pass
    except OSError:
        pass
