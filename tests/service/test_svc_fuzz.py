"""Property: whatever is thrown at the API (any JSON, any bytes, any headers), it never answers 5xx."""

from __future__ import annotations

import gzip
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from svc_helpers import auth

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(min_value=-(2**70), max_value=2**70) | st.floats(allow_nan=False)
    | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4),
    max_leaves=20,
)
field_names = st.sampled_from(["traceback", "summary", "source", "inputs", "meta", "extra"])
meta_names = st.sampled_from(["hostname", "user", "run_id", "script", "framework", "framework_version",
                              "python_version", "versions", "git_commit", "tags", "other"])
# Bodies that are nearly right reach deeper validation than random JSON would.
near_reports = st.fixed_dictionaries(
    {"traceback": st.one_of(st.text(max_size=200), json_values)},
    optional={"summary": json_values, "source": json_values, "inputs": json_values,
              "meta": st.one_of(json_values, st.dictionaries(meta_names, json_values, max_size=5))},
)
bodies = st.one_of(
    near_reports.map(lambda d: json.dumps(d).encode()),
    st.dictionaries(field_names, json_values, max_size=5).map(lambda d: json.dumps(d).encode()),
    json_values.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=300),
)
content_types = st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", "",
                                 "application/json; charset=utf-16", "multipart/form-data"])
encodings = st.sampled_from([None, "gzip", "identity", "deflate", "gzip-but-plain"])

SETTINGS = settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture,
                                                                             HealthCheck.too_slow])


@SETTINGS
@given(body=bodies, content_type=content_types, encoding=encodings)
def test_post_reports_never_answers_5xx(client, ingest_token, body, content_type, encoding):
    headers = {**auth(ingest_token), "Content-Type": content_type}
    if encoding == "gzip":
        body = gzip.compress(body)
    if encoding is not None:
        headers["Content-Encoding"] = "gzip" if encoding == "gzip-but-plain" else encoding
    response = client.post("/api/v1/reports", data=body, headers=headers)
    assert response.status_code < 500, response.get_data(as_text=True)
    assert response.is_json
    if response.status_code == 201:
        assert {"report_id", "group_id", "group_status", "diagnoses", "url"} <= set(response.get_json())


@SETTINGS
@given(path=st.sampled_from(["/api/v1/groups", "/api/v1/causes", "/api/v1/groups/1", "/api/v1/reports/1"]),
       query=st.dictionaries(st.sampled_from(["cause", "status", "project", "since", "until", "limit", "offset",
                                              "days", "x"]), st.text(max_size=30), max_size=4))
def test_reads_never_answer_5xx(client, read_token, path, query):
    response = client.get(path, query_string=query, headers=auth(read_token))
    assert response.status_code < 500, response.get_data(as_text=True)


@SETTINGS
@given(body=st.one_of(json_values, st.dictionaries(st.sampled_from(["status", "x"]), json_values, max_size=2)),
       group_id=st.integers(min_value=-5, max_value=2**64))
def test_patch_never_answers_5xx(client, read_token, body, group_id):
    response = client.patch(f"/api/v1/groups/{group_id}", json=body, headers=auth(read_token))
    assert response.status_code < 500, response.get_data(as_text=True)


@SETTINGS
@given(header=st.text(max_size=80))
def test_any_authorization_header_is_a_4xx(client, header):
    try:
        headers = {"Authorization": header.encode("latin-1").decode("latin-1"), "Content-Type": "application/json"}
    except UnicodeEncodeError:
        return
    if any(c in header for c in "\r\n\x00"):
        return
    response = client.post("/api/v1/reports", data=b'{"traceback": "x"}', headers=headers)
    assert 400 <= response.status_code < 500


def test_query_values_postgresql_refuses_are_a_400_not_a_500(client, read_token):
    for path in ("/api/v1/groups?project=a%00b", "/api/v1/groups?cause=x%00", "/api/v1/causes?project=%00",
                 "/api/v1/causes?until=0001-01-02T00:00:00&days=7"):
        response = client.get(path, headers=auth(read_token))
        assert response.status_code == 400, (path, response.get_data(as_text=True))
