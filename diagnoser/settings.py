"""Service settings from `DIAGNOSER_*` environment variables.

Why strict: a typo such as `DIAGNOSER_MAX_BODY_BYTES=1MB` should stop the service at start with a message naming
the variable, not surface later as a mysterious 500. Every secret may also come from `<NAME>_FILE` (a path whose
contents are the value), the usual way containers mount secrets. Defaults give a zero-configuration SQLite service.
"""

from __future__ import annotations

import base64
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path

import platformdirs


class SettingsError(ValueError):
    """A DIAGNOSER_* variable has a value we refuse to guess about."""


@dataclass(frozen=True)
class Setting:
    """Documentation of one variable: the README and a test read this table, so none goes undocumented."""

    name: str
    default: str
    help: str
    secret: bool = False


SETTINGS: tuple[Setting, ...] = (
    Setting(
        "DIAGNOSER_DATA_DIR",
        "the user's data folder",
        "Folder of the default SQLite database, created on first start; default: the platform's per-user data "
        "folder (~/.local/share/diagnoser on Linux).",
    ),
    Setting(
        "DIAGNOSER_DATABASE_URL",
        "",
        "SQLAlchemy URL of the database; default sqlite:///<DATA_DIR>/diagnoser.db.",
        secret=True,
    ),
    Setting(
        "DIAGNOSER_DB_POOL_SIZE",
        "8",
        "PostgreSQL: connections each web process keeps open (it may open as many again at peaks); size "
        "max_connections or PgBouncer for nodes x workers x 2 x this.",
    ),
    Setting(
        "DIAGNOSER_SECRET_KEY",
        "",
        "Signs the dashboard's session cookies; unset: kept in <DATA_DIR>/secret_key by the service (a random one "
        "per process for apps built by tests).",
        secret=True,
    ),
    Setting("DIAGNOSER_MAX_BODY_BYTES", "1048576", "Largest accepted request body, after gzip decompression (bytes)."),
    Setting("DIAGNOSER_BASE_URL", "", "Public base URL used in the `url` of answers; default: the request's host."),
    Setting(
        "DIAGNOSER_TOKEN_CACHE_SECONDS",
        "10",
        "How long a worker trusts a verified token before asking the database again (0: always ask).",
    ),
    Setting(
        "DIAGNOSER_BATCH_MAX", "200", "Most reports written in one database transaction by the group-commit writer."
    ),
    Setting(
        "DIAGNOSER_QUEUE_MAX",
        "2000",
        "Most reports waiting for the writer in one process; beyond it a report is answered 503 at once.",
    ),
    Setting(
        "DIAGNOSER_WRITE_TIMEOUT_SECONDS",
        "10",
        "How long a request waits for its report to be committed before answering 503.",
    ),
    Setting(
        "DIAGNOSER_METRICS_TOKEN",
        "",
        "Bearer token that /metrics requires; unset: /metrics answers 404 unless DIAGNOSER_METRICS_PUBLIC=1.",
        secret=True,
    ),
    Setting("DIAGNOSER_METRICS_PUBLIC", "0", "1: /metrics answers anyone (for a scraper on a private network)."),
    Setting("DIAGNOSER_LOG_LEVEL", "INFO", "Logging level of the service."),
    Setting(
        "DIAGNOSER_AUTH_HEADER",
        "",
        "Dashboard behind an SSO proxy: the request header holding the logged-in person's email (e.g. "
        "X-Forwarded-Email), trusted only from DIAGNOSER_TRUSTED_PROXIES; unset: people log in with a password.",
    ),
    Setting(
        "DIAGNOSER_TRUSTED_PROXIES",
        "127.0.0.1,::1",
        "Addresses or networks (comma-separated) of the reverse proxies whose DIAGNOSER_AUTH_HEADER and "
        "X-Forwarded-For are believed.",
    ),
    Setting(
        "DIAGNOSER_SECURE_COOKIES",
        "auto",
        "1: the session cookie is sent over HTTPS only; 0: also over HTTP; auto: 1 when DIAGNOSER_BASE_URL is https.",
    ),
    Setting("DIAGNOSER_SESSION_HOURS", "336", "How long a dashboard login lasts (hours)."),
    # Notifications (diagnoser.notify): channels, the worker, spikes.
    Setting(
        "DIAGNOSER_ENCRYPTION_KEY",
        "",
        "Fernet key that encrypts webhook URLs and signing secrets at rest (`diagnoser channels keygen` makes one); "
        "several, comma-separated, to rotate: the first encrypts, any decrypts. No channel can be added without it.",
        secret=True,
    ),
    Setting(
        "DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS",
        "0",
        "1: webhooks may point at loopback, private and link-local addresses (tests, an internal receiver).",
    ),
    Setting("DIAGNOSER_NOTIFY_TIMEOUT_SECONDS", "10", "Timeout of one webhook request (connect, send, answer)."),
    Setting(
        "DIAGNOSER_NOTIFY_MAX_ATTEMPTS",
        "12",
        "Attempts of one message (5xx, timeouts, connection errors, 429) before it is marked failed (~1 h).",
    ),
    Setting("DIAGNOSER_NOTIFY_POLL_SECONDS", "1", "How often the worker looks for events and due deliveries."),
    Setting("DIAGNOSER_SPIKE_WINDOW_MINUTES", "15", "Window in which a group's reports are counted for a spike."),
    Setting("DIAGNOSER_SPIKE_MIN_REPORTS", "20", "Reports of a group in the window that make a spike (at least)."),
    Setting(
        "DIAGNOSER_SPIKE_FACTOR",
        "5",
        "A spike is also this many times the group's usual rate (its reports of the previous 7 days).",
    ),
    Setting(
        "DIAGNOSER_NOTIFY_INTERVAL_SECONDS",
        "3600",
        "At most one spike message per group per interval (a new or regressed message counts too).",
    ),
)


