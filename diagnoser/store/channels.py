"""Notification channels of a team: add, list, change, remove, test, and what was delivered to them.

These are the functions the CLI (`diagnoser channels ...`), the HTTP API and the dashboard's settings page call;
every one that takes a `team_id` sees that team's channels only (another team's channel is simply not found).

A channel's URL is a secret (whoever holds a Slack incoming webhook's URL can post to the channel), and so is a
signed webhook's signing secret: both are kept encrypted with the Fernet key(s) of DIAGNOSER_ENCRYPTION_KEY, and
only the masked form (`url_hint`) is ever shown or logged.
"""

from __future__ import annotations

import ipaddress
import secrets
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from diagnoser.store.models import Channel, Delivery, DeliveryAttempt, OutboxEvent, Project, Team

KINDS = ("slack", "mattermost", "webhook")
EVENTS = ("new", "regressed", "spike", "digest")
NO_KEY = (
    "no encryption key for webhook URLs: set DIAGNOSER_ENCRYPTION_KEY (or DIAGNOSER_ENCRYPTION_KEY_FILE) to a key "
    "made by `diagnoser channels keygen`"
)
SECRET_PREFIX = "whsec_"


class ChannelError(ValueError):
    """A channel cannot be added or changed as asked; the message is one line a person can act on."""


# -- secrets at rest ------------------------------------------------------------------------------------------


def generate_key() -> str:
    return Fernet.generate_key().decode("ascii")


def _cipher(keys: str) -> MultiFernet:
    parts = [k.strip() for k in keys.split(",") if k.strip()]
    if not parts:
        raise ChannelError(NO_KEY)
    try:
        return MultiFernet([Fernet(k.encode("ascii")) for k in parts])
    except (ValueError, UnicodeEncodeError):
        raise ChannelError("DIAGNOSER_ENCRYPTION_KEY is not a Fernet key; make one with `diagnoser channels keygen`")\
            from None


def encrypt(keys: str, text: str) -> str:
    return _cipher(keys).encrypt(text.encode("utf-8")).decode("ascii")


def decrypt(keys: str, token: str) -> str:
    """The plaintext; ChannelError when no key given decrypts it (a key rotated away, or another database's)."""
    try:
        return _cipher(keys).decrypt(token.encode("ascii")).decode("utf-8")
    except InvalidToken:
        raise ChannelError("DIAGNOSER_ENCRYPTION_KEY does not decrypt this channel's URL (was the key changed? "
                           "keep the old one after the new: NEW,OLD)") from None


# -- targets --------------------------------------------------------------------------------------------------


