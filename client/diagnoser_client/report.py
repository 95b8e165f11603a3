"""The body of POST /api/v1/reports for one exception, scrubbed and bounded in size."""

from __future__ import annotations

from types import TracebackType
from typing import Any, Dict, Optional

from diagnoser_client import capture, meta
from diagnoser_client.config import Config
from diagnoser_client.frames import collect_source, format_traceback
from diagnoser_client.scrub import scrub

MAX_TRACEBACK_CHARS = 200_000


def _bounded(text: Optional[str], limit: int) -> Optional[str]:
    if text is None or len(text) <= limit:
        return text
    half = limit // 2
    return text[:half] + "\n[... truncated by diagnoser_client ...]\n" + text[-half:]


def build(
    config: Config,
    exc_type: type,
    exc: BaseException,
    tb: Optional[TracebackType],
    thread: Optional[str] = None,
) -> Dict[str, Any]:
    secrets = (config.token,)
    payload: Dict[str, Any] = {
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
        payload["inputs"] = inputs
    payload["meta"] = meta.collect(config.run_id, config.tags, secrets, thread)
    return payload
