"""Notification commands: `diagnoser channels ...` and `diagnoser worker`, and the worker process that
`diagnoser serve` runs beside gunicorn.

Why a child process of the gunicorn master, not a thread of a web worker: one worker per machine whatever the
number of web workers; its sends and its payload building never take the GIL from a web worker's writer thread
(whose batches wait on it, see store.writer); a web worker recycled or killed for a slow request does not cut a
delivery short; and the master restarts it if it ever exits. It is in the master's process group, so stopping the
service (or killing the group) stops it too, and it exits by itself if the master is gone.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import click

from diagnoser.cli.service_commands import fail, prepared_database, settings_or_exit, store_sessions
from diagnoser.settings import Settings

log = logging.getLogger("diagnoser.notify")


def worker_config(settings: Settings, base_url: str = "") -> Any:
    from diagnoser.notify.worker import WorkerConfig

    return WorkerConfig(
        keys=settings.encryption_key,
        base_url=settings.base_url or base_url,
        allow_private=settings.allow_private_webhooks,
        timeout=settings.notify_timeout_seconds,
        max_attempts=settings.notify_max_attempts,
        poll=settings.notify_poll_seconds,
        spike_window=settings.spike_window_minutes * 60.0,
        spike_min_reports=settings.spike_min_reports,
        spike_factor=settings.spike_factor,
        interval=settings.notify_interval_seconds,
        scan_delay=settings.write_timeout_seconds + 20.0,
    )


def _team_id(session: Any, team: str) -> int:
    from diagnoser.store.channels import ChannelError, find_team

    try:
        return find_team(session, team)
    except ChannelError as error:
        fail(f"{error} (teams are made by `diagnoser tokens create --team T`)")


def run_worker(once: bool, base_url: str, parent_pid: int | None) -> None:
    settings = settings_or_exit()
    logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s",
                        stream=sys.stderr)
    logging.getLogger("diagnoser").setLevel(settings.log_level)
    from diagnoser.notify.worker import Worker

    config = worker_config(settings, base_url)
    if not config.base_url:
        log.warning("DIAGNOSER_BASE_URL is unset: messages carry no link to their group")
    if not config.keys:
        log.warning("DIAGNOSER_ENCRYPTION_KEY is unset: no channel can be added or reached")
    with _worker_sessions(settings, quiet=parent_pid is not None) as sessions:  # serve's master named it already
        worker = Worker(sessions, config)
        if once:
            result = worker.run_once()
            click.echo(f"{result.fanned_out} deliveries queued, {result.events} spike/digest events, "
                       f"{result.messages} messages sent or tried ({result.sent} events delivered)")
            return

        def stop(signum: int, _frame: Any) -> None:
            worker.stop.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        if parent_pid:
            def watch() -> None:  # the master is gone (killed): so are we
                while not worker.stop.wait(1.0):
                    if os.getppid() != parent_pid:
                        log.warning("the service that started this worker is gone: stopping")
                        worker.stop.set()

            threading.Thread(target=watch, name="diagnoser-notify-parent", daemon=True).start()
        worker.run()


@contextmanager
def _worker_sessions(settings: Settings, quiet: bool) -> Iterator[Any]:
    if not quiet:
        with store_sessions(settings) as sessions:
            yield sessions
        return
    from diagnoser.store.db import DatabaseError, make_engine, make_sessionmaker

    try:
        engine = make_engine(prepared_database(settings, quiet=True))
    except DatabaseError as error:
        fail(str(error))
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


class WorkerProcess:
    """`diagnoser worker` as a child of the gunicorn master (or of `serve --dev`), restarted if it exits."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def _spawn(self) -> None:
        command = [sys.executable, "-m", "diagnoser", "worker", "--parent-pid", str(os.getpid())]
        if self.base_url:
            command += ["--base-url", self.base_url]
        self.process = subprocess.Popen(command, stdin=subprocess.DEVNULL)

    def start(self) -> None:
        self._spawn()
        self._thread = threading.Thread(target=self._supervise, name="diagnoser-notify-supervisor", daemon=True)
        self._thread.start()

    def _supervise(self) -> None:
        delay = 1.0
        while not self._stopping.wait(1.0):
            process = self.process
            if process is None or process.poll() is None:
                continue
            if self._stopping.is_set():
                return
            log.warning("the notification worker exited (status %s): restarting it in %.0f s", process.returncode,
                        delay)
            if self._stopping.wait(delay):
                return
            delay = min(delay * 2, 30.0)
            self._spawn()

    def stop(self, timeout: float = 30.0) -> None:
        self._stopping.set()
        process = self.process
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
        except ChildProcessError:  # reaped by gunicorn's SIGCHLD handler already
            pass

    # gunicorn server hooks
    def when_ready(self, server: Any) -> None:
        self.start()

    def on_exit(self, server: Any) -> None:
        self.stop()


