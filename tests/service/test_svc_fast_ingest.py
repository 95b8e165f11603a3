"""web.fast_ingest answers POST /api/v1/reports exactly as the Flask handler would, or leaves it to it.

Both paths run on one real app; the store is replaced by a recorder on both sides, so what is compared is what
each would store and what each answers, for any payload (hypothesis) and any of the headers that matter."""

from __future__ import annotations

import gzip
import json
from typing import Any

from hypothesis import event, given
from hypothesis import strategies as st

from diagnoser.store.ingest import NewReport, Stored
from diagnoser.web.fast_ingest import FastIngest
from svc_helpers import KERAS_TRACEBACK, auth
from test_svc_fuzz import SETTINGS, bodies, near_reports

STORED = Stored(report_id=41, group_id=7, group_status="existing")

# Reports that pass validation, with the things scrubbing and cleaning act on: secrets, NULs, odd Unicode.
texts = st.text(max_size=60) | st.sampled_from(["password=hunter2", "Authorization: Bearer abc.def", "\x00nul",
                                                "AKIAABCDEFGHIJKLMNOP", "caf\u00e9 \u2028 \ud800"])
valid_reports = st.fixed_dictionaries(
    {"traceback": st.one_of(st.just(KERAS_TRACEBACK), (texts | st.text(min_size=1)).filter(str.strip))},
    optional={"summary": texts, "source": texts,
              "inputs": st.dictionaries(st.text(max_size=8), st.integers() | texts | st.lists(st.integers()),
                                        max_size=3),
              "meta": st.fixed_dictionaries({}, optional={"run_id": texts, "hostname": texts, "user": texts,
                                                          "tags": st.dictionaries(texts, texts, max_size=3)})},
).map(lambda d: json.dumps(d).encode())


class Recorder:
    """Stands for the journal acceptor (fast path) and for the writer (Flask path): records, answers STORED."""

    def __init__(self) -> None:
        self.reports: list[NewReport] = []

    def accept(self, report: NewReport) -> Stored:
        self.reports.append(report)
        return STORED

    def write(self, report: NewReport, timeout: float) -> Stored:
        self.reports.append(report)
        return STORED

    def sync(self) -> None:
        pass


def _stored_fields(report: NewReport) -> dict[str, Any]:
    return {"project": report.project_id, "token": report.token_id, "traceback": report.traceback,
            "summary": report.summary, "source": report.source, "inputs": report.inputs, "meta": report.meta,
            "fingerprint": report.analysis.fingerprint, "diagnoses": report.analysis.diagnoses}


def _both(app, body: bytes, headers: dict[str, str]):  # type: ignore[no-untyped-def]
    """(fast path's answer or None when it declined, Flask's answer), with what each recorded."""
    services = app.extensions["diagnoser"]
    fast_recorder, flask_recorder = Recorder(), Recorder()
    services.writer = flask_recorder
    fast = FastIngest(app.wsgi_app, services, fast_recorder)  # type: ignore[arg-type]
    environ = app.test_request_context("/api/v1/reports", method="POST", data=body, headers=headers).request.environ
    seen: list[Any] = []
    chunks = fast(environ, lambda status, headers, exc_info=None: seen.append((status, headers)))
    fast_answer = (seen[0][0], b"".join(chunks)) if fast_recorder.reports else None
    response = app.test_client().post("/api/v1/reports", data=body, headers=headers)
    return fast_answer, fast_recorder.reports, response, flask_recorder.reports


def _warm_token_cache(app, client, token: str) -> None:  # type: ignore[no-untyped-def]
    """The fast path takes only tokens this worker verified recently; one Flask request verifies it."""
    app.extensions["diagnoser"].tokens.ttl = 600.0
    app.extensions["diagnoser"].writer = Recorder()
    assert client.post("/api/v1/reports", json={"traceback": KERAS_TRACEBACK}, headers=auth(token)).status_code == 201


def test_the_everyday_report_is_answered_by_the_fast_path_exactly_as_by_flask(app, client, ingest_token):
    _warm_token_cache(app, client, ingest_token)
    body = json.dumps({"traceback": KERAS_TRACEBACK, "meta": {"run_id": "r1", "tags": {"a": "b"}}}).encode()
    headers = {**auth(ingest_token), "Content-Type": "application/json"}
    fast, fast_reports, flask, flask_reports = _both(app, body, headers)
    assert fast is not None, "the fast path declined the everyday report"
    assert fast[0] == "201 CREATED" and flask.status_code == 201
    assert json.loads(fast[1]) == flask.get_json()
    assert [_stored_fields(r) for r in fast_reports] == [_stored_fields(r) for r in flask_reports]


def test_anything_unusual_is_left_to_flask(app, client, ingest_token):
    _warm_token_cache(app, client, ingest_token)
    body = json.dumps({"traceback": KERAS_TRACEBACK}).encode()
    for headers, data in [
        ({**auth(ingest_token), "Content-Type": "application/json", "Content-Encoding": "gzip"}, gzip.compress(body)),
        ({**auth(ingest_token), "Content-Type": "application/json; charset=utf-8"}, body),
        ({"Authorization": "bearer " + ingest_token, "Content-Type": "application/json"}, body),
        ({**auth("dgn_unknown"), "Content-Type": "application/json"}, body),
        ({**auth(ingest_token), "Content-Type": "application/json"}, b'{"traceback": 1}'),
    ]:
        fast, fast_reports, flask, _ = _both(app, data, headers)
        assert fast is None and not fast_reports, headers


@SETTINGS
@given(body=st.one_of(valid_reports, bodies, near_reports.map(lambda d: json.dumps(d).encode())))
def test_for_any_body_the_fast_path_answers_as_flask_or_declines(app, client, ingest_token, body):
    if app.extensions["diagnoser"].tokens.ttl != 600.0:
        _warm_token_cache(app, client, ingest_token)
    headers = {**auth(ingest_token), "Content-Type": "application/json"}
    fast, fast_reports, flask, flask_reports = _both(app, body, headers)
    event("fast path" if fast is not None else "left to flask")
    if fast is None:
        return
    assert flask.status_code == 201, flask.get_data(as_text=True)  # accepted by one, accepted by the other
    assert json.loads(fast[1]) == flask.get_json()
    assert [_stored_fields(r) for r in fast_reports] == [_stored_fields(r) for r in flask_reports]
