"""The admin pages through the test client: policies, packs, templates, users, audit."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import text

from copilot.compliance.engine import DEFAULT_PACKS_DIR
from copilot.config import Settings
from copilot.generation.library import TemplateLibrary
from copilot.web.auth import database
from copilot.web.services import services
from tests.ui_support import csrf, make_app, sign_in

ADMIN_PAGES = ["/admin", "/admin/policies", "/admin/rules", "/admin/templates",
               "/admin/users", "/admin/connector", "/admin/audit", "/admin/audit.csv"]
POLICY_V1 = "# Refund policy\n\n## Overpayments\n\nRefund overpayments within 30 days.\n"
POLICY_V2 = "# Refund policy\n\n## Overpayments\n\nRefund overpayments within 10 days.\n"
TEMPLATES = """language: en
templates:
  - id: en.sms.reminder.ui_test
    channel: sms
    goal: reminder
    tone: warm
    text: "Hi {first_name}, a reminder from {company}. Reply STOP to opt out."
"""


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    yield make_app(settings)


@pytest.fixture
def admin(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, "admin")
    return client


def _file(body: str, name: str) -> tuple[io.BytesIO, str]:
    return io.BytesIO(body.encode()), name


@pytest.mark.parametrize("role", ["agent", "lead"])
@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_only_admins_open_the_admin_pages(app: Flask, role: str, path: str) -> None:
    client = app.test_client()
    sign_in(client, role)

    assert client.get(path).status_code == 403


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_every_admin_page_renders_for_an_admin(admin: FlaskClient, path: str) -> None:
    response = admin.get(path)

    assert response.status_code == 200


def test_admin_changes_need_the_csrf_token(admin: FlaskClient) -> None:
    response = admin.post("/admin/users", data={"email": "x@y.example"})

    assert response.status_code == 400


def test_users_add_disable_and_token(app: Flask, admin: FlaskClient) -> None:
    token = csrf(admin, "/admin/users")
    added = admin.post("/admin/users", data={
        "csrf_token": token, "email": "new.agent@demo.example", "name": "Nia New",
        "role": "agent", "password": "a-long-password", "ui_language": "es"})
    page = admin.get("/admin/users").get_data(as_text=True)
    user_id = re.search(r'/admin/users/(\d+)/token"[^>]*>\s*<input[^>]*>\s*'
                        r'<button[^>]*new\.agent@demo\.example', page)
    assert added.status_code == 303 and "new.agent@demo.example" in page
    assert user_id, "the new user has a token button"

    issued = admin.post(f"/admin/users/{user_id.group(1)}/token",
                        data={"csrf_token": token}).get_data(as_text=True)
    api_token = re.search(r'<input id="new-token" readonly value="([^"]+)"', issued)
    assert api_token, "the token is shown once"
    with_token = app.test_client().get(
        "/api/debtors", headers={"Authorization": f"Bearer {api_token.group(1)}"})
    assert with_token.status_code == 200

    admin.post(f"/admin/users/{user_id.group(1)}/disable", data={"csrf_token": token})
    refused = app.test_client().get(
        "/api/debtors", headers={"Authorization": f"Bearer {api_token.group(1)}"})
    assert refused.status_code == 403


def test_templates_add_retire_and_restore(admin: FlaskClient, settings: Settings) -> None:
    token = csrf(admin, "/admin/templates")

    admin.post("/admin/templates", data={
        "csrf_token": token, "templates": _file(TEMPLATES, "ui_test.yaml")},
        content_type="multipart/form-data")
    added = {t.id for t in TemplateLibrary(settings.data_dir).all()}
    admin.post("/admin/templates/en.sms.reminder.ui_test/retire",
               data={"csrf_token": token})
    retired = TemplateLibrary(settings.data_dir).retired
    admin.post("/admin/templates/en.sms.reminder.ui_test/restore",
               data={"csrf_token": token})

    assert "en.sms.reminder.ui_test" in added
    assert retired == {"en.sms.reminder.ui_test"}
    assert TemplateLibrary(settings.data_dir).retired == set()


def test_a_broken_rule_pack_is_refused_with_its_problems(admin: FlaskClient) -> None:
    response = admin.post("/admin/rules/validate", data={
        "csrf_token": csrf(admin, "/admin/rules"),
        "pack": _file("pack: broken\nrules: [not, a, mapping\n", "broken.yaml")},
        content_type="multipart/form-data")

    assert response.status_code == 422
    assert "would be refused" in response.get_data(as_text=True)


def test_a_valid_pack_needs_a_packs_directory_to_be_activated(admin: FlaskClient) -> None:
    example = (DEFAULT_PACKS_DIR / "company.example.yaml").read_text("utf-8")
    token = csrf(admin, "/admin/rules")

    checked = admin.post("/admin/rules/validate", data={
        "csrf_token": token, "pack": _file(example, "company.yaml")},
        content_type="multipart/form-data")
    activated = admin.post("/admin/rules/validate", data={
        "csrf_token": token, "activate": "1", "pack": _file(example, "company.yaml")},
        content_type="multipart/form-data")

    assert checked.status_code == 200
    assert "The pack is valid. It is not active yet." in checked.get_data(as_text=True)
    assert activated.status_code == 500
    assert "COPILOT_RULE_PACKS_DIR" in activated.get_data(as_text=True)


def test_a_valid_pack_is_activated_into_the_packs_directory(
    tmp_path: Path, settings: Settings
) -> None:
    packs = tmp_path / "packs"
    app = make_app(settings.model_copy(update={"rule_packs_dir": packs}))
    client = app.test_client()
    sign_in(client, "admin")
    example = (DEFAULT_PACKS_DIR / "company.example.yaml").read_text("utf-8")

    response = client.post("/admin/rules/validate", data={
        "csrf_token": csrf(client, "/admin/rules"), "activate": "1",
        "pack": _file(example, "company.yaml")}, content_type="multipart/form-data")

    assert "The pack is valid and active." in response.get_data(as_text=True)
    assert (packs / "company.yaml").exists()
    names = {p["name"]: p["active"] for p in services(app).compliance.packs}
    assert names.get("company.example") is True
    assert "company.example" in client.get("/admin/rules").get_data(as_text=True)


def test_connector_status_is_shown(admin: FlaskClient) -> None:
    page = admin.get("/admin/connector").get_data(as_text=True)

    assert "working" in page and "debtors, seeded" in page


def test_audit_log_verifies_exports_and_notices_tampering(
    app: Flask, admin: FlaskClient
) -> None:
    verified = admin.get("/admin/audit?verify=1").get_data(as_text=True)
    exported = admin.get("/admin/audit.csv")
    with app.app_context(), database().session() as session:
        session.execute(text("UPDATE audit_log SET actor = 'mallory' WHERE id = 1"))
    broken = admin.get("/admin/audit?verify=1").get_data(as_text=True)

    assert "The chain verifies" in verified
    assert exported.headers["Content-Disposition"].startswith("attachment")
    assert exported.get_data(as_text=True).startswith("id,at,actor,action")
    assert "auth.login" in exported.get_data(as_text=True)
    assert "The chain is broken at entry 1" in broken


def test_policy_upload_versions_diff_and_restore(settings: Settings) -> None:
    from copilot.knowledge import KnowledgeBase

    app = make_app(settings, knowledge=KnowledgeBase(settings))
    client = app.test_client()
    sign_in(client, "admin")
    token = csrf(client, "/admin/policies")

    for body in (POLICY_V1, POLICY_V2):
        client.post("/admin/policies", data={
            "csrf_token": token, "document": _file(body, "refunds.md")},
            content_type="multipart/form-data")
    listing = client.get("/admin/policies").get_data(as_text=True)
    diff = client.get("/admin/policies/refunds.md/diff?v1=1&v2=2").get_data(as_text=True)
    client.post("/admin/policies/refunds.md/restore", data={"csrf_token": token,
                                                         "version": "1"})

    assert "v.1" in listing and "v.2" in listing
    assert "within 30 days" in diff and "within 10 days" in diff
    documents = {d.doc: d for d in services(app).knowledge.list_documents()}
    assert documents["refunds.md"].active_version == 1


def test_a_disabled_user_loses_an_open_session_at_once(app: Flask, admin: FlaskClient) -> None:
    lead = app.test_client()
    sign_in(lead, "lead")
    assert lead.get("/queue").status_code == 200
    page = admin.get("/admin/users").get_data(as_text=True)
    lead_id = re.search(r'/admin/users/(\d+)/disable"[^>]*>\s*<input[^>]*>\s*'
                        r'<button[^>]*lead@demo\.example', page)
    assert lead_id, "the lead has a disable button"

    admin.post(f"/admin/users/{lead_id.group(1)}/disable",
               data={"csrf_token": csrf(admin, "/admin/users")})
    queue = lead.get("/queue")
    sidebar = lead.get("/sidebar")

    assert queue.status_code == 302 and "/login" in queue.headers["Location"]
    # Not quietly signed in again as the demo agent either.
    assert sidebar.status_code == 302 and "/login" in sidebar.headers["Location"]
