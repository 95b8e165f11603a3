"""A bounded folder of reports that could not be delivered, resent later.

Each report is one JSON file written atomically (temporary name, then rename) with owner-only permissions:
it holds source code. File names start with a nanosecond timestamp, so sorting them sorts by age and the
oldest go first when the folder exceeds its limits. A sender claims a file by renaming it to `*.sending`,
so two processes flushing at once (ranks, a run and `flush`) never send the same report twice; a claim left
by a killed process is taken back after CLAIM_TTL.

When the service answers 429 or 503 with Retry-After, the spool remembers "not before <time>" in one file of its
own (NOT_BEFORE, written atomically like the reports); nothing is resent before then but by `flush --force`.
Nobody sleeps for it: the reports simply wait for a later run or flush.
"""

from __future__ import annotations

import os
import time

from diagnoser_client._log import logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any

SUFFIX = ".json"
CLAIMED = ".sending"
CLAIM_TTL = 300.0
NOT_BEFORE = ".not-before"  # a dot name without the report suffix: never taken for a report
MAX_WAIT = 24 * 3600.0  # a Retry-After further away than this is taken as this (a bogus header must not strand reports)


def _write_atomically(folder: str, name: str, data: bytes) -> str:
    """Write folder/name via a temporary file and a rename: readers see the old file or the new one, whole."""
    path = os.path.join(folder, name)
    tmp = os.path.join(folder, f".{name.lstrip('.')}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    try:
        os.replace(tmp, path)
    except OSError:
        os.unlink(tmp)
        raise
    return path


def _alive(claimed_name: str) -> bool:
    """Whether the process that claimed a report (its pid is in the name) still runs on this machine. A
    process killed mid-send leaves its claim behind; that report must not wait CLAIM_TTL to be resent."""
    try:
        pid = int(claimed_name[: -len(CLAIMED)].rsplit(".", 1)[1])
    except (IndexError, ValueError):
        return True
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # alive but not ours (EPERM), or a platform without signals
        return True
    return True


class Spool:
    def __init__(self, folder: str, max_files: int = 100, max_bytes: int = 50 * 1024 * 1024) -> None:
        self.folder = folder
        self.max_files = max(1, max_files)
        self.max_bytes = max(1, max_bytes)

    def put(self, payload: dict[str, Any], url: str | None) -> str | None:
        """Store a report; return its path, or None when the folder is unusable (logged, never raised)."""
        try:
            import json

            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            name = f"{time.time_ns():020d}-{os.urandom(6).hex()}{SUFFIX}"
            data = json.dumps({"version": 1, "url": url, "payload": payload}, default=str).encode("utf-8")
            path = _write_atomically(self.folder, name, data)
            self.prune()
            return path if os.path.exists(path) else None
        except Exception:
            logger.warning("could not spool the report to %s", self.folder, exc_info=True)
            return None

    # --- "not before": the service's Retry-After ---------------------------------------------------------

    def not_before(self, now: float | None = None) -> float | None:
        """The time (seconds since the epoch) before which nothing is to be resent, or None when there is none
        or it has passed. An unreadable file counts as none: reports are never stranded by it."""
        path = os.path.join(self.folder, NOT_BEFORE)
        try:
            with open(path, encoding="utf-8") as fh:
                text = fh.read()
        except OSError:
            return None
        try:
            import json

            until = float(json.loads(text)["not_before"])
        except Exception:
            return None
        current = time.time() if now is None else now
        if until <= current:
            return None
        return min(until, current + MAX_WAIT)

    def set_not_before(self, until: float, status: int | None = None) -> None:
        """Remember that the service asked not to be sent anything before `until` (never raises)."""
        try:
            import json

            until = min(until, time.time() + MAX_WAIT)
            os.makedirs(self.folder, mode=0o700, exist_ok=True)
            data = json.dumps({"not_before": until, "status": status, "written": time.time()}).encode("utf-8")
            _write_atomically(self.folder, NOT_BEFORE, data)
        except Exception:
            logger.warning("could not record the service's Retry-After in %s", self.folder, exc_info=True)

    def clear_not_before(self) -> None:
        self.discard(os.path.join(self.folder, NOT_BEFORE))

    def entries(self) -> list[str]:
        """Paths of waiting reports, oldest first."""
        try:
            names = sorted(n for n in os.listdir(self.folder) if n.endswith(SUFFIX) and not n.startswith("."))
        except OSError:
            return []
        return [os.path.join(self.folder, n) for n in names]

    def prune(self) -> int:
        """Drop the oldest reports until the folder is within its limits; return how many were dropped."""
        paths = self.entries()
        sizes = []
        for path in paths:
            try:
                sizes.append(os.path.getsize(path))
            except OSError:
                sizes.append(0)
        total = sum(sizes)
        dropped = 0
        while paths and (len(paths) > self.max_files or total > self.max_bytes):
            path = paths.pop(0)
            total -= sizes.pop(0)
            try:
                os.unlink(path)
                dropped += 1
            except OSError:
                pass
        if dropped:
            logger.warning("spool over its limits: dropped the %d oldest report(s) in %s", dropped, self.folder)
        return dropped

    def claim(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """Yield (claimed path, record) for each waiting report this process managed to claim, oldest first."""
        self._reclaim_stale()
        for path in self.entries():
            claimed = f"{path}.{os.getpid()}{CLAIMED}"
            try:
                os.rename(path, claimed)
            except OSError:
                continue  # another process took it
            try:
                import json

                os.utime(claimed, None)  # the claim's age, not the report's, decides when it is stale
                with open(claimed, encoding="utf-8") as fh:
                    record = json.load(fh)
                if not isinstance(record, dict) or not isinstance(record.get("payload"), dict):
                    raise TypeError("not a spooled report")
            except Exception:
                logger.warning("dropping unreadable spooled report %s", path)
                self.discard(claimed)
                continue
            yield claimed, record

    def release(self, claimed: str) -> None:
        """Give a claimed report back to the folder (delivery failed, try again later)."""
        original = claimed.split(SUFFIX + ".", 1)[0] + SUFFIX
        try:
            os.rename(claimed, original)
        except OSError:
            pass

    @staticmethod
    def discard(path: str) -> None:
        try:
            os.unlink(path)
        except OSError:
            pass

    def _reclaim_stale(self) -> None:
        try:
            names = os.listdir(self.folder)
        except OSError:
            return
        cutoff = time.time() - CLAIM_TTL
        for name in names:
            if name.endswith(CLAIMED):
                path = os.path.join(self.folder, name)
                try:
                    if os.path.getmtime(path) < cutoff or not _alive(name):
                        self.release(path)
                except OSError:
                    pass

    def __len__(self) -> int:
        return len(self.entries())
