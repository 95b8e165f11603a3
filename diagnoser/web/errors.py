"""The one error mapper: every failure leaves the API as JSON `{"error": {"code", "message", "field"?}}` with the
right status; an unreachable database is a 503 with Retry-After, never a 500."""

from __future__ import annotations

import logging
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy import exc as sa_exc
from werkzeug.exceptions import HTTPException

from diagnoser.store.remote_writer import StoreRefused, StoreUnavailable
from diagnoser.store.tokens import TokenRevoked

log = logging.getLogger("diagnoser.web")

RETRY_AFTER_SECONDS = "5"


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


def _unavailable(error: BaseException) -> Response:
    log.warning("database unavailable: %s", type(error).__name__)
    return error_response(503, "database_unavailable", "the database is unreachable; retry later",
                          headers={"Retry-After": RETRY_AFTER_SECONDS})


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

    @app.errorhandler(TokenRevoked)
    def _revoked(error: TokenRevoked) -> Response:
        return error_response(401, "revoked_token", "this token has been revoked",
                              headers={"WWW-Authenticate": 'Bearer realm="diagnoser"'})

    @app.errorhandler(StoreRefused)
    def _refused(error: StoreRefused) -> Response:
        log.error("the database refused a report on %s %s: %s", request.method, request.path, error)
        return error_response(500, "internal_error", "the database refused this report; it has been logged")

    @app.errorhandler(StoreUnavailable)
    @app.errorhandler(sa_exc.OperationalError)
    @app.errorhandler(sa_exc.InterfaceError)
    @app.errorhandler(sa_exc.TimeoutError)
    @app.errorhandler(FutureTimeout)
    def _db_unavailable(error: Exception) -> Response:
        return _unavailable(error)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception) -> Response:
        if isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated:
            return _unavailable(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        return error_response(500, "internal_error", "an unexpected error occurred; it has been logged")
