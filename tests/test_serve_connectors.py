"""`copilot serve --connector salesforce|hubspot|zoho|demo`: the app over each CRM.

Each emulated CRM runs on loopback; the app is built by ``create_app(settings=...)`` with
that connector, exactly as ``copilot serve`` builds it, and a signed-in agent opens the
work queue, a search, a debtor's page and the JSON API. A CRM outage must reach the agent
as one clear error (503 ``crm_unavailable``), never as a traceback.
"""

from __future__ import annotations

import html
import logging
import os
import re
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from click.testing import CliRunner

from copilot.cli import main
from copilot.config import Settings
from copilot.web.auth import ensure_demo_users
from copilot.workflow import users
from copilot.workflow.db import Database
from server import create_app
from tests.crm_apps import PASSWORD, add_user, crm_app, running_crm, sign_in

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
    monkeypatch.setattr(
        users, "_hasher", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    app = create_app(
        {"TESTING": True}, settings=settings.model_copy(update={"connector": "demo"})
    )
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.slow
def test_copilot_serve_runs_on_waitress_against_hubspot(tmp_path: Path) -> None:
    port = _free_port()
    data_dir = tmp_path / "data"
    with running_crm("hubspot", tmp_path) as crm:
        database = Database.from_settings(Settings(data_dir=data_dir))
        with database.session() as session:
            users.add_user(
                session, email=AGENT, name="Agent", role="agent", password=PASSWORD
            )
        database.dispose()
        env = {
            **os.environ,
            **crm.env,
            "COPILOT_DATA_DIR": str(data_dir),
            "COPILOT_HUBSPOT_BASE_URL": crm.emulator.url,
        }
        env.pop("COPILOT_CONNECTOR", None)
        command = [
            str(Path(sys.executable).with_name("copilot")),
            "serve",
            "--connector",
            "hubspot",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
        # cwd is not the repository, so the installed package must provide `server`.
        server = subprocess.Popen(
            command,
            cwd=tmp_path,
            env=env,  # noqa: S603
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            base = f"http://127.0.0.1:{port}"
            with httpx.Client(base_url=base, trust_env=False, timeout=10) as client:
                health = _wait_until_up(client, server)
                login = client.get("/login").text
                token = re.search(r'name="csrf_token" value="([^"]+)"', login)
                assert token
                signed_in = client.post(
                    "/login",
                    data={
                        "email": AGENT,
                        "password": PASSWORD,
                        "csrf_token": token.group(1),
                    },
                )
                page = client.get(f"/sidebar/debtors/{crm.debtor_id}")
        finally:
            server.terminate()
            output = server.communicate(timeout=15)[0].decode()

    assert health == {"connector": "hubspot", "llm_provider": "none", "status": "ok"}
    assert signed_in.status_code == 302
    assert page.status_code == 200
    assert crm.balance_shown in page.text
    assert "Traceback" not in output
    assert f"http://127.0.0.1:{port}/sidebar (CRM: hubspot" in output


def _wait_until_up(client: httpx.Client, server: subprocess.Popen[bytes]) -> object:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if server.poll() is not None:
            output = server.stdout.read().decode() if server.stdout else ""
            raise AssertionError(f"copilot serve exited early:\n{output[-3000:]}")
        try:
            return client.get("/api/health").json()
        except httpx.TransportError:
            time.sleep(0.25)
    raise AssertionError("copilot serve did not answer within 120 s")


@pytest.mark.parametrize(
    ("configured", "expected"),
    [(logging.NOTSET, logging.WARNING), (logging.DEBUG, logging.DEBUG)],
    ids=[
        "unconfigured http loggers are quieted to WARNING",
        "a level set by the operator's logging config is kept",
    ],
)
def test_http_client_loggers_do_not_log_urls_at_info(
    configured: int, expected: int, settings: Settings
) -> None:
    loggers = [logging.getLogger(name) for name in ("httpx", "urllib3")]
    before = [logger.level for logger in loggers]
    try:
        for logger in loggers:
            logger.setLevel(configured)

        create_app({"TESTING": True}, settings=settings)

        assert [logger.level for logger in loggers] == [expected, expected]
    finally:
        for logger, level in zip(loggers, before, strict=True):
            logger.setLevel(level)
