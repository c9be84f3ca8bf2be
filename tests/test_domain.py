"""The domain model: money is exact, moments are aware, zones are real."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal

import pytest
from pydantic import ValidationError

from copilot.domain import (
    Account,
    ContactAttempt,
    Debtor,
    DebtorContext,
    Draft,
    Money,
    Violation,
)


@pytest.mark.parametrize(
    ("amount", "currency", "language", "expected"),
    [
        ("1240.5", "USD", "en", "$1,240.50"),
        ("1250000", "COP", "es", "$1.250.000"),
        ("3462500.5", "COP", "es", "$3.462.500,50"),
        ("0.1", "USD", "en", "$0.10"),
    ],
    ids=["dollars with cents", "pesos without cents", "pesos with cents", "small amount"],
)
def test_money_formats_like_the_market_reads_it(
    amount: str, currency: str, language: str, expected: str
) -> None:
    assert Money.of(amount, currency).format(language) == expected


def test_money_from_a_float_keeps_its_written_value() -> None:
    assert Money(amount=0.1, currency="USD").amount == Decimal("0.1")  # type: ignore[arg-type]


def test_money_refuses_to_mix_currencies() -> None:
    with pytest.raises(ValueError, match="cannot combine"):
        _ = Money.of(1, "USD") + Money.of(1, "COP")


def test_money_adds_exactly() -> None:
    total = Money.of("0.1", "USD") + Money.of("0.2", "USD")

    assert total.amount == Decimal("0.3")


def test_lowercase_currency_is_rejected() -> None:
    with pytest.raises(ValidationError):
        Money.of(1, "usd")


def _debtor(**overrides: object) -> Debtor:
    base: dict[str, object] = {
        "id": "D-1",
        "name": "Ana Ruiz",
        "jurisdiction": "CO",
        "timezone": "America/Bogota",
        "language": "es",
    }
    base.update(overrides)
    return Debtor(**base)  # type: ignore[arg-type]


def test_unknown_time_zone_is_rejected_with_its_name() -> None:
    with pytest.raises(ValidationError, match="Mars/Olympus"):
        _debtor(timezone="Mars/Olympus")


def test_local_time_ignores_the_offset_the_moment_carries() -> None:
    debtor = _debtor(timezone="America/Los_Angeles", jurisdiction="US")
    moment = datetime(2027, 3, 16, 15, 40, tzinfo=UTC)

    assert debtor.local(moment).hour == 8  # PDT began 2027-03-14


def test_naive_moments_are_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        _debtor().local(datetime(2027, 1, 1, 9, 0))  # noqa: DTZ001


def test_contact_attempts_must_be_aware() -> None:
    with pytest.raises(ValidationError):
        ContactAttempt(
            at=datetime(2027, 1, 1, 9, 0),  # noqa: DTZ001
            channel="call",
            direction="outbound",
            outcome="no_answer",
        )


def test_context_sorts_history_oldest_first() -> None:
    account = Account(
        id="A-1",
        creditor="Banco",
        balance=Money.of("1250000", "COP"),
        due_date=date(2027, 1, 5),
    )
    late = ContactAttempt(
        at=datetime(2027, 2, 2, tzinfo=UTC), channel="sms", direction="outbound",
        outcome="delivered",
    )
    early = late.model_copy(update={"at": datetime(2027, 1, 2, tzinfo=UTC)})

    context = DebtorContext(debtor=_debtor(), account=account, contact_attempts=(late, early))

    assert [a.at.month for a in context.contact_attempts] == [1, 2]


def test_flags_name_each_restriction() -> None:
    debtor = _debtor(cease_requested=True, opted_out_channels=("sms",))

    assert debtor.flags() == ["cease_requested", "opted_out:sms"]


def test_draft_is_allowed_only_without_blocking_violations() -> None:
    warn = Violation(rule="fact.wrong_language", severity="warn", message="m")
    block = Violation(rule="us.contact_time", severity="block", message="m")
    draft = Draft(debtor_id="D-1", channel="sms", language="en", text="hi",
                  violations=(warn,))

    assert draft.allowed
    assert not draft.model_copy(update={"violations": (warn, block)}).allowed
