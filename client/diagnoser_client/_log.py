"""The client's own logger, made on first use.

A library must never write to the host's stderr by accident, so the logger gets a NullHandler (which also keeps
logging's "last resort" handler from printing our warnings). DIAGNOSER_DEBUG=1 attaches a stderr handler for
people who need to see why a report did not arrive.

`logging` is imported when the client first logs something, not when it is imported: install() must stay cheap
(logging and what it pulls in cost several milliseconds of a script's start on a bare interpreter).
"""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:
    import logging
    from typing import Any

NAME = "diagnoser_client"


def _debug_requested() -> bool:
    return os.environ.get("DIAGNOSER_DEBUG", "").strip().lower() in ("1", "true", "yes", "on")


class _LazyLogger:
    """Stands for logging.getLogger("diagnoser_client"), which it creates (and equips) on the first call."""

    __slots__ = ("_logger",)

    def __init__(self) -> None:
        self._logger: logging.Logger | None = None

    def get(self) -> logging.Logger:
        found = self._logger
        if found is None:
            import logging

            found = logging.getLogger(NAME)
            found.addHandler(logging.NullHandler())
            if _debug_requested():
                handler = logging.StreamHandler()
                handler.setFormatter(logging.Formatter("diagnoser_client %(levelname)s: %(message)s"))
                found.addHandler(handler)
                found.setLevel(logging.DEBUG)
            self._logger = found
        return found

    def debug(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().debug(msg, *args, stacklevel=2, **kwargs)

    def info(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().info(msg, *args, stacklevel=2, **kwargs)

    def warning(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().warning(msg, *args, stacklevel=2, **kwargs)

    def error(self, msg: str, *args: Any, **kwargs: Any) -> None:
        self.get().error(msg, *args, stacklevel=2, **kwargs)


logger = _LazyLogger()

if _debug_requested():  # someone is looking: set it up now, as before
    logger.get()
