"""Enrolment tokens: created by the operator, consumed by enrolment. Only their sha256 is stored."""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

from server.errors import ApiError


def token_digest(token: str) -> str:
    """What the ledger stores for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def create_token(conn: Any, *, max_uses: int, expires_at: float | None, now: float, note: str = "") -> str:
    """Create a token usable ``max_uses`` times until ``expires_at``; return its secret text."""
    if max_uses < 1:
        raise ValueError("max_uses must be at least 1")
    token = "tok_" + secrets.token_urlsafe(24)
    conn.execute("INSERT INTO tokens(token, max_uses, expires_at, created_at, note) VALUES(?, ?, ?, ?, ?)",
                 (token_digest(token), max_uses, expires_at, now, note))
    return token


def consume_token(conn: Any, token: str, now: float) -> None:
    """Use ``token`` once; ApiError ``invalid_token`` saying why it cannot be used."""
    row = conn.execute("SELECT max_uses, uses, expires_at, revoked FROM tokens WHERE token = ?",
                       (token_digest(token),)).fetchone()
    if row is None:
        raise ApiError("invalid_token", "enrolment token is unknown")
    max_uses, uses, expires_at, revoked = row
    if revoked:
        raise ApiError("invalid_token", "enrolment token was revoked")
    if expires_at is not None and now >= expires_at:
        raise ApiError("invalid_token", "enrolment token has expired")
    if uses >= max_uses:
        raise ApiError("invalid_token", "enrolment token is used up")
    conn.execute("UPDATE tokens SET uses = uses + 1 WHERE token = ?", (token_digest(token),))


def revoke_token(conn: Any, prefix: str) -> int:
    """Revoke tokens whose stored digest starts with ``prefix``; return how many."""
    if len(prefix) < 8:
        raise ValueError("give at least 8 characters of the token id")
    return conn.execute("UPDATE tokens SET revoked = 1 WHERE token LIKE ? AND revoked = 0",
                        (prefix + "%",)).rowcount
