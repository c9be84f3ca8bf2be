"""The loop in Chromium against an emulated CRM: HubSpot's API on loopback.

The app uses the real HubSpot connector (hubspot-api-client) pointed at the emulator in
tests/emulators/hubspot.py. The policy index is left out here to keep the module fast;
citations are covered by the demo-CRM browser tests.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from copilot.config import Settings
from copilot.web.auth import DEMO_USERS, database
from copilot.web.services import services
from copilot.workflow import users
from server import create_app
from tests.e2e.conftest import LiveApp
from tests.emulators.hubspot import ACCESS_TOKEN, CLIENT_SECRET, HubSpotEmulator

pytestmark = pytest.mark.browser

DEBTOR = "101"  # Dana Whitfield, Chicago, in the emulator's seed


@pytest.fixture(scope="module")
def emulator() -> Iterator[HubSpotEmulator]:
    crm = HubSpotEmulator().start()
    try:
        yield crm
    finally:
        crm.stop()


@pytest.fixture(scope="module")
def live_app(tmp_path_factory: pytest.TempPathFactory,
             emulator: HubSpotEmulator) -> Iterator[LiveApp]:
    """The app wired to the HubSpot emulator, served on a free loopback port."""
    from werkzeug.serving import make_server

    with pytest.MonkeyPatch.context() as env:
        env.setenv("HUBSPOT_TOKEN", ACCESS_TOKEN)
        env.setenv("HUBSPOT_CLIENT_SECRET", CLIENT_SECRET)
        settings = Settings(
            data_dir=tmp_path_factory.mktemp("e2e-hubspot") / "data", connector="hubspot",
            hubspot_base_url=emulator.url, crm_timeout_s=5.0, crm_max_retries=0,
        )
        app = create_app({"TESTING": False}, settings=settings)
        services(app).set("knowledge", None)
        with app.app_context(), database().session() as session:
            for email, name, role, password in DEMO_USERS[:2]:
                users.add_user(session, email=email, name=name, role=role,
                               password=password)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield LiveApp(f"http://127.0.0.1:{server.server_port}", app)
        finally:
            server.shutdown()
            thread.join(timeout=10)
            services(app).close()


def test_an_approved_draft_reaches_hubspot(
    signed_in: Callable[..., Any], live_app: LiveApp, emulator: HubSpotEmulator,
    shoot: Callable[[Any, str], Any],
) -> None:
    agent = signed_in("agent", width=360)
    agent.goto(f"{live_app.url}/sidebar/debtors/{DEBTOR}")
    assert "Dana Whitfield" in agent.inner_text("h1")
    agent.select_option("#channel", "letter")
    agent.click("#composer form button[type=submit]")
    panel = agent.locator("#draft-result #draft-panel")
    panel.wait_for()
    draft_id = panel.get_attribute("data-draft-id")
    agent.fill("#draft-text", agent.input_value("#draft-text") + "\nRef HS-E2E-7.")
    agent.click("button[name=action][value=submit]")
    agent.wait_for_url(re.compile(rf"/sidebar/drafts/{draft_id}$"))
    shoot(agent, "20-hubspot-agent-submitted")

    lead = signed_in("lead")
    lead.goto(f"{live_app.url}/queue/drafts/{draft_id}")
    lead.click("form[action$='/approve'] button[type=submit]")
    lead.wait_for_url(re.compile(rf"/queue/drafts/{draft_id}$"))
    shoot(lead, "21-hubspot-lead-written-back")

    assert lead.inner_text("[data-testid=write-back] .wb-done") == "Done"
    stored = json.dumps(emulator.activities(DEBTOR))
    assert stored.count("Ref HS-E2E-7.") == 1
