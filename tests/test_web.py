"""The Flask app through its test client: sign-in, sidebar pages, JSON API, headers."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from copilot.config import Settings
from copilot.web.auth import DEMO_USERS, ensure_demo_users
from server import create_app


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    application = create_app({"TESTING": True}, settings=settings)
    ensure_demo_users(application)
    yield application


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


def _csrf(client: FlaskClient, path: str = "/login") -> str:
    page = client.get(path).get_data(as_text=True)
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has a CSRF field"
    return match.group(1)


def sign_in(client: FlaskClient, role: str = "agent") -> None:
    email, _name, _role, password = next(u for u in DEMO_USERS if u[2] == role)
    response = client.post("/login", data={"email": email, "password": password,
                                           "csrf_token": _csrf(client)})
    assert response.status_code == 302, response.get_data(as_text=True)


def test_a_newcomer_to_the_demo_lands_in_the_sidebar_as_the_demo_agent(
    client: FlaskClient,
) -> None:
    page = client.get("/sidebar").get_data(as_text=True)

    assert "Work queue" in page
    assert "Signed in as Alex Agent (agent)" in page


def test_after_signing_out_the_demo_asks_who_you_are(client: FlaskClient) -> None:
    page = client.get("/sidebar").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert token

    client.post("/logout", data={"csrf_token": token.group(1)})
    response = client.get("/sidebar")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_sidebar_redirects_to_sign_in_when_auto_sign_in_is_off(settings: Settings) -> None:
    app = create_app({"TESTING": True},
                     settings=settings.model_copy(update={"demo_auto_sign_in": False}))
    ensure_demo_users(app)

    response = app.test_client().get("/sidebar")

    assert response.status_code == 302
    assert "/login" in response.headers["Location"]


def test_a_real_crm_never_signs_anyone_in_automatically(settings: Settings) -> None:
    app = create_app({"TESTING": True},
                     settings=settings.model_copy(update={"connector": "hubspot"}))
    ensure_demo_users(app)

    response = app.test_client().get("/sidebar")

    assert response.status_code == 302


def test_login_page_lists_the_demo_accounts(client: FlaskClient) -> None:
    page = client.get("/login").get_data(as_text=True)

    for email, _name, _role, password in DEMO_USERS:
        assert email in page and password in page


def test_agent_sees_the_work_queue_and_a_debtor(client: FlaskClient) -> None:
    sign_in(client)

    queue = client.get("/sidebar").get_data(as_text=True)
    first_id = re.search(r"/sidebar/debtors/([\w-]+)", queue)
    assert first_id
    page = client.get(f"/sidebar/debtors/{first_id.group(1)}")

    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'data-testid="balance"' in html
    assert "Contact history" in html


def test_search_finds_debtors_and_says_when_nothing_matches(client: FlaskClient) -> None:
    sign_in(client)

    found = client.get("/api/debtors?q=a").get_json()["debtors"]
    empty = client.get("/sidebar?q=zzqxnomatch").get_data(as_text=True)

    assert found
    assert "No debtor matches" in empty


def test_spanish_interface(client: FlaskClient) -> None:
    sign_in(client)

    page = client.get("/sidebar?lang=es").get_data(as_text=True)

    assert "Cola de trabajo" in page
    assert '<html lang="es">' in page


def test_unknown_debtor_is_a_json_404_in_the_api(client: FlaskClient) -> None:
    sign_in(client)

    response = client.get("/api/debtors/NOPE-404")

    assert response.status_code == 404
    body = response.get_json()
    assert set(body["error"]) >= {"code", "message", "status"}
    assert body["error"]["status"] == 404
    assert "NOPE-404" in body["error"]["message"]


def test_unknown_debtor_page_is_friendly_html(client: FlaskClient) -> None:
    sign_in(client)

    response = client.get("/sidebar/debtors/NOPE-404")

    assert response.status_code == 404
    assert "Traceback" not in response.get_data(as_text=True)


def test_api_without_credentials_is_401_json(client: FlaskClient) -> None:
    response = client.get("/api/debtors")

    assert response.status_code == 401
    assert response.get_json()["error"]["status"] == 401


def test_bad_limit_is_a_400_with_the_reason(client: FlaskClient) -> None:
    sign_in(client)

    response = client.get("/api/debtors?limit=lots")

    assert response.status_code == 400
    assert "limit" in response.get_json()["error"]["message"]


def test_forms_without_csrf_token_are_refused(client: FlaskClient) -> None:
    response = client.post("/login", data={"email": "a@b.c", "password": "x"})

    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_login_is_rate_limited(client: FlaskClient, app: Flask) -> None:
    token = _csrf(client)
    statuses = [
        client.post("/login", data={"email": "agent@demo.example", "password": "nope-nope",
                                    "csrf_token": token}).status_code
        for _ in range(app.extensions["copilot"].settings.login_attempts + 1)
    ]

    assert statuses[:-1] == [401] * (len(statuses) - 1)
    assert statuses[-1] == 429


def test_pages_allow_local_assets_only(client: FlaskClient) -> None:
    response = client.get("/login")

    policy = response.headers["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "frame-ancestors 'self'" in policy
    assert "http" not in policy  # the demo CRM is framed by nobody else


def test_frame_ancestors_follow_the_active_crm(settings: Settings) -> None:
    app = create_app({"TESTING": True},
                     settings=settings.model_copy(update={"connector": "hubspot"}))

    policy = app.test_client().get("/login").headers["Content-Security-Policy"]

    assert "frame-ancestors 'self' https://app.hubspot.com" in policy


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/sidebar/drafts", "/sidebar/drafts"),
        ("https://evil.example/x", "/sidebar"),
        ("//evil.example/x", "/sidebar"),
        ("/\\evil.example/x", "/sidebar"),
        ("/\t/evil.example/x", "/sidebar"),
        ("/\n/evil.example/x", "/sidebar"),
    ],
    ids=["a local path is kept", "an absolute URL is dropped",
         "a scheme-relative URL is dropped", "a backslash trick is dropped",
         "a tab trick is dropped", "a newline trick is dropped"],
)
def test_sign_in_goes_only_to_local_pages(
    client: FlaskClient, target: str, expected: str
) -> None:
    email, _name, _role, password = DEMO_USERS[0]
    response = client.post("/login", query_string={"next": target},
                           data={"email": email, "password": password,
                                 "csrf_token": _csrf(client)})

    assert response.status_code == 302
    assert response.headers["Location"] == expected


@pytest.mark.parametrize("as_json", [False, True], ids=["as text", "as JSON"])
def test_copilot_settings_never_prints_a_database_password(
    monkeypatch: pytest.MonkeyPatch, as_json: bool
) -> None:
    from click.testing import CliRunner

    from copilot.config import get_settings
    from copilot.web.cli import settings_command

    monkeypatch.setenv("COPILOT_DATABASE_URL",
                       "postgresql+psycopg://copilot:s3cr3t-Pass@db.internal:5432/copilot")
    get_settings.cache_clear()

    result = CliRunner().invoke(settings_command, ["--json"] if as_json else [])

    assert result.exit_code == 0, result.output
    assert "s3cr3t-Pass" not in result.output
    assert "copilot:***@db.internal:5432/copilot" in result.output


def test_a_failed_sign_in_is_audited_within_the_columns_and_without_a_formula(
    client: FlaskClient, app: Flask
) -> None:
    from copilot.web.auth import database
    from copilot.workflow import audit
    from copilot.workflow.models import AuditEntry

    typed = '=HYPERLINK("http://evil.example","x")' + "a" * 300 + "@demo.example"
    response = client.post("/login", data={"email": typed, "password": "wrong-wrong",
                                           "csrf_token": _csrf(client)})

    assert response.status_code == 401
    with app.app_context(), database().session() as session:
        entry = session.query(AuditEntry).filter_by(action="auth.login_failed").one()
        assert entry.actor == "anonymous"
        assert len(entry.subject) <= 128  # the column's size on PostgreSQL
        exported = audit.export_csv(session)
    rows = list(csv.reader(io.StringIO(exported)))
    assert not any(cell.startswith("=") for row in rows for cell in row)


def test_pages_with_personal_data_are_not_cached_but_assets_are(client: FlaskClient) -> None:
    sign_in(client, "agent")

    page = client.get("/sidebar/debtors/D-1001")
    api = client.get("/api/debtors/D-1001")
    asset = client.get("/static/copilot.css")

    assert page.status_code == api.status_code == asset.status_code == 200
    assert page.headers["Cache-Control"] == "no-store"
    assert api.headers["Cache-Control"] == "no-store"
    assert "no-store" not in asset.headers.get("Cache-Control", "")
