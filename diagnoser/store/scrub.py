"""Redact secrets from everything a report carries, before it is diagnosed or stored.

Why here and first: tracebacks and logs routinely echo connection strings, headers, keys and environment variables;
once a secret reaches the database it reaches backups, dashboards and Slack. The client scrubs before sending too
(diagnoser_client.scrub, its own implementation of the same rules: it must run on Python 3.9 with the standard library
alone), but the service cannot count on every sender doing so. Both are tested on one corpus of planted secrets and
near-misses, tests/fixtures/secrets/planted.jsonl; benchmarks/bench_scrub.py measures both.

What goes: private keys (a PEM block whole, with real or escaped newlines or on one line, even cut off before its END
line), well-known token formats (AWS key ids, GitHub, GitLab, Slack tokens and webhooks, Hugging Face, OpenAI,
Anthropic, Stripe, Google API keys, OAuth tokens and client secrets, npm, JWTs, ours), `Authorization:` values,
`Bearer x`, `Basic x` when x decodes to user:password, URL passwords, Azure AccountKey/SharedAccessKey/sig=, and the
value after a secret-looking name (`password=`, `"api_key": "..."`, `FOO_TOKEN=`, `--token x`, `'--password', 'x'`).
A name must end with its secret word, so `max_tokens=512`, `tokenizer` and `token_ids` stay readable, and code
(`token = get_token()`, `tokenizer.pad_token = tokenizer.eos_token`) and special-token markers (`'[PAD]'`) stay too.

Fast and linear: each pattern runs only when one of its literals occurs in the text (lower-cased when the literal is),
so a traceback without any secret-ish word costs a few substring searches, not a dozen regex scans. No pattern can
backtrack more than a bounded distance: every open-ended part is a single character class (possessive where it is
followed by anything), quantifiers on what may repeat are bounded, and URL authorities are split in Python.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from typing import Any

REDACTED = "[REDACTED]"
_NOT_YET = r"(?!\[REDACTED)"  # "[REDACTED]" and "[REDACTED RSA PRIVATE KEY]" are not values to redact again
_B = r"(?:\b|(?<=\\[nrt]))"  # a word starts here, or right after an escaped newline ("\nAuthorization: ...")
_END = r"(?![A-Za-z0-9_-])"  # a token ends where its alphabet does (\b fails after a final "-")

# A key is secret-looking when it ends with one of these words ("db_password", "HF_TOKEN", "x-api-key"), so that
# "max_tokens" or "tokens = tokenizer(x)" in a user's source stay readable; a special token of a tokenizer
# ("pad_token", "eos_token") is no secret. Matching starts at the word itself (the rest of the key name is kept
# anyway), which keeps the scan linear.
_SECRET_WORDS = (
    r"(?:password|passwd|passphrase|pwd(?<=[_-]pwd)|secret|token(?<!pad_token)(?<!eos_token)"
    r"(?<!bos_token)(?<!unk_token)(?<!sep_token)(?<!cls_token)(?<!mask_token)|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|private[_-]?key(?:[_-]?id)?|account[_-]?key"
    r"|auth|authorization|credentials?|session[_-]?(?:id|key)|signing[_-]?key|encryption[_-]?key)"
)
_KEY_NAMES = r"(?:[A-Za-z0-9_.-]{0,80}" + _SECRET_WORDS + ")"  # bounded: a run of dashes must not cost n²

# --- replacements that look at what they matched --------------------------------------------------------------------

# Between the lines of a PEM block: a newline, an escaped one, or spaces (a key pasted on one line). A line: base64,
# or an encrypted key's headers. Each repetition starts with a separator, and none can be taken for another.
_PEM_SEP = r"(?:[ \t]*+(?:\r?\n|(?:\\+r)?\\+n)[ \t]*+|[ \t]++)"
_PEM_LINE = r"(?:(?:Proc-Type|DEK-Info|Comment|Version):[^\r\n\\]*+|[A-Za-z0-9+/=]++)"


def _pem(match: re.Match[str]) -> str:
    return f"[REDACTED {match.group(1)}PRIVATE KEY]"


def _url(match: re.Match[str]) -> str:
    """scheme://user:password@host -> keep the user and host. The password may hold '@': the host follows the last."""
    authority = match.group(1)
    userinfo, at, host = authority.rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at or not colon or not password or password.startswith(REDACTED[:-1]):
        return match.group(0)
    return f"://{user}:{REDACTED}@{host}"


_SCHEMES = ("bearer", "basic", "token", "bot", "digest", "negotiate")


def _authorization(match: re.Match[str]) -> str:
    if match.group(2).lower() in _SCHEMES:  # "Authorization: Basic [REDACTED]" seen again: the scheme stays
        return match.group(0)
    return match.group(1) + REDACTED


def _basic(match: re.Match[str]) -> str:
    """`Basic x` is a credential when x is base64 of "user:password"; "Basic block" and friends stay."""
    try:
        decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return match.group(0)
    return match.group(1) + REDACTED if ":" in decoded and decoded.isprintable() else match.group(0)


