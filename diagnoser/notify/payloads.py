"""What a message says, for each kind of channel: pure functions from event views (plain data, see
diagnoser.store.outbox.event_views) to the JSON each remote takes. No I/O, no clock: the tests call them directly.

- Slack: Block Kit `blocks` plus a top-level `text`, which is what mobile notifications and screen readers show.
  Within Slack's limits (50 blocks, 3,000 characters per section text, 150 per header, 2,000 per field, 10
  fields): long text is trimmed at a word boundary with a visible marker, a traceback keeps its last lines.
- Mattermost: attachments (it renders no Block Kit) with a `fallback` for its notifications.
- Signed webhook: the events as JSON, and an HMAC-SHA256 signature over the timestamp and the body.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

TRIMMED = " … [trimmed]"
SECTION_LIMIT = 3000
HEADER_LIMIT = 150
FIELD_LIMIT = 2000
TEXT_LIMIT = 3000
MAX_BLOCKS = 50
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
BUTTON_TEXT_LIMIT = 75
URL_LIMIT = 3000
MAX_EVENTS_PER_MESSAGE = 10  # a coalesced Slack message: 1 header + 3 blocks per event + a footer fits 50 blocks
SIGNATURE_HEADER = "Diagnoser-Signature"
SIGNATURE_TOLERANCE_SECONDS = 300

HEADLINES = {
    "new": ("New root cause", ":new:", "#2eb886"),
    "regressed": ("Regressed", ":repeat:", "#e01e5a"),
    "spike": ("Spike", ":chart_with_upwards_trend:", "#ecb22e"),
    "digest": ("Daily digest", ":bar_chart:", "#1d9bd1"),
    "test": ("Test message", ":white_check_mark:", "#1d9bd1"),
}


# -- text within limits ---------------------------------------------------------------------------------------


def trim(text: str, limit: int, marker: str = TRIMMED) -> str:
    """`text` if it fits in `limit` characters; else cut at the last space before the limit (a word is never cut
    unless it alone is longer than a fifth of the limit) and ended with `marker`, so a trim is never silent."""
    if len(text) <= limit:
        return text
    room = max(0, limit - len(marker))
    cut = text[:room]
    space = max(cut.rfind(" "), cut.rfind("\n"))
    if space >= room * 4 // 5:
        cut = cut[:space]
    amp = cut.rfind("&")  # never end inside an escaped entity (&amp;)
    if amp != -1 and ";" not in cut[amp:] and len(cut) - amp < 6:
        cut = cut[:amp]
    return cut.rstrip() + marker


def trim_head(text: str, limit: int) -> str:
    """The last lines of `text` that fit in `limit`, after a line saying how many were left out (a traceback's
    end is what names the error)."""
    if len(text) <= limit:
        return text
    lines = text.splitlines()
    kept: list[str] = []
    size = 0
    for line in reversed(lines):
        if size + len(line) + 1 > limit - 40:
            break
        kept.insert(0, line)
        size += len(line) + 1
    if not kept:  # one line longer than the limit: its end
        return "[… trimmed] " + lines[-1][-(limit - 40):]
    return f"[… {len(lines) - len(kept)} lines trimmed]\n" + "\n".join(kept)


def escape(text: str) -> str:
    """Slack mrkdwn: &, < and > are the only characters to escape (<...> is a link)."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _code(text: str) -> str:
    return escape(text).replace("```", "`\u200b``")


def link(base_url: str, group_id: int | None) -> str | None:
    if not base_url or group_id is None:
        return None
    return f"{base_url.rstrip('/')}/groups/{int(group_id)}"


# -- what an event says, in plain words -----------------------------------------------------------------------


def _facts(view: dict[str, Any]) -> dict[str, Any]:
    group = view.get("group") or {}
    diagnosis = view.get("diagnosis") or {}
    exception = view.get("exception") or {}
    return {
        "title": diagnosis.get("title") or group.get("title") or exception.get("type") or "an error",
        "cause": diagnosis.get("cause") or group.get("cause"),
        "layer": diagnosis.get("layer"),
        "expected": diagnosis.get("expected"),
        "received": diagnosis.get("received"),
        "fix": diagnosis.get("fix"),
        "fix_code": diagnosis.get("fix_code"),
        "rule": diagnosis.get("rule") or group.get("rule"),
        "confidence": diagnosis.get("confidence"),
        "exception": " ".join(f"{exception.get('type', '')}: {exception.get('message', '')}".split())
        if exception.get("type") else group.get("exception_type"),
        "count": group.get("count"),
        "group_id": group.get("id"),
    }


