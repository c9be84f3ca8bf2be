"""The JSON API with API tokens: draft, submit, approve, write back, and the rest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from copilot.config import Settings
from copilot.web.auth import database
from copilot.workflow import users
from tests.ui_support import make_app, set_cease

SHARED = Path(__file__).resolve().parents[2] / "shared" / "eval"


@pytest.fixture
def app(settings: Settings) -> Flask:
    return make_app(settings)


def _token(app: Flask, email: str) -> dict[str, str]:
    with app.app_context(), database().session() as session:
        token = users.issue_api_token(session, email)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def agent(app: Flask) -> dict[str, str]:
    return _token(app, "agent@demo.example")


@pytest.fixture
def lead(app: Flask) -> dict[str, str]:
    return _token(app, "lead@demo.example")


def _draft(client: FlaskClient, headers: dict[str, str], debtor_id: str = "D-1001",
           channel: str = "email") -> dict[str, object]:
    response = client.post("/api/drafts", headers=headers, json={
        "debtor_id": debtor_id, "channel": channel, "language": "en",
        "goal": "plan_offer", "tone": "warm"})
    assert response.status_code == 201, response.get_json()
    body: dict[str, object] = response.get_json()
    return body


def test_the_whole_loop_through_the_api(
    app: Flask, agent: dict[str, str], lead: dict[str, str]
) -> None:
    client = app.test_client()

    drafted = _draft(client, agent)
    draft_id = drafted["id"]
    submitted = client.post(f"/api/drafts/{draft_id}/submit", headers=agent, json={})
    approved = client.post(f"/api/drafts/{draft_id}/approve", headers=lead,
                           json={"text": str(drafted["text"]) + "\n\nThank you."})

    assert drafted["status"] == "drafted" and drafted["engine"] == "template"
    assert drafted["checks_passed"] and drafted["text_ok"] is True
    assert submitted.status_code == 200, submitted.get_json()
    body = approved.get_json()
    assert approved.status_code == 200, body
    assert body["status"] == "written_back"
    assert body["write_back"]["status"] == "done"
    assert [e["action"] for e in body["events"]][-2:] == ["edit_and_approve", "write_back"]
    crm = app.extensions["copilot"].connector
    assert any("Thank you." in json.dumps(a) for a in crm.activities("D-1001"))


def test_a_blocked_approval_is_a_409_with_the_rules_and_when(
    app: Flask, agent: dict[str, str], lead: dict[str, str]
) -> None:
    client = app.test_client()
    draft_id = _draft(client, agent)["id"]
    client.post(f"/api/drafts/{draft_id}/submit", headers=agent, json={})
    set_cease(app, "D-1001")

    response = client.post(f"/api/drafts/{draft_id}/approve", headers=lead, json={})

    body = response.get_json()
    assert response.status_code == 409
    assert body["error"]["code"] == "conflict"
    assert "us.cease_communication" in body["error"]["message"]
    rules = [v["rule"] for v in body["error"]["details"]["violations"]]
    assert "us.cease_communication" in rules
    history = client.get(f"/api/drafts/{draft_id}", headers=lead).get_json()
    assert history["status"] == "submitted"
    assert history["events"][-1]["action"] == "approval_blocked"


def test_agents_cannot_approve_or_see_others_drafts(
    app: Flask, agent: dict[str, str], lead: dict[str, str]
) -> None:
    client = app.test_client()
    with app.app_context(), database().session() as session:
        users.add_user(session, email="other@demo.example", name="Other", role="agent",
                       password="other-agent-2026")
    other = _token(app, "other@demo.example")
    draft_id = _draft(client, agent)["id"]
    client.post(f"/api/drafts/{draft_id}/submit", headers=agent, json={})

    assert client.post(f"/api/drafts/{draft_id}/approve", headers=agent,
                       json={}).status_code == 403
    assert client.get(f"/api/drafts/{draft_id}", headers=other).status_code == 404
    assert client.get("/api/drafts", headers=other).get_json()["drafts"] == []
    assert len(client.get("/api/drafts", headers=lead).get_json()["drafts"]) == 1


@pytest.mark.parametrize(
    ("payload", "fragment"),
    [
        ({"debtor_id": "D-1001", "channel": "fax", "language": "en"}, "fax"),
        ({"debtor_id": "D-1001", "channel": "sms"}, "language"),
        ({"debtor_id": "D-9999", "channel": "sms", "language": "en"}, "D-9999"),
    ],
    ids=["unknown channel", "missing language", "unknown debtor"],
)
def test_bad_draft_requests_get_the_json_error_shape(
    app: Flask, agent: dict[str, str], payload: dict[str, str], fragment: str
) -> None:
    response = app.test_client().post("/api/drafts", headers=agent, json=payload)

    body = response.get_json()
    assert response.status_code in (400, 404)
    assert body["error"]["status"] == response.status_code
    assert fragment in body["error"]["message"]


def test_a_non_json_body_is_a_clear_400(app: Flask, agent: dict[str, str]) -> None:
    response = app.test_client().post("/api/drafts", headers=agent, data="hello")

    assert response.status_code == 400
    assert "JSON object" in response.get_json()["error"]["message"]


def test_next_steps_windows_summaries_and_check(app: Flask, agent: dict[str, str]) -> None:
    client = app.test_client()
    case = json.loads((SHARED / "compliance" / "cases.jsonl").read_text().splitlines()[1])

    steps = client.get("/api/debtors/D-1009/next-steps", headers=agent).get_json()
    windows = client.get("/api/debtors/D-1003/contact-windows", headers=agent).get_json()
    summary = client.post("/api/summaries", headers=agent, json={
        "language": "en", "call_date": "2027-03-16", "timezone": "America/Chicago",
        "transcript": "Agent: Can you pay today?\nDebtor: I can pay $200 this Friday."})
    checked = client.post("/api/check", headers=agent, json=case["input"])

    assert steps["steps"][0]["action"] == "send_validation"
    assert windows["channels"]["call"]["allowed_now"] is False
    assert summary.get_json()["promises"] == [
        {"amount": 200, "currency": "USD", "date": "2027-03-19"}
    ]
    assert checked.get_json()["allowed"] is case["expect"]["allowed"]
    assert sorted(v["rule"] for v in checked.get_json()["violations"]) == sorted(
        case["expect"]["violations"])


@pytest.mark.parametrize(
    ("action", "body"),
    [("submit", ["text"]), ("approve", ["text"]), ("submit", {"text": 7}),
     ("approve", "just a string")],
    ids=["submit with a list", "approve with a list", "submit with a number as text",
         "approve with a bare string"],
)
def test_a_submit_or_approve_body_that_is_not_an_object_is_a_400(
    app: Flask, agent: dict[str, str], lead: dict[str, str], action: str, body: object
) -> None:
    client = app.test_client()
    draft_id = _draft(client, agent)["id"]
    if action == "approve":
        client.post(f"/api/drafts/{draft_id}/submit", headers=agent, json={})

    response = client.post(f"/api/drafts/{draft_id}/{action}",
                           headers=agent if action == "submit" else lead, json=body)

    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["status"] == 400
    assert client.get(f"/api/drafts/{draft_id}", headers=lead).get_json()["status"] == (
        "drafted" if action == "submit" else "submitted")


@pytest.mark.parametrize(
    ("action", "body", "status"),
    [("submit", {"text": "Words by someone else."}, 404),
     ("approve", {}, 403), ("reject", {"reason": "No."}, 403),
     ("request-changes", {"reason": "No."}, 403)],
    ids=["another agent cannot edit and submit it", "nor approve it", "nor reject it",
         "nor send it back"],
)
def test_another_agent_cannot_act_on_a_draft_through_the_api(
    app: Flask, agent: dict[str, str], action: str, body: dict[str, str], status: int
) -> None:
    client = app.test_client()
    with app.app_context(), database().session() as session:
        users.add_user(session, email="other@demo.example", name="Other", role="agent",
                       password="other-agent-2026")
    other = _token(app, "other@demo.example")
    drafted = _draft(client, agent)

    response = client.post(f"/api/drafts/{drafted['id']}/{action}", headers=other,
                           json=body)

    assert response.status_code == status
    mine = client.get(f"/api/drafts/{drafted['id']}", headers=agent).get_json()
    assert mine["status"] == "drafted" and mine["text"] == drafted["text"]
