"""The HubSpot connector against the loopback HubSpot emulator, driven by hubspot-api-client."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType
from typing import Any

import hubspot.crm.associations.v4 as hs_assoc
import hubspot.crm.objects as hs_objects
import hubspot.crm.properties as hs_properties
import hubspot.oauth as hs_oauth
import pytest
import urllib3
import yaml

from connectors._retry import RetryPolicy
from connectors.hubspot import HubSpotConnector, load_mapping, resolve_timezone
from copilot.config import Settings
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
from tests.emulators.hubspot import (
    ACCESS_TOKEN,
    CLIENT_ID,
    CLIENT_SECRET,
    REFRESH_TOKEN,
    HubSpotEmulator,
)

PACKAGED_MAPPING = (
    Path(__file__).resolve().parents[1] / "connectors/mappings/hubspot.yaml"
)


@pytest.fixture
def emulator() -> Iterator[HubSpotEmulator]:
    emu = HubSpotEmulator().start()
    yield emu
    emu.stop()


@pytest.fixture
def waits() -> list[float]:
    return []


@pytest.fixture
def policy(waits: list[float]) -> RetryPolicy:
    def sleep(seconds: float) -> None:
        waits.append(seconds)
        time.sleep(min(seconds, 1.0))

    return RetryPolicy(max_retries=2, base_delay_s=0.01, max_delay_s=2.0, sleep=sleep)


@pytest.fixture
def oauth_environ() -> dict[str, str]:
    return {
        "HUBSPOT_TOKEN": ACCESS_TOKEN,
        "HUBSPOT_CLIENT_ID": CLIENT_ID,
        "HUBSPOT_CLIENT_SECRET": CLIENT_SECRET,
        "HUBSPOT_REFRESH_TOKEN": REFRESH_TOKEN,
    }


@pytest.fixture
def hs_settings(settings: Settings, emulator: HubSpotEmulator) -> Settings:
    return settings.model_copy(
        update={"hubspot_base_url": emulator.url, "crm_timeout_s": 1.0}
    )


def build(
    hs_settings: Settings, policy: RetryPolicy, environ: dict[str, str], **kw: Any
) -> HubSpotConnector:
    connector = HubSpotConnector(hs_settings, policy=policy, environ=environ, **kw)
    return connector


@pytest.fixture
def connector(
    hs_settings: Settings, policy: RetryPolicy, oauth_environ: dict[str, str]
) -> Iterator[HubSpotConnector]:
    built = build(hs_settings, policy, oauth_environ)
    status = built.check()  # start-up check, before any fault is injected
    assert status.ok, status
    yield built
    built.close()


@pytest.fixture
def known_debtor_id() -> str:
    return "101"


@pytest.fixture
def known_debtor_name() -> str:
    return "Dana Whitfield"


class TestHubSpotContract(ConnectorContract, FaultContract):
    """The shared connector and fault contracts, against the HubSpot emulator."""


# --- round trips ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("debtor_id", "expected"),
    [
        pytest.param(
            "101", 5, id="calls emails sms and notes cost one batch read each"
        ),
        pytest.param("102", 3, id="calls and notes cost two batch reads"),
        pytest.param("104", 1, id="no history costs the contact read only"),
    ],
)
def test_context_takes_two_round_trips_and_one_request_per_history_type(
    connector: HubSpotConnector,
    emulator: HubSpotEmulator,
    debtor_id: str,
    expected: int,
) -> None:
    with emulator.counting() as seen:
        connector.fetch_context(debtor_id)

    assert len(seen) == expected
    assert seen[0] == ("GET", f"/crm/v3/objects/contacts/{debtor_id}")
    assert all(
        method == "POST" and re.fullmatch(r"/crm/v3/objects/\w+/batch/read", path)
        for method, path in seen[1:]
    )


def test_first_use_validates_the_mapping_once(
    hs_settings: Settings,
    policy: RetryPolicy,
    oauth_environ: dict[str, str],
    emulator: HubSpotEmulator,
) -> None:
    fresh = build(hs_settings, policy, oauth_environ)

    with emulator.counting() as first:
        fresh.fetch_context("102")
    with emulator.counting() as second:
        fresh.fetch_context("102")

    describes = [p for _m, p in first if p.startswith("/crm/v3/properties/")]
    assert sorted(describes) == [
        f"/crm/v3/properties/{t}"
        for t in ("calls", "communications", "contacts", "emails", "notes", "tasks")
    ]
    assert not [p for _m, p in second if p.startswith("/crm/v3/properties/")]
    fresh.close()


# --- reading -------------------------------------------------------------------------


def test_colombian_debtor_reads_in_spanish_with_pesos_and_plan(
    connector: HubSpotConnector,
) -> None:
    context = connector.fetch_context("102")

    assert context.debtor.jurisdiction == "CO"
    assert context.debtor.language == "es"
    assert context.debtor.timezone == "America/Bogota"
    assert str(context.account.balance) == "1250000.00 COP"
    assert context.account.payment_plan is not None
    assert context.account.payment_plan.instalments_total == 5
    assert [p.amount.amount for p in context.payments] == [250000]


def test_flags_history_and_promise_of_the_known_debtor(
    connector: HubSpotConnector,
) -> None:
    context = connector.fetch_context("101")

    assert context.debtor.hardship and context.debtor.opted_out_channels == ("sms",)
    assert context.debtor.preferred_hours is not None
    assert [(a.channel, a.direction, a.outcome) for a in context.contact_attempts] == [
        ("sms", "outbound", "delivered"),
        ("call", "outbound", "no_answer"),
        ("email", "outbound", "delivered"),
        ("call", "outbound", "conversation"),
        ("call", "inbound", "conversation"),
    ]
    assert [n.kind for n in context.notes] == ["hardship", "general"]
    assert context.notes[0].text == "Lost job in October; asked for a plan."
    assert context.promises[0].amount.amount == 200


def test_cease_and_attorney_flags_are_read(connector: HubSpotConnector) -> None:
    debtor = connector.fetch_context("103").debtor

    assert debtor.cease_requested and debtor.attorney_represented
    assert debtor.attorney_name == "Morgan & Pike LLP"


@pytest.mark.parametrize(
    ("value", "zone"),
    [
        pytest.param("america_slash_bogota", "America/Bogota", id="hubspot enum value"),
        pytest.param("America/New_York", "America/New_York", id="iana name as is"),
        pytest.param(
            "america_slash_argentina_slash_buenos_aires",
            "America/Argentina/Buenos_Aires",
            id="nested hubspot enum value",
        ),
        pytest.param("", None, id="empty is unknown"),
        pytest.param("mars_slash_olympus", None, id="made up zone is unknown"),
    ],
)
def test_time_zone_values_resolve_to_iana_names(value: str, zone: str | None) -> None:
    assert resolve_timezone(value) == zone


# --- search and work queue -------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param("dana.whitfield@example.com", "101", id="by email"),
        pytest.param("5550142", "101", id="by phone digits"),
        pytest.param("102", "102", id="by hubspot id"),
        pytest.param("Restrepo", "102", id="by last name"),
    ],
)
def test_search_matches_email_phone_id_and_name(
    connector: HubSpotConnector, query: str, expected: str
) -> None:
    assert expected in [s.id for s in connector.search_debtors(query)]


def test_contacts_that_owe_nothing_are_not_debtors(connector: HubSpotConnector) -> None:
    found = connector.search_debtors("Whitfield")

    assert [s.id for s in found] == ["101"]  # 106 shares the name but holds no debt


def test_work_queue_pages_with_after(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    connector.page_size = 2  # type: ignore[misc]

    with emulator.counting() as seen:
        queue = connector.list_work_queue(limit=10)

    assert [s.id for s in queue] == ["105", "102", "101", "103", "104"]
    assert [p for _m, p in seen] == ["/crm/v3/objects/contacts/search"] * 3


# --- write-back ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kind", "object_type"),
    [
        pytest.param("email", "emails", id="an email is logged as an email"),
        pytest.param("sms", "communications", id="an sms is logged as a communication"),
        pytest.param("letter", "notes", id="a letter is logged as a note"),
        pytest.param("task", "tasks", id="a task is a task"),
        pytest.param("call", "calls", id="a call summary is a call"),
    ],
)
def test_each_kind_becomes_its_engagement(
    connector: HubSpotConnector, emulator: HubSpotEmulator, kind: str, object_type: str
) -> None:
    key = f"kind-test-{kind}"

    result = connector.write_activity(make_activity("102", key, kind=kind))

    stored = [
        a
        for a in emulator.activities("102")
        if a["properties"].get("copilot_idempotency_key") == key
    ]
    assert [a["type"] for a in stored] == [object_type]
    assert stored[0]["id"] == result.activity_id


def test_written_call_and_letter_come_back_as_contact_attempts(
    connector: HubSpotConnector,
) -> None:
    connector.write_activity(make_activity("104", "history-call-1", kind="call"))
    connector.write_activity(make_activity("104", "history-letter-1", kind="letter"))

    attempts = connector.fetch_context("104").contact_attempts

    assert sorted(a.channel for a in attempts) == ["call", "letter"]


def test_a_second_process_finds_the_key_by_search(
    connector: HubSpotConnector,
    hs_settings: Settings,
    policy: RetryPolicy,
    oauth_environ: dict[str, str],
    emulator: HubSpotEmulator,
) -> None:
    activity = make_activity("101", "cross-process-key-1", kind="note")
    first = connector.write_activity(activity)
    other = build(hs_settings, policy, oauth_environ)

    again = other.write_activity(activity)

    assert (again.created, again.activity_id) == (False, first.activity_id)
    assert (
        len([a for a in emulator.activities("101") if "cross-process-key-1" in str(a)])
        == 1
    )
    other.close()


def test_a_create_that_failed_after_commit_is_not_repeated_despite_search_lag(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    emulator.search_lag = True  # freshly created objects are not yet searchable
    emulator.inject("server_error", path="/crm/v3/objects/emails", after_commit=True)

    with emulator.counting() as seen:
        result = connector.write_activity(
            make_activity("101", "after-commit-1", "email")
        )

    stored = [a for a in emulator.activities("101") if "after-commit-1" in str(a)]
    assert len(stored) == 1 and stored[0]["id"] == result.activity_id
    assert ("GET", "/crm/v4/objects/contacts/101/associations/emails") in seen


def test_write_to_an_unknown_contact_is_not_found(connector: HubSpotConnector) -> None:
    with pytest.raises(ConnectorError, match="999999"):
        connector.write_activity(make_activity("999999", "unknown-contact-1", "note"))


# --- auth ----------------------------------------------------------------------------


def test_oauth_refresh_gets_a_new_token_from_the_token_endpoint(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    emulator.inject("expired_token")

    with emulator.counting() as seen:
        connector.fetch_context("104")

    assert seen == [
        ("GET", "/crm/v3/objects/contacts/104"),
        ("POST", "/oauth/v1/token"),
        ("GET", "/crm/v3/objects/contacts/104"),
    ]


def test_a_rotated_private_app_token_is_read_again_from_the_environment(
    hs_settings: Settings, policy: RetryPolicy, emulator: HubSpotEmulator
) -> None:
    environ = {"HUBSPOT_TOKEN": ACCESS_TOKEN}
    private = build(hs_settings, policy, environ)
    private.check()
    emulator.inject("expired_token")
    emulator.issue_token("pat-na1-rotated")
    environ["HUBSPOT_TOKEN"] = "pat-na1-rotated"

    assert private.fetch_context("101").debtor.id == "101"
    private.close()


def test_an_expired_private_app_token_says_which_variable_to_set(
    hs_settings: Settings, policy: RetryPolicy, emulator: HubSpotEmulator
) -> None:
    private = build(hs_settings, policy, {"HUBSPOT_TOKEN": ACCESS_TOKEN})
    private.check()
    emulator.inject("expired_token")

    with pytest.raises(CRMAuthError, match="HUBSPOT_TOKEN") as info:
        private.fetch_context("101")

    assert "EXPIRED_AUTHENTICATION" in info.value.message
    private.close()


def test_a_refused_refresh_token_is_an_auth_error(
    hs_settings: Settings,
    policy: RetryPolicy,
    oauth_environ: dict[str, str],
    emulator: HubSpotEmulator,
) -> None:
    oauth_environ["HUBSPOT_REFRESH_TOKEN"] = "revoked"
    broken = build(hs_settings, policy, oauth_environ)
    broken.check()
    emulator.inject("expired_token")

    with pytest.raises(CRMAuthError, match="HUBSPOT_REFRESH_TOKEN"):
        broken.fetch_context("101")
    broken.close()


# --- faults in detail ------------------------------------------------------------------


def test_rate_limit_waits_exactly_what_retry_after_says(
    connector: HubSpotConnector, emulator: HubSpotEmulator, waits: list[float]
) -> None:
    emulator.inject("rate_limit", retry_after=1)

    connector.fetch_context("104")

    assert waits == [1.0]


def test_persistent_rate_limit_carries_the_advertised_delay(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    emulator.inject("rate_limit", times=50, retry_after=0)

    with pytest.raises(CRMRateLimitedError) as info:
        connector.fetch_context("104")

    assert info.value.retry_after_s == 0.0
    assert emulator.request_count  # three attempts were made
    assert "rate limit" in info.value.message


def test_timeout_message_names_the_setting(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    emulator.inject("slow", times=3, seconds=3)

    with pytest.raises(CRMUnavailableError, match="COPILOT_CRM_TIMEOUT_S"):
        connector.fetch_context("104")


# --- mapping ---------------------------------------------------------------------------


def _mapping_file(tmp_path: Path, edit: Any) -> Path:
    data = yaml.safe_load(PACKAGED_MAPPING.read_text())
    edit(data)
    path = tmp_path / "hubspot.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_a_mapped_property_missing_in_hubspot_is_named(
    tmp_path: Path,
    hs_settings: Settings,
    policy: RetryPolicy,
    oauth_environ: dict[str, str],
) -> None:
    path = _mapping_file(
        tmp_path,
        lambda d: d["account"]["properties"].update(balance="copilot_saldo"),
    )
    wrong = build(hs_settings, policy, oauth_environ, mapping=load_mapping(path))

    status = wrong.check()
    with pytest.raises(CRMMappingError, match="copilot_saldo") as info:
        wrong.fetch_context("101")

    assert not status.ok
    assert status.problems == [
        "contacts.copilot_saldo (mapping account.properties.balance) does not exist "
        "in HubSpot"
    ]
    assert "account.properties.balance" in info.value.message
    wrong.close()


def test_a_mapping_without_a_balance_is_refused_at_load(tmp_path: Path) -> None:
    path = _mapping_file(
        tmp_path, lambda d: d["account"]["properties"].update(balance=None)
    )

    with pytest.raises(CRMMappingError, match=r"account\.properties\.balance"):
        load_mapping(path)


def test_a_mapping_with_an_unknown_section_key_is_refused(tmp_path: Path) -> None:
    path = _mapping_file(tmp_path, lambda d: d["write"].update(idempotency_prop="x"))

    with pytest.raises(CRMMappingError, match="idempotency_prop"):
        load_mapping(path)


# --- the emulator cannot drift from the client's models ------------------------------------


class _Raw:
    def __init__(self, data: bytes) -> None:
        self.data = data


def _type_problems(data: Any, kind: str, models: ModuleType, where: str) -> list[str]:
    """Keys the model does not declare, and values of the wrong JSON type."""
    if data is None:
        return []
    if kind.startswith("list["):
        if not isinstance(data, list):
            return [f"{where} should be a list"]
        inner = kind[5:-1]
        return [
            p
            for i, v in enumerate(data)
            for p in _type_problems(v, inner, models, f"{where}[{i}]")
        ]
    if kind.startswith(("dict[", "dict(")):
        if not isinstance(data, dict):
            return [f"{where} should be an object"]
        inner = kind[kind.index(",") + 2 : -1]
        return [
            p
            for k, v in data.items()
            for p in _type_problems(v, inner, models, f"{where}.{k}")
        ]
    primitives = {
        "str": str,
        "int": int,
        "bool": bool,
        "float": (int, float),
        "datetime": str,
        "date": str,
        "object": object,
    }
    if kind in primitives:
        ok = isinstance(data, primitives[kind])  # type: ignore[arg-type]
        return [] if ok else [f"{where} should be {kind}, is {type(data).__name__}"]
    klass = getattr(models, kind)
    if not isinstance(data, dict):
        return [f"{where} should be a {kind} object"]
    by_json = {json_name: attr for attr, json_name in klass.attribute_map.items()}
    problems = [f"{where}.{key} is not in {kind}" for key in data if key not in by_json]
    for key, value in data.items():
        if key in by_json:
            problems += _type_problems(
                value, klass.openapi_types[by_json[key]], models, f"{where}.{key}"
            )
    return problems


def _check_shape(
    body: bytes, model: str, package: ModuleType, extra: tuple[str, ...] = ()
) -> Any:
    data = json.loads(body)
    for key in extra:  # documented fields the generated model leaves out
        data.pop(key, None)
    problems = _type_problems(data, model, package.models, "$")
    assert not problems, problems
    config = package.Configuration()
    config.client_side_validation = True  # required fields and enums are enforced
    return package.ApiClient(configuration=config).deserialize(
        _Raw(json.dumps(data).encode()), model
    )


def _raw(
    emulator: HubSpotEmulator,
    method: str,
    path: str,
    body: Any = None,
    token: str = ACCESS_TOKEN,
) -> urllib3.BaseHTTPResponse:
    return urllib3.request(
        method,
        emulator.url + path,
        json=body,
        retries=False,
        timeout=5,
        headers={"Authorization": f"Bearer {token}"},
    )


SHAPES = [
    pytest.param(
        "GET",
        "/crm/v3/objects/contacts/101?properties=firstname,copilot_balance"
        "&associations=calls,notes",
        None,
        200,
        "SimplePublicObjectWithAssociations",
        hs_objects,
        (),
        id="contact with associations",
    ),
    pytest.param(
        "POST",
        "/crm/v3/objects/calls/batch/read",
        {"inputs": [{"id": "9001"}], "properties": ["hs_call_status"]},
        200,
        "BatchResponseSimplePublicObject",
        hs_objects,
        (),
        id="batch read",
    ),
    pytest.param(
        "POST",
        "/crm/v3/objects/calls/batch/read",
        {"inputs": [{"id": "9001"}, {"id": "1"}], "properties": []},
        207,
        "BatchResponseSimplePublicObjectWithErrors",
        hs_objects,
        (),
        id="batch read with a missing id",
    ),
    pytest.param(
        "POST",
        "/crm/v3/objects/contacts/search",
        {
            "filterGroups": [
                {
                    "filters": [
                        {
                            "propertyName": "copilot_balance",
                            "operator": "GT",
                            "value": "0",
                        }
                    ]
                }
            ],
            "sorts": [{"propertyName": "copilot_due_date", "direction": "ASCENDING"}],
            "properties": ["firstname"],
            "limit": 2,
        },
        200,
        "CollectionResponseWithTotalSimplePublicObjectForwardPaging",
        hs_objects,
        (),
        id="search page with paging",
    ),
    pytest.param(
        "POST",
        "/crm/v3/objects/notes",
        {
            "properties": {
                "hs_timestamp": "2026-12-01T15:00:00.000Z",
                "hs_note_body": "x",
            },
            "associations": [
                {
                    "to": {"id": "101"},
                    "types": [
                        {
                            "associationCategory": "HUBSPOT_DEFINED",
                            "associationTypeId": 202,
                        }
                    ],
                }
            ],
        },
        201,
        "SimplePublicObject",
        hs_objects,
        (),
        id="create a note",
    ),
    pytest.param(
        "GET",
        "/crm/v3/properties/contacts",
        None,
        200,
        "CollectionResponsePropertyNoPaging",
        hs_properties,
        (),
        id="properties describe",
    ),
    pytest.param(
        "GET",
        "/crm/v4/objects/contacts/101/associations/calls?limit=2",
        None,
        200,
        "CollectionResponseMultiAssociatedObjectWithLabelForwardPaging",
        hs_assoc,
        (),
        id="v4 associations page",
    ),
    pytest.param(
        "GET",
        "/crm/v3/objects/contacts/does-not-exist",
        None,
        404,
        "Error",
        hs_objects,
        ("status",),
        id="not found error object",
    ),
    pytest.param(
        "POST",
        "/crm/v3/objects/contacts/search",
        {
            "filterGroups": [
                {"filters": [{"propertyName": "nope", "operator": "EQ", "value": "1"}]}
            ]
        },
        400,
        "Error",
        hs_objects,
        ("status",),
        id="validation error object",
    ),
]


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "model", "package", "extra"), SHAPES
)
def test_emulator_responses_match_the_client_models(
    emulator: HubSpotEmulator,
    method: str,
    path: str,
    body: Any,
    status: int,
    model: str,
    package: ModuleType,
    extra: tuple[str, ...],
) -> None:
    response = _raw(emulator, method, path, body)

    assert response.status == status
    _check_shape(response.data, model, package, extra)


def test_emulator_error_bodies_match_hubspots_error_object(
    emulator: HubSpotEmulator,
) -> None:
    emulator.inject("rate_limit", retry_after=2)
    limited = _raw(emulator, "GET", "/crm/v3/objects/contacts/101")
    expired = _raw(emulator, "GET", "/crm/v3/objects/contacts/101", token="nope")

    assert limited.status == 429 and limited.headers["Retry-After"] == "2"
    assert limited.headers["X-HubSpot-RateLimit-Remaining"] == "0"
    _check_shape(
        limited.data, "Error", hs_objects, ("status", "errorType", "policyName")
    )
    assert expired.status == 401
    error = _check_shape(expired.data, "Error", hs_objects, ("status",))
    assert error.category == "INVALID_AUTHENTICATION"


def test_emulator_token_endpoint_matches_the_oauth_model(
    emulator: HubSpotEmulator,
) -> None:
    response = urllib3.request(
        "POST",
        emulator.url + "/oauth/v1/token",
        retries=False,
        timeout=5,
        body=f"grant_type=refresh_token&client_id={CLIENT_ID}&client_secret={CLIENT_SECRET}"
        f"&refresh_token={REFRESH_TOKEN}",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
    )

    token = _check_shape(response.data, "TokenResponseIF", hs_oauth)
    assert token.access_token in emulator.valid_tokens


def test_the_shape_check_catches_a_drifted_field() -> None:
    drifted = json.dumps(
        {
            "id": "1",
            "properties": {},
            "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": "2026-01-01T00:00:00Z",
            "archived": False,
            "archivd": True,
        }
    ).encode()
    missing = json.dumps({"id": "1", "properties": {}, "archived": False}).encode()

    with pytest.raises(AssertionError, match="archivd"):
        _check_shape(drifted, "SimplePublicObject", hs_objects)
    with pytest.raises(ValueError, match="created_at"):
        _check_shape(missing, "SimplePublicObject", hs_objects)


# --- more auth and mapping cases -----------------------------------------------------------


def test_missing_scopes_is_an_auth_error_pointing_at_the_docs(
    connector: HubSpotConnector, emulator: HubSpotEmulator
) -> None:
    emulator.inject("missing_scopes")

    with pytest.raises(CRMAuthError, match="MISSING_SCOPES") as info:
        connector.fetch_context("101")

    assert "docs/crm/hubspot.md" in info.value.message


def test_without_any_token_the_variable_to_set_is_named(
    hs_settings: Settings, policy: RetryPolicy
) -> None:
    tokenless = build(hs_settings, policy, {})

    status = tokenless.check()
    with pytest.raises(ConfigError, match="HUBSPOT_TOKEN"):
        tokenless.fetch_context("101")

    assert not status.ok and "HUBSPOT_TOKEN" in status.detail
    tokenless.close()


def test_oauth_alone_starts_by_refreshing(
    hs_settings: Settings,
    policy: RetryPolicy,
    oauth_environ: dict[str, str],
    emulator: HubSpotEmulator,
) -> None:
    del oauth_environ["HUBSPOT_TOKEN"]
    oauth_only = build(hs_settings, policy, oauth_environ)

    with emulator.counting() as seen:
        assert oauth_only.check().ok

    assert seen[0] == ("POST", "/oauth/v1/token")
    assert ("POST", "/oauth/v1/token") not in seen[1:]
    oauth_only.close()


def test_the_debt_can_live_on_a_deal(
    tmp_path: Path,
    hs_settings: Settings,
    policy: RetryPolicy,
    oauth_environ: dict[str, str],
    emulator: HubSpotEmulator,
) -> None:
    path = _mapping_file(tmp_path, lambda d: d["account"].update(object="deals"))
    on_deals = build(hs_settings, policy, oauth_environ, mapping=load_mapping(path))
    assert on_deals.check().ok

    with emulator.counting() as seen:
        context = on_deals.fetch_context("105")

    assert context.account.id == "AL-5512"
    assert context.account.creditor == "Golden Gate Auto Finance"
    assert context.account.legal_action_intended
    assert sorted(p for _m, p in seen[1:]) == [
        "/crm/v3/objects/deals/batch/read",
        "/crm/v3/objects/emails/batch/read",
    ]
    with pytest.raises(CRMMappingError, match="account.object: deals"):
        on_deals.list_work_queue()
    on_deals.close()


def test_a_contact_without_a_deal_is_a_clear_not_found_in_deal_mode(
    tmp_path: Path,
    hs_settings: Settings,
    policy: RetryPolicy,
    oauth_environ: dict[str, str],
) -> None:
    path = _mapping_file(tmp_path, lambda d: d["account"].update(object="deals"))
    on_deals = build(hs_settings, policy, oauth_environ, mapping=load_mapping(path))

    with pytest.raises(CRMNotFoundError, match="no associated deal"):
        on_deals.fetch_context("104")
    on_deals.close()
