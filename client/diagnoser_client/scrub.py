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
import functools
import os
import re
from collections.abc import Iterable, Sequence
from typing import Any, Callable

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
_NOT_YET = r"(?!\[REDACTED)"  # "[REDACTED]" and "[REDACTED RSA PRIVATE KEY]" are not values to redact again


def _whole(match: re.Match[str]) -> str:
    return REDACTED


def _keep_first(match: re.Match[str]) -> str:
    return match.group(1) + REDACTED


def _url(match: re.Match[str]) -> str:
    """scheme://user:password@host -> keep the user and host. The password may hold '@': the host follows the last."""
    userinfo, at, host = match.group(1).rpartition("@")
    user, colon, password = userinfo.partition(":")
    if not at or not colon or not password or password.startswith(REDACTED[:-1]):
        return match.group(0)
    return f"://{user}:{REDACTED}@{host}"


def _basic(match: re.Match[str]) -> str:
    """`Basic x` is a credential when x is base64 of "user:password"; "Basic block" and friends stay."""
    try:
        decoded = base64.b64decode(match.group(2), validate=True).decode("utf-8")
    except (binascii.Error, ValueError):
        return match.group(0)
    if ":" in decoded and decoded.isprintable():
        return match.group(1) + REDACTED
    return match.group(0)


_SCHEMES = ("bearer", "basic", "token", "bot", "digest", "negotiate")


def _authorization(match: re.Match[str]) -> str:
    if match.group(2).lower() in _SCHEMES:  # "Authorization: Basic [REDACTED]" seen again: the scheme stays
        return match.group(0)
    return match.group(1) + REDACTED


# --- 3. values of secret-looking names --------------------------------------------------------------------------

_SECRET_WORD = (
    r"(?:password|passwd|passphrase|pwd(?<=[_-]pwd)|secret|token(?<!pad_token)(?<!eos_token)(?<!bos_token)"
    r"(?<!unk_token)(?<!sep_token)(?<!cls_token)(?<!mask_token)|api[_-]?key|apikey|access[_-]?key(?:[_-]?id)?"
    r"|private[_-]?key(?:[_-]?id)?|account[_-]?key|auth|authorization|credentials?|session[_-]?(?:id|key)"
    r"|signing[_-]?key|encryption[_-]?key)"
)
# A name is secret-looking when it ends with a secret word: "HF_TOKEN", "db_password", "--api-key". The part before
# the word is bounded: a long run of name characters must not make a match attempt long.
_NAME_RE = re.compile(r"(?i)^[\w.-]{0,80}" + _SECRET_WORD + r"$")
_NAME_PART = re.compile(r"-*[\w.-]*")  # the name at the start of a match: "--db-password", "TOKEN"

# Values that are not secrets even after a secret name: code, special-token markers, empty-ish constants.
_CODE_PATH = re.compile(r"^[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+$")
_MARKER = re.compile(r"^(?:<\|?[^<>\s]{1,24}\|?>|\[[A-Z_]{2,12}\])$")
_CONSTANTS = ("none", "null", "true", "false", "nil", "undefined", "***", "xxx", "...")


def _not_a_secret(name: str, value: str, after: str) -> bool:
    core = value.strip("\"'")
    if not core or core.startswith(REDACTED[:-1]) or core.lower() in _CONSTANTS:
        return True
    if after[:1] in ("(", "["):  # token = get_token() / password = secrets["db"]
        return True
    if after.startswith(" " + REDACTED[:-1]) and core.lower() in _SCHEMES:  # "Authorization: Basic [REDACTED]"
        return True
    if _CODE_PATH.match(core) or _MARKER.match(core):
        return True
    if core.isdigit() and len(core) <= 5:  # a count, a port
        return True
    return core.lower() == name.lstrip("-").lower()  # Client(token=token)


def _full_name(text: str, start: int, word: str) -> str:
    """The whole name a matched secret word ends ("HF_TOKEN" for "TOKEN"), looking back at most 80 characters."""
    begin = start
    while begin > 0 and start - begin < 80 and (text[begin - 1].isalnum() or text[begin - 1] in "_.-"):
        begin -= 1
    return text[begin:start] + word


def _named(match: re.Match[str]) -> str:
    """The value after a secret-looking name: groups (name and separator, quote, quoted value, bare value)."""
    text = match.string
    quote = match.group(2) or ""
    value = match.group(3) if quote else match.group(4)
    name = _full_name(text, match.start(), _NAME_PART.match(match.group(1)).group(0))  # type: ignore[union-attr]
    if _not_a_secret(name, value, text[match.end():match.end() + len(REDACTED)]):
        return match.group(0)
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


