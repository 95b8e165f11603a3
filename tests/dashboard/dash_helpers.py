"""Helpers of the dashboard tests (a module name of its own: `conftest` is a name other test folders use too)."""

from __future__ import annotations

import re
import sys
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "service"))

from svc_helpers import KERAS_TRACEBACK, auth, postgres_url, reset_postgres  # noqa: E402

from diagnoser.store.db import writing  # noqa: E402
from diagnoser.store.tokens import create_token  # noqa: E402
from diagnoser.store.users import create_user  # noqa: E402

__all__ = ["KERAS_TRACEBACK", "auth", "postgres_url", "reset_postgres"]

PASSWORD = "correct horse battery"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_user(app: Flask, email: str, role: str = "member", team: str = "default") -> None:
    with writing(app.extensions["diagnoser"].sessions) as session:
        create_user(session, team, email, role, PASSWORD)


def make_token(app: Flask, project: str = "vision", scope: str = "ingest", team: str = "default") -> str:
    with writing(app.extensions["diagnoser"].sessions) as session:
        _, token = create_token(session, project, scope, team)
    return token


def csrf_of(client: FlaskClient, path: str = "/login") -> str:
    found = CSRF.search(client.get(path).get_data(as_text=True))
    assert found, f"no CSRF field on {path}"
    return found.group(1)


def login(client: FlaskClient, email: str, password: str = PASSWORD) -> Any:
    return client.post("/login", data={"email": email, "password": password, "csrf_token": csrf_of(client)})


def logged_in(app: Flask, email: str) -> FlaskClient:
    client = app.test_client()
    answer = login(client, email)
    assert answer.status_code == 303, answer.get_data(as_text=True)
    return client


def post_report(client: FlaskClient, token: str, traceback: str = KERAS_TRACEBACK, **extra: Any) -> dict[str, Any]:
    answer = client.post("/api/v1/reports", json={"traceback": traceback, **extra}, headers=auth(token))
    assert answer.status_code == 201, answer.get_data(as_text=True)
    return answer.get_json()  # type: ignore[no-any-return]


def form(client: FlaskClient, path: str, data: dict[str, Any] | None = None, page: str = "/") -> Any:
    """POST a dashboard form with the session's CSRF token (read from `page`)."""
    return client.post(path, data={"csrf_token": csrf_of(client, page), **(data or {})})
