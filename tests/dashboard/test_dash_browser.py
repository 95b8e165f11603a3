"""The dashboard in a real browser (Debian's Chromium through Playwright) against a real `diagnoser serve`: log in,
see the overview's chart drawn with data and the groups ranked, filter, open a group, resolve it, see it regress
when the error comes again, add a notification channel on the settings page (shown masked) and remove it, log
out; another team's person gets 404 for every id of ours; hostile tracebacks run nothing. The overview's
screenshot in the README (docs/overview.png) is written by this test when DIAGNOSER_UPDATE_SCREENSHOTS=1
(otherwise into a temporary folder, so a test run leaves the checkout clean).

Skipped only when Chromium is absent and CI is not set; on CI a missing Chromium is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from dash_helpers import KERAS_TRACEBACK

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "benchmarks"))
CHROMIUM = os.environ.get("DIAGNOSER_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
SCREENSHOT = (
    ROOT / "docs" / "overview.png"
    if os.environ.get("DIAGNOSER_UPDATE_SCREENSHOTS") == "1"
    else Path(tempfile.gettempdir()) / "diagnoser-overview.png"
)
PASSWORD = "browser test password"
XSS = ('Traceback (most recent call last):\n  File "<script>window.__pwned = 1; alert(1)</script>.py", line 1, in '
       '<img src=x onerror="window.__pwned = 2; alert(2)">\nValueError: <script>window.__pwned = 3; alert(3)</script>'
       ' <img src=x onerror="window.__pwned = 4; alert(4)"> said the payload')


def _chromium_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but {CHROMIUM} is missing: the browser tests must run on CI (apt-get install chromium)")
    pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    _chromium_or_skip()
    pytest.importorskip("playwright")
    from seed import EMAIL, reset, seed
    from seed import PASSWORD as SEED_PASSWORD
    from servers import cli, service_env, start_serve

    folder = tmp_path_factory.mktemp("browser")
    from diagnoser.store.channels import generate_key

    env = service_env(DIAGNOSER_DATA_DIR=str(folder), DIAGNOSER_SECRET_KEY="browser-test-secret",
                      DIAGNOSER_ENCRYPTION_KEY=generate_key())
    url = f"sqlite:///{folder / 'diagnoser.db'}"
    reset(url)
    seed(url, 20_000, groups=120)  # team "bench": 90 days of crashes, for a chart worth a screenshot
    token = cli(env, folder, "tokens", "create", "--team", "bench", "--project", "vision", "--scope",
                "ingest").strip().splitlines()[-1]
    rival = cli(env, folder, "tokens", "create", "--team", "rivals", "--project", "theirs", "--scope",
                "ingest").strip().splitlines()[-1]
    for email, team, role in (("member@bench.io", "bench", "member"), ("spy@rivals.io", "rivals", "member")):
        done = subprocess.run([sys.executable, "-m", "diagnoser", "users", "create", "--team", team, "--email", email,
                               "--role", role, "--password-stdin"], input=PASSWORD + "\n", env=env, cwd=folder,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
    listed = cli(env, folder, "users", "list")
    assert "member@bench.io" in listed and "spy@rivals.io" in listed and EMAIL in listed
    running = start_serve(folder, env)
    try:
        yield {"base": running.base, "token": token, "rival_token": rival, "admin": (EMAIL, SEED_PASSWORD),
               "member": ("member@bench.io", PASSWORD), "spy": ("spy@rivals.io", PASSWORD), "url": url}
    finally:
        running.stop()


@pytest.fixture(scope="module")
def browser(server: dict[str, Any]) -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            yield launched
        finally:
            launched.close()


class Watched:
    """A page whose dialogs, page errors and console errors (a CSP violation is one) are recorded."""

    def __init__(self, browser: Any, base: str, timezone: str = "Europe/Paris") -> None:
        self.context = browser.new_context(base_url=base, timezone_id=timezone, locale="en-GB",
                                           viewport={"width": 1360, "height": 900})
        self.page = self.context.new_page()
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.page.on("dialog", lambda dialog: (self.dialogs.append(dialog.message), dialog.dismiss()))
        self.page.on("pageerror", lambda error: self.errors.append(str(error)))
        self.page.on("console", lambda message: self.errors.append(message.text) if message.type == "error" else None)

    def login(self, email: str, password: str) -> None:
        self.page.goto("/")
        assert "/login" in self.page.url
        self.page.fill("input[name=email]", email)
        self.page.fill("input[name=password]", password)
        self.page.click("button[type=submit]")
        self.page.wait_for_url(lambda url: "/login" not in url)

    def close(self) -> None:
        self.context.close()


def _post(base: str, token: str, traceback: str, **meta: Any) -> dict[str, Any]:
    import json
    import urllib.request

    request = urllib.request.Request(base + "/api/v1/reports", data=json.dumps({"traceback": traceback,
                                     "meta": meta}).encode(), method="POST",
                                     headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 201
        return json.loads(answer.read())  # type: ignore[no-any-return]


def _canvas_drawn(page: Any, selector: str) -> int:
    """How many pixels of the chart's canvas are painted (uPlot draws the bars on a canvas)."""
    return int(page.evaluate("""(selector) => {
        const canvas = document.querySelector(selector + ' canvas');
        if (!canvas) return -1;
        const data = canvas.getContext('2d').getImageData(0, 0, canvas.width, canvas.height).data;
        let painted = 0;
        for (let i = 3; i < data.length; i += 4) if (data[i] > 0) painted++;
        return painted;
    }""", selector))