# Values that are not secrets even after a secret name: code, special-token markers, empty-ish constants.
_CODE_PATH = re.compile(r"[A-Za-z_]\w*+(?:\.[A-Za-z_]\w*+)++")
_MARKER = re.compile(r"<\|?[^<>\s]{1,24}\|?>|\[[A-Z_]{2,12}\]")
_CONSTANTS = ("none", "null", "true", "false", "nil", "undefined", "***", "xxx", "...")


def _not_a_secret(name: str, value: str, after: str) -> bool:
    core = value.strip("\"'")
    if not core or core.startswith(REDACTED[:-1]) or core.lower() in _CONSTANTS:
        return True
    if after[:1] in ("(", "["):  # token = get_token() / password = secrets["db"]
        return True
    if after.startswith(" " + REDACTED[:-1]) and core.lower() in _SCHEMES:  # "Authorization: Basic [REDACTED]"
        return True
    if _CODE_PATH.fullmatch(core) or _MARKER.fullmatch(core):
        return True
    if core.isdigit() and len(core) <= 5:  # a count, a port
        return True
    return core.lower() == name.lstrip("-").lower()  # Client(token=token)


def _named(match: re.Match[str]) -> str:
    """The value after a secret-looking name: groups (name and separator, quote, quoted value, bare value)."""
    quote = match.group(2) or ""
    value = match.group(3) if quote else match.group(4)
    name = match.group(1).rstrip("=:\"', \t\r\n")
    if _not_a_secret(name, value, match.string[match.end():match.end() + len(REDACTED)]):
        return match.group(0)
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


def _flag(match: re.Match[str]) -> str:
    """--name value, --name=value, '--name', 'value': keep the value's quotes."""
    value = match.group(2)
    if _not_a_secret(match.group(1).rstrip("=:\"', \t"), value, match.string[match.end():match.end() + len(REDACTED)]):
        return match.group(0)
    quote = value[0] if len(value) > 1 and value[0] in "'\"" and value[-1] == value[0] else ""
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


def _keep_first(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def _whole(match: re.Match[str]) -> str:
    return REDACTED


_WORD_ANCHORS = ("pass", "pwd", "secret", "token", "api", "access", "private", "account", "auth", "credential",
                 "session", "signing", "encryption")

# (anchors, pattern, replacement). An anchor is a lower-case literal at which every match of the pattern starts; the
# pattern is tried only there (pattern.match at each place the anchor occurs in the lower-cased text). So a traceback
# without any secret-ish word costs a few C-level substring searches, and one with many costs one short match attempt
# per occurrence: never a regex scan of every position of a megabyte.
_PATTERNS: tuple[tuple[tuple[str, ...], re.Pattern[str], Callable[[re.Match[str]], str]], ...] = (
    # private keys first: nothing else may cut a block in pieces
    (("-----begin ",), re.compile(
        r"-----BEGIN ((?:[A-Z0-9]++ ){0,3})PRIVATE KEY(?: BLOCK)?-----"
        r"(?:" + _PEM_SEP + r"(?:" + _PEM_LINE + r")?)*+"
        r"(?:-----END (?:[A-Z0-9]++ ){0,3}PRIVATE KEY(?: BLOCK)?-----)?"), _pem),
    # well-known token shapes: AWS key ids, GitHub, GitLab, Slack, Hugging Face, OpenAI/Anthropic-style, Stripe,
    # Google, npm, JWTs, ours
    (("akia", "asia", "agpa", "aida", "aroa", "anpa", "anva", "aipa"),
     re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), _whole),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
     re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}+|github_pat_[A-Za-z0-9_]{20,}+)" + _END), _whole),
    (("glpat-",), re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}+"), _whole),
    (("xox", "xapp-"), re.compile(r"\b(?:xox[abposrec]-[A-Za-z0-9-]{10,}+|xapp-\d-[A-Za-z0-9-]{10,}+)"), _whole),
    (("https://hooks.slack.com/",),
     re.compile(r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]++"), _keep_first),
    (("sk-",), re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:[a-z]{3}\d\d-)?)?[A-Za-z0-9_-]{20,}+"), _whole),
    (("hf_",), re.compile(r"\bhf_[A-Za-z0-9]{20,}+\b"), _whole),
    (("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"),
     re.compile(r"\b(?:[rs]k_(?:live|test)_[A-Za-z0-9]{16,}+|whsec_[A-Za-z0-9]{20,}+)\b"), _whole),
    (("aiza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}" + _END), _whole),
    (("ya29.",), re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}+"), _whole),
    (("gocspx-",), re.compile(r"\bGOCSPX-[0-9A-Za-z_-]{20,}+"), _whole),
    (("npm_",), re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), _whole),
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{8,}+\.eyJ[A-Za-z0-9_-]{8,}+\.[A-Za-z0-9_-]{8,}+"), _whole),
    (("dgn_",), re.compile(r"\bdgn_[A-Za-z0-9_-]{20,}+"), _whole),
    # Authorization: Bearer xxx / Basic xxx / token xxx, and bare "Bearer xxx", "Basic <user:password in base64>",
    # "token <random>"
    (("authorization",), re.compile(
        r"(?i)" + _B + r"(authorization[\"']?\s{0,20}+[:=]\s{0,20}+[\"']?(?:(?:bearer|basic|token|bot)\s{1,20}+)?)"
        + _NOT_YET + r"([^\s'\",;]{4,}+)"), _authorization),
    (("bearer",), re.compile(r"(?i)" + _B + r"(bearer\s{1,20}+)" + _NOT_YET + r"([A-Za-z0-9._~+/-]{8,}+=*+)"),
     _keep_first),
    (("basic",), re.compile(r"(?i)" + _B + r"(basic\s{1,20}+)([A-Za-z0-9+/]{4,}+={0,2}+)(?![A-Za-z0-9+/=])"), _basic),
    (("token",), re.compile(
        r"(?i)" + _B + r"(token\s{1,20}+)(?=[A-Za-z_-]*+\d)(?=\d*+[A-Za-z])([A-Za-z0-9._~+/-]{16,}+=*+)"), _keep_first),
    # scheme://user:password@host: the authority, split in _url (a password may hold '@')
    (("://",), re.compile(r"://([^\s/'\"<>?#]{1,400}+)"), _url),
    # Azure storage and Service Bus keys, SAS signatures
    (("accountkey=", "sharedaccesskey=", "sig="), re.compile(
        r"(?i)(\b(?:AccountKey|SharedAccessKey)=|(?<=[?&;])sig=)" + _NOT_YET + r"([^\s;&'\"<>]{4,}+)"), _keep_first),
    # --key value, --key=value, and an argv in a repr: '--password', 'value'
    (("--",), re.compile(
        r"(?i)(--(?=[A-Za-z0-9_])" + _KEY_NAMES + r"(?:\s{1,20}+|=|[\"']?,\s{0,20}+))"
        r"(\"[^\"\n]*+\"|'[^'\n]*+'|[^\s\"',\]]++)"), _flag),
    # key = value, key: value, "key": "value", KEY=value (environment dumps, configs, reprs)
    (_WORD_ANCHORS, re.compile(
        r"(?i)(" + _SECRET_WORDS + r"\b[\"']?\s{0,20}+[:=]\s{0,20}+(?:[rbuf](?=[\"']))?)"
        r"(?:([\"'])" + _NOT_YET + r"((?:(?!\2)[^\n]){1,500}?)\2|" + _NOT_YET + r"([^\s'\",;&()\[\]{}<>]{3,}+))"),
     _named),
)

