"""One message to one channel: build its payload, POST it, and read the answer the way each remote means it.

Every failure is one TransportError (diagnoser.notify.http), whose `permanent` disables the channel and whose
`retry` and `retry_after` drive the worker's backoff, as in healthchecks.io's transports.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from diagnoser.notify import payloads
from diagnoser.notify.http import Answer, TransportError, post

# Slack's answers to an incoming webhook that will never work again (https://api.slack.com/messaging/webhooks).
SLACK_GONE = {
    "no_service": "the webhook was removed or its app uninstalled",
    "channel_not_found": "the channel was deleted",
    "channel_is_archived": "the channel is archived",
    "action_prohibited": "a workspace admin restricted posting",
    "posting_to_general_channel_denied": "only admins may post to this channel",
    "invalid_token": "the webhook's token is no longer valid",
    "no_active_hooks": "the webhook was disabled",
    "team_disabled": "the workspace was disabled",
    "user_not_found": "the channel's user was deleted",
}

Poster = Callable[..., Answer]


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header: delay-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(min(int(text), 24 * 3600))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, min(when.timestamp() - (now if now is not None else time.time()), 24 * 3600.0))


def _short(answer: Answer) -> str:
    text = " ".join(answer.text().split())
    return text[:200]


def _check(kind: str, answer: Answer) -> None:
    """Raise the TransportError an answer means; return for a delivered message."""
    status, body = answer.status, _short(answer)
    if 200 <= status < 300:
        if kind == "slack" and body and body != "ok":
            raise TransportError(f"{status} {body}", status=status, retry=False)
        return
    what = f"{status} {body}".strip()
    if status == 429:
        raise TransportError(f"{status} rate limited", status=status, retry_after=retry_after(answer.headers.get(
            "retry-after")))
    if status >= 500 or status == 408:
        raise TransportError(what, status=status)
    if kind == "slack":
        code = body.split()[0] if body else ""
        if status in (404, 410) or code in SLACK_GONE or status == 403:
            reason = SLACK_GONE.get(code, "the webhook is gone" if status in (404, 410) else "posting is forbidden")
            raise TransportError(f"Slack answered {what}: {reason}", permanent=True, status=status)
        raise TransportError(f"Slack refused the message: {what}", status=status, retry=False)
    if kind == "mattermost":
        lowered = body.lower()
        if status in (403, 404, 410) or ("incoming_webhook" in lowered and ("invalid" in lowered
                                                                             or "disabled" in lowered)):
            raise TransportError(f"Mattermost answered {what}: the webhook is gone or disabled", permanent=True,
                                 status=status)
        raise TransportError(f"Mattermost refused the message: {what}", status=status, retry=False)
    if status == 410:
        raise TransportError(f"the receiver answered {what}: gone", permanent=True, status=status)
    raise TransportError(what, status=status)  # a receiver's 4xx may be fixed on its side: retried with backoff


def build(kind: str, views: list[dict[str, Any]], base_url: str, now: datetime) -> dict[str, Any]:
    if kind == "slack":
        return payloads.slack_message(views, base_url)
    if kind == "mattermost":
        return payloads.mattermost_message(views, base_url)
    return payloads.webhook_body(views, base_url, now.isoformat())


def send(
    kind: str, url: str, secret: str | None, views: list[dict[str, Any]], *, base_url: str, timeout: float,
    allow_private: bool, now: datetime, poster: Poster = post,
) -> Answer:
    """Send one message about `views` to the channel; its answer, or TransportError."""
    body = payloads.encode(build(kind, views, base_url, now))
    headers = {"Content-Type": "application/json; charset=utf-8"}
    if kind == "webhook" and secret:
        headers[payloads.SIGNATURE_HEADER] = payloads.sign(secret, int(now.timestamp()), body)
    answer = poster(url, body, headers, timeout=timeout, allow_private=allow_private)
    _check(kind, answer)
    return answer
