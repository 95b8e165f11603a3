"""POST /reports: stored, diagnosed, grouped, scrubbed."""

from __future__ import annotations

import gzip
import json

from sqlalchemy import func, select
from svc_helpers import KERAS_TRACEBACK, auth, make_token, post_report

from diagnoser.store.models import Group, Report


def test_it_stores_a_report_and_answers_201(client, ingest_token):
    response = post_report(client, ingest_token)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert set(body) == {"report_id", "group_id", "group_status", "diagnoses", "url"}
    assert body["group_status"] == "new"
    assert isinstance(body["diagnoses"], list)
    assert body["url"] == f"http://testserver/groups/{body['group_id']}"


def test_the_same_error_joins_the_same_group(client, ingest_token, app):
    first = post_report(client, ingest_token).get_json()
    second = post_report(client, ingest_token).get_json()
    assert second["group_id"] == first["group_id"]
    assert second["group_status"] == "existing"
    with app.extensions["diagnoser"].sessions() as session:
        assert session.scalar(select(Group.count).where(Group.id == first["group_id"])) == 2


def test_varying_numbers_still_group_together_but_other_errors_do_not(client, ingest_token):
    a = post_report(
        client, ingest_token, {"traceback": "Traceback...\nValueError: bad shape (None, 28, 28)"}
    ).get_json()
    b = post_report(
        client, ingest_token, {"traceback": "Traceback...\nValueError: bad shape (None, 32, 32)"}
    ).get_json()
    c = post_report(client, ingest_token, {"traceback": "Traceback...\nTypeError: something else"}).get_json()
    assert a["group_id"] == b["group_id"] != c["group_id"]


def test_a_resolved_group_that_recurs_is_regressed(client, ingest_token, read_token):
    group_id = post_report(client, ingest_token).get_json()["group_id"]
    response = client.patch(f"/api/v1/groups/{group_id}", json={"status": "resolved"}, headers=auth(read_token))
    assert response.status_code == 200 and response.get_json()["status"] == "resolved"
    again = post_report(client, ingest_token).get_json()
    assert again["group_status"] == "regressed"
    assert client.get(f"/api/v1/groups/{group_id}", headers=auth(read_token)).get_json()["status"] == "regressed"
    assert post_report(client, ingest_token).get_json()["group_status"] == "existing"


def test_an_ignored_group_stays_ignored(client, ingest_token, read_token):
    group_id = post_report(client, ingest_token).get_json()["group_id"]
    client.patch(f"/api/v1/groups/{group_id}", json={"status": "ignored"}, headers=auth(read_token))
    assert post_report(client, ingest_token).get_json()["group_status"] == "existing"
    assert client.get(f"/api/v1/groups/{group_id}", headers=auth(read_token)).get_json()["status"] == "ignored"


def test_it_accepts_gzip_bodies(client, ingest_token):
    data = gzip.compress(json.dumps({"traceback": KERAS_TRACEBACK}).encode())
    response = client.post(
        "/api/v1/reports",
        data=data,
        headers={**auth(ingest_token), "Content-Encoding": "gzip", "Content-Type": "application/json"},
    )
    assert response.status_code == 201


def test_it_stores_metadata_and_reads_it_back(client, ingest_token, read_token):
    meta = {
        "hostname": "gpu-7",
        "user": "ada",
        "run_id": "r-42",
        "script": "train.py",
        "framework": "keras3",
        "framework_version": "3.15.1",
        "python_version": "3.11.7",
        "versions": {"tensorflow": "2.21.0"},
        "git_commit": "abc1234",
        "tags": {"team": "vision"},
    }
    body = {
        "traceback": KERAS_TRACEBACK,
        "summary": "Model: functional",
        "source": "import keras\n",
        "inputs": {"x": {"shape": [32, 28, 28], "dtype": "float32"}},
        "meta": meta,
    }
    report_id = post_report(client, ingest_token, body).get_json()["report_id"]
    report = client.get(f"/api/v1/reports/{report_id}", headers=auth(read_token)).get_json()
    assert report["meta"] == meta
    assert report["summary"] == "Model: functional" and report["source"] == "import keras\n"
    assert report["inputs"] == body["inputs"]
    assert report["exception"]["type"] == "ValueError"
    assert report["received_at"].endswith("+00:00")


