"""Signed widget tokens for the Zoho CRM sidebar.

Zoho does not sign the requests a widget makes to a third-party backend, so the copilot
mints its own token. The widget calls our token endpoint through a Zoho *Connection*,
which attaches the connection's Zoho OAuth token; :func:`exchange_zoho_identity` asks
Zoho who owns that token (``GET /crm/v8/users?type=CurrentUser`` and ``GET
/crm/v8/org``) and accepts it only for the organisation the connector itself is
configured for. :func:`issue_widget_token` then signs a short-lived token that the
sidebar iframe presents on every call, and :func:`verify_widget_token` checks it.

Token format: ``zw1.<payload>.<signature>``, both parts unpadded base64url; the payload is
compact JSON ``{"sub", "org", "rec", "iat", "exp", "nonce"}`` and the signature is
HMAC-SHA256 over ``zw1.<payload>`` with the key from ``COPILOT_ZOHO_WIDGET_KEY_ENV``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from datetime import datetime
from typing import TYPE_CHECKING, Any

from copilot.errors import ConfigError, CRMAuthError, PermissionDeniedError

if TYPE_CHECKING:
    from connectors.zoho import ZohoConnector

__all__ = [
    "MAX_TTL_S",
    "exchange_zoho_identity",
    "issue_widget_token",
    "verify_widget_token",
    "widget_session",
]

log = logging.getLogger(__name__)

VERSION = "zw1"
MAX_TTL_S = 3600
MIN_KEY_LENGTH = 32
_FUTURE_SKEW_S = 60
_RECORD_ID = re.compile(r"^\d{1,30}$")
_B64URL = re.compile(r"^[A-Za-z0-9_-]+$")


def _seconds(now: float | datetime | None) -> int:
    if now is None:
        return int(time.time())
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return int(now.timestamp())
    return int(now)


def _key_bytes(key: str) -> bytes:
    if len(key or "") < MIN_KEY_LENGTH:
        raise ConfigError(
            f"The Zoho widget key must be at least {MIN_KEY_LENGTH} characters. Put a "
            "random value (e.g. `python -c 'import secrets; print(secrets.token_urlsafe"
            "(48))'`) in the variable named by COPILOT_ZOHO_WIDGET_KEY_ENV."
        )
    return key.encode("utf-8")


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    if not _B64URL.match(text):
        raise PermissionDeniedError(_malformed("a part is not base64url"))
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError) as exc:
        raise PermissionDeniedError(_malformed("a part is not base64url")) from exc


def _malformed(why: str) -> str:
    return (
        f"The Zoho widget token is malformed ({why}). Reopen the sidebar in Zoho CRM."
    )


def _sign(key: bytes, signed_part: str) -> bytes:
    return hmac.new(key, signed_part.encode("ascii"), hashlib.sha256).digest()


def issue_widget_token(
    *,
    user_email: str,
    org_id: str,
    record_id: str | None,
    key: str,
    ttl_s: int = 300,
    now: float | datetime | None = None,
) -> str:
    """A signed token saying *user_email* of Zoho org *org_id* opened *record_id*."""
    if not user_email or "@" not in user_email:
        raise ValueError("user_email must be an email address")
    if not org_id:
        raise ValueError("org_id is required")
    if record_id is not None and not _RECORD_ID.match(record_id):
        raise ValueError("record_id must be a Zoho record id (digits) or None")
    if not 0 < ttl_s <= MAX_TTL_S:
        raise ValueError(f"ttl_s must be between 1 and {MAX_TTL_S} seconds")
    issued = _seconds(now)
    payload = {
        "sub": user_email,
        "org": str(org_id),
        "rec": record_id,
        "iat": issued,
        "exp": issued + ttl_s,
        "nonce": secrets.token_urlsafe(16),
    }
    body = _b64encode(json.dumps(payload, separators=(",", ":")).encode("utf-8"))
    signed_part = f"{VERSION}.{body}"
    return f"{signed_part}.{_b64encode(_sign(_key_bytes(key), signed_part))}"


def verify_widget_token(
    token: str, key: str, *, now: float | datetime | None = None
) -> dict[str, Any]:
    """Check a widget token; return its identity or raise PermissionDeniedError.

    Returns ``{"user_email", "org_id", "record_id", "issued_at", "expires_at",
    "nonce"}``. Rejects unsigned, tampered, expired, future-dated and malformed tokens.
    """
    secret_key = _key_bytes(key)
    if not token or not isinstance(token, str):
        raise PermissionDeniedError(
            "The request carries no Zoho widget token. Open the sidebar from Zoho CRM."
        )
    parts = token.strip().split(".")
    if len(parts) != 3 or parts[0] != VERSION or not parts[2]:
        raise PermissionDeniedError(_malformed("expected zw1.<payload>.<signature>"))
    if not _B64URL.match(parts[1]):
        raise PermissionDeniedError(_malformed("the payload is not base64url"))

    given = _b64decode(parts[2])
    expected = _sign(secret_key, f"{parts[0]}.{parts[1]}")
    if not hmac.compare_digest(given, expected):
        log.warning("zoho widget token with a bad signature rejected")
        raise PermissionDeniedError(
            "The Zoho widget token's signature does not match. Reopen the sidebar in "
            "Zoho CRM; if it persists, the widget key changed on one server only."
        )

    try:
        payload = json.loads(_b64decode(parts[1]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PermissionDeniedError(_malformed("the payload is not JSON")) from exc
    if not isinstance(payload, dict):
        raise PermissionDeniedError(_malformed("the payload is not an object"))
    issued, expires = payload.get("iat"), payload.get("exp")
    if not all(
        isinstance(v, int) and not isinstance(v, bool) for v in (issued, expires)
    ):
        raise PermissionDeniedError(_malformed("iat and exp must be integers"))
    assert isinstance(issued, int) and isinstance(expires, int)
    if not isinstance(payload.get("sub"), str) or not isinstance(
        payload.get("org"), str
    ):
        raise PermissionDeniedError(_malformed("sub and org must be strings"))
    record = payload.get("rec")
    if record is not None and not (
        isinstance(record, str) and _RECORD_ID.match(record)
    ):
        raise PermissionDeniedError(_malformed("rec must be a record id or null"))
    if not isinstance(payload.get("nonce"), str) or len(payload["nonce"]) < 16:
        raise PermissionDeniedError(_malformed("the nonce is missing"))

    moment = _seconds(now)
    if expires - issued > MAX_TTL_S or expires <= issued:
        raise PermissionDeniedError(_malformed("its lifetime is out of range"))
    if issued > moment + _FUTURE_SKEW_S:
        raise PermissionDeniedError(
            "The Zoho widget token is dated in the future. Check the server clocks, then "
            "reopen the sidebar in Zoho CRM."
        )
    if moment >= expires:
        raise PermissionDeniedError(
            "The Zoho widget token has expired. Reopen the sidebar in Zoho CRM."
        )
    return {
        "user_email": payload["sub"],
        "org_id": payload["org"],
        "record_id": record,
        "issued_at": issued,
        "expires_at": expires,
        "nonce": payload["nonce"],
    }


def exchange_zoho_identity(
    oauth_token: str, *, connector: ZohoConnector | None = None
) -> dict[str, str]:
    """Who a Zoho connection's OAuth token belongs to, if it is a user of our org.

    Returns ``{"user_id", "email", "name", "status", "org_id"}``; raises
    PermissionDeniedError for a token Zoho refuses, an inactive user, or a user of
    another Zoho organisation than the one the connector is configured for. Without
    *connector*, one is built from the process settings and closed afterwards.
    """
    if connector is None:
        from connectors.zoho import ZohoConnector
        from copilot.config import get_settings

        own = ZohoConnector.from_settings(get_settings())
        try:
            return exchange_zoho_identity(oauth_token, connector=own)
        finally:
            own.close()
    if not oauth_token or not oauth_token.strip():
        raise PermissionDeniedError(
            "The Zoho connection sent no OAuth token. Authorise the widget's connection "
            "in Zoho CRM (Setup > Developer Hub > Connections) and reopen the sidebar."
        )
    try:
        identity = connector.identify(oauth_token.strip())
    except CRMAuthError as exc:
        raise PermissionDeniedError(
            "Zoho did not accept the connection's token. Reconnect the widget's "
            "connection in Zoho CRM and reopen the sidebar."
        ) from exc
    own_org = connector.org_id()
    if not hmac.compare_digest(identity["org_id"].encode(), own_org.encode()):
        log.warning("zoho widget token exchange refused for another org")
        raise PermissionDeniedError(
            "That Zoho user belongs to another Zoho organisation than the one this "
            "copilot is connected to. Install the widget in the connected organisation."
        )
    if identity.get("status", "active") != "active" or "@" not in identity["email"]:
        raise PermissionDeniedError(
            "That Zoho user is not active. Ask a Zoho administrator to activate them."
        )
    return identity


def widget_session(
    oauth_token: str,
    record_id: str | None,
    *,
    connector: ZohoConnector | None = None,
    key: str | None = None,
    ttl_s: int = 300,
    now: float | datetime | None = None,
) -> dict[str, Any]:
    """Exchange a connection token for a signed widget token, for the token endpoint.

    *key* defaults to the secret in the variable named by COPILOT_ZOHO_WIDGET_KEY_ENV.
    """
    if key is None:
        from copilot.config import get_settings, secret

        key = secret(get_settings().zoho_widget_key_env, "Signing Zoho widget tokens")
    if record_id is not None and not _RECORD_ID.match(record_id):
        raise PermissionDeniedError(
            "The widget sent a record id that is not a Zoho record id. Reopen the "
            "sidebar from a debtor's record."
        )
    identity = exchange_zoho_identity(oauth_token, connector=connector)
    token = issue_widget_token(
        user_email=identity["email"],
        org_id=identity["org_id"],
        record_id=record_id,
        key=key,
        ttl_s=ttl_s,
        now=now,
    )
    return {
        "token": token,
        "expires_in": ttl_s,
        "user_email": identity["email"],
        "user_name": identity["name"],
        "org_id": identity["org_id"],
        "record_id": record_id,
    }
