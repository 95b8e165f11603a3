"""Remove secrets before anything leaves the machine.

The service scrubs too (diagnoser.store.scrub, its own implementation of the same rules), but a token that never
leaves the training host cannot leak from the service's database, its logs or a proxy in between. Four nets, in
this order:

1. private keys: a PEM block (RSA, EC, OpenSSH, PKCS#8, encrypted, PGP), with real newlines, `\\n` escapes (a repr,
   a JSON string) or spaces between its lines, is replaced whole, key material and all, even when the END line was
   cut off;
2. well-known token formats: AWS key ids, GitHub, GitLab, Slack (tokens and webhooks), Hugging Face, OpenAI,
   Anthropic, Stripe, Google (API keys, OAuth tokens and client secrets), npm, JWTs, Diagnoser's own tokens;
   `Authorization:` values, `Bearer x`, `Basic x` (only when x decodes to user:password), credentials in URLs,
   Azure AccountKey/SharedAccessKey/sig=;
3. values of secret-looking names: `api_key="..."`, `"password": "..."`, `FOO_TOKEN=...`, `--token x`,
   `'--password', 'x'` (an argv in a repr), `aws_secret_access_key = ...`; a name must end with the secret word, so
   `max_tokens=512`, `tokenizer` and `token_ids` stay readable, and code (`token = get_token()`,
   `tokenizer.pad_token = tokenizer.eos_token`) and special-token markers (`pad_token='[PAD]'`) are left alone;
4. the literal values of secret-named environment variables, and the token the client itself was given.

scrub_value() applies all of it to a JSON value: strings anywhere, dictionary keys too (a secret used as a key),
and the whole value under a secret-looking key. tests/fixtures/secrets/planted.jsonl is the corpus both scrubbers
are tested on (tests/client/test_client_scrub_corpus.py); benchmarks/bench_scrub.py measures their speed.
"""

from __future__ import annotations

import base64
import binascii
import os
import re
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

REDACTED = "[REDACTED]"

# --- 1. private keys --------------------------------------------------------------------------------------------

# Between the lines of a PEM block: a newline, an escaped one (\n, \\n, \r\n as text) or spaces (a key pasted on
# one line). A line: base64, or an encrypted key's headers.
_PEM_SEP = r"(?:[ \t]*(?:\r?\n|(?:\\+r)?\\+n)[ \t]*|[ \t]+)"
_PEM_LINE = r"(?:(?:Proc-Type|DEK-Info|Comment|Version):[^\r\n\\]*|[A-Za-z0-9+/=]+)"
_PEM = re.compile(
    r"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----"
    r"(?:" + _PEM_SEP + r"(?:" + _PEM_LINE + r")?)*"
    r"(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)?"
)


def _pem(match: re.Match[str]) -> str:
    return f"[REDACTED {match.group(1)}PRIVATE KEY]"


# --- 2. token formats -------------------------------------------------------------------------------------------

