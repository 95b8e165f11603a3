"""The notification worker: fan the outbox out, find spikes and make digests, deliver, record every attempt.

One pass (`Worker.run_once`) does, each in its own short transaction:

1. fan-out: outbox events not yet fanned out become one delivery per channel that hears them;
2. scan: reports are read by id, from a cursor kept in WorkerState, into per-group counts (per minute for the
   spike window, per hour for the digest); a `spike` event is written in the transaction that moves the cursor,
   so a crash writes it either with the counts that caused it or not at all. Only reports received more than
   `scan_delay` ago are read: ids are taken at insert and committed later, so a report with a smaller id may
   still be committing while a larger one is visible; waiting longer than any write may take (the write timeout
   plus a margin) means the cursor never passes a report that is yet to appear;
3. digests: at each channel's hour in its time zone, once the scan has read every report before that hour, the
   day's digest is written as an event together with the channel's `last_digest_day`;
4. delivery: channels with due deliveries are claimed (one message a second per channel, several due events in
   one message), sent in parallel, and each outcome recorded: sent, retried later with exponential backoff and
   jitter (5xx, timeouts, connection errors; 429 after its Retry-After), failed (the remote refused the message,
   or too many attempts), or the channel disabled (a permanent failure).

Several workers may run at once (PostgreSQL: SKIP LOCKED; SQLite: one writer at a time anyway).
"""

from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from datetime import time as dtime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exc as sa_exc
from sqlalchemy.orm import Session, sessionmaker

from diagnoser.notify import payloads, transports
from diagnoser.notify.http import Answer, TransportError, post
from diagnoser.store import outbox
from diagnoser.store.base import utcnow
from diagnoser.store.channels import ChannelError, decrypt
from diagnoser.store.db import reading, unavailable_reason, writing

log = logging.getLogger("diagnoser.notify")

CURSOR_KEY = "reports_cursor"
GROUP_PREFIX = "g:"
HOURS_KEPT = 48
SWEEP_EVERY_SECONDS = 600.0
SCAN_BATCH = 2000


@dataclass(frozen=True)
class WorkerConfig:
    keys: str = ""  # DIAGNOSER_ENCRYPTION_KEY
    base_url: str = ""  # for the links to groups
    allow_private: bool = False
    timeout: float = 10.0
    max_attempts: int = 12
    poll: float = 1.0
    spike_window: float = 900.0  # seconds
    spike_min_reports: int = 20
    spike_factor: float = 5.0
    interval: float = 3600.0  # at most one spike message per group per interval
    scan_delay: float = 30.0  # the write timeout plus a margin
    channels_per_run: int = 4  # channels sent to in parallel
    backoff_base: float = 2.0
    backoff_cap: float = 3600.0

    @property
    def lease(self) -> timedelta:
        """How long claimed deliveries stay ours: longer than a send can take, so only a dead worker's pass."""
        return timedelta(seconds=2 * self.timeout + 10)


@dataclass
class PassResult:
    fanned_out: int = 0
    events: int = 0  # spike and digest events written
    messages: int = 0  # messages attempted
    sent: int = 0
    failed: int = 0
    backlog: bool = False  # more reports to read than one pass reads

    @property
    def busy(self) -> bool:
        return bool(self.fanned_out or self.events or self.messages or self.backlog)


@dataclass
class _State:
    minutes: dict[int, int] = field(default_factory=dict)
    hours: dict[int, int] = field(default_factory=dict)
    notified: float | None = None

    @classmethod
    def load(cls, text: str | None) -> _State:
        if not text:
            return cls()
        data = json.loads(text)
        return cls({int(k): int(v) for k, v in data.get("m", {}).items()},
                   {int(k): int(v) for k, v in data.get("h", {}).items()}, data.get("n"))

    def dump(self) -> dict[str, Any]:
        return {"m": {str(k): v for k, v in sorted(self.minutes.items())},
                "h": {str(k): v for k, v in sorted(self.hours.items())}, "n": self.notified}


