"""Helpers shared by the Flask test-client tests of the sidebar, lead queue and admin."""

from __future__ import annotations

import html
import json
import re
import sqlite3
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from copilot.config import Settings
from copilot.web.auth import DEMO_USERS, database, ensure_demo_users
from copilot.web.services import services
from copilot.workflow import users
from copilot.workflow.models import DraftRecord
from server import create_app

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def make_app(settings: Settings, *, knowledge: Any = None) -> Flask:
    """The app with demo users; *knowledge* replaces the policy knowledge base."""
    app = create_app({"TESTING": True}, settings=settings)
    ensure_demo_users(app)
    services(app).set("knowledge", knowledge)
    return app


def csrf(client: FlaskClient, path: str = "/login") -> str:
    """The CSRF token the page at *path* carries."""
    match = CSRF.search(client.get(path).get_data(as_text=True))
    assert match, f"{path} has a CSRF field"
    return match.group(1)


def sign_in(client: FlaskClient, role: str = "agent", email: str | None = None,
            password: str | None = None) -> None:
    """Sign in as the demo user of *role* (or the given account)."""
    demo = next(u for u in DEMO_USERS if u[2] == role)
    response = client.post("/login", data={
        "email": email or demo[0], "password": password or demo[3],
        "csrf_token": csrf(client),
    })
    assert response.status_code == 302, response.get_data(as_text=True)


def add_agent(app: Flask, email: str = "second@demo.example") -> tuple[str, str]:
    """A second agent account; returns (email, password)."""
    password = "second-agent-2026"
    with app.app_context(), database().session() as session:
        users.add_user(session, email=email, name="Sam Second", role="agent",
                       password=password)
    return email, password


def compose(client: FlaskClient, debtor_id: str = "D-1001", channel: str = "letter",
            language: str = "en", goal: str = "reminder", tone: str = "neutral") -> str:
    """Draft through the plain form; returns the new draft's id."""
    token = csrf(client, f"/sidebar/debtors/{debtor_id}")
    response = client.post(f"/sidebar/debtors/{debtor_id}/drafts", data={
        "channel": channel, "language": language, "goal": goal, "tone": tone,
        "csrf_token": token,
    })
    assert response.status_code == 303, response.get_data(as_text=True)[-2000:]
    return str(response.headers["Location"]).rsplit("/", 1)[1]


def draft_text(client: FlaskClient, draft_id: str) -> str:
    """The text in the agent's editor for a draft."""
    page = client.get(f"/sidebar/drafts/{draft_id}").get_data(as_text=True)
    match = re.search(r'<textarea id="draft-text"[^>]*>(.*?)</textarea>', page, re.S)
    assert match, "the draft page has an editor"
    return html.unescape(match.group(1))


def submit(client: FlaskClient, draft_id: str, text: str | None = None) -> Any:
    """Submit a draft for approval (with its current or a new text)."""
    return client.post(f"/sidebar/drafts/{draft_id}", data={
        "csrf_token": csrf(client, f"/sidebar/drafts/{draft_id}"), "action": "submit",
        "text": text if text is not None else draft_text(client, draft_id),
    })


def record(app: Flask, draft_id: str) -> DraftRecord:
    """The stored draft (detached, with its events and write-back loaded)."""
    with app.app_context(), database().session() as session:
        found = session.get(DraftRecord, draft_id)
        assert found is not None
        _ = list(found.events), found.write_back
        return found


def set_cease(app: Flask, debtor_id: str) -> None:
    """Record a cease request for the debtor directly in the demo CRM's SQLite file."""
    path = services(app).connector.path  # type: ignore[attr-defined]
    with sqlite3.connect(path) as connection:
        row = connection.execute("SELECT debtor_json FROM debtors WHERE id = ?",
                                 (debtor_id,)).fetchone()
        debtor = json.loads(row[0])
        debtor["cease_requested"] = True
        connection.execute("UPDATE debtors SET debtor_json = ? WHERE id = ?",
                           (json.dumps(debtor), debtor_id))


def events_of(body: str) -> list[tuple[str, dict[str, Any]]]:
    """Parse a server-sent events body into (event, data) pairs."""
    found = []
    for block in body.strip().split("\n\n"):
        name = re.search(r"^event: (.+)$", block, re.M)
        data = re.search(r"^data: (.+)$", block, re.M)
        assert name and data, block
        found.append((name.group(1), json.loads(data.group(1))))
    return found
