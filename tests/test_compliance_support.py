"""Builders of check inputs for the compliance tests: a clean US and a clean CO proposal."""

from __future__ import annotations

import copy
from typing import Any

US_TEXT = (
    "Hi Ana, this is Cascade Recovery Group, a debt collector. Your Kestrel Bankcard "
    "balance is $1,240.50, due on April 1, 2027. Call (877) 555-0163. "
    "Reply STOP to opt out."
)
CO_TEXT = (
    "Hola Ana, Gestiones del Pacífico S.A.S. le recuerda que su saldo es de $1.250.000 "
    "con fecha de pago del 1 de abril de 2027. Llámenos al 602 555 0185."
)

US_BASE: dict[str, Any] = {
    "jurisdiction": "US",
    "channel": "sms",
    "language": "en",
    "send_at": "2027-04-14T10:00:00-04:00",
    "first_contact": False,
    "text": US_TEXT,
    "recipient": {"role": "debtor", "address": "+12125550100"},
    "debtor": {
        "name": "Ana Example",
        "timezone": "America/New_York",
        "attorney_represented": False,
        "cease_requested": False,
        "disputed": False,
        "verification_sent": False,
        "employer_prohibits_contact": False,
        "work_email": None,
        "opted_out_channels": [],
        "authorized_channels": [],
        "preferred_hours": None,
    },
    "account": {
        "balance": 1240.50,
        "currency": "USD",
        "due_date": "2027-04-01",
        "fees": [],
        "payment_plan": None,
        "time_barred": False,
        "legal_action_intended": False,
        "legal_process_open": False,
        "negative_report_notice_sent_at": None,
    },
    "history": [
        {
            "at": "2027-02-01T10:00:00-05:00",
            "channel": "letter",
            "direction": "outbound",
            "outcome": "delivered",
        },
    ],
}

CO_BASE: dict[str, Any] = {
    **copy.deepcopy(US_BASE),
    "jurisdiction": "CO",
    "language": "es",
    "send_at": "2027-04-14T10:00:00-05:00",
    "text": CO_TEXT,
    "recipient": {"role": "debtor", "address": "+573001112233"},
    "debtor": {
        **US_BASE["debtor"],
        "timezone": "America/Bogota",
        "authorized_channels": ["sms", "call", "email", "letter"],
    },
    "account": {**US_BASE["account"], "balance": 1250000, "currency": "COP"},
    "history": [
        {
            "at": "2027-03-01T10:00:00-05:00",
            "channel": "letter",
            "direction": "outbound",
            "outcome": "delivered",
        },
    ],
}


def proposal(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A copy of *base* with dotted-path changes (``debtor__cease_requested=True``)."""
    data = copy.deepcopy(base)
    for dotted, value in changes.items():
        keys = dotted.split("__")
        target = data
        for key in keys[:-1]:
            target = target[key]
        target[keys[-1]] = value
    return data


def calls(*moments: str, outcome: str = "no_answer") -> list[dict[str, Any]]:
    """Outbound call attempts at the given ISO moments."""
    return [
        {"at": m, "channel": "call", "direction": "outbound", "outcome": outcome}
        for m in moments
    ]


def test_a_date_never_spans_a_line_break() -> None:
    from datetime import date

    from copilot.compliance.facts import find_dates

    found = find_dates("Re: reference 10\n\nDecember 9, 2026", day_first=False,
                       reference=date(2026, 12, 3))

    assert [d.value for d in found] == [date(2026, 12, 9)]
