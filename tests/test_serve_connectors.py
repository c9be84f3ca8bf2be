"""`copilot serve --connector salesforce|hubspot|zoho|demo`: the app over each CRM.

Each emulated CRM runs on loopback; the app is built by ``create_app(settings=...)`` with
that connector, exactly as ``copilot serve`` builds it, and a signed-in agent opens the
work queue, a search, a debtor's page and the JSON API. A CRM outage must reach the agent
as one clear error (503 ``crm_unavailable``), never as a traceback.
"""

from __future__ import annotations

import html
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from copilot.cli import main
from copilot.config import Settings
from copilot.web.auth import ensure_demo_users
from copilot.workflow import users
from server import create_app
from tests.crm_apps import add_user, crm_app, running_crm, sign_in

AGENT = "agent@example.com"
CRMS = pytest.mark.parametrize("name", ["salesforce", "hubspot", "zoho"])


@CRMS
def test_the_sidebar_reads_the_crm(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_crm(name, tmp_path) as crm:
        app = crm_app(crm, tmp_path, monkeypatch)
        add_user(app, AGENT)
        client = app.test_client()
        sign_in(client, AGENT)

        queue_json = client.get("/api/debtors?limit=50").get_json()
        queue_page = client.get("/sidebar")
        debtor_page = client.get(f"/sidebar/debtors/{crm.debtor_id}")
        debtor_json = client.get(f"/api/debtors/{crm.debtor_id}").get_json()
        last_name = crm.debtor_name.split()[-1]
        found = client.get(f"/api/debtors?q={last_name}").get_json()

    assert queue_page.status_code == 200
    shown = html.unescape(queue_page.get_data(as_text=True))
    assert queue_json["debtors"], "the emulator's work queue is not empty"
    for summary in queue_json["debtors"]:
        assert summary["name"] in shown
        assert f"/sidebar/debtors/{summary['id']}" in shown

    assert debtor_page.status_code == 200
    page = html.unescape(debtor_page.get_data(as_text=True))
    assert crm.debtor_name in page
    assert crm.balance_shown in page

    assert debtor_json["debtor"]["id"] == crm.debtor_id
    assert debtor_json["account"]["balance"]["amount"] == crm.balance
    assert crm.debtor_id in [d["id"] for d in found["debtors"]]


@CRMS
def test_a_crm_outage_is_one_clear_error(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with running_crm(name, tmp_path) as crm:
        app = crm_app(crm, tmp_path, monkeypatch)
        add_user(app, AGENT)
        client = app.test_client()
        sign_in(client, AGENT)
        assert client.get(f"/api/debtors/{crm.debtor_id}").status_code == 200

        crm.emulator.inject("server_error", times=20)
        page = client.get(f"/sidebar/debtors/{crm.debtor_id}")
        api = client.get(f"/api/debtors/{crm.debtor_id}")

    assert page.status_code == 503
    text = page.get_data(as_text=True)
    assert 'role="alert"' in text
    assert "Traceback" not in text and "Error:" not in text
    assert api.status_code == 503
    error = api.get_json()["error"]
    assert error["code"] == "crm_unavailable" and error["status"] == 503
    assert "Traceback" not in error["message"]


def test_the_demo_crm_needs_no_emulator(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024,
                                                         parallelism=1))
    app = create_app({"TESTING": True}, settings=settings.model_copy(
        update={"connector": "demo"}))
    ensure_demo_users(app)
    client = app.test_client()
    page = client.get("/login").get_data(as_text=True)
    assert "agent@demo.example" in page
    sign_in(client, "agent@demo.example", "demo-agent-2026")

    queue = client.get("/api/debtors?limit=5").get_json()["debtors"]
    first = queue[0]
    debtor_page = client.get(f"/sidebar/debtors/{first['id']}")
    debtor_json = client.get(f"/api/debtors/{first['id']}").get_json()

    assert client.get("/sidebar").status_code == 200
    assert debtor_page.status_code == 200
    assert debtor_json["account"]["balance"] == first["balance"]
    assert first["name"] in html.unescape(debtor_page.get_data(as_text=True))


def test_serve_refuses_an_unknown_connector_in_one_sentence() -> None:
    result = CliRunner().invoke(main, ["serve", "--connector", "nosuch"])

    assert result.exit_code == 2
    assert "No CRM connector named 'nosuch' is installed" in result.output
    assert "demo" in result.output and "salesforce" in result.output
    assert "Traceback" not in result.output
