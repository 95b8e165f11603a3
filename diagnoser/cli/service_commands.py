"""Service commands: serve, db upgrade, tokens, reclassify. Thin click wrappers over plain functions."""

from __future__ import annotations

import sys
from typing import Any

import click

from diagnoser.settings import Settings, SettingsError, load_settings


def _settings() -> Settings:
    try:
        return load_settings()
    except SettingsError as error:
        raise click.UsageError(str(error)) from None


def serve(host: str, port: int, dev: bool, workers: int | None, threads: int | None) -> None:
    """Apply migrations, then run gunicorn (or Flask's development server with --dev)."""
    from diagnoser.store.migrate import upgrade

    settings = _settings()
    upgrade(settings.resolved_database_url)
    click.echo(f"diagnoser: database {_safe_url(settings.resolved_database_url)}", err=True)
    if dev:
        from diagnoser.web import create_app

        create_app(settings).run(host=host, port=port, debug=True, use_reloader=False)
        return
    from gunicorn.app.base import BaseApplication

    from diagnoser.web import gunicorn_conf

    options: dict[str, Any] = {
        "bind": f"{host}:{port}", "workers": workers or gunicorn_conf.workers,
        "worker_class": gunicorn_conf.worker_class, "threads": threads or gunicorn_conf.threads,
        "keepalive": gunicorn_conf.keepalive, "timeout": gunicorn_conf.timeout,
        "graceful_timeout": gunicorn_conf.graceful_timeout, "errorlog": "-", "loglevel": "info",
        "on_starting": gunicorn_conf.on_starting, "on_exit": gunicorn_conf.on_exit,
    }

    class _App(BaseApplication):  # type: ignore[misc]
        def load_config(self) -> None:
            for key, value in options.items():
                self.cfg.set(key, value)

        def load(self) -> Any:
            from diagnoser.web import create_app

            return create_app()

    _App().run()


def _safe_url(url: str) -> str:
    from sqlalchemy.engine import make_url

    return make_url(url).render_as_string(hide_password=True)


def register(cli: click.Group) -> None:
    @cli.command("serve")
    @click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
    @click.option("--port", default=8000, show_default=True, type=click.IntRange(1, 65535))
    @click.option("--dev", is_flag=True, help="Flask's development server (one process, debug) instead of gunicorn.")
    @click.option("--workers", type=click.IntRange(1, 64), help="gunicorn worker processes (default: one per core).")
    @click.option("--threads", type=click.IntRange(1, 256), help="Threads per worker (default 16).")
    def serve_cmd(host: str, port: int, dev: bool, workers: int | None, threads: int | None) -> None:
        """Run the service. Zero configuration: SQLite in ./data (or DIAGNOSER_DATA_DIR), migrated on start."""
        serve(host, port, dev, workers, threads)

    @cli.group("db")
    def db() -> None:
        """Database schema."""

    @db.command("upgrade")
    @click.option("--revision", default="head", show_default=True)
    def db_upgrade(revision: str) -> None:
        """Apply migrations up to REVISION."""
        from diagnoser.store.migrate import upgrade

        settings = _settings()
        upgrade(settings.resolved_database_url, revision)
        click.echo(f"database at {revision}: {_safe_url(settings.resolved_database_url)}")

    @cli.group("tokens")
    def tokens() -> None:
        """API tokens (stored hashed: a token is shown once, when created)."""

    @tokens.command("create")
    @click.option("--project", required=True, help="Project name; created when new.")
    @click.option("--scope", type=click.Choice(["read", "ingest"]), required=True)
    @click.option("--team", default="default", show_default=True, help="Team name; created when new.")
    def tokens_create(project: str, scope: str, team: str) -> None:
        """Create a token; the token itself is printed alone on the last line."""
        from diagnoser.store.db import make_engine, make_sessionmaker, writing
        from diagnoser.store.migrate import upgrade
        from diagnoser.store.tokens import create_token

        url = _settings().resolved_database_url
        upgrade(url)
        engine = make_engine(url)
        try:
            with writing(make_sessionmaker(engine)) as session:
                try:
                    row, plaintext = create_token(session, project, scope, team)
                except ValueError as error:
                    raise click.UsageError(str(error)) from None
        finally:
            engine.dispose()
        click.echo(f"created a new {scope} token for project {project!r} of team {team!r} (prefix {row.prefix});"
                   " it is shown only now:")
        click.echo(plaintext)

    @tokens.command("revoke")
    @click.argument("token_or_prefix")
    def tokens_revoke(token_or_prefix: str) -> None:
        """Revoke a token, given in full or by the prefix `tokens list` shows."""
        from diagnoser.store.db import make_engine, make_sessionmaker, writing
        from diagnoser.store.tokens import revoke_token

        settings = _settings()
        engine = make_engine(settings.resolved_database_url)
        try:
            with writing(make_sessionmaker(engine)) as session:
                count = revoke_token(session, token_or_prefix)
            _announce_changes(engine, settings)
        finally:
            engine.dispose()
        if not count:
            raise click.ClickException("no such active token")
        click.echo(f"revoked {count} token(s)")

    @tokens.command("list")
    def tokens_list() -> None:
        """Every token's team, project, scope and prefix."""
        from diagnoser.store.db import make_engine, make_sessionmaker, reading
        from diagnoser.store.tokens import list_tokens

        engine = make_engine(_settings().resolved_database_url)
        try:
            with reading(make_sessionmaker(engine)) as session:
                rows = list_tokens(session)
        finally:
            engine.dispose()
        for team, project, scope, prefix, revoked in rows:
            click.echo(f"{team}\t{project}\t{scope}\t{prefix}...\t{'revoked' if revoked else 'active'}")

    @cli.command("reclassify")
    @click.option("--all", "everything", is_flag=True, help="Every report, not only those of older rule sets.")
    @click.option("--batch-size", default=200, show_default=True, type=click.IntRange(1, 10_000))
    def reclassify_cmd(everything: bool, batch_size: int) -> None:
        """Re-diagnose stored reports with the current rules, and regroup them."""
        from diagnoser.store.analysis import RULESET_VERSION
        from diagnoser.store.db import make_engine, make_sessionmaker
        from diagnoser.store.reclassify import count_stale, reclassify

        settings = _settings()
        engine = make_engine(settings.resolved_database_url)
        try:
            sessions = make_sessionmaker(engine)
            total = count_stale(sessions, everything)
            with click.progressbar(length=total, label=f"reclassifying (rules {RULESET_VERSION})",
                                   file=sys.stderr) as bar:
                outcome = reclassify(sessions, everything=everything, batch_size=batch_size, progress=bar.update)
            _announce_changes(engine, settings)
        finally:
            engine.dispose()
        click.echo(f"{outcome.seen} reports re-diagnosed, {outcome.regrouped} moved to another group, "
                   f"{outcome.groups_removed} emptied groups removed")


def _announce_changes(engine: Any, settings: Any) -> None:
    """Tell a service running on this machine over the same database, at once, that tokens or groups changed
    (it also notices by itself within milliseconds: store.journal.announce_changes)."""
    from diagnoser.store.counters import read_changes
    from diagnoser.store.journal import announce_changes

    try:
        with engine.connect() as connection:
            announce_changes(settings.resolved_journal_dir, read_changes(connection))
    except Exception:  # noqa: BLE001 - the change is committed; the service reads it from the database anyway
        pass
