"""The team dashboard: server-rendered Jinja pages, readable without JavaScript; one static script localises times
and draws the charts with the vendored uPlot (static/vendor/uplot). Everything user-supplied is escaped by Jinja's
autoescape; chart data travels in `<script type="application/json">` blocks, so the strict Content-Security-Policy
(no inline script or style) holds."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("dashboard", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")

from diagnoser.web.dashboard import views  # noqa: E402,F401  (registers the routes on bp)
