"""Verification of a Salesforce Canvas signed request.

With "Signed Request" access, Salesforce POSTs the form field ``signed_request`` to the
Canvas app URL: ``base64(HMAC-SHA256(consumer_secret, B)) + "." + B``, where ``B`` is the
base64 JSON CanvasRequest. The HMAC covers the base64 *text* of ``B``, not the decoded
JSON, so the signature is checked before anything is decoded.

Salesforce documents ``issuedAt`` as "for internal use only" and may send ``null``; when it
is present it bounds the age of the request, and callers that want every request to carry
one pass ``require_issued_at=True``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import logging
import time
from typing import Any

from copilot.errors import PermissionDeniedError

__all__ = ["canvas_record_id", "verify_canvas_signed_request"]

log = logging.getLogger(__name__)

_ALGORITHMS = {"HMACSHA256", "HMAC-SHA256", "HMAC_SHA256"}
_FUTURE_SKEW_S = 60.0


def _b64decode(text: str) -> bytes:
    # Salesforce sends standard base64; tolerate the URL-safe alphabet and lost padding.
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            return base64.urlsafe_b64decode(padded)
        return base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise PermissionDeniedError(
            "The Salesforce Canvas signed request is not valid base64. Open the sidebar "
            "again from Salesforce."
        ) from exc


def _issued_at_seconds(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise PermissionDeniedError(
            "The Salesforce Canvas signed request has an unreadable issuedAt. Open the "
            "sidebar again from Salesforce."
        )
    try:
        number = float(value)
    except ValueError as exc:
        raise PermissionDeniedError(
            "The Salesforce Canvas signed request has an unreadable issuedAt. Open the "
            "sidebar again from Salesforce."
        ) from exc
    # Milliseconds since the epoch are larger than any plausible count of seconds.
    return number / 1000.0 if number > 1e11 else number


def verify_canvas_signed_request(
    signed_request: str,
    consumer_secret: str,
    *,
    max_age_s: int = 900,
    now: float | None = None,
    require_issued_at: bool = False,
) -> dict[str, Any]:
    """Check a Canvas ``signed_request`` and return the decoded CanvasRequest.

    Raises :class:`PermissionDeniedError` when the request is unsigned, tampered, signed
    with another algorithm, older than *max_age_s* or issued in the future.
    """
    if not consumer_secret:
        raise PermissionDeniedError(
            "No Salesforce consumer secret is configured, so Canvas requests cannot be "
            "verified. Set the variable named by COPILOT_SALESFORCE_CLIENT_SECRET_ENV."
        )
    if not signed_request or "." not in signed_request:
        raise PermissionDeniedError(
            "The Salesforce Canvas request is not signed. Set the Canvas app's access "
            "method to 'Signed Request (POST)' and open the sidebar again."
        )

    signature_b64, envelope_b64 = signed_request.strip().split(".", 1)
    given = _b64decode(signature_b64)
    expected = hmac.new(
        consumer_secret.encode("utf-8"), envelope_b64.encode("ascii", "replace"),
        hashlib.sha256,
    ).digest()
    if not hmac.compare_digest(given, expected):
        raise PermissionDeniedError(
            "The Salesforce Canvas signature does not match. Check that the consumer "
            "secret is the Canvas connected app's, then open the sidebar again."
        )

    try:
        payload = json.loads(_b64decode(envelope_b64).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PermissionDeniedError(
            "The Salesforce Canvas request is signed but its context is not JSON."
        ) from exc
    if not isinstance(payload, dict):
        raise PermissionDeniedError(
            "The Salesforce Canvas request is signed but its context is not an object."
        )

    algorithm = str(payload.get("algorithm") or "").upper()
    if algorithm not in _ALGORITHMS:
        raise PermissionDeniedError(
            f"The Salesforce Canvas request uses the algorithm {algorithm or 'none'!r}; "
            "only HMAC-SHA256 is accepted."
        )

    issued = _issued_at_seconds(payload.get("issuedAt"))
    moment = time.time() if now is None else now
    if issued is None:
        if require_issued_at:
            raise PermissionDeniedError(
                "The Salesforce Canvas request carries no issuedAt, so its age cannot be "
                "checked. Open the sidebar again from Salesforce."
            )
        log.debug("canvas request without issuedAt accepted on its signature")
    elif moment - issued > max_age_s:
        raise PermissionDeniedError(
            f"The Salesforce Canvas request is {int(moment - issued)} s old (the limit "
            f"is {max_age_s} s). Reload the Salesforce page to get a fresh one."
        )
    elif issued - moment > _FUTURE_SKEW_S:
        raise PermissionDeniedError(
            "The Salesforce Canvas request is dated in the future. Check the server "
            "clock, then reload the Salesforce page."
        )

    if not payload.get("userId") or not isinstance(payload.get("context"), dict):
        raise PermissionDeniedError(
            "The Salesforce Canvas request lacks userId or context. Open the sidebar "
            "from a Canvas app in Salesforce."
        )
    log.debug("canvas request verified for user %s", payload.get("userId"))
    return payload


def canvas_record_id(payload: dict[str, Any]) -> str | None:
    """The id of the record the Canvas app was opened on, if any."""
    environment = payload.get("context", {}).get("environment") or {}
    record = environment.get("record") or {}
    parameters = environment.get("parameters") or {}
    found = record.get("Id") or parameters.get("recordId")
    return str(found) if found else None
