"""People of a team, who log in to the dashboard: argon2 password hashes (argon2-cffi), roles, disabling.

Why argon2 (and not the sha256 of tokens): a password has little entropy, so its hash must be slow and
memory-hard to guess at. Verification costs tens of milliseconds, which is also why logins are throttled in the
web layer and an unknown email still pays for a verification (the answer's time tells nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from diagnoser.store.base import utcnow
from diagnoser.store.models import ROLES, Team, User

MIN_PASSWORD_LENGTH = 10
MAX_PASSWORD_LENGTH = 1024

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash("diagnoser: a password nobody has")


class UserError(ValueError):
    """A refused account change; the message says why."""


@dataclass(frozen=True)
class Person:
    """Who is logged in: every dashboard query is scoped to `team_id`."""

    id: int
    team_id: int
    team: str
    email: str
    role: str

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def normalise_email(email: str) -> str:
    return email.strip().lower()


def _check_email(email: str) -> str:
    value = normalise_email(email)
    local, at, domain = value.partition("@")
    if not at or not local or not domain or len(value) > 320 or any(c.isspace() for c in value):
        raise UserError(f"not an email address: {email!r}")
    return value


def check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"a password needs at least {MIN_PASSWORD_LENGTH} characters")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"a password has at most {MAX_PASSWORD_LENGTH} characters")


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def _person(user: User, team: str) -> Person:
    return Person(id=user.id, team_id=user.team_id, team=team, email=user.email, role=user.role)


def create_user(session: Session, team_name: str, email: str, role: str, password: str) -> Person:
    """A new account of team `team_name` (created when new); UserError for a bad value or an email in use."""
    if role not in ROLES:
        raise UserError(f"role must be one of {', '.join(ROLES)}, not {role!r}")
    address = _check_email(email)
    check_password(password)
    if not team_name.strip():
        raise UserError("the team name must not be empty")
    if session.scalar(select(User.id).where(User.email == address)) is not None:
        raise UserError(f"{address} has an account already")
    team = session.scalar(select(Team).where(Team.name == team_name.strip()))
    if team is None:
        team = Team(name=team_name.strip())
        session.add(team)
        session.flush()
    user = User(team_id=team.id, email=address, role=role, password_hash=hash_password(password))
    session.add(user)
    session.flush()
    return _person(user, team.name)


def authenticate(session: Session, email: str, password: str) -> Person | None:
    """The person whose email and password these are, and not disabled; else None (the same time either way)."""
    row = session.execute(
        select(User, Team.name).join(Team, Team.id == User.team_id).where(User.email == normalise_email(email))
    ).first()
    stored = row[0].password_hash if row is not None else _DUMMY_HASH
    try:
        _hasher.verify(stored, password[:MAX_PASSWORD_LENGTH])
    except (VerificationError, InvalidHashError):
        return None
    if row is None:
        return None
    user, team = row
    if user.disabled_at is not None:
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.last_login_at = utcnow()
    session.flush()
    return _person(user, team)


def get_person(session: Session, user_id: int) -> Person | None:
    """The enabled account `user_id`, or None (disabled or removed: its sessions end at their next request)."""
    row = session.execute(
        select(User.id, User.team_id, Team.name, User.email, User.role)
        .join(Team, Team.id == User.team_id)
        .where(User.id == user_id, User.disabled_at.is_(None))
    ).first()
    return Person(*row) if row is not None else None


def person_by_email(session: Session, email: str) -> Person | None:
    """The enabled account of this email (the trusted proxy's header names it), or None."""
    row = session.execute(
        select(User.id, User.team_id, Team.name, User.email, User.role)
        .join(Team, Team.id == User.team_id)
        .where(User.email == normalise_email(email), User.disabled_at.is_(None))
    ).first()
    return Person(*row) if row is not None else None


@dataclass(frozen=True)
class Account:
    id: int
    team: str
    email: str
    role: str
    created_at: datetime
    last_login_at: datetime | None
    disabled_at: datetime | None


def list_users(session: Session, team_id: int | None = None) -> list[Account]:
    """Every account (of one team when given), by team and email."""
    stmt = select(User, Team.name).join(Team, Team.id == User.team_id).order_by(Team.name, User.email)
    if team_id is not None:
        stmt = stmt.where(User.team_id == team_id)
    return [
        Account(u.id, team, u.email, u.role, u.created_at, u.last_login_at, u.disabled_at)
        for u, team in session.execute(stmt).all()
    ]


def set_disabled(session: Session, email: str, disabled: bool = True, team_id: int | None = None) -> bool:
    """Disable (or enable again) the account of `email` (within `team_id` when given); False when none matches."""
    stmt = select(User).where(User.email == normalise_email(email))
    if team_id is not None:
        stmt = stmt.where(User.team_id == team_id)
    user = session.scalar(stmt)
    if user is None:
        return False
    if disabled and user.disabled_at is None:
        user.disabled_at = utcnow()
    elif not disabled:
        user.disabled_at = None
    session.flush()
    return True