_SECRET_KEY = re.compile(r"(?i)^" + _KEY_NAMES + r"$")

# Every anchor at once, for short texts (metadata values): one search instead of two dozen.
_ANY_ANCHOR = re.compile("|".join(sorted({re.escape(a) for anchors, _p, _r in _PATTERNS for a in anchors})))
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
        if _ANY_ANCHOR.search(text.lower()) is None:
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
    for anchors, pattern, replace in _PATTERNS:
        if len(lowered) != len(text):  # lower() changed a length (a rare non-ASCII letter): positions differ
            new = pattern.sub(replace, text)
        else:
            new = _sub_at_anchors(text, lowered, anchors, pattern, replace)
        if new is not text:
            text, lowered = new, new.lower()
    return text


def _sub_at_anchors(text: str, lowered: str, anchors: tuple[str, ...], pattern: re.Pattern[str],
                    replace: Callable[[re.Match[str]], str]) -> str:
    """pattern.sub(replace, text), trying the pattern only where one of its anchors occurs. Returns `text` itself
    when nothing changed."""
    starts: list[int] = []
    for anchor in anchors:
        at = lowered.find(anchor)
        while at != -1:
            starts.append(at)
            at = lowered.find(anchor, at + 1)
    if not starts:
        return text
    starts.sort()
    pieces: list[str] = []
    done = 0  # text[:done] is settled
    for at in starts:
        if at < done:
            continue  # inside what an earlier match replaced
        match = pattern.match(text, at)
        if match is None:
            continue
        replacement = replace(match)
        if replacement != match.group(0):
            pieces.append(text[done:at])
            pieces.append(replacement)
            done = match.end()
    if not pieces:
        return text
    pieces.append(text[done:])
    return "".join(pieces)


def scrub_value(value: Any, key: str | None = None) -> Any:
    """Scrub strings anywhere in a JSON value, dictionary keys too (a secret used as a key); a value under a
    secret-looking key is dropped whole."""
    if key is not None and _SECRET_KEY.match(key) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        return scrub_text(value)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            name = scrub_text(k) if isinstance(k, str) else k
            while name in out:  # two keys that were secrets: keep both entries
                name = f"{name}'"
            out[name] = scrub_value(v, k if isinstance(k, str) else None)
        return out
    if isinstance(value, list):
        return [scrub_value(v) for v in value]
    return value
