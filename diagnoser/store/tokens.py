"""API tokens: created with a high-entropy random value, stored as its sha256 only, shown once.

A sha256 (not a slow password hash) is right here: the token has 256 bits of entropy, so there is nothing to
brute-force, and verification must cost microseconds on every ingest request.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from diagnoser.store.base import utcnow
from diagnoser.store.models import TOKEN_SCOPES, Project, Team, Token

TOKEN_PREFIX = "dgn_"
DEFAULT_TEAM = "default"


@dataclass(frozen=True)
class Principal:
    """Who is calling: every query is scoped to `team_id`; ingest writes to `project_id`."""

    token_id: int
    team_id: int
    project_id: int
    scope: str
    revoked: bool = False


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def get_or_create_project(session: Session, team_name: str, project_name: str) -> Project:
    team = session.scalar(select(Team).where(Team.name == team_name))
    if team is None:
        team = Team(name=team_name)
        session.add(team)
        session.flush()
    project = session.scalar(select(Project).where(Project.team_id == team.id, Project.name == project_name))
    if project is None:
        project = Project(team_id=team.id, name=project_name)
        session.add(project)
        session.flush()
    return project


def create_token(session: Session, project_name: str, scope: str, team_name: str = DEFAULT_TEAM) -> tuple[Token, str]:
    """Create a token (and its team and project when new). Returns the row and the only copy of the token."""
    if scope not in TOKEN_SCOPES:
        raise ValueError(f"scope must be one of {', '.join(TOKEN_SCOPES)}, not {scope!r}")
    if not project_name.strip() or not team_name.strip():
        raise ValueError("project and team names must not be empty")
    project = get_or_create_project(session, team_name.strip(), project_name.strip())
    plaintext = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token = Token(project_id=project.id, scope=scope, token_hash=hash_token(plaintext), prefix=plaintext[:12])
    session.add(token)
    session.flush()
    return token, plaintext


def revoke_token(session: Session, prefix_or_token: str) -> int:
    """Revoke the tokens matching a full token or its displayed prefix; returns how many were revoked."""
    value = prefix_or_token.strip()
    if value.startswith(TOKEN_PREFIX) and len(value) > 20:
        condition = Token.token_hash == hash_token(value)
    else:
        condition = Token.prefix == value
    tokens = session.scalars(select(Token).where(condition, Token.revoked_at.is_(None))).all()
    for token in tokens:
        token.revoked_at = utcnow()
    return len(tokens)


def verify_token(session: Session, token: str) -> Principal | None:
    """The caller behind `token`, or None when no such token exists. Revoked tokens come back marked revoked, so the
    API can say so."""
    row = session.execute(
        select(Token.id, Token.project_id, Token.scope, Token.revoked_at, Project.team_id)
        .join(Project, Project.id == Token.project_id)
        .where(Token.token_hash == hash_token(token))
    ).first()
    if row is None:
        return None
    return Principal(token_id=row.id, team_id=row.team_id, project_id=row.project_id, scope=row.scope,
                     revoked=row.revoked_at is not None)


def list_tokens(session: Session) -> list[tuple[str, str, str, str, bool]]:
    """(team, project, scope, prefix, revoked) for every token: for `diagnoser tokens list`."""
    rows = session.execute(
        select(Team.name, Project.name, Token.scope, Token.prefix, Token.revoked_at)
        .join(Project, Project.team_id == Team.id)
        .join(Token, Token.project_id == Project.id)
        .order_by(Team.name, Project.name, Token.id)
    ).all()
    return [(t, p, s, pre, rev is not None) for t, p, s, pre, rev in rows]
