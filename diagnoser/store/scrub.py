"""Redact secrets from everything a report carries, before it is diagnosed or stored.

Why here and first: tracebacks and logs routinely echo connection strings, headers and environment variables; once a
secret reaches the database it reaches backups, dashboards and Slack. Each pattern anchors on a literal (a scheme's
`://`, a key name, a known prefix) so scrubbing a 1 MB log stays fast.
"""

from __future__ import annotations

import re
from typing import Any

REDACTED = "[REDACTED]"

# A key is secret-looking when it ends with one of these words ("db_password", "HF_TOKEN", "x-api-key"), so that
# "max_tokens" or "tokens = tokenizer(x)" in a user's source stay readable. Matching starts at the word itself (the
# rest of the key name is kept anyway), which keeps the scan linear.
_SECRET_WORDS = (
    r"(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?"
    r"|private[_-]?key|credentials?|session[_-]?id)"
)
_KEY_NAMES = r"(?:[A-Za-z0-9_.-]*" + _SECRET_WORDS + ")"
_VALUE = r"(?!\[REDACTED\])(?!\d+\b)"

# (literals, pattern, replacement): a pattern runs only when one of its literals occurs in the text (lower-cased when
# the literal is), so a traceback without any secret-ish word costs a few substring checks, not a dozen regex scans.
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], str], ...] = (
    # scheme://user:password@host  -> keep the user, drop the password
    (("://",), re.compile(r"(?i)\b([a-z][a-z0-9+.-]{1,20}://[^\s:/@'\"]{0,200}:)([^\s@/'\"]{1,200})(@)"),
     r"\1" + REDACTED + r"\3"),
    # Authorization: Bearer xxx / Basic xxx, and bare "Bearer xxx"
    (("authorization",), re.compile(
        r"(?i)\b(authorization['\"]?\s*[:=]\s*['\"]?(?:(?:bearer|basic|token)\s+)?)" + _VALUE + r"([^\s'\",;]{4,})"),
     r"\1" + REDACTED),
    (("bearer",), re.compile(r"(?i)\b(bearer\s+)" + _VALUE + r"([A-Za-z0-9\-._~+/]{8,}=*)"), r"\1" + REDACTED),
    # AWS access key ids
    (("AKIA", "ASIA", "AGPA", "AIDA", "AROA", "ANPA", "ANVA", "AIPA"),
     re.compile(r"\b((?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16})\b"), REDACTED),
    # well-known token shapes: GitHub, Slack, OpenAI/Anthropic-style, Hugging Face, Google, Stripe, JWTs, ours
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
     re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})\b"), REDACTED),
    (("xox",), re.compile(r"\b(xox[abprs]-[A-Za-z0-9-]{10,})"), REDACTED),
    (("hooks.slack.com",), re.compile(r"https://hooks\.slack\.com/services/[A-Za-z0-9/_-]+"),
     "https://hooks.slack.com/services/" + REDACTED),
    (("sk-",), re.compile(r"\b(sk-(?:[A-Za-z0-9_-]{2,12}-)?[A-Za-z0-9_-]{20,})"), REDACTED),
    (("hf_",), re.compile(r"\b(hf_[A-Za-z0-9]{20,})\b"), REDACTED),
    (("AIza",), re.compile(r"\b(AIza[0-9A-Za-z_-]{35})\b"), REDACTED),
    (("_live_", "_test_"), re.compile(r"\b([rs]k_(?:live|test)_[A-Za-z0-9]{16,})\b"), REDACTED),
    (("eyJ",), re.compile(r"\b(eyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,})"), REDACTED),
    (("dgn_",), re.compile(r"\b(dgn_[A-Za-z0-9_-]{20,})"), REDACTED),
    # key = value, key: value, "key": "value", KEY=value (environment dumps, configs), and --key value (argv)
    (("pass", "pwd", "secret", "token", "key", "credential", "session"),
     re.compile(r"(?i)(" + _SECRET_WORDS + r"['\"]?\s*[:=]\s*['\"]?)" + _VALUE + r"([^\s'\",;&)}\]]{3,})"),
     r"\1" + REDACTED),
    (("--",), re.compile(r"(?i)(--" + _KEY_NAMES + r"[ =])" + _VALUE + r"([^\s'\"]{3,})"), r"\1" + REDACTED),
)

_SECRET_KEY = re.compile(r"(?i)^" + _KEY_NAMES + r"$")

# Each pattern's literals split once: lower-case ones are looked for in the lower-cased text (case-insensitive), the
# others ("AKIA", "eyJ") in the text as it is.
_CHECKS = tuple(
    (tuple(lit for lit in literals if lit == lit.lower()), tuple(lit for lit in literals if lit != lit.lower()),
     pattern, replacement)
    for literals, pattern, replacement in _PATTERNS
)


# Every literal at once, for short texts (metadata values): one C-level search each instead of a dozen checks.
_ANY_LOWER = re.compile("|".join(re.escape(lit) for lower, _exact, _p, _r in _CHECKS for lit in lower))
_ANY_EXACT = re.compile("|".join(re.escape(lit) for _lower, exact, _p, _r in _CHECKS for lit in exact))
SHORT = 256

# Long texts (tracebacks) recur: one broken script crashes across a sweep, and scrubbing is a pure function of the
# text, so the answer is remembered, keyed by the text itself (exact). Bounded: at most _CACHE_SIZE texts of at most
# _CACHE_LONGEST characters; a full cache is simply emptied.
_CACHE: dict[str, str] = {}
_CACHE_SIZE = 128
_CACHE_LONGEST = 16_384


def scrub_text(text: str) -> str:
    """`text` with every secret we recognise replaced by [REDACTED]."""
    if len(text) < SHORT:
        if _ANY_LOWER.search(text.lower()) is None and _ANY_EXACT.search(text) is None:
            return text
        return _scrub(text)
    if len(text) > _CACHE_LONGEST:
        return _scrub(text)
    found = _CACHE.get(text)
    if found is None:
        found = _scrub(text)
        if len(_CACHE) >= _CACHE_SIZE:
            _CACHE.clear()
        _CACHE[text] = found
    return found


def _scrub(text: str) -> str:
    lowered = text.lower()
    for lower_literals, exact_literals, pattern, replacement in _CHECKS:
        if any(map(lowered.__contains__, lower_literals)) or any(map(text.__contains__, exact_literals)):
            text = pattern.sub(replacement, text)
    return text


def scrub_value(value: Any, key: str | None = None) -> Any:
    """Scrub strings anywhere in a JSON value; a value under a secret-looking key is dropped whole."""
    if key is not None and _SECRET_KEY.match(key) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        return {k: scrub_value(v, k) for k, v in value.items()}
    if isinstance(value, list):
        return [scrub_value(v) for v in value]
    return value