@dataclass(frozen=True)
class Settings:
    data_dir: Path = field(default_factory=lambda: Path(platformdirs.user_data_dir("diagnoser")))
    database_url: str = ""
    db_pool_size: int = 8
    secret_key: str = field(default="", repr=False)
    max_body_bytes: int = 1024 * 1024
    base_url: str = ""
    token_cache_seconds: float = 10.0
    batch_max: int = 200
    queue_max: int = 2000
    write_timeout_seconds: float = 10.0
    metrics_token: str = field(default="", repr=False)
    metrics_public: bool = False
    log_level: str = "INFO"
    auth_header: str = ""
    trusted_proxies: tuple[str, ...] = ("127.0.0.1", "::1")
    secure_cookies: bool = False
    session_hours: int = 336
    encryption_key: str = field(default="", repr=False)
    allow_private_webhooks: bool = False
    notify_timeout_seconds: float = 10.0
    notify_max_attempts: int = 12
    notify_poll_seconds: float = 1.0
    spike_window_minutes: int = 15
    spike_min_reports: int = 20
    spike_factor: float = 5.0
    notify_interval_seconds: float = 3600.0

    @property
    def resolved_database_url(self) -> str:
        """The URL actually used: the configured one, or SQLite inside the data folder."""
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'diagnoser.db').resolve()}"

    def replace(self, **changes: object) -> Settings:
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        values.update(changes)
        return Settings(**values)


def _raw(env: Mapping[str, str], name: str, secret: bool) -> str | None:
    if name in env:
        return env[name]
    if secret and f"{name}_FILE" in env:
        path = Path(env[f"{name}_FILE"])
        try:
            return path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise SettingsError(f"{name}_FILE: cannot read {path}: {exc.strerror}") from exc
    return None


def _int(name: str, value: str, minimum: int) -> int:
    try:
        number = int(value.strip(), 10)
    except ValueError:
        raise SettingsError(f"{name}: expected a whole number, got {value!r}") from None
    if number < minimum:
        raise SettingsError(f"{name}: must be at least {minimum}, got {number}")
    return number


def _float(name: str, value: str, minimum: float) -> float:
    try:
        number = float(value.strip())
    except ValueError:
        raise SettingsError(f"{name}: expected a number, got {value!r}") from None
    if not number >= minimum or number != number or number == float("inf"):
        raise SettingsError(f"{name}: must be a finite number >= {minimum}, got {value!r}")
    return number


_BOOLEANS = {"1": True, "true": True, "yes": True, "on": True, "0": False, "false": False, "no": False, "off": False}
_LEVELS = {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}


def _bool(name: str, value: str) -> bool:
    text = value.strip().lower()
    if text not in _BOOLEANS:
        raise SettingsError(f"{name}: expected 1 or 0 (true/false, yes/no), got {value!r}")
    return _BOOLEANS[text]


