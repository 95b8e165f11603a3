"""The OpenAPI 3.1 document of /api/v1: the contract the client and the dashboard are written against. A test
checks that every route of the app is documented here."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from diagnoser import __version__
from diagnoser.store.models import GROUP_STATUSES
from diagnoser.web.payload import META_STRINGS

_ERROR = {"$ref": "#/components/schemas/Error"}


def _errors(*codes: int) -> dict[str, Any]:
    text = {
        400: "Malformed or invalid request",
        401: "Missing, unknown or revoked token",
        403: "Token of the wrong scope",
        404: "Not found (or not your team's)",
        413: "Body too large",
        415: "Wrong content type or encoding",
        503: "Database unavailable; see Retry-After",
    }
    return {str(c): {"description": text[c], "content": {"application/json": {"schema": _ERROR}}} for c in codes}


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def _param(name: str, schema: dict[str, Any], description: str, where: str = "query") -> dict[str, Any]:
    return {"name": name, "in": where, "required": where == "path", "schema": schema, "description": description}


_TIME = {"type": "string", "format": "date-time"}
_ID = {"type": "integer", "minimum": 1}
_NULLABLE_STR = {"type": ["string", "null"]}


@lru_cache(maxsize=1)
def openapi_document() -> dict[str, Any]:
    diagnosis = {
        "type": "object",
        "properties": {
            "cause": {"type": "string"},
            "confidence": {"type": "number", "minimum": 0, "maximum": 1},
            "rule": {"type": "string"},
            "layer": _NULLABLE_STR,
            "expected": _NULLABLE_STR,
            "received": _NULLABLE_STR,
            "title": {"type": "string"},
            "explanation": {"type": "string"},
            "fix": {"type": "string"},
            "fix_code": _NULLABLE_STR,
            "evidence": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "source": {"type": "string", "enum": ["message", "summary", "frame", "code"]},
                        "text": {"type": "string"},
                    },
                },
            },
            "fingerprint": {"type": "string"},
        },
    }
    meta_props: dict[str, Any] = {k: {"type": "string", "maxLength": n} for k, n in META_STRINGS.items()}
    meta_props["versions"] = {
        "type": "object",
        "additionalProperties": {"type": "string"},
        "description": 'Library versions, e.g. {"tensorflow": "2.21.0"}',
    }
    meta_props["tags"] = {"type": "object", "additionalProperties": {"type": "string"}}
    group = {
        "type": "object",
        "properties": {
            "id": _ID,
            "project": {"type": "string"},
            "fingerprint": {"type": "string"},
            "cause": _NULLABLE_STR,
            "rule": _NULLABLE_STR,
            "title": {"type": "string"},
            "exception_type": {"type": "string"},
            "first_seen": _TIME,
            "last_seen": _TIME,
            "count": {"type": "integer"},
            "status": {"type": "string", "enum": list(GROUP_STATUSES)},
            "url": {"type": "string", "format": "uri"},
        },
    }
    time_filters = [
        _param("since", _TIME, "Only what was seen at or after this time"),
        _param("until", _TIME, "Only what was seen before this time"),
        _param("project", {"type": "string"}, "Only this project of your team"),
    ]
    read: list[dict[str, list[str]]] = [{"readToken": []}]
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "Diagnoser API",
            "version": __version__,
            "description": "Send training tracebacks, get a named root cause and fix; see recurring causes. "
            'Every answer is JSON; every error is {"error": {"code", "message", "field"?}}.',
        },
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {
                "ingestToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A project's ingest token (diagnoser tokens create --scope ingest)",
                },
                "readToken": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "A read token: reads and triages its team's groups and reports",
                },
            },
            "schemas": {
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": "string"},
                            },
                        }
                    },
                },
                "Diagnosis": diagnosis,
                "Group": group,
                "ReportIn": {
                    "type": "object",
                    "required": ["traceback"],
                    "additionalProperties": False,
                    "properties": {
                        "traceback": {"type": "string", "minLength": 1, "description": "A traceback or a whole log"},
                        "summary": {"type": ["string", "null"], "description": "model.summary() / print(model)"},
                        "source": {"type": ["string", "null"], "description": "The training script's source"},
                        "inputs": {"type": ["object", "null"], "description": "Shapes/dtypes of the data fed in"},
                        "meta": {"type": ["object", "null"], "additionalProperties": False, "properties": meta_props},
                        "event_id": {
                            "type": ["string", "null"],
                            "pattern": "^[A-Za-z0-9_-]{8,64}$",
                            "description": "The client's id for this report (a UUID): a resend with the "
                            "same id is stored once and answered as the first time",
                        },
                    },
                },
                "ReportCreated": {
                    "type": "object",
                    "required": ["report_id", "group_id", "group_status", "diagnoses", "url"],
                    "properties": {
                        "report_id": _ID,
                        "group_id": _ID,
                        "group_status": {"type": "string", "enum": ["new", "existing", "regressed"]},
                        "diagnoses": {
                            "type": "array",
                            "items": {"$ref": "#/components/schemas/Diagnosis"},
                            "description": "The diagnoses of the last traceback, best first",
                        },
                        "url": {"type": "string", "format": "uri", "description": "The group's dashboard page"},
                    },
                },
            },
        },
        "paths": {
            "/reports": {
                "post": {
                    "summary": "Send a traceback; get its diagnosis",
                    "description": "JSON body, optionally gzip (Content-Encoding: gzip); at most "
                    "DIAGNOSER_MAX_BODY_BYTES "
                    "(1 MB) after decompression. Secrets are redacted before anything is stored. "
                    "201 means committed; 503 means not stored (send it again after Retry-After).",
                    "security": [{"ingestToken": []}],
                    "requestBody": {
                        "required": True,
                        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ReportIn"}}},
                    },
                    "responses": {
                        "201": _json({"$ref": "#/components/schemas/ReportCreated"}, "Stored and diagnosed"),
                        **_errors(400, 401, 403, 413, 415, 503),
                    },
                }
            },
            "/reports/{report_id}": {
                "get": {
                    "summary": "One stored report with its diagnoses",
                    "security": read,
                    "parameters": [_param("report_id", _ID, "Report id", "path")],
                    "responses": {"200": _json({"type": "object"}, "The report"), **_errors(401, 403, 404, 503)},
                }
            },
            "/groups": {
                "get": {
                    "summary": "Recurring causes, most recently seen first",
                    "security": read,
                    "parameters": [
                        _param("cause", {"type": "string"}, "A cause id, or 'none' for undiagnosed groups"),
                        _param("status", {"type": "string", "enum": list(GROUP_STATUSES)}, "Group status"),
                        *time_filters,
                        _param("limit", {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}, "Page size"),
                        _param("offset", {"type": "integer", "minimum": 0, "default": 0}, "Rows to skip"),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "groups": {"type": "array", "items": {"$ref": "#/components/schemas/Group"}},
                                    "limit": {"type": "integer"},
                                    "offset": {"type": "integer"},
                                    "next_offset": {"type": ["integer", "null"]},
                                },
                            },
                            "One page of groups",
                        ),
                        **_errors(400, 401, 403, 503),
                    },
                }
            },
            "/groups/{group_id}": {
                "get": {
                    "summary": "One group, with the diagnoses of its latest report",
                    "security": read,
                    "parameters": [_param("group_id", _ID, "Group id", "path")],
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Group"}, "The group"),
                        **_errors(401, 403, 404, 503),
                    },
                },
                "patch": {
                    "summary": "Triage a group: open, resolved or ignored",
                    "security": read,
                    "parameters": [_param("group_id", _ID, "Group id", "path")],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {
                                    "type": "object",
                                    "required": ["status"],
                                    "additionalProperties": False,
                                    "properties": {
                                        "status": {"type": "string", "enum": ["open", "resolved", "ignored"]}
                                    },
                                }
                            }
                        },
                    },
                    "responses": {
                        "200": _json({"$ref": "#/components/schemas/Group"}, "The updated group"),
                        **_errors(400, 401, 403, 404, 415, 503),
                    },
                },
            },
            "/causes": {
                "get": {
                    "summary": "Reports and groups per cause over a window (default: the last 7 days)",
                    "security": read,
                    "parameters": [
                        *time_filters,
                        _param(
                            "days",
                            {"type": "integer", "minimum": 1, "maximum": 3660, "default": 7},
                            "Window length when since is not given",
                        ),
                    ],
                    "responses": {
                        "200": _json(
                            {
                                "type": "object",
                                "properties": {
                                    "since": _TIME,
                                    "until": {"type": ["string", "null"]},
                                    "causes": {
                                        "type": "array",
                                        "items": {
                                            "type": "object",
                                            "properties": {
                                                "cause": _NULLABLE_STR,
                                                "reports": {"type": "integer"},
                                                "groups": {"type": "integer"},
                                                "last_seen": {"type": ["string", "null"]},
                                            },
                                        },
                                    },
                                },
                            },
                            "Counts per cause",
                        ),
                        **_errors(400, 401, 403, 503),
                    },
                }
            },
            "/openapi.json": {
                "get": {
                    "summary": "This document",
                    "security": [],
                    "responses": {"200": {"description": "OpenAPI 3.1"}},
                }
            },
        },
    }
