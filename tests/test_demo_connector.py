"""The demo CRM: the connector contract, the seeded portfolio, reset, write-back, CLI."""

from __future__ import annotations

import json
import sqlite3
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from click.testing import CliRunner

from connectors.base import available_connectors, get_connector
from connectors.demo import DemoConnector
from connectors.demo.seed import US_ZONES, SeedDebtor, generate_portfolio
from connectors.demo.store import SCHEMA_VERSION, normalize
from copilot.cli import main
from copilot.config import Settings
from copilot.domain import Activity, DebtorContext
from copilot.errors import ConfigError, NotFoundError, StoreError
from tests.connector_contract import ConnectorContract, make_activity

# A Wednesday; noon in Bogotá, 09:00 in Los Angeles.
NOW = datetime(2027, 3, 3, 17, 0, tzinfo=UTC)


class Clock:
    """A settable clock for the connector."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def make_connector(settings: Settings, now: datetime = NOW) -> DemoConnector:
    return DemoConnector(
        settings.data_dir / "demo_crm.sqlite",
        clock=Clock(now),
        prepare_dir=settings.ensure_data_dir,
    )


@pytest.fixture
def connector(settings: Settings) -> DemoConnector:
    return make_connector(settings)


@pytest.fixture(scope="module")
def portfolio() -> dict[str, SeedDebtor]:
    return {item.debtor.id: item for item in generate_portfolio(NOW)}


def local_today(item: SeedDebtor, now: datetime = NOW) -> date:
    return item.debtor.local(now).date()


# --- the shared contract -------------------------------------------------------------


class TestDemoConnectorContract(ConnectorContract):
    @pytest.fixture
    def known_debtor_id(self) -> str:
        return "D-1001"

    @pytest.fixture
    def known_debtor_name(self, connector: DemoConnector) -> str:
        return connector.fetch_context("D-1001").debtor.name


# --- the portfolio -------------------------------------------------------------------


def test_portfolio_has_at_least_60_debtors_in_both_jurisdictions(
    portfolio: dict[str, SeedDebtor],
) -> None:
    jurisdictions = Counter(item.debtor.jurisdiction for item in portfolio.values())

    assert len(portfolio) >= 60
    assert jurisdictions["US"] >= 30
    assert jurisdictions["CO"] >= 15


def test_ids_names_and_phone_numbers_are_unique_and_invented(
    portfolio: dict[str, SeedDebtor],
) -> None:
    debtors = [item.debtor for item in portfolio.values()]

    assert [d.id for d in debtors] == [f"D-{1001 + n}" for n in range(len(debtors))]
    assert len({d.name for d in debtors}) == len(debtors)
    assert len({d.mobile for d in debtors}) == len(debtors)
    assert all(d.mobile and d.mobile[-7:-2] == "55501" for d in debtors)
    assert all(
        (d.email or "").endswith(
            "@example.com" if d.jurisdiction == "US" else "@example.co"
        )
        for d in debtors
    )
    assert all(d.work_email is None or ".example.com" in d.work_email for d in debtors)


def test_us_debtors_span_every_us_time_zone_and_co_debtors_are_in_bogota(
    portfolio: dict[str, SeedDebtor],
) -> None:
    us_zones = {
        i.debtor.timezone for i in portfolio.values() if i.debtor.jurisdiction == "US"
    }
    co_zones = {
        i.debtor.timezone for i in portfolio.values() if i.debtor.jurisdiction == "CO"
    }

    assert us_zones == set(US_ZONES)
    assert co_zones == {"America/Bogota"}


def test_currencies_and_languages_follow_the_jurisdiction(
    portfolio: dict[str, SeedDebtor],
) -> None:
    us = [i for i in portfolio.values() if i.debtor.jurisdiction == "US"]
    co = [i for i in portfolio.values() if i.debtor.jurisdiction == "CO"]

    assert {i.account.currency for i in us} == {"USD"}
    assert {i.account.currency for i in co} == {"COP"}
    assert all(i.debtor.language == "es" for i in co)
    assert sum(i.debtor.language == "es" for i in us) >= 3
    assert sum(i.debtor.language == "en" for i in us) >= 20
    # Colombian balances are whole pesos, the way they are quoted.
    assert all(i.account.balance.amount % 1 == 0 for i in co)
    assert portfolio["D-1002"].account.balance.format("es") == "$1.250.000"


def _days_past_due(i: SeedDebtor) -> int:
    return i.account.days_past_due(local_today(i))


def _is_contact_today(i: SeedDebtor) -> bool:
    return any(
        a.direction == "outbound" and i.debtor.local(a.at).date() == local_today(i)
        for a in i.contact_attempts
    )


CASE_KINDS: list[tuple[str, Callable[[SeedDebtor], bool], int]] = [
    ("fresh delinquency under 15 days", lambda i: _days_past_due(i) < 15, 1),
    ("debt older than two years", lambda i: _days_past_due(i) > 730, 4),
    ("time-barred debt", lambda i: i.account.time_barred, 2),
    ("payment plan kept", lambda i: _plan_status(i) == "active", 3),
    ("payment plan broken", lambda i: _plan_status(i) == "broken", 3),
    ("promise pending", lambda i: _promise(i, "pending"), 2),
    ("promise kept", lambda i: _promise(i, "kept"), 1),
    ("promise broken", lambda i: _promise(i, "broken"), 2),
    ("open dispute without verification", lambda i: _dispute(i, verified=False), 2),
    ("dispute with verification sent", lambda i: _dispute(i, verified=True), 1),
    ("cease request", lambda i: i.debtor.cease_requested, 2),
    ("attorney representation", lambda i: i.debtor.attorney_represented, 1),
    (
        "employer prohibits contact, with a work e-mail",
        lambda i: i.debtor.employer_prohibits_contact and bool(i.debtor.work_email),
        1,
    ),
    ("hardship", lambda i: i.debtor.hardship, 3),
    ("US opted-out channel", lambda i: bool(i.debtor.opted_out_channels), 1),
    (
        "CO debtor with a narrowed set of authorized channels",
        lambda i: (
            i.debtor.jurisdiction == "CO" and len(i.debtor.authorized_channels) < 3
        ),
        2,
    ),
    ("preferred hours", lambda i: i.debtor.preferred_hours is not None, 2),
    ("legal process open", lambda i: i.account.legal_process_open, 1),
    ("legal action intended", lambda i: i.account.legal_action_intended, 1),
    ("late fee", lambda i: any(f.kind == "late_fee" for f in i.account.fees), 10),
    (
        "gastos de cobranza",
        lambda i: any(f.kind == "gastos_de_cobranza" for f in i.account.fees),
        1,
    ),
    (
        "negative report notice sent",
        lambda i: i.account.negative_report_notice_sent_at is not None,
        1,
    ),
    ("no contact yet", lambda i: not i.contact_attempts, 1),
    (
        "inbound contact",
        lambda i: any(a.direction == "inbound" for a in i.contact_attempts),
        3,
    ),
    ("outbound contact already today", _is_contact_today, 1),
]


def _plan_status(i: SeedDebtor) -> str | None:
    return i.account.payment_plan.status if i.account.payment_plan else None


def _promise(i: SeedDebtor, status: str) -> bool:
    return any(p.status == status for p in i.promises)


def _dispute(i: SeedDebtor, *, verified: bool) -> bool:
    return any((d.verification_sent_at is not None) == verified for d in i.disputes)


@pytest.mark.parametrize(
    ("kind", "predicate", "at_least"),
    CASE_KINDS,
    ids=[f"the portfolio has a {kind}" for kind, _, _ in CASE_KINDS],
)
def test_the_portfolio_covers_each_kind_of_case(
    portfolio: dict[str, SeedDebtor],
    kind: str,
    predicate: Callable[[SeedDebtor], bool],
    at_least: int,
) -> None:
    matching = [i.debtor.id for i in portfolio.values() if predicate(i)]

    assert len(matching) >= at_least, f"{kind}: only {matching}"


def test_every_channel_direction_and_outcome_occurs_in_the_histories(
    portfolio: dict[str, SeedDebtor],
) -> None:
    attempts = [a for i in portfolio.values() for a in i.contact_attempts]

    assert {a.channel for a in attempts} >= {"call", "sms", "email", "letter"}
    assert {a.direction for a in attempts} == {"outbound", "inbound"}
    assert {a.outcome for a in attempts} >= {
        "no_answer",
        "voicemail",
        "conversation",
        "delivered",
    }


def _calls_in_last_7_days(i: SeedDebtor, now: datetime) -> int:
    return sum(
        a.channel == "call"
        and a.direction == "outbound"
        and now - a.at <= timedelta(days=7)
        for a in i.contact_attempts
    )


def _last_conversation_days_ago(i: SeedDebtor, now: datetime) -> int | None:
    days = [
        (i.debtor.local(now).date() - i.debtor.local(a.at).date()).days
        for a in i.contact_attempts
        if a.channel == "call" and a.outcome == "conversation"
    ]
    return min(days) if days else None


SEEDING_MOMENTS = [
    pytest.param(NOW, id="seeded on a weekday at noon in Bogota"),
    pytest.param(
        datetime(2027, 3, 7, 5, 10, tzinfo=UTC),
        id="seeded just after midnight in Bogota",
    ),
    pytest.param(
        datetime(2027, 3, 14, 10, 30, tzinfo=UTC),
        id="seeded on the US daylight-saving day",
    ),
    pytest.param(
        datetime(2027, 12, 31, 23, 50, tzinfo=UTC), id="seeded on New Year's Eve"
    ),
]


@pytest.mark.parametrize("now", SEEDING_MOMENTS)
def test_the_staged_scenarios_hold_whenever_the_demo_is_seeded(now: datetime) -> None:
    items = {item.debtor.id: item for item in generate_portfolio(now)}

    assert all(a.at <= now for i in items.values() for a in i.contact_attempts)
    assert all(n.at <= now for i in items.values() for n in i.notes)
    assert all(i.account.balance.amount > 0 for i in items.values())

    assert items["D-1003"].scenario == "us_at_call_cap"
    assert _calls_in_last_7_days(items["D-1003"], now) == 7
    assert items["D-1004"].scenario == "us_near_call_cap"
    assert _calls_in_last_7_days(items["D-1004"], now) == 6
    assert items["D-1005"].scenario == "us_conversation_3_days_ago"
    assert _last_conversation_days_ago(items["D-1005"], now) == 3
    assert items["D-1006"].scenario == "co_contacted_today"
    assert any(
        a.direction == "outbound"
        and items["D-1006"].debtor.local(a.at).date()
        == items["D-1006"].debtor.local(now).date()
        for a in items["D-1006"].contact_attempts
    )
    # The clean debtors are clean: no cap is near and nothing is due today.
    for clean in ("D-1001", "D-1002"):
        assert _calls_in_last_7_days(items[clean], now) == 0
        assert all(
            now - a.at > timedelta(days=7) for a in items[clean].contact_attempts
        )


SCENARIO_IDS = [
    ("D-1001", "us_clean"),
    ("D-1002", "co_clean"),
    ("D-1007", "us_cease"),
    ("D-1008", "us_attorney"),
    ("D-1009", "us_dispute_open"),
    ("D-1011", "us_hardship_job_loss"),
    ("D-1013", "us_time_barred"),
    ("D-1014", "us_spanish_clean"),
    ("D-1015", "us_prompt_injection"),
    ("D-1016", "us_employer_prohibits"),
    ("D-1017", "us_opted_out"),
    ("D-1024", "us_first_contact"),
    ("D-1028", "co_legal_process_open"),
    ("D-1042", "co_prompt_injection"),
    ("D-1043", "co_cease"),
]


@pytest.mark.parametrize(
    ("debtor_id", "scenario"),
    SCENARIO_IDS,
    ids=[f"{debtor_id} stages {scenario}" for debtor_id, scenario in SCENARIO_IDS],
)
def test_scenario_debtors_keep_their_documented_ids(
    portfolio: dict[str, SeedDebtor], debtor_id: str, scenario: str
) -> None:
    assert portfolio[debtor_id].scenario == scenario


def test_the_clean_debtors_carry_no_flags(portfolio: dict[str, SeedDebtor]) -> None:
    for debtor_id in ("D-1001", "D-1002", "D-1014"):
        item = portfolio[debtor_id]
        assert item.debtor.flags() == []
        assert not (item.account.time_barred or item.account.legal_process_open)
        assert not item.disputes and not item.promises
    assert portfolio["D-1014"].debtor.language == "es"
    assert portfolio["D-1014"].debtor.jurisdiction == "US"


@pytest.mark.parametrize(
    ("debtor_id", "phrase"),
    [
        ("D-1015", "ignore previous instructions"),
        ("D-1042", "olvida tus instrucciones"),
    ],
    ids=[
        "the US note tries an injection in English",
        "the CO note tries one in Spanish",
    ],
)
def test_prompt_injection_notes_are_plain_data_on_an_ordinary_debtor(
    portfolio: dict[str, SeedDebtor], debtor_id: str, phrase: str
) -> None:
    item = portfolio[debtor_id]

    assert any(phrase in note.text for note in item.notes)
    assert item.debtor.flags() == []


# --- determinism ---------------------------------------------------------------------


def _dump(items: list[SeedDebtor]) -> list[str]:
    return [
        item.debtor.model_dump_json()
        + item.account.model_dump_json()
        + "".join(a.model_dump_json() for a in item.contact_attempts)
        + "".join(n.model_dump_json() for n in item.notes)
        for item in items
    ]


def test_the_same_moment_gives_the_same_portfolio() -> None:
    assert _dump(generate_portfolio(NOW)) == _dump(generate_portfolio(NOW))


def test_another_seed_gives_another_portfolio() -> None:
    assert _dump(generate_portfolio(NOW, seed=1)) != _dump(generate_portfolio(NOW))


def test_dates_move_with_the_moment_of_seeding() -> None:
    later = NOW + timedelta(days=30)

    before = generate_portfolio(NOW)
    after = generate_portfolio(later)

    assert [i.debtor.name for i in before] == [i.debtor.name for i in after]
    for old, new in zip(before, after, strict=True):
        assert new.account.due_date - old.account.due_date == timedelta(days=30)
        assert new.account.balance == old.account.balance
        old_times = [a.at for a in old.contact_attempts]
        new_times = [a.at for a in new.contact_attempts]
        assert len(old_times) == len(new_times)


def test_generate_portfolio_refuses_a_naive_moment() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        generate_portfolio(datetime(2027, 3, 3, 12, 0))


# --- the connector -------------------------------------------------------------------


def test_the_database_is_created_on_first_use(settings: Settings) -> None:
    connector = make_connector(settings)
    assert not connector.path.exists()

    context = connector.fetch_context("D-1002")

    assert connector.path.exists()
    assert connector.path == settings.data_dir / "demo_crm.sqlite"
    assert context.debtor.jurisdiction == "CO"
    assert context.source == "demo"
    assert context.fetched_at == NOW


def test_the_registry_builds_the_demo_connector(settings: Settings) -> None:
    assert "demo" in available_connectors()

    connector = get_connector(settings)

    assert isinstance(connector, DemoConnector)
    assert connector.label == "Demo CRM"
    assert connector.path == settings.data_dir / "demo_crm.sqlite"


def test_fetch_context_returns_the_seeded_record(
    connector: DemoConnector, portfolio: dict[str, SeedDebtor]
) -> None:
    context = connector.fetch_context("D-1019")
    seeded = portfolio["D-1019"]

    assert context.debtor == seeded.debtor
    assert context.account == seeded.account
    assert list(context.contact_attempts) == seeded.contact_attempts
    assert list(context.notes) == seeded.notes
    assert context.account.payment_plan is not None
    assert context.account.payment_plan.status == "broken"
    assert context.payments


def test_an_unknown_id_says_how_to_list_the_known_ones(
    connector: DemoConnector,
) -> None:
    with pytest.raises(NotFoundError) as info:
        connector.fetch_context("D-9999")

    assert "D-9999" in info.value.message
    assert "copilot demo list" in info.value.message
    assert info.value.status == 404


def _accented_name(connector: DemoConnector) -> str:
    return next(s.name for s in connector.list_debtors() if not s.name.isascii())


def _punctuated_phone(context: DebtorContext) -> str:
    digits = (context.debtor.mobile or "")[-10:]
    return f"({digits[:3]}) {digits[3:6]}-{digits[6:]}"


SEARCHES: list[tuple[str, Callable[[DebtorContext], str]]] = [
    ("the id", lambda c: c.debtor.id),
    ("the id in lower case", lambda c: c.debtor.id.lower()),
    ("the e-mail address", lambda c: c.debtor.email or ""),
    ("the last name in capitals", lambda c: c.debtor.name.split()[-1].upper()),
    ("the full name", lambda c: c.debtor.name),
    ("the phone number written with punctuation", _punctuated_phone),
    ("the last four digits of the phone", lambda c: (c.debtor.mobile or "")[-4:]),
]


@pytest.mark.parametrize(
    ("how", "query_of"),
    SEARCHES,
    ids=[f"search finds a debtor by {how}" for how, _ in SEARCHES],
)
def test_search_finds_a_debtor(
    connector: DemoConnector, how: str, query_of: Callable[[DebtorContext], str]
) -> None:
    for debtor_id in ("D-1001", "D-1012", "D-1026"):
        context = connector.fetch_context(debtor_id)

        found = [s.id for s in connector.search_debtors(query_of(context))]

        assert debtor_id in found, how


def test_search_ignores_accents_and_case(connector: DemoConnector) -> None:
    name = _accented_name(connector)
    plain = "".join(
        c for c in unicodedata.normalize("NFKD", name) if c.isascii()
    ).lower()

    by_plain = [s.name for s in connector.search_debtors(plain)]
    by_accented = [s.name for s in connector.search_debtors(name.upper())]

    assert name in by_plain
    assert name in by_accented


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Muñoz", "munoz"),
        ("ÁNGELA", "angela"),
        ("Óscar Cañas", "oscar canas"),
        ("D-1001", "d-1001"),
    ],
    ids=[
        "a tilde is dropped",
        "capitals and acute accents fold",
        "two words fold",
        "ids keep their dash",
    ],
)
def test_search_text_is_folded_to_plain_lower_case(text: str, expected: str) -> None:
    assert normalize(text) == expected


def test_search_respects_the_limit_and_treats_wildcards_literally(
    connector: DemoConnector,
) -> None:
    assert len(connector.search_debtors("D-10", limit=5)) == 5
    assert connector.search_debtors("%") == []
    assert connector.search_debtors("_") == []


def test_the_work_queue_puts_urgent_debtors_first_and_holds_last(
    connector: DemoConnector,
) -> None:
    queue = connector.list_work_queue(limit=100)
    order = [s.id for s in queue]

    assert len(queue) == len(connector.list_debtors())
    assert all(s.reason for s in queue)
    # A promise due today, a broken promise and a broken plan all beat the clean debtor.
    for urgent in ("D-1020", "D-1021", "D-1019"):
        assert order.index(urgent) < order.index("D-1001")
    # Cease, attorney and unverified disputes sink to the bottom.
    bottom = set(order[-6:])
    assert {"D-1007", "D-1008", "D-1043", "D-1009"} <= bottom
    assert "cease requested" in queue[order.index("D-1007")].reason
    assert "promise" in queue[order.index("D-1020")].reason


def test_the_work_queue_is_deterministic(settings: Settings) -> None:
    first = make_connector(settings).list_work_queue(limit=20)
    again = make_connector(settings).list_work_queue(limit=20)

    assert first == again


def test_summaries_carry_account_flags(connector: DemoConnector) -> None:
    by_id = {s.id: s for s in connector.list_debtors()}

    assert "time_barred" in by_id["D-1013"].flags
    assert "legal_process_open" in by_id["D-1028"].flags
    assert "cease_requested" in by_id["D-1007"].flags
    assert "opted_out:sms" in by_id["D-1017"].flags
    assert by_id["D-1001"].flags == ()


# --- write-back ----------------------------------------------------------------------


def test_a_written_contact_joins_the_history_the_frequency_caps_see(
    connector: DemoConnector,
) -> None:
    before = connector.fetch_context("D-1004")
    calls_before = _count_calls(before)
    activity = Activity(
        debtor_id="D-1004",
        kind="call",
        subject="Call summary",
        body="Debtor asked for a plan.",
        occurred_at=NOW - timedelta(minutes=5),
        idempotency_key="call-summary-0001",
        author="agent@example.com",
    )

    result = connector.write_activity(activity)
    after = connector.fetch_context("D-1004")

    assert result.created
    assert _count_calls(after) == calls_before + 1
    assert after.contact_attempts[-1].at == activity.occurred_at
    assert after.contact_attempts[-1].outcome == "conversation"
    assert any("Debtor asked for a plan." in n.text for n in after.notes)


def _count_calls(context: DebtorContext) -> int:
    return sum(a.channel == "call" for a in context.contact_attempts)


@pytest.mark.parametrize(
    ("kind", "adds_attempt"),
    [
        ("sms", True),
        ("email", True),
        ("letter", True),
        ("note", False),
        ("task", False),
    ],
    ids=[
        "an sms is a contact attempt",
        "an email is a contact attempt",
        "a letter is a contact attempt",
        "a note is not a contact attempt",
        "a task is not a contact attempt",
    ],
)
def test_which_activities_count_as_contacts(
    connector: DemoConnector, kind: str, adds_attempt: bool
) -> None:
    activity = make_activity("D-1001", f"kind-key-{kind}", kind=kind)
    before = len(connector.fetch_context("D-1001").contact_attempts)

    connector.write_activity(activity)

    after = connector.fetch_context("D-1001").contact_attempts
    assert len(after) == before + (1 if adds_attempt else 0)
    written = [a for a in after if a.at == activity.occurred_at]
    assert [(a.channel, a.direction) for a in written] == (
        [(kind, "outbound")] if adds_attempt else []
    )


def test_a_repeated_write_creates_nothing_more(connector: DemoConnector) -> None:
    activity = make_activity("D-1002", "repeat-key-0001", kind="email")

    first = connector.write_activity(activity)
    second = connector.write_activity(activity)
    attempts = connector.fetch_context("D-1002").contact_attempts

    assert (first.created, second.created) == (True, False)
    assert second.activity_id == first.activity_id
    assert [a["idempotency_key"] for a in connector.activities("D-1002")] == [
        "repeat-key-0001"
    ]
    assert sum(a.at == activity.occurred_at for a in attempts) == 1


def test_concurrent_writes_of_one_key_store_one_activity(
    connector: DemoConnector,
) -> None:
    activity = make_activity("D-1003", "concurrent-key-0001", kind="sms")
    connector.store.ensure()
    results = []
    lock = threading.Lock()

    def write() -> None:
        result = connector.write_activity(activity)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=write) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(r.created for r in results) == [False] * 7 + [True]
    assert len({r.activity_id for r in results}) == 1
    assert len(connector.activities("D-1003")) == 1


def test_concurrent_reads_from_threads_agree(connector: DemoConnector) -> None:
    expected = connector.fetch_context("D-1010")
    seen: list[DebtorContext] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(5):
                seen.append(connector.fetch_context("D-1010"))
        except BaseException as exc:  # surfaced by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=read) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert len(seen) == 30
    assert all(c == expected for c in seen)


def test_writing_for_an_unknown_debtor_is_not_found(connector: DemoConnector) -> None:
    with pytest.raises(NotFoundError, match="D-0000"):
        connector.write_activity(make_activity("D-0000", "unknown-debtor-key"))


# --- reset ---------------------------------------------------------------------------


def test_reset_drops_written_activities_and_redates_the_portfolio(
    settings: Settings,
) -> None:
    clock = Clock(NOW)
    connector = DemoConnector(
        settings.data_dir / "demo_crm.sqlite",
        clock=clock,
        prepare_dir=settings.ensure_data_dir,
    )
    connector.write_activity(make_activity("D-1001", "before-reset-key"))
    due_before = connector.fetch_context("D-1001").account.due_date

    clock.now = NOW + timedelta(days=10)
    count = connector.reset()

    assert count == len(generate_portfolio(NOW))
    assert connector.activities("D-1001") == []
    assert connector.fetch_context("D-1001").account.due_date == due_before + timedelta(
        days=10
    )
    assert connector.check().ok


def test_check_reports_the_size_and_warns_when_the_dates_have_aged(
    settings: Settings,
) -> None:
    clock = Clock(NOW)
    connector = DemoConnector(
        settings.data_dir / "demo_crm.sqlite",
        clock=clock,
        prepare_dir=settings.ensure_data_dir,
    )

    fresh = connector.check()
    clock.now = NOW + timedelta(days=30)
    aged = connector.check()

    assert fresh.ok and fresh.problems == []
    assert f"{len(generate_portfolio(NOW))} debtors" in fresh.detail
    assert aged.ok
    assert "30 days ago" in aged.problems[0]
    assert "copilot demo reset" in aged.problems[0]


# --- bad data ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [b"this is not a database at all" * 40, b""],
    ids=[
        "a file of garbage is reported as corrupt",
        "an empty file is reported as corrupt",
    ],
)
def test_a_corrupt_database_says_to_reset(settings: Settings, content: bytes) -> None:
    settings.ensure_data_dir()
    path = settings.data_dir / "demo_crm.sqlite"
    path.write_bytes(content)
    connector = make_connector(settings)

    with pytest.raises(StoreError) as info:
        connector.fetch_context("D-1001")

    assert str(path) in info.value.message
    assert "corrupt" in info.value.message
    assert "copilot demo reset" in info.value.message
    status = connector.check()
    assert not status.ok
    assert "copilot demo reset" in status.detail

    connector.reset()
    assert connector.fetch_context("D-1001").debtor.id == "D-1001"


def test_a_database_from_another_version_says_to_reset(settings: Settings) -> None:
    connector = make_connector(settings)
    connector.store.ensure()
    with sqlite3.connect(connector.path) as db:
        db.execute(
            "UPDATE meta SET value = ? WHERE key = 'schema_version'",
            (SCHEMA_VERSION + "0",),
        )
    db.close()

    with pytest.raises(StoreError, match="another version.*copilot demo reset"):
        make_connector(settings).fetch_context("D-1001")


def test_a_data_directory_that_is_a_file_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    connector = DemoConnector.from_settings(Settings(data_dir=blocker))

    with pytest.raises(ConfigError, match="COPILOT_DATA_DIR"):
        connector.fetch_context("D-1001")


def test_a_missing_data_directory_is_created(tmp_path: Path) -> None:
    data_dir = tmp_path / "deep" / "er" / "data"
    connector = DemoConnector.from_settings(Settings(data_dir=data_dir))

    assert connector.check().ok
    assert (data_dir / "demo_crm.sqlite").is_file()
    assert "debtors" in connector.check().detail


# --- the CLI -------------------------------------------------------------------------


def test_cli_reset_then_list_as_json(tmp_path: Path) -> None:
    runner = CliRunner()

    reset = runner.invoke(main, ["demo", "reset"])
    listed = runner.invoke(main, ["demo", "list", "--json"])

    assert reset.exit_code == 0, reset.output
    assert "debtors" in reset.output
    assert str(tmp_path / "data" / "demo_crm.sqlite") in reset.output
    assert listed.exit_code == 0, listed.output
    rows = json.loads(listed.output)
    assert len(rows) >= 60
    first = rows[0]
    assert first["id"] == "D-1001"
    assert first["scenario"] == "us_clean"
    assert {"name", "jurisdiction", "balance", "flags", "priority"} <= set(first)
    assert Decimal(first["balance"]["amount"]) > 0


def test_cli_list_prints_a_table_and_filters_by_jurisdiction() -> None:
    runner = CliRunner()

    table = runner.invoke(main, ["demo", "list"])
    colombian = runner.invoke(main, ["demo", "list", "--jurisdiction", "co"])

    assert table.exit_code == 0, table.output
    lines = table.output.splitlines()
    assert lines[0].startswith("D-1001")
    assert any(
        line.startswith("D-1007") and "cease_requested" in line for line in lines
    )
    assert colombian.exit_code == 0
    assert "$1.250.000 COP" in colombian.output
    assert all("  CO  " in line for line in colombian.output.splitlines())


def test_cli_reports_a_corrupt_database_in_one_sentence(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    (data_dir / "demo_crm.sqlite").write_bytes(b"garbage" * 100)

    result = CliRunner().invoke(main, ["demo", "list"])

    assert result.exit_code == 2
    assert "corrupt" in result.output
    assert "copilot demo reset" in result.output
    assert "Traceback" not in result.output


def test_the_scenario_table_documents_every_scenario_debtor(
    portfolio: dict[str, SeedDebtor],
) -> None:
    table = Path(__file__).parent.parent / "connectors" / "demo" / "SCENARIOS.md"
    rows = [
        line.split("|")[1:3]
        for line in table.read_text(encoding="utf-8").splitlines()
        if line.startswith("| `D-")
    ]
    documented = {cell.strip(" `"): scenario.strip() for cell, scenario in rows}
    staged = {
        i: item.scenario for i, item in portfolio.items() if item.scenario != "ordinary"
    }

    assert documented == staged
