"""Salesforce Canvas signed requests: accepted when genuine, refused otherwise."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import pytest

from copilot.embeds.salesforce import canvas_record_id, verify_canvas_signed_request
from copilot.errors import PermissionDeniedError

SECRET = "canvas-consumer-secret-1234"
NOW = 1_790_000_000.0


def canvas_payload(**overrides: Any) -> dict[str, Any]:
    payload: dict[str, Any] = {
        "algorithm": "HMACSHA256",
        "issuedAt": int(NOW) - 30,
        "userId": "005xx000001Sv6AAAS",
        "client": {
            "instanceId": "_:copilot:",
            "instanceUrl": "https://acme.my.salesforce.com",
            "oauthToken": "00Dxx!token",
            "targetOrigin": "https://acme.lightning.force.com",
        },
        "context": {
            "user": {"userId": "005xx000001Sv6AAAS", "email": "agent@example.com",
                     "language": "es", "fullName": "Ana Agent"},
            "organization": {"organizationId": "00Dxx0000001gPL", "name": "Acme"},
            "environment": {
                "displayLocation": "Visualforce",
                "parameters": {},
                "record": {"Id": "003xx000004TmiQAAS",
                           "attributes": {"type": "Contact"}},
            },
        },
    }
    payload.update(overrides)
    return payload


def sign(payload: dict[str, Any], secret: str = SECRET) -> str:
    envelope = base64.b64encode(json.dumps(payload).encode()).decode()
    digest = hmac.new(secret.encode(), envelope.encode(), hashlib.sha256).digest()
    return base64.b64encode(digest).decode() + "." + envelope


def test_a_genuine_request_returns_the_context() -> None:
    payload = verify_canvas_signed_request(sign(canvas_payload()), SECRET, now=NOW)

    assert payload["userId"] == "005xx000001Sv6AAAS"
    assert payload["context"]["user"]["email"] == "agent@example.com"
    assert canvas_record_id(payload) == "003xx000004TmiQAAS"


def test_issued_at_in_milliseconds_is_understood() -> None:
    signed = sign(canvas_payload(issuedAt=int(NOW * 1000) - 5_000))

    assert verify_canvas_signed_request(signed, SECRET, now=NOW)["userId"]


def test_missing_issued_at_is_refused_only_when_required() -> None:
    signed = sign(canvas_payload(issuedAt=None))

    assert verify_canvas_signed_request(signed, SECRET, now=NOW)["userId"]
    with pytest.raises(PermissionDeniedError, match="no issuedAt"):
        verify_canvas_signed_request(signed, SECRET, now=NOW, require_issued_at=True)


def _tampered_context() -> str:
    signed = sign(canvas_payload())
    signature, envelope = signed.split(".", 1)
    forged = canvas_payload(userId="005xx0000000ADMIN")
    return signature + "." + base64.b64encode(json.dumps(forged).encode()).decode()


def _flipped_signature() -> str:
    signature, envelope = sign(canvas_payload()).split(".", 1)
    raw = bytearray(base64.b64decode(signature))
    raw[0] ^= 0x01
    return base64.b64encode(bytes(raw)).decode() + "." + envelope


REFUSED = [
    pytest.param(_tampered_context(), "does not match", id="a tampered context is refused"),
    pytest.param(_flipped_signature(), "does not match", id="a flipped signature bit is refused"),
    pytest.param(sign(canvas_payload(), secret="another-secret"), "does not match",
                 id="a request signed with another secret is refused"),
    pytest.param(sign(canvas_payload(issuedAt=int(NOW) - 3600)), "old",
                 id="a stale request is refused"),
    pytest.param(sign(canvas_payload(issuedAt=int(NOW) + 3600)), "future",
                 id="a request from the future is refused"),
    pytest.param("", "not signed", id="an empty request is refused"),
    pytest.param(base64.b64encode(b'{"userId":"x"}').decode(), "not signed",
                 id="an unsigned context is refused"),
    pytest.param("." + base64.b64encode(b'{"userId":"x"}').decode(), "does not match",
                 id="an empty signature is refused"),
    pytest.param(sign(canvas_payload(algorithm="none")), "algorithm",
                 id="another algorithm is refused"),
    pytest.param(sign(canvas_payload(algorithm="HMACSHA1")), "algorithm",
                 id="HMAC-SHA1 is refused"),
    pytest.param("!!!." + base64.b64encode(b"{}").decode(), "base64",
                 id="a signature that is not base64 is refused"),
    pytest.param(sign(canvas_payload(userId=None)), "userId",
                 id="a request without a user is refused"),
]


@pytest.mark.parametrize(("signed", "reason"), REFUSED)
def test_bad_requests_are_refused(signed: str, reason: str) -> None:
    with pytest.raises(PermissionDeniedError, match=reason) as info:
        verify_canvas_signed_request(signed, SECRET, now=NOW)

    assert info.value.status == 403


def test_the_signature_covers_the_base64_text_not_the_json() -> None:
    payload = canvas_payload()
    envelope = base64.b64encode(json.dumps(payload).encode()).decode()
    over_json = hmac.new(SECRET.encode(), json.dumps(payload).encode(), hashlib.sha256)
    signed = base64.b64encode(over_json.digest()).decode() + "." + envelope

    with pytest.raises(PermissionDeniedError):
        verify_canvas_signed_request(signed, SECRET, now=NOW)


def test_a_missing_secret_refuses_everything() -> None:
    with pytest.raises(PermissionDeniedError, match="consumer secret"):
        verify_canvas_signed_request(sign(canvas_payload()), "", now=NOW)


def test_a_record_id_can_come_from_parameters() -> None:
    payload = canvas_payload()
    payload["context"]["environment"] = {"parameters": {"recordId": "003ABC"}}

    assert canvas_record_id(payload) == "003ABC"
    assert canvas_record_id(canvas_payload(context={})) is None
