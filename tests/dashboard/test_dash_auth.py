"""People's authentication: argon2 hashes, the session cookie's flags, logout, disabled accounts, CSRF refusals on
every state-changing form, login throttling, the safe `next`, and the trusted proxy header."""

from __future__ import annotations

import pytest
from dash_helpers import PASSWORD, csrf_of, form, logged_in, login, make_user, post_report
from flask import Flask
from sqlalchemy import select

from diagnoser.store.db import reading, writing
from diagnoser.store.models import Group, User
from diagnoser.store.users import set_disabled
from diagnoser.web import create_app
from diagnoser.web.login import ADDRESS_FAILURES, EMAIL_FAILURES


def test_passwords_are_argon2_hashes_and_the_cookie_is_signed_httponly_lax(app: Flask, team: dict[str, str]) -> None:
    with reading(app.extensions["diagnoser"].sessions) as session:
        stored = session.scalar(select(User.password_hash).where(User.email == "admin@ours.io"))
    assert stored is not None and stored.startswith("$argon2id$") and PASSWORD not in stored
    client = app.test_client()
    answer = login(client, "ADMIN@ours.io ")  # emails are compared lower-cased, trimmed
    assert answer.status_code == 303 and answer.headers["Location"] == "/"
    cookie = answer.headers["Set-Cookie"]
    assert cookie.startswith("diagnoser_session=") and "HttpOnly" in cookie and "SameSite=Lax" in cookie
    assert "Secure" not in cookie  # http://testserver: no HTTPS here
    assert client.get("/").status_code == 200
    # a tampered cookie is no session
    value = client.get_cookie("diagnoser_session").value
    client.set_cookie("diagnoser_session", value[:-3] + ("AAA" if not value.endswith("AAA") else "BBB"))
    assert client.get("/").status_code == 302


def test_secure_cookies_behind_https(db_url: str) -> None:
    app = create_app({"database_url": db_url, "secret_key": "k", "secure_cookies": True})
    try:
        make_user(app, "a@ours.io", "admin")
        answer = login(app.test_client(), "a@ours.io")
        assert "Secure" in answer.headers["Set-Cookie"]
    finally:
        app.extensions["diagnoser"].engine.dispose()


def test_settings_parse_the_dashboard_variables() -> None:
    from diagnoser.settings import SettingsError, load_settings

    assert load_settings({}).secure_cookies is False
    assert load_settings({"DIAGNOSER_BASE_URL": "https://diag.example"}).secure_cookies is True
    assert load_settings({"DIAGNOSER_BASE_URL": "https://d.example", "DIAGNOSER_SECURE_COOKIES": "0"}).secure_cookies \
        is False
    parsed = load_settings({"DIAGNOSER_AUTH_HEADER": "X-Forwarded-Email", "DIAGNOSER_TRUSTED_PROXIES": "10.0.0.0/8"})
    assert parsed.auth_header == "X-Forwarded-Email" and parsed.trusted_proxies == ("10.0.0.0/8",)
    for bad in ({"DIAGNOSER_AUTH_HEADER": "X Bad"}, {"DIAGNOSER_TRUSTED_PROXIES": "nowhere"},
                {"DIAGNOSER_SECURE_COOKIES": "maybe"}, {"DIAGNOSER_SESSION_HOURS": "0"}):
        with pytest.raises(SettingsError):
            load_settings(bad)


def test_logout_ends_the_session_and_a_disabled_account_is_out_at_its_next_request(
    app: Flask, team: dict[str, str]
) -> None:
    admin = logged_in(app, "admin@ours.io")
    assert form(admin, "/logout").status_code == 303
    assert admin.get("/").status_code == 302
    member = logged_in(app, "member@ours.io")
    assert member.get("/groups").status_code == 200
    with writing(app.extensions["diagnoser"].sessions) as session:
        set_disabled(session, "member@ours.io")
    assert member.get("/groups").status_code == 302
    assert login(app.test_client(), "member@ours.io").status_code == 401
    assert login(app.test_client(), "admin@ours.io", "wrong password!").status_code == 401
    assert login(app.test_client(), "nobody@ours.io").status_code == 401


