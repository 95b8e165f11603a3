"""Reading and checking request bodies strictly: the content type, gzip, UTF-8, JSON, then each field's type.
Every refusal is an ApiError naming what is wrong, so a client's bug is a clear 4xx and never a 500."""

from __future__ import annotations

import json
import re
import zlib
from dataclasses import dataclass, field
from typing import Any

from flask import request

from diagnoser.web.errors import ApiError

MAX_DEPTH = 20
MAX_SHORT = 255
META_STRINGS = {
    "hostname": MAX_SHORT,
    "user": MAX_SHORT,
    "run_id": MAX_SHORT,
    "script": 4096,
    "framework": 64,
    "framework_version": 64,
    "python_version": 64,
    "git_commit": 64,
}
META_MAPS = ("versions", "tags")
REPORT_FIELDS = ("traceback", "summary", "source", "inputs", "meta", "event_id")
_EVENT_ID = re.compile(r"[A-Za-z0-9_-]{8,64}")


@dataclass
class ReportPayload:
    traceback: str
    summary: str | None = None
    source: str | None = None
    inputs: dict[str, Any] | None = None
    meta: dict[str, Any] = field(default_factory=dict)
    event_id: str | None = None


def read_json(max_bytes: int) -> Any:
    """The request's JSON document, after checking its content type and encoding and inflating gzip."""
    mimetype = request.mimetype
    if mimetype != "application/json":
        raise ApiError(
            415,
            "unsupported_media_type",
            f"send JSON with 'Content-Type: application/json' (got {mimetype or 'none'!r})",
        )
    charset = request.mimetype_params.get("charset", "utf-8").lower()
    if charset not in ("utf-8", "utf8"):
        raise ApiError(415, "unsupported_charset", f"the body must be UTF-8, not {charset!r}")
    raw = request.get_data(cache=False)
    if len(raw) > max_bytes:
        raise ApiError(413, "body_too_large", f"the request body is larger than {max_bytes} bytes")
    encoding = request.headers.get("Content-Encoding", "identity").strip().lower()
    if encoding == "gzip":
        raw = _gunzip(raw, max_bytes)
    elif encoding not in ("identity", ""):
        raise ApiError(415, "unsupported_encoding", f"Content-Encoding must be gzip or identity, not {encoding!r}")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ApiError(400, "invalid_encoding", f"the body is not valid UTF-8 (byte {exc.start})") from None
    if not text.strip():
        raise ApiError(400, "invalid_json", "the body is empty; send a JSON object")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ApiError(
            400, "invalid_json", f"malformed JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except (RecursionError, ValueError) as exc:
        raise ApiError(400, "invalid_json", f"malformed JSON: {exc}"[:300]) from None


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _gunzip(raw: bytes, max_bytes: int) -> bytes:
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        data = inflater.decompress(raw, max_bytes + 1)
    except zlib.error:
        raise ApiError(400, "invalid_gzip", "the body is not valid gzip") from None
    if len(data) > max_bytes or inflater.unconsumed_tail:
        raise ApiError(413, "body_too_large", f"the decompressed body is larger than {max_bytes} bytes")
    if not inflater.eof:
        raise ApiError(400, "invalid_gzip", "the gzip body is truncated")
    return data


def clean_str(value: str) -> str:
    """Text every database accepts: no NUL (PostgreSQL refuses it) and no lone surrogates (not UTF-8)."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        value = value.encode("utf-8", "replace").decode("utf-8")
    return value


def _clean_json(value: Any, path: str, depth: int = 0) -> Any:
    if depth > MAX_DEPTH:
        raise ApiError(400, "too_deep", f"nested deeper than {MAX_DEPTH} levels", field=path)
    if isinstance(value, str):
        return clean_str(value)
    if isinstance(value, dict):
        return {clean_str(k): _clean_json(v, f"{path}.{k}", depth + 1) for k, v in value.items()}
    if isinstance(value, list):
        return [_clean_json(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(value)]
    if isinstance(value, float) and value != value:
        raise ApiError(400, "invalid_value", "NaN is not allowed", field=path)
    return value


def _type_name(value: Any) -> str:
    return {
        dict: "object",
        list: "array",
        str: "string",
        bool: "boolean",
        int: "integer",
        float: "number",
        type(None): "null",
    }.get(type(value), type(value).__name__)


def expect_object(document: Any, allowed: tuple[str, ...], path: str = "") -> dict[str, Any]:
    where = path or "body"
    if not isinstance(document, dict):
        raise ApiError(
            400, "invalid_type", f"{where} must be a JSON object, not {_type_name(document)}", field=path or None
        )
    unknown = sorted(set(document) - set(allowed))
    if unknown:
        name = f"{path}.{unknown[0]}" if path else unknown[0]
        raise ApiError(400, "unknown_field", f"unknown field {name!r}; allowed: {', '.join(allowed)}", field=name)
    return document


def optional_str(document: dict[str, Any], name: str, path: str, limit: int | None = None) -> str | None:
    value = document.get(name)
    if value is None:
        return None
    full = f"{path}.{name}" if path else name
    if not isinstance(value, str):
        raise ApiError(400, "invalid_type", f"{full} must be a string, not {_type_name(value)}", field=full)
    if limit is not None and len(value) > limit:
        raise ApiError(400, "too_long", f"{full} is longer than {limit} characters", field=full)
    return clean_str(value)


def _string_map(value: Any, path: str) -> dict[str, str] | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ApiError(400, "invalid_type", f"{path} must be an object of strings, not {_type_name(value)}", field=path)
    if len(value) > 100:
        raise ApiError(400, "too_long", f"{path} has more than 100 entries", field=path)
    result = {}
    for key, item in value.items():
        if not isinstance(item, str):
            raise ApiError(
                400, "invalid_type", f"{path}.{key} must be a string, not {_type_name(item)}", field=f"{path}.{key}"
            )
        if len(key) > MAX_SHORT or len(item) > 1000:
            raise ApiError(400, "too_long", f"{path}.{key} is too long", field=f"{path}.{key}")
        result[clean_str(key)] = clean_str(item)
    return result


def parse_report(document: Any) -> ReportPayload:
    body = expect_object(document, REPORT_FIELDS)
    if "traceback" not in body:
        raise ApiError(400, "missing_field", "the field 'traceback' is required", field="traceback")
    traceback = optional_str(body, "traceback", "")
    if not traceback or not traceback.strip():
        raise ApiError(400, "invalid_value", "traceback must be a non-empty string", field="traceback")
    inputs = body.get("inputs")
    if inputs is not None:
        if not isinstance(inputs, dict):
            raise ApiError(400, "invalid_type", f"inputs must be an object, not {_type_name(inputs)}", field="inputs")
        inputs = _clean_json(inputs, "inputs")
    meta_in = body.get("meta")
    meta: dict[str, Any] = {}
    if meta_in is not None:
        expect_object(meta_in, tuple(META_STRINGS) + META_MAPS, "meta")
        for name, limit in META_STRINGS.items():
            meta[name] = optional_str(meta_in, name, "meta", limit)
        for name in META_MAPS:
            meta[name] = _string_map(meta_in.get(name), f"meta.{name}")
    event_id = optional_str(body, "event_id", "")
    if event_id is not None and not _EVENT_ID.fullmatch(event_id):
        raise ApiError(
            400, "invalid_value", "event_id must be 8 to 64 letters, digits, '-' or '_' (a UUID)", field="event_id"
        )
    return ReportPayload(
        traceback=traceback,
        summary=optional_str(body, "summary", ""),
        source=optional_str(body, "source", ""),
        inputs=inputs,
        meta=meta,
        event_id=event_id,
    )


def parse_status(document: Any, allowed: tuple[str, ...]) -> str:
    body = expect_object(document, ("status",))
    if "status" not in body:
        raise ApiError(400, "missing_field", "the field 'status' is required", field="status")
    status = body["status"]
    if not isinstance(status, str) or status not in allowed:
        raise ApiError(400, "invalid_value", f"status must be one of {', '.join(allowed)}", field="status")
    return status
