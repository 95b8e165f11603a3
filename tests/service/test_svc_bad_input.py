"""Every malformed request gets the right 4xx with a JSON error saying what is wrong, never a 500."""

from __future__ import annotations

import gzip
import json

import pytest
from svc_helpers import KERAS_TRACEBACK, auth


def _post(client, token, data, content_type="application/json", headers=None):
    return client.post("/api/v1/reports", data=data, headers={**auth(token), "Content-Type": content_type,
                                                               **(headers or {})})


def _error(response, status, code):
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.is_json
    error = response.get_json()["error"]
    assert error["code"] == code
    assert error["message"]
    return error


@pytest.mark.parametrize("data, code", [
    (b"{not json", "invalid_json"),
    (b"", "invalid_json"),
    (b"[1, 2]", "invalid_type"),
    (b'"a string"', "invalid_type"),
    (b"{}", "missing_field"),
    (b'{"traceback": 42}', "invalid_type"),
    (b'{"traceback": ""}', "invalid_value"),
    (b'{"traceback": "   "}', "invalid_value"),
    (b'{"traceback": "x", "extra": 1}', "unknown_field"),
    (b'{"traceback": "x", "meta": []}', "invalid_type"),
    (b'{"traceback": "x", "meta": {"hostname": 5}}', "invalid_type"),
    (b'{"traceback": "x", "meta": {"colour": "red"}}', "unknown_field"),
    (b'{"traceback": "x", "meta": {"tags": {"a": 1}}}', "invalid_type"),
    (b'{"traceback": "x", "meta": {"tags": ["a"]}}', "invalid_type"),
    (b'{"traceback": "x", "inputs": "shape"}', "invalid_type"),
    (b'{"traceback": "x", "summary": ["a"]}', "invalid_type"),
    (b'{"traceback": "x", "inputs": {"v": NaN}}', "invalid_json"),
    (b'{"traceback": "x", "inputs": ' + b'{"a": ' * 30 + b"1" + b"}" * 30 + b"}", "too_deep"),
    (b"[" * 100_000 + b"]" * 100_000, "invalid_json"),
    (b"\xff\xfe{}", "invalid_encoding"),
    (b'{"traceback": "caf\xe9"}', "invalid_encoding"),
])
def test_it_refuses_malformed_bodies_with_400(client, ingest_token, data, code):
    error = _error(_post(client, ingest_token, data), 400, code)
    if code in ("unknown_field", "missing_field"):
        assert error["field"]


def test_the_error_names_the_unknown_field(client, ingest_token):
    error = _error(_post(client, ingest_token, b'{"traceback": "x", "meta": {"colour": "red"}}'), 400, "unknown_field")
    assert error["field"] == "meta.colour"


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", "",
                                          "application/json; charset=latin-1"])
def test_it_refuses_other_content_types_with_415(client, ingest_token, content_type):
    response = _post(client, ingest_token, json.dumps({"traceback": "x"}).encode(), content_type)
    assert response.status_code == 415 and response.is_json


def test_it_refuses_unknown_content_encodings(client, ingest_token):
    response = _post(client, ingest_token, b'{"traceback": "x"}', headers={"Content-Encoding": "br"})
    _error(response, 415, "unsupported_encoding")


def test_it_refuses_broken_gzip(client, ingest_token):
    _error(_post(client, ingest_token, b"not gzip at all", headers={"Content-Encoding": "gzip"}), 400, "invalid_gzip")
    truncated = gzip.compress(b'{"traceback": "x"}')[:-6]
    _error(_post(client, ingest_token, truncated, headers={"Content-Encoding": "gzip"}), 400, "invalid_gzip")


def test_it_refuses_oversized_bodies_with_413(client, ingest_token):
    body = json.dumps({"traceback": "x" * (1024 * 1024 + 10)}).encode()
    response = _post(client, ingest_token, body)
    assert response.status_code == 413 and response.is_json


