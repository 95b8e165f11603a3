"""A minimal page for a group, so the `url` in every answer leads somewhere. It holds no data: the browser asks
for a read token and fetches the group from the API, so the page itself reveals nothing to anyone. The real
dashboard replaces this."""

from __future__ import annotations

from flask import Blueprint, Response

bp = Blueprint("pages", __name__)

_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Diagnoser: group {group_id}</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:52rem;margin:2rem auto;padding:0 1rem}}
pre{{background:#f4f4f4;padding:.75rem;overflow:auto}}</style></head>
<body><h1>Group {group_id}</h1>
<form id="f"><label>Read token <input id="t" type="password" size="50"></label> <button>Show</button></form>
<div id="out"></div>
<script>
const out = document.getElementById("out"), t = document.getElementById("t");
t.value = localStorage.getItem("diagnoser-read-token") || "";
function esc(s) {{ return String(s ?? "").replace(/[&<>"]/g, c => ({{"&":"&amp;","<":"&lt;",">":"&gt;",'"':"&quot;"}})[c]); }}
async function show() {{
  localStorage.setItem("diagnoser-read-token", t.value);
  const r = await fetch("/api/v1/groups/{group_id}", {{headers: {{Authorization: "Bearer " + t.value}}}});
  const g = await r.json();
  if (!r.ok) {{ out.innerHTML = "<p>" + esc(g.error && g.error.message) + "</p>"; return; }}
  let html = "<p><b>" + esc(g.cause || "undiagnosed") + "</b> &middot; " + esc(g.status) + " &middot; seen " +
    esc(g.count) + " times, last " + esc(g.last_seen) + "</p><p>" + esc(g.title) + "</p>";
  for (const d of g.diagnoses) {{
    html += "<h2>" + esc(d.title) + "</h2><p>" + esc(d.explanation) + "</p><p><b>Fix:</b> " + esc(d.fix) + "</p>";
    if (d.fix_code) html += "<pre>" + esc(d.fix_code) + "</pre>";
  }}
  out.innerHTML = html;
}}
document.getElementById("f").onsubmit = e => {{ e.preventDefault(); show(); }};
if (t.value) show();
</script></body></html>
"""


@bp.get("/groups/<int:group_id>")
def group_page(group_id: int) -> Response:
    return Response(_PAGE.format(group_id=group_id), mimetype="text/html")
