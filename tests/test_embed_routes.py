"""Opening the sidebar from inside each CRM, through the Flask test client.

Genuine signed requests sign the CRM's user in and land on the debtor's page (read from
the CRM's emulator); tampered, stale and unsigned ones are refused with 403 in the shared
error shape; a CRM user without a local account is told which email to add; one-time
links and widget tokens cannot be used twice.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import html
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import pytest
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.test import TestResponse

from copilot.embeds.hubspot import sign_hubspot_v3
from copilot.embeds.zoho import issue_widget_token
from copilot.web.embed import CSRF_EXEMPT, issue_link
from tests.crm_apps import CRM, ZOHO_WIDGET_KEY, add_user, crm_app, running_crm
from tests.emulators.zoho import ORG_ID, OTHER_ORG_ID

AGENT = "agent@example.com"
DISABLED = "former@example.com"
STRANGER = "nobody@example.com"


@contextmanager
def embedded(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> Iterator[tuple[CRM, Flask]]:
    """The app over the emulated CRM *name*, with an active and a disabled agent."""
    with running_crm(name, tmp_path) as crm:
        app = crm_app(crm, tmp_path, monkeypatch, **overrides)
        add_user(app, AGENT)
        add_user(app, DISABLED, active=False)
        yield crm, app


def assert_lands_on_debtor(
    client: FlaskClient, response: TestResponse, crm: CRM
) -> None:
    """A 303 to the debtor's sidebar page, which then shows the CRM's balance."""
    assert response.status_code == 303, response.get_data(as_text=True)
    location = response.headers["Location"]
    assert urlsplit(location).path == f"/sidebar/debtors/{crm.debtor_id}"
    page = client.get(location)
    assert page.status_code == 200
    text = html.unescape(page.get_data(as_text=True))
    assert crm.debtor_name in text and crm.balance_shown in text


def assert_refused(response: TestResponse, *phrases: str) -> None:
    """403 in the shared JSON error shape, with a message that says what to do."""
    assert response.status_code == 403, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "forbidden" and error["status"] == 403
    for phrase in phrases:
        assert phrase in error["message"]


def assert_refused_page(response: TestResponse, *phrases: str) -> None:
    """403 as the friendly HTML error page."""
    assert response.status_code == 403, response.get_data(as_text=True)
    text = html.unescape(response.get_data(as_text=True))
    assert 'role="alert"' in text
    for phrase in phrases:
        assert phrase in text


def assert_not_signed_in(client: FlaskClient) -> None:
    response = client.get("/sidebar")
    assert response.status_code == 302 and "/login" in response.headers["Location"]


# --- Salesforce Canvas --------------------------------------------------------------


def canvas(
    secret: str,
    email: str = AGENT,
    record: str | None = None,
    issued_at: float | None = None,
    **changes: Any,
) -> str:
    """A Canvas signed request as Salesforce would POST it."""
    payload: dict[str, Any] = {
        "algorithm": "HMACSHA256",
        "issuedAt": int((time.time() if issued_at is None else issued_at) * 1000),
        "userId": "005xx000001Sv6AAAS",
        "context": {
            "user": {"userId": "005xx000001Sv6AAAS", "email": email},
            "environment": {
                "record": {"Id": record} if record else {},
                "parameters": {},
            },
        },
    }
    payload.update(changes)
    envelope = base64.b64encode(json.dumps(payload).encode()).decode()
    mac = hmac.new(secret.encode(), envelope.encode(), hashlib.sha256).digest()
    return base64.b64encode(mac).decode() + "." + envelope


def test_canvas_signs_the_user_in_and_opens_the_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("salesforce", tmp_path, monkeypatch) as (crm, app):
        client = app.test_client()
        signed = canvas(crm.client_secret, record=crm.debtor_id)
        response = client.post("/embed/salesforce", data={"signed_request": signed})

        assert_lands_on_debtor(client, response, crm)


def test_canvas_without_a_record_opens_the_work_queue(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("salesforce", tmp_path, monkeypatch) as (crm, app):
        client = app.test_client()
        signed = canvas(crm.client_secret, email=AGENT.upper())
        response = client.post("/embed/salesforce", data={"signed_request": signed})
        queue = client.get("/sidebar")

    assert response.status_code == 303
    assert urlsplit(response.headers["Location"]).path == "/sidebar"
    assert queue.status_code == 200


def _tampered(secret: str) -> str:
    signature = canvas(secret).split(".", 1)[0]
    return signature + "." + canvas(secret, email="admin@example.com").split(".", 1)[1]


CANVAS_REFUSALS: dict[str, tuple[Callable[[str], str], str]] = {
    "a context swapped under a genuine signature": (_tampered, "does not match"),
    "a request signed with another secret": (
        lambda s: canvas("not-the-consumer-secret"),
        "does not match",
    ),
    "a request issued an hour ago": (
        lambda s: canvas(s, issued_at=time.time() - 3600),
        "s old",
    ),
    "a request without a signature": (
        lambda s: canvas(s).split(".", 1)[1],
        "not signed",
    ),
    "an empty form": (lambda s: "", "not signed"),
}


@pytest.mark.parametrize("case", list(CANVAS_REFUSALS), ids=list(CANVAS_REFUSALS))
def test_canvas_refuses(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    build, phrase = CANVAS_REFUSALS[case]
    with embedded("salesforce", tmp_path, monkeypatch) as (crm, app):
        client = app.test_client()
        form = {"signed_request": build(crm.client_secret)}
        page = client.post("/embed/salesforce", data=form)
        api = client.post(
            "/embed/salesforce", data=form, headers={"Accept": "application/json"}
        )

        assert_refused_page(page, phrase)
        assert_refused(api, phrase)
        assert_not_signed_in(client)


@pytest.mark.parametrize(
    ("email", "phrases"),
    [
        (STRANGER, [f"copilot users add {STRANGER} --role agent", "no Collection"]),
        (DISABLED, [f"as {DISABLED}", "is disabled", "re-enable"]),
        ("", ["did not say who you are"]),
    ],
    ids=[
        "an unknown Salesforce user is told which email to add",
        "a disabled account is told to ask for re-enabling",
        "a context without an email is refused",
    ],
)
def test_canvas_user_without_an_active_account(
    email: str, phrases: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("salesforce", tmp_path, monkeypatch) as (crm, app):
        client = app.test_client()
        signed = canvas(crm.client_secret, email=email, record=crm.debtor_id)
        response = client.post("/embed/salesforce", data={"signed_request": signed})

        assert_refused_page(response, *phrases)
        assert_not_signed_in(client)


def test_only_the_signed_endpoints_skip_the_csrf_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("salesforce", tmp_path, monkeypatch) as (crm, app):
        client = app.test_client()
        signed = canvas(crm.client_secret, record=crm.debtor_id)
        assert (
            client.post(
                "/embed/salesforce", data={"signed_request": signed}
            ).status_code
            == 303
        )
        other = client.post("/logout")

    assert other.status_code == 400


def test_the_csrf_exemption_lists_exactly_the_signed_unsafe_endpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("hubspot", tmp_path, monkeypatch) as (_crm, app):
        unsafe = {
            rule.endpoint
            for rule in app.url_map.iter_rules()
            if rule.endpoint.startswith("embed.")
            and (rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}
        }

    assert unsafe == CSRF_EXEMPT


def test_canvas_is_refused_when_another_crm_is_connected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("hubspot", tmp_path, monkeypatch) as (_crm, app):
        monkeypatch.setenv("SALESFORCE_CLIENT_SECRET", "a-secret")
        response = app.test_client().post(
            "/embed/salesforce",
            data={"signed_request": canvas("a-secret")},
            headers={"Accept": "application/json"},
        )

    assert response.status_code == 500
    error = response.get_json()["error"]
    assert error["code"] == "config_error"
    assert "COPILOT_CONNECTOR=salesforce" in error["message"]


# --- HubSpot app card ---------------------------------------------------------------


def card_fetch(
    client: FlaskClient,
    crm: CRM,
    *,
    email: str = AGENT,
    method: str = "GET",
    body: bytes = b"",
    signed_at: float | None = None,
    base: str = "http://localhost",
    alter: Callable[[dict[str, Any]], None] | None = None,
) -> TestResponse:
    """The card's ``hubspot.fetch``, signed as HubSpot signs it, then maybe altered."""
    query = urlencode(
        {
            "userId": "7",
            "userEmail": email,
            "portalId": "123",
            "associatedObjectId": crm.debtor_id,
            "associatedObjectType": "CONTACT",
        }
    )
    timestamp = str(int((time.time() if signed_at is None else signed_at) * 1000))
    signature = sign_hubspot_v3(
        method=method,
        uri=f"{base}/embed/hubspot?{query}",
        body=body,
        timestamp=timestamp,
        client_secret=crm.client_secret,
    )
    request: dict[str, Any] = {
        "query": query,
        "body": body,
        "headers": {
            "X-HubSpot-Signature-v3": signature,
            "X-HubSpot-Request-Timestamp": timestamp,
            "Content-Type": "application/json",
            "Accept": "*/*",
        },
    }
    if alter:
        alter(request)
    return client.open(
        f"/embed/hubspot?{request['query']}",
        method=method,
        data=request["body"],
        headers=request["headers"],
    )