def test_log_in_see_the_overview_filter_resolve_regress_and_log_out(server: dict[str, Any], browser: Any) -> None:
    watched = Watched(browser, server["base"])
    page = watched.page
    try:
        watched.login(*server["admin"])
        page.wait_for_selector("#overview-chart[data-drawn] canvas")
        assert _canvas_drawn(page, "#overview-chart") > 2000
        ranked = page.locator("#ranked tbody tr")
        assert ranked.count() == 20
        first_title = ranked.first.locator("td.title a").inner_text()
        assert page.locator("#ranked svg.spark").count() == 20
        # times are localised: Paris is UTC+1 in winter, +2 in summer; the text is no longer "... UTC"
        assert "UTC" not in page.locator("#ranked time").first.inner_text()
        assert "ago" in page.locator("#ranked time").nth(1).inner_text()
        SCREENSHOT.parent.mkdir(exist_ok=True)
        page.screenshot(path=str(SCREENSHOT), full_page=False)
        assert SCREENSHOT.stat().st_size > 20_000

        # filter the groups list, then open one group
        page.click("nav >> text=Groups")
        page.select_option("select[name=cause]", "none")
        page.select_option("select[name=days]", "0")
        page.click("#filters button[type=submit]")
        page.wait_for_url("**/groups?*cause=none*")
        rows = page.locator("#group-list tbody tr")
        assert rows.count() > 0
        for n in range(rows.count()):
            assert rows.nth(n).locator("td").nth(2).inner_text().strip() == "no diagnosis"
        page.fill("input[name=q]", first_title[:12])
        page.select_option("select[name=cause]", "")
        page.click("#filters button[type=submit]")
        page.wait_for_url("**q=*")

        # a fresh error of our own, reported through the API, resolved in the browser, then back again
        body = _post(server["base"], server["token"], KERAS_TRACEBACK, user="ana", hostname="gpu-a")
        page.goto(f"/groups/{body['group_id']}")
        assert "conv2d: expected 4 axes, got 3" in page.locator("h1").inner_text()
        assert "input_layer" in page.locator("#diagnosis").inner_text()
        page.wait_for_selector("#group-chart[data-drawn] canvas")
        assert _canvas_drawn(page, "#group-chart") > 0
        page.click("#resolve")
        page.wait_for_selector("#reopen")
        assert page.locator(".stats .badge").first.inner_text() == "resolved"
        assert "bench@example.com" in page.locator("#history").inner_text()
        again = _post(server["base"], server["token"], KERAS_TRACEBACK, user="bob", hostname="gpu-b")
        assert again["group_status"] == "regressed" and again["group_id"] == body["group_id"]
        page.reload()
        assert page.locator(".stats .badge").first.inner_text() == "regressed"
        assert page.locator("#resolve").count() == 1
        page.goto("/?days=7")
        assert page.locator("#ranked .badge.regressed").count() >= 1

        # bulk: select all on the list and ignore them
        page.goto("/groups?q=expected+4+axes&days=1")
        page.check("input.select-all")
        page.click("#bulk button[value=ignored]")
        page.wait_for_url("**/groups?q=*")
        assert page.locator("#group-list .badge.status-ignored").count() >= 1

        # a notification channel, added on the settings page: listed with its URL masked, then removed (its host
        # is .invalid and it hears only "new", so nothing is ever sent while it exists)
        page.click("nav >> text=Settings")
        page.fill("#channel-form input[name=url]", "https://hooks.slack.invalid/services/T0/B0/browsersecret9876")
        for event in ("regressed", "spike", "digest"):
            page.uncheck(f"#channel-form input[name=events][value={event}]")
        page.click("#channel-form button[type=submit]")
        row = page.locator("#channel-list tbody tr").first
        assert "https://hooks.slack.invalid/…9876" in row.inner_text() and "active" in row.inner_text()
        assert "browsersecret" not in page.content()
        row.locator("button", has_text="Remove").click()
        page.click("#confirm-remove")
        page.wait_for_url("**/settings#channels")
        assert "No channel yet" in page.locator("#channels").inner_text()

        page.click("#logout")
        page.wait_for_url("**/login")
        page.goto("/groups")
        assert "/login" in page.url
        assert watched.dialogs == [] and watched.errors == [], (watched.dialogs, watched.errors)
    finally:
        watched.close()


