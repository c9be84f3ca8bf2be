"""The web app wired to each emulated CRM, as `copilot serve --connector NAME` wires it.

The app is built by ``create_app(settings=...)`` with the connector named in the settings
and the secrets in the environment variables the settings name, so the connector is the
one ``get_connector`` builds in production, pointed at a running loopback emulator.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from argon2 import PasswordHasher
from flask import Flask
from flask.testing import FlaskClient

from copilot.config import Settings
from copilot.web.auth import database
from copilot.workflow import users
from server import create_app
from tests.emulators import hubspot as hubspot_emulator
from tests.emulators import salesforce as salesforce_emulator
from tests.emulators import zoho as zoho_emulator

ZOHO_WIDGET_KEY = "zoho-widget-key-for-the-embed-tests-0123456789"
PASSWORD = "embedded-agent-2026"
CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@dataclass
class CRM:
    """One emulated CRM and what the tests need to know about its seed data."""

    name: str
    emulator: Any
    debtor_id: str
    debtor_name: str
    balance: str
    balance_shown: str
    settings: dict[str, Any]
    env: dict[str, str]
    client_secret: str = ""


@contextmanager
def running_crm(name: str, tmp_path: Path) -> Iterator[CRM]:
    """Start the emulator of *name* and describe how the app reaches it."""
    if name == "salesforce":
        sf = salesforce_emulator.SalesforceEmulator(tmp_path)
        try:
            yield CRM(
                name,
                sf,
                salesforce_emulator.KNOWN_DEBTOR_ID,
                "John Carter",
                "1240.5",
                "$1,240.50",
                {
                    "salesforce_login_url": sf.base_url,
                    "salesforce_instance_url": sf.base_url,
                },
                {
                    **salesforce_emulator.emulator_env(),
                    "REQUESTS_CA_BUNDLE": str(sf.ca_path),
                },
                salesforce_emulator.CLIENT_SECRET,
            )
        finally:
            sf.stop()
    elif name == "hubspot":
        hs = hubspot_emulator.HubSpotEmulator().start()
        try:
            yield CRM(
                name,
                hs,
                "101",
                "Dana Whitfield",
                "1240.50",
                "$1,240.50",
                {"hubspot_base_url": hs.url},
                {
                    "HUBSPOT_TOKEN": hubspot_emulator.ACCESS_TOKEN,
                    "HUBSPOT_CLIENT_SECRET": hubspot_emulator.CLIENT_SECRET,
                },
                hubspot_emulator.CLIENT_SECRET,
            )
        finally:
            hs.stop()
    elif name == "zoho":
        zo = zoho_emulator.ZohoEmulator().start()
        try:
            yield CRM(
                name,
                zo,
                zoho_emulator.KNOWN_DEBTOR_ID,
                "María Fernanda López",
                "1250000",
                "$1.250.000",
                {"zoho_api_domain": zo.base_url, "zoho_accounts_url": zo.base_url},
                {
                    "ZOHO_CLIENT_ID": zoho_emulator.CLIENT_ID,
                    "ZOHO_CLIENT_SECRET": zoho_emulator.CLIENT_SECRET,
                    "ZOHO_REFRESH_TOKEN": zoho_emulator.REFRESH_TOKEN,
                    "ZOHO_WIDGET_KEY": ZOHO_WIDGET_KEY,
                },
            )
        finally:
            zo.stop()
    else:
        raise ValueError(f"no emulator for {name!r}")


def crm_app(
    crm: CRM, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **overrides: Any
) -> Flask:
    """The app with COPILOT_CONNECTOR=crm.name, pointed at the running emulator."""
    # Cheap password hashes: these tests are about the CRMs, not Argon2's cost.
    monkeypatch.setattr(
        users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    for key, value in crm.env.items():
        monkeypatch.setenv(key, value)
    settings = Settings(
        data_dir=tmp_path / "data",
        connector=crm.name,
        crm_timeout_s=3.0,
        crm_max_retries=0,
        **{**crm.settings, **overrides},
    )
    return create_app({"TESTING": True}, settings=settings)


def add_user(
    app: Flask, email: str, *, role: str = "agent", active: bool = True
) -> None:
    """A local account (disabled when *active* is false)."""
    with app.app_context(), database().session() as session:
        users.add_user(
            session, email=email, name=email.split("@")[0], role=role, password=PASSWORD
        )
        if not active:
            users.disable_user(session, email)


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    """Sign in through the login form."""
    page = client.get("/login").get_data(as_text=True)
    match = CSRF.search(page)
    assert match, "the login page has a CSRF field"
    response = client.post(
        "/login",
        data={"email": email, "password": password, "csrf_token": match.group(1)},
    )
    assert response.status_code == 302, response.get_data(as_text=True)