def test_every_state_changing_form_refuses_a_missing_or_foreign_csrf_token(app: Flask, team: dict[str, str]) -> None:
    group = post_report(app.test_client(), team["ingest"])["group_id"]
    admin = logged_in(app, "admin@ours.io")
    other = logged_in(app, "member@ours.io")
    foreign = csrf_of(other, "/settings")
    forms = [(f"/groups/{group}/status", {"status": "resolved"}), ("/groups/bulk", {"status": "resolved",
             "ids": str(group)}), ("/settings/tokens", {"project": "x", "scope": "ingest"}),
             ("/settings/tokens/1/revoke", {}), ("/settings/members", {"email": "n@ours.io", "password": "x" * 12}),
             ("/settings/members/disable", {"email": "member@ours.io"}), ("/logout", {})]
    for path, data in forms:
        for token in (None, "", "forged", foreign):
            body = dict(data) if token is None else {**data, "csrf_token": token}
            answer = admin.post(path, data=body)
            assert answer.status_code == 400, (path, token, answer.status_code)
            assert b"reload the page" in answer.data
    # login itself needs the token of the login page (no login CSRF)
    assert app.test_client().post("/login", data={"email": "admin@ours.io", "password": PASSWORD}).status_code == 400
    with reading(app.extensions["diagnoser"].sessions) as session:
        assert session.scalar(select(Group.status).where(Group.id == group)) == "open"
        assert session.scalar(select(User.disabled_at).where(User.email == "member@ours.io")) is None
    assert admin.get("/").status_code == 200  # still logged in: /logout was refused too


def test_logins_are_throttled_per_email_and_per_address(app: Flask, team: dict[str, str]) -> None:
    client = app.test_client()
    for _ in range(EMAIL_FAILURES):
        assert login(client, "admin@ours.io", "not the password").status_code == 401
    refused = login(client, "admin@ours.io")  # even the right password, for a while
    assert refused.status_code == 429 and int(refused.headers["Retry-After"]) > 60
    assert b"Too many failed attempts" in refused.data
    assert login(app.test_client(), "member@ours.io").status_code == 303  # another account is not locked out
    for n in range(ADDRESS_FAILURES - EMAIL_FAILURES):
        login(client, f"guess{n}@ours.io", "guess")
    assert login(client, "member@ours.io").status_code == 429  # this address guessed too much
    behind_proxy = app.test_client()  # another client behind the same trusted proxy is not this address
    answer = behind_proxy.post("/login", data={"email": "member@ours.io", "password": PASSWORD,
                                               "csrf_token": csrf_of(behind_proxy)},
                               headers={"X-Forwarded-For": "203.0.113.9"})
    assert answer.status_code == 303


def test_next_only_leads_within_the_site(app: Flask, team: dict[str, str]) -> None:
    for target, expected in (("/groups?status=open", "/groups?status=open"), ("https://evil.example/", "/"),
                             ("//evil.example", "/"), ("/\\evil.example", "/"), ("javascript:alert(1)", "/")):
        client = app.test_client()
        answer = client.post("/login", data={"email": "admin@ours.io", "password": PASSWORD, "next": target,
                                             "csrf_token": csrf_of(client)})
        assert answer.status_code == 303 and answer.headers["Location"] == expected, target


def test_a_trusted_proxy_header_logs_people_in(db_url: str) -> None:
    app = create_app({"database_url": db_url, "secret_key": "k", "auth_header": "X-Forwarded-Email",
                      "trusted_proxies": ("127.0.0.1",)})
    try:
        make_user(app, "sso@ours.io", "member")
        client = app.test_client()
        assert client.get("/", headers={"X-Forwarded-Email": "SSO@ours.io"}).status_code == 200
        assert client.get("/", headers={"X-Forwarded-Email": "stranger@ours.io"}).status_code == 302
        # from an address that is not a trusted proxy, the header is not believed
        untrusted = app.test_client()
        answer = untrusted.get("/", headers={"X-Forwarded-Email": "sso@ours.io"},
                               environ_base={"REMOTE_ADDR": "198.51.100.7"})
        assert answer.status_code == 302
        # forms keep needing the CSRF token of the session the header opened
        page = client.get("/settings", headers={"X-Forwarded-Email": "sso@ours.io"})
        assert page.status_code == 200
        assert client.post("/logout", headers={"X-Forwarded-Email": "sso@ours.io"}).status_code == 400
    finally:
        app.extensions["diagnoser"].engine.dispose()
    off = create_app({"database_url": db_url, "secret_key": "k"})  # off by default
    try:
        assert off.test_client().get("/", headers={"X-Forwarded-Email": "sso@ours.io"}).status_code == 302
    finally:
        off.extensions["diagnoser"].engine.dispose()
