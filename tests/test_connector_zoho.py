"""The Zoho CRM v8 connector against the loopback emulator (and httpx mock transports)."""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from connectors._retry import RetryPolicy
from connectors.base import connector_class
from connectors.zoho import ZohoConnector, coql_quote, escape_criteria, load_mapping
from copilot.config import Settings
from copilot.domain import Activity
from copilot.errors import (
    ConfigError,
    ConnectorError,
    CRMAuthError,
    CRMMappingError,
    CRMNotFoundError,
    CRMRateLimitedError,
    CRMUnavailableError,
)
from tests.connector_contract import ConnectorContract, FaultContract, make_activity
from tests.emulators.zoho import (
    CLIENT_ID,
    CLIENT_SECRET,
    KNOWN_DEBTOR_ID,
    REFRESH_TOKEN,
    ZohoEmulator,
    run_coql,
    seed,
)

CARTER = "5725767000000412002"
NGUYEN = "5725767000000412003"
GOMEZ = "5725767000000412004"
MILES = "5725767000000412005"


class RecordingSleep:
    """Remembers the waits asked for and sleeps a capped fraction of them."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        time.sleep(min(seconds, 0.02))


@pytest.fixture
def credentials(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)


@pytest.fixture
def emulator() -> Iterator[ZohoEmulator]:
    emu = ZohoEmulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def sleeps() -> RecordingSleep:
    return RecordingSleep()


def build(
    emu: ZohoEmulator,
    tmp_path: Path | None = None,
    *,
    sleep: Callable[[float], None] | None = None,
    mapping: dict | None = None,
    **kw: Any,
) -> ZohoConnector:
    settings_kw: dict[str, Any] = {}
    if mapping is not None:
        assert tmp_path is not None
        path = tmp_path / "zoho.yaml"
        path.write_text(yaml.safe_dump(mapping), encoding="utf-8")
        settings_kw["zoho_mapping"] = path
    settings = Settings(
        zoho_api_domain=emu.base_url,
        zoho_accounts_url=emu.base_url,
        crm_timeout_s=0.5,
        crm_max_retries=2,
        **settings_kw,
    )
    policy = RetryPolicy(
        max_retries=2,
        base_delay_s=0.01,
        max_delay_s=5.0,
        sleep=sleep or (lambda s: time.sleep(min(s, 0.02))),
    )
    connector = ZohoConnector.from_settings(settings, retry_policy=policy)
    for name, value in kw.items():
        setattr(connector, name, value)
    return connector


@pytest.fixture
def connector(
    emulator: ZohoEmulator, credentials: None, sleeps: RecordingSleep
) -> Iterator[ZohoConnector]:
    conn = build(emulator, sleep=sleeps)
    yield conn
    conn.close()


@pytest.fixture
def known_debtor_id() -> str:
    return KNOWN_DEBTOR_ID


@pytest.fixture
def known_debtor_name() -> str:
    return "María Fernanda López"


def packaged_mapping() -> dict[str, Any]:
    from importlib import resources

    text = resources.files("connectors.mappings").joinpath("zoho.yaml").read_text()
    return yaml.safe_load(text)


class TestZohoContract(ConnectorContract, FaultContract):
    """The shared contract, against the emulator."""


# --- reading ---------------------------------------------------------------------


def test_the_entry_point_names_this_class() -> None:
    assert connector_class("zoho") is ZohoConnector


def test_context_is_read_with_four_requests_in_one_round_trip(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    connector.validate_mapping()
    emulator.delay_s = 0.3
    before = emulator.request_count

    started = time.perf_counter()
    context = connector.fetch_context(KNOWN_DEBTOR_ID)
    elapsed = time.perf_counter() - started

    sent = emulator.requests[before:]
    assert emulator.request_count - before == 4
    assert sorted(path for _, path in sent) == sorted(
        [
            f"/crm/v8/Contacts/{KNOWN_DEBTOR_ID}",
            "/crm/v8/coql",
            "/crm/v8/coql",
            f"/crm/v8/Contacts/{KNOWN_DEBTOR_ID}/Notes",
        ]
    )
    assert elapsed < 2 * 0.3, "the four requests go out together"
    assert context.debtor.id == KNOWN_DEBTOR_ID


def test_context_maps_flags_ledger_history_and_notes(connector: ZohoConnector) -> None:
    context = connector.fetch_context(KNOWN_DEBTOR_ID)
    debtor, account = context.debtor, context.account

    assert (debtor.name, debtor.jurisdiction, debtor.language, debtor.timezone) == (
        "María Fernanda López",
        "CO",
        "es",
        "America/Bogota",
    )
    assert debtor.hardship and not debtor.disputed
    assert debtor.opted_out_channels == ("email",)
    assert debtor.authorized_channels == ("sms", "call")
    assert debtor.preferred_hours is not None
    assert (
        debtor.preferred_hours.start.hour == 9 and debtor.preferred_hours.end.hour == 12
    )
    assert account.balance.amount == Decimal("1250000")
    assert account.balance.currency == "COP"
    assert account.id == "CO-88231"
    assert [f.kind for f in account.fees] == ["late_fee"]
    assert context.promises[0].amount.amount == Decimal("300000")
    assert context.payments[0].amount.amount == Decimal("100000")
    channels = [(a.channel, a.direction, a.outcome) for a in context.contact_attempts]
    assert channels == [
        ("call", "outbound", "no_answer"),
        ("call", "outbound", "conversation"),
        ("call", "inbound", "conversation"),
        ("sms", "outbound", "delivered"),
    ]
    assert {n.kind for n in context.notes} == {"hardship", "general"}
    assert context.source == "zoho"


def test_cents_survive_exactly(connector: ZohoConnector) -> None:
    context = connector.fetch_context(CARTER)

    assert context.account.balance.amount == Decimal("1240.5")
    assert context.account.balance.format() == "$1,240.50"
    plan = context.account.payment_plan
    assert plan is not None
    assert (
        plan.instalment.amount,
        plan.instalments_total,
        plan.instalments_paid,
        plan.status,
    ) == (Decimal("155"), 8, 2, "active")
    assert context.debtor.employer_prohibits_contact
    assert context.debtor.work_email == "james.carter@work.example"


@pytest.mark.parametrize(
    ("debtor_id", "expected"),
    [
        (NGUYEN, {"jurisdiction": "US", "attorney_represented": True}),
        (GOMEZ, {"jurisdiction": "CO", "disputed": True, "verification_sent": True}),
        (MILES, {"jurisdiction": "US", "cease_requested": True}),
    ],
    ids=[
        "attorney representation is read",
        "a verified dispute is read",
        "a cease request is read",
    ],
)
def test_flags_per_debtor(
    connector: ZohoConnector, debtor_id: str, expected: dict[str, Any]
) -> None:
    debtor = connector.fetch_context(debtor_id).debtor

    assert {k: getattr(debtor, k) for k in expected} == expected


def test_dispute_record_carries_the_verification_date(connector: ZohoConnector) -> None:
    dispute = connector.fetch_context(GOMEZ).disputes[0]

    assert dispute.status == "verified"
    assert dispute.verification_sent_at is not None
    assert dispute.verification_sent_at.isoformat() == "2026-11-10"


def test_a_long_history_is_paged_with_coql_offsets(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    emulator.add_calls(KNOWN_DEBTOR_ID, 450)
    connector.coql_page_size = 200
    connector.max_history = 1000
    connector.validate_mapping()
    before = len(emulator.bodies)

    context = connector.fetch_context(KNOWN_DEBTOR_ID)

    calls = [a for a in context.contact_attempts if a.channel == "call"]
    assert len(calls) == 453
    queries = [
        b["select_query"]
        for b in emulator.bodies[before:]
        if b and "from Calls" in b.get("select_query", "")
    ]
    assert [q.rsplit("limit", 1)[1].strip() for q in queries] == [
        "0, 200",
        "200, 200",
        "400, 200",
    ]


def test_history_beyond_the_cap_is_not_fetched(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    emulator.add_calls(KNOWN_DEBTOR_ID, 30)
    connector.coql_page_size = 10
    connector.max_history = 25

    context = connector.fetch_context(KNOWN_DEBTOR_ID)

    assert len([a for a in context.contact_attempts if a.channel == "call"]) == 25


def test_a_missing_record_is_not_found(connector: ZohoConnector) -> None:
    with pytest.raises(CRMNotFoundError, match="5725767000000499999"):
        connector.fetch_context("5725767000000499999")


# --- lists -----------------------------------------------------------------------


def test_work_queue_skips_settled_and_non_debtors(connector: ZohoConnector) -> None:
    queue = connector.list_work_queue(limit=10)

    assert [s.id for s in queue] == [NGUYEN, KNOWN_DEBTOR_ID, CARTER, GOMEZ]
    assert queue[0].flags == ("attorney_represented",)
    assert queue[1].balance.currency == "COP"


def test_work_queue_respects_the_limit(connector: ZohoConnector) -> None:
    assert [s.id for s in connector.list_work_queue(limit=2)] == [
        NGUYEN,
        KNOWN_DEBTOR_ID,
    ]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("jcarter@example.com", [CARTER]),
        ("+1 415 555 0199", [NGUYEN]),
        ("Gómez", [GOMEZ]),
        (KNOWN_DEBTOR_ID, [KNOWN_DEBTOR_ID]),
        ("O'Brien (x):y,z", []),
        ("a", []),
    ],
    ids=[
        "an email uses an escaped criteria",
        "a phone number uses phone=",
        "a name uses word=",
        "a record id uses COQL",
        "criteria special characters do not break the search",
        "one letter is too short to search",
    ],
)
def test_search(connector: ZohoConnector, query: str, expected: list[str]) -> None:
    assert [s.id for s in connector.search_debtors(query)] == expected


def test_search_email_with_special_characters_is_escaped(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    rid = emulator.add_contact(
        First_Name="Kim",
        Last_Name="Odd",
        Email="k(im):x,y@example.com",
        Jurisdiction="US",
        Debtor_Time_Zone="America/Denver",
        Balance=Decimal("10"),
        Currency="USD",
        Due_Date="2026-10-10",
    )

    assert [s.id for s in connector.search_debtors("k(im):x,y@example.com")] == [rid]


@pytest.mark.parametrize(
    ("raw", "escaped"),
    [
        ("plain", "plain"),
        ("a(b)", r"a\(b\)"),
        ("x:y,z", r"x\:y\,z"),
        ("back\\", "back\\\\"),
    ],
    ids=[
        "plain text is untouched",
        "parentheses are escaped",
        "colons and commas are escaped",
        "a backslash is escaped first",
    ],
)
def test_escape_criteria(raw: str, escaped: str) -> None:
    assert escape_criteria(raw) == escaped


def test_coql_quote_cannot_be_broken_out_of() -> None:
    rows, _ = run_coql(
        f"select Last_Name from Contacts where Last_Name = {coql_quote(chr(39) + ' or id is not null or Last_Name = ' + chr(39))}",  # noqa: E501
        seed(),
        {"Contacts": {"Last_Name": "text"}},
    )

    assert rows == []


# --- write-back ------------------------------------------------------------------


def test_a_message_becomes_a_completed_task_linked_by_who_id(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    result = connector.write_activity(make_activity(CARTER, "write-task-0001", "sms"))

    stored = [a for a in emulator.activities(CARTER) if a["id"] == result.activity_id]
    assert len(stored) == 1
    task = stored[0]
    assert task["_module"] == "Tasks"
    assert task["Who_Id"] == {"id": CARTER}
    assert (task["Status"], task["Copilot_Channel"], task["Copilot_Key"]) == (
        "Completed",
        "sms",
        "write-task-0001",
    )
    assert "Reply STOP" in task["Description"]


def test_a_written_message_shows_up_as_a_contact_attempt(
    connector: ZohoConnector,
) -> None:
    connector.write_activity(make_activity(GOMEZ, "write-task-0002", "email"))

    attempts = connector.fetch_context(GOMEZ).contact_attempts

    assert [(a.channel, a.outcome) for a in attempts] == [("email", "delivered")]


def test_a_call_summary_becomes_a_call_with_zoho_required_fields(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    result = connector.write_activity(make_activity(CARTER, "write-call-0001", "call"))

    call = next(a for a in emulator.activities(CARTER) if a["id"] == result.activity_id)
    assert call["_module"] == "Calls"
    assert (call["Call_Type"], call["Call_Duration"]) == ("Outbound", "00:00")
    assert call["Call_Start_Time"] == "2026-12-01T15:00:00+00:00"
    assert call["Copilot_Key"] == "write-call-0001"


def test_a_note_is_idempotent_through_its_marker(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    activity = make_activity(CARTER, "write-note-0001", "note")

    first = connector.write_activity(activity)
    again = connector.write_activity(activity)

    notes = [a for a in emulator.activities(CARTER) if a["_module"] == "Notes"]
    assert (first.created, again.created) == (True, False)
    assert first.activity_id == again.activity_id
    assert len(notes) == 1
    assert notes[0]["Parent_Id"] == {"module": {"api_name": "Contacts"}, "id": CARTER}


def test_a_create_whose_answer_was_lost_is_not_repeated(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    emulator.inject("lost_response")
    activity = make_activity(CARTER, "write-lost-0001", "sms")

    result = connector.write_activity(activity)

    stored = [
        a
        for a in emulator.activities(CARTER)
        if a.get("Copilot_Key") == "write-lost-0001"
    ]
    assert len(stored) == 1
    assert result.activity_id == stored[0]["id"]


def test_writing_for_an_unknown_debtor_is_refused(connector: ZohoConnector) -> None:
    with pytest.raises(CRMNotFoundError):
        connector.write_activity(make_activity("no-such-debtor", "write-none-0001"))


def test_a_custom_debtor_module_links_through_what_id(tmp_path: Path) -> None:
    data = packaged_mapping()
    data["debtor"]["module"] = "Debtors"
    path = tmp_path / "zoho.yaml"
    path.write_text(yaml.safe_dump(data))
    connector = ZohoConnector(
        api_domain="http://127.0.0.1:9",
        accounts_url="http://x",
        mapping=load_mapping(path),
    )
    activity = Activity(
        debtor_id="42",
        kind="task",
        subject="Follow up",
        body="b",
        occurred_at=datetime(2026, 12, 1, tzinfo=UTC),
        idempotency_key="custom-module-1",
    )
    try:
        payload = connector._payload("Tasks", activity)
    finally:
        connector.close()

    assert payload["What_Id"] == {"id": "42"}
    assert payload["$se_module"] == "Debtors"
    assert "Who_Id" not in payload


# --- auth --------------------------------------------------------------------------


def test_an_expired_token_is_refreshed_once(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    connector.fetch_context(KNOWN_DEBTOR_ID)
    refreshes = emulator.token_requests

    emulator.inject("expired_token")
    connector.fetch_context(KNOWN_DEBTOR_ID)

    assert emulator.token_requests == refreshes + 1


def test_the_token_refresh_sends_the_refresh_grant_as_a_form(
    emulator: ZohoEmulator, connector: ZohoConnector
) -> None:
    connector.list_work_queue(limit=1)

    assert ("POST", "/oauth/v2/token") in emulator.requests


def test_a_foreign_api_domain_in_the_token_response_is_ignored(
    credentials: None, caplog: pytest.LogCaptureFixture
) -> None:
    with ZohoEmulator(token_api_domain="https://www.zohoapis.com") as emu:
        connector = build(emu)
        with caplog.at_level(logging.WARNING, logger="connectors.zoho"):
            context = connector.fetch_context(KNOWN_DEBTOR_ID)
        connector.close()

    assert context.debtor.id == KNOWN_DEBTOR_ID
    assert "keeping the configured domain" in caplog.text
    assert "www.zohoapis.com" in caplog.text


def test_a_refused_refresh_token_says_which_variable_to_fix(
    emulator: ZohoEmulator, credentials: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", "1000.revoked")
    connector = build(emulator)

    with pytest.raises(CRMAuthError, match="invalid_code.*ZOHO_REFRESH_TOKEN"):
        connector.fetch_context(KNOWN_DEBTOR_ID)
    connector.close()


def test_a_missing_secret_is_a_config_error(
    emulator: ZohoEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ZOHO_CLIENT_ID", raising=False)
    connector = build(emulator)

    with pytest.raises(ConfigError, match="ZOHO_CLIENT_ID"):
        connector.list_work_queue()
    connector.close()


def test_the_rate_limit_wait_comes_from_retry_after(
    emulator: ZohoEmulator, connector: ZohoConnector, sleeps: RecordingSleep
) -> None:
    connector.validate_mapping()
    emulator.inject("rate_limit", retry_after=3)

    connector.list_work_queue(limit=1)

    assert sleeps.waits == [3.0]


# --- mapping -----------------------------------------------------------------------


def test_check_reports_a_healthy_connector(connector: ZohoConnector) -> None:
    status = connector.check()

    assert status.ok, status.problems


def test_a_misspelt_field_is_named_by_check_and_on_first_use(
    emulator: ZohoEmulator, credentials: None, tmp_path: Path
) -> None:
    data = packaged_mapping()
    data["account"]["fields"]["balance"] = "Balanse"
    data["write_back"]["idempotency_field"] = "Copilot_Idem"
    connector = build(emulator, tmp_path, mapping=data)

    status = connector.check()
    with pytest.raises(CRMMappingError) as info:
        connector.fetch_context(KNOWN_DEBTOR_ID)
    connector.close()

    assert not status.ok
    assert any(
        "account.fields.balance names Contacts.Balanse" in p for p in status.problems
    )
    assert any("Tasks.Copilot_Idem" in p for p in status.problems)
    assert "Balanse" in info.value.message


def test_an_unknown_module_is_named(
    emulator: ZohoEmulator, credentials: None, tmp_path: Path
) -> None:
    data = packaged_mapping()
    data["history"]["calls"]["module"] = "Phone_Calls"
    connector = build(emulator, tmp_path, mapping=data)

    status = connector.check()
    connector.close()

    assert any("Phone_Calls" in p for p in status.problems)


def test_a_mapping_without_a_balance_field_is_refused_when_loaded(
    tmp_path: Path,
) -> None:
    data = packaged_mapping()
    data["account"]["fields"]["balance"] = None
    path = tmp_path / "zoho.yaml"
    path.write_text(yaml.safe_dump(data))

    with pytest.raises(CRMMappingError, match=r"account\.fields\.balance"):
        load_mapping(path)


def test_validation_runs_once(emulator: ZohoEmulator, connector: ZohoConnector) -> None:
    connector.fetch_context(KNOWN_DEBTOR_ID)
    before = emulator.request_count

    connector.fetch_context(KNOWN_DEBTOR_ID)

    assert emulator.request_count - before == 4


# --- error classification, through an injected transport -----------------------------


def mock_connector(
    handler: Callable[[httpx.Request], httpx.Response], monkeypatch: pytest.MonkeyPatch
) -> ZohoConnector:
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/v2/token":
            return httpx.Response(
                200,
                json={
                    "access_token": "1000.t",
                    "expires_in": 3600,
                    "api_domain": "https://zoho.test",
                },
            )
        return handler(request)

    connector = ZohoConnector(
        api_domain="https://zoho.test",
        accounts_url="https://accounts.zoho.test",
        mapping=load_mapping(),
        transport=httpx.MockTransport(route),
        retry_policy=RetryPolicy(max_retries=0),
    )
    connector._validated = True
    return connector


def zoho_error(
    status: int, code: str, details: dict | None = None, headers: dict | None = None
) -> Callable[[httpx.Request], httpx.Response]:
    body = {
        "code": code,
        "details": details or {},
        "message": code.lower(),
        "status": "error",
    }
    return lambda request: httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    ("handler", "error", "words"),
    [
        (zoho_error(401, "AUTHENTICATION_FAILURE"), CRMAuthError, "ZOHO_REFRESH_TOKEN"),
        (zoho_error(401, "OAUTH_SCOPE_MISMATCH"), CRMAuthError, "scopes"),
        (zoho_error(403, "NO_PERMISSION"), CRMAuthError, "profile"),
        (
            zoho_error(404, "INVALID_URL_PATTERN"),
            ConnectorError,
            "COPILOT_ZOHO_API_DOMAIN",
        ),
        (
            zoho_error(400, "INVALID_QUERY", {"column_name": "Balanse"}),
            CRMMappingError,
            "Balanse",
        ),
        (
            zoho_error(429, "TOO_MANY_REQUESTS", headers={"Retry-After": "7"}),
            CRMRateLimitedError,
            "slow down",
        ),
        (zoho_error(503, "INTERNAL_ERROR"), CRMUnavailableError, "503"),
        (
            lambda r: httpx.Response(200, content=b"<html>login</html>"),
            ConnectorError,
            "not the JSON",
        ),
        (
            lambda r: httpx.Response(200, content=b"[1, 2]"),
            ConnectorError,
            "not the JSON",
        ),
    ],
    ids=[
        "authentication failure is an auth error naming the variable",
        "a scope mismatch says to regenerate with the right scopes",
        "no permission points at the user's profile",
        "a wrong URL points at the API domain setting",
        "an unknown COQL column is a mapping error naming it",
        "429 is rate limited",
        "5xx is unavailable",
        "HTML instead of JSON is a connector error",
        "a JSON list instead of an object is a connector error",
    ],
)
def test_zoho_errors_become_one_clear_error_each(
    handler: Callable[[httpx.Request], httpx.Response],
    error: type[Exception],
    words: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    connector = mock_connector(handler, monkeypatch)

    with pytest.raises(error, match=words) as info:
        connector.list_work_queue()
    connector.close()

    if isinstance(info.value, CRMRateLimitedError):
        assert info.value.retry_after_s == 7.0
    if error is ConnectorError:
        assert type(info.value) is ConnectorError


def test_a_timeout_is_unavailable(monkeypatch: pytest.MonkeyPatch) -> None:
    def hang(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("timed out", request=request)

    connector = mock_connector(hang, monkeypatch)

    with pytest.raises(CRMUnavailableError, match="did not answer"):
        connector.search_debtors("Carter")
    connector.close()


def test_a_per_record_error_inside_data_is_a_mapping_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/coql"):
            return httpx.Response(204)
        return httpx.Response(
            400,
            json={
                "data": [
                    {
                        "code": "MANDATORY_NOT_FOUND",
                        "details": {"api_name": "Call_Purpose"},
                        "message": "required field not found",
                        "status": "error",
                    }
                ]
            },
        )

    connector = mock_connector(handler, monkeypatch)

    with pytest.raises(CRMMappingError, match="Call_Purpose"):
        connector.write_activity(make_activity(CARTER, "mock-call-0001", "call"))
    connector.close()


def test_an_empty_204_search_is_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers["Authorization"])
        return httpx.Response(204)

    connector = mock_connector(handler, monkeypatch)

    assert connector.search_debtors("Nobody") == []
    assert seen == ["Zoho-oauthtoken 1000.t"]
    connector.close()


def test_requests_go_only_to_the_configured_hosts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(204)

    connector = mock_connector(handler, monkeypatch)
    connector.search_debtors("Nobody")
    connector.close()

    assert hosts == ["zoho.test"]


def test_json_numbers_are_read_as_decimals(monkeypatch: pytest.MonkeyPatch) -> None:
    record = json.loads(json.dumps(seed()["Contacts"][CARTER], default=float))

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith(CARTER):
            return httpx.Response(200, content=json.dumps({"data": [record]}).encode())
        return httpx.Response(204)

    connector = mock_connector(handler, monkeypatch)
    context = connector.fetch_context(CARTER)
    connector.close()

    assert context.account.balance.amount == Decimal("1240.5")
    assert context.account.original_amount is not None
    assert context.account.original_amount.amount == Decimal("5400.0")


# --- emulator shapes against the official SDK's own model definitions -----------------
#
# zohocrmsdk8-0 ships json_details.json: for every model class, its JSON keys and their
# types, which the SDK uses to (de)serialise. A JSON Schema is derived from it here, with
# unknown keys forbidden except on records (whose fields are the org's own), so that the
# emulator cannot invent or misspell a key the real API does not have.

SDK = "zohocrmsdk.src.com.zoho.crm.api."
_PRIMITIVES: dict[str, dict[str, Any]] = {
    "String": {"type": ["string", "null"]},
    "Long": {"type": ["string", "integer", "null"]},
    "Integer": {"type": ["integer", "null"]},
    "Double": {"type": ["number", "null"]},
    "Boolean": {"type": ["boolean", "null"]},
    "Date": {"type": ["string", "null"], "pattern": r"^\d{4}-\d{2}-\d{2}$"},
    "DateTime": {
        "type": ["string", "null"],
        "pattern": r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}[+-]\d{2}:\d{2}$",
    },
    "TimeZone": {"type": ["string", "null"]},
    "Object": {},
}
_OPEN_CLASSES = {SDK + "record.Record"}


@pytest.fixture(scope="module")
def sdk_details() -> dict[str, Any]:
    sdk = pytest.importorskip("zohocrmsdk")
    return json.loads(
        (Path(sdk.__file__).parent / "src" / "json_details.json").read_text()
    )


def sdk_schema(details: dict[str, Any], root: str) -> dict[str, Any]:
    """A JSON Schema for the SDK model *root* (e.g. ``record.ResponseWrapper``)."""
    defs: dict[str, Any] = {}

    def ref(cls: str) -> dict[str, Any]:
        if cls not in defs:
            defs[cls] = {}
            defs[cls] = build(cls)
        return {"$ref": f"#/$defs/{cls}"}

    def of(spec: dict[str, Any]) -> dict[str, Any]:
        kind = spec.get("type", "Object")
        if kind in ("List",):
            inner = spec.get("structure_name") or (spec.get("sub_type") or {}).get(
                "type"
            )
            items = (
                ref(inner)
                if inner and inner.startswith(SDK)
                else _PRIMITIVES.get(inner or "Object", {})
            )
            return {"type": ["array", "null"], "items": items}
        if kind in ("Map", "HashMap"):
            props = {k["name"]: of(k) for k in spec.get("keys", [])}
            return {"type": ["object", "null"], "properties": props}
        if kind.startswith(SDK + "util.Choice"):
            return {"type": ["string", "null"]}
        if kind.startswith(SDK):
            return {"anyOf": [ref(kind), {"type": "null"}]}
        return _PRIMITIVES[kind]

    def build(cls: str) -> dict[str, Any]:
        spec = details[cls]
        if spec.get("interface"):
            return {"anyOf": [ref(c) for c in spec["classes"]]}
        props = {
            f["name"]: of(f)
            for key, f in spec.items()
            if isinstance(f, dict) and key != "key_modified"
        }
        return {
            "type": "object",
            "properties": props,
            "additionalProperties": cls in _OPEN_CLASSES,
        }

    top = ref(SDK + root)
    return {"$defs": defs, **top}


def shape_errors(details: dict[str, Any], root: str, body: Any) -> list[str]:
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(sdk_schema(details, root))
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator.iter_errors(body)
    ]


def call(
    emulator: ZohoEmulator,
    method: str,
    path: str,
    token: str,
    *,
    params: dict[str, Any] | None = None,
    body: Any = None,
) -> httpx.Response:
    with httpx.Client(base_url=emulator.base_url, timeout=5.0) as client:
        return client.request(
            method,
            path,
            params=params,
            json=body,
            headers={"Authorization": f"Zoho-oauthtoken {token}"},
        )


@pytest.fixture
def api_token(emulator: ZohoEmulator) -> str:
    status, body = emulator.token(
        {
            "grant_type": "refresh_token",
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "refresh_token": REFRESH_TOKEN,
        }
    )
    return str(body["access_token"])


SHAPES = [
    (
        "GET",
        f"/crm/v8/Contacts/{KNOWN_DEBTOR_ID}",
        None,
        None,
        200,
        "record.ResponseWrapper",
    ),
    (
        "GET",
        "/crm/v8/Contacts/search",
        {"word": "López"},
        None,
        200,
        "record.ResponseWrapper",
    ),
    (
        "GET",
        f"/crm/v8/Contacts/{KNOWN_DEBTOR_ID}/Notes",
        {"fields": "Note_Title,Note_Content,Created_Time,Owner"},
        None,
        200,
        "record.ResponseWrapper",
    ),
    (
        "POST",
        "/crm/v8/coql",
        None,
        {
            "select_query": f"select Call_Start_Time, Who_Id from Calls where Who_Id = "
            f"'{KNOWN_DEBTOR_ID}' order by Call_Start_Time desc limit 0, 2"
        },
        200,
        "coql.ResponseWrapper",
    ),
    (
        "POST",
        "/crm/v8/coql",
        None,
        {"select_query": "select Nope from Contacts where id is not null"},
        400,
        "coql.APIException",
    ),
    (
        "POST",
        "/crm/v8/Tasks",
        None,
        {
            "data": [
                {
                    "Subject": "Reminder",
                    "Status": "Completed",
                    "Who_Id": {"id": KNOWN_DEBTOR_ID},
                    "Copilot_Key": "shape-check-1",
                    "Copilot_Channel": "sms",
                }
            ]
        },
        201,
        "record.ActionWrapper",
    ),
    (
        "POST",
        "/crm/v8/Calls",
        None,
        {"data": [{"Subject": "No duration", "Who_Id": {"id": KNOWN_DEBTOR_ID}}]},
        400,
        "record.ActionWrapper",
    ),
    (
        "GET",
        "/crm/v8/settings/fields",
        {"module": "Contacts"},
        None,
        200,
        "fields.ResponseWrapper",
    ),
    (
        "GET",
        "/crm/v8/settings/fields",
        {"module": "Nope"},
        None,
        400,
        "fields.APIException",
    ),
    (
        "GET",
        "/crm/v8/users",
        {"type": "CurrentUser"},
        None,
        200,
        "users.ResponseWrapper",
    ),
    ("GET", "/crm/v8/org", None, None, 200, "org.ResponseWrapper"),
    ("GET", "/crm/v8/Nope/1/2/3", None, None, 400, "record.APIException"),
    (
        "GET",
        "/crm/v8/Contacts/1/Notes",
        {"fields": "Note_Title"},
        None,
        400,
        "record.APIException",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "params", "body", "status", "model"),
    SHAPES,
    ids=[
        "a record",
        "a search",
        "a related list",
        "a COQL result",
        "a COQL error",
        "a created task",
        "a per-record error inside data",
        "field metadata",
        "an unknown module in field metadata",
        "the current user",
        "the org",
        "an unknown module",
        "a related list of an unknown record",
    ],
)
def test_emulator_shapes_match_the_sdk_models(
    sdk_details: dict[str, Any],
    emulator: ZohoEmulator,
    api_token: str,
    method: str,
    path: str,
    params: dict | None,
    body: Any,
    status: int,
    model: str,
) -> None:
    response = call(emulator, method, path, api_token, params=params, body=body)

    assert response.status_code == status
    assert shape_errors(sdk_details, model, response.json()) == []


@pytest.mark.parametrize(
    ("fault", "status", "model"),
    [
        ("expired_token", 401, "record.APIException"),
        ("rate_limit", 429, "record.APIException"),
        ("server_error", 500, "record.APIException"),
    ],
    ids=["an invalid token", "a rate limit", "a server error"],
)
def test_fault_shapes_match_the_sdk_models(
    sdk_details: dict[str, Any],
    emulator: ZohoEmulator,
    api_token: str,
    fault: str,
    status: int,
    model: str,
) -> None:
    emulator.inject(fault)

    response = call(emulator, "GET", f"/crm/v8/Contacts/{KNOWN_DEBTOR_ID}", api_token)

    assert response.status_code == status
    assert shape_errors(sdk_details, model, response.json()) == []


def test_error_codes_are_ones_the_sdk_knows(sdk_details: dict[str, Any]) -> None:
    known = set()
    for name, spec in sdk_details.items():
        if name.endswith(".APIException") and "code" in spec:
            known.update(spec["code"].get("values", []))
    emitted = set(
        re.findall(
            r'_(?:record_)?error\(\s*"([A-Z_]+)"',
            (Path(__file__).parent / "emulators" / "zoho.py").read_text(),
        )
    )

    assert emitted, "the emulator's error codes were found"
    assert emitted <= known, emitted - known


def test_a_shape_drift_would_be_caught(sdk_details: dict[str, Any]) -> None:
    drifted = {"data": [], "info": {"count": 0, "moreRecords": False}}

    assert shape_errors(sdk_details, "record.ResponseWrapper", drifted)


def test_a_token_refused_after_refreshing_is_an_auth_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    refreshes: list[str] = []
    monkeypatch.setenv("ZOHO_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("ZOHO_CLIENT_SECRET", CLIENT_SECRET)
    monkeypatch.setenv("ZOHO_REFRESH_TOKEN", REFRESH_TOKEN)

    def route(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/oauth/v2/token":
            refreshes.append(request.content.decode())
            return httpx.Response(
                200, json={"access_token": f"1000.{len(refreshes)}", "expires_in": 3600}
            )
        return httpx.Response(
            401,
            json={
                "code": "INVALID_TOKEN",
                "details": {},
                "message": "invalid oauth token",
                "status": "error",
            },
        )

    connector = ZohoConnector(
        api_domain="https://zoho.test",
        accounts_url="https://accounts.zoho.test",
        mapping=load_mapping(),
        transport=httpx.MockTransport(route),
        retry_policy=RetryPolicy(max_retries=2),
    )
    connector._validated = True

    with pytest.raises(CRMAuthError, match="INVALID_TOKEN"):
        connector.list_work_queue()
    connector.close()

    assert len(refreshes) == 2, "one token, then exactly one refresh"
    assert "grant_type=refresh_token" in refreshes[0]