def backoff(attempt: int, base: float, cap: float, rng: random.Random) -> float:
    """Seconds before attempt `attempt` + 1: exponential, capped, with "equal jitter" (half fixed, half random),
    so retries of many channels after one outage spread out instead of arriving together."""
    delay = min(cap, base * 2 ** max(0, attempt - 1))
    return float(delay / 2 + rng.uniform(0, delay / 2))


class Worker:
    def __init__(
        self, sessions: sessionmaker[Session], config: WorkerConfig, *,
        poster: transports.Poster = post, clock: Callable[[], datetime] = utcnow, rng: random.Random | None = None,
    ) -> None:
        self.sessions = sessions
        self.config = config
        self.poster = poster
        self.clock = clock
        self.rng = rng or random.Random()
        self.stop = threading.Event()
        self._swept = 0.0
        self._trouble: str | None = None
        self._warned: set[str] = set()
        self._pool = ThreadPoolExecutor(max_workers=max(1, config.channels_per_run),
                                        thread_name_prefix="diagnoser-notify")

    # -- the loop -------------------------------------------------------------------------------------------

    def run(self) -> None:
        """Work until `stop` is set; a database outage is logged once and waited out."""
        log.info("notification worker started")
        while not self.stop.is_set():
            busy = False
            try:
                busy = self.run_once().busy
                if self._trouble is not None:
                    log.warning("database available again: notifications resume")
                    self._trouble = None
            except sa_exc.SQLAlchemyError as error:
                reason = unavailable_reason(error) or f"{type(error).__name__}: {str(error).splitlines()[0][:200]}"
                if self._trouble is None:
                    log.warning("database unavailable (%s): notifications wait, none is lost", reason)
                self._trouble = reason
            except Exception:  # noqa: BLE001 - a bug must not stop every notification; it is logged
                log.exception("notification pass failed")
            self.stop.wait(0.05 if busy else self.config.poll)
        self._pool.shutdown(wait=True)
        log.info("notification worker stopped")

    def run_once(self, now: datetime | None = None) -> PassResult:
        start = now or self.clock()
        result = PassResult()
        result.fanned_out = self.fan_out(start)
        result.events += self.scan(start, result)
        result.events += self.digests(start)
        if result.events:
            result.fanned_out += self.fan_out(start)
        self.deliver(self.clock() if now is None else now, result)  # fresh: one message a second is timed from it
        return result

    # -- 1. fan-out -----------------------------------------------------------------------------------------

    def fan_out(self, now: datetime) -> int:
        with reading(self.sessions) as session:
            if not outbox.has_unfanned(session):
                return 0
        with writing(self.sessions) as session:
            return outbox.fan_out(session, now)

    # -- 2. spikes ------------------------------------------------------------------------------------------

    def scan(self, now: datetime, result: PassResult | None = None) -> int:
        """Read the reports received before now - scan_delay into the per-group counts; the spike events
        written. Nothing is read while no channel hears spikes or digests (the cursor waits, and catches up)."""
        cutoff = now - timedelta(seconds=self.config.scan_delay)
        with reading(self.sessions) as session:
            if not outbox.counts_needed(session):
                return 0
            cursor_text = outbox.get_states(session, [CURSOR_KEY]).get(CURSOR_KEY)
            if cursor_text:
                first = outbox.first_unread_received_at(session, int(cursor_text))
                sweep = time.monotonic() - self._swept > SWEEP_EVERY_SECONDS
                if (first is None or first >= cutoff) and not sweep:
                    return 0
        written = 0
        with writing(self.sessions) as session:
            value = outbox.lock_state(session, CURSOR_KEY, "")
            if value is None:  # another worker is scanning
                return 0
            if value == "":  # the first scan of this database: from now on, not its whole history
                outbox.put_states(session, {CURSOR_KEY: str(outbox.last_report_id(session))})
                return 0
            cursor = int(value)
            rows = outbox.reports_after(session, cursor, SCAN_BATCH)
            taken = []
            for row in rows:
                if row.received_at >= cutoff:
                    break
                taken.append(row)
            keys = sorted({f"{GROUP_PREFIX}{r.group_id}" for r in taken})
            states = {k: _State.load(v) for k, v in outbox.get_states(session, keys).items()}
            for row in taken:
                state = states.setdefault(f"{GROUP_PREFIX}{row.group_id}", _State())
                stamp = row.received_at.timestamp()
                minute, hour = int(stamp // 60), int(stamp // 3600)
                state.minutes[minute] = state.minutes.get(minute, 0) + 1
                state.hours[hour] = state.hours.get(hour, 0) + 1
                if row.group_status in ("new", "regressed"):  # a message about the group is on its way already
                    state.notified = max(state.notified or 0.0, stamp)
            written = self._spikes(session, states, cutoff, now)
            if result is not None and len(taken) == SCAN_BATCH:
                result.backlog = True
            if taken:
                outbox.put_json(session, {k: s.dump() for k, s in states.items()})
                outbox.put_states(session, {CURSOR_KEY: str(taken[-1].id)})
            if time.monotonic() - self._swept > SWEEP_EVERY_SECONDS:
                self._sweep(session, now)
                self._swept = time.monotonic()
        return written

    def _spikes(self, session: Session, states: dict[str, _State], cutoff: datetime, now: datetime) -> int:
        window = self.config.spike_window
        start = cutoff.timestamp() - window
        counts = {}
        for key, state in states.items():
            state.minutes = {m: n for m, n in state.minutes.items() if (m + 1) * 60 > start}
            state.hours = {h: n for h, n in state.hours.items() if h * 3600 > now.timestamp() - HOURS_KEPT * 3600}
            count = sum(state.minutes.values())
            if count >= self.config.spike_min_reports:
                counts[int(key[len(GROUP_PREFIX):])] = count
        if not counts:
            return 0
        infos = outbox.group_infos(session, set(counts))
        since = (cutoff - timedelta(days=7)).date()
        history = outbox.recent_day_counts(session, set(counts), since)
        written = 0
        for group_id, count in sorted(counts.items()):
            info = infos.get(group_id)
            state = states[f"{GROUP_PREFIX}{group_id}"]
            if info is None or info.status == "ignored":
                continue
            if state.notified is not None and now.timestamp() - state.notified < self.config.interval:
                continue
            history_start = max(info.first_seen.timestamp(), datetime.combine(since, dtime(), UTC).timestamp())
            span = start - history_start
            before = max(0, history.get(group_id, 0) - count)
            usual = before / (span / window) if span >= window else 0.0
            if count < self.config.spike_factor * usual:
                continue
            outbox.add_event(session, "spike", info.project_id, now, group_id=group_id, payload={
                "count": count, "window_minutes": round(window / 60), "usual": round(usual, 2),
                "threshold": self.config.spike_min_reports})
            state.notified = now.timestamp()
            written += 1
        return written

    def _sweep(self, session: Session, now: datetime) -> None:
        """Forget the counts of groups quiet for longer than anything reads them."""
        stale: dict[str, str | None] = {}
        for key, text in outbox.states_with_prefix(session, GROUP_PREFIX).items():
            state = _State.load(text)
            newest = max(state.hours, default=0) * 3600
            if now.timestamp() - newest > HOURS_KEPT * 3600 and (
                state.notified is None or now.timestamp() - state.notified > self.config.interval
            ):
                stale[key] = None
        if stale:
            outbox.put_states(session, stale)

    # -- 3. digests -----------------------------------------------------------------------------------------

    def digests(self, now: datetime) -> int:
        with reading(self.sessions) as session:
            channels = outbox.digest_channels(session)
            if not channels:
                return 0
            cursor_text = outbox.get_states(session, [CURSOR_KEY]).get(CURSOR_KEY)
            first_unread = outbox.first_unread_received_at(session, int(cursor_text)) if cursor_text else None
        if not cursor_text:
            return 0
        written = 0
        for channel in channels:
            try:
                zone = ZoneInfo(channel.digest_tz)
            except (KeyError, ValueError):
                continue
            local = now.astimezone(zone)
            boundary = datetime.combine(local.date(), dtime(channel.digest_hour), zone)
            if boundary > local:
                boundary = datetime.combine(local.date() - timedelta(days=1), dtime(channel.digest_hour), zone)
            day = boundary.date()
            if channel.last_digest_day is not None and channel.last_digest_day >= day:
                continue
            if channel.created_at > boundary:
                continue  # added after this digest's hour: its first digest is the next one
            end = boundary.astimezone(UTC)
            if now - timedelta(seconds=self.config.scan_delay) < end or (
                first_unread is not None and first_unread < end
            ):
                continue  # the scan has not read every report of the day yet
            with writing(self.sessions) as session:
                if not outbox.take_digest_day(session, channel.id, day):
                    continue
                digest = self._digest(session, channel, end - timedelta(hours=24), end)
                if digest["total"] == 0:
                    continue  # nothing happened: no message, and the day is done
                digest.update(channel_id=channel.id, day=day.isoformat(), tz=channel.digest_tz,
                              end_local=boundary.strftime("%a %d %b %H:%M"))
                project_id = channel.project_id or outbox.first_project(session, channel.team_id)
                if project_id is None:
                    continue
                outbox.add_event(session, "digest", project_id, now, payload=digest)
                written += 1
        return written

    def _digest(self, session: Session, channel: outbox.DigestChannel, start: datetime, end: datetime
                ) -> dict[str, Any]:
        counts: dict[int, int] = {}
        first_hour, last_hour = int(start.timestamp() // 3600), int(end.timestamp() // 3600)
        for key, text in outbox.states_with_prefix(session, GROUP_PREFIX).items():
            state = _State.load(text)
            n = sum(c for h, c in state.hours.items() if first_hour <= h < last_hour)
            if n:
                counts[int(key[len(GROUP_PREFIX):])] = n
        infos = outbox.group_infos(session, set(counts))
        mine = {g: n for g, n in counts.items() if g in infos and infos[g].team_id == channel.team_id
                and infos[g].status != "ignored"
                and (channel.project_id is None or infos[g].project_id == channel.project_id)}
        names = outbox.project_names(session, {infos[g].project_id for g in mine})
        causes: dict[str | None, int] = {}
        for g, n in mine.items():
            causes[infos[g].cause] = causes.get(infos[g].cause, 0) + n
        ranked = sorted(mine.items(), key=lambda item: (-item[1], item[0]))

        def group(g: int, n: int) -> dict[str, Any]:
            info = infos[g]
            return {"id": g, "title": info.title, "cause": info.cause, "count": n,
                    "project": names.get(info.project_id)}

        new = [dict(g, count=mine.get(g["id"], 0)) for g in
               outbox.new_groups_between(session, channel.team_id, channel.project_id, start, end)]
        scope = names.get(channel.project_id) if channel.project_id is not None else None
        if channel.project_id is not None and scope is None:
            scope = outbox.project_names(session, {channel.project_id}).get(channel.project_id)
        return {
            "scope": scope,  # None: the whole team (the message names the team)
            "start": start.isoformat(), "end": end.isoformat(),
            "total": sum(mine.values()), "groups": len(mine),
            "no_diagnosis": causes.get(None, 0),
            "causes": len(causes),
            "top_causes": [{"cause": c, "count": n} for c, n in
                           sorted(causes.items(), key=lambda item: (-item[1], item[0] or ""))[:5]],
            "top_groups": [group(g, n) for g, n in ranked[:5]],
            "new_groups": sorted(new, key=lambda g: (-g["count"], g["id"]))[:20],
        }

    # -- 4. delivery ----------------------------------------------------------------------------------------

    def deliver(self, now: datetime, result: PassResult, only_channel: int | None = None) -> None:
        with reading(self.sessions) as session:
            if not outbox.has_due(session, now):
                return
        with writing(self.sessions) as session:
            claims = outbox.claim(session, now, now + self.config.lease, channels=self.config.channels_per_run,
                                  per_message=payloads.MAX_EVENTS_PER_MESSAGE, only_channel=only_channel)
            views = outbox.event_views(session, [e for c in claims for _, e, _ in c.deliveries])
        futures = [(claim, self._pool.submit(self._send, claim, [views[e] for _, e, _ in claim.deliveries
                                                                   if e in views], now)) for claim in claims]
        for claim, future in futures:
            outcome = future.result()
            self._record(claim, outcome)
            result.messages += 1
            result.sent += len(claim.deliveries) if outcome.sent else 0
            result.failed += 0 if outcome.sent or outcome.retry_at is not None else len(claim.deliveries)

    def _send(self, claim: outbox.Claim, views: list[dict[str, Any]], now: datetime) -> outbox.Outcome:
        config = self.config
        attempt = max(claim.attempts.values(), default=1)
        started = time.monotonic()

        def elapsed() -> int:
            return int((time.monotonic() - started) * 1000)

        def later(seconds: float | None = None) -> datetime:
            return self.clock() + timedelta(
                seconds=seconds if seconds is not None else backoff(attempt, config.backoff_base, config.backoff_cap,
                                                                     self.rng))
        try:
            url = decrypt(config.keys, claim.url_encrypted)
            secret = decrypt(config.keys, claim.secret_encrypted) if claim.secret_encrypted else None
        except ChannelError as error:
            self._warn_once(f"key:{claim.channel_id}", "channel %d (%s): %s", claim.channel_id, claim.url_hint, error)
            # an operator's fix (the key) loses nothing: tried again every minute, never given up on
            return outbox.Outcome(False, error=str(error), retry_at=later(60), attempt_limit=10**9)
        if not views:
            return outbox.Outcome(True, error="nothing left to say (the events were removed)")
        try:
            answer: Answer = transports.send(claim.kind, url, secret, views, base_url=config.base_url,
                                             timeout=config.timeout, allow_private=config.allow_private, now=now,
                                             poster=self.poster)
        except TransportError as error:
            log.info("channel %d (%s): %s", claim.channel_id, claim.url_hint, error.message)
            if error.permanent:
                log.warning("channel %d (%s) disabled: %s", claim.channel_id, claim.url_hint, error.message)
                return outbox.Outcome(False, error.status, error.message, elapsed(), disable=error.message,
                                      attempt_limit=config.max_attempts)
            if not error.retry:
                return outbox.Outcome(False, error.status, error.message, elapsed(), attempt_limit=config.max_attempts)
            wait = error.retry_after
            if wait is not None:
                at = later(max(wait, 1.0))
                return outbox.Outcome(False, error.status, error.message, elapsed(), retry_at=at, hold_until=at,
                                      attempt_limit=config.max_attempts)
            return outbox.Outcome(False, error.status, error.message, elapsed(), retry_at=later(),
                                  attempt_limit=config.max_attempts)
        except Exception as error:  # noqa: BLE001 - a bug of ours: logged, and the message tried again later
            log.exception("channel %d: sending failed unexpectedly", claim.channel_id)
            return outbox.Outcome(False, error=f"internal error: {type(error).__name__}", retry_at=later(),
                                  attempt_limit=config.max_attempts)
        return outbox.Outcome(True, answer.status, None, elapsed(), attempt_limit=config.max_attempts)

    def _record(self, claim: outbox.Claim, outcome: outbox.Outcome) -> None:
        """Record the outcome, waiting out a database outage: a message sent but not recorded would be sent again
        once its lease passes. Given up on only when asked to stop and the database stays away for 10 s."""
        delay, stopping_since = 0.2, None
        while True:
            try:
                with writing(self.sessions) as session:
                    outbox.record(session, claim, outcome, self.clock())
                return
            except sa_exc.SQLAlchemyError as error:
                reason = unavailable_reason(error)
                if reason is None:
                    raise
                if self._trouble is None:
                    log.warning("database unavailable (%s): holding the outcome of channel %d's message",
                                reason, claim.channel_id)
                    self._trouble = reason
            if self.stop.is_set():
                stopping_since = stopping_since or time.monotonic()
                if time.monotonic() - stopping_since > 10:
                    log.error("stopping with channel %d's outcome unrecorded: it will be sent again",
                              claim.channel_id)
                    return
            time.sleep(delay)
            delay = min(delay * 2, 5.0)

    def _warn_once(self, key: str, message: str, *args: Any) -> None:
        if key not in self._warned:
            self._warned.add(key)
            log.error(message, *args)