def test_it_refuses_gzip_bombs_with_413(client, ingest_token):
    bomb = gzip.compress(json.dumps({"traceback": "x" * (5 * 1024 * 1024)}).encode())
    assert len(bomb) < 1024 * 1024
    _error(_post(client, ingest_token, bomb, headers={"Content-Encoding": "gzip"}), 413, "body_too_large")


def test_a_body_just_under_the_limit_is_accepted(client, ingest_token):
    body = json.dumps({"traceback": KERAS_TRACEBACK + "x" * (1024 * 1024 - 2000)}).encode()
    assert len(body) < 1024 * 1024
    assert _post(client, ingest_token, body).status_code == 201


def test_nul_bytes_and_lone_surrogates_are_stored_safely(client, ingest_token, read_token):
    body = b'{"traceback": "ValueError: a\\u0000b \\ud800", "meta": {"tags": {"k\\u0000": "\\udfff"}}}'
    response = _post(client, ingest_token, body)
    assert response.status_code == 201
    report = client.get(f"/api/v1/reports/{response.get_json()['report_id']}", headers=auth(read_token)).get_json()
    assert "\x00" not in report["traceback"]


@pytest.mark.parametrize("header, code", [
    (None, "missing_token"),
    ("Bearer", "invalid_token"),
    ("Basic dXNlcjpwYXNz", "invalid_token"),
    ("Bearer dgn_not-a-real-token", "invalid_token"),
    ("Bearer " + "x" * 500, "invalid_token"),
])
def test_bad_tokens_get_401(client, header, code):
    headers = {"Content-Type": "application/json"}
    if header is not None:
        headers["Authorization"] = header
    response = client.post("/api/v1/reports", data=b'{"traceback": "x"}', headers=headers)
    _error(response, 401, code)
    assert "Bearer" in response.headers["WWW-Authenticate"]


def test_a_revoked_token_gets_401(client, app, ingest_token):
    from diagnoser.store.db import writing
    from diagnoser.store.tokens import revoke_token

    with writing(app.extensions["diagnoser"].sessions) as session:
        assert revoke_token(session, ingest_token) == 1
    _error(_post(client, ingest_token, b'{"traceback": "x"}'), 401, "revoked_token")


def test_a_read_token_cannot_ingest_and_an_ingest_token_cannot_read(client, ingest_token, read_token):
    _error(_post(client, read_token, b'{"traceback": "x"}'), 403, "wrong_scope")
    _error(client.get("/api/v1/groups", headers=auth(ingest_token)), 403, "wrong_scope")
    _error(client.get("/api/v1/causes", headers=auth(ingest_token)), 403, "wrong_scope")


def test_unknown_routes_and_methods_are_json(client):
    _error(client.get("/api/v1/nothing-here"), 404, "not_found")
    response = client.delete("/api/v1/reports")
    _error(response, 405, "method_not_allowed")
    assert "POST" in response.headers["Allow"]


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=abc", "offset=-1", "status=done", "since=yesterday",
                                   "colour=red", "limit=１"])
def test_bad_query_parameters_get_400(client, read_token, query):
    response = client.get(f"/api/v1/groups?{query}", headers=auth(read_token))
    assert response.status_code == 400 and response.is_json, response.get_data(as_text=True)


def test_huge_ids_are_not_found_rather_than_overflowing(client, read_token):
    for path in ("/api/v1/groups/99999999999999999999", "/api/v1/reports/2147483648", "/api/v1/groups/0"):
        assert client.get(path, headers=auth(read_token)).status_code == 404


@pytest.mark.parametrize("body, code", [
    (b'{"status": "done"}', "invalid_value"),
    (b'{"status": "regressed"}', "invalid_value"),
    (b"{}", "missing_field"),
    (b'{"status": "open", "x": 1}', "unknown_field"),
    (b"nope", "invalid_json"),
])
def test_patch_refuses_bad_bodies(client, ingest_token, read_token, body, code):
    group_id = client.post("/api/v1/reports", json={"traceback": "ValueError: x"},
                           headers=auth(ingest_token)).get_json()["group_id"]
    response = client.patch(f"/api/v1/groups/{group_id}", data=body,
                            headers={**auth(read_token), "Content-Type": "application/json"})
    _error(response, 400, code)
