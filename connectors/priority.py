"""The work-queue score shared by connectors: who to work next, and a short reason why.

The score is deterministic and explainable: a handful of additive points (promises due
or broken, a broken plan, days past due, balance) and a few multipliers that push down
accounts nobody may or should chase now (cease, attorney, open dispute, legal process,
contact already made today). It ranks; it never permits. The compliance engine decides
whether a contact is allowed.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal

from copilot.domain import DebtorContext, Money

__all__ = ["COP_PER_USD", "Score", "score_context", "usd_equivalent"]

COP_PER_USD = Decimal(4000)
"""A fixed, approximate rate used only to rank COP balances beside USD ones."""


@dataclass(frozen=True)
class Score:
    """A priority and the reasons behind it, most important first."""

    priority: float
    reasons: tuple[str, ...]

    @property
    def reason(self) -> str:
        """At most two reasons, as one short line."""
        return "; ".join(self.reasons[:2])


def usd_equivalent(money: Money) -> Decimal:
    """The amount in US dollars, for ranking only."""
    if money.currency == "COP":
        return money.amount / COP_PER_USD
    return money.amount


def _days(n: int) -> str:
    return "1 day" if n == 1 else f"{n} days"


def score_context(context: DebtorContext, now: datetime) -> Score:
    """Score one debtor for the work queue, as of *now*."""
    debtor, account = context.debtor, context.account
    today = debtor.local(now).date()
    language = debtor.language
    points = 0.0
    urgent: list[tuple[float, str]] = []

    for promise in context.promises:
        amount = promise.amount.format(language)
        if promise.status == "pending":
            late = (today - promise.due).days
            if late > 0:
                urgent.append((30.0, f"promise of {amount} missed {_days(late)} ago"))
            elif late == 0:
                urgent.append((28.0, f"promise of {amount} due today"))
            elif late >= -3:
                urgent.append((14.0, f"promise of {amount} due in {_days(-late)}"))
        elif promise.status == "broken":
            age = (today - promise.due).days
            if age <= 30:
                urgent.append((25.0, f"promise of {amount} broken {_days(age)} ago"))

    plan = account.payment_plan
    if plan is not None and plan.next_due is not None:
        if plan.status == "broken":
            urgent.append(
                (22.0, f"payment plan broken ({plan.missed_instalments} missed)")
            )
        elif plan.status == "active":
            until = (plan.next_due - today).days
            if until < 0:
                urgent.append((20.0, f"plan instalment overdue by {_days(-until)}"))
            elif until <= 3:
                urgent.append((10.0, f"plan instalment due in {_days(until)}"))

    for value, _ in urgent:
        points += value

    days_past_due = account.days_past_due(today)
    points += min(days_past_due, 90) / 90 * 15
    if days_past_due > 730:
        points -= 5

    usd = float(usd_equivalent(account.balance))
    points += min(10.0, 2.5 * math.log10(1 + max(usd, 0.0)))

    if debtor.hardship:
        points += 4
        urgent.append((4.0, "hardship noted: consider a plan"))

    reasons = [text for _, text in sorted(urgent, key=lambda item: -item[0])]
    reasons.append(f"{days_past_due} days past due, {account.balance.format(language)}")

    factor = 1.0
    holds: list[str] = []
    if debtor.cease_requested:
        factor, holds = (
            factor * 0.05,
            [*holds, "cease requested: no collection contact"],
        )
    if debtor.attorney_represented:
        factor, holds = factor * 0.05, [*holds, "represented by an attorney"]
    if debtor.disputed and not debtor.verification_sent:
        factor, holds = factor * 0.2, [*holds, "dispute open, verification not sent"]
    if account.legal_process_open:
        factor, holds = factor * 0.3, [*holds, "legal process open"]
    if account.time_barred:
        factor, holds = factor * 0.5, [*holds, "time-barred: no suit or threat of suit"]
    if _contacted_today(context, today):
        factor, holds = factor * 0.5, [*holds, "already contacted today"]
    elif debtor.jurisdiction == "US":
        calls, spoke_days_ago = _recent_calls(context, now)
        if calls >= 7:
            factor, holds = factor * 0.6, [*holds, f"{calls} calls in the last 7 days"]
        elif spoke_days_ago is not None:
            holds = [*holds, f"spoke by phone {_days(spoke_days_ago)} ago"]

    return Score(priority=round(points * factor, 2), reasons=(*holds, *reasons))


def _recent_calls(context: DebtorContext, now: datetime) -> tuple[int, int | None]:
    """Outbound calls in the last 7 days, and days since a phone conversation in them."""
    debtor = context.debtor
    today = debtor.local(now).date()
    week_ago = now - timedelta(days=7)
    calls, spoke = 0, None
    for attempt in context.contact_attempts:
        if attempt.channel != "call" or attempt.at < week_ago:
            continue
        if attempt.direction == "outbound":
            calls += 1
        if attempt.outcome == "conversation":
            spoke = (today - debtor.local(attempt.at).date()).days
    return calls, spoke


def _contacted_today(context: DebtorContext, today: date) -> bool:
    debtor = context.debtor
    return any(
        attempt.direction == "outbound" and debtor.local(attempt.at).date() == today
        for attempt in context.contact_attempts
    )