def _scope(view: dict[str, Any]) -> str:
    """What a digest covers: its project, or the whole team."""
    return str((view.get("payload") or {}).get("scope") or f"team {view.get('team')}")


def headline(view: dict[str, Any]) -> str:
    """One plain line: what happened, where, which cause. The top-level `text` and fallbacks are made of these."""
    kind = view.get("kind", "")
    label = HEADLINES.get(kind, (kind.capitalize(), "", ""))[0]
    if kind == "test":
        return "Diagnoser test message: this channel receives Diagnoser's notifications"
    if kind == "digest":
        d = view.get("payload") or {}
        top = (d.get("top_causes") or [{}])[0]
        cause = f", top cause {top.get('cause') or 'no diagnosis'} ({top.get('count', 0)})" if top else ""
        return f"Diagnoser daily digest for {_scope(view)}: {d.get('total', 0)} reports{cause}"
    facts = _facts(view)
    cause = facts["cause"] or "no diagnosis"
    line = f"{label} in {view.get('project')}: {cause} — {facts['title']}"
    if kind == "spike":
        s = view.get("payload") or {}
        line += f" ({s.get('count')} reports in {s.get('window_minutes')} min)"
    return line


# -- Slack ----------------------------------------------------------------------------------------------------


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": trim(text, SECTION_LIMIT)}}


def _context(*parts: str | None) -> dict[str, Any]:
    elements = [{"type": "mrkdwn", "text": trim(p, FIELD_LIMIT)} for p in parts if p][:MAX_CONTEXT_ELEMENTS]
    return {"type": "context", "elements": elements or [{"type": "mrkdwn", "text": "Diagnoser"}]}


def _header(text: str) -> dict[str, Any]:
    return {"type": "header", "text": {"type": "plain_text", "text": trim(text, HEADER_LIMIT, " …"), "emoji": True}}


def _title_line(view: dict[str, Any], base_url: str, facts: dict[str, Any]) -> str:
    url = link(base_url, facts["group_id"])
    title = escape(trim(facts["title"], 500))
    return f"*<{url}|{title}>*" if url else f"*{title}*"


def _where(view: dict[str, Any], facts: dict[str, Any]) -> str:
    parts = [f"project *{escape(str(view.get('project')))}*"]
    if facts["group_id"] is not None:
        parts.append(f"group #{facts['group_id']}")
    if facts["count"] is not None:
        parts.append(f"{facts['count']} report{'s' if facts['count'] != 1 else ''} in all")
    return " · ".join(parts)


def _shape_text(facts: dict[str, Any]) -> str:
    bits = []
    if facts["layer"]:
        bits.append(f"layer `{escape(str(facts['layer']))}`")
    if facts["expected"]:
        bits.append(f"expected `{escape(str(facts['expected']))}`")
    if facts["received"]:
        bits.append(f"received `{escape(str(facts['received']))}`")
    return " · ".join(bits)


