"""People who log in to the dashboard: `diagnoser users create | list | disable | enable`. Passwords are read from
standard input (never from the command line, where other users of the machine could read them in `ps`)."""

from __future__ import annotations

import sys

import click

from diagnoser.cli.service_commands import fail, settings_or_exit, store_sessions


def _read_password() -> str:
    line = sys.stdin.readline()
    return line[:-1] if line.endswith("\n") else line


def register(cli: click.Group) -> None:
    @cli.group("users")
    def users() -> None:
        """Dashboard accounts: a team, an email, a role (admin or member), an argon2-hashed password."""

    @users.command("create")
    @click.option("--team", default="default", show_default=True, help="Team name; created when new.")
    @click.option("--email", required=True)
    @click.option("--role", type=click.Choice(["admin", "member"]), default="member", show_default=True)
    @click.option("--password-stdin", is_flag=True, required=True,
                  help="Read the password from the first line of standard input.")
    def users_create(team: str, email: str, role: str, password_stdin: bool) -> None:
        """Create an account; `echo "$PASSWORD" | diagnoser users create --email E --password-stdin`."""
        from diagnoser.store.db import writing
        from diagnoser.store.users import UserError, create_user

        password = _read_password()
        with store_sessions(settings_or_exit()) as sessions, writing(sessions) as session:
            try:
                person = create_user(session, team, email, role, password)
            except UserError as error:
                fail(str(error))
        click.echo(f"created {person.role} {person.email} of team {person.team!r}")

    @users.command("list")
    @click.option("--team", default=None, help="Only this team's accounts.")
    def users_list(team: str | None) -> None:
        """Every account: team, email, role, state, last login."""
        from sqlalchemy import select

        from diagnoser.store.db import reading
        from diagnoser.store.models import Team
        from diagnoser.store.users import list_users

        with store_sessions(settings_or_exit()) as sessions, reading(sessions) as session:
            team_id = None
            if team is not None:
                team_id = session.scalar(select(Team.id).where(Team.name == team))
                if team_id is None:
                    fail(f"no team {team!r}")
            accounts = list_users(session, team_id)
        if not accounts:
            click.echo("no accounts yet: diagnoser users create --email E --role admin --password-stdin")
            return
        from rich.console import Console
        from rich.table import Table

        table = Table(box=None, pad_edge=False)
        for name in ("team", "email", "role", "state", "last login"):
            table.add_column(name)
        for a in accounts:
            last = a.last_login_at.strftime("%Y-%m-%d %H:%M UTC") if a.last_login_at else "never"
            table.add_row(a.team, a.email, a.role, "disabled" if a.disabled_at else "active", last)
        Console(soft_wrap=True).print(table)

    def _set(email: str, disabled: bool) -> None:
        from diagnoser.store.db import writing
        from diagnoser.store.users import set_disabled

        with store_sessions(settings_or_exit()) as sessions, writing(sessions) as session:
            found = set_disabled(session, email, disabled)
        if not found:
            fail(f"no account {email!r} (see `diagnoser users list`)")
        click.echo(f"{'disabled' if disabled else 'enabled'} {email.strip().lower()}")

    @users.command("disable")
    @click.argument("email")
    def users_disable(email: str) -> None:
        """Disable an account: it cannot log in, and its open sessions end at their next request."""
        _set(email, True)

    @users.command("enable")
    @click.argument("email")
    def users_enable(email: str) -> None:
        """Enable a disabled account again."""
        _set(email, False)