def load_settings(env: Mapping[str, str] | None = None) -> Settings:
    """Parse the environment (or the given mapping) into Settings, or raise SettingsError naming the variable."""
    env = os.environ if env is None else env
    raw = {s.name: _raw(env, s.name, s.secret) for s in SETTINGS}

    def get(name: str, default: str | None = None) -> str:
        value = raw[name]
        if value is not None:
            return value
        return default if default is not None else next(s.default for s in SETTINGS if s.name == name)

    url = get("DIAGNOSER_DATABASE_URL").strip()
    if url and "://" not in url:
        raise SettingsError(f"DIAGNOSER_DATABASE_URL: not a database URL: {url.split(':')[0]!r}...")
    level = get("DIAGNOSER_LOG_LEVEL").strip().upper()
    if level not in _LEVELS:
        raise SettingsError(f"DIAGNOSER_LOG_LEVEL: expected one of {sorted(_LEVELS)}, got {level!r}")
    base_url = get("DIAGNOSER_BASE_URL").strip().rstrip("/")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise SettingsError(f"DIAGNOSER_BASE_URL: expected an http(s) URL, got {base_url!r}")
    data_dir = get("DIAGNOSER_DATA_DIR", platformdirs.user_data_dir("diagnoser")).strip()
    if not data_dir:
        raise SettingsError("DIAGNOSER_DATA_DIR: must not be empty")
    return Settings(
        data_dir=Path(data_dir).expanduser(),
        database_url=url,
        db_pool_size=_int("DIAGNOSER_DB_POOL_SIZE", get("DIAGNOSER_DB_POOL_SIZE"), 1),
        secret_key=get("DIAGNOSER_SECRET_KEY") or secrets.token_hex(32),
        max_body_bytes=_int("DIAGNOSER_MAX_BODY_BYTES", get("DIAGNOSER_MAX_BODY_BYTES"), 1024),
        base_url=base_url,
        token_cache_seconds=_float("DIAGNOSER_TOKEN_CACHE_SECONDS", get("DIAGNOSER_TOKEN_CACHE_SECONDS"), 0.0),
        batch_max=_int("DIAGNOSER_BATCH_MAX", get("DIAGNOSER_BATCH_MAX"), 1),
        queue_max=_int("DIAGNOSER_QUEUE_MAX", get("DIAGNOSER_QUEUE_MAX"), 1),
        write_timeout_seconds=_float("DIAGNOSER_WRITE_TIMEOUT_SECONDS", get("DIAGNOSER_WRITE_TIMEOUT_SECONDS"), 0.1),
        metrics_token=get("DIAGNOSER_METRICS_TOKEN").strip(),
        metrics_public=_bool("DIAGNOSER_METRICS_PUBLIC", get("DIAGNOSER_METRICS_PUBLIC")),
        log_level=level,
        auth_header=_header_name(get("DIAGNOSER_AUTH_HEADER")),
        trusted_proxies=_networks("DIAGNOSER_TRUSTED_PROXIES", get("DIAGNOSER_TRUSTED_PROXIES")),
        secure_cookies=_secure(get("DIAGNOSER_SECURE_COOKIES"), base_url),
        session_hours=_int("DIAGNOSER_SESSION_HOURS", get("DIAGNOSER_SESSION_HOURS"), 1),
        encryption_key=_fernet_keys(get("DIAGNOSER_ENCRYPTION_KEY")),
        allow_private_webhooks=_bool("DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS", get("DIAGNOSER_ALLOW_PRIVATE_WEBHOOKS")),
        notify_timeout_seconds=_float("DIAGNOSER_NOTIFY_TIMEOUT_SECONDS", get("DIAGNOSER_NOTIFY_TIMEOUT_SECONDS"), 0.1),
        notify_max_attempts=_int("DIAGNOSER_NOTIFY_MAX_ATTEMPTS", get("DIAGNOSER_NOTIFY_MAX_ATTEMPTS"), 1),
        notify_poll_seconds=_float("DIAGNOSER_NOTIFY_POLL_SECONDS", get("DIAGNOSER_NOTIFY_POLL_SECONDS"), 0.05),
        spike_window_minutes=_int("DIAGNOSER_SPIKE_WINDOW_MINUTES", get("DIAGNOSER_SPIKE_WINDOW_MINUTES"), 1),
        spike_min_reports=_int("DIAGNOSER_SPIKE_MIN_REPORTS", get("DIAGNOSER_SPIKE_MIN_REPORTS"), 1),
        spike_factor=_float("DIAGNOSER_SPIKE_FACTOR", get("DIAGNOSER_SPIKE_FACTOR"), 1.0),
        notify_interval_seconds=_float(
            "DIAGNOSER_NOTIFY_INTERVAL_SECONDS", get("DIAGNOSER_NOTIFY_INTERVAL_SECONDS"), 0.0
        ),
    )


def _header_name(value: str) -> str:
    name = value.strip()
    if name and not all(c.isalnum() or c == "-" for c in name):
        raise SettingsError(f"DIAGNOSER_AUTH_HEADER: not a header name: {name!r}")
    return name


def _networks(name: str, value: str) -> tuple[str, ...]:
    import ipaddress

    found = []
    for item in (part.strip() for part in value.split(",")):
        if not item:
            continue
        try:
            ipaddress.ip_network(item, strict=False)
        except ValueError:
            raise SettingsError(f"{name}: not an address or network: {item!r}") from None
        found.append(item)
    return tuple(found)


def _secure(value: str, base_url: str) -> bool:
    if value.strip().lower() == "auto":
        return base_url.startswith("https://")
    return _bool("DIAGNOSER_SECURE_COOKIES", value)


def _fernet_keys(value: str) -> str:
    """Fernet keys (comma-separated) checked for their form here, so a mangled key stops the start: each is 32
    bytes in URL-safe base64 (44 characters)."""
    keys = [k.strip() for k in value.split(",") if k.strip()]
    for key in keys:
        try:
            raw = base64.urlsafe_b64decode(key.encode("ascii"))
        except (ValueError, UnicodeEncodeError):
            raw = b""
        if len(raw) != 32:
            raise SettingsError(
                "DIAGNOSER_ENCRYPTION_KEY: not a Fernet key (32 bytes in URL-safe base64); make one with "
                "`diagnoser channels keygen`"
            )
    return ",".join(keys)