def test_the_hubspot_card_gets_a_one_time_link_that_signs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("hubspot", tmp_path, monkeypatch) as (crm, app):
        client = app.test_client()
        answer = card_fetch(client, crm)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        link = answer.get_json()["url"]
        assert answer.get_json()["expires_in"] == 120
        assert_not_signed_in(client)  # the card's fetch itself signs nobody in

        assert_lands_on_debtor(client, client.get(link), crm)
        again = app.test_client().get(link, headers={"Accept": "application/json"})

    assert_refused(again, "already used")


def test_a_signed_post_from_the_card_is_accepted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("hubspot", tmp_path, monkeypatch) as (crm, app):
        answer = card_fetch(
            app.test_client(), crm, method="POST", body=b'{"open":true}'
        )

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert "/embed/link/" in answer.get_json()["url"]


def _swap_user(request: dict[str, Any]) -> None:
    request["query"] = request["query"].replace("agent%40", "admin%40")


def _drop_signature(request: dict[str, Any]) -> None:
    del request["headers"]["X-HubSpot-Signature-v3"]
    del request["headers"]["X-HubSpot-Request-Timestamp"]


def _flip_signature(request: dict[str, Any]) -> None:
    signature = request["headers"]["X-HubSpot-Signature-v3"]
    request["headers"]["X-HubSpot-Signature-v3"] = (
        "A" if signature[0] != "A" else "B"
    ) + signature[1:]


