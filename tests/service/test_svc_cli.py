"""The service commands, called through click: tokens, db upgrade, reclassify."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import select
from svc_helpers import auth, post_report

from diagnoser.cli import cli
from diagnoser.engine.result import Diagnosis, DiagnosisResult, TracebackResult
from diagnoser.store import analysis
from diagnoser.store.models import AnalysisRow, Group


def _run(db_url, *args):
    result = CliRunner().invoke(cli, list(args), env={"DIAGNOSER_DATABASE_URL": db_url}, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_tokens_create_prints_the_token_alone_on_the_last_line_and_it_works(db_url, client):
    out = _run(db_url, "tokens", "create", "--project", "nlp", "--scope", "ingest", "--team", "research")
    token = out.strip().splitlines()[-1]
    assert token.startswith("dgn_") and token.strip() == token
    assert post_report(client, token).status_code == 201
    listing = _run(db_url, "tokens", "list")
    assert ["research", "nlp", "ingest", token[:12] + "...", "active"] in [
        line.split() for line in listing.splitlines()
    ]
    assert token not in listing
    _run(db_url, "tokens", "revoke", token[:12])
    assert post_report(client, token).status_code == 401


def test_tokens_create_refuses_a_bad_scope(db_url):
    result = CliRunner().invoke(
        cli, ["tokens", "create", "--project", "p", "--scope", "admin"], env={"DIAGNOSER_DATABASE_URL": db_url}
    )
    assert result.exit_code != 0


def test_db_upgrade_is_idempotent(db_url):
    assert "database at head" in _run(db_url, "db", "upgrade")
    assert "database at head" in _run(db_url, "db", "upgrade")


def test_a_bad_setting_is_a_usage_error():
    result = CliRunner().invoke(cli, ["db", "upgrade"], env={"DIAGNOSER_MAX_BODY_BYTES": "lots"})
    assert result.exit_code == 2 and "DIAGNOSER_MAX_BODY_BYTES" in result.output


def _fake_engine(cause_of):
    """An engine whose answer depends on the message, standing in for a changed rule set."""

    def fake(text, summary=None, source=None, **evidence):
        message = text.strip().splitlines()[-1]
        cause = cause_of(message)
        diagnoses = (
            []
            if cause is None
            else [
                Diagnosis(
                    cause=cause,
                    confidence=0.9,
                    rule=f"rule-{cause}",
                    title=cause,
                    explanation="",
                    fix=f"fix {cause}",
                    fingerprint=f"fp-{cause}",
                )
            ]
        )
        return DiagnosisResult([TracebackResult("ValueError", message, "keras3", [], diagnoses)])

    return fake


def test_reclassify_rediagnoses_and_regroups(db_url, app, client, ingest_token, read_token, monkeypatch):
    monkeypatch.setattr(analysis, "diagnose", _fake_engine(lambda m: None))
    monkeypatch.setattr(analysis, "RULESET_VERSION", "old")
    ids = [
        post_report(client, ingest_token, {"traceback": f"Traceback\nValueError: case {w}"}).get_json()
        for w in ("alpha", "beta", "alpha")
    ]
    assert len({i["group_id"] for i in ids}) == 2
    resolved = ids[1]["group_id"]
    client.patch(f"/api/v1/groups/{resolved}", json={"status": "resolved"}, headers=auth(read_token))

    # New rules: both messages are now one named cause.
    monkeypatch.setattr(analysis, "diagnose", _fake_engine(lambda m: "input_layer"))
    monkeypatch.setattr(analysis, "RULESET_VERSION", "new")
    out = _run(db_url, "reclassify")
    assert "2 distinct texts diagnosed again, 3 reports moved to another group, 2 emptied groups removed" in out

    with app.extensions["diagnoser"].sessions() as session:
        from sqlalchemy import func

        from diagnoser.store.models import CauseDay, GroupDay

        days = session.execute(select(GroupDay.group_id, func.sum(GroupDay.count)).group_by(GroupDay.group_id)).all()
        groups = session.scalars(select(Group)).all()
        assert [(g, n) for g, n in days] == [(groups[0].id, 3)]  # the rollups moved with the reports
        per_cause = session.execute(select(CauseDay.cause, func.sum(CauseDay.count)).group_by(CauseDay.cause)).all()
        assert [(c, n) for c, n in per_cause] == [("input_layer", 3)]  # and the overview's causes per day
        assert [(g.fingerprint, g.count, g.cause, g.status) for g in groups] == [
            ("fp-input_layer", 3, "input_layer", "open")
        ]
        assert set(session.scalars(select(AnalysisRow.ruleset_version)).all()) == {"new"}
    assert "0 distinct texts diagnosed again" in _run(db_url, "reclassify")
    assert "2 distinct texts diagnosed again, 0 reports moved" in _run(db_url, "reclassify", "--all")


def _invoke(env, *args):
    return CliRunner().invoke(cli, list(args), env=env)


def test_every_command_migrates_a_new_database_first_and_names_it(tmp_path):
    env = {"DIAGNOSER_DATA_DIR": str(tmp_path / "fresh")}
    for args in (["tokens", "list"], ["tokens", "revoke", "dgn_nothing"], ["reclassify"]):
        result = _invoke(env, *args)
        assert "Traceback" not in result.output and "no such table" not in result.output, result.output
        assert f"diagnoser: database sqlite:///{tmp_path}/fresh/diagnoser.db" in result.output
    assert _invoke(env, "tokens", "list").exit_code == 0
    assert _invoke(env, "reclassify").exit_code == 0


def test_a_missing_driver_or_an_unreachable_database_is_one_line_and_exit_2():
    for url, expected in (
        ("mysql://u:secret@db/x", "not installed"),
        ("oracle+nothing://u@h/x", "no database dialect"),
        ("postgresql+psycopg://nobody:secret@127.0.0.1:9/none", "cannot use the database"),
    ):
        for args in (["tokens", "list"], ["db", "upgrade"], ["serve"]):
            result = _invoke({"DIAGNOSER_DATABASE_URL": url}, *args)
            assert result.exit_code == 2, (url, args, result.output)
            lines = [line for line in result.output.splitlines() if line.strip()]
            assert len(lines) <= 2 and expected in lines[-1], result.output  # the database line, then why
            assert "Traceback" not in result.output and "secret" not in result.output


def test_a_bad_setting_is_one_line_and_exit_2_for_every_command():
    for args in (["tokens", "list"], ["serve"], ["reclassify"], ["db", "upgrade"]):
        result = _invoke({"DIAGNOSER_MAX_BODY_BYTES": "lots"}, *args)
        assert result.exit_code == 2 and "DIAGNOSER_MAX_BODY_BYTES" in result.output
        assert len(result.output.strip().splitlines()) == 1
