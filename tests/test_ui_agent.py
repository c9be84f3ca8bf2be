"""The agent's sidebar through the test client: tools, composer, streaming, submit."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from flask import Flask
from flask.testing import FlaskClient
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage

from copilot.config import Settings
from copilot.web.services import services
from copilot.workflow import drafts as workflow
from tests.ui_support import (
    add_agent,
    compose,
    csrf,
    draft_text,
    events_of,
    make_app,
    record,
    sign_in,
    submit,
)

WEB = Path(__file__).resolve().parents[1] / "copilot" / "web"
MODEL_TEXT = ("Hello Dwayne, a friendly reminder from Cascade Recovery Group about your "
              "Lakeshore Bank balance. Call us to talk about it.")


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    yield make_app(settings)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client)
    return client


def test_debtor_page_shows_windows_next_steps_composer_and_summary_form(
    client: FlaskClient,
) -> None:
    page = client.get("/sidebar/debtors/D-1001").get_data(as_text=True)

    assert "When contact is allowed" in page
    assert re.search(r'data-channel="letter"[^>]*>\s*<span class="ch">Letter</span>\s*'
                     r'<span class="ok-text">Allowed now', page)
    assert "Next steps" in page and 'class="step"' in page
    assert 'action="/sidebar/debtors/D-1001/drafts"' in page
    assert 'action="/sidebar/debtors/D-1001/summary"' in page


def test_every_form_control_on_the_debtor_page_has_a_label(client: FlaskClient) -> None:
    page = client.get("/sidebar/debtors/D-1001").get_data(as_text=True)

    ids = re.findall(r'<(?:select|textarea|input)(?![^>]*type="hidden")[^>]*\bid="([^"]+)"',
                     page)
    labels = set(re.findall(r'<label for="([^"]+)"', page))
    assert ids, "the page has form controls"
    assert set(ids) <= labels


def test_a_ceased_debtor_shows_no_channel_open(client: FlaskClient) -> None:
    page = client.get("/sidebar/debtors/D-1007").get_data(as_text=True)

    assert "Allowed now</span>" not in page.split("Next steps")[0]
    assert "us.cease_communication" in page


def test_plain_form_draft_is_stored_and_opens_for_editing(
    app: Flask, client: FlaskClient
) -> None:
    draft_id = compose(client, channel="letter")

    stored = record(app, draft_id)
    page = client.get(f"/sidebar/drafts/{draft_id}").get_data(as_text=True)
    assert stored.status == "drafted" and stored.debtor_id == "D-1001"
    assert stored.engine == "template" and stored.template_id
    assert 'data-testid="engine">template' in page
    assert draft_text(client, draft_id) == stored.text
    assert "Submit for approval" in page


def test_streamed_draft_without_a_model_arrives_at_once(
    app: Flask, client: FlaskClient
) -> None:
    response = client.post(
        "/sidebar/debtors/D-1001/drafts",
        data={"channel": "sms", "language": "en", "tone": "warm", "goal": "reminder",
              "csrf_token": csrf(client, "/sidebar/debtors/D-1001")},
        headers={"Accept": "text/event-stream"},
    )

    assert response.mimetype == "text/event-stream"
    events = events_of(response.get_data(as_text=True))
    assert [name for name, _ in events] == ["started", "stored", "done"]
    done = events[-1][1]
    assert record(app, done["draft_id"]).text == done["text"]
    assert 'id="draft-text"' in done["html"] and "csrf_token" in done["html"]


def test_streamed_draft_with_a_model_sends_tokens_after_the_draft_is_stored(
    app: Flask, client: FlaskClient
) -> None:
    model = GenericFakeChatModel(messages=iter([AIMessage(MODEL_TEXT)] * 3))
    services(app).set("model", model)

    response = client.post(
        "/sidebar/debtors/D-1001/drafts",
        data={"channel": "letter", "language": "en", "tone": "warm", "goal": "reminder",
              "csrf_token": csrf(client, "/sidebar/debtors/D-1001")},
        headers={"Accept": "text/event-stream"},
    )

    events = events_of(response.get_data(as_text=True))
    names = [name for name, _ in events]
    assert names[:2] == ["started", "stored"], "stored before the model's first token"
    streamed = "".join(data["text"] for name, data in events if name == "token")
    assert streamed == MODEL_TEXT
    stored = record(app, events[-1][1]["draft_id"])
    assert names[-1] == "done"
    assert [e.action for e in stored.events][:1] == ["draft"]
    if stored.fallback_reason is None:
        assert MODEL_TEXT in stored.text and stored.engine != "template"
    else:
        assert stored.engine == "template"


def test_unknown_channel_is_refused_with_the_reason(client: FlaskClient) -> None:
    response = client.post("/sidebar/debtors/D-1001/drafts", data={
        "channel": "fax", "language": "en",
        "csrf_token": csrf(client, "/sidebar/debtors/D-1001")})

    assert response.status_code == 400
    assert "Unknown channel" in response.get_data(as_text=True)


def test_posting_without_the_csrf_token_is_refused(client: FlaskClient) -> None:
    response = client.post("/sidebar/debtors/D-1001/drafts",
                           data={"channel": "sms", "language": "en"})

    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)


def test_edit_then_submit_moves_the_draft_to_the_queue(
    app: Flask, client: FlaskClient
) -> None:
    draft_id = compose(client, channel="letter")
    edited = draft_text(client, draft_id) + "\nWith kind regards."

    response = submit(client, draft_id, edited)

    assert response.status_code == 303
    stored = record(app, draft_id)
    assert stored.status == "submitted"
    assert stored.text == edited
    assert [e.action for e in stored.events] == ["draft", "edit", "submit"]
    page = client.get(f"/sidebar/drafts/{draft_id}").get_data(as_text=True)
    assert "Submitted" in page and '<textarea id="draft-text"' not in page
    assert "<ins>" in page, "the agent sees their changes to the generated text"


def test_browser_line_ends_are_stored_as_newlines(app: Flask, client: FlaskClient) -> None:
    draft_id = compose(client, channel="letter")
    typed = draft_text(client, draft_id).replace("\n", "\r\n")

    submit(client, draft_id, typed)

    stored = record(app, draft_id)
    assert "\r" not in stored.text
    assert [e.action for e in stored.events] == ["draft", "submit"], "no edit was made"


def test_a_blocked_submit_says_why_and_stays_a_draft(
    app: Flask, client: FlaskClient
) -> None:
    draft_id = compose(client, debtor_id="D-1007", channel="letter")

    response = submit(client, draft_id)

    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert "Not allowed now" in page and "us.cease_communication" in page
    stored = record(app, draft_id)
    assert stored.status == "drafted"
    assert stored.events[-1].action == "submit_blocked"


def test_a_submit_outside_contact_hours_says_when_it_would_be_allowed(
    app: Flask, client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    draft_id = compose(client, debtor_id="D-1001", channel="sms")
    night_in_new_york = datetime(2026, 12, 8, 7, 0, tzinfo=UTC)  # 02:00 EST
    monkeypatch.setattr(workflow, "utcnow", lambda: night_in_new_york)

    response = submit(client, draft_id)

    page = response.get_data(as_text=True)
    assert response.status_code == 409
    assert "us.contact_time" in page
    assert 'data-testid="allowed-from">It would be allowed from 2026-12-08 13:00 UTC' in page


def test_an_agent_cannot_open_or_change_another_agents_draft(
    app: Flask, client: FlaskClient
) -> None:
    draft_id = compose(client)
    email, password = add_agent(app)
    other = app.test_client()
    sign_in(other, email=email, password=password)

    seen = other.get(f"/sidebar/drafts/{draft_id}")
    changed = other.post(f"/sidebar/drafts/{draft_id}", data={
        "csrf_token": csrf(other, "/sidebar/drafts"), "action": "submit", "text": "x"})
    listed = other.get("/sidebar/drafts").get_data(as_text=True)

    assert seen.status_code == 404 and changed.status_code == 404
    assert draft_id not in listed
    assert record(app, draft_id).status == "drafted"


def test_my_drafts_lists_statuses_and_filters(client: FlaskClient) -> None:
    kept = compose(client, channel="letter")
    sent = compose(client, channel="letter", goal="plan_offer")
    submit(client, sent)

    everything = client.get("/sidebar/drafts").get_data(as_text=True)
    submitted = client.get("/sidebar/drafts?status=submitted").get_data(as_text=True)

    assert kept in everything and sent in everything
    assert sent in submitted and kept not in submitted


def test_call_summary_shows_promises_requests_and_dispute(client: FlaskClient) -> None:
    transcript = ("Agent: Good morning, this is Cascade Recovery Group.\n"
                  "Debtor: I can pay 150 dollars this Friday.\n"
                  "Agent: Thank you, I have noted 150 dollars for Friday.\n"
                  "Debtor: And please do not call me at work anymore.\n")
    response = client.post("/sidebar/debtors/D-1001/summary", data={
        "transcript": transcript, "call_date": "2026-12-01", "language": "en",
        "csrf_token": csrf(client, "/sidebar/debtors/D-1001")})

    page = response.get_data(as_text=True)
    assert response.status_code == 200
    assert 'data-testid="promise">150 USD · 2026-12-04' in page
    assert 'data-testid="request">No contact at work' in page
    assert 'data-testid="disputed">No' in page


def test_empty_transcript_is_refused(client: FlaskClient) -> None:
    response = client.post("/sidebar/debtors/D-1001/summary", data={
        "transcript": " ", "csrf_token": csrf(client, "/sidebar/debtors/D-1001")})

    assert response.status_code == 400


def test_the_sidebar_speaks_spanish(client: FlaskClient) -> None:
    page = client.get("/sidebar/debtors/D-1002?lang=es").get_data(as_text=True)

    assert "Redactar un mensaje" in page and "Cuándo se permite contactar" in page


def test_signed_out_users_are_sent_to_sign_in(settings: Settings) -> None:
    app = make_app(settings.model_copy(update={"demo_auto_sign_in": False}))

    response = app.test_client().get("/sidebar/drafts")

    assert response.status_code == 302 and "/login" in response.headers["Location"]


def test_both_catalogues_have_the_same_keys_and_cover_the_templates() -> None:
    english = yaml.safe_load((WEB / "messages" / "en.yaml").read_text("utf-8"))
    spanish = yaml.safe_load((WEB / "messages" / "es.yaml").read_text("utf-8"))
    used = set()
    for template in (WEB / "templates").glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z_.]+[a-z_])'", template.read_text("utf-8")))

    assert set(english) == set(spanish)
    assert used <= set(english), sorted(used - set(english))


def test_next_step_reasons_follow_the_interface_language(client: FlaskClient) -> None:
    page = client.get("/sidebar/debtors/D-1002?lang=es").get_data(as_text=True)

    assert "días de mora" in page
    assert "days past due" not in page


def test_generation_ending_late_never_rewrites_a_submitted_draft(
    app: Flask, client: FlaskClient
) -> None:
    from copilot.domain import Draft
    from copilot.web.auth import database
    from copilot.web.drafting_store import update_generated
    from copilot.workflow.models import DraftRecord

    draft_id = compose(client)
    submitted_text = record(app, draft_id).text
    with app.app_context(), database().session() as late:
        # The generation thread read the row while it was still drafted ...
        seen = late.get(DraftRecord, draft_id)
        assert seen is not None and seen.status == "drafted"
        # ... then the agent submitted the stored text from another tab ...
        assert submit(client, draft_id).status_code == 303
        # ... and only then did the model finish.
        update_generated(late, draft_id, Draft(
            id=draft_id, debtor_id="D-1001", channel="letter", language="en",
            text="Model words that no rule has checked.", engine="late-model"))

    stored = record(app, draft_id)
    assert stored.status == "submitted"
    assert stored.text == submitted_text and stored.engine != "late-model"
