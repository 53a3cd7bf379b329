"""Optional authentication of the operator endpoints (dashboard, metrics, API docs).

With ``[server] operator_token_file`` set, ``/dashboard``, ``/metrics``, ``/docs`` and
``/openapi.json`` answer only requests that carry the file's token, either as
``Authorization: Bearer TOKEN`` (Prometheus ``authorization``, curl) or as the password of HTTP
Basic authentication with any user name (a browser's login prompt). ``/healthz`` stays open for
load balancers; the device endpoints under ``/v1`` are signed per device and are not affected.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from pathlib import Path
from typing import Any

from server.app_support import error_response
from server.errors import ApiError

PROTECTED_PATHS = frozenset({"/dashboard", "/metrics", "/docs", "/openapi.json"})
MIN_TOKEN_LENGTH = 16
CHALLENGE = 'Basic realm="FedLite operator", charset="UTF-8"'


class OperatorTokenError(ValueError):
    """The operator token file is missing, unreadable or too short."""


def read_operator_token(path: Path) -> str:
    """The token in ``path`` (surrounding whitespace removed), at least 16 characters long."""
    try:
        token = Path(path).read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise OperatorTokenError(f"cannot read operator token file {path}: {exc}") from exc
    if len(token) < MIN_TOKEN_LENGTH or any(c.isspace() for c in token):
        raise OperatorTokenError(f"operator token file {path} must hold one token of at least "
                                 f"{MIN_TOKEN_LENGTH} characters without spaces")
    return token


def presented_token(authorization: str) -> str | None:
    """The token in an ``Authorization`` header value (Bearer, or the password of Basic), if any."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        return decoded.partition(":")[2]
    return None


class OperatorAuthMiddleware:
    """Answers ``401`` with a Basic challenge to protected requests without the operator token."""

    def __init__(self, app: Any, token: str) -> None:
        self.app = app
        self.token = token.encode()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] in PROTECTED_PATHS and not self._authorized(scope):
            response = error_response(ApiError("operator_unauthorized",
                                               "this endpoint needs the operator token (Bearer or Basic password)"))
            response.headers["WWW-Authenticate"] = CHALLENGE
            await response(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def _authorized(self, scope: dict[str, Any]) -> bool:
        header = dict(scope.get("headers") or []).get(b"authorization", b"").decode("latin-1")
        token = presented_token(header)
        return token is not None and hmac.compare_digest(token.encode(), self.token)