def is_public_address(address: str) -> bool:
    """False for loopback, private, link-local, multicast, reserved and unspecified addresses (and IPv4 ones
    mapped into IPv6): a webhook must not make the server call into its own network."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast or ip.is_reserved
                or ip.is_unspecified or not ip.is_global)


def check_url(url: str, allow_private: bool = False) -> tuple[str, str, int]:
    """(scheme, host, port) of a webhook URL we agree to call: http(s), a host, no credentials, and unless
    `allow_private`, not a loopback/private/link-local address written literally (names are resolved and checked
    again at each request, by diagnoser.notify.http)."""
    text = url.strip()
    if len(text) > 2000:
        raise ChannelError("the URL is longer than 2000 characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in text):
        raise ChannelError("the URL holds spaces or control characters")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ChannelError("not a URL") from None
    if parts.scheme not in ("http", "https"):
        raise ChannelError("only http:// and https:// URLs can be channels")
    host = (parts.hostname or "").rstrip(".")
    if not host:
        raise ChannelError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise ChannelError("the URL must not hold a user name or password")
    if not allow_private:
        literal = _literal_address(host)
        if host.lower() == "localhost" or host.lower().endswith(".localhost") or (
            literal is not None and not is_public_address(literal)
        ):
            raise ChannelError(
                f"{host} is a loopback, private or link-local address: refused (DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS=1 "
                "allows it)"
            )
    return parts.scheme, host, port or (443 if parts.scheme == "https" else 80)


def _literal_address(host: str) -> str | None:
    try:
        return str(ipaddress.ip_address(host.strip("[]")))
    except ValueError:
        return None


def mask_url(url: str) -> str:
    """What a listing shows of a URL: its scheme and host, and the last four characters of the rest."""
    parts = urlsplit(url.strip())
    rest = url.strip()[len(f"{parts.scheme}://{parts.netloc}"):]
    tail = rest[-4:] if len(rest) > 12 else ""
    return f"{parts.scheme}://{parts.netloc}/…{tail}"[:200]


def parse_events(events: str | list[str] | None) -> str:
    """The events a channel hears, as stored ("new,regressed"); all of them when None."""
    if events is None:
        return ",".join(EVENTS)
    names = [e.strip() for e in (events.split(",") if isinstance(events, str) else events) if e.strip()]
    unknown = sorted(set(names) - set(EVENTS))
    if unknown or not names:
        raise ChannelError(f"events must be some of {','.join(EVENTS)}; got {','.join(unknown) or 'none'}")
    return ",".join(e for e in EVENTS if e in names)


def _check_digest(hour: int, tz: str) -> None:
    if not 0 <= hour <= 23:
        raise ChannelError("the digest hour must be 0 to 23")
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ChannelError(f"unknown time zone {tz!r} (an IANA name such as Europe/Paris or UTC)") from None


# -- the team's channels --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Added:
    channel: dict[str, Any]
    secret: str | None  # a signed webhook's signing secret: shown once, at creation


def find_team(session: Session, team_name: str) -> int:
    team_id = session.scalar(select(Team.id).where(Team.name == team_name))
    if team_id is None:
        raise ChannelError(f"no team {team_name!r}")
    return team_id


def find_project(session: Session, team_id: int, project_name: str) -> int:
    project_id = session.scalar(select(Project.id).where(Project.team_id == team_id, Project.name == project_name))
    if project_id is None:
        known = session.scalars(select(Project.name).where(Project.team_id == team_id).order_by(Project.name)).all()
        raise ChannelError(f"no project {project_name!r} in this team (projects: {', '.join(known) or 'none'})")
    return project_id


def add_channel(
    session: Session,
    team_id: int,
    kind: str,
    url: str,
    keys: str,
    *,
    project_id: int | None = None,
    events: str | list[str] | None = None,
    name: str = "",
    digest_hour: int = 9,
    digest_tz: str = "UTC",
    allow_private: bool = False,
) -> Added:
    """Add a channel of the team (of one of its projects, or the whole team when project_id is None). Raises
    ChannelError, saying what to change, for a bad kind, URL, events, time zone or a missing key."""
    if kind not in KINDS:
        raise ChannelError(f"kind must be one of {', '.join(KINDS)}")
    check_url(url, allow_private)
    stored_events = parse_events(events)
    _check_digest(digest_hour, digest_tz)
    if project_id is not None and session.scalar(
        select(Project.id).where(Project.id == project_id, Project.team_id == team_id)
    ) is None:
        raise ChannelError("no such project in this team")
    signing_secret = SECRET_PREFIX + secrets.token_urlsafe(32) if kind == "webhook" else None
    channel = Channel(
        team_id=team_id,
        project_id=project_id,
        kind=kind,
        name=name.strip()[:200],
        url_encrypted=encrypt(keys, url.strip()),
        url_hint=mask_url(url),
        secret_encrypted=encrypt(keys, signing_secret) if signing_secret else None,
        events=stored_events,
        digest_hour=digest_hour,
        digest_tz=digest_tz,
    )
    session.add(channel)
    session.flush()
    return Added(_channel_dict(session, channel), signing_secret)


def _channel_dict(session: Session, channel: Channel) -> dict[str, Any]:
    project = session.scalar(select(Project.name).where(Project.id == channel.project_id)) \
        if channel.project_id is not None else None
    team = session.scalar(select(Team.name).where(Team.id == channel.team_id))
    pending = session.scalar(
        select(func.count(Delivery.id)).where(Delivery.channel_id == channel.id,
                                              Delivery.state.in_(("pending", "sending")))
    )
    return {
        "id": channel.id,
        "team": team,
        "project": project,
        "kind": channel.kind,
        "name": channel.name,
        "url": channel.url_hint,
        "events": channel.events.split(",") if channel.events else [],
        "state": channel.state,
        "disabled_reason": channel.disabled_reason,
        "digest_hour": channel.digest_hour,
        "digest_tz": channel.digest_tz,
        "last_delivery_at": _iso(channel.last_delivery_at),
        "last_delivery_status": channel.last_delivery_status,
        "pending": int(pending or 0),
        "created_at": _iso(channel.created_at),
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _channel(session: Session, channel_id: int, team_id: int | None, lock: bool = False) -> Channel | None:
    statement = select(Channel).where(Channel.id == channel_id)
    if team_id is not None:
        statement = statement.where(Channel.team_id == team_id)
    if lock:
        statement = statement.with_for_update()
    return session.scalar(statement)


def list_channels(session: Session, team_id: int | None = None) -> list[dict[str, Any]]:
    """The team's channels (every team's with None: the CLI), each with its state and last delivery."""
    statement = select(Channel).order_by(Channel.team_id, Channel.id)
    if team_id is not None:
        statement = statement.where(Channel.team_id == team_id)
    return [_channel_dict(session, c) for c in session.scalars(statement).all()]


def get_channel(session: Session, channel_id: int, team_id: int | None = None) -> dict[str, Any] | None:
    channel = _channel(session, channel_id, team_id)
    return _channel_dict(session, channel) if channel is not None else None


def update_channel(
    session: Session,
    channel_id: int,
    team_id: int | None = None,
    *,
    name: str | None = None,
    events: str | list[str] | None = None,
    digest_hour: int | None = None,
    digest_tz: str | None = None,
    enable: bool = False,
) -> dict[str, Any] | None:
    """Change what a channel hears and when its digest comes; `enable` makes a disabled channel active again
    (after its webhook was fixed). None when there is no such channel."""
    channel = _channel(session, channel_id, team_id, lock=True)
    if channel is None:
        return None
    if name is not None:
        channel.name = name.strip()[:200]
    if events is not None:
        channel.events = parse_events(events)
    hour = channel.digest_hour if digest_hour is None else digest_hour
    tz = channel.digest_tz if digest_tz is None else digest_tz
    _check_digest(hour, tz)
    channel.digest_hour, channel.digest_tz = hour, tz
    if enable and channel.state != "active":
        channel.state, channel.disabled_reason = "active", None
    session.flush()
    return _channel_dict(session, channel)


def remove_channel(session: Session, channel_id: int, team_id: int | None = None) -> bool:
    """Remove a channel, with its deliveries and their attempts."""
    channel = _channel(session, channel_id, team_id, lock=True)
    if channel is None:
        return False
    session.delete(channel)
    session.flush()
    return True


def queue_test(session: Session, channel_id: int, team_id: int | None = None) -> int | None:
    """Queue a test message to the channel (delivered by the worker, like any other); the outbox event's id, or
    None when there is no such channel. A disabled channel is tested too: that is how one checks it is fixed."""
    channel = _channel(session, channel_id, team_id)
    if channel is None:
        return None
    project_id = channel.project_id
    if project_id is None:  # an event belongs to a project: a team channel's test takes any of the team's
        project_id = session.scalar(select(func.min(Project.id)).where(Project.team_id == channel.team_id))
        if project_id is None:
            raise ChannelError("the team has no project yet")
    event = OutboxEvent(project_id=project_id, kind="test", payload={"channel_id": channel.id})
    session.add(event)
    session.flush()
    return event.id


def channel_deliveries(
    session: Session, channel_id: int, team_id: int | None = None, limit: int = 50
) -> list[dict[str, Any]] | None:
    """The channel's latest deliveries, newest first, each with every attempt (time, HTTP status, error, duration);
    None when there is no such channel."""
    if _channel(session, channel_id, team_id) is None:
        return None
    rows = session.execute(
        select(Delivery, OutboxEvent.kind, OutboxEvent.group_id)
        .join(OutboxEvent, OutboxEvent.id == Delivery.event_id)
        .where(Delivery.channel_id == channel_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    ).all()
    ids = [d.id for d, _, _ in rows]
    attempts: dict[int, list[dict[str, Any]]] = {i: [] for i in ids}
    if ids:
        for a in session.scalars(
            select(DeliveryAttempt).where(DeliveryAttempt.delivery_id.in_(ids)).order_by(DeliveryAttempt.id)
        ).all():
            attempts[a.delivery_id].append(
                {"at": _iso(a.at), "status": a.status, "error": a.error, "duration_ms": a.duration_ms}
            )
    return [
        {
            "id": d.id,
            "event_id": d.event_id,
            "event": kind,
            "group_id": group_id,
            "state": d.state,
            "attempts": attempts[d.id],
            "next_attempt_at": _iso(d.next_attempt_at) if d.state == "pending" else None,
            "sent_at": _iso(d.sent_at),
            "last_status": d.last_status,
            "last_error": d.last_error,
        }
        for d, kind, group_id in rows
    ]
