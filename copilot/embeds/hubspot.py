"""HubSpot's v3 request signature, for the sidebar opened from a HubSpot app card.

A UI-extension card calls our backend through ``hubspot.fetch``, and HubSpot signs each
of those requests: ``X-HubSpot-Signature-v3`` is base64(HMAC-SHA256(app client secret,
METHOD + URI + raw body + X-HubSpot-Request-Timestamp)), the timestamp in milliseconds.
The URI is the full public ``https://host/path?query`` with a fixed set of
percent-escapes decoded first (``%3A %2F %3F %40 %21 %24 %27 %28 %29 %2A %2C %3B``).
HubSpot's docs: developers.hubspot.com/docs/apps/developer-platform/build-apps/
authentication/request-validation.

Behind a proxy, the URI must be rebuilt from the public base URL the app was registered
with (:func:`public_request_uri`), not from the Host header the proxy forwards.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time
from datetime import datetime
from urllib.parse import urlsplit

from copilot.errors import ConfigError, PermissionDeniedError

__all__ = [
    "MAX_AGE_S",
    "decode_v3_uri",
    "public_request_uri",
    "sign_hubspot_v3",
    "verify_hubspot_signature_v3",
]

MAX_AGE_S = 300

_DECODED = {
    "3A": ":",
    "2F": "/",
    "3F": "?",
    "40": "@",
    "21": "!",
    "24": "$",
    "27": "'",
    "28": "(",
    "29": ")",
    "2A": "*",
    "2C": ",",
    "3B": ";",
}
_ESCAPE = re.compile(r"%(3A|2F|3F|40|21|24|27|28|29|2A|2C|3B)", re.IGNORECASE)


def decode_v3_uri(uri: str) -> str:
    """Decode the percent-escapes HubSpot decodes before signing; leave the rest as sent."""
    return _ESCAPE.sub(lambda m: _DECODED[m.group(1).upper()], uri)


def public_request_uri(public_base_url: str, path: str, query: str = "") -> str:
    """The URI HubSpot signed: our public base URL, then the path and query as received."""
    base = public_base_url.rstrip("/")
    if urlsplit(base).scheme not in ("http", "https"):
        raise ConfigError(
            f"The public base URL {public_base_url!r} must start with https://. Set it to "
            "the address the HubSpot app calls."
        )
    return f"{base}{path}" + (f"?{query}" if query else "")


def _as_bytes(body: bytes | str) -> bytes:
    return body.encode("utf-8") if isinstance(body, str) else body


def sign_hubspot_v3(
    *, method: str, uri: str, body: bytes | str, timestamp: str, client_secret: str
) -> str:
    """The ``X-HubSpot-Signature-v3`` value HubSpot would send for this request."""
    message = (
        method.upper().encode("utf-8")
        + decode_v3_uri(uri).encode("utf-8")
        + _as_bytes(body)
        + timestamp.encode("utf-8")
    )
    digest = hmac.new(client_secret.encode("utf-8"), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def _seconds(now: float | datetime | None) -> float:
    if now is None:
        return time.time()
    if isinstance(now, datetime):
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware")
        return now.timestamp()
    return float(now)


def verify_hubspot_signature_v3(
    *,
    method: str,
    uri: str,
    body: bytes | str,
    timestamp: str,
    signature: str,
    client_secret: str,
    now: float | datetime | None = None,
    max_age_s: float = MAX_AGE_S,
) -> None:
    """Accept a request signed by HubSpot within *max_age_s*, or raise PermissionDeniedError.

    *uri* is the full public URI as received (``https://host/path?query``), *body* the
    raw request body, *timestamp* and *signature* the ``X-HubSpot-Request-Timestamp`` and
    ``X-HubSpot-Signature-v3`` headers, *now* seconds since the epoch (for tests).
    """
    if not client_secret:
        raise ConfigError(
            "Verifying HubSpot requests needs the app's client secret. Export the "
            "variable named by COPILOT_HUBSPOT_CLIENT_SECRET_ENV and restart."
        )
    if not signature or not timestamp:
        raise PermissionDeniedError(
            "This request carries no HubSpot signature (X-HubSpot-Signature-v3 and "
            "X-HubSpot-Request-Timestamp). Open the copilot from the HubSpot card."
        )
    if not re.fullmatch(r"\d{10,16}", timestamp.strip()):
        raise PermissionDeniedError(
            "The HubSpot request timestamp is not a time in milliseconds. Open the "
            "copilot from the HubSpot card again."
        )

    age = _seconds(now) - int(timestamp) / 1000
    if age > max_age_s or age < -max_age_s:
        raise PermissionDeniedError(
            f"The HubSpot signature is {abs(age):.0f} s {'old' if age > 0 else 'ahead'}; "
            f"requests older than {max_age_s:.0f} s are refused. Reload the HubSpot "
            "record (and check the server's clock if this repeats)."
        )

    expected = sign_hubspot_v3(
        method=method,
        uri=uri,
        body=body,
        timestamp=timestamp.strip(),
        client_secret=client_secret,
    )
    if not hmac.compare_digest(
        expected.encode("ascii"), signature.strip().encode("utf-8")
    ):
        raise PermissionDeniedError(
            "The HubSpot signature does not match this request. Check that the app's "
            "client secret is the one in the variable named by "
            "COPILOT_HUBSPOT_CLIENT_SECRET_ENV and that the public URL matches the one "
            "registered in the app."
        )
