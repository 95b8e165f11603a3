"""Bearer tokens: who is calling, and may they do this. Tokens are never logged.

Ingest tokens are remembered for a few seconds per worker (DIAGNOSER_TOKEN_CACHE_SECONDS), so ingest does not pay
a database round trip per request; revocation still takes effect at once, because the transaction that would store
a report checks its token (store.ingest). Other tokens are looked up on every request: reads query the database
anyway, and a revoked read token must not read for a few more seconds."""

from __future__ import annotations

import threading
import time

from flask import current_app, request

from diagnoser.store.db import reading
from diagnoser.store.tokens import Principal, hash_token, verify_token
from diagnoser.web.errors import ApiError

_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="diagnoser"'}


class TokenCache:
    def __init__(self, ttl: float) -> None:
        self.ttl = ttl
        self._entries: dict[str, tuple[Principal, float]] = {}
        self._lock = threading.Lock()

    def get(self, key: str) -> Principal | None:
        if self.ttl <= 0:
            return None
        entry = self._entries.get(key)
        if entry is None or entry[1] < time.monotonic():
            return None
        return entry[0]

    def put(self, key: str, principal: Principal) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            if len(self._entries) > 10_000:
                self._entries.clear()
            self._entries[key] = (principal, time.monotonic() + self.ttl)


def authenticate(scope: str) -> Principal:
    """The caller, who must hold a valid, unrevoked token of `scope`; else a 401/403 ApiError."""
    header = request.headers.get("Authorization", "")
    kind, _, token = header.partition(" ")
    token = token.strip()
    if not header:
        raise ApiError(401, "missing_token", "send a token as 'Authorization: Bearer <token>'", headers=_CHALLENGE)
    if kind.lower() != "bearer" or not token or len(token) > 200:
        raise ApiError(401, "invalid_token", "the Authorization header must be 'Bearer <token>'", headers=_CHALLENGE)
    services = current_app.extensions["diagnoser"]
    key = hash_token(token)
    principal = services.tokens.get(key) if scope == "ingest" else None
    if principal is None:
        with reading(services.sessions) as session:
            principal = verify_token(session, token)
        if principal is None:
            raise ApiError(401, "invalid_token", "this token is not known", headers=_CHALLENGE)
        services.tokens.put(key, principal)
    if principal.revoked:
        raise ApiError(401, "revoked_token", "this token has been revoked", headers=_CHALLENGE)
    if principal.scope != scope:
        raise ApiError(
            403, "wrong_scope", f"this token's scope is {principal.scope}; this endpoint needs a {scope} token"
        )
    return principal