_END = r"(?![A-Za-z0-9_-])"  # a token ends where its alphabet does (\b fails after a final "-")
_B = r"(?:\b|(?<=\\[nrt]))"  # a word starts here, also right after an escaped newline or tab ("\\nAuthorization")
_TOKENS: Sequence[re.Pattern[str]] = (
    re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA|ABIA|ACCA)[A-Z0-9]{16}\b"),
    re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})" + _END),
    re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}" + _END),
    re.compile(r"\bxox[abposrec]-[A-Za-z0-9-]{10,}" + _END),
    re.compile(r"\bxapp-\d-[A-Za-z0-9-]{10,}" + _END),
    re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"),
    re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:[a-z]{3}\d\d-)?)?[A-Za-z0-9_-]{20,}" + _END),
    re.compile(r"\b(?:[rs]k_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{20,})\b"),
    re.compile(r"\bAIza[0-9A-Za-z_-]{35}" + _END),
    re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}" + _END),
    re.compile(r"\bGOCSPX-[0-9A-Za-z_-]{20,}" + _END),
    re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"),
    re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}" + _END),
    re.compile(r"\bdgn_[A-Za-z0-9_-]{20,}" + _END),
)
_SLACK_WEBHOOK = re.compile(r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+")
_AUTHORIZATION = re.compile(
    r"(?i)(" + _B + r"authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|bot)\s+)?)(?!\[REDACTED)([^\s\"',;]{4,})"
)
_BEARER = re.compile(r"(?i)(" + _B + r"bearer\s+)(?!\[REDACTED)([A-Za-z0-9._~+/-]{8,}=*)")
_BASIC = re.compile(r"(?i)(" + _B + r"basic\s+)([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])")
_BARE_TOKEN = re.compile(r"(?i)(" + _B + r"token\s+)(?=[A-Za-z_-]*\d)(?=\d*[A-Za-z])([A-Za-z0-9._~+/-]{16,}=*)")
# scheme://user:password@host: the password (which may hold '@') ends at the last '@' of the authority.
_URL_CREDENTIALS = re.compile(r"(://[^\s:/@\"'<>]{0,200}:)([^\s/\"'<>]{1,200})(@)(?=[^\s/@\"'<>]*(?:[/:?#\s\"'<>]|$))")
_AZURE = re.compile(r"(?i)(\b(?:AccountKey|SharedAccessKey)=|[?&;]sig=)([^\s;&\"'<>]{4,})")


def _basic(match: re.Match[str]) -> str:
    """`Basic x` is a credential when x is base64 of "user:password"; "Basic block" and friends stay."""
    try:
        decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return match.group(0)
    if ":" in decoded and decoded.isprintable():
        return match.group(1) + REDACTED
    return match.group(0)


# --- 3. values of secret-looking names --------------------------------------------------------------------------

_SECRET_WORD = (
    r"(?:password|passwd|passphrase|(?<=[_-])pwd|secret|(?<!pad_)(?<!eos_)(?<!bos_)(?<!unk_)(?<!sep_)(?<!cls_)"
    r"(?<!mask_)token|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?|private[_-]?key(?:[_-]?id)?|account[_-]?key"
    r"|auth|authorization|credentials?|session[_-]?key|signing[_-]?key|encryption[_-]?key)"
)
# A name is secret-looking when it ends with a secret word: "HF_TOKEN", "db_password", "--api-key".
_NAME_RE = re.compile(r"(?i)^[\w.-]*" + _SECRET_WORD + r"$")

# name = "value", name: 'value', "name": "value" (code, configs, reprs, JSON).
_ASSIGN_QUOTED = re.compile(
    r"(?i)(\b[\w.-]*" + _SECRET_WORD + r"\b[\"']?\s*[:=]\s*[rbuf]?)([\"'])((?:(?!\2)[^\n]){1,500}?)\2"
)
# name=value, name: value unquoted (logs, environment dumps, YAML).
_ASSIGN_BARE = re.compile(r"(?i)(\b[\w.-]*" + _SECRET_WORD + r"\b\s*[:=]\s*)([^\s\"',;()\[\]{}<>]{4,})")
# --name value, --name=value, and an argv in a repr: '--password', 'value'.
_FLAG = re.compile(
    r"(?i)(--[\w.-]*" + _SECRET_WORD + r"(?:\s+|=|[\"']?,\s*))(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',\]]+)"
)

# Values that are not secrets even after a secret name: code, special-token markers, empty-ish constants.
_CODE_PATH = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
_MARKER = re.compile(r"^(?:<\|?[^<>\s]{1,24}\|?>|\[[A-Z_]{2,12}\])$")
_CONSTANTS = ("none", "null", "true", "false", "nil", "undefined", "***", "xxx", "...")


def _not_a_secret(name: str, value: str, after: str) -> bool:
    core = value.strip("\"'")
    if not core or "[REDACTED" in core or core.lower() in _CONSTANTS:
        return True
    if after[:1] in ("(", "["):  # token = get_token() / password = secrets["db"]
        return True
    if after.startswith(" " + REDACTED[:-1]):  # "Authorization: Basic [REDACTED]": the scheme, already done
        return True
    if _CODE_PATH.match(core) or _MARKER.match(core):
        return True
    if core.isdigit() and len(core) <= 5:  # a count, a port
        return True
    return core.lower() == re.sub(r"^-+", "", name).lower()  # Client(token=token)


def _valued(keep_quotes: bool) -> Callable[[re.Match[str]], str]:
    def replace(match: re.Match[str]) -> str:
        text = match.string
        name = match.group(1).rstrip("=:\"', \t\r\n")
        value = match.group(3) if keep_quotes else match.group(2)
        if _not_a_secret(name, value, text[match.end():match.end() + len(REDACTED)]):
            return match.group(0)
        if keep_quotes:
            return f"{match.group(1)}{match.group(2)}{REDACTED}{match.group(2)}"
        quote = value[0] if value[:1] in ("'", '"') and value[-1:] == value[:1] and len(value) > 1 else ""
        return f"{match.group(1)}{quote}{REDACTED}{quote}"

    return replace


def _keep_prefix(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


_SCHEMES = ("bearer", "basic", "token", "bot", "digest", "negotiate")


def _authorization(match: re.Match[str]) -> str:
    if match.group(2).lower() in _SCHEMES:  # "Authorization: Basic [REDACTED]" seen again: the scheme stays
        return match.group(0)
    return match.group(1) + REDACTED


_STEPS: Sequence[Tuple[re.Pattern[str], Any]] = (
    (_PEM, _pem),
    *((pattern, REDACTED) for pattern in _TOKENS),
    (_SLACK_WEBHOOK, lambda m: m.group(1) + REDACTED),
    (_AUTHORIZATION, _authorization),
    (_BEARER, _keep_prefix),
    (_BASIC, _basic),
    (_BARE_TOKEN, _keep_prefix),
    (_URL_CREDENTIALS, lambda m: m.group(1) + REDACTED + m.group(3)),
    (_AZURE, _keep_prefix),
    (_FLAG, _valued(keep_quotes=False)),
    (_ASSIGN_QUOTED, _valued(keep_quotes=True)),
    (_ASSIGN_BARE, _valued(keep_quotes=False)),
)


def is_secret_name(name: str) -> bool:
    return bool(_NAME_RE.match(name.lstrip("-")))


def _environment_secrets(environ: Optional[Dict[str, str]] = None) -> List[str]:
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
    for pattern, replacement in _STEPS:
        text = pattern.sub(replacement, text)
    return text


def scrub_value(value: Any, extra_secrets: Iterable[Optional[str]] = (), key: Optional[str] = None) -> Any:
    """Scrub a JSON value: strings anywhere, dictionary keys too; a value under a secret-looking key goes whole."""
    extra = tuple(extra_secrets)
    if key is not None and is_secret_name(key) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        return scrub(value, extra)
    if isinstance(value, dict):
        out: Dict[Any, Any] = {}
        for k, v in value.items():
            name = scrub(k, extra) if isinstance(k, str) else k
            while name in out:  # two keys that were secrets: keep both entries
                name = f"{name}'"
            out[name] = scrub_value(v, extra, k if isinstance(k, str) else None)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub_value(v, extra) for v in value]
    return value


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
