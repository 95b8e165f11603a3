"""Sending reports without ever blocking the program for long, and spooling what could not be sent.

Each report goes out on its own daemon thread (reports are rare; a thread per report also survives fork,
unlike a long-lived worker). The caller waits on it for a bounded time; a report still in flight when
that time is up is spooled, and if the thread delivers it after all, it removes the spooled copy.

A 429 or 503 with Retry-After makes the spool remember "not before <time>": spooled reports are not resent before
then, by the background flush of a later run nor by `python -m diagnoser_client flush` (but `flush --force`).
A new crash is still sent: one request, the one the user is waiting for. Nothing here ever sleeps for it.

Importing this module is cheap (install() makes a Delivery): the HTTP side, `transport`, is imported on first use.
"""

from __future__ import annotations

import threading
import time

from diagnoser_client._log import logger
from diagnoser_client.spool import Spool

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable

    from diagnoser_client.config import Config
    from diagnoser_client.transport import Outcome


def _outcome(**fields: Any) -> Outcome:
    from diagnoser_client.transport import Outcome

    return Outcome(**fields)


def _send(config: Config, endpoint: str, payload: dict[str, Any]) -> Outcome:
    from diagnoser_client import transport

    return transport.send(endpoint, config.token, payload, config.connect_timeout)


class Result:
    """What became of one report: the service's answer (or why there is none) and where it was spooled."""

    __slots__ = ("outcome", "spooled_to")

    def __init__(self, outcome: Outcome, spooled_to: str | None = None) -> None:
        self.outcome = outcome
        self.spooled_to = spooled_to

    def __repr__(self) -> str:
        return f"Result(outcome={self.outcome!r}, spooled_to={self.spooled_to!r})"


class Pending:
    """One report in flight."""

    def __init__(self, delivery: Delivery, payload: dict[str, Any], on_done: Callable[[Result], None] | None):
        self._delivery = delivery
        self._payload = payload
        self._on_done = on_done
        self._lock = threading.Lock()
        self._done = threading.Event()
        self._result: Result | None = None
        self._abandoned_to: str | None = None
        self._abandoned = False
        self.thread = threading.Thread(target=self._run, name="diagnoser-send", daemon=True)

    def _run(self) -> None:
        config = self._delivery.config
        try:
            outcome = _send(config, config.endpoint or "", self._payload)
        except BaseException as exc:  # transport returns values; this is the last net
            outcome = _outcome(error=f"{type(exc).__name__}: {exc}")
        with self._lock:
            if self._abandoned:
                self._delivery.remember_wait(outcome)
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

    def wait(self, timeout: float, budget: float | None = None) -> Result:
        """The result; a report not delivered within `timeout` is spooled and reported as such (as not answered
        within `budget`, the caller's whole allowance, when given: building the report took the rest of it)."""
        if not self._abandoned:  # once given up on (and spooled), nobody waits for it again
            self._done.wait(max(0.0, timeout))
        with self._lock:
            if self._result is not None:
                return self._result
            if not self._abandoned:
                self._abandoned = True
                self._abandoned_to = self._delivery.spool.put(self._payload, self._delivery.config.url)
            said = timeout if budget is None else budget
            return Result(_outcome(error=f"no answer within {said:.1f} s"), self._abandoned_to)


class Delivery:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.spool = Spool(config.spool_dir, config.spool_max_files, config.spool_max_bytes)
        self._lock = threading.Lock()
        self._pending: list[Pending] = []
        self._flusher: threading.Thread | None = None

    def submit(self, payload: dict[str, Any], on_done: Callable[[Result], None] | None = None) -> Pending:
        pending = Pending(self, payload, on_done)
        with self._lock:
            self._pending = [p for p in self._pending if not p.finished]  # a long run may fail in many threads
            self._pending.append(pending)
        try:
            pending.thread.start()
        except RuntimeError:  # "can't create new thread at interpreter shutdown": send from here instead
            pending._run()
        return pending

    def settle(self, payload: dict[str, Any], outcome: Outcome) -> Result:
        """Spool what is worth retrying; the rest is final."""
        self.remember_wait(outcome)
        spooled = self.spool.put(payload, self.config.url) if outcome.retry else None
        return Result(outcome, spooled)

    def remember_wait(self, outcome: Outcome) -> None:
        """A 429/503 with Retry-After: the spool keeps "not before" for every later resend."""
        if outcome.not_before is not None and outcome.retry:
            self.spool.set_not_before(outcome.not_before, outcome.status)

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

    def flush_spool(self, force: bool = False) -> dict[str, Any]:
        """Resend spooled reports, oldest first; stop at the first sign the service is unreachable.

        Returns the counts of this flush, taken after it: "delivered", "dropped" (refused for good), "kept"
        (claimed and put back), "waiting" (in the spool now, whoever put them there), and "not_before" (epoch
        seconds, or None) when the service asked to wait. Before that time nothing is sent unless `force`.
        """
        counts: dict[str, Any] = {"delivered": 0, "kept": 0, "dropped": 0, "waiting": 0, "not_before": None}
        if not force:
            counts["not_before"] = self.spool.not_before()
        if counts["not_before"] is None:
            self._resend(counts)
            if counts["delivered"] and "stopped" not in counts:
                self.spool.clear_not_before()  # the service takes reports again: an old wait is moot
        counts["waiting"] = len(self.spool)
        if counts["not_before"] is None:
            counts["not_before"] = self.spool.not_before()  # this flush may just have been asked to wait
        return counts

    def _resend(self, counts: dict[str, Any]) -> None:
        stop: Outcome | None = None
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
            outcome = _send(self.config, endpoint, record["payload"])
            if outcome.delivered:
                self.spool.discard(claimed)
                counts["delivered"] += 1
            elif outcome.retry or outcome.status in (401, 403):
                self.spool.release(claimed)  # the service or the token will come back; the report keeps
                counts["kept"] += 1
                self.remember_wait(outcome)
                stop = outcome
            else:
                logger.warning("dropping spooled report %s: the service refused it (%s)", claimed, outcome.describe())
                self.spool.discard(claimed)
                counts["dropped"] += 1
        if stop is not None:
            counts["stopped"] = stop.describe()
            logger.info("spool flush stopped: %s", stop.describe())
        if counts["delivered"] or counts["dropped"]:
            logger.info("spool flush: %s", counts)

    def flush_spool_in_background(self) -> None:
        """At install: resend what waits, on a daemon thread, unless the service asked to wait (nothing starts)."""
        if not self.spool.entries():
            return
        not_before = self.spool.not_before()
        if not_before is not None:
            logger.info("spooled reports wait: the service asked for nothing before %s", time.ctime(not_before))
            return

        def run() -> None:
            try:
                self.flush_spool()
            except Exception:
                logger.warning("spool flush failed", exc_info=True)

        self._flusher = threading.Thread(target=run, name="diagnoser-flush", daemon=True)
        self._flusher.start()
