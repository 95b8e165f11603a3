"""Settings: keyword arguments of install() win over DIAGNOSER_* environment variables, which win over defaults.

Parsing is lenient on purpose: a malformed variable in someone's training environment must not crash their
job, so it falls back to the default and says so in the client's logger.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

from diagnoser_client._log import logger

_TRUE = ("1", "true", "yes", "on")
_FALSE = ("0", "false", "no", "off", "")


def default_spool_dir() -> str:
    """The user's cache folder, as each platform names it (XDG on Linux)."""
    if sys.platform == "win32":
        base = os.environ.get("LOCALAPPDATA") or os.path.expanduser("~\\AppData\\Local")
    elif sys.platform == "darwin":
        base = os.path.expanduser("~/Library/Caches")
    else:
        base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return os.path.join(base, "diagnoser", "spool")


_FIELDS = (
    "url", "token", "send_source", "tags", "run_id", "connect_timeout", "timeout", "spool_dir", "spool_max_files",
    "spool_max_bytes", "flush_spool", "print_diagnosis", "dedup_ranks", "enabled",
)


class Config:
    """The settings, frozen. A plain class rather than a dataclass: `dataclasses` imports `inspect`, which alone
    would cost a bare interpreter more than the whole of install() is allowed to."""

    __slots__ = _FIELDS

    url: str | None
    token: str | None
    send_source: bool
    tags: dict[str, str]
    run_id: str | None
    connect_timeout: float
    timeout: float  # the longest a dying program waits for its report (then it is spooled)
    spool_dir: str
    spool_max_files: int
    spool_max_bytes: int
    flush_spool: bool  # resend spooled reports in the background when installed
    print_diagnosis: bool
    dedup_ranks: bool
    enabled: bool

    def __init__(
        self,
        url: str | None = None,
        token: str | None = None,
        send_source: bool = True,
        tags: dict[str, str] | None = None,
        run_id: str | None = None,
        connect_timeout: float = 2.0,
        timeout: float = 2.0,
        spool_dir: str | None = None,
        spool_max_files: int = 100,
        spool_max_bytes: int = 50 * 1024 * 1024,
        flush_spool: bool = True,
        print_diagnosis: bool = True,
        dedup_ranks: bool = True,
        enabled: bool = True,
    ) -> None:
        values = {
            "url": url, "token": token, "send_source": send_source, "tags": dict(tags or {}), "run_id": run_id,
            "connect_timeout": connect_timeout, "timeout": timeout, "spool_dir": spool_dir or default_spool_dir(),
            "spool_max_files": spool_max_files, "spool_max_bytes": spool_max_bytes, "flush_spool": flush_spool,
            "print_diagnosis": print_diagnosis, "dedup_ranks": dedup_ranks, "enabled": enabled,
        }
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"Config is frozen: cannot set {name!r}")

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in _FIELDS)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Config) and self._values() == other._values()

    def __hash__(self) -> int:
        return hash(tuple(repr(v) for v in self._values()))

    def __repr__(self) -> str:
        shown = ", ".join(
            f"{name}={repr('[REDACTED]') if name == 'token' and value else repr(value)}"
            for name, value in zip(_FIELDS, self._values())
        )
        return f"Config({shown})"

    def replace(self, **changes: Any) -> Config:
        values = dict(zip(_FIELDS, self._values()))
        values.update(changes)
        return Config(**values)

    @property
    def endpoint(self) -> str | None:
        return self.url.rstrip("/") + "/api/v1/reports" if self.url else None


_ENV = {
    "url": "DIAGNOSER_URL",
    "token": "DIAGNOSER_TOKEN",
    "send_source": "DIAGNOSER_SEND_SOURCE",
    "tags": "DIAGNOSER_TAGS",
    "run_id": "DIAGNOSER_RUN_ID",
    "connect_timeout": "DIAGNOSER_CONNECT_TIMEOUT",
    "timeout": "DIAGNOSER_TIMEOUT",
    "spool_dir": "DIAGNOSER_SPOOL_DIR",
    "spool_max_files": "DIAGNOSER_SPOOL_MAX_FILES",
    "spool_max_bytes": "DIAGNOSER_SPOOL_MAX_BYTES",
    "flush_spool": "DIAGNOSER_FLUSH_SPOOL",
    "print_diagnosis": "DIAGNOSER_PRINT",
    "dedup_ranks": "DIAGNOSER_DEDUP_RANKS",
}


def parse_tags(text: str) -> dict[str, str]:
    """"team=vision,exp=42" -> {"team": "vision", "exp": "42"}; a bare word becomes a tag with an empty value."""
    tags: dict[str, str] = {}
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        key, _, value = part.partition("=")
        tags[key.strip()] = value.strip()
    return tags


def _convert(name: str, raw: Any, default: Any) -> Any:
    if name == "tags":
        return parse_tags(raw) if isinstance(raw, str) else {str(k): str(v) for k, v in dict(raw).items()}
    if isinstance(default, bool):
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
        raise ValueError(f"not a boolean: {raw!r}")
    if isinstance(default, int):
        return int(raw)
    if isinstance(default, float):
        value = float(raw)
        if value < 0:
            raise ValueError("must not be negative")
        return value
    if raw is None:
        return None
    stripped = str(raw).strip()
    if name == "url" and stripped and not stripped.lower().startswith(("http://", "https://")):
        raise ValueError("not an http(s) URL")
    return stripped or None


def load(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None) -> Config:
    """Build the settings; unknown keyword arguments are a programming error and raise TypeError at once."""
    env = os.environ if environ is None else environ
    overrides = {k: v for k, v in (overrides or {}).items() if v is not None}
    known = set(_FIELDS)
    unknown = set(overrides) - known
    if unknown:
        raise TypeError(f"unknown diagnoser_client option(s): {', '.join(sorted(unknown))}")
    base = Config()
    values: dict[str, Any] = {}
    for name in _FIELDS:
        default = getattr(base, name)
        if name in overrides:
            raw, origin = overrides[name], "argument"
        elif name in _ENV and _ENV[name] in env:
            raw, origin = env[_ENV[name]], _ENV[name]
        else:
            continue
        try:
            values[name] = _convert(name, raw, default)
        except (TypeError, ValueError) as exc:
            logger.warning("ignoring %s=%r (%s); using the default", origin, raw, exc)
    if "enabled" not in overrides and env.get("DIAGNOSER_DISABLED", "").strip().lower() in _TRUE:
        values["enabled"] = False
    if values.get("spool_dir"):
        values["spool_dir"] = os.path.expanduser(values["spool_dir"])
    return base.replace(**values)
