"""The client's own logger.

A library must never write to the host's stderr by accident, so the logger gets a NullHandler (which also keeps
logging's "last resort" handler from printing our warnings). DIAGNOSER_DEBUG=1 attaches a stderr handler for
people who need to see why a report did not arrive.
"""

from __future__ import annotations

import logging
import os

logger = logging.getLogger("diagnoser_client")
logger.addHandler(logging.NullHandler())

if os.environ.get("DIAGNOSER_DEBUG", "").strip().lower() in ("1", "true", "yes", "on"):
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("diagnoser_client %(levelname)s: %(message)s"))
    logger.addHandler(_handler)
    logger.setLevel(logging.DEBUG)
