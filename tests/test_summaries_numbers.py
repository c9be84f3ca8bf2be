"""Amounts in digits and words, English and Spanish."""

from __future__ import annotations

from decimal import Decimal

import pytest

from copilot.domain import Money
from copilot.summaries import parse_amount
from copilot.summaries.numbers import find_amounts, locale_currency

AMOUNTS = [
    # (text, language, local currency, expected amount, expected currency)
    ("ciento cincuenta mil pesos", "es", "COP", "150000", "COP"),
    ("200 mil", "es", "COP", "200000", "COP"),
    ("$1.250.000", "es", "COP", "1250000", "COP"),
    ("1,25 millones", "es", "COP", "1250000", "COP"),
    ("un millón veinte mil pesos", "es", "COP", "1020000", "COP"),
    ("trescientos cuarenta mil", "es", "COP", "340000", "COP"),
    ("doscientos quince mil", "es", "COP", "215000", "COP"),
    ("treinta y cinco mil", "es", "COP", "35000", "COP"),
    ("mil quinientos dólares", "es", "COP", "1500", "USD"),
    ("millón y medio", "es", "COP", "1500000", "COP"),
    ("dos millones y medio de pesos", "es", "COP", "2500000", "COP"),
    ("medio millón", "es", "COP", "500000", "COP"),
    ("veintiún mil", "es", "COP", "21000", "COP"),
    ("novecientos noventa y nueve mil", "es", "COP", "999000", "COP"),
    ("$3.462.500,00", "es", "COP", "3462500", "COP"),
    ("a hundred and twenty", "en", "USD", "120", "USD"),
    ("two seventy-five", "en", "USD", "275", "USD"),
    ("one ninety", "en", "USD", "190", "USD"),
    ("twelve fifty", "en", "USD", "1250", "USD"),
    ("twelve hundred", "en", "USD", "1200", "USD"),
    ("one thousand one hundred eighty dollars", "en", "USD", "1180", "USD"),
    ("nine hundred five dollars", "en", "USD", "905", "USD"),
    ("four hundred and fifty", "en", "USD", "450", "USD"),
    ("two hundred fifty thousand", "en", "USD", "250000", "USD"),
    ("$2,318.47", "en", "USD", "2318.47", "USD"),
    ("$1,250", "en", "USD", "1250", "USD"),
    ("fifty dollars and twenty five cents", "en", "USD", "50.25", "USD"),
    ("2k", "en", "USD", "2000", "USD"),
    ("two grand", "en", "USD", "2000", "USD"),
    ("1.5 million", "en", "USD", "1500000", "USD"),
    ("300 pesos", "en", "USD", "300", "COP"),
]


@pytest.mark.parametrize(
    ("text", "language", "local", "amount", "currency"),
    AMOUNTS,
    ids=[f"{row[0]} ({row[1]}) is {row[3]} {row[4]}" for row in AMOUNTS],
)
def test_parse_amount(
    text: str, language: str, local: str, amount: str, currency: str
) -> None:
    money = parse_amount(text, language, local)

    assert money is not None
    assert money.amount == Decimal(amount)
    assert money.currency == currency


NOT_AMOUNTS = [
    ("call us at 602 555 0185", "es"),
    ("call (877) 555-0163 any time", "en"),
    ("I get off at 5:30 pm", "en"),
    ("a 10% discount", "en"),
    ("nothing to see here", "en"),
]


@pytest.mark.parametrize(
    ("text", "language"),
    NOT_AMOUNTS,
    ids=[f"no amount in {t!r}" for t, _ in NOT_AMOUNTS],
)
def test_phone_numbers_times_and_percentages_are_not_amounts(
    text: str, language: str
) -> None:
    assert find_amounts(text, language) == []


def test_offsets_point_at_the_words() -> None:
    text = "Puedo dar cuatrocientos sesenta mil en la quincena y los otros cuatrocientos sesenta mil"

    mentions = find_amounts(text, "es")

    assert [text[m.start : m.end] for m in mentions] == [
        "cuatrocientos sesenta mil"
    ] * 2
    assert all(m.words_only for m in mentions)


def test_two_separate_numbers_are_not_merged() -> None:
    mentions = find_amounts("two payments of one ninety", "en")

    assert [m.value for m in mentions] == [Decimal(2), Decimal(190)]


@pytest.mark.parametrize(
    ("zone", "currency"),
    [("America/Bogota", "COP"), ("America/Chicago", "USD"), ("America/Phoenix", "USD")],
    ids=["Bogota is pesos", "Chicago is dollars", "Phoenix is dollars"],
)
def test_locale_currency(zone: str, currency: str) -> None:
    assert locale_currency(zone) == currency


def test_parse_amount_without_a_number_is_none() -> None:
    assert parse_amount("no sé cuánto", "es", "COP") is None


def test_parse_amount_returns_money() -> None:
    assert parse_amount("$340.000", "es", "COP") == Money.of(340000, "COP")