def test_hostile_tracebacks_render_as_text_and_run_nothing(server: dict[str, Any], browser: Any) -> None:
    body = _post(server["base"], server["token"], XSS, user='<img src=x onerror="alert(5)">',
                 hostname="<script>alert(6)</script>")
    watched = Watched(browser, server["base"])
    page = watched.page
    try:
        watched.login(*server["member"])
        for path in (f"/groups/{body['group_id']}", f"/reports/{body['report_id']}", "/groups?days=1", "/"):
            page.goto(path)
            page.wait_for_load_state("load")
            assert page.evaluate("window.__pwned") is None, path
            assert page.locator("img").count() == 0, path
        page.goto(f"/groups/{body['group_id']}")
        traceback = page.locator("#traceback").inner_text()
        assert "<script>window.__pwned = 1; alert(1)</script>.py" in traceback
        assert '<img src=x onerror="window.__pwned = 4; alert(4)">' in traceback
        assert "<script>alert(6)</script>" in page.locator("#facet-host").inner_text()
        assert page.get_by_text("said the payload").count() >= 1
        assert watched.dialogs == [] and watched.errors == [], (watched.dialogs, watched.errors)
    finally:
        watched.close()


def test_another_teams_person_gets_404_for_every_id_of_ours(server: dict[str, Any], browser: Any) -> None:
    import sqlite3

    database = server["url"].split("///", 1)[1]
    with sqlite3.connect(database) as db:
        groups = [r[0] for r in db.execute("SELECT id FROM groups ORDER BY id")]
        reports = [r[0] for r in db.execute("SELECT max(id) FROM reports GROUP BY group_id ORDER BY group_id")]
    theirs = _post(server["base"], server["rival_token"], "Traceback (most recent call last):\nKeyError: 'theirs'")
    watched = Watched(browser, server["base"])
    page = watched.page
    try:
        watched.login(*server["spy"])
        assert "No crash reported yet" not in page.content()  # they have one report of their own
        for group in groups:
            if group == theirs["group_id"]:
                continue
            assert page.goto(f"/groups/{group}").status == 404, group
        for report in reports[:40]:
            assert page.goto(f"/reports/{report}").status == 404, report
        assert "another team" in page.content()
        assert page.goto(f"/groups/{theirs['group_id']}").status == 200
        page.goto("/groups?days=0")
        assert page.locator("#group-list tbody tr").count() == 1
        errors = [e for e in watched.errors if "status of 404" not in e]  # the 404 pages themselves
        assert watched.dialogs == [] and errors == [], (watched.dialogs, errors)
    finally:
        watched.close()


def test_the_pages_read_without_javascript(server: dict[str, Any], browser: Any) -> None:
    context = browser.new_context(base_url=server["base"], java_script_enabled=False)
    page = context.new_page()
    try:
        page.goto("/login")
        page.fill("input[name=email]", server["member"][0])
        page.fill("input[name=password]", server["member"][1])
        page.click("button[type=submit]")
        page.wait_for_url(lambda url: "/login" not in url)
        assert page.locator("table.legend tbody tr").count() > 1  # the chart's numbers, as a table
        assert "UTC" in page.locator("#ranked time").first.inner_text()
        page.click("#ranked tbody tr >> nth=0 >> td.title a")
        assert page.locator("#diagnosis").count() == 1 and page.locator("#traceback").count() == 1
        page.click("#resolve" if page.locator("#resolve").count() else "#reopen")  # a plain HTML form post
        assert page.locator("#history li").count() >= 1
    finally:
        context.close()