def test_secrets_are_redacted_before_storage(client, ingest_token, read_token, app):
    secret_tb = (
        'Traceback (most recent call last):\n  File "train.py", line 3\n'
        "sqlalchemy.exc.OperationalError: could not connect to postgresql://ml:hunter2@db:5432/runs "
        "with Authorization: Bearer sk-abcdefghijklmnopqrstuvwxyz012345 and AKIAIOSFODNN7EXAMPLE\n"
    )
    meta = {
        "tags": {"api_key": "abc123def", "note": "HF_TOKEN=hf_abcdefghijklmnopqrstuvwxyz"},
        "script": "train.py --password=swordfish",
    }
    report_id = post_report(
        client, ingest_token, {"traceback": secret_tb, "meta": meta, "inputs": {"db": "mysql://u:pw123@h/x"}}
    ).get_json()["report_id"]
    report = client.get(f"/api/v1/reports/{report_id}", headers=auth(read_token)).get_json()
    stored = json.dumps(report)
    for secret in (
        "hunter2",
        "sk-abcdefghijklmnopqrstuvwxyz012345",
        "AKIAIOSFODNN7EXAMPLE",
        "abc123def",
        "hf_abcdefghijklmnopqrstuvwxyz",
        "swordfish",
        "pw123",
    ):
        assert secret not in stored
    assert "postgresql://ml:[REDACTED]@db:5432/runs" in report["traceback"]
    with app.extensions["diagnoser"].sessions() as session:
        titles = " ".join(session.scalars(select(Group.title)).all())
    assert "hunter2" not in titles


def test_reports_go_to_the_tokens_project(client, app):
    a = make_token(app, "alpha", "ingest")
    b = make_token(app, "beta", "ingest")
    ga = post_report(client, a).get_json()["group_id"]
    gb = post_report(client, b).get_json()["group_id"]
    assert ga != gb
    with app.extensions["diagnoser"].sessions() as session:
        assert session.scalar(select(func.count(Report.id))) == 2


def test_stored_diagnoses_read_back_as_they_were_answered(client, ingest_token, read_token):
    created = post_report(client, ingest_token).get_json()
    report = client.get(f"/api/v1/reports/{created['report_id']}", headers=auth(read_token)).get_json()
    stored = [{k: v for k, v in d.items() if k != "ruleset_version"} for d in report["diagnoses"]]
    assert stored == created["diagnoses"]
    assert all(isinstance(d["evidence"], list) for d in report["diagnoses"])
    assert report["inputs"] is None and report["meta"]["tags"] is None


def test_a_status_set_between_the_lookup_and_the_count_is_what_the_report_finds(app, client, ingest_token, read_token):
    """The batch looks its groups up first and counts them last (store.ingest._store_new): a group resolved in
    between is answered `regressed`, and the stored report says so too."""
    from diagnoser.store import ingest

    group_id = post_report(client, ingest_token).get_json()["group_id"]
    client.patch(f"/api/v1/groups/{group_id}", json={"status": "resolved"}, headers=auth(read_token))
    real = ingest._look_up

    def stale_lookup(connection, statements, reports):
        known = real(connection, statements, reports)
        known.groups = {key: (group, "open") for key, (group, _) in known.groups.items()}  # read before the PATCH
        return known

    import pytest

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(ingest, "_look_up", stale_lookup)
        answer = post_report(client, ingest_token).get_json()
    assert answer["group_status"] == "regressed"
    report = client.get(f"/api/v1/reports/{answer['report_id']}", headers=auth(read_token)).get_json()
    assert report["group_status"] == "regressed"


