"""Sending reports without ever blocking the program for long, and spooling what could not be sent.

Each report goes out on its own daemon thread (reports are rare; a thread per report also survives fork,
unlike a long-lived worker). The caller waits on it for a bounded time; a report still in flight when
that time is up is spooled, and if the thread delivers it after all, it removes the spooled copy.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Dict, List, Optional

from diagnoser_client import transport
from diagnoser_client._log import logger
from diagnoser_client.config import Config
from diagnoser_client.spool import Spool
from diagnoser_client.transport import Outcome


@dataclass
class Result:
    outcome: Outcome
    spooled_to: Optional[str] = None


class Pending:
    """One report in flight."""

    def __init__(self, delivery: "Delivery", payload: Dict[str, Any], on_done: Optional[Callable[[Result], None]]):
        self._delivery = delivery
        self._payload = payload
        self._on_done = on_done
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._result: Optional[Result] = None
        self._abandoned_to: Optional[str] = None
        self._abandoned = False
        self.thread = threading.Thread(target=self._run, name="diagnoser-send", daemon=True)

    def _run(self) -> None:
        config = self._delivery.config
        try:
            outcome = transport.send(config.endpoint or "", config.token, self._payload, config.connect_timeout)
        except BaseException as exc:  # transport returns values; this is the last net
            outcome = Outcome(error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            if self._abandoned:
                if self._abandoned_to and outcome.delivered:
                    Spool.discard(self._abandoned_to)  # arrived after all: the spooled copy would be a duplicate
                return
            result = self._result = self._delivery.settle(self._payload, outcome)
        self._done.set()
        if self._on_done is not None:
            try:
                self._on_done(result)
            except Exception:
                logger.warning("could not show the result of a report", exc_info=True)

    @property
    def finished(self) -> bool:
        """Delivered, refused, spooled, or given up on: nothing left to wait for."""
        return self._done.is_set() or self._abandoned

    def wait(self, timeout: float) -> Result:
        """The result; a report not delivered within `timeout` is spooled and reported as such."""
        if not self._abandoned:  # once given up on (and spooled), nobody waits for it again
            self._done.wait(max(0.0, timeout))
        with self._lock:
            if self._result is not None:
                return self._result
            if not self._abandoned:
                self._abandoned = True
                self._abandoned_to = self._delivery.spool.put(self._payload, self._delivery.config.url)
            return Result(Outcome(error=f"no answer within {timeout:.1f} s"), self._abandoned_to)


class Delivery:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.spool = Spool(config.spool_dir, config.spool_max_files, config.spool_max_bytes)
        self._lock = threading.Lock()
        self._pending: List[Pending] = []
        self._flusher: Optional[threading.Thread] = None

    def submit(self, payload: Dict[str, Any], on_done: Optional[Callable[[Result], None]] = None) -> Pending:
        pending = Pending(self, payload, on_done)
        with self._lock:
            self._pending = [p for p in self._pending if not p.finished]  # a long run may fail in many threads
            self._pending.append(pending)
        try:
            pending.thread.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown": send from here instead
            pending._run()
        return pending

    def settle(self, payload: Dict[str, Any], outcome: Outcome) -> Result:
        """Spool what is worth retrying; the rest is final."""
        spooled = self.spool.put(payload, self.config.url) if outcome.retry else None
        return Result(outcome, spooled)

    def drain(self, timeout: float) -> None:
        """At exit: wait for reports in flight (bounded), spool the ones still out."""
        deadline = time.monotonic() + timeout
        with self._lock:
            pending, self._pending = list(self._pending), []
        for item in pending:
            if not item.finished:
                item.wait(max(0.0, deadline - time.monotonic()))
        flusher = self._flusher
        if flusher is not None and flusher.is_alive():
            flusher.join(max(0.0, min(1.0, deadline - time.monotonic())))

    # --- the spool ------------------------------------------------------------------------------------

    def flush_spool(self) -> Dict[str, int]:
        """Resend spooled reports, oldest first; stop at the first sign the service is unreachable."""
        counts = {"delivered": 0, "kept": 0, "dropped": 0}
        stop: Optional[Outcome] = None
        for claimed, record in self.spool.claim():
            if stop is not None:
                self.spool.release(claimed)
                counts["kept"] += 1
                continue
            url = self.config.url or record.get("url")
            endpoint = url.rstrip("/") + "/api/v1/reports" if url else None
            if not endpoint:
                self.spool.release(claimed)
                counts["kept"] += 1
                continue
            outcome = transport.send(endpoint, self.config.token, record["payload"], self.config.connect_timeout)
            if outcome.delivered:
                self.spool.discard(claimed)
                counts["delivered"] += 1
            elif outcome.retry or outcome.status in (401, 403):
                self.spool.release(claimed)  # the service or the token will come back; the report keeps
                counts["kept"] += 1
                stop = outcome
            else:
                logger.warning("dropping spooled report %s: the service refused it (%s)", claimed, outcome.describe())
                self.spool.discard(claimed)
                counts["dropped"] += 1
        if stop is not None:
            logger.info("spool flush stopped: %s", stop.describe())
        if counts["delivered"] or counts["dropped"]:
            logger.info("spool flush: %s", counts)
        return counts

    def flush_spool_in_background(self) -> None:
        if not self.spool.entries():
            return

        def run() -> None:
            try:
                self.flush_spool()
            except Exception:
                logger.warning("spool flush failed", exc_info=True)

        self._flusher = threading.Thread(target=run, name="diagnoser-flush", daemon=True)
        self._flusher.start()
