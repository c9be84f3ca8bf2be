"""Zoho widget tokens: issued through the widget's connection, verified on every call."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors._retry import RetryPolicy
from connectors.zoho import ZohoConnector, load_mapping
from copilot.embeds.zoho import (
    exchange_zoho_identity,
    issue_widget_token,
    verify_widget_token,
    widget_session,
)
from copilot.errors import ConfigError, PermissionDeniedError
from tests.emulators.zoho import (
    CLIENT_ID,
    CLIENT_SECRET,
    KNOWN_DEBTOR_ID,
    ORG_ID,
    OTHER_ORG_ID,
    REFRESH_TOKEN,
    ZohoEmulator,
)

KEY = "k" * 24 + "-widget-signing-key-for-tests"
NOW = 1_790_000_000


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(payload: dict[str, Any] | bytes, key: str = KEY) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    signed = f"zw1.{b64(raw)}"
    mac = hmac.new(key.encode(), signed.encode(), hashlib.sha256).digest()
    return f"{signed}.{b64(mac)}"


def good_payload(**changes: Any) -> dict[str, Any]:
    payload = {
        "sub": "ana@example.com",
        "org": ORG_ID,
        "rec": KNOWN_DEBTOR_ID,
        "iat": NOW,
        "exp": NOW + 300,
        "nonce": "n" * 22,
    }
    payload.update(changes)
    return payload


def issue(**changes: Any) -> str:
    values: dict[str, Any] = {
        "user_email": "ana@example.com",
        "org_id": ORG_ID,
        "record_id": KNOWN_DEBTOR_ID,
        "key": KEY,
        "now": NOW,
    }
    values.update(changes)
    return issue_widget_token(**values)


def test_a_fresh_token_verifies_and_carries_the_identity() -> None:
    claims = verify_widget_token(issue(), KEY, now=NOW + 10)

    assert claims["user_email"] == "ana@example.com"
    assert claims["org_id"] == ORG_ID
    assert claims["record_id"] == KNOWN_DEBTOR_ID
    assert claims["expires_at"] - claims["issued_at"] == 300


def test_a_token_without_a_record_is_allowed() -> None:
    assert verify_widget_token(issue(record_id=None), KEY, now=NOW)["record_id"] is None


def test_each_token_has_its_own_nonce() -> None:
    first, second = issue(), issue()

    assert first != second
    assert (
        verify_widget_token(first, KEY, now=NOW)["nonce"]
        != verify_widget_token(second, KEY, now=NOW)["nonce"]
    )


def test_aware_datetimes_are_accepted_as_now() -> None:
    moment = datetime.fromtimestamp(NOW, UTC)

    assert verify_widget_token(issue(now=moment), KEY, now=moment)["issued_at"] == NOW


def _tampered_record() -> str:
    prefix, body, signature = issue().split(".")
    payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
    payload["rec"] = "5725767000000412999"
    return f"{prefix}.{b64(json.dumps(payload).encode())}.{signature}"


def _flipped_signature() -> str:
    prefix, body, signature = issue().split(".")
    raw = bytearray(base64.urlsafe_b64decode(signature + "="))
    raw[0] ^= 1
    return f"{prefix}.{body}.{b64(bytes(raw))}"


@pytest.mark.parametrize(
    ("token", "words"),
    [
        (_tampered_record(), "signature does not match"),
        (_flipped_signature(), "signature does not match"),
        (
            sign(good_payload(), key="another-key-" + "x" * 30),
            "signature does not match",
        ),
        (issue().rsplit(".", 1)[0], "malformed"),
        (issue().rsplit(".", 1)[0] + ".", "malformed"),
        ("", "no Zoho widget token"),
        ("zw1.not base64!.abc", "malformed"),
        ("zw2" + issue()[3:], "malformed"),
        (sign(b"not json"), "not JSON"),
        (sign(b"[1, 2]"), "not an object"),
        (sign(good_payload(exp="tomorrow")), "integers"),
        (sign(good_payload(exp=True)), "integers"),
        (sign(good_payload(sub=None)), "strings"),
        (sign(good_payload(rec="../admin")), "record id"),
        (sign(good_payload(nonce="")), "nonce"),
        (sign(good_payload(exp=NOW + 86_400)), "lifetime"),
        (sign(good_payload(iat=NOW + 600, exp=NOW + 900)), "future"),
        (sign(good_payload(iat=NOW - 900, exp=NOW - 600)), "expired"),
    ],
    ids=[
        "a changed record id is tampering",
        "a changed signature is tampering",
        "a token signed with another key is refused",
        "an unsigned token is refused",
        "an empty signature is refused",
        "no token at all is refused",
        "garbage is malformed",
        "an unknown version is malformed",
        "a signed non-JSON payload is malformed",
        "a signed JSON list is malformed",
        "a text expiry is malformed",
        "a boolean expiry is malformed",
        "a missing user is malformed",
        "a record id that is not digits is malformed",
        "a missing nonce is malformed",
        "a lifetime beyond an hour is refused",
        "a token from the future is refused",
        "an expired token is refused",
    ],
)
def test_bad_tokens_are_refused(token: str, words: str) -> None:
    with pytest.raises(PermissionDeniedError, match=words):
        verify_widget_token(token, KEY, now=NOW + 10)


def test_the_token_expires_exactly_at_its_ttl() -> None:
    token = issue(ttl_s=60)

    verify_widget_token(token, KEY, now=NOW + 59)
    with pytest.raises(PermissionDeniedError, match="expired"):
        verify_widget_token(token, KEY, now=NOW + 60)


@pytest.mark.parametrize("key", ["", "short"], ids=["no key", "a short key"])
def test_a_weak_key_is_a_config_error(key: str) -> None:
    with pytest.raises(ConfigError, match="COPILOT_ZOHO_WIDGET_KEY_ENV"):
        issue(key=key)
    with pytest.raises(ConfigError):
        verify_widget_token(issue(), key, now=NOW)


@pytest.mark.parametrize(
    "changes",
    [
        {"user_email": "not-an-email"},
        {"record_id": "abc"},
        {"ttl_s": 0},
        {"ttl_s": 7200},
        {"org_id": ""},
    ],
    ids=[
        "a user without an email",
        "a record id that is not digits",
        "a zero ttl",
        "a ttl beyond an hour",
        "no org",
    ],
)
def test_issuing_checks_its_inputs(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        issue(**changes)


# --- the exchange through the widget's connection -----------------------------------


@pytest.fixture
def emulator() -> Iterator[ZohoEmulator]:
    emu = ZohoEmulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def connector(
    emulator: ZohoEmulator, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ZohoConnector]:
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)
    conn = ZohoConnector(
        api_domain=emulator.base_url,
        accounts_url=emulator.base_url,
        mapping=load_mapping(),
        timeout_s=2.0,
        retry_policy=RetryPolicy(max_retries=0),
    )
    yield conn
    conn.close()


def test_a_user_of_our_org_is_identified(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    token = emulator.issue_user_token("ana@example.com")

    identity = exchange_zoho_identity(token, connector=connector)

    assert identity["email"] == "ana@example.com"
    assert identity["org_id"] == ORG_ID
    assert identity["name"] == "Ana Torres"


def test_the_user_token_is_sent_as_is_and_never_refreshed(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    token = emulator.issue_user_token("ana@example.com")
    exchange_zoho_identity(token, connector=connector)
    token_requests = emulator.token_requests

    with pytest.raises(PermissionDeniedError, match="did not accept"):
        exchange_zoho_identity("1000.not-a-token", connector=connector)

    assert emulator.token_requests == token_requests


def test_a_user_of_another_org_is_refused(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    token = emulator.issue_user_token("mallory@elsewhere.example", org_id=OTHER_ORG_ID)

    with pytest.raises(PermissionDeniedError, match="another Zoho organisation"):
        exchange_zoho_identity(token, connector=connector)


def test_no_connection_token_is_refused(connector: ZohoConnector) -> None:
    with pytest.raises(PermissionDeniedError, match="no OAuth token"):
        exchange_zoho_identity("  ", connector=connector)


def test_a_widget_session_yields_a_token_that_verifies(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    token = emulator.issue_user_token("ana@example.com")

    session = widget_session(token, KNOWN_DEBTOR_ID, connector=connector, key=KEY)
    claims = verify_widget_token(session["token"], KEY)

    assert (claims["user_email"], claims["org_id"], claims["record_id"]) == (
        "ana@example.com",
        ORG_ID,
        KNOWN_DEBTOR_ID,
    )
    assert session["expires_in"] == 300


def test_a_widget_session_refuses_a_bad_record_id(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    token = emulator.issue_user_token("ana@example.com")

    with pytest.raises(PermissionDeniedError, match="record id"):
        widget_session(token, "javascript:alert(1)", connector=connector, key=KEY)


def test_a_widget_session_can_be_built_from_settings_alone(
    emulator: ZohoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in {
        "COPILOT_ZOHO_API_DOMAIN": emulator.base_url,
        "COPILOT_ZOHO_ACCOUNTS_URL": emulator.base_url,
        "ZOHO_CLIENT_ID": CLIENT_ID,
        "ZOHO_CLIENT_SECRET": CLIENT_SECRET,
        "ZOHO_REFRESH_TOKEN": REFRESH_TOKEN,
        "ZOHO_WIDGET_KEY": KEY,
    }.items():
        monkeypatch.setenv(name, value)
    token = emulator.issue_user_token("ana@example.com")

    session = widget_session(token, None)

    assert verify_widget_token(session["token"], KEY)["user_email"] == "ana@example.com"
