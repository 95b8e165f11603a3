"""A placeholder page for a group, so the `url` in every answer leads somewhere until the dashboard is built: it
shows nothing but whether the group exists (404 otherwise); its data is read through the API with a token."""

from __future__ import annotations

from flask import Blueprint, Response, current_app
from sqlalchemy import select

from diagnoser.store.db import reading
from diagnoser.store.models import Group
from diagnoser.web.errors import ApiError

bp = Blueprint("pages", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Diagnoser: group {group_id}</title></head>
<body><h1>Group {group_id}</h1>
<p>Read it with a read token: <code>curl -H 'Authorization: Bearer &lt;token&gt;' /api/v1/groups/{group_id}</code></p>
</body></html>
"""


@bp.get("/groups/<int:group_id>")
def group_page(group_id: int) -> Response:
    with reading(current_app.extensions["diagnoser"].sessions) as session:
        found = session.scalar(select(Group.id).where(Group.id == group_id)) if 0 < group_id < 2**31 else None
    if found is None:
        raise ApiError(404, "not_found", f"no group {group_id}")
    return Response(_PAGE.format(group_id=group_id), mimetype="text/html")
