"""The one error mapper: every failure leaves the API as JSON `{"error": {"code", "message", "field"?}}` with the
right status; a database that cannot take a report is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, jsonify, request
from gunicorn.http.errors import ParseException
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from diagnoser.store.db import unavailable_reason
from diagnoser.store.ingest import TokenRevoked
from diagnoser.store.writer import Refused, Unavailable
from diagnoser.web import metrics

log = logging.getLogger("diagnoser.web")

RETRY_AFTER_SECONDS = 5


class ApiError(Exception):
    """An error the caller can act on: `code` is stable for programs, `message` is for people."""

    def __init__(self, status: int, code: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.field = status, code, message, field
        self.headers = headers or {}


def error_response(status: int, code: str, message: str, field: str | None = None,
                   headers: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if field is not None:
        body["field"] = field
    response = jsonify({"error": body})
    response.status_code = status
    for key, value in (headers or {}).items():
        response.headers[key] = value
    return response


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 413: "body_too_large", 415: "unsupported_media_type",
               429: "too_many_requests"}


def unavailable_response(reason: str, retry_after: int = RETRY_AFTER_SECONDS) -> Response:
    """503: nothing was stored; the client keeps the report and sends it again after Retry-After seconds.

    Not logged here: the writer logs the cause once when the database becomes unavailable and once when it is
    back, instead of a line per request."""
    metrics.REFUSED.inc()
    return error_response(503, "database_unavailable", f"not stored, retry later: {reason}",
                          headers={"Retry-After": str(retry_after)})


def init_app(app: Flask) -> None:
    @app.errorhandler(ApiError)
    def _api_error(error: ApiError) -> Response:
        return error_response(error.status, error.code, error.message, error.field, error.headers)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException) -> Response:
        status = error.code or 500
        message = error.description or error.name
        if status == 413:
            message = f"the request body is larger than {app.config['MAX_CONTENT_LENGTH']} bytes"
        response = error_response(status, _HTTP_CODES.get(status, "http_error"), message)
        valid_methods = getattr(error, "valid_methods", None)
        if status == 405 and valid_methods:
            response.headers["Allow"] = ", ".join(valid_methods)
        return response

    @app.errorhandler(ParseException)
    def _malformed_body(error: ParseException) -> Response:
        # gunicorn raises these while Flask reads the body (an invalid chunk size, a body cut short)
        return error_response(400, "invalid_body", f"the request body is malformed: {type(error).__name__}")

    @app.errorhandler(TokenRevoked)
    def _revoked(error: TokenRevoked) -> Response:
        return error_response(401, "revoked_token", "this token has been revoked",
                              headers={"WWW-Authenticate": 'Bearer realm="diagnoser"'})

    @app.errorhandler(Unavailable)
    def _unavailable(error: Unavailable) -> Response:
        return unavailable_response(error.reason, error.retry_after)

    @app.errorhandler(Refused)
    def _refused(error: Refused) -> Response:
        return error_response(500, "internal_error", str(error))

    @app.errorhandler(sa_exc.SQLAlchemyError)
    def _database(error: sa_exc.SQLAlchemyError) -> Response:
        reason = unavailable_reason(error)
        if reason is not None:  # a read or a triage write that could not reach the database
            return unavailable_response(reason)
        log.exception("database error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
