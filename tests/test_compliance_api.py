"""The library API others call: from_context, next_allowed, windows, scan_text, disclosures."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from copilot.compliance import (
    CheckResult,
    Proposal,
    get_engine,
    limited_content_business_name,
    required_disclosures,
    scan_text,
)
from copilot.compliance.facts import find_amounts, find_dates
from copilot.domain import Account, ContactAttempt, Debtor, DebtorContext, Money

NY = ZoneInfo("America/New_York")
BOG = ZoneInfo("America/Bogota")


def _context(
    jurisdiction: str = "US", attempts: list[ContactAttempt] | None = None, **flags: Any
) -> DebtorContext:
    us = jurisdiction == "US"
    debtor = Debtor(
        id="d1",
        name="Ana Example",
        jurisdiction=jurisdiction,
        timezone="America/New_York" if us else "America/Bogota",
        language="en" if us else "es",
        phone="+12125550100",
        mobile="+12125550100",
        email="ana@home.example",
        address="1 Main St",
        authorized_channels=() if us else ("call", "sms"),
        **flags,
    )
    account = Account(
        id="a1",
        creditor="Kestrel Bankcard",
        balance=Money.of("1240.50", "USD" if us else "COP"),
        due_date=date(2027, 4, 1),
    )
    return DebtorContext(
        debtor=debtor, account=account, contact_attempts=tuple(attempts or ())
    )


def _call(moment: datetime, outcome: str = "no_answer") -> ContactAttempt:
    return ContactAttempt(
        at=moment, channel="call", direction="outbound", outcome=outcome
    )


def test_from_context_builds_the_check_input() -> None:
    context = _context()
    p = Proposal.from_context(
        context,
        channel="sms",
        language="en",
        text="Hi",
        send_at=datetime(2027, 4, 14, 10, tzinfo=NY),
    )
    assert p.first_contact is True
    assert p.recipient.address == "+12125550100"
    assert p.account.balance == Decimal("1240.50")
    assert p.account.currency == "USD"

    later = _context(attempts=[_call(datetime(2027, 4, 1, 10, tzinfo=NY))])
    p2 = Proposal.from_context(
        later,
        channel="email",
        language="en",
        text="Hi",
        send_at=datetime(2027, 4, 14, 10, tzinfo=NY),
    )
    assert p2.first_contact is False
    assert p2.recipient.address == "ana@home.example"
    assert len(p2.history) == 1


def test_check_result_json_shape() -> None:
    context = _context()
    p = Proposal.from_context(
        context,
        channel="sms",
        language="en",
        text="You deadbeat.",
        send_at=datetime(2027, 4, 14, 22, tzinfo=NY),
    )
    result = get_engine().check(p)
    assert isinstance(result, CheckResult)
    data = result.to_json_dict()
    assert data["allowed"] is False
    assert data["next_allowed_at"] == "2027-04-15T08:00:00-04:00"
    assert {v["rule"] for v in data["violations"]} >= {
        "us.contact_time",
        "us.abusive_language",
    }


@pytest.mark.parametrize(
    ("flags", "channel", "after", "expected"),
    [
        pytest.param(
            {},
            "call",
            datetime(2027, 4, 14, 10, tzinfo=NY),
            datetime(2027, 4, 14, 10, tzinfo=NY),
            id="lawful now",
        ),
        pytest.param(
            {},
            "sms",
            datetime(2027, 4, 14, 22, tzinfo=NY),
            datetime(2027, 4, 15, 8, tzinfo=NY),
            id="too late moves to 08:00",
        ),
        pytest.param(
            {"cease_requested": True},
            "call",
            datetime(2027, 4, 14, 10, tzinfo=NY),
            None,
            id="cease means never",
        ),
        pytest.param(
            {"opted_out_channels": ("sms",)},
            "sms",
            datetime(2027, 4, 14, 10, tzinfo=NY),
            None,
            id="opted out means never",
        ),
        pytest.param(
            {"attorney_represented": True},
            "email",
            datetime(2027, 4, 14, 10, tzinfo=NY),
            None,
            id="attorney means never",
        ),
    ],
)
def test_next_allowed(
    flags: dict[str, Any], channel: str, after: datetime, expected: datetime | None
) -> None:
    assert get_engine().next_allowed(_context(**flags), channel, after) == expected


def test_next_allowed_after_a_conversation_skips_to_day_8() -> None:
    context = _context(
        attempts=[_call(datetime(2027, 4, 12, 15, tzinfo=NY), "conversation")]
    )
    moment = get_engine().next_allowed(
        context, "call", datetime(2027, 4, 14, 10, tzinfo=NY)
    )
    assert moment == datetime(2027, 4, 19, 8, tzinfo=NY)
    same = get_engine().next_allowed(
        context, "email", datetime(2027, 4, 14, 10, tzinfo=NY)
    )
    assert same == datetime(2027, 4, 14, 10, tzinfo=NY)


def test_next_allowed_in_colombia_skips_sunday_and_holiday() -> None:
    # Saturday 2027-03-20 16:00 is after hours; Sunday is closed; Monday 22 is San José.
    moment = get_engine().next_allowed(
        _context("CO"), "sms", datetime(2027, 3, 20, 16, tzinfo=BOG)
    )
    assert moment == datetime(2027, 3, 23, 7, tzinfo=BOG)


def test_contact_windows_for_the_sidebar() -> None:
    context = _context("CO", attempts=[_call(datetime(2027, 4, 14, 9, tzinfo=BOG))])
    windows = get_engine().contact_windows(
        context, datetime(2027, 4, 14, 11, tzinfo=BOG)
    )
    assert set(windows) == {"call", "sms", "email", "letter", "voicemail"}
    assert windows["email"] == {
        "allowed_now": False,
        "next_allowed_at": None,
        "reasons": ["co.contact_frequency", "co.unauthorized_channel"],
    }
    assert windows["call"]["allowed_now"] is False
    assert windows["call"]["reasons"] == ["co.contact_frequency"]
    assert windows["call"]["next_allowed_at"] == "2027-04-15T07:00:00-05:00"
    assert windows["sms"]["next_allowed_at"] == "2027-04-21T07:00:00-05:00"


@pytest.mark.parametrize(
    ("text", "language", "jurisdiction", "account", "expected"),
    [
        pytest.param(
            "If you don't pay, the police will arrest you.",
            "en",
            "US",
            None,
            {"us.threat_criminal"},
            id="agent threatens arrest",
        ),
        pytest.param(
            "You will not be arrested; this is not a crime.",
            "en",
            "US",
            None,
            set(),
            id="agent reassures",
        ),
        pytest.param(
            "We will sue you.",
            "en",
            "US",
            {"legal_action_intended": True},
            set(),
            id="suit the account records",
        ),
        pytest.param(
            "We will sue you.",
            "en",
            "US",
            None,
            {"us.threat_legal_action"},
            id="suit the account does not record",
        ),
        pytest.param(
            "¿Por qué no ha pagado? Le vamos a embargar el sueldo.",
            "es",
            "CO",
            None,
            {"co.ask_default_reason", "co.threat_legal_action"},
            id="agent asks the reason and threatens embargo",
        ),
        pytest.param(
            "Usted tiene derecho a presentar un reclamo.",
            "es",
            "CO",
            None,
            set(),
            id="rights statement",
        ),
    ],
)
def test_scan_text(
    text: str,
    language: str,
    jurisdiction: str,
    account: dict[str, Any] | None,
    expected: set[str],
) -> None:
    found = scan_text(
        text, language=language, jurisdiction=jurisdiction, account=account
    )
    assert {v.rule for v in found} == expected
    for v in found:
        assert v.span is not None and text[v.span[0] : v.span[1]]


@pytest.mark.parametrize("language", ["en", "es"])
@pytest.mark.parametrize("channel", ["sms", "email", "letter", "call"])
@pytest.mark.parametrize("first_contact", [True, False], ids=["first contact", "later"])
def test_required_disclosures_make_a_draft_pass(
    language: str, channel: str, first_contact: bool
) -> None:
    wording = required_disclosures("US", channel, language, first_contact)
    assert wording
    body = "Hola Ana." if language == "es" else "Hi Ana."
    data: dict[str, Any] = {
        "jurisdiction": "US",
        "channel": channel,
        "language": language,
        "send_at": "2027-04-14T10:00:00-04:00",
        "first_contact": first_contact,
        "text": " ".join([body, *wording]),
        "debtor": {"timezone": "America/New_York"},
        "account": {"balance": 10, "currency": "USD"},
    }
    result = get_engine().check(Proposal.model_validate(data))
    assert result.violations == [], [v.message for v in result.violations]


def test_voicemail_needs_no_disclosure_and_has_a_business_name() -> None:
    assert required_disclosures("US", "voicemail", "en", True) == []
    assert limited_content_business_name("US") == "CRG"
    assert limited_content_business_name("CO") is None
    assert required_disclosures("CO", "sms", "es", True) == []


@pytest.mark.parametrize(
    ("text", "value", "currency"),
    [
        ("$1,240.50", "1240.50", None),
        ("1240.5 USD", "1240.5", "USD"),
        ("US$ 1.240,50", "1240.50", "USD"),
        ("COP 1.250.000", "1250000", "COP"),
        ("$1'250.000", "1250000", None),
        ("1,25 millones de pesos", "1250000", "COP"),
        ("$3.462.500,00", "3462500", None),
    ],
)
def test_amount_formats(text: str, value: str, currency: str | None) -> None:
    (found,) = find_amounts(f"Su saldo: {text}.")
    assert found.value == Decimal(value)
    assert found.currency == currency


def test_phone_numbers_are_not_amounts() -> None:
    assert find_amounts("Call (877) 555-0163 or 602 555 0185 within 20 days.") == []


@pytest.mark.parametrize(
    ("text", "day_first", "expected"),
    [
        ("15/12/2026", True, date(2026, 12, 15)),
        ("11/15/2026", False, date(2026, 11, 15)),
        ("December 15", False, date(2026, 12, 15)),
        ("15 de diciembre", True, date(2026, 12, 15)),
        ("5 de marzo de 2027", True, date(2027, 3, 5)),
        ("2027-05-28", False, date(2027, 5, 28)),
        ("May 28, 2027", False, date(2027, 5, 28)),
    ],
)
def test_date_formats(text: str, day_first: bool, expected: date) -> None:
    (found,) = find_dates(
        f"Due {text}.", day_first=day_first, reference=date(2026, 12, 1)
    )
    assert found.value == expected


def test_may_as_a_verb_is_not_a_date() -> None:
    assert (
        find_dates("you may 2 times", day_first=False, reference=date(2027, 1, 1)) == []
    )


def test_a_follow_up_may_cite_a_recorded_promise_and_payment() -> None:
    from copilot.domain import Payment, PromiseToPay

    context = _context(attempts=[_call(datetime(2027, 4, 1, 10, tzinfo=NY))])
    context = context.model_copy(
        update={
            "promises": (
                PromiseToPay(
                    amount=Money.of("200", "USD"),
                    due=date(2027, 4, 20),
                    made_at=datetime(2027, 4, 1, 10, tzinfo=NY),
                ),
            ),
            "payments": (Payment(at=date(2027, 3, 15), amount=Money.of("50", "USD")),),
        }
    )
    text = (
        "Hi Ana, Cascade Recovery Group, a debt collector. Thank you for your payment "
        "of $50.00 on March 15, 2027. As agreed, $200.00 is due on April 20, 2027. "
        "Reply STOP to opt out."
    )
    p = Proposal.from_context(
        context,
        channel="sms",
        language="en",
        text=text,
        send_at=datetime(2027, 4, 14, 10, tzinfo=NY),
    )
    assert get_engine().check(p).violations == []

    wrong = text.replace("$200.00", "$250.00")
    p2 = Proposal.from_context(
        context,
        channel="sms",
        language="en",
        text=wrong,
        send_at=datetime(2027, 4, 14, 10, tzinfo=NY),
    )
    assert [v.rule for v in get_engine().check(p2).violations] == [
        "fact.amount_mismatch"
    ]


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("a balance of nine hundred seventy dollars", "970"),
        ("un saldo de ciento cincuenta mil pesos", "150000"),
        ("a hundred and twenty dollars by Friday", "120"),
    ],
    ids=["english words", "spanish words", "english with and"],
)
def test_amounts_in_words_are_read(text: str, value: str) -> None:
    from decimal import Decimal

    assert [a.value for a in find_amounts(text)] == [Decimal(value)]


def test_numbers_in_words_without_a_currency_are_not_money() -> None:
    assert find_amounts("we tried to call you two times about three options") == []


def test_contact_rules_are_the_timing_and_standing_ones() -> None:
    from copilot.compliance import get_engine

    engine = get_engine()

    assert {"us.contact_time", "us.call_frequency", "us.cease_communication"} <= (
        engine.contact_rule_ids("US"))
    assert "us.threat_legal_action" not in engine.contact_rule_ids("US")
    assert {"co.contact_hours", "co.sunday_or_holiday"} <= engine.contact_rule_ids("CO")
    assert set(engine.rule_ids("US")) >= engine.contact_rule_ids("US")
