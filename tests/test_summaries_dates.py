"""Relative and explicit dates resolved from the call date."""

from __future__ import annotations

from datetime import date

import pytest

from copilot.summaries import resolve_date
from copilot.summaries.dates import find_dates

WED = date(2027, 2, 17)  # a Wednesday
FRI = date(2027, 2, 12)  # a Friday
TUE = date(2027, 3, 30)  # a Tuesday

DATES = [
    ("this Friday", WED, "en", date(2027, 2, 19)),
    ("Friday", WED, "en", date(2027, 2, 19)),
    ("on Wednesday", WED, "en", date(2027, 2, 24)),
    ("this Wednesday", WED, "en", WED),
    ("next Monday", WED, "en", date(2027, 2, 22)),
    ("the following Friday", TUE, "en", date(2027, 4, 9)),
    ("a week from Friday", TUE, "en", date(2027, 4, 9)),
    ("Friday after next", TUE, "en", date(2027, 4, 9)),
    ("Friday next week", TUE, "en", date(2027, 4, 9)),
    ("tomorrow", TUE, "en", date(2027, 3, 31)),
    ("the day after tomorrow", TUE, "en", date(2027, 4, 1)),
    ("today", TUE, "en", TUE),
    ("in two weeks", WED, "en", date(2027, 3, 3)),
    ("in 3 days", WED, "en", date(2027, 2, 20)),
    ("end of the month", WED, "en", date(2027, 2, 28)),
    ("the end of next month", WED, "en", date(2027, 3, 31)),
    ("the 15th", date(2027, 4, 10), "en", date(2027, 4, 15)),
    ("the 5th", date(2027, 4, 10), "en", date(2027, 5, 5)),
    ("on the first", date(2027, 4, 10), "en", date(2027, 5, 1)),
    ("March 15", WED, "en", date(2027, 3, 15)),
    ("March 15, 2027", WED, "en", date(2027, 3, 15)),
    ("3/15", WED, "en", date(2027, 3, 15)),
    ("2027-03-15", WED, "en", date(2027, 3, 15)),
    ("el próximo lunes", FRI, "es", date(2027, 2, 15)),
    ("el lunes que viene", FRI, "es", date(2027, 2, 15)),
    ("este viernes", FRI, "es", FRI),
    ("el viernes", FRI, "es", date(2027, 2, 19)),
    ("el viernes de la otra semana", TUE, "es", date(2027, 4, 9)),
    ("mañana", FRI, "es", date(2027, 2, 13)),
    ("pasado mañana", FRI, "es", date(2027, 2, 14)),
    ("el 15", date(2027, 4, 20), "es", date(2027, 5, 15)),
    ("el 30", date(2027, 4, 20), "es", date(2027, 4, 30)),
    ("el quince", date(2027, 3, 3), "es", date(2027, 3, 15)),
    ("la quincena", date(2027, 3, 3), "es", date(2027, 3, 15)),
    ("la quincena", date(2027, 3, 16), "es", date(2027, 3, 31)),
    ("la quincena", date(2027, 3, 15), "es", date(2027, 3, 15)),
    ("la segunda quincena", date(2027, 3, 3), "es", date(2027, 3, 31)),
    ("fin de mes", date(2027, 3, 3), "es", date(2027, 3, 31)),
    ("a finales de mes", date(2027, 2, 3), "es", date(2027, 2, 28)),
    ("el último día de marzo", date(2027, 3, 3), "es", date(2027, 3, 31)),
    ("15 de marzo de 2027", WED, "es", date(2027, 3, 15)),
    ("el 5 de abril", WED, "es", date(2027, 4, 5)),
    ("20/04/2027", WED, "es", date(2027, 4, 20)),
    ("en ocho días", WED, "es", date(2027, 2, 24)),
    ("en quince días", WED, "es", date(2027, 3, 3)),
    ("dentro de 3 días", WED, "es", date(2027, 2, 20)),
]


@pytest.mark.parametrize(
    ("expression", "call_date", "language", "expected"),
    DATES,
    ids=[f"{e} said on {d.isoformat()} is {x.isoformat()}" for e, d, _, x in DATES],
)
def test_resolve_date(
    expression: str, call_date: date, language: str, expected: date
) -> None:
    assert resolve_date(expression, call_date, language) == expected


@pytest.mark.parametrize(
    ("expression", "language"),
    [("por la mañana", "es"), ("in a few days", "en"), ("sometime soon", "en")],
    ids=[
        "morning is not tomorrow",
        "a few days is not a date",
        "vague time is not a date",
    ],
)
def test_unresolvable_expressions(expression: str, language: str) -> None:
    assert resolve_date(expression, WED, language) is None


def test_negated_date_is_skipped() -> None:
    found = find_dates("not Thursday, Friday", WED, "en")

    assert [d.value for d in found] == [date(2027, 2, 19)]


def test_month_end_in_a_leap_year() -> None:
    assert resolve_date("end of the month", date(2028, 2, 3), "en") == date(2028, 2, 29)


def test_quincena_rolls_into_next_month() -> None:
    assert resolve_date("la quincena", date(2027, 4, 30), "es") == date(2027, 4, 30)
    assert resolve_date("la próxima quincena", date(2027, 4, 30), "es") == date(
        2027, 5, 15
    )
