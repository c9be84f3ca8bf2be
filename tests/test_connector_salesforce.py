"""The Salesforce connector against the loopback emulator, through simple-salesforce."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from connectors._retry import RetryPolicy
from connectors.base import get_connector
from connectors.salesforce import (
    SalesforceConnector,
    load_mapping,
    parse_limit_info,
)
from copilot.config import Settings
from copilot.errors import (
    ConfigError,
    CRMAuthError,
    CRMMappingError,
    CRMNotFoundError,
    CRMRateLimitedError,
    CRMUnavailableError,
)
from tests.connector_contract import ConnectorContract, FaultContract, make_activity
from tests.emulators.salesforce import (
    KNOWN_DEBTOR_ID,
    KNOWN_DEBTOR_NAME,
    SalesforceEmulator,
    client_session,
    emulator_env,
    make_connector,
    parse_soql,
)

TODAY = datetime(2026, 11, 25, 15, 0, tzinfo=UTC)
LUCIA = "0035g00000Dbt02AAA"
SARAH = "0035g00000Dbt06AAA"
CARLOS = "0035g00000Dbt07AAA"


@pytest.fixture
def sf_env(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in emulator_env().items():
        monkeypatch.setenv(name, value)


@pytest.fixture
def emulator(tmp_path: Path) -> Iterator[SalesforceEmulator]:
    running = SalesforceEmulator(tmp_path)
    yield running
    running.stop()


@pytest.fixture
def connector(emulator: SalesforceEmulator, sf_env: None) -> Iterator[SalesforceConnector]:
    built = make_connector(emulator)
    built.clock = lambda: TODAY
    yield built
    built.close()


@pytest.fixture
def known_debtor_id() -> str:
    return KNOWN_DEBTOR_ID


@pytest.fixture
def known_debtor_name() -> str:
    return KNOWN_DEBTOR_NAME


class TestSalesforceContract(ConnectorContract, FaultContract):
    """The shared contract, against the emulator."""


# --- reading ---------------------------------------------------------------------------


def test_context_holds_ledger_flags_and_history(connector: SalesforceConnector) -> None:
    context = connector.fetch_context(KNOWN_DEBTOR_ID)

    debtor, account = context.debtor, context.account
    assert debtor.name == "John Carter"
    assert (debtor.jurisdiction, debtor.timezone, debtor.language) == (
        "US", "America/Chicago", "en")
    assert debtor.authorized_channels == ("call", "sms", "email")
    assert debtor.preferred_hours is not None and debtor.preferred_hours.start.hour == 9
    assert debtor.address == "221 W Lake St, Chicago, IL, 60606, United States"
    assert account.id == "a015g00000Acc01AAA", "the open account wins over the paid one"
    assert account.balance.amount == Decimal("1240.50")
    assert isinstance(account.balance.amount, Decimal)
    assert [(f.kind, f.amount.amount) for f in account.fees] == [("late", Decimal("35.0"))]
    assert account.due_date == date(2026, 8, 15)
    assert [(a.channel, a.direction, a.outcome) for a in context.contact_attempts] == [
        ("call", "outbound", "no_answer"),
        ("sms", "outbound", "delivered"),
        ("call", "inbound", "conversation"),
        ("email", "outbound", "delivered"),
    ], "the Task without a channel is not a contact attempt"
    assert context.contact_attempts[0].at == datetime(2026, 11, 2, 16, 15, tzinfo=UTC)
    assert [(p.status, p.amount.amount) for p in context.promises] == [
        ("broken", Decimal("200.0"))]
    assert [n.kind for n in context.notes] == ["call"]
    assert context.fetched_at == TODAY


def test_colombian_debtor_with_plan_payments_and_spanish(
    connector: SalesforceConnector,
) -> None:
    context = connector.fetch_context(LUCIA)

    assert context.debtor.language == "es"
    assert context.debtor.jurisdiction == "CO"
    assert context.account.balance.currency == "COP"
    plan = context.account.payment_plan
    assert plan is not None
    assert (plan.instalment.amount, plan.next_due, plan.instalments_total,
            plan.instalments_paid) == (Decimal("250000"), date(2026, 12, 5), 13, 5)
    assert [(p.at, p.amount.amount) for p in context.payments] == [
        (date(2026, 11, 5), Decimal("250000"))]
    assert context.account.balance.format("es") == "$3.250.000"


def test_missing_time_zone_falls_back_with_a_warning_that_names_no_one(
    connector: SalesforceConnector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        context = connector.fetch_context(SARAH)

    assert context.debtor.timezone == "America/New_York"
    assert context.debtor.hardship and context.debtor.employer_prohibits_contact
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any(SARAH in w and "time zone" in w for w in warnings)
    text = caplog.text
    assert "Connor" not in text and "Sarah" not in text


def test_debtor_without_an_account_is_a_clear_not_found(
    connector: SalesforceConnector,
) -> None:
    with pytest.raises(CRMNotFoundError, match="no Collection_Account__c"):
        connector.fetch_context(CARLOS)


def test_well_formed_but_unknown_id_is_not_found(connector: SalesforceConnector) -> None:
    with pytest.raises(CRMNotFoundError, match="0035g00000ZZZ99AAA"):
        connector.fetch_context("0035g00000ZZZ99AAA")


def test_context_is_one_request_once_warm(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    connector.fetch_context(KNOWN_DEBTOR_ID)
    cold = emulator.request_count
    connector.fetch_context(LUCIA)

    assert cold == 3, "token, one batch of describes, one query"
    assert emulator.request_count - cold == 1


def test_long_child_sets_are_completed_through_next_records_url(
    tmp_path: Path, sf_env: None
) -> None:
    emulator = SalesforceEmulator(tmp_path, child_page_size=2)
    try:
        connector = make_connector(emulator)
        connector.check()
        before = emulator.request_count

        context = connector.fetch_context(KNOWN_DEBTOR_ID)

        assert len(context.contact_attempts) == 4
        paths = [p for _, p in emulator.requests_since(len(emulator.requests) - 10)]
        assert any(re.search(r"/query/01g\w+-2$", p) for p in paths)
        # John has 5 Tasks: a page of 2, then 2 more pages; Notes and promises fit.
        assert emulator.request_count - before == 3
    finally:
        emulator.stop()


# --- search and work queue -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("O'Connor", [SARAH], id="a quote in the name is escaped, not injected"),
        pytest.param("carter", [KNOWN_DEBTOR_ID], id="search ignores case"),
        pytest.param("lucia.ramirez@", [LUCIA], id="an email fragment finds the debtor"),
        pytest.param("555 0202", [LUCIA], id="a phone fragment finds the debtor"),
        pytest.param(KNOWN_DEBTOR_ID, [KNOWN_DEBTOR_ID], id="an id finds the debtor"),
        pytest.param("%", [], id="a percent sign is a literal, not a wildcard"),
        pytest.param("_", [], id="an underscore is a literal, not a wildcard"),
        pytest.param("Pérez", [], id="a debtor without an account is not listed"),
        pytest.param("   ", [], id="a blank query finds nothing"),
    ],
)
def test_search(connector: SalesforceConnector, query: str, expected: list[str]) -> None:
    assert [s.id for s in connector.search_debtors(query)] == expected


def test_work_queue_ranks_promises_and_age_and_sinks_blocked_debtors(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    connector.check()
    before = emulator.request_count

    queue = connector.list_work_queue(limit=10)

    assert emulator.request_count - before == 3, "accounts, promises, recent tasks"
    assert [s.name for s in queue] == [
        "John Carter", "Lucía Ramírez Ortiz", "Sarah O'Connor", "Andrés Felipe Mejía",
        "Denise Walker", "Robert Nguyen",
    ]
    assert queue[0].reason.startswith("promise of $200.00 broken 5 days ago")
    assert queue[0].priority == pytest.approx(47.73, abs=0.01)
    assert queue[-1].reason.startswith("cease requested")
    assert "time_barred" in queue[-1].flags
    assert queue[-2].reason.startswith("represented by an attorney")
    assert connector.list_work_queue(limit=2) == queue[:2]


def test_work_queue_sinks_a_debtor_called_today(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    first = connector.list_work_queue()[0]
    connector.clock = lambda: datetime.now(UTC)
    emulator.org.records["Task"].append({
        "Id": "00T5g00000Tsk99AAA", "WhoId": first.id, "Status": "Completed",
        "TaskSubtype": "Call", "CallType": "Outbound", "Channel__c": "call",
        "CreatedDate": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
        "CompletedDateTime": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000"),
    })

    again = {s.id: s for s in connector.list_work_queue()}[first.id]

    assert "already contacted today" in again.reason


def test_work_queue_pages_through_many_candidates(tmp_path: Path, sf_env: None) -> None:
    emulator = SalesforceEmulator(tmp_path, page_size=2)
    try:
        connector = make_connector(emulator)
        connector.clock = lambda: TODAY
        connector.check()
        before = emulator.request_count

        queue = connector.list_work_queue(limit=10)

        assert len(queue) == 6
        assert emulator.request_count - before == 3 + 1 + 1, "three pages of accounts"
    finally:
        emulator.stop()


# --- writing ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        pytest.param("call", {"TaskSubtype": "Call", "CallType": "Outbound",
                              "CallDisposition": "Connected", "Channel__c": "call"},
                     id="a call summary becomes a Call task"),
        pytest.param("email", {"TaskSubtype": "Email", "Channel__c": "email"},
                     id="an email becomes an Email task"),
        pytest.param("sms", {"TaskSubtype": "Task", "Channel__c": "sms"},
                     id="an sms becomes a task with the sms channel"),
        pytest.param("note", {"TaskSubtype": "Task", "Channel__c": None},
                     id="a note is no contact attempt"),
    ],
)
def test_write_back_shapes_the_task(
    connector: SalesforceConnector, emulator: SalesforceEmulator, kind: str,
    expected: dict[str, Any],
) -> None:
    result = connector.write_activity(make_activity(LUCIA, f"shape-key-{kind}", kind=kind))

    stored = [t for t in emulator.activities(LUCIA) if t["Id"] == result.activity_id]
    assert len(stored) == 1
    task = stored[0]
    assert task["WhoId"] == LUCIA
    assert task["Copilot_Key__c"] == f"shape-key-{kind}"
    assert task["Status"] == "Completed"
    assert task["ActivityDate"] == "2026-12-01"
    assert task["Subject"].endswith("Payment reminder")
    for name, value in expected.items():
        assert task.get(name) == value, name
    assert result.url == f"{emulator.base_url}/{result.activity_id}"


def test_written_call_appears_in_the_next_context(connector: SalesforceConnector) -> None:
    before = len(connector.fetch_context(LUCIA).contact_attempts)

    connector.write_activity(make_activity(LUCIA, "appears-key-1", kind="call"))

    attempts = connector.fetch_context(LUCIA).contact_attempts
    assert len(attempts) == before + 1
    assert attempts[-1].outcome == "conversation"


def test_write_that_failed_after_salesforce_stored_it_is_not_duplicated(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    connector.check()
    emulator.inject("server_error_after_commit", method="POST")
    activity = make_activity(LUCIA, "after-commit-key-1", kind="sms")

    result = connector.write_activity(activity)

    stored = [t for t in emulator.activities(LUCIA)
              if t.get("Copilot_Key__c") == "after-commit-key-1"]
    assert len(stored) == 1
    assert result.activity_id == stored[0]["Id"]
    assert result.created is False, "the retry found the task Salesforce had kept"


def test_write_racing_another_writer_returns_the_rivals_task(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    connector.check()
    emulator.inject("concurrent_write", method="POST", record={
        "WhoId": LUCIA, "Subject": "SMS: Payment reminder", "Status": "Completed",
        "Copilot_Key__c": "race-key-0001"})

    result = connector.write_activity(make_activity(LUCIA, "race-key-0001"))

    stored = [t for t in emulator.activities(LUCIA)
              if t.get("Copilot_Key__c") == "race-key-0001"]
    assert len(stored) == 1
    assert (result.activity_id, result.created) == (stored[0]["Id"], False)


def test_write_to_an_unknown_debtor_is_not_found(connector: SalesforceConnector) -> None:
    with pytest.raises(CRMNotFoundError):
        connector.write_activity(make_activity("0035g00000ZZZ99AAA", "unknown-key-1"))
    with pytest.raises(CRMNotFoundError):
        connector.write_activity(make_activity("not-an-id", "unknown-key-2"))


def test_logs_name_ids_not_people_or_bodies(
    connector: SalesforceConnector, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        connector.fetch_context(KNOWN_DEBTOR_ID)
        connector.write_activity(make_activity(KNOWN_DEBTOR_ID, "log-key-0001"))

    assert "Carter" not in caplog.text
    assert "Reply STOP" not in caplog.text
    assert "AQ0" not in caplog.text, "no access token in the log"


# --- auth and faults -------------------------------------------------------------------


def test_expired_session_is_refreshed_once_and_the_call_retried(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    connector.fetch_context(KNOWN_DEBTOR_ID)
    mark = len(emulator.requests)
    emulator.inject("expired_token")

    connector.fetch_context(KNOWN_DEBTOR_ID)

    methods = [(m, p.split("?")[0]) for m, p in emulator.requests_since(mark)]
    assert methods == [
        ("GET", "/services/data/v59.0/query/"),
        ("POST", "/services/oauth2/token"),
        ("GET", "/services/data/v59.0/query/"),
    ]


def test_refused_refresh_token_says_which_variable_to_fix(
    connector: SalesforceConnector, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SALESFORCE_REFRESH_TOKEN", "revoked-token")

    with pytest.raises(CRMAuthError, match="SALESFORCE_REFRESH_TOKEN") as info:
        connector.fetch_context(KNOWN_DEBTOR_ID)

    assert "invalid_grant" in info.value.message


def test_refresh_refused_after_expiry_is_an_auth_error(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    connector.fetch_context(KNOWN_DEBTOR_ID)
    emulator.inject("expired_token")
    emulator.inject("token_refused")

    with pytest.raises(CRMAuthError):
        connector.fetch_context(KNOWN_DEBTOR_ID)


def test_missing_credentials_name_the_variable(
    emulator: SalesforceEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SALESFORCE_CLIENT_ID", raising=False)
    connector = make_connector(emulator)

    with pytest.raises(ConfigError, match="SALESFORCE_CLIENT_ID"):
        connector.fetch_context(KNOWN_DEBTOR_ID)


def recording_connector(emulator: SalesforceEmulator) -> tuple[SalesforceConnector,
                                                                list[float]]:
    sleeps: list[float] = []
    connector = make_connector(emulator)
    connector.retry = RetryPolicy(max_retries=3, base_delay_s=0.01, max_delay_s=30,
                                  sleep=sleeps.append)
    return connector, sleeps


@pytest.mark.parametrize(
    ("fault", "options"),
    [
        pytest.param("rate_limit", {"status": 429, "retry_after": 7},
                     id="a 429 waits the advertised Retry-After"),
        pytest.param("rate_limit", {"retry_after": 4},
                     id="a REQUEST_LIMIT_EXCEEDED 403 honours Retry-After when sent"),
        pytest.param("server_error", {"status": 503, "retry_after": 2},
                     id="a 503 waits the advertised Retry-After"),
    ],
)
def test_retry_after_is_honoured(
    emulator: SalesforceEmulator, sf_env: None, fault: str, options: dict[str, Any]
) -> None:
    connector, sleeps = recording_connector(emulator)
    connector.check()
    emulator.inject(fault, **options)

    assert connector.fetch_context(KNOWN_DEBTOR_ID).debtor.id == KNOWN_DEBTOR_ID
    assert sleeps == [float(options["retry_after"])]


def test_daily_limit_without_retry_after_backs_off_then_reports(
    emulator: SalesforceEmulator, sf_env: None
) -> None:
    connector, sleeps = recording_connector(emulator)
    connector.check()
    emulator.inject("rate_limit", times=10)

    with pytest.raises(CRMRateLimitedError, match="API request limit"):
        connector.fetch_context(KNOWN_DEBTOR_ID)

    assert len(sleeps) == 3 and sleeps == sorted(sleeps)


def test_slow_crm_fails_within_the_timeout_budget(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    connector.check()
    emulator.inject("slow", times=50, seconds=5)
    started = datetime.now(UTC)

    with pytest.raises(CRMUnavailableError, match="within 1 s"):
        connector.fetch_context(KNOWN_DEBTOR_ID)

    assert (datetime.now(UTC) - started).total_seconds() < 6


def test_api_usage_is_read_from_sforce_limit_info(
    connector: SalesforceConnector, emulator: SalesforceEmulator
) -> None:
    status = connector.check()

    assert status.ok, status.detail
    used, total = connector.api_usage["api-usage"]
    assert total == 15000 and used == 1, "one composite batch describes every object"
    assert f"API usage {used}/15000" in status.detail
    assert parse_limit_info("api-usage=18/5000;per-app-api-usage=17/250(appName=x)") == {
        "api-usage": (18, 5000), "per-app-api-usage": (17, 250)}


# --- mapping ---------------------------------------------------------------------------


def test_packaged_mapping_loads() -> None:
    mapping = load_mapping()

    assert mapping.debtor.object == "Contact"
    assert mapping.history.fields["idempotency_key"] == "Copilot_Key__c"


def test_missing_field_is_caught_at_check_and_first_use(
    tmp_path: Path, sf_env: None
) -> None:
    emulator = SalesforceEmulator(tmp_path, drop_fields={"Contact": {"Time_Zone__c"},
                                                         "Task": {"Copilot_Key__c"}})
    try:
        connector = make_connector(emulator)

        status = connector.check()
        assert not status.ok
        assert "Contact has no field Time_Zone__c (debtor.fields.timezone)" in status.problems
        assert "Task has no field Copilot_Key__c (history.fields.idempotency_key)" \
            in status.problems

        with pytest.raises(CRMMappingError, match="Time_Zone__c"):
            connector.fetch_context(KNOWN_DEBTOR_ID)
    finally:
        emulator.stop()


def test_wrong_relationship_name_is_caught(
    emulator: SalesforceEmulator, sf_env: None, tmp_path: Path
) -> None:
    packaged = Path(__file__).parents[1] / "connectors" / "mappings" / "salesforce.yaml"
    custom = tmp_path / "mapping.yaml"
    custom.write_text(packaged.read_text().replace("Payments__r", "Pagos__r"))
    connector = make_connector(emulator, salesforce_mapping=custom)

    status = connector.check()

    assert status.problems == [
        "Contact has no child relationship Pagos__r to Payment__c (payments.relationship)"]


def test_unknown_object_is_caught(
    emulator: SalesforceEmulator, sf_env: None, tmp_path: Path
) -> None:
    packaged = Path(__file__).parents[1] / "connectors" / "mappings" / "salesforce.yaml"
    custom = tmp_path / "mapping.yaml"
    custom.write_text(packaged.read_text().replace("object: Dispute__c",
                                                   "object: Disputa__c"))
    connector = make_connector(emulator, salesforce_mapping=custom)

    status = connector.check()

    assert "Salesforce has no object Disputa__c" in status.problems
    assert any("Disputes__r to Disputa__c" in p for p in status.problems)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("debtor: [", "not valid YAML", id="broken YAML"),
        pytest.param("debtor: {object: Contact}\n", "malformed", id="a missing section"),
    ],
)
def test_bad_mapping_file_is_a_config_error(tmp_path: Path, text: str,
                                            message: str) -> None:
    path = tmp_path / "mapping.yaml"
    path.write_text(text)

    with pytest.raises(ConfigError, match=message):
        load_mapping(path)


def test_mapping_without_a_required_field_is_refused(tmp_path: Path) -> None:
    packaged = Path(__file__).parents[1] / "connectors" / "mappings" / "salesforce.yaml"
    path = tmp_path / "mapping.yaml"
    path.write_text(packaged.read_text().replace("balance: Balance__c", "balance: null"))

    with pytest.raises(ConfigError, match=r"account\.fields\.balance"):
        load_mapping(path)


def test_registered_entry_point_builds_the_connector(settings: Settings) -> None:
    built = get_connector(settings, "salesforce")

    assert isinstance(built, SalesforceConnector)
    built.close()


# --- the emulator is checked against simple-salesforce and recorded shapes -------------

# Keys of a field in a recorded sObject describe (restforce's describe fixture).
DESCRIBE_FIELD_KEYS = {
    "length", "name", "type", "defaultValue", "label", "updateable", "calculated",
    "controllerName", "nillable", "unique", "precision", "scale", "caseSensitive",
    "byteLength", "inlineHelpText", "nameField", "externalId", "idLookup", "filterable",
    "soapType", "createable", "deprecatedAndHidden", "autoNumber", "calculatedFormula",
    "defaultValueFormula", "defaultedOnCreate", "digits", "groupable", "picklistValues",
    "referenceTo", "relationshipName", "relationshipOrder", "restrictedPicklist",
    "namePointing", "custom", "htmlFormatted", "dependentPicklist",
    "writeRequiresMasterRead", "sortable",
}
# Keys of a recorded refresh-token grant answer (restforce's refresh fixture).
TOKEN_KEYS = {"id", "issued_at", "instance_url", "signature", "access_token"}


@pytest.fixture
def raw_client(emulator: SalesforceEmulator) -> Salesforce:
    session = client_session(emulator)
    token = session.post(
        f"{emulator.base_url}/services/oauth2/token",
        data={"grant_type": "refresh_token", **dict(zip(
            ("client_id", "client_secret", "refresh_token"),
            emulator_env().values(), strict=True))},
        timeout=5,
    ).json()
    assert TOKEN_KEYS <= set(token) and token["token_type"] == "Bearer"
    return Salesforce(session_id=token["access_token"], instance_url=token["instance_url"],
                      session=session, version="59.0")


def test_query_all_reassembles_pages(emulator: SalesforceEmulator,
                                     raw_client: Salesforce) -> None:
    emulator.page_size = 3
    first = raw_client.query("SELECT Id, Name FROM Contact")
    everything = raw_client.query_all("SELECT Id, Name FROM Contact")

    assert set(first) == {"totalSize", "done", "nextRecordsUrl", "records"}
    assert first["done"] is False and first["totalSize"] == 7 and len(first["records"]) == 3
    assert re.fullmatch(r"/services/data/v59\.0/query/01g\w+-3", first["nextRecordsUrl"])
    assert set(first["records"][0]["attributes"]) == {"type", "url"}
    assert everything["totalSize"] == 7 and everything["done"] is True
    assert len({r["Id"] for r in everything["records"]}) == 7
    assert raw_client.api_usage["api-usage"].total == 15000


def test_describe_and_create_have_recorded_shapes(raw_client: Salesforce) -> None:
    described = raw_client.Task.describe()
    created = raw_client.Task.create({"Subject": "x", "WhoId": KNOWN_DEBTOR_ID})
    fetched = raw_client.Task.get(created["id"])

    assert all(set(f) == DESCRIBE_FIELD_KEYS for f in described["fields"])
    assert {"relationshipName", "childSObject", "field"} <= set(
        raw_client.Contact.describe()["childRelationships"][0])
    assert set(created) == {"id", "success", "errors"} and created["success"] is True
    assert created["id"].startswith("00T") and len(created["id"]) == 18
    assert fetched["Subject"] == "x" and fetched["attributes"]["type"] == "Task"


@pytest.mark.parametrize(
    ("setup", "call", "exception", "code"),
    [
        pytest.param(lambda e: e.inject("expired_token"),
                     lambda c: c.query("SELECT Id FROM Contact"),
                     SalesforceExpiredSession, "INVALID_SESSION_ID",
                     id="an expired session is SalesforceExpiredSession"),
        pytest.param(None, lambda c: c.query("SELECT Nope__c FROM Contact"),
                     SalesforceMalformedRequest, "INVALID_FIELD",
                     id="an unknown field is INVALID_FIELD"),
        pytest.param(None, lambda c: c.query("SELECT Id FROM Nope__c"),
                     SalesforceMalformedRequest, "INVALID_TYPE",
                     id="an unknown object is INVALID_TYPE"),
        pytest.param(None, lambda c: c.query("SELECT Id FROM Contact WHERE Id = 'x'"),
                     SalesforceMalformedRequest, "INVALID_QUERY_FILTER_OPERATOR",
                     id="a malformed id literal is refused"),
        pytest.param(None, lambda c: c.query("SELECT Id Contact"),
                     SalesforceMalformedRequest, "MALFORMED_QUERY",
                     id="broken SOQL is MALFORMED_QUERY"),
        pytest.param(None, lambda c: c.Task.get("00T5g00000Nope1AAA"),
                     SalesforceResourceNotFound, "NOT_FOUND",
                     id="an unknown record is NOT_FOUND"),
        pytest.param(lambda e: e.inject("rate_limit"),
                     lambda c: c.query("SELECT Id FROM Contact"),
                     SalesforceRefusedRequest, "REQUEST_LIMIT_EXCEEDED",
                     id="the API limit is a refused request"),
        pytest.param(lambda e: e.inject("server_error"),
                     lambda c: c.query("SELECT Id FROM Contact"),
                     SalesforceGeneralError, "UNKNOWN_EXCEPTION",
                     id="a server error is a general error"),
        pytest.param(None, lambda c: c.Task.create({"Copilot_Key__c": "k1"}) and
                     c.Task.create({"Copilot_Key__c": "K1"}),
                     SalesforceMalformedRequest, "DUPLICATE_VALUE",
                     id="a unique key is enforced"),
    ],
)
def test_errors_are_lists_that_simple_salesforce_routes(
    emulator: SalesforceEmulator, raw_client: Salesforce, setup: Any, call: Any,
    exception: type[Exception], code: str,
) -> None:
    if setup:
        setup(emulator)

    with pytest.raises(exception) as info:
        call(raw_client)

    content = info.value.content  # type: ignore[attr-defined]
    assert isinstance(content, list) and set(content[0]) == {"message", "errorCode"}
    assert content[0]["errorCode"] == code


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        pytest.param("Cease_Requested__c = true", ["Robert"], id="a boolean filter"),
        pytest.param("MailingCountry IN ('CO', 'Colombia') AND Disputed__c = true",
                     ["Andrés Felipe"], id="IN combined with AND"),
        pytest.param("NOT (MailingCountry = 'Colombia') AND (Email LIKE '%example.com')",
                     ["John", "Denise", "Robert", "Sarah"], id="NOT, parentheses and LIKE"),
        pytest.param("Time_Zone__c = null", ["Sarah"], id="a null comparison"),
        pytest.param("LastName LIKE 'O\\'%'", ["Sarah"], id="an escaped quote in a literal"),
    ],
)
def test_emulator_filters_by_the_where_clause(
    raw_client: Salesforce, where: str, expected: list[str]
) -> None:
    records = raw_client.query_all(
        f"SELECT FirstName FROM Contact WHERE {where} ORDER BY CreatedDate, Id")["records"]

    assert [r["FirstName"] for r in records] == expected


def test_emulator_orders_limits_and_follows_parent_fields(raw_client: Salesforce) -> None:
    rows = raw_client.query(
        "SELECT Name, Debtor__r.LastName FROM Collection_Account__c "
        "WHERE Balance__c > 1000 ORDER BY Balance__c DESC LIMIT 2")["records"]

    assert [(r["Name"], r["Debtor__r"]["LastName"]) for r in rows] == [
        ("ACC-1003", "Ramírez Ortiz"), ("ACC-1005", "Mejía")]
    assert parse_soql("SELECT Id FROM Task WHERE Copilot_Key__c = 'a\\'b'").where[3] == "a'b"
