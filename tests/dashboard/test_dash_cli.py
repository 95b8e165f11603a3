"""`diagnoser users create | list | disable | enable`: the password from standard input, argon2-hashed, errors in one
line with exit status 2."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select

from diagnoser.cli import cli
from diagnoser.store.db import make_engine, make_sessionmaker, reading
from diagnoser.store.models import Team, User


def _run(url: str, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), input=stdin, env={"DIAGNOSER_DATABASE_URL": url})
    return result.exit_code, result.output


def test_users_are_created_listed_disabled_and_enabled(db_url: str) -> None:
    code, out = _run(db_url, "users", "create", "--team", "vision", "--email", "Lead@Example.com", "--role",
                     "admin", "--password-stdin", stdin="a long enough password\n")
    assert code == 0 and "created admin lead@example.com of team 'vision'" in out
    code, out = _run(db_url, "users", "create", "--email", "ana@example.com", "--password-stdin",
                     stdin="another long password\n")
    assert code == 0 and "created member ana@example.com of team 'default'" in out
    engine = make_engine(db_url)
    try:
        with reading(make_sessionmaker(engine)) as session:
            hashed = session.scalar(select(User.password_hash).where(User.email == "lead@example.com"))
            assert session.scalar(select(Team.name).join(User, User.team_id == Team.id)
                                  .where(User.email == "lead@example.com")) == "vision"
    finally:
        engine.dispose()
    assert hashed is not None and hashed.startswith("$argon2id$") and "a long enough password" not in hashed
    code, out = _run(db_url, "users", "list")
    assert code == 0 and "lead@example.com" in out and "admin" in out and "never" in out
    code, out = _run(db_url, "users", "list", "--team", "vision")
    assert code == 0 and "lead@example.com" in out and "ana@example.com" not in out
    assert _run(db_url, "users", "disable", "ANA@example.com")[0] == 0
    assert "disabled" in _run(db_url, "users", "list", "--team", "default")[1]
    assert _run(db_url, "users", "enable", "ana@example.com")[0] == 0
    assert "active" in _run(db_url, "users", "list", "--team", "default")[1]


def test_users_commands_refuse_bad_values_in_one_line(db_url: str) -> None:
    for args, stdin, message in (
        (("--email", "a@example.com"), "short\n", "at least 10 characters"),
        (("--email", "not-an-email"), "a long enough password\n", "not an email address"),
        (("--email", "a@example.com", "--team", " "), "a long enough password\n", "team name"),
    ):
        code, out = _run(db_url, "users", "create", *args, "--password-stdin", stdin=stdin)
        assert code == 2 and message in out, out
    assert _run(db_url, "users", "create", "--email", "a@example.com", "--password-stdin",
                stdin="a long enough password\n")[0] == 0
    code, out = _run(db_url, "users", "create", "--email", "A@example.com", "--password-stdin",
                     stdin="a long enough password\n")
    assert code == 2 and "has an account already" in out
    code, out = _run(db_url, "users", "disable", "nobody@example.com")
    assert code == 2 and "no account" in out
    code, out = _run(db_url, "users", "create", "--email", "b@example.com", "--role", "owner", "--password-stdin")
    assert code == 2
    code, out = _run(db_url, "users", "list", "--team", "nope")
    assert code == 2 and "no team" in out
