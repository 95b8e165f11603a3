"""Turning one exception into one report and a few printed lines, without ever raising.

Everything in `report_exception` runs inside a hook of a program that is already failing: any error of
ours is swallowed and logged to the `diagnoser_client` logger, and the user sees their own traceback
exactly as before.

Constructing a Client (install() does) imports nothing heavy: building, sending and printing a report import their
modules (frames, capture, meta, transport, render) when the first exception arrives.
"""

from __future__ import annotations

import os
import sys
import threading
import time

from diagnoser_client._log import logger

TYPE_CHECKING = False
if TYPE_CHECKING:
    from types import TracebackType
    from typing import IO

    from diagnoser_client.config import Config
    from diagnoser_client.delivery import Delivery, Result

_NOT_REPORTED = (KeyboardInterrupt, SystemExit, GeneratorExit)
_REMEMBERED = 64


def _safe_str(exc: BaseException) -> str:
    """str(exc), which runs user code (a custom __str__) and may itself raise."""
    try:
        return str(exc)
    except Exception:
        return f"<{type(exc).__name__}: str() failed>"


class Client:
    def __init__(self, config: Config) -> None:
        self.config = config
        self._delivery: Delivery | None = None
        self._lock = threading.Lock()
        self._reported: list[tuple[int, type, str]] = []  # the last _REMEMBERED
        self._said: set[object] = set()
        self._exit_deadline: float | None = None  # set when a dying program starts waiting: one budget in all

    @property
    def delivery(self) -> Delivery:
        """Made on first use: a program that never fails never imports the sending side at all."""
        found = self._delivery
        if found is None:
            from diagnoser_client.delivery import Delivery

            with self._lock:
                if self._delivery is None:
                    self._delivery = Delivery(self.config)
                found = self._delivery
        return found

    @property
    def ready(self) -> bool:
        return self.config.enabled and bool(self.config.url)

    def report_exception(
        self,
        exc_type: type,
        exc: BaseException,
        tb: TracebackType | None,
        wait: bool = True,
        thread: str | None = None,
        stream: IO[str] | None = None,
    ) -> Result | None:
        """Send the report; when `wait`, wait up to `timeout` and print the diagnosis. Never raises."""
        try:
            if not self.ready or not isinstance(exc, BaseException) or issubclass(exc_type, _NOT_REPORTED):
                return None
            # The same exception can reach two hooks (a thread's, then the main thread re-raising it). Keys, not
            # the exceptions themselves: those hold frames, and frames hold tensors.
            key = (id(exc), exc_type, _safe_str(exc)[:200])
            with self._lock:
                if key in self._reported:
                    return None
                self._reported = [*self._reported[-(_REMEMBERED - 1):], key]
            started = time.monotonic()
            if not self._first_rank_to_report(exc_type, exc, tb):
                logger.info("another rank reports this error; not sending it again")
                return None
            from diagnoser_client import report

            payload = report.build(self.config, exc_type, exc, tb, thread=thread)
            if not wait:
                self.delivery.submit(payload, on_done=lambda result: self.show(result, stream))
                return None
            pending = self.delivery.submit(payload)
            # One budget from the moment the hook starts: building the report counts too.
            deadline = started + self.config.timeout
            if self._exit_deadline is None:
                self._exit_deadline = deadline
            try:
                result = pending.wait(max(0.25, deadline - time.monotonic()), budget=self.config.timeout)
            except KeyboardInterrupt:  # the user wants out now: keep the report for later, quietly
                return pending.wait(0)
            self.show(result, stream)
            return result
        except Exception:
            logger.warning("could not report %s", getattr(exc_type, "__name__", exc_type), exc_info=True)
            return None

    def _first_rank_to_report(self, exc_type: type, exc: BaseException, tb: TracebackType | None) -> bool:
        from diagnoser_client import ranks
        from diagnoser_client.frames import raising_location

        if not self.config.dedup_ranks or ranks.rank_info() is None:
            return True
        key = ranks.error_key(exc_type.__name__, _safe_str(exc), raising_location(exc, tb))
        return ranks.claim(os.path.join(self.config.spool_dir, ".ranks"), key)

    def show(self, result: Result, stream: IO[str] | None = None) -> None:
        """Print the diagnosis, or one line about why there is none (401 and 413 once per process)."""
        try:
            from diagnoser_client.render import (
                diagnosis_lines,
                failure_line,
                use_colour,
            )

            stream = stream or sys.stderr
            colour = use_colour(stream)
            outcome = result.outcome
            if outcome.delivered:
                logger.info("report delivered: %s", outcome.body.get("report_id"))
                if not self.config.print_diagnosis:
                    return
                lines = diagnosis_lines(outcome.body, colour)
            else:
                logger.info("report not delivered: %s", outcome.describe())  # the user sees a line already
                kind = outcome.status if outcome.permanent else "retry"
                if kind in (401, 403, 413):
                    with self._lock:
                        if kind in self._said:
                            return
                        self._said.add(kind)
                lines = [failure_line(outcome, self.config.url, result.spooled_to, colour)]
            if lines and stream is not None:
                stream.write("\n".join(lines) + "\n")
                stream.flush()
        except Exception:
            logger.warning("could not print the diagnosis", exc_info=True)

    def flush_at_exit(self) -> None:
        """Wait for what is still in flight, within what is left of the exit budget (`timeout` in all)."""
        try:
            if self._delivery is None:
                return  # nothing was ever sent nor flushed
            budget = self.config.timeout
            if self._exit_deadline is not None:
                budget = max(0.0, self._exit_deadline - time.monotonic())
            self._delivery.drain(budget)
        except Exception:
            logger.warning("exit flush failed", exc_info=True)
