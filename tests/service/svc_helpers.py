"""Helpers shared by the service tests (a module of its own: `conftest` is a name other test folders use too)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from diagnoser.store.db import writing
from diagnoser.store.tokens import create_token

FIXTURES = Path(__file__).parent / "fixtures"
KERAS_TRACEBACK = (FIXTURES / "keras3_input_rank_missing_channel.txt").read_text()


def make_token(app: Flask, project: str = "vision", scope: str = "ingest", team: str = "default") -> str:
    with writing(app.extensions["diagnoser"].sessions) as session:
        _, token = create_token(session, project, scope, team)
    return token


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def post_report(client: FlaskClient, token: str, body: Any = None, **kwargs: Any) -> Any:
    if body is None:
        body = {"traceback": KERAS_TRACEBACK}
    return client.post("/api/v1/reports", json=body, headers=auth(token), **kwargs)