def _flag(match: re.Match[str]) -> str:
    """--name value, --name=value, '--name', 'value': the value goes, its quotes stay."""
    value = match.group(2)
    name = _NAME_PART.match(match.group(1)).group(0)  # type: ignore[union-attr]
    if _not_a_secret(name, value, match.string[match.end():match.end() + len(REDACTED)]):
        return match.group(0)
    quote = value[0] if len(value) > 1 and value[0] in "'\"" and value[-1] == value[0] else ""
    return f"{match.group(1)}{quote}{REDACTED}{quote}"


_WORD_ANCHORS = ("pass", "pwd", "secret", "token", "api", "access", "private", "account", "auth", "credential",
                 "session", "signing", "encryption")

# (anchors, pattern, replacement), in this order. An anchor is a lower-case literal at which every match of the
# pattern starts: the pattern is tried only where an anchor occurs in the lower-cased text (a C-level substring
# search), never at every position of the text. That keeps a megabyte of ordinary log fast to scrub.
_STEPS: Sequence[tuple[tuple[str, ...], re.Pattern[str], Callable[[re.Match[str]], str]]] = (
    # private keys first: nothing else may cut a block in pieces
    (("-----begin ",), re.compile(
        r"-----BEGIN ((?:[A-Z0-9]+ ){0,3})PRIVATE KEY(?: BLOCK)?-----"
        r"(?:" + _PEM_SEP + r"(?:" + _PEM_LINE + r")?)*"
        r"(?:-----END (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----)?"), _pem),
    (("akia", "asia"), re.compile(r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"), _whole),
    (("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_"),
     re.compile(r"\b(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,})" + _END), _whole),
    (("glpat-",), re.compile(r"\bglpat-[A-Za-z0-9_-]{20,}" + _END), _whole),
    (("xox", "xapp-"), re.compile(r"\b(?:xox[abposrec]-[A-Za-z0-9-]{10,}|xapp-\d-[A-Za-z0-9-]{10,})" + _END), _whole),
    (("https://hooks.slack.com/",),
     re.compile(r"(https://hooks\.slack\.com/(?:services|workflows|triggers)/)[A-Za-z0-9/_-]+"), _keep_first),
    (("sk-",), re.compile(r"\bsk-(?:proj-|svcacct-|admin-|ant-(?:[a-z]{3}\d\d-)?)?[A-Za-z0-9_-]{20,}" + _END), _whole),
    (("hf_",), re.compile(r"\bhf_[A-Za-z0-9]{20,}\b"), _whole),
    (("sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"),
     re.compile(r"\b(?:[rs]k_(?:live|test)_[A-Za-z0-9]{16,}|whsec_[A-Za-z0-9]{20,})\b"), _whole),
    (("aiza",), re.compile(r"\bAIza[0-9A-Za-z_-]{35}" + _END), _whole),
    (("ya29.",), re.compile(r"\bya29\.[0-9A-Za-z_-]{20,}" + _END), _whole),
    (("gocspx-",), re.compile(r"\bGOCSPX-[0-9A-Za-z_-]{20,}" + _END), _whole),
    (("npm_",), re.compile(r"\bnpm_[A-Za-z0-9]{36}\b"), _whole),
    (("eyj",), re.compile(r"\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}" + _END), _whole),
    (("dgn_",), re.compile(r"\bdgn_[A-Za-z0-9_-]{20,}" + _END), _whole),
    # Authorization: values, bare "Bearer x", "Basic <user:password in base64>", "token <random>"
    (("authorization",), re.compile(
        r"(?i)" + _B + r"(authorization[\"']?\s*[:=]\s*[\"']?(?:(?:bearer|basic|token|bot)\s+)?)" + _NOT_YET
        + r"([^\s\"',;]{4,})"), _authorization),
    (("bearer",), re.compile(r"(?i)" + _B + r"(bearer\s+)" + _NOT_YET + r"([A-Za-z0-9._~+/-]{8,}=*)"), _keep_first),
    (("basic",), re.compile(r"(?i)" + _B + r"(basic\s+)([A-Za-z0-9+/]{4,}={0,2})(?![A-Za-z0-9+/=])"), _basic),
    (("token",), re.compile(
        r"(?i)" + _B + r"(token\s+)(?=[A-Za-z_-]*\d)(?=\d*[A-Za-z])([A-Za-z0-9._~+/-]{16,}=*)"), _keep_first),
    # scheme://user:password@host: the authority, split by _url
    (("://",), re.compile(r"://([^\s/\"'<>?#]{1,400})"), _url),
    # Azure storage and Service Bus keys, SAS signatures
    (("accountkey=", "sharedaccesskey=", "sig="), re.compile(
        r"(?i)(\b(?:AccountKey|SharedAccessKey)=|(?<=[?&;])sig=)" + _NOT_YET + r"([^\s;&\"'<>]{4,})"), _keep_first),
    # --name value, --name=value, and an argv in a repr: '--password', 'value'
    (("--",), re.compile(
        r"(?i)(--(?=\w)[\w.-]{0,80}" + _SECRET_WORD + r"(?:\s+|=|[\"']?,\s*))(\"[^\"\n]*\"|'[^'\n]*'|[^\s\"',\]]+)"),
     _flag),
    # name = "value", "name": "value", name=value, name: value (code, configs, reprs, JSON, environment dumps,
    # YAML). Matching starts at the secret word: "HF_TOKEN=x" matches at "TOKEN", and _full_name looks back.
    (_WORD_ANCHORS, re.compile(
        r"(?i)(" + _SECRET_WORD + r"\b[\"']?\s*[:=]\s*(?:[rbuf](?=[\"']))?)"
        r"(?:([\"'])" + _NOT_YET + r"((?:(?!\2)[^\n]){1,500}?)\2|" + _NOT_YET + r"([^\s\"',;()\[\]{}<>]{4,}))"),
     _named),
)


def _sub_at_anchors(text: str, lowered: str, anchors: tuple[str, ...], pattern: re.Pattern[str],
                    replace: Callable[[re.Match[str]], str]) -> str:
    """pattern.sub(replace, text), trying the pattern only where one of its anchors occurs; `text` itself when
    nothing changed."""
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


@functools.lru_cache(maxsize=4096)  # every scrub() looks at every environment variable's name
def is_secret_name(name: str) -> bool:
    return bool(_NAME_RE.match(name.lstrip("-")))


def _environment_secrets(environ: dict[str, str] | None = None) -> list[str]:
    env = os.environ if environ is None else environ
    return sorted(
        (v for k, v in env.items() if is_secret_name(k) and len(v) >= 8 and v.strip() == v),
        key=len,
        reverse=True,
    )


def scrub(text: str | None, extra_secrets: Iterable[str | None] = ()) -> str | None:
    """Return `text` with every secret we can recognise replaced by [REDACTED]."""
    if not text:
        return text
    for value in list(extra_secrets) + _environment_secrets():
        if value and len(value) >= 8 and value in text:
            text = text.replace(value, REDACTED)
    lowered = text.lower()
    for anchors, pattern, replace in _STEPS:
        if len(lowered) != len(text):  # lower() changed a length (a rare non-ASCII letter): positions differ
            new = pattern.sub(replace, text)
        else:
            new = _sub_at_anchors(text, lowered, anchors, pattern, replace)
        if new is not text:
            text, lowered = new, new.lower()
    return text


def scrub_value(value: Any, extra_secrets: Iterable[str | None] = (), key: str | None = None) -> Any:
    """Scrub a JSON value: strings anywhere, dictionary keys too; a value under a secret-looking key goes whole."""
    extra = tuple(extra_secrets)
    if key is not None and is_secret_name(key) and value not in (None, "", [], {}):
        return REDACTED
    if isinstance(value, str):
        return scrub(value, extra)
    if isinstance(value, dict):
        out: dict[Any, Any] = {}
        for k, v in value.items():
            name = scrub(k, extra) if isinstance(k, str) else k
            while name in out:  # two keys that were secrets: keep both entries
                name = f"{name}'"
            out[name] = scrub_value(v, extra, k if isinstance(k, str) else None)
        return out
    if isinstance(value, (list, tuple)):
        return [scrub_value(v, extra) for v in value]
    return value


def scrub_argv(argv: Sequence[str], extra_secrets: Iterable[str | None] = ()) -> list[str]:
    """`--token abc` and `--token=abc` lose their values; everything else goes through scrub()."""
    extra = list(extra_secrets)
    out: list[str] = []
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
