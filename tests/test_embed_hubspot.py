"""HubSpot v3 request signatures: genuine requests pass; tampered, stale, unsigned do not."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hubspot.utils.signature import Signature

from copilot.embeds.hubspot import (
    decode_v3_uri,
    public_request_uri,
    sign_hubspot_v3,
    verify_hubspot_signature_v3,
)
from copilot.errors import ConfigError, PermissionDeniedError

SECRET = "app-client-secret-0123"
NOW = 1_796_300_000.0  # seconds
STAMP = str(int(NOW * 1000) - 20_000)  # 20 s before NOW, in milliseconds
URI = "https://copilot.example.com/hubspot/card?objectId=101&portalId=8675309"
BODY = b'{"objectId":101,"objectType":"CONTACT"}'


def signed(**override: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "method": "POST",
        "uri": URI,
        "body": BODY,
        "timestamp": STAMP,
        "client_secret": SECRET,
    }
    request["signature"] = sign_hubspot_v3(**request)
    request["now"] = NOW
    request.update(override)
    return request


def test_a_genuine_request_is_accepted() -> None:
    verify_hubspot_signature_v3(**signed())


def test_the_signature_agrees_with_the_hubspot_clients_own_v3() -> None:
    theirs = Signature.get_signature(
        SECRET, BODY.decode(), "v3", http_uri=URI, http_method="POST", timestamp=STAMP
    )

    assert (
        sign_hubspot_v3(
            method="POST", uri=URI, body=BODY, timestamp=STAMP, client_secret=SECRET
        )
        == theirs
    )


@pytest.mark.parametrize(
    "override",
    [
        pytest.param({"body": BODY.replace(b"101", b"102")}, id="tampered body"),
        pytest.param({"uri": URI.replace("101", "102")}, id="tampered uri"),
        pytest.param({"method": "GET"}, id="tampered method"),
        pytest.param({"timestamp": str(int(STAMP) + 1)}, id="tampered timestamp"),
        pytest.param(
            {"client_secret": "another-secret"}, id="signed with another secret"
        ),
        pytest.param({"signature": "A" * 44}, id="forged signature"),
    ],
)
def test_a_tampered_request_is_refused(override: dict[str, Any]) -> None:
    with pytest.raises(PermissionDeniedError, match="does not match"):
        verify_hubspot_signature_v3(**signed(**override))


@pytest.mark.parametrize(
    ("now", "words"),
    [
        pytest.param(NOW + 301, "old", id="older than five minutes"),
        pytest.param(NOW - 400, "ahead", id="from the future"),
    ],
)
def test_a_stale_request_is_refused(now: float, words: str) -> None:
    with pytest.raises(PermissionDeniedError, match=words):
        verify_hubspot_signature_v3(**signed(now=now))


def test_a_request_just_inside_five_minutes_is_accepted() -> None:
    verify_hubspot_signature_v3(**signed(now=int(STAMP) / 1000 + 299))


def test_now_may_be_an_aware_datetime() -> None:
    verify_hubspot_signature_v3(**signed(now=datetime.fromtimestamp(NOW, tz=UTC)))


@pytest.mark.parametrize(
    "override",
    [
        pytest.param({"signature": ""}, id="no signature header"),
        pytest.param({"timestamp": ""}, id="no timestamp header"),
    ],
)
def test_an_unsigned_request_is_refused(override: dict[str, Any]) -> None:
    with pytest.raises(PermissionDeniedError, match="no HubSpot signature"):
        verify_hubspot_signature_v3(**signed(**override))


def test_a_timestamp_that_is_not_milliseconds_is_refused() -> None:
    with pytest.raises(PermissionDeniedError, match="milliseconds"):
        verify_hubspot_signature_v3(**signed(timestamp="yesterday"))


def test_a_missing_client_secret_is_a_configuration_error() -> None:
    request = signed()
    request["client_secret"] = ""

    with pytest.raises(ConfigError, match="COPILOT_HUBSPOT_CLIENT_SECRET_ENV"):
        verify_hubspot_signature_v3(**request)


@pytest.mark.parametrize(
    ("received", "signed_as"),
    [
        pytest.param(
            "https://h.example/card?email=ana%40example.com",
            "https://h.example/card?email=ana@example.com",
            id="an at sign is decoded",
        ),
        pytest.param(
            "https://h.example/card?next=%2Fx%3Fy%3Az",
            "https://h.example/card?next=/x?y:z",
            id="slash question and colon decoded",
        ),
        pytest.param(
            "https://h.example/card?name=Ana%20Mar%C3%ADa",
            "https://h.example/card?name=Ana%20Mar%C3%ADa",
            id="other escapes stay",
        ),
        pytest.param(
            "https://h.example/card?list=a%2cb%3bc",
            "https://h.example/card?list=a,b;c",
            id="lower case escapes decoded",
        ),
    ],
)
def test_uri_escapes_are_decoded_as_hubspot_does(received: str, signed_as: str) -> None:
    signature = Signature.get_signature(
        SECRET, "", "v3", http_uri=signed_as, http_method="GET", timestamp=STAMP
    )

    assert decode_v3_uri(received) == signed_as
    verify_hubspot_signature_v3(
        method="GET",
        uri=received,
        body=b"",
        timestamp=STAMP,
        signature=signature,
        client_secret=SECRET,
        now=NOW,
    )


def test_the_public_uri_is_rebuilt_from_the_configured_base_url() -> None:
    assert (
        public_request_uri(
            "https://copilot.example.com/", "/hubspot/card", "objectId=1"
        )
        == "https://copilot.example.com/hubspot/card?objectId=1"
    )
    with pytest.raises(ConfigError):
        public_request_uri("copilot.example.com", "/hubspot/card")
