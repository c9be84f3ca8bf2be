"""The whole loop in Chromium: an agent drafts, a lead approves, the CRM gets it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from copilot.web.services import services
from tests.e2e.conftest import LiveApp
from tests.ui_support import set_cease

pytestmark = pytest.mark.browser

Shoot = Callable[[Any, str], Path]


def _draft(page: Any, live_app: LiveApp, debtor_id: str, channel: str = "letter",
           goal: str = "reminder") -> str:
    """Draft through the streaming composer; returns the draft id."""
    page.goto(f"{live_app.url}/sidebar/debtors/{debtor_id}")
    page.select_option("#channel", channel)
    page.select_option("#goal", goal)
    page.click("#composer form button[type=submit]")
    panel = page.locator("#draft-result #draft-panel")
    panel.wait_for()
    return str(panel.get_attribute("data-draft-id"))


def _no_horizontal_scroll(page: Any) -> bool:
    return bool(page.evaluate(
        "document.documentElement.scrollWidth <= document.documentElement.clientWidth"))


def test_agent_drafts_lead_edits_and_approves_and_the_crm_and_audit_show_it(
    signed_in: Callable[..., Any], live_app: LiveApp, shoot: Shoot
) -> None:
    agent = signed_in("agent", width=360)
    shoot(agent, "01-agent-work-queue")
    draft_id = _draft(agent, live_app, "D-1001")

    assert agent.locator("#stream-status").inner_text().startswith("The draft is ready")
    assert agent.evaluate("document.activeElement.id") == "draft-h"
    assert agent.locator("#draft-panel .citations li").count() >= 1
    assert "template" in agent.locator("[data-testid=engine]").inner_text()
    shoot(agent, "02-agent-draft-streamed")

    agent.fill("#draft-text", agent.input_value("#draft-text") + "\nKind regards, Alex.")
    agent.click("button[name=action][value=submit]")
    agent.wait_for_url(re.compile(rf"/sidebar/drafts/{draft_id}$"))
    assert "The draft was submitted for approval." in agent.inner_text(".flashes")
    shoot(agent, "03-agent-submitted")

    lead = signed_in("lead")
    lead.goto(f"{live_app.url}/queue")
    row = lead.locator(f"tr[data-draft-id='{draft_id}']")
    assert row.count() == 1
    shoot(lead, "04-lead-queue")
    row.locator("a").click()
    lead.wait_for_url(re.compile(rf"/queue/drafts/{draft_id}$"))
    assert "Kind regards, Alex." in lead.locator(".diff ins").all_inner_texts()[-1]
    lead.fill("#lead-text", lead.input_value("#lead-text") + "\nApproved by the team.")
    shoot(lead, "05-lead-review")
    lead.click("form[action$='/approve'] button[type=submit]")
    lead.wait_for_url(re.compile(rf"/queue/drafts/{draft_id}$"))
    assert "Approved, and written to the CRM." in lead.inner_text(".flashes")
    assert lead.inner_text("[data-testid=write-back] .wb-done") == "Done"
    shoot(lead, "06-lead-approved-written-back")

    written = services(live_app.app).connector.activities("D-1001")  # type: ignore[attr-defined]
    mine = [a for a in written if a["draft_id"] == draft_id]
    assert len(mine) == 1
    assert mine[0]["body"].endswith("Kind regards, Alex.\nApproved by the team.")
    assert "\r" not in mine[0]["body"], "the browser's CRLF line ends are normalised"

    admin = signed_in("admin")
    admin.goto(f"{live_app.url}/admin/audit")
    log = admin.inner_text("table.audit")
    assert "draft.edit_and_approve" in log and "draft.write_back" in log
    assert f"draft:{draft_id}" in log
    admin.click("text=Verify the chain")
    assert admin.inner_text("[data-testid=chain-report]").startswith("The chain verifies")
    shoot(admin, "07-admin-audit-verified")


def test_a_blocked_approval_explains_itself(
    signed_in: Callable[..., Any], live_app: LiveApp, shoot: Shoot
) -> None:
    agent = signed_in("agent")
    draft_id = _draft(agent, live_app, "D-1020")
    agent.click("button[name=action][value=submit]")
    agent.wait_for_url(re.compile(rf"/sidebar/drafts/{draft_id}$"))

    set_cease(live_app.app, "D-1020")  # a cease request reaches the CRM meanwhile
    lead = signed_in("lead")
    lead.goto(f"{live_app.url}/queue/drafts/{draft_id}")
    lead.click("form[action$='/approve'] button[type=submit]")

    alert = lead.locator("#blocked")
    alert.wait_for()
    assert "us.cease_communication" in alert.inner_text()
    assert "Not allowed now" in alert.inner_text()
    assert lead.evaluate("document.activeElement.id") == "blocked"
    shoot(lead, "08-lead-blocked-approval")
    written = services(live_app.app).connector.activities("D-1020")  # type: ignore[attr-defined]
    assert written == []


def test_an_agent_cannot_open_the_lead_queue(
    signed_in: Callable[..., Any], live_app: LiveApp, shoot: Shoot
) -> None:
    agent = signed_in("agent")

    response = agent.goto(f"{live_app.url}/queue")

    assert response.status == 403
    assert "for the lead or admin role" in agent.inner_text("main")
    assert agent.locator("nav.mainnav a", has_text="Approvals").count() == 0
    shoot(agent, "09-agent-forbidden-queue")


@pytest.mark.parametrize(
    "path",
    ["/sidebar", "/sidebar/debtors/D-1011", "/sidebar/debtors/D-1002?lang=es",
     "/sidebar/drafts"],
    ids=["work queue", "debtor with hardship", "colombian debtor in spanish",
         "my drafts"],
)
def test_the_sidebar_fits_360_pixels(
    signed_in: Callable[..., Any], live_app: LiveApp, shoot: Shoot, path: str
) -> None:
    agent = signed_in("agent", width=360, height=740)

    agent.goto(f"{live_app.url}{path}")

    assert _no_horizontal_scroll(agent), f"{path} scrolls sideways at 360 px"
    name = re.sub(r"[^a-z0-9]+", "-", path.lower()).strip("-")
    shoot(agent, f"10-narrow-{name}")


def test_the_composer_works_from_the_keyboard(
    signed_in: Callable[..., Any], live_app: LiveApp
) -> None:
    agent = signed_in("agent", width=360)
    agent.goto(f"{live_app.url}/sidebar/debtors/D-1014")

    agent.focus("#channel")
    agent.keyboard.press("End")  # the last channel: call script
    for _ in range(4):
        agent.keyboard.press("Tab")
    assert agent.evaluate("document.activeElement.textContent.trim()") == "Draft"
    agent.keyboard.press("Enter")

    agent.locator("#draft-result #draft-panel").wait_for()
    assert agent.evaluate("document.activeElement.id") == "draft-h"
    assert "Call script" in agent.inner_text("#draft-h")


@pytest.mark.parametrize(
    "path",
    ["/admin", "/admin/policies", "/admin/rules", "/admin/templates", "/admin/users",
     "/admin/connector"],
    ids=["overview", "policies", "rule packs", "templates", "users", "connector"],
)
def test_admin_pages_render_in_the_browser(
    signed_in: Callable[..., Any], live_app: LiveApp, shoot: Shoot, path: str
) -> None:
    admin = signed_in("admin")

    response = admin.goto(f"{live_app.url}{path}")

    assert response.status == 200
    assert admin.locator("h1").count() == 1
    shoot(admin, f"11-admin-{path.strip('/').replace('/', '-')}")


def test_a_newcomer_lands_in_the_sidebar_as_the_demo_agent(
    browser: Any, live_app: LiveApp, shoot: Shoot
) -> None:
    context = browser.new_context(viewport={"width": 360, "height": 800})
    try:
        page = context.new_page()
        page.goto(f"{live_app.url}/")

        page.wait_for_url(f"{live_app.url}/sidebar")
        assert "Signed in as Alex Agent (agent)" in page.content()
        shoot(page, "00-newcomer-lands-signed-in")
    finally:
        context.close()