def _fix_text(facts: dict[str, Any], limit: int) -> str | None:
    if not facts["fix"] and not facts["fix_code"]:
        return None
    text = "*Fix:* " + escape(facts["fix"] or "")
    if facts["fix_code"]:
        code = trim(_code(facts["fix_code"]), limit // 2)
        text = trim(text, limit - len(code) - 10) + f"\n```{code}```"
    return trim(text, limit)


def _spike_text(view: dict[str, Any]) -> str:
    s = view.get("payload") or {}
    usual = s.get("usual")
    usual_text = f"usually about {usual:.1f}" if isinstance(usual, (int, float)) and usual > 0 else "rarely seen before"
    return f"*{s.get('count')} reports in the last {s.get('window_minutes')} min* ({usual_text} in as long)"


def _event_blocks(view: dict[str, Any], base_url: str) -> list[dict[str, Any]]:
    """The blocks of one event alone in its message."""
    kind = view.get("kind", "")
    label, emoji, _ = HEADLINES.get(kind, (kind, "", ""))
    if kind == "test":
        return [_header(f"{emoji} Diagnoser test message"),
                _section("This channel receives Diagnoser's notifications: new root causes, regressions, spikes "
                         "and the daily digest, each with its cause, layer, shapes, fix and a link."),
                _context(f"team *{escape(str(view.get('team')))}*")]
    if kind == "digest":
        return _digest_blocks(view, base_url)
    facts = _facts(view)
    blocks = [_header(f"{emoji} {label}: {facts['cause'] or 'no diagnosis'}"),
              _section(f"{_title_line(view, base_url, facts)}\n{_where(view, facts)}")]
    if kind == "spike":
        blocks.append(_section(_spike_text(view)))
    fields = [f"*Cause*\n{escape(str(facts['cause'] or 'no diagnosis'))}"]
    for name in ("layer", "expected", "received"):
        if facts[name]:
            fields.append(f"*{name.capitalize()}*\n`{trim(_code(str(facts[name])), FIELD_LIMIT - 40)}`")
    blocks.append({"type": "section", "fields": [{"type": "mrkdwn", "text": trim(f, FIELD_LIMIT)}
                                                 for f in fields[:MAX_FIELDS]]})
    fix = _fix_text(facts, SECTION_LIMIT)
    if fix:
        blocks.append(_section(fix))
    tail = view.get("traceback_tail")
    if tail:
        code = trim_head(_code(tail), SECTION_LIMIT - 40)
        blocks.append(_section(f"*Traceback* (end)\n```{code}```"))
    context = [None if tail else escape(trim(facts["exception"] or "", 300)) or None,  # the traceback ends in it
               f"rule `{escape(facts['rule'])}`" if facts["rule"] else None,
               f"confidence {facts['confidence']:.0%}" if isinstance(facts["confidence"], (int, float)) else None]
    report = view.get("report") or {}
    if report.get("host") or report.get("user"):
        context.append(escape(" on ".join(str(x) for x in (report.get("user"), report.get("host")) if x)))
    blocks.append(_context(*context))
    url = link(base_url, facts["group_id"])
    if url and len(url) <= URL_LIMIT:
        blocks.append({"type": "actions", "elements": [
            {"type": "button", "text": {"type": "plain_text", "text": "Open the group"}, "url": url}]})
    return blocks


def _compact_blocks(view: dict[str, Any], base_url: str) -> list[dict[str, Any]]:
    """Three blocks for one event of a coalesced message: what, the cause with its shapes and fix, where."""
    kind = view.get("kind", "")
    label, emoji, _ = HEADLINES.get(kind, (kind, "", ""))
    if kind == "test":
        return [_section(f"{emoji} *Diagnoser test message*: this channel receives Diagnoser's notifications"),
                _context(f"team *{escape(str(view.get('team')))}*"), {"type": "divider"}]
    facts = _facts(view)
    lines = [f"{emoji} *{label}* · {_title_line(view, base_url, facts)}",
             f"cause `{escape(str(facts['cause'] or 'no diagnosis'))}`"
             + (f" · {_shape_text(facts)}" if _shape_text(facts) else "")]
    if kind == "spike":
        lines.append(_spike_text(view))
    fix = _fix_text(facts, 1200)
    if fix:
        lines.append(fix)
    return [_section("\n".join(lines)), _context(_where(view, facts)), {"type": "divider"}]


def _digest_blocks(view: dict[str, Any], base_url: str) -> list[dict[str, Any]]:
    d = view.get("payload") or {}
    total = int(d.get("total") or 0)
    share = (int(d.get("no_diagnosis") or 0) / total) if total else 0.0
    blocks = [_header(f":bar_chart: Daily digest: {_scope(view)} — {d.get('day', '')}"),
              _section(f"*{total} report{'s' if total != 1 else ''}* in {d.get('groups', 0)} groups · "
                       f"{int(d.get('causes') or len(d.get('top_causes') or []))} causes · "
                       f"{share:.0%} with no diagnosis")]

    def listing(title: str, items: list[dict[str, Any]], render: Any, more: int = 0) -> None:
        if not items:
            return
        lines = [f"*{title}*"] + [f"• {render(i)}" for i in items]
        if more > 0:
            lines.append(f"… and {more} more")
        blocks.append(_section("\n".join(lines)))

    def group_line(g: dict[str, Any]) -> str:
        url = link(base_url, g.get("id"))
        title = escape(trim(str(g.get("title") or "an error"), 200))
        name = f"<{url}|{title}>" if url else title
        return f"{name} (`{escape(str(g.get('cause') or 'no diagnosis'))}`) — {g.get('count')}"

    listing("Top causes", d.get("top_causes") or [],
            lambda c: f"`{escape(str(c.get('cause') or 'no diagnosis'))}` — {c.get('count')} reports")
    listing("Top groups", d.get("top_groups") or [], group_line)
    new = d.get("new_groups") or []
    listing("New today", new[:5], group_line, len(new) - 5)
    until = f"{d.get('end_local', '')} ({d.get('tz', '')})"
    blocks.append(_context(f"the 24 hours up to {escape(until)}"))
    return blocks


def slack_message(views: list[dict[str, Any]], base_url: str) -> dict[str, Any]:
    """The Slack message for one or several events (coalesced: at most MAX_EVENTS_PER_MESSAGE)."""
    if len(views) == 1:
        blocks = _event_blocks(views[0], base_url)
        text = headline(views[0])
    else:
        views = views[:MAX_EVENTS_PER_MESSAGE]
        blocks = [_header(f"Diagnoser: {len(views)} notifications")]
        for view in views:
            blocks += _compact_blocks(view, base_url)
        blocks = blocks[:-1]  # no divider after the last
        text = f"Diagnoser: {len(views)} notifications — " + "; ".join(headline(v) for v in views)
    return {"text": trim(escape(text), TEXT_LIMIT), "blocks": blocks[:MAX_BLOCKS]}


def slack_problems(message: dict[str, Any]) -> list[str]:
    """What in a Slack message breaks Slack's limits (empty when none): the tests check every payload with it."""
    problems = []
    blocks = message.get("blocks") or []
    if not message.get("text"):
        problems.append("no top-level text")
    if len(blocks) > MAX_BLOCKS:
        problems.append(f"{len(blocks)} blocks")
    for n, block in enumerate(blocks):
        kind = block.get("type")
        text = (block.get("text") or {}).get("text", "")
        if kind == "section":
            if len(text) > SECTION_LIMIT:
                problems.append(f"block {n}: section text of {len(text)}")
            fields = block.get("fields") or []
            if not text and not fields:
                problems.append(f"block {n}: empty section")
            if len(fields) > MAX_FIELDS:
                problems.append(f"block {n}: {len(fields)} fields")
            problems += [f"block {n}: field of {len(f['text'])}" for f in fields if len(f["text"]) > FIELD_LIMIT]
        elif kind == "header" and len(text) > HEADER_LIMIT:
            problems.append(f"block {n}: header of {len(text)}")
        elif kind == "context":
            elements = block.get("elements") or []
            if not elements or len(elements) > MAX_CONTEXT_ELEMENTS:
                problems.append(f"block {n}: {len(elements)} context elements")
        elif kind == "actions":
            for element in block.get("elements") or []:
                if len(element["text"]["text"]) > BUTTON_TEXT_LIMIT or len(element.get("url", "")) > URL_LIMIT:
                    problems.append(f"block {n}: button too long")
    return problems


# -- Mattermost -----------------------------------------------------------------------------------------------


def _md(text: str) -> str:
    return text.replace("```", "`\u200b``")


def mattermost_message(views: list[dict[str, Any]], base_url: str) -> dict[str, Any]:
    """Mattermost renders no Block Kit: one attachment per event, each with a `fallback` line."""
    views = views[:MAX_EVENTS_PER_MESSAGE]
    attachments = []
    for view in views:
        kind = view.get("kind", "")
        label, _, color = HEADLINES.get(kind, (kind, "", "#888888"))
        attachment: dict[str, Any] = {"fallback": trim(headline(view), 500), "color": color}
        if kind == "digest":
            attachment.update(_mattermost_digest(view, base_url))
        elif kind == "test":
            attachment.update(title="Diagnoser test message",
                              text="This channel receives Diagnoser's notifications.")
        else:
            facts = _facts(view)
            attachment["pretext"] = f"**{label}** in {view.get('project')}"
            attachment["title"] = trim(facts["title"], 250)
            url = link(base_url, facts["group_id"])
            if url:
                attachment["title_link"] = url
            text: list[str] = []
            if kind == "spike":
                text.append(_spike_text(view).replace("*", "**"))
            if facts["fix"]:
                text.append("**Fix:** " + trim(_md(facts["fix"]), 2000))
            if facts["fix_code"]:
                text.append("```\n" + trim(_md(facts["fix_code"]), 1000) + "\n```")
            if view.get("traceback_tail"):
                text.append("```\n" + trim_head(_md(view["traceback_tail"]), 3000) + "\n```")
            attachment["text"] = "\n".join(text)
            fields = [{"short": True, "title": "Cause", "value": facts["cause"] or "no diagnosis"}]
            for name in ("layer", "expected", "received"):
                if facts[name]:
                    value = f"`{trim(str(facts[name]), 500)}`"
                    fields.append({"short": True, "title": name.capitalize(), "value": value})
            attachment["fields"] = fields
            attachment["footer"] = f"Diagnoser · rule {facts['rule']}" if facts["rule"] else "Diagnoser"
        attachments.append(attachment)
    summary = headline(views[0]) if len(views) == 1 else f"Diagnoser: {len(views)} notifications"
    return {"text": trim(summary, 1000), "attachments": attachments}


def _mattermost_digest(view: dict[str, Any], base_url: str) -> dict[str, Any]:
    d = view.get("payload") or {}
    lines = [f"**{d.get('total', 0)} reports** in {d.get('groups', 0)} groups, "
             f"{d.get('no_diagnosis', 0)} with no diagnosis"]
    for title, key in (("Top causes", "top_causes"), ("Top groups", "top_groups"), ("New today", "new_groups")):
        items = (d.get(key) or [])[:5]
        if items:
            lines.append(f"**{title}**")
            for item in items:
                url = link(base_url, item.get("id")) if key != "top_causes" else None
                name = item.get("title") or item.get("cause") or "no diagnosis"
                lines.append(f"- {f'[{name}]({url})' if url else name}: {item.get('count')}")
    return {"title": f"Daily digest: {_scope(view)} — {d.get('day', '')}", "text": trim("\n".join(lines), 6000)}


# -- the signed webhook ---------------------------------------------------------------------------------------


def webhook_body(views: list[dict[str, Any]], base_url: str, sent_at: str) -> dict[str, Any]:
    """The generic webhook's JSON: every event with its group, diagnosis and link, as data."""
    events = []
    for view in views:
        facts = _facts(view)
        event: dict[str, Any] = {
            "id": view.get("id"), "kind": view.get("kind"), "created_at": view.get("created_at"),
            "team": view.get("team"), "project": view.get("project"), "summary": headline(view),
        }
        if view.get("group"):
            event["group"] = dict(view["group"], url=link(base_url, facts["group_id"]))
        for key in ("diagnosis", "exception", "traceback_tail"):
            if view.get(key) is not None:
                event[key] = view[key]
        if view.get("kind") in ("spike", "digest"):
            event[view["kind"]] = {k: v for k, v in (view.get("payload") or {}).items() if k != "channel_id"}
        events.append(event)
    return {"type": "diagnoser.notifications", "sent_at": sent_at, "events": events}


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The signature header's value: `t=<unix time>,v1=<hex HMAC-SHA256 of "<t>." + body, keyed by the secret>`."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def verify(secret: str, header: str, body: bytes, now: float, tolerance: int = SIGNATURE_TOLERANCE_SECONDS) -> bool:
    """The receiver's check (README, "Signed webhooks"): the header's timestamp is recent and one of its v1
    signatures is the HMAC of "<t>." + the raw body, compared in constant time."""
    items = [part.split("=", 1) for part in header.split(",") if "=" in part]
    stamps = [v for k, v in items if k.strip() == "t"]
    signatures = [v.strip() for k, v in items if k.strip() == "v1"]
    if len(stamps) != 1 or not stamps[0].strip().isdigit() or not signatures:
        return False
    timestamp = int(stamps[0])
    if abs(now - timestamp) > tolerance:
        return False
    expected = sign(secret, timestamp, body).split("v1=", 1)[1]
    return any(hmac.compare_digest(expected, s) for s in signatures)


def encode(payload: dict[str, Any]) -> bytes:
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
