"""Remove secrets before anything leaves the machine.

The service scrubs too, but a token that never leaves the training host cannot leak from the service's
database, its logs or a proxy in between. Three nets: values of secret-looking names (`api_key="..."`,
`--token abc`), well-known token formats (AWS, GitHub, Slack, Hugging Face, OpenAI, JWT, Bearer, URL
credentials, PEM private keys), and the literal values of secret-named environment variables.
"""

from __future__ import annotations

import os
import re
from typing import Iterable, List, Optional, Sequence

REDACTED = "[REDACTED]"

_SECRET_NAME = (
    r"(?:password|passwd|secret|token|api[_-]?key|apikey|access[_-]?key|secret[_-]?key|private[_-]?key"
    r"|auth|authorization|credentials?|session[_-]?key|client[_-]?secret)"
)
# Ends in a secret word: "HF_TOKEN", "db_password", "--api-key"; "tokenizer" and "max_tokens" do not.
_NAME_RE = re.compile(r"(?i)^[\w.-]*" + _SECRET_NAME + r"$")

# name = "value" / name: 'value' / "name": "value" in code, configs, reprs and messages.
_ASSIGN_QUOTED = re.compile(
    r"(?i)(\b[\w.-]*" + _SECRET_NAME + r"\b[\"']?\s*[:=]\s*[rbuf]?)([\"'])((?:(?!\2).){1,500}?)\2"
)
# name=value / name: value unquoted, as in logs, env dumps and command lines.
_ASSIGN_BARE = re.compile(
    r"(?i)(\b[\w.-]*" + _SECRET_NAME + r"\b\s*[:=]\s*)(?![\w.]*[(\[])(?!None\b|True\b|False\b)([^\s\"',;()\[\]{}]{4,})"
)

_PATTERNS: Sequence[re.Pattern] = (
    re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----", re.S),
    re.compile(r"(?i)\b(bearer|basic|token)\s+[A-Za-z0-9._~+/=-]{12,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bgithub_pat_[A-Za-z0-9_]{30,}\b"),
    re.compile(r"\bxox[abposr]-[A-Za-z0-9-]{10,}\b"),
    re.compile(r"\bhf_[A-Za-z0-9]{30,}\b"),
    re.compile(r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\b"),
)
_URL_CREDENTIALS = re.compile(r"\b([a-z][a-z0-9+.-]*://[^/\s:@]+):([^/\s@]+)@", re.I)


def is_secret_name(name: str) -> bool:
    return bool(_NAME_RE.match(name.lstrip("-")))


def _environment_secrets(environ: Optional[dict] = None) -> List[str]:
    env = os.environ if environ is None else environ
    return sorted(
        (v for k, v in env.items() if is_secret_name(k) and len(v) >= 8 and v.strip() == v),
        key=len,
        reverse=True,
    )


def scrub(text: Optional[str], extra_secrets: Iterable[Optional[str]] = ()) -> Optional[str]:
    """Return `text` with every secret we can recognise replaced by [REDACTED]."""
    if not text:
        return text
    for value in list(extra_secrets) + _environment_secrets():
        if value and len(value) >= 8 and value in text:
            text = text.replace(value, REDACTED)
    for pattern in _PATTERNS:
        if pattern.pattern.startswith("(?i)\\b(bearer"):
            text = pattern.sub(lambda m: f"{m.group(1)} {REDACTED}", text)
        else:
            text = pattern.sub(REDACTED, text)
    text = _URL_CREDENTIALS.sub(lambda m: f"{m.group(1)}:{REDACTED}@", text)
    text = _ASSIGN_QUOTED.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}{m.group(2)}", text)
    text = _ASSIGN_BARE.sub(lambda m: m.group(1) + (m.group(2) if m.group(2) == REDACTED else REDACTED), text)
    return text


def scrub_argv(argv: Sequence[str], extra_secrets: Iterable[Optional[str]] = ()) -> List[str]:
    """`--token abc` and `--token=abc` lose their values; everything else goes through scrub()."""
    extra = list(extra_secrets)
    out: List[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        if arg.startswith("-"):
            name, eq, _value = arg.partition("=")
            if is_secret_name(name):
                if eq:
                    out.append(f"{name}={REDACTED}")
                else:
                    out.append(arg)
                    hide_next = True
                continue
        out.append(scrub(arg, extra) or arg)
    return out
