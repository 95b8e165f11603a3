"""The body of POST /api/v1/reports for one exception, scrubbed and bounded in size.

Each report carries an `event_id` (a uuid4 hex string, as Sentry's SDK gives each event), made here once: the spool
keeps the body as built, so every resend of a report carries the same id and the service can answer a repeat (a
report whose answer was lost, sent again by a later flush) with its first answer instead of storing it twice.
"""

from __future__ import annotations

import uuid
from types import TracebackType
from typing import Any

from diagnoser_client import capture, meta
from diagnoser_client.config import Config
from diagnoser_client.frames import collect_source, format_traceback
from diagnoser_client.scrub import scrub, scrub_value

MAX_TRACEBACK_CHARS = 200_000


def _bounded(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n[... truncated by diagnoser_client ...]\n" + text[-half:]


def new_event_id() -> str:
    return uuid.uuid4().hex


def build(
    config: Config,
    exc_type: type,
    exc: BaseException,
    tb: TracebackType | None,
    thread: str | None = None,
) -> dict[str, Any]:
    secrets = (config.token,)
    payload: dict[str, Any] = {
        "event_id": new_event_id(),
        "traceback": scrub(_bounded(format_traceback(exc_type, exc, tb), MAX_TRACEBACK_CHARS), secrets),
    }
    summary, inputs = capture.gather(exc, tb)
    if summary:
        payload["summary"] = scrub(summary, secrets)
    if config.send_source:
        source = collect_source(exc, tb)
        if source:
            payload["source"] = scrub(source, secrets)
    if inputs:
        payload["inputs"] = scrub_value(inputs, secrets)  # shapes only, but keys are the user's (a dict of inputs)
    payload["meta"] = meta.collect(config.run_id, config.tags, secrets, thread)
    return payload