def default_base_url(host: str, port: int) -> str:
    """Where `diagnoser serve` listens, for links when DIAGNOSER_BASE_URL is unset."""
    name = socket.getfqdn() if host in ("0.0.0.0", "::", "") else host
    return f"http://{name}:{port}" if ":" not in name else f"http://[{name}]:{port}"


def _wait_for(sessions: Any, delivery_event: int, channel_id: int, seconds: float) -> dict[str, Any] | None:
    from diagnoser.store.channels import channel_deliveries
    from diagnoser.store.db import reading

    deadline = time.monotonic() + seconds
    while True:
        with reading(sessions) as session:
            found = next((d for d in channel_deliveries(session, channel_id, limit=20) or []
                          if d["event_id"] == delivery_event), None)
        if found is not None and (found["state"] in ("sent", "failed") or (
                found["attempts"] and found["state"] == "pending")) or time.monotonic() > deadline:
            return found
        time.sleep(0.2)


def register(cli: click.Group) -> None:
    @cli.command("worker")
    @click.option("--once", is_flag=True, help="One pass (fan out, spikes, digests, deliveries), then exit.")
    @click.option("--base-url", default="", help="Links' base when DIAGNOSER_BASE_URL is unset.", hidden=True)
    @click.option("--parent-pid", type=int, default=None, hidden=True)
    def worker_cmd(once: bool, base_url: str, parent_pid: int | None) -> None:
        """Deliver notifications (new, regressed, spikes, digests) to the channels. `diagnoser serve` runs one too;
        run more on PostgreSQL as you like: they share the work."""
        run_worker(once, base_url, parent_pid)

    @cli.group("channels")
    def channels() -> None:
        """Where teams hear about their causes: Slack, Mattermost, signed webhooks."""

    @channels.command("keygen")
    def channels_keygen() -> None:
        """Print a new encryption key for DIAGNOSER_ENCRYPTION_KEY (webhook URLs are kept encrypted with it)."""
        from diagnoser.store.channels import generate_key

        click.echo(generate_key())

    @channels.command("add")
    @click.option("--project", default=None, help="Project name; without it, the channel hears the whole team.")
    @click.option("--kind", type=click.Choice(["slack", "mattermost", "webhook"]), required=True)
    @click.option("--url", required=True, help="The incoming webhook's URL (a secret: kept encrypted).")
    @click.option("--events", default="new,regressed,spike,digest", show_default=True)
    @click.option("--team", default="default", show_default=True)
    @click.option("--name", default="", help="A name to tell channels apart.")
    @click.option("--digest-hour", default=9, show_default=True, type=click.IntRange(0, 23))
    @click.option("--digest-tz", default="UTC", show_default=True, help="IANA time zone of the digest hour.")
    def channels_add(project: str | None, kind: str, url: str, events: str, team: str, name: str,
                     digest_hour: int, digest_tz: str) -> None:
        """Add a channel; its id is printed alone on the last line."""
        from diagnoser.notify.http import TransportError, resolve
        from diagnoser.store.channels import NO_KEY, ChannelError, add_channel, check_url, find_project
        from diagnoser.store.db import writing

        settings = settings_or_exit()
        if not settings.encryption_key:
            fail(NO_KEY)
        try:
            _, host, port = check_url(url, settings.allow_private_webhooks)
            resolve(host, port, settings.allow_private_webhooks)
        except ChannelError as error:
            fail(str(error))
        except TransportError as error:
            if error.permanent:
                fail(error.message)
            click.echo(f"diagnoser: warning: {error.message}; adding the channel anyway", err=True)
        with store_sessions(settings) as sessions, writing(sessions) as session:
            team_id = _team_id(session, team)
            try:
                project_id = find_project(session, team_id, project) if project else None
                added = add_channel(session, team_id, kind, url, settings.encryption_key, project_id=project_id,
                                    events=events, name=name, digest_hour=digest_hour, digest_tz=digest_tz,
                                    allow_private=settings.allow_private_webhooks)
            except ChannelError as error:
                fail(str(error))
        channel = added.channel
        scope = f"project {project!r} of team {team!r}" if project else f"team {team!r} (every project)"
        click.echo(f"added {kind} channel {channel['id']} for {scope}: {channel['url']}, events "
                   f"{','.join(channel['events'])}; digest at {digest_hour:02d}:00 {digest_tz}")
        if added.secret:
            click.echo(f"signing secret (shown only now; see README, Signed webhooks): {added.secret}")
        click.echo(channel["id"])

    @channels.command("list")
    @click.option("--team", default=None, help="Only this team's channels.")
    def channels_list(team: str | None) -> None:
        """Every channel: its state (active, or disabled and why) and its last delivery."""
        from diagnoser.store.channels import list_channels
        from diagnoser.store.db import reading

        with store_sessions(settings_or_exit()) as sessions, reading(sessions) as session:
            rows = list_channels(session, _team_id(session, team) if team else None)
        if not rows:
            click.echo("no channels yet: diagnoser channels add --project NAME --kind slack --url URL")
            return
        lines = [("id", "team", "project", "kind", "url", "events", "state", "last delivery")]
        for c in rows:
            state = c["state"] if c["state"] == "active" else f"disabled: {c['disabled_reason']}"
            last = f"{c['last_delivery_at'][:19].replace('T', ' ')} {c['last_delivery_status']}" \
                if c["last_delivery_at"] else "never"
            if c["pending"]:
                last += f" ({c['pending']} waiting)"
            lines.append((str(c["id"]), c["team"], c["project"] or "(all)", c["kind"], c["url"],
                          ",".join(c["events"]), state, last))
        widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]) - 1)]
        for line in lines:  # one line per channel, never wrapped: read by people and by scripts alike
            click.echo("  ".join(v.ljust(w) for v, w in zip(line, widths, strict=False)) + "  " + line[-1])

    @channels.command("deliveries")
    @click.argument("channel_id", type=int)
    @click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 1000))
    def channels_deliveries(channel_id: int, limit: int) -> None:
        """A channel's latest deliveries, each with every attempt (time, HTTP status, error)."""
        from diagnoser.store.channels import channel_deliveries
        from diagnoser.store.db import reading

        with store_sessions(settings_or_exit()) as sessions, reading(sessions) as session:
            rows = channel_deliveries(session, channel_id, limit=limit)
        if rows is None:
            fail(f"no channel {channel_id} (see `diagnoser channels list`)")
        if not rows:
            click.echo("no deliveries yet")
        for d in rows:
            group = f" (group {d['group_id']})" if d["group_id"] else ""
            click.echo(f"delivery {d['id']}: {d['event']} event {d['event_id']}{group}: {d['state']}")
            for a in d["attempts"]:
                click.echo(f"  {a['at'][:19].replace('T', ' ')}  {a['status'] or '-'}  {a['duration_ms']} ms"
                           f"  {a['error'] or 'ok'}")

    @channels.command("test")
    @click.argument("channel_id", type=int)
    def channels_test(channel_id: int) -> None:
        """Send a test message to a channel now, and say what its remote answered (exit 1 when it failed)."""
        from diagnoser.notify.worker import PassResult, Worker
        from diagnoser.store.base import utcnow
        from diagnoser.store.channels import NO_KEY, ChannelError, queue_test
        from diagnoser.store.db import writing

        settings = settings_or_exit()
        if not settings.encryption_key:
            fail(NO_KEY)
        with store_sessions(settings) as sessions:
            with writing(sessions) as session:
                try:
                    event_id = queue_test(session, channel_id)
                except ChannelError as error:
                    fail(str(error))
            if event_id is None:
                fail(f"no channel {channel_id} (see `diagnoser channels list`)")
            config = worker_config(settings)
            worker = Worker(sessions, config)
            deadline = time.monotonic() + config.timeout * 2 + 5
            found = None
            while time.monotonic() < deadline:
                now = utcnow()
                worker.fan_out(now)
                worker.deliver(now, PassResult(), only_channel=channel_id)
                found = _wait_for(sessions, event_id, channel_id, 0.0)
                if found is not None and found["attempts"]:
                    break
                time.sleep(0.2)
            worker._pool.shutdown(wait=True)
        if found is None or not found["attempts"]:
            fail("the test message was not sent in time (is the channel's next message held back by a 429?)")
        last = found["attempts"][-1]
        if found["state"] == "sent":
            click.echo(f"test message delivered to channel {channel_id} ({last['status']}, {last['duration_ms']} ms)")
            return
        click.echo(f"test message to channel {channel_id} failed: {last['status'] or ''} {last['error']}".replace(
            "  ", " "), err=True)
        raise SystemExit(1)

    @channels.command("enable")
    @click.argument("channel_id", type=int)
    def channels_enable(channel_id: int) -> None:
        """Enable a channel that was disabled (after a permanent failure, once its webhook is fixed)."""
        from diagnoser.store.channels import update_channel
        from diagnoser.store.db import writing

        with store_sessions(settings_or_exit()) as sessions, writing(sessions) as session:
            updated = update_channel(session, channel_id, None, enable=True)
        if updated is None:
            fail(f"no channel {channel_id} (see `diagnoser channels list`)")
        click.echo(f"channel {channel_id} is active")

    @channels.command("remove")
    @click.argument("channel_id", type=int)
    def channels_remove(channel_id: int) -> None:
        """Remove a channel (and its delivery history)."""
        from diagnoser.store.channels import remove_channel
        from diagnoser.store.db import writing

        with store_sessions(settings_or_exit()) as sessions, writing(sessions) as session:
            removed = remove_channel(session, channel_id)
        if not removed:
            fail(f"no channel {channel_id} (see `diagnoser channels list`)")
        click.echo(f"removed channel {channel_id}")

