"""Next steps on the demo portfolio: ranked, timed by the engine, explained."""

from __future__ import annotations

import json
from datetime import datetime

import pytest
from click.testing import CliRunner

from connectors.demo import DemoConnector
from copilot.cli import main
from copilot.compliance import get_engine
from copilot.config import Settings
from copilot.generation.next_steps import ACTIONS, rank_next_steps


@pytest.fixture
def crm(settings: Settings) -> DemoConnector:
    return DemoConnector.from_settings(settings)


def _steps(crm: DemoConnector, settings: Settings, debtor_id: str):  # type: ignore[no-untyped-def]
    return rank_next_steps(crm.fetch_context(debtor_id), get_engine(settings))


@pytest.mark.parametrize(
    ("debtor_id", "first"),
    [
        ("D-1007", "close"),
        ("D-1008", "wait"),
        ("D-1009", "send_validation"),
        ("D-1011", "hardship_pause"),
        ("D-1019", "call"),
        ("D-1020", "sms"),
        ("D-1006", "wait"),
    ],
    ids=[
        "a cease request closes the account",
        "an attorney means waiting for the attorney",
        "an open dispute needs validation first",
        "a hardship suggests a pause",
        "a broken plan calls for a call",
        "a promise due today gets a reminder text",
        "a Colombian debtor contacted today must wait",
    ],
)
def test_the_top_action_fits_the_situation(
    crm: DemoConnector, settings: Settings, debtor_id: str, first: str
) -> None:
    steps = _steps(crm, settings, debtor_id)

    assert steps[0].action == first
    assert steps[0].reasons, "every recommendation says why"


def test_a_debtor_at_the_call_cap_gets_no_call_now(
    crm: DemoConnector, settings: Settings
) -> None:
    steps = {s.action: s for s in _steps(crm, settings, "D-1003")}

    call = steps["call"]
    assert not call.allowed_now
    assert "us.call_frequency" in call.blocked_by
    assert call.allowed_at is not None and call.allowed_at > datetime.now(call.allowed_at.tzinfo)
    assert list(steps)[0] != "call"


def test_opted_out_channels_are_not_recommended(
    crm: DemoConnector, settings: Settings
) -> None:
    actions = [s.action for s in _steps(crm, settings, "D-1017")]

    assert "sms" not in actions and "email" not in actions


def test_ranking_is_deterministic_and_sorted(crm: DemoConnector, settings: Settings) -> None:
    first = [(s.action, s.score) for s in _steps(crm, settings, "D-1023")]
    second = [(s.action, s.score) for s in _steps(crm, settings, "D-1023")]

    assert first == second
    assert [score for _, score in first] == sorted((s for _, s in first), reverse=True)
    assert {a for a, _ in first} <= set(ACTIONS)


def test_next_steps_command_cites_policies(crm: DemoConnector) -> None:
    result = CliRunner().invoke(main, ["next-steps", "--debtor", "D-1009", "--json"])

    assert result.exit_code == 0, result.output
    body = json.loads(result.output)
    top = body["steps"][0]
    assert top["action"] == "send_validation"
    assert top["why"]
    assert top["citation"] and top["citation"]["doc"].endswith(".md")


def test_a_hardship_pause_would_draft_on_a_channel_open_now(
    crm: DemoConnector, settings: Settings
) -> None:
    step = _steps(crm, settings, "D-1011")[0]

    assert step.action == "hardship_pause" and step.allowed_now
    assert step.draft is not None and step.draft["goal"] == "hardship"
    assert step.draft["channel"] in ("sms", "email", "letter", "call")


def test_reasons_speak_the_interface_language(crm: DemoConnector, settings: Settings) -> None:
    context = crm.fetch_context("D-1009")

    english = rank_next_steps(context, get_engine(settings))[0].reasons
    spanish = rank_next_steps(context, get_engine(settings), language="es")[0].reasons

    assert english == ["the debt is disputed and verification was not sent"]
    assert spanish == ["la deuda está en disputa y no se han enviado los soportes"]


def test_the_first_channel_to_open_is_chosen_by_moment_not_by_text(
    crm: DemoConnector,
) -> None:
    from copilot.generation.next_steps import _best_channel

    context = crm.fetch_context("D-1001")
    # New York falls back at 02:00 EDT: 01:30 EDT (05:30Z) comes before 01:10 EST (06:10Z),
    # though its ISO text sorts after it.
    windows = {
        "call": {"allowed_now": False, "next_allowed_at": "2026-11-01T01:10:00-05:00"},
        "sms": {"allowed_now": False, "next_allowed_at": "2026-11-01T01:30:00-04:00"},
        "email": {"allowed_now": False, "next_allowed_at": None},
        "letter": {"allowed_now": False, "next_allowed_at": None},
    }

    assert _best_channel(context, windows) == "sms"


def test_a_large_balance_is_weighed_in_exact_money(
    crm: DemoConnector, settings: Settings
) -> None:
    from decimal import Decimal

    from connectors.priority import usd_equivalent

    context = crm.fetch_context("D-1002")
    assert context.account.balance.currency == "COP"

    equivalent = usd_equivalent(context.account.balance)

    assert isinstance(equivalent, Decimal)
    assert equivalent == context.account.balance.amount / Decimal(4000)
