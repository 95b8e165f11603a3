"""Render the Slack message Diagnoser sends for a new cause as a PNG (docs/slack-message.png, shown in the README).

The message is the real one: the Keras fixture is diagnosed by the engine, stored, and its outbox event turned into
Block Kit by diagnoser.notify.payloads; only its drawing is a mock of Slack's (Slack renders the blocks; here a
small HTML page does, with Slack's layout: app name, header, sections, fields, context, button).

    python3 docs/render_slack_message.py        (needs playwright and Chromium: apt-get install -y chromium)
"""

from __future__ import annotations

import html
import json
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from diagnoser.notify.payloads import slack_message  # noqa: E402
from diagnoser.store.analysis import analyse  # noqa: E402
from diagnoser.store.base import utcnow  # noqa: E402
from diagnoser.store.db import make_engine, make_sessionmaker, reading, writing  # noqa: E402
from diagnoser.store.ingest import NewReport, store_batch  # noqa: E402
from diagnoser.store.migrate import upgrade  # noqa: E402
from diagnoser.store.outbox import event_views  # noqa: E402
from diagnoser.store.tokens import get_or_create_project  # noqa: E402

EMOJI = {":new:": "🆕", ":repeat:": "🔁", ":chart_with_upwards_trend:": "📈", ":bar_chart:": "📊",
         ":white_check_mark:": "✅"}


def real_message() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as folder:
        url = f"sqlite:///{folder}/d.db"
        upgrade(url)
        engine = make_engine(url)
        sessions = make_sessionmaker(engine)
        text = (ROOT / "tests" / "service" / "fixtures" / "keras3_input_rank_missing_channel.txt").read_text()
        with writing(sessions) as session:
            project = get_or_create_project(session, "default", "vision")
            store_batch(session.connection(), [NewReport(project.id, utcnow(), text, analyse(text),
                                                         meta={"user": "ana", "hostname": "gpu-node-7"})])
        with reading(sessions) as session:
            views = list(event_views(session, [1]).values())
        engine.dispose()
    return slack_message(views, "https://diagnoser.example.com")


def mrkdwn(text: str) -> str:
    """Slack's mrkdwn to HTML, enough for our messages: code blocks, `code`, *bold*, <url|label>, emoji."""
    parts = re.split(r"```(.*?)```", text, flags=re.S)
    out = []
    for n, part in enumerate(parts):
        if n % 2:
            out.append(f"<pre>{part}</pre>")  # already escaped (&lt; ...) by the payload builder
            continue
        part = re.sub(r"<([^|>]+)\|([^>]+)>", r'<a href="\1">\2</a>', part)
        part = re.sub(r"`([^`]+)`", r"<code>\1</code>", part)
        part = re.sub(r"\*([^*\n]+)\*", r"<b>\1</b>", part)
        for name, char in EMOJI.items():
            part = part.replace(name, char)
        out.append(part.replace("\n", "<br>"))
    return "".join(out)


def block_html(block: dict[str, Any]) -> str:
    kind = block["type"]
    if kind == "header":
        text = html.escape(block["text"]["text"])
        for name, char in EMOJI.items():
            text = text.replace(name, char)
        return f'<div class="header">{text}</div>'
    if kind == "section":
        inner = mrkdwn(block["text"]["text"]) if "text" in block else ""
        if block.get("fields"):
            inner += '<div class="fields">' + "".join(f"<div>{mrkdwn(f['text'])}</div>" for f in block["fields"]) \
                + "</div>"
        return f'<div class="section">{inner}</div>'
    if kind == "context":
        return '<div class="context">' + " &nbsp;·&nbsp; ".join(mrkdwn(e["text"]) for e in block["elements"]) + \
            "</div>"
    if kind == "actions":
        return '<div class="actions">' + "".join(f'<span class="button">{html.escape(e["text"]["text"])}</span>'
                                                 for e in block["elements"]) + "</div>"
    if kind == "divider":
        return "<hr>"
    return ""


PAGE = """<!doctype html><html><head><meta charset="utf-8"><style>
body {{ margin: 0; background: #fff; font: 15px/1.46668 -apple-system, "Segoe UI", Lato, "Helvetica Neue", Arial,
       "Noto Color Emoji", sans-serif; color: #1d1c1d; }}
.channel {{ border-bottom: 1px solid #ddd; padding: 10px 20px; font-weight: 900; font-size: 18px; }}
.message {{ display: flex; padding: 16px 20px 20px; width: 760px; }}
.avatar {{ width: 36px; height: 36px; border-radius: 6px; background: #4a154b; color: #fff; font-weight: 900;
          display: flex; align-items: center; justify-content: center; margin-right: 10px; flex: none; }}
.name {{ font-weight: 900; }} .app {{ background: #e8e8e8; color: #616061; font-size: 10px; font-weight: 700;
       padding: 1px 3px; border-radius: 2px; margin: 0 4px; }} .time {{ color: #616061; font-size: 12px; }}
.header {{ font-size: 18px; font-weight: 900; margin: 6px 0 4px; }}
.section {{ margin: 6px 0; }} .fields {{ display: grid; grid-template-columns: 1fr 1fr; gap: 8px 24px;
          margin-top: 4px; }}
code {{ font: 12px Monaco, Menlo, Consolas, monospace; color: #e01e5a; background: #f6f6f6; border: 1px solid #ddd;
       border-radius: 3px; padding: 1px 3px; }}
pre {{ font: 12px/1.5 Monaco, Menlo, Consolas, monospace; background: #f8f8f8; border: 1px solid #ddd;
      border-radius: 4px; padding: 8px; white-space: pre-wrap; margin: 4px 0; }}
a {{ color: #1264a3; text-decoration: none; }}
.context {{ color: #616061; font-size: 12px; margin: 6px 0; }}
.button {{ display: inline-block; border: 1px solid #bbb; border-radius: 4px; padding: 3px 12px; font-weight: 700;
          font-size: 13px; margin-top: 4px; }}
</style></head><body><div class="channel"># ml-alerts</div><div class="message"><div class="avatar">D</div><div>
<span class="name">Diagnoser</span><span class="app">APP</span><span class="time">10:42 AM</span>
{blocks}</div></div></body></html>"""


def main() -> None:
    from playwright.sync_api import sync_playwright

    message = real_message()
    (ROOT / "docs" / "slack-message.json").write_text(json.dumps(message, indent=2, ensure_ascii=False) + "\n")
    page_html = PAGE.format(blocks="".join(block_html(b) for b in message["blocks"]))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=[
            "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        page = browser.new_page(viewport={"width": 820, "height": 400}, device_scale_factor=1)
        page.set_content(page_html)
        page.screenshot(path=str(ROOT / "docs" / "slack-message.png"), full_page=True)
        browser.close()
    print("wrote docs/slack-message.png and docs/slack-message.json")


if __name__ == "__main__":
    main()