def test_a_resend_with_the_same_event_id_is_stored_once_and_answered_as_the_first_time(app, client, ingest_token):
    body = {"traceback": KERAS_TRACEBACK, "event_id": "0123456789abcdef0123456789abcdef"}
    first = post_report(client, ingest_token, body)
    again = post_report(client, ingest_token, body)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json()  # same report id, same group, same status, same diagnoses
    other = post_report(client, ingest_token, {**body, "event_id": "fedcba9876543210fedcba9876543210"}).get_json()
    assert other["report_id"] != first.get_json()["report_id"] and other["group_status"] == "existing"
    with app.extensions["diagnoser"].sessions() as session:
        assert session.scalar(select(func.count(Report.id))) == 2
        assert session.scalar(select(Group.count)) == 2


def test_the_same_event_twice_in_one_batch_is_stored_once(app):
    from diagnoser.store.analysis import analyse
    from diagnoser.store.base import utcnow
    from diagnoser.store.ingest import NewReport, store_batch

    make_token(app, "vision", "ingest")
    analysis = analyse(KERAS_TRACEBACK)
    reports = [
        NewReport(project_id=1, received_at=utcnow(), traceback=KERAS_TRACEBACK, analysis=analysis, event_id=e)
        for e in ("aaaaaaaa1", "bbbbbbbb2", "aaaaaaaa1")
    ]
    engine = app.extensions["diagnoser"].engine
    with engine.begin() as connection:
        answers = store_batch(connection, reports)
    assert answers[0].report_id == answers[2].report_id != answers[1].report_id
    assert [a.group_status for a in answers] == ["new", "existing", "new"]
    with engine.connect() as connection:
        assert connection.execute(select(func.count(Report.id))).scalar() == 2
        assert connection.execute(select(Group.count)).scalar() == 2  # counted once too


def test_an_event_id_must_look_like_one(client, ingest_token):
    for bad in ("short", "x" * 65, "has space in it", 12345678):
        response = post_report(client, ingest_token, {"traceback": KERAS_TRACEBACK, "event_id": bad})
        assert response.status_code == 400 and response.get_json()["error"]["field"] == "event_id"


def test_each_report_is_counted_into_its_groups_days_and_breakdowns(app, client, ingest_token):
    from diagnoser.store.models import CauseDay, GroupDay, GroupFacet

    meta = {"user": "ada", "hostname": "gpu-1", "framework": "keras3", "framework_version": "3.15.1",
            "tags": {"team": "vision"}}
    for user in ("ada", "ada", "bob"):
        post_report(client, ingest_token, {"traceback": KERAS_TRACEBACK, "meta": {**meta, "user": user}})
    with app.extensions["diagnoser"].sessions() as session:
        assert session.scalar(select(func.sum(GroupDay.count))) == 3
        assert [(c.cause, c.count) for c in session.scalars(select(CauseDay))] == [("input_layer", 3)]
        facets = {(f.facet, f.value): f.count for f in session.scalars(select(GroupFacet))}
    assert facets == {("user", "ada"): 2, ("user", "bob"): 1, ("host", "gpu-1"): 3,
                      ("framework", "keras3 3.15.1"): 3, ("tag", "team=vision"): 3}


def test_a_new_group_and_a_regression_are_written_to_the_outbox_in_the_same_transaction(app, client, ingest_token,
                                                                                        read_token):
    from diagnoser.store.models import OutboxEvent

    def events():
        with app.extensions["diagnoser"].sessions() as session:
            return [(e.kind, e.group_id) for e in session.scalars(select(OutboxEvent).order_by(OutboxEvent.id))]

    first = post_report(client, ingest_token).get_json()
    post_report(client, ingest_token)
    assert events() == [("new", first["group_id"])]  # the same error again tells nothing
    client.patch(f"/api/v1/groups/{first['group_id']}", json={"status": "resolved"}, headers=auth(read_token))
    again = post_report(client, ingest_token).get_json()
    assert again["group_status"] == "regressed"
    assert events() == [("new", first["group_id"]), ("regressed", first["group_id"])]
    client.patch(f"/api/v1/groups/{first['group_id']}", json={"status": "ignored"}, headers=auth(read_token))
    post_report(client, ingest_token)
    assert len(events()) == 2  # an ignored group notifies nothing
