"""How people are authenticated in the dashboard (machines use bearer tokens: web.auth).

- A session is Flask's signed cookie (itsdangerous), HttpOnly, SameSite=Lax, Secure behind HTTPS, holding the
  account id and a CSRF token; the account is read again on every request, so a disabled account is logged out
  at its next click.
- Every form that changes state carries the session's CSRF token, compared in constant time.
- Logins are throttled per email and per client address (in each web process's memory): a few wrong passwords,
  then 429 with Retry-After for a while; argon2's cost bounds the rate further.
- Behind an SSO proxy, DIAGNOSER_AUTH_HEADER names a header holding the person's email, believed only when the
  request comes from DIAGNOSER_TRUSTED_PROXIES (as Grafana's auth proxy); the account must exist and be enabled.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import os
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from functools import lru_cache, wraps
from pathlib import Path
from typing import Any, TypeVar, cast
from urllib.parse import urlsplit

from flask import abort, current_app, g, redirect, request, session, url_for
from werkzeug.wrappers import Response as WerkzeugResponse

from diagnoser.store.db import reading
from diagnoser.store.users import Person, get_person, person_by_email

log = logging.getLogger("diagnoser.web")

SESSION_USER = "uid"
SESSION_CSRF = "csrf"
CSRF_FIELD = "csrf_token"

F = TypeVar("F", bound=Callable[..., Any])


def _services() -> Any:
    return current_app.extensions["diagnoser"]


# Who is logged in


def current_person() -> Person | None:
    """The person behind this request (session cookie, or the trusted proxy's header), read once per request."""
    if "person" in g:
        return cast(Person | None, g.person)
    person = None
    settings = _services().settings
    email = request.headers.get(settings.auth_header, "").strip() if settings.auth_header else ""
    if email and _from_trusted_proxy():
        # The proxy's word is final: the person it names (when enabled), or nobody, whatever the cookie says.
        with reading(_services().sessions) as db:
            person = person_by_email(db, email)
        if person is None:
            session.pop(SESSION_USER, None)
        elif session.get(SESSION_USER) != person.id:
            start_session(person)
    else:
        user_id = session.get(SESSION_USER)
        if isinstance(user_id, int):
            with reading(_services().sessions) as db:
                person = get_person(db, user_id)
            if person is None:
                session.pop(SESSION_USER, None)
    g.person = person
    return person


def start_session(person: Person) -> None:
    """A fresh session for `person` (a new CSRF token too: nothing chosen before the login survives it)."""
    session.clear()
    session[SESSION_USER] = person.id
    session[SESSION_CSRF] = secrets.token_urlsafe(32)
    session.permanent = True
    g.person = person


def end_session() -> None:
    session.clear()
    g.person = None


def login_required(view: F) -> F:
    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if current_person() is None:
            target = _here() if request.method == "GET" else None
            return redirect(url_for("dashboard.login", next=target), code=302 if request.method == "GET" else 303)
        return view(*args, **kwargs)

    return cast(F, wrapped)


def admin_required(view: F) -> F:
    @wraps(view)
    @login_required
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        person = current_person()
        if person is None or not person.is_admin:
            abort(403)
        return view(*args, **kwargs)

    return cast(F, wrapped)


def _here() -> str:
    return request.full_path.rstrip("?") if request.query_string else request.path


def safe_next(target: str | None) -> str:
    """Where to go after logging in: a path of this site only (no scheme, no host, no `//evil`)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return url_for("dashboard.overview")
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return url_for("dashboard.overview")
    return target


# CSRF


def csrf_token() -> str:
    token = session.get(SESSION_CSRF)
    if not isinstance(token, str):
        token = session[SESSION_CSRF] = secrets.token_urlsafe(32)
    return token


def check_csrf() -> None:
    """Refuse (400) a state-changing request whose form does not carry this session's CSRF token."""
    expected = session.get(SESSION_CSRF)
    given = request.form.get(CSRF_FIELD, "")
    if not isinstance(expected, str) or not given or not hmac.compare_digest(given.encode(), expected.encode()):
        abort(400, description="This form has expired or did not come from this site: reload the page and try again.")


# Throttling


class Throttle:
    """Failures per key in a sliding window: `limit` failures within `window` seconds lock the key until the
    oldest of them leaves the window."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit, self.window = limit, window
        self._failures: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int:
        """0 when `key` may try now, else the seconds to wait."""
        now = time.monotonic()
        with self._lock:
            entries = self._failures.get(key)
            if not entries:
                return 0
            while entries and entries[0] <= now - self.window:
                entries.popleft()
            if len(entries) < self.limit:
                return 0
            return max(1, int(entries[0] + self.window - now) + 1)

    def fail(self, key: str) -> None:
        with self._lock:
            if len(self._failures) > 100_000:
                self._failures.clear()
            self._failures.setdefault(key, deque()).append(time.monotonic())

    def clear(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)


EMAIL_FAILURES = 5  # per email within the window
ADDRESS_FAILURES = 20  # per client address within the window
THROTTLE_WINDOW_SECONDS = 15 * 60


def throttles(app: Any) -> tuple[Throttle, Throttle]:
    found = app.extensions.get("diagnoser.throttles")
    if found is None:
        found = app.extensions["diagnoser.throttles"] = (
            Throttle(EMAIL_FAILURES, THROTTLE_WINDOW_SECONDS), Throttle(ADDRESS_FAILURES, THROTTLE_WINDOW_SECONDS))
    return cast(tuple[Throttle, Throttle], found)


# Proxies


@lru_cache(maxsize=16)
def _networks(values: tuple[str, ...]) -> tuple[Any, ...]:
    return tuple(ipaddress.ip_network(v, strict=False) for v in values)


def _trusted(address: str | None) -> bool:
    if not address:
        return False
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    return any(ip in net for net in _networks(_services().settings.trusted_proxies))


def _from_trusted_proxy() -> bool:
    return _trusted(request.remote_addr)


def client_address() -> str:
    """The client's address: the nearest X-Forwarded-For hop that is not a trusted proxy, when the request came
    through one; otherwise the peer's address."""
    address = request.remote_addr or "unknown"
    if not _trusted(address):
        return address
    hops = [h.strip() for h in request.headers.get("X-Forwarded-For", "").split(",") if h.strip()]
    for hop in reversed(hops):
        if not _trusted(hop):
            return hop
    return address


# The secret key


def persistent_secret_key(folder: Path) -> str | None:
    """A secret key kept in `folder`/secret_key (made once, mode 0600), so the sessions of every worker process and
    of every restart agree when DIAGNOSER_SECRET_KEY is not set; None when the folder cannot hold it."""
    path = folder / "secret_key"
    try:
        folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            for _ in range(50):  # another worker is writing it this very moment
                key = path.read_text(encoding="ascii").strip()
                if len(key) >= 32:
                    return key
                time.sleep(0.02)
            return None
        key = secrets.token_hex(32)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(key + "\n")
        return key
    except OSError as error:
        log.warning("cannot keep a secret key in %s (%s): dashboard sessions last as long as this process", folder,
                    error.strerror)
        return None


def redirect_to(endpoint: str, **values: Any) -> WerkzeugResponse:
    return redirect(url_for(endpoint, **values), code=303)
