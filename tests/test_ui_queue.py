"""The lead's approval queue through the test client: review, decide, write back."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient

from connectors.demo import DemoConnector
from copilot.config import Settings
from copilot.domain import Activity, WriteResult
from copilot.errors import CRMUnavailableError
from copilot.web.auth import database
from copilot.web.services import services
from copilot.workflow import audit
from copilot.workflow.models import DraftRecord
from tests.ui_support import (
    compose,
    csrf,
    draft_text,
    make_app,
    record,
    set_cease,
    sign_in,
    submit,
)


class FailingCRM(DemoConnector):
    """The demo CRM with its write path down."""

    def write_activity(self, activity: Activity) -> WriteResult:
        raise CRMUnavailableError("The demo CRM is down (test). Try again later.")


@pytest.fixture
def app(settings: Settings) -> Iterator[Flask]:
    yield make_app(settings)


@pytest.fixture
def agent(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, "agent")
    return client


@pytest.fixture
def lead(app: Flask) -> FlaskClient:
    client = app.test_client()
    sign_in(client, "lead")
    return client


def _submitted(agent: FlaskClient, debtor_id: str = "D-1001", channel: str = "letter",
               goal: str = "reminder") -> str:
    draft_id = compose(agent, debtor_id=debtor_id, channel=channel, goal=goal)
    assert submit(agent, draft_id).status_code == 303
    return draft_id


def _post(client: FlaskClient, path: str, **data: str) -> object:
    return client.post(path, data={"csrf_token": csrf(client, "/queue"), **data})


@pytest.mark.parametrize(
    ("method", "path"),
    [("get", "/queue"), ("get", "/queue/drafts/any"),
     ("post", "/queue/drafts/any/approve"), ("post", "/queue/approve-clean"),
     ("post", "/queue/write-backs/retry")],
    ids=["queue page", "draft review", "approve", "bulk approve", "retry write-backs"],
)
def test_an_agent_cannot_use_the_lead_queue(agent: FlaskClient, method: str,
                                            path: str) -> None:
    token = csrf(agent, "/sidebar")
    response = (agent.get(path) if method == "get"
                else agent.post(path, data={"csrf_token": token}))

    assert response.status_code == 403
    assert "for the lead or admin role" in response.get_data(as_text=True)


def test_the_queue_lists_submitted_drafts_and_filters_them(
    agent: FlaskClient, lead: FlaskClient
) -> None:
    letter = _submitted(agent, channel="letter")
    drafted_only = compose(agent, channel="letter", goal="plan_offer")

    everything = lead.get("/queue").get_data(as_text=True)
    emails = lead.get("/queue?channel=email").get_data(as_text=True)
    old = lead.get("/queue?age=1d").get_data(as_text=True)

    assert letter in everything and drafted_only not in everything
    assert letter not in emails
    assert letter not in old


def test_the_queue_filters_by_flag(app: Flask, agent: FlaskClient,
                                   lead: FlaskClient) -> None:
    hardship = _submitted(agent, debtor_id="D-1011", channel="letter")
    plain = _submitted(agent, debtor_id="D-1001", channel="letter")

    page = lead.get("/queue?flag=hardship").get_data(as_text=True)

    assert hardship in page and plain not in page


def test_approval_writes_back_to_the_crm_once(app: Flask, agent: FlaskClient,
                                              lead: FlaskClient) -> None:
    draft_id = _submitted(agent)
    text = record(app, draft_id).text

    response = _post(lead, f"/queue/drafts/{draft_id}/approve", text=text)

    assert response.status_code == 303  # type: ignore[attr-defined]
    stored = record(app, draft_id)
    assert stored.status == "written_back"
    assert stored.write_back is not None and stored.write_back.status == "done"
    written = services(app).connector.activities("D-1001")  # type: ignore[attr-defined]
    assert [a["draft_id"] for a in written] == [draft_id]
    assert written[0]["body"] == text
    page = lead.get(f"/queue/drafts/{draft_id}").get_data(as_text=True)
    assert 'class="wb-done">Done' in page


def test_edit_and_approve_keeps_the_diff_and_sends_the_edit(
    app: Flask, agent: FlaskClient, lead: FlaskClient
) -> None:
    draft_id = _submitted(agent)
    edited = record(app, draft_id).text.replace("Dear", "Hello", 1) + "\nCall us today."

    _post(lead, f"/queue/drafts/{draft_id}/approve", text=edited)

    stored = record(app, draft_id)
    approval = next(e for e in stored.events if e.action == "edit_and_approve")
    assert approval.diff and "+Call us today." in approval.diff
    written = services(app).connector.activities("D-1001")  # type: ignore[attr-defined]
    assert written[-1]["body"] == edited
    page = lead.get(f"/queue/drafts/{draft_id}").get_data(as_text=True)
    assert "<ins>" in page and "<del>" in page, "the lead sees the word diff"


def test_a_blocked_approval_explains_itself_and_writes_nothing(
    app: Flask, agent: FlaskClient, lead: FlaskClient
) -> None:
    draft_id = _submitted(agent)
    set_cease(app, "D-1001")  # the debtor asks the CRM to stop contact after submit

    response = _post(lead, f"/queue/drafts/{draft_id}/approve",
                     text=record(app, draft_id).text)

    page = response.get_data(as_text=True)  # type: ignore[attr-defined]
    assert response.status_code == 409  # type: ignore[attr-defined]
    assert "Not allowed now" in page and "us.cease_communication" in page
    stored = record(app, draft_id)
    assert stored.status == "submitted"
    assert stored.events[-1].action == "approval_blocked"
    assert services(app).connector.activities("D-1001") == []  # type: ignore[attr-defined]


def test_request_changes_returns_the_draft_with_the_reason(
    app: Flask, agent: FlaskClient, lead: FlaskClient
) -> None:
    draft_id = _submitted(agent)

    _post(lead, f"/queue/drafts/{draft_id}/request-changes",
          reason="Mention the payment plan option.")

    assert record(app, draft_id).status == "changes_requested"
    page = agent.get(f"/sidebar/drafts/{draft_id}").get_data(as_text=True)
    assert "A lead asked for changes: Mention the payment plan option." in page
    assert submit(agent, draft_id, draft_text(agent, draft_id) + " Plans exist.")\
        .status_code == 303


def test_reject_needs_a_reason(app: Flask, agent: FlaskClient, lead: FlaskClient) -> None:
    draft_id = _submitted(agent)

    empty = _post(lead, f"/queue/drafts/{draft_id}/reject", reason="  ")
    given = _post(lead, f"/queue/drafts/{draft_id}/reject", reason="Wrong debtor.")

    assert empty.status_code == 400  # type: ignore[attr-defined]
    assert given.status_code == 303  # type: ignore[attr-defined]
    assert record(app, draft_id).status == "rejected"


def test_bulk_approve_takes_only_clean_drafts(
    app: Flask, agent: FlaskClient, lead: FlaskClient
) -> None:
    clean = [_submitted(agent, goal="reminder"), _submitted(agent, goal="plan_offer")]
    warned = _submitted(agent, goal="settlement")
    with app.app_context(), database().session() as session:
        row = session.get(DraftRecord, warned)
        assert row is not None
        row.violations = [{"rule": "company.tone", "severity": "warn",
                           "message": "Check the tone."}]

    page = lead.get("/queue").get_data(as_text=True)
    response = lead.post("/queue/approve-clean", data={
        "csrf_token": csrf(lead, "/queue"), "draft_id": [*clean, warned]})

    assert f'value="{warned}"' not in page, "a draft with findings has no checkbox"
    assert response.status_code == 303
    assert [record(app, d).status for d in clean] == ["written_back"] * 2
    assert record(app, warned).status == "submitted"
    followed = lead.get("/queue").get_data(as_text=True)
    assert "2 approved, 2 written to the CRM, 1 skipped" in followed


def test_a_failed_write_back_shows_and_can_be_retried(
    app: Flask, agent: FlaskClient, lead: FlaskClient, settings: Settings
) -> None:
    draft_id = _submitted(agent)
    working = services(app).connector
    services(app).connector = FailingCRM(settings.data_dir / "demo_crm.sqlite")

    _post(lead, f"/queue/drafts/{draft_id}/approve", text=record(app, draft_id).text)

    queue_page = lead.get("/queue").get_data(as_text=True)
    assert record(app, draft_id).status == "write_back_failed"
    assert "The demo CRM is down (test)" in queue_page and "Retry now" in queue_page

    services(app).connector = working
    _post(lead, f"/queue/drafts/{draft_id}/write-back")

    stored = record(app, draft_id)
    assert stored.status == "written_back"
    assert stored.write_back is not None and stored.write_back.attempts == 2
    with app.app_context(), database().session() as session:
        assert audit.verify(session).ok


def test_the_background_retrier_lands_a_failed_write_back(
    app: Flask, agent: FlaskClient, lead: FlaskClient, settings: Settings
) -> None:
    import time
    from datetime import UTC, datetime, timedelta

    from copilot.web.retrier import WriteBackRetrier
    from copilot.workflow.models import WriteBack

    draft_id = _submitted(agent)
    working = services(app).connector
    services(app).connector = FailingCRM(settings.data_dir / "demo_crm.sqlite")
    _post(lead, f"/queue/drafts/{draft_id}/approve", text=record(app, draft_id).text)
    assert record(app, draft_id).status == "write_back_failed"
    services(app).connector = working
    with app.app_context(), database().session() as session:
        job = session.query(WriteBack).filter_by(draft_id=draft_id).one()
        job.next_attempt_at = datetime.now(UTC) - timedelta(seconds=1)

    retrier = WriteBackRetrier(app, interval_s=0.05).start()
    try:
        deadline = time.monotonic() + 20
        while record(app, draft_id).status != "written_back":
            assert time.monotonic() < deadline, "the retrier never landed the write-back"
            time.sleep(0.05)
    finally:
        retrier.stop()

    activities = working.activities("D-1001")  # type: ignore[attr-defined]
    assert sum(1 for a in activities if draft_id in str(a)) == 1


@pytest.mark.parametrize(
    ("target", "expected"),
    [("/queue", "/queue"), ("/\t/evil.example", None), ("//evil.example", None)],
    ids=["back to the queue", "a tab trick goes to the review", "another site is refused"],
)
def test_retry_now_returns_only_to_a_local_page(
    app: Flask, agent: FlaskClient, lead: FlaskClient, target: str, expected: str | None
) -> None:
    draft_id = _submitted(agent)
    _post(lead, f"/queue/drafts/{draft_id}/approve", text=record(app, draft_id).text)

    response = lead.post(f"/queue/drafts/{draft_id}/write-back",
                         data={"csrf_token": csrf(lead, "/queue"), "next": target})

    assert response.status_code == 303
    assert response.headers["Location"] == (expected or f"/queue/drafts/{draft_id}")


def test_retry_now_while_another_request_writes_sends_nothing_and_says_so(
    app: Flask, agent: FlaskClient, lead: FlaskClient, settings: Settings
) -> None:
    from datetime import UTC, datetime, timedelta

    from copilot.workflow.models import WriteBack

    draft_id = _submitted(agent)
    working = services(app).connector
    services(app).connector = FailingCRM(settings.data_dir / "demo_crm.sqlite")
    _post(lead, f"/queue/drafts/{draft_id}/approve", text=record(app, draft_id).text)
    services(app).connector = working
    with app.app_context(), database().session() as session:
        job = session.query(WriteBack).filter_by(draft_id=draft_id).one()
        job.status = "sending"  # another worker's claim, still fresh
        job.next_attempt_at = datetime.now(UTC) + timedelta(minutes=4)

    lead.post(f"/queue/drafts/{draft_id}/write-back",
              data={"csrf_token": csrf(lead, "/queue")})
    page = lead.get(f"/queue/drafts/{draft_id}").get_data(as_text=True)

    assert "writing this draft to the CRM right now" in page
    assert record(app, draft_id).write_back.attempts == 1  # type: ignore[union-attr]
    activities = working.activities("D-1001")  # type: ignore[attr-defined]
    assert not any(draft_id in str(a) for a in activities)


def test_bulk_approve_skips_a_draft_the_crm_cannot_serve_and_writes_the_rest(
    app: Flask, agent: FlaskClient, lead: FlaskClient, settings: Settings
) -> None:
    first = _submitted(agent, goal="reminder")
    second = _submitted(agent, goal="plan_offer")
    working = services(app).connector

    class OutageOnSecondRead(DemoConnector):
        reads = 0

        def fetch_context(self, debtor_id: str):  # type: ignore[no-untyped-def]
            OutageOnSecondRead.reads += 1
            if OutageOnSecondRead.reads == 2:
                raise CRMUnavailableError("The demo CRM is down (test).")
            return working.fetch_context(debtor_id)

    services(app).connector = OutageOnSecondRead(settings.data_dir / "demo_crm.sqlite")
    response = lead.post("/queue/approve-clean", data={
        "csrf_token": csrf(lead, "/queue"), "draft_id": [first, second]})

    assert response.status_code == 303
    assert record(app, first).status == "written_back"
    assert record(app, second).status == "submitted"
    assert "1 approved, 1 written to the CRM, 1 skipped" in lead.get("/queue").get_data(
        as_text=True)