HUBSPOT_REFUSALS: dict[str, tuple[dict[str, Any], str]] = {
    "another user's email put in the signed query": (
        {"alter": _swap_user},
        "does not match",
    ),
    "a body changed after signing": (
        {"method": "POST", "body": b"{}", "alter": lambda r: r.update(body=b'{"x":1}')},
        "does not match",
    ),
    "a signature that was tampered with": (
        {"alter": _flip_signature},
        "does not match",
    ),
    "a request signed six minutes ago": (
        {"signed_at": time.time() - 360},
        "older than 300 s",
    ),
    "a request without HubSpot's headers": (
        {"alter": _drop_signature},
        "no HubSpot signature",
    ),
    "a request signed for another host": (
        {"base": "https://evil.example.com"},
        "does not match",
    ),
}


@pytest.mark.parametrize("case", list(HUBSPOT_REFUSALS), ids=list(HUBSPOT_REFUSALS))
def test_the_hubspot_endpoint_refuses(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    options, phrase = HUBSPOT_REFUSALS[case]
    if "signed_at" in options:
        options = {**options, "signed_at": time.time() - 360}
    with embedded("hubspot", tmp_path, monkeypatch) as (crm, app):
        client = app.test_client()
        response = card_fetch(client, crm, **options)

        assert_refused(response, phrase)
        assert_not_signed_in(client)


def test_an_unknown_hubspot_user_is_told_which_email_to_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("hubspot", tmp_path, monkeypatch) as (crm, app):
        response = card_fetch(app.test_client(), crm, email=STRANGER)

    assert_refused(response, f"copilot users add {STRANGER} --role agent", "HubSpot")


def test_behind_a_proxy_the_public_url_is_what_hubspot_signed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    public = "https://copilot.example.com"
    with embedded("hubspot", tmp_path, monkeypatch, public_base_url=public) as (
        crm,
        app,
    ):
        client = app.test_client()
        answer = card_fetch(client, crm, base=public)
        local = card_fetch(client, crm)

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["url"].startswith(f"{public}/embed/link/")
    assert_refused(local, "does not match")


@pytest.mark.parametrize(
    ("make", "phrase"),
    [
        (lambda app, uid: issue_link(uid, "101", now=time.time() - 121), "expired"),
        (
            lambda app, uid: issue_link(uid, "101")[:-3] + "abc",
            "not one the copilot issued",
        ),
        (lambda app, uid: "not-a-link", "not one the copilot issued"),
    ],
    ids=[
        "a link older than two minutes",
        "a link with a changed signature",
        "a made-up link",
    ],
)
def test_a_bad_sign_in_link_is_refused(
    make: Callable[[Flask, int], str],
    phrase: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with embedded("hubspot", tmp_path, monkeypatch) as (_crm, app):
        with app.test_request_context():
            token = make(app, 1)
        client = app.test_client()
        response = client.get(
            f"/embed/link/{token}", headers={"Accept": "application/json"}
        )

        assert_refused(response, phrase)
        assert_not_signed_in(client)


# --- Zoho CRM widget ----------------------------------------------------------------


def widget_session(
    client: FlaskClient, crm: CRM, email: str = AGENT, org_id: str = ORG_ID
) -> TestResponse:
    """The widget's Connection call, with the user's Zoho OAuth token."""
    oauth = crm.emulator.issue_user_token(email, org_id=org_id)
    return client.post(
        "/embed/zoho/session",
        data={"record_id": crm.debtor_id},
        headers={"Authorization": f"Zoho-oauthtoken {oauth}"},
    )


def test_the_zoho_widget_exchanges_its_connection_for_a_one_time_sign_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("zoho", tmp_path, monkeypatch) as (crm, app):
        client = app.test_client()
        answer = widget_session(client, crm)
        assert answer.status_code == 200, answer.get_data(as_text=True)
        body = answer.get_json()
        assert body["token"].startswith("zw1.") and body["record_id"] == crm.debtor_id
        assert_not_signed_in(client)

        assert_lands_on_debtor(client, client.get(body["url"]), crm)
        again = app.test_client().get(body["url"])

    assert_refused_page(again, "already used")


def test_the_zoho_session_accepts_a_json_body(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("zoho", tmp_path, monkeypatch) as (crm, app):
        oauth = crm.emulator.issue_user_token(AGENT)
        answer = app.test_client().post(
            "/embed/zoho/session",
            json={"record_id": crm.debtor_id},
            headers={"Authorization": f"Zoho-oauthtoken {oauth}"},
        )

    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["record_id"] == crm.debtor_id


@pytest.mark.parametrize(
    ("options", "phrases"),
    [
        ({"email": STRANGER}, [f"copilot users add {STRANGER} --role agent", "Zoho"]),
        ({"org_id": OTHER_ORG_ID}, ["another Zoho organisation"]),
    ],
    ids=[
        "an unknown Zoho user is told which email to add",
        "a user of another Zoho org is refused",
    ],
)
def test_the_zoho_session_refuses(
    options: dict[str, str],
    phrases: list[str],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with embedded("zoho", tmp_path, monkeypatch) as (crm, app):
        response = widget_session(app.test_client(), crm, **options)

    assert_refused(response, *phrases)


@pytest.mark.parametrize(
    "authorization",
    ["", "Bearer 1000.abc", "Zoho-oauthtoken 1000.not-a-token-zoho-knows"],
    ids=[
        "no Authorization header",
        "a bearer token instead of Zoho's",
        "a token Zoho does not know",
    ],
)
def test_the_zoho_session_needs_a_connection_token_zoho_accepts(
    authorization: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with embedded("zoho", tmp_path, monkeypatch) as (crm, app):
        headers = {"Accept": "application/json"}
        if authorization:
            headers["Authorization"] = authorization
        response = app.test_client().post(
            "/embed/zoho/session", data={"record_id": crm.debtor_id}, headers=headers
        )

    assert response.status_code == 403, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "forbidden"


def _zoho_token(**changes: Any) -> str:
    values: dict[str, Any] = {
        "user_email": AGENT,
        "org_id": ORG_ID,
        "record_id": "5725767000000412001",
        "key": ZOHO_WIDGET_KEY,
    }
    values.update(changes)
    return issue_widget_token(**values)


ZOHO_REFUSALS: dict[str, tuple[Callable[[], str], str]] = {
    "a token signed with another key": (
        lambda: _zoho_token(key="x" * 40),
        "signature does not match",
    ),
    "a token whose payload was changed": (
        lambda: ".".join(
            [
                _zoho_token().split(".")[0],
                _zoho_token(user_email="admin@example.com").split(".")[1],
                _zoho_token().split(".")[2],
            ]
        ),
        "signature does not match",
    ),
    "an expired token": (lambda: _zoho_token(now=time.time() - 600), "expired"),
    "no token": (lambda: "", "no Zoho widget token"),
}


@pytest.mark.parametrize("case", list(ZOHO_REFUSALS), ids=list(ZOHO_REFUSALS))
def test_the_zoho_sidebar_refuses(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    make, phrase = ZOHO_REFUSALS[case]
    with embedded("zoho", tmp_path, monkeypatch) as (_crm, app):
        client = app.test_client()
        query = urlencode({"token": make()})
        page = client.get(f"/embed/zoho?{query}")
        api = client.get(f"/embed/zoho?{query}", headers={"Accept": "application/json"})

        assert_refused_page(page, phrase)
        assert_refused(api, phrase)
        assert_not_signed_in(client)
