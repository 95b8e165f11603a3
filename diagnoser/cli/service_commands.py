"""Service commands: serve, db, tokens, reclassify. Thin click wrappers over plain functions.

Every command that uses the database says which one on its first line (stderr), migrates it first, and turns a
bad setting, a missing driver or an unreachable server into one line and exit status 2, never a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, NoReturn

import click

from diagnoser.settings import Settings, SettingsError, load_settings


def fail(message: str) -> NoReturn:
    click.echo(f"diagnoser: {message}", err=True)
    raise SystemExit(2)


def settings_or_exit() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        fail(str(error))


def prepared_database(settings: Settings, quiet: bool = False) -> str:
    """Say which database this command uses, and bring it to the current schema; its URL."""
    from diagnoser.store.db import DatabaseError, safe_url
    from diagnoser.store.migrate import upgrade

    url = settings.resolved_database_url
    if not quiet:
        click.echo(f"diagnoser: database {safe_url(url)}", err=True)
    try:
        upgrade(url)
    except DatabaseError as error:
        fail(str(error))
    return url


@contextmanager
def store_sessions(settings: Settings) -> Iterator[Any]:
    """A sessionmaker on the prepared database, disposed of afterwards; database errors end the command cleanly."""
    from sqlalchemy import exc as sa_exc

    from diagnoser.store.db import make_engine, make_sessionmaker, unavailable_reason

    engine = make_engine(prepared_database(settings))
    try:
        yield make_sessionmaker(engine)
    except sa_exc.DBAPIError as error:
        fail(f"database error: {unavailable_reason(error) or str(error.orig).splitlines()[0]}")
    finally:
        engine.dispose()


def serve(host: str, port: int, dev: bool, workers: int | None, threads: int | None) -> None:
    """Apply migrations, then run gunicorn (or Flask's development server with --dev)."""
    settings = settings_or_exit()
    prepared_database(settings)
    from diagnoser.cli.notify_commands import WorkerProcess, default_base_url

    notifications = WorkerProcess(default_base_url(host, port))  # why a child process: cli/notify_commands.py
    if dev:
        from diagnoser.web import create_app

        notifications.start()
        try:
            create_app(settings).run(host=host, port=port, debug=True, use_reloader=False)
        finally:
            notifications.stop()
        return
    from gunicorn.app.base import BaseApplication

    from diagnoser import gunicorn_conf

    options: dict[str, Any] = {
        "bind": f"{host}:{port}", "workers": workers or gunicorn_conf.workers,
        "worker_class": gunicorn_conf.worker_class, "threads": threads or gunicorn_conf.threads,
        "keepalive": gunicorn_conf.keepalive, "timeout": gunicorn_conf.timeout,
        "graceful_timeout": gunicorn_conf.graceful_timeout, "errorlog": "-", "loglevel": "info",
        "on_starting": gunicorn_conf.on_starting, "child_exit": gunicorn_conf.child_exit,
        "when_ready": notifications.when_ready, "on_exit": notifications.on_exit,
    }

    class _App(BaseApplication):
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from diagnoser.web import create_app

            return create_app()

    _App().run()


def register(cli: click.Group) -> None:
    @cli.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
    @click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
    @click.option("--dev", is_flag=True, help="Flask's development server (one process, debug) instead of gunicorn.")
    @click.option("--workers", type=click.IntRange(1, 64),
                  help="gunicorn worker processes (default: 1 on SQLite, one per core on PostgreSQL).")
    @click.option("--threads", type=click.IntRange(1, 256), help="Threads per worker (default: 32 on SQLite, 16).")
    def serve_cmd(host: str, port: int, dev: bool, workers: int | None, threads: int | None) -> None:
        """Run the service. Zero configuration: SQLite in the user's data folder, migrated on start."""
        serve(host, port, dev, workers, threads)

    @cli.group("db")
    def db() -> None:
        """Database schema."""

    @db.command("upgrade")
    @click.option("--revision", default="head", show_default=True)
    def db_upgrade(revision: str) -> None:
        """Apply migrations up to REVISION."""
        from diagnoser.store.db import DatabaseError, safe_url
        from diagnoser.store.migrate import upgrade

        settings = settings_or_exit()
        url = settings.resolved_database_url
        click.echo(f"diagnoser: database {safe_url(url)}", err=True)
        try:
            upgrade(url, revision)
        except DatabaseError as error:
            fail(str(error))
        click.echo(f"database at {revision}")

    @cli.group("tokens")
    def tokens() -> None:
        """API tokens (stored hashed: a token is shown once, when created)."""

    @tokens.command("create")
    @click.option("--project", required=True, help="Project name; created when new.")
    @click.option("--scope", type=click.Choice(["read", "ingest"]), required=True)
    @click.option("--team", default="default", show_default=True, help="Team name; created when new.")
    def tokens_create(project: str, scope: str, team: str) -> None:
        """Create a token; the token itself is printed alone on the last line."""
        from diagnoser.store.db import writing
        from diagnoser.store.tokens import create_token

        with store_sessions(settings_or_exit()) as sessions, writing(sessions) as session:
            try:
                row, plaintext = create_token(session, project, scope, team)
            except ValueError as error:
                fail(str(error))
            prefix = row.prefix
        click.echo(f"created a new {scope} token for project {project!r} of team {team!r} (prefix {prefix});"
                   " it is shown only now:")
        click.echo(plaintext)

    @tokens.command("revoke")
    @click.argument("token_or_prefix")
    def tokens_revoke(token_or_prefix: str) -> None:
        """Revoke a token, given in full or by the prefix `tokens list` shows."""
        from diagnoser.store.db import writing
        from diagnoser.store.tokens import revoke_token

        with store_sessions(settings_or_exit()) as sessions, writing(sessions) as session:
            count = revoke_token(session, token_or_prefix)
        if not count:
            fail(f"no active token matches {token_or_prefix!r} (see `diagnoser tokens list`)")
        click.echo(f"revoked {count} token(s)")

    @tokens.command("list")
    def tokens_list() -> None:
        """Every token's team, project, scope and prefix."""
        from diagnoser.store.db import reading
        from diagnoser.store.tokens import list_tokens

        with store_sessions(settings_or_exit()) as sessions, reading(sessions) as session:
            rows = list_tokens(session)
        if not rows:
            click.echo("no tokens yet: diagnoser tokens create --project NAME --scope ingest")
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for name in ("team", "project", "scope", "prefix", "state"):
            table.add_column(name)
        for team, project, scope, prefix, revoked in rows:
            table.add_row(team, project, scope, f"{prefix}...", "revoked" if revoked else "active")
        Console(soft_wrap=True).print(table)

    @cli.command("reclassify")
    @click.option("--all", "everything", is_flag=True, help="Every stored text, not only those of older rule sets.")
    @click.option("--batch-size", default=100, show_default=True, type=click.IntRange(1, 10_000))
    def reclassify_cmd(everything: bool, batch_size: int) -> None:
        """Re-diagnose stored reports with the current engine (each distinct text once), and regroup them."""
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        from diagnoser.store.analysis import RULESET_VERSION
        from diagnoser.store.reclassify import count_stale, reclassify

        with store_sessions(settings_or_exit()) as sessions:
            total = count_stale(sessions, everything)
            columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                       TextColumn("{task.fields[rate]}"), TimeRemainingColumn())
            with Progress(*columns, transient=not sys.stderr.isatty(),
                          console=_stderr_console()) as progress:
                task = progress.add_task(f"diagnosing (rules {RULESET_VERSION})", total=total, rate="")

                def advance(n: int) -> None:
                    progress.advance(task, n)
                    speed = progress.tasks[0].speed
                    progress.update(task, rate=f"{speed:,.0f} texts/s" if speed else "")

                outcome = reclassify(sessions, everything=everything, batch_size=batch_size, progress=advance)
        click.echo(f"{outcome.texts} distinct texts diagnosed again, {outcome.reports_moved} reports moved to "
                   f"another group, {outcome.groups_removed} emptied groups removed")


def _stderr_console() -> Any:
    from rich.console import Console

    return Console(stderr=True)
