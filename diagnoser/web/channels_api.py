"""The HTTP API of notification channels under /api/v1/channels: a read token manages its own team's channels (as
it triages its groups), never another team's. Thin handlers over diagnoser.store.channels, the functions the
dashboard's settings page calls too.

Its paths are added to the OpenAPI document when the blueprint is registered (`register`), so that document keeps
covering every route while this module is the notifications' own.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, jsonify

from diagnoser.notify.http import TransportError, resolve
from diagnoser.store.channels import (
    NO_KEY,
    ChannelError,
    add_channel,
    channel_deliveries,
    check_url,
    find_project,
    get_channel,
    list_channels,
    queue_test,
    remove_channel,
    update_channel,
)
from diagnoser.store.db import reading, writing
from diagnoser.web.auth import authenticate
from diagnoser.web.errors import ApiError
from diagnoser.web.openapi import openapi_document
from diagnoser.web.payload import read_json

bp = Blueprint("channels_api", __name__, url_prefix="/api/v1/channels")

MAX_ID = 2**31 - 1
FIELDS = {"kind", "url", "project", "events", "name", "digest_hour", "digest_tz"}
CHANGEABLE = {"events", "name", "digest_hour", "digest_tz", "state"}


def _services() -> Any:
    return current_app.extensions["diagnoser"]


def _body(allowed: set[str]) -> dict[str, Any]:
    body = read_json(_services().settings.max_body_bytes)
    if not isinstance(body, dict):
        raise ApiError(400, "invalid_body", "send a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ApiError(400, "unknown_field", f"unknown field {unknown[0]!r}; known: {', '.join(sorted(allowed))}",
                       field=unknown[0])
    return body


def _text(body: dict[str, Any], name: str, required: bool = False) -> str | None:
    value = body.get(name)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value.strip():
        raise ApiError(400, "invalid_field", f"{name} must be a non-empty string", field=name)
    return value


def _hour(body: dict[str, Any]) -> int | None:
    value = body.get("digest_hour")
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ApiError(400, "invalid_field", "digest_hour must be a whole number from 0 to 23", field="digest_hour")
    return int(value)


def _events(body: dict[str, Any]) -> str | list[str] | None:
    value = body.get("events")
    if value is None or isinstance(value, str) or (isinstance(value, list) and all(isinstance(v, str) for v in value)):
        return value
    raise ApiError(400, "invalid_field", "events must be a list of event names", field="events")


def _id(value: int) -> int:
    if not 0 < value <= MAX_ID:
        raise ApiError(404, "not_found", "no such channel")
    return value


def _found(value: Any, channel_id: int) -> Any:
    if value is None:
        raise ApiError(404, "not_found", f"no channel {channel_id}")
    return value


@bp.get("")
def channels_index() -> Response:
    principal = authenticate("read")
    with reading(_services().sessions) as session:
        return jsonify({"channels": list_channels(session, principal.team_id)})


@bp.post("")
def channels_create() -> Response:
    principal = authenticate("read")
    settings = _services().settings
    body = _body(FIELDS)
    kind, url = _text(body, "kind", True), _text(body, "url", True)
    assert kind is not None and url is not None
    if not settings.encryption_key:
        raise ApiError(409, "no_encryption_key", NO_KEY)
    try:
        _, host, port = check_url(url, settings.allow_private_webhooks)
        resolve(host, port, settings.allow_private_webhooks)
    except ChannelError as error:
        raise ApiError(400, "invalid_url", str(error), field="url") from None
    except TransportError as error:
        if error.permanent:
            raise ApiError(400, "invalid_url", error.message, field="url") from None
    project = _text(body, "project")
    hour = _hour(body)
    with writing(_services().sessions) as session:
        try:
            project_id = find_project(session, principal.team_id, project) if project else None
            added = add_channel(
                session, principal.team_id, kind, url, settings.encryption_key, project_id=project_id,
                events=_events(body), name=_text(body, "name") or "", digest_hour=9 if hour is None else hour,
                digest_tz=_text(body, "digest_tz") or "UTC",
                allow_private=settings.allow_private_webhooks,
            )
        except ChannelError as error:
            raise ApiError(400, "invalid_channel", str(error)) from None
    answer: dict[str, Any] = {"channel": added.channel}
    if added.secret:
        answer["signing_secret"] = added.secret
    response = jsonify(answer)
    response.status_code = 201
    return response


@bp.get("/<int:channel_id>")
def channel_show(channel_id: int) -> Response:
    principal = authenticate("read")
    with reading(_services().sessions) as session:
        return jsonify(_found(get_channel(session, _id(channel_id), principal.team_id), channel_id))


@bp.patch("/<int:channel_id>")
def channel_update(channel_id: int) -> Response:
    principal = authenticate("read")
    body = _body(CHANGEABLE)
    state = body.get("state")
    if state not in (None, "active"):
        raise ApiError(400, "invalid_field", "state can only be set to 'active' (a channel is disabled by its "
                       "remote's permanent failures)", field="state")
    with writing(_services().sessions) as session:
        try:
            channel = update_channel(session, _id(channel_id), principal.team_id, name=_text(body, "name"),
                                     events=_events(body), digest_hour=_hour(body),
                                     digest_tz=_text(body, "digest_tz"), enable=state == "active")
        except ChannelError as error:
            raise ApiError(400, "invalid_channel", str(error)) from None
    return jsonify(_found(channel, channel_id))


@bp.delete("/<int:channel_id>")
def channel_delete(channel_id: int) -> Response:
    principal = authenticate("read")
    with writing(_services().sessions) as session:
        _found(remove_channel(session, _id(channel_id), principal.team_id) or None, channel_id)
    return Response(status=204)


@bp.post("/<int:channel_id>/test")
def channel_test(channel_id: int) -> Response:
    principal = authenticate("read")
    with writing(_services().sessions) as session:
        try:
            event_id = _found(queue_test(session, _id(channel_id), principal.team_id), channel_id)
        except ChannelError as error:
            raise ApiError(400, "invalid_channel", str(error)) from None
    response = jsonify({"event_id": event_id, "deliveries": f"/api/v1/channels/{channel_id}/deliveries"})
    response.status_code = 202
    return response


@bp.get("/<int:channel_id>/deliveries")
def channel_deliveries_index(channel_id: int) -> Response:
    principal = authenticate("read")
    with reading(_services().sessions) as session:
        rows = _found(channel_deliveries(session, _id(channel_id), principal.team_id), channel_id)
    return jsonify({"deliveries": rows})


def register(app: Flask) -> None:
    """Register the blueprint and document its paths in the OpenAPI document."""
    app.register_blueprint(bp)
    openapi_document()["paths"].update(OPENAPI_PATHS)
    openapi_document()["components"]["schemas"].update(OPENAPI_SCHEMAS)


def _errors(*codes: int) -> dict[str, Any]:
    return {str(c): {"description": _ERRORS[c], "content": {"application/json": {"schema": {
        "$ref": "#/components/schemas/Error"}}}} for c in codes}


_ERRORS = {400: "Invalid request", 401: "Missing, unknown or revoked token", 403: "Token of the wrong scope",
           404: "Not found (or not your team's)", 409: "DIAGNOSER_ENCRYPTION_KEY is not set on the server",
           415: "Wrong content type or encoding"}
_READ: list[dict[str, list[str]]] = [{"readToken": []}]
_PATH_ID = [{"name": "channel_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1},
             "description": "Channel id"}]
_CHANNEL_REF = {"$ref": "#/components/schemas/Channel"}
_EVENTS = {"type": "array", "items": {"enum": ["new", "regressed", "spike", "digest"]}}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


OPENAPI_SCHEMAS: dict[str, Any] = {
    "Channel": {"type": "object", "properties": {
        "id": {"type": "integer"}, "team": {"type": "string"}, "project": {"type": ["string", "null"]},
        "kind": {"enum": ["slack", "mattermost", "webhook"]}, "name": {"type": "string"},
        "url": {"type": "string", "description": "Masked: scheme, host and the last four characters"},
        "events": _EVENTS, "state": {"enum": ["active", "disabled"]}, "disabled_reason": {"type": ["string", "null"]},
        "digest_hour": {"type": "integer"}, "digest_tz": {"type": "string"},
        "last_delivery_at": {"type": ["string", "null"]}, "last_delivery_status": {"type": ["string", "null"]},
        "pending": {"type": "integer"}, "created_at": {"type": "string"}}},
    "ChannelIn": {"type": "object", "required": ["kind", "url"], "additionalProperties": False, "properties": {
        "kind": {"enum": ["slack", "mattermost", "webhook"]}, "url": {"type": "string", "format": "uri"},
        "project": {"type": "string", "description": "Project name; omitted: the whole team"}, "events": _EVENTS,
        "name": {"type": "string"}, "digest_hour": {"type": "integer", "minimum": 0, "maximum": 23},
        "digest_tz": {"type": "string", "description": "IANA time zone"}}},
}

OPENAPI_PATHS: dict[str, Any] = {
    "/channels": {
        "get": {"summary": "The team's notification channels, each with its state and last delivery",
                "security": _READ, "responses": {"200": _json({"type": "object", "properties": {
                    "channels": {"type": "array", "items": _CHANNEL_REF}}}, "Channels"), **_errors(401, 403)}},
        "post": {"summary": "Add a Slack, Mattermost or signed webhook channel",
                 "description": "The URL is a secret: kept encrypted, shown masked. A webhook channel's signing "
                                "secret is in this answer only.",
                 "security": _READ, "requestBody": {"required": True, "content": {"application/json": {
                     "schema": {"$ref": "#/components/schemas/ChannelIn"}}}},
                 "responses": {"201": _json({"type": "object", "properties": {
                     "channel": _CHANNEL_REF, "signing_secret": {"type": "string"}}}, "Added"),
                     **_errors(400, 401, 403, 409, 415)}},
    },
    "/channels/{channel_id}": {
        "get": {"summary": "One channel", "security": _READ, "parameters": _PATH_ID,
                "responses": {"200": _json(_CHANNEL_REF, "The channel"), **_errors(401, 403, 404)}},
        "patch": {"summary": "Change its events, name or digest hour; state 'active' enables a disabled channel",
                  "security": _READ, "parameters": _PATH_ID,
                  "requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}},
                  "responses": {"200": _json(_CHANNEL_REF, "The channel"), **_errors(400, 401, 403, 404, 415)}},
        "delete": {"summary": "Remove the channel and its delivery history", "security": _READ,
                   "parameters": _PATH_ID, "responses": {"204": {"description": "Removed"},
                                                         **_errors(401, 403, 404)}},
    },
    "/channels/{channel_id}/test": {
        "post": {"summary": "Queue a test message (sent by the worker within seconds; see its deliveries)",
                 "security": _READ, "parameters": _PATH_ID,
                 "responses": {"202": _json({"type": "object"}, "Queued"), **_errors(401, 403, 404)}},
    },
    "/channels/{channel_id}/deliveries": {
        "get": {"summary": "The channel's latest deliveries, each with every attempt (time, status, error)",
                "security": _READ, "parameters": _PATH_ID,
                "responses": {"200": _json({"type": "object"}, "Deliveries"), **_errors(401, 403, 404)}},
    },
}
