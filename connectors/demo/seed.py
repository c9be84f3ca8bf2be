"""Generate the demo CRM portfolio: deterministic, varied, and dated relative to now.

The first debtors (``D-1001`` to ``D-1043``) each stage one scenario other parts of the
product must handle (a debtor at the US call cap, a cease request, a prompt injection in
a note...), always under the same id; the rest are ordinary accounts drawn from the same
seeded random generator. Every date is an offset from the moment of seeding, so a
freshly reset demo always looks current; the same moment always gives the same
portfolio.
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from importlib import resources
from typing import Any, Literal
from zoneinfo import ZoneInfo

import yaml

from copilot.domain import (
    Account,
    Channel,
    ContactAttempt,
    Debtor,
    Dispute,
    Fee,
    HourWindow,
    Jurisdiction,
    Language,
    Money,
    Note,
    Payment,
    PaymentPlan,
    PromiseToPay,
)

__all__ = ["SEED", "US_ZONES", "SeedDebtor", "generate_portfolio", "load_seed_data"]

SEED = 20270214
"""The fixed seed of the demo portfolio's random generator."""

US_ZONES: tuple[str, ...] = (
    "America/New_York",
    "America/Chicago",
    "America/Denver",
    "America/Phoenix",
    "America/Los_Angeles",
    "America/Anchorage",
    "Pacific/Honolulu",
)
BOGOTA = "America/Bogota"
FILLER_COUNT = 21

NoteKind = Literal["general", "hardship", "dispute", "call", "legal"]
PromiseStatus = Literal["pending", "kept", "broken"]
Outcome = Literal["no_answer", "voicemail", "conversation", "delivered", "failed"]


@dataclass
class SeedDebtor:
    """One debtor of the seeded portfolio, with the scenario it stages."""

    scenario: str
    debtor: Debtor
    account: Account
    contact_attempts: list[ContactAttempt]
    promises: list[PromiseToPay]
    disputes: list[Dispute]
    payments: list[Payment]
    notes: list[Note]


@lru_cache(maxsize=1)
def load_seed_data() -> dict[str, Any]:
    """The invented names, companies and wordings the portfolio is built from."""
    source = resources.files("connectors.demo").joinpath("seed_data.yaml")
    data: dict[str, Any] = yaml.safe_load(source.read_text(encoding="utf-8"))
    return data


def generate_portfolio(now: datetime, seed: int = SEED) -> list[SeedDebtor]:
    """The whole demo portfolio, dated relative to *now* (timezone-aware)."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return _Builder(now, seed).build()


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text)
    return "".join(c for c in folded if not unicodedata.combining(c))


@dataclass
class _Case:
    """A debtor being built; turned into models by :meth:`_Builder.finish`."""

    id: str
    scenario: str
    jurisdiction: Jurisdiction
    zone: ZoneInfo
    language: Language
    today: date
    debtor: dict[str, Any]
    account: dict[str, Any] = field(default_factory=dict)
    principal: Decimal = Decimal(0)
    fees: list[Fee] = field(default_factory=list)
    attempts: list[ContactAttempt] = field(default_factory=list)
    promises: list[PromiseToPay] = field(default_factory=list)
    disputes: list[Dispute] = field(default_factory=list)
    payments: list[Payment] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)

    @property
    def currency(self) -> str:
        return "USD" if self.jurisdiction == "US" else "COP"

    @property
    def notes_language(self) -> str:
        # Agents write notes in the company's language, whatever the debtor speaks.
        return "en" if self.jurisdiction == "US" else "es"

    def money(self, amount: Decimal) -> Money:
        return Money(amount=amount, currency=self.currency)

    def balance(self) -> Decimal:
        return self.principal + sum((f.amount.amount for f in self.fees), Decimal(0))


class _Builder:
    """Builds the scenario debtors in a fixed order, then the ordinary ones."""

    def __init__(self, now: datetime, seed: int) -> None:
        self.now = now
        self.rng = random.Random(seed)
        self.data = load_seed_data()
        self.cases: list[_Case] = []
        self.used_names: set[str] = set()
        self.decks: dict[int, list[str]] = {}
        self.step = 30  # days between plan instalments

    # --- the portfolio -------------------------------------------------------------

    def build(self) -> list[SeedDebtor]:
        scenarios: list[Callable[[], None]] = [
            self.us_clean,
            self.co_clean,
            self.us_at_call_cap,
            self.us_near_call_cap,
            self.us_conversation_3_days_ago,
            self.co_contacted_today,
            self.us_cease,
            self.us_attorney,
            self.us_dispute_open,
            self.us_dispute_verified,
            self.us_hardship_job_loss,
            self.us_hardship_medical_spanish,
            self.us_time_barred,
            self.us_spanish_clean,
            self.us_prompt_injection,
            self.us_employer_prohibits,
            self.us_opted_out,
            self.us_plan_kept,
            self.us_plan_broken,
            self.us_promise_due_today,
            self.us_promise_broken,
            self.us_promise_kept,
            self.us_legal_action_intended,
            self.us_first_contact,
            self.us_preferred_hours,
            self.co_plan_broken,
            self.co_negative_report_notice,
            self.co_legal_process_open,
            self.co_collection_fees,
            self.co_other_channel_this_week,
            self.co_preferred_hours,
            self.co_promise_broken,
            self.co_dispute_open,
            self.co_hardship_medical,
            self.co_email_only,
            self.co_old_debt,
            self.us_time_barred_old_medical,
            self.us_old_not_barred,
            self.us_promise_pending_spanish,
            self.co_promise_pending,
            self.co_plan_kept,
            self.co_prompt_injection,
            self.co_cease,
        ]
        for scenario in scenarios:
            scenario()
        for _ in range(FILLER_COUNT):
            self.ordinary()
        return [self.finish(case) for case in self.cases]

    # --- scenario debtors ----------------------------------------------------------

    def us_clean(self) -> None:
        case = self.new_case("us_clean", "US", "America/New_York")
        self.set_account(
            case, days_past_due=42, principal=Decimal("1201.50"), late_fees=1
        )
        self.attempt(case, 38, "letter", "delivered", key="letter_delivered")
        self.attempt(case, 20, "call", "no_answer")
        self.attempt(case, 12, "sms", "delivered")
        self.note(case, "welcome", 39)
        self.note(case, "clean", 20)

    def co_clean(self) -> None:
        case = self.new_case("co_clean", "CO")
        case.debtor["authorized_channels"] = ("sms", "email", "call")
        self.set_account(case, days_past_due=35, principal=Decimal(1_250_000))
        self.attempt(case, 15, "sms", "delivered")
        self.attempt(case, 10, "call", "no_answer")
        self.note(case, "welcome", 16)
        self.note(case, "clean", 10)

    def us_at_call_cap(self) -> None:
        case = self.new_case("us_at_call_cap", "US", "America/Chicago")
        self.set_account(case, days_past_due=64, late_fees=2)
        self.standard_history(case, placed_days_ago=50, quiet_days=10)
        # Seven placed calls in the last seven days: one more is presumed harassment.
        for days_ago in (6, 5, 4, 3, 2, 1, 1):
            outcome: Outcome = "voicemail" if days_ago == 4 else "no_answer"
            self.attempt(case, days_ago, "call", outcome)

    def us_near_call_cap(self) -> None:
        case = self.new_case("us_near_call_cap", "US", "America/Denver")
        self.set_account(case, days_past_due=47, late_fees=1)
        self.standard_history(case, placed_days_ago=40, quiet_days=10)
        for days_ago in (6, 5, 4, 3, 2, 1):
            self.attempt(case, days_ago, "call", "no_answer")

    def us_conversation_3_days_ago(self) -> None:
        case = self.new_case("us_conversation_3_days_ago", "US", "America/Phoenix")
        self.set_account(case, days_past_due=71, late_fees=2)
        self.standard_history(case, placed_days_ago=60, quiet_days=8)
        self.attempt(case, 5, "call", "no_answer")
        self.attempt(case, 3, "call", "conversation", hour=11)
        self.note(case, "clean", 3, kind="call")

    def co_contacted_today(self) -> None:
        case = self.new_case("co_contacted_today", "CO")
        case.debtor["authorized_channels"] = ("sms", "call", "email")
        self.set_account(case, days_past_due=58)
        self.standard_history(case, placed_days_ago=45, quiet_days=9)
        self.attempt(case, 0, "call", "no_answer", hour=8)

    def us_cease(self) -> None:
        case = self.new_case("us_cease", "US", "America/Los_Angeles")
        case.debtor["cease_requested"] = True
        self.set_account(case, days_past_due=133, late_fees=3)
        self.standard_history(case, placed_days_ago=90, quiet_days=15)
        self.attempt(case, 14, "letter", "delivered", direction="inbound")
        self.note(case, "cease", 13)

    def us_attorney(self) -> None:
        case = self.new_case("us_attorney", "US", "America/New_York")
        attorney = self.data["attorneys"][0]
        case.debtor.update(attorney_represented=True, attorney_name=attorney)
        self.set_account(case, days_past_due=210, late_fees=2)
        self.standard_history(case, placed_days_ago=120, quiet_days=20)
        self.note(case, "attorney", 19, kind="legal", attorney=attorney)

    def us_dispute_open(self) -> None:
        case = self.new_case("us_dispute_open", "US", "America/Chicago")
        case.debtor.update(disputed=True, verification_sent=False)
        self.set_account(case, days_past_due=52, late_fees=1)
        self.standard_history(case, placed_days_ago=30, quiet_days=10)
        reason = self.data["dispute_reasons"]["en"][0]
        case.disputes.append(
            Dispute(opened_at=self.day(case, 12), reason=reason, status="open")
        )
        self.note(case, "dispute_open", 12, kind="dispute", reason=reason)

    def us_dispute_verified(self) -> None:
        case = self.new_case("us_dispute_verified", "US", "America/Denver")
        case.debtor.update(disputed=True, verification_sent=True)
        self.set_account(case, days_past_due=96, late_fees=2)
        self.standard_history(case, placed_days_ago=70, quiet_days=8)
        reason = self.data["dispute_reasons"]["en"][1]
        sent = self.day(case, 9)
        case.disputes.append(
            Dispute(
                opened_at=self.day(case, 40),
                reason=reason,
                status="verified",
                verification_sent_at=sent,
            )
        )
        self.note(case, "dispute_open", 40, kind="dispute", reason=reason)
        self.note(case, "dispute_verified", 9, kind="dispute", date=sent.isoformat())

    def us_hardship_job_loss(self) -> None:
        case = self.new_case("us_hardship_job_loss", "US", "America/Anchorage")
        case.debtor["hardship"] = True
        self.set_account(case, days_past_due=88, late_fees=2)
        self.standard_history(case, placed_days_ago=80, quiet_days=8)
        # The job loss broke the plan the debtor had kept until then.
        self.plan(case, total=6, paid=1, status="broken", next_due_in=-10, missed=1)
        self.attempt(case, 6, "call", "conversation", direction="inbound", hour=10)
        self.note(case, "plan_broken", 7, missed=1)
        self.note(case, "hardship_job_loss", 6, kind="hardship", days=34)

    def us_hardship_medical_spanish(self) -> None:
        case = self.new_case("us_hardship_medical", "US", "America/Los_Angeles", "es")
        case.debtor["hardship"] = True
        self.set_account(case, days_past_due=150, product=2)
        self.standard_history(case, placed_days_ago=100, quiet_days=12)
        self.note(case, "spanish", 99)
        self.note(case, "hardship_medical", 11, kind="hardship")

    def us_time_barred(self) -> None:
        case = self.new_case("us_time_barred", "US", "America/Phoenix")
        self.set_account(case, days_past_due=2480, late_fees=3, time_barred=True)
        self.standard_history(case, placed_days_ago=75, quiet_days=9)
        self.note(case, "time_barred", 74, years=6)

    def us_spanish_clean(self) -> None:
        case = self.new_case("us_spanish_clean", "US", "America/New_York", "es")
        self.set_account(case, days_past_due=39, late_fees=1)
        self.attempt(case, 33, "letter", "delivered", key="letter_delivered")
        self.attempt(case, 18, "sms", "delivered")
        self.attempt(case, 11, "call", "voicemail")
        self.note(case, "spanish", 33)

    def us_prompt_injection(self) -> None:
        case = self.new_case("us_prompt_injection", "US", "America/Chicago")
        self.set_account(case, days_past_due=77, late_fees=2)
        self.standard_history(case, placed_days_ago=55, quiet_days=10)
        self.attempt(case, 9, "call", "conversation", direction="inbound", hour=15)
        self.note(case, "injection", 9, kind="call")

    def us_employer_prohibits(self) -> None:
        case = self.new_case("us_employer_prohibits", "US", "America/Denver")
        employer = self.data["employers"][0]
        local = _ascii(case.debtor["name"]).lower().replace(" ", ".")
        case.debtor.update(
            employer=employer["name"],
            employer_prohibits_contact=True,
            work_email=f"{local}@{employer['domain']}",
        )
        self.set_account(case, days_past_due=81, late_fees=1)
        self.standard_history(case, placed_days_ago=60, quiet_days=8)
        self.note(case, "employer", 30, employer=employer["name"])

    def us_opted_out(self) -> None:
        case = self.new_case("us_opted_out", "US", "America/Los_Angeles")
        case.debtor["opted_out_channels"] = ("sms", "email")
        self.set_account(case, days_past_due=66, late_fees=2)
        self.standard_history(case, placed_days_ago=50, quiet_days=8)
        self.note(case, "opt_out", 21, channels="text messages and e-mails")

    def us_plan_kept(self) -> None:
        case = self.new_case("us_plan_kept", "US", "Pacific/Honolulu")
        self.set_account(case, days_past_due=140)
        self.standard_history(case, placed_days_ago=110, quiet_days=20)
        self.plan(case, total=6, paid=3, status="active", next_due_in=5)
        self.note(case, "plan_kept", 25)

    def us_plan_broken(self) -> None:
        case = self.new_case("us_plan_broken", "US", "America/New_York")
        self.set_account(case, days_past_due=190, late_fees=2)
        self.standard_history(case, placed_days_ago=175, quiet_days=9)
        self.plan(case, total=8, paid=2, status="broken", next_due_in=-40, missed=2)
        self.note(case, "plan_broken", 8, missed=2)

    def us_promise_due_today(self) -> None:
        case = self.new_case("us_promise_due_today", "US", "America/Chicago")
        self.set_account(case, days_past_due=55, late_fees=1)
        self.standard_history(case, placed_days_ago=45, quiet_days=12)
        self.attempt(case, 9, "call", "conversation", hour=17)
        self.promise(case, due_in=0, made_days_ago=9, status="pending", share="0.25")

    def us_promise_broken(self) -> None:
        case = self.new_case("us_promise_broken", "US", "America/Los_Angeles")
        self.set_account(case, days_past_due=73, late_fees=2)
        self.standard_history(case, placed_days_ago=60, quiet_days=12)
        self.attempt(case, 15, "call", "conversation", hour=12)
        self.promise(case, due_in=-4, made_days_ago=15, status="broken", share="0.5")

    def us_promise_kept(self) -> None:
        case = self.new_case("us_promise_kept", "US", "America/Denver")
        self.set_account(case, days_past_due=61, late_fees=1)
        self.standard_history(case, placed_days_ago=50, quiet_days=12)
        self.attempt(case, 18, "call", "conversation", hour=14)
        self.promise(case, due_in=-10, made_days_ago=18, status="kept", share="0.3")

    def us_legal_action_intended(self) -> None:
        case = self.new_case("us_legal_action_intended", "US", "America/New_York")
        self.set_account(
            case,
            days_past_due=280,
            principal=Decimal("8843.17"),
            late_fees=2,
            product=1,
            legal_action_intended=True,
        )
        self.standard_history(case, placed_days_ago=200, quiet_days=10)
        self.note(case, "legal_intended", 10, kind="legal")

    def us_first_contact(self) -> None:
        case = self.new_case("us_first_contact", "US", "America/Anchorage")
        self.set_account(case, days_past_due=6)
        self.note(case, "first_contact", 1)

    def us_preferred_hours(self) -> None:
        case = self.new_case("us_preferred_hours", "US", "Pacific/Honolulu")
        case.debtor["preferred_hours"] = HourWindow(start=time(17, 0), end=time(19, 30))
        self.set_account(case, days_past_due=58, late_fees=1)
        self.standard_history(case, placed_days_ago=40, quiet_days=8)
        self.note(case, "preferred_hours", 30, start="5:00 PM", end="7:30 PM")

    def co_plan_broken(self) -> None:
        case = self.new_case("co_plan_broken", "CO")
        self.set_account(case, days_past_due=160)
        self.standard_history(case, placed_days_ago=140, quiet_days=9)
        self.plan(case, total=6, paid=2, status="broken", next_due_in=-35, missed=1)
        self.note(case, "plan_broken", 8, missed=1)

    def co_negative_report_notice(self) -> None:
        case = self.new_case("co_negative_report_notice", "CO")
        self.set_account(case, days_past_due=95, negative_notice_days_ago=10)
        self.standard_history(case, placed_days_ago=80, quiet_days=11)
        self.attempt(case, 10, "email", "delivered")
        self.note(case, "negative_notice", 10, date=self.day(case, 10).isoformat())

    def co_legal_process_open(self) -> None:
        case = self.new_case("co_legal_process_open", "CO")
        self.set_account(
            case,
            days_past_due=420,
            principal=Decimal(18_400_000),
            legal_process_open=True,
        )
        self.standard_history(case, placed_days_ago=300, quiet_days=20)
        self.note(case, "legal_process", 60, kind="legal")

    def co_collection_fees(self) -> None:
        case = self.new_case("co_collection_fees", "CO")
        self.set_account(case, days_past_due=75, collection_fee=True)
        self.standard_history(case, placed_days_ago=60, quiet_days=9)
        fee = case.fees[0].amount
        self.note(case, "fees", 55, amount=fee.format("es"))

    def co_other_channel_this_week(self) -> None:
        case = self.new_case("co_other_channel_this_week", "CO")
        case.debtor["authorized_channels"] = ("sms", "email", "call")
        self.set_account(case, days_past_due=49)
        self.standard_history(case, placed_days_ago=40, quiet_days=10)
        self.attempt(case, 2, "email", "delivered")

    def co_preferred_hours(self) -> None:
        case = self.new_case("co_preferred_hours", "CO")
        case.debtor["preferred_hours"] = HourWindow(start=time(18, 0), end=time(20, 0))
        self.set_account(case, days_past_due=68)
        self.standard_history(case, placed_days_ago=50, quiet_days=9)
        self.note(case, "preferred_hours", 40, start="6:00 p. m.", end="8:00 p. m.")

    def co_promise_broken(self) -> None:
        case = self.new_case("co_promise_broken", "CO")
        self.set_account(case, days_past_due=83)
        self.standard_history(case, placed_days_ago=60, quiet_days=12)
        self.attempt(case, 14, "call", "conversation", hour=10)
        self.promise(case, due_in=-6, made_days_ago=14, status="broken", share="0.4")

    def co_dispute_open(self) -> None:
        case = self.new_case("co_dispute_open", "CO")
        case.debtor.update(disputed=True, verification_sent=False)
        self.set_account(case, days_past_due=70)
        self.standard_history(case, placed_days_ago=50, quiet_days=8)
        reason = self.data["dispute_reasons"]["es"][1]
        case.disputes.append(
            Dispute(opened_at=self.day(case, 7), reason=reason, status="open")
        )
        self.note(case, "dispute_open", 7, kind="dispute", reason=reason)

    def co_hardship_medical(self) -> None:
        case = self.new_case("co_hardship_medical", "CO")
        case.debtor["hardship"] = True
        self.set_account(case, days_past_due=120)
        self.standard_history(case, placed_days_ago=90, quiet_days=10)
        self.note(case, "hardship_medical", 10, kind="hardship")

    def co_email_only(self) -> None:
        case = self.new_case("co_email_only", "CO")
        case.debtor["authorized_channels"] = ("email",)
        self.set_account(case, days_past_due=54)
        self.standard_history(case, placed_days_ago=40, quiet_days=9)
        self.note(case, "opt_out", 20, channels="llamadas y mensajes de texto")

    def co_old_debt(self) -> None:
        case = self.new_case("co_old_debt", "CO")
        self.set_account(case, days_past_due=1150)
        self.standard_history(case, placed_days_ago=90, quiet_days=14)
        self.note(case, "time_barred", 89, years=3)

    def us_time_barred_old_medical(self) -> None:
        case = self.new_case("us_time_barred", "US", "Pacific/Honolulu")
        self.set_account(case, days_past_due=2950, product=2, time_barred=True)
        self.standard_history(case, placed_days_ago=40, quiet_days=9)
        self.note(case, "time_barred", 39, years=8)

    def us_old_not_barred(self) -> None:
        case = self.new_case("us_old_not_barred", "US", "America/Chicago")
        self.set_account(case, days_past_due=930, late_fees=3)
        self.standard_history(case, placed_days_ago=90, quiet_days=9)

    def us_promise_pending_spanish(self) -> None:
        case = self.new_case("us_promise_pending", "US", "America/Phoenix", "es")
        self.set_account(case, days_past_due=44, late_fees=1)
        self.standard_history(case, placed_days_ago=35, quiet_days=12)
        self.attempt(case, 8, "call", "conversation", direction="inbound", hour=13)
        self.promise(case, due_in=6, made_days_ago=8, status="pending", share="0.5")
        self.note(case, "spanish", 8)

    def co_promise_pending(self) -> None:
        case = self.new_case("co_promise_pending", "CO")
        self.set_account(case, days_past_due=40)
        self.standard_history(case, placed_days_ago=35, quiet_days=12)
        self.attempt(case, 10, "call", "conversation", hour=9)
        self.promise(case, due_in=2, made_days_ago=10, status="pending", share="1")

    def co_plan_kept(self) -> None:
        case = self.new_case("co_plan_kept", "CO")
        self.set_account(case, days_past_due=130)
        self.standard_history(case, placed_days_ago=100, quiet_days=15)
        self.plan(case, total=4, paid=2, status="active", next_due_in=12)
        self.note(case, "plan_kept", 15)

    def co_prompt_injection(self) -> None:
        case = self.new_case("co_prompt_injection", "CO")
        self.set_account(case, days_past_due=62)
        self.standard_history(case, placed_days_ago=50, quiet_days=9)
        self.note(case, "injection", 12)

    def co_cease(self) -> None:
        case = self.new_case("co_cease", "CO")
        case.debtor["cease_requested"] = True
        case.debtor["authorized_channels"] = ()
        self.set_account(case, days_past_due=110)
        self.standard_history(case, placed_days_ago=80, quiet_days=20)
        self.note(case, "cease", 18)

    # --- ordinary debtors ----------------------------------------------------------

    def ordinary(self) -> None:
        rng = self.rng
        if rng.random() < 0.62:
            zone = rng.choice(US_ZONES)
            language: Language = "es" if rng.random() < 0.2 else "en"
            case = self.new_case("ordinary", "US", zone, language)
        else:
            case = self.new_case("ordinary", "CO")
            if rng.random() < 0.25:
                case.debtor["authorized_channels"] = ("sms", "email")

        bucket = rng.random()
        if bucket < 0.45:
            days_past_due = rng.randint(8, 90)
        elif bucket < 0.85:
            days_past_due = rng.randint(91, 540)
        else:
            days_past_due = rng.randint(541, 1500)
        self.set_account(
            case,
            days_past_due=days_past_due,
            late_fees=rng.randint(0, 3),
            collection_fee=rng.random() < 0.3,
        )

        placed = min(days_past_due - 3, rng.randint(20, 150))
        quiet = rng.randint(1, 8)
        roll = rng.random()
        plan: tuple[Literal["active", "broken"], int, int, int, int] | None = None
        if roll < 0.15:
            plan = (
                "active",
                rng.randint(3, 10),
                rng.randint(1, 2),
                rng.randint(1, 25),
                0,
            )
        elif roll < 0.25:
            plan = (
                "broken",
                rng.randint(4, 8),
                1,
                -rng.randint(20, 50),
                rng.randint(1, 3),
            )
        if plan is not None:
            # A plan is agreed after placement, and placement after the default.
            status, total, paid, next_due_in, missed = plan
            first_paid = self.step * (paid + missed) - next_due_in
            if days_past_due - 3 < first_paid + 10:
                plan = None
            else:
                placed = max(placed, first_paid + 10)
        if case.jurisdiction == "CO" and rng.random() < 0.3:
            notice = rng.randint(3, min(45, placed))
            case.account["negative_report_notice_sent_at"] = self.day(case, notice)
            self.note(
                case, "negative_notice", notice, date=self.day(case, notice).isoformat()
            )

        self.standard_history(case, placed_days_ago=placed, quiet_days=quiet)
        if plan is not None:
            status, total, paid, next_due_in, missed = plan
            self.plan(
                case,
                total=total,
                paid=paid,
                status=status,
                next_due_in=next_due_in,
                missed=missed,
            )
        if plan is None and 0.25 <= roll < 0.4:
            statuses: tuple[PromiseStatus, ...] = ("pending", "kept", "broken")
            promised = rng.choice(statuses)
            due_in = (
                rng.randint(1, 12) if promised == "pending" else -rng.randint(2, 20)
            )
            self.promise(
                case,
                due_in=due_in,
                made_days_ago=max(1, 1 - due_in + 7),
                status=promised,
                share=rng.choice(("0.2", "0.5", "1")),
            )
        if rng.random() < 0.12:
            case.debtor["hardship"] = True
            self.note(
                case,
                "hardship_job_loss",
                rng.randint(3, 30),
                kind="hardship",
                days=rng.randint(20, 90),
            )
        self.note(case, "welcome", placed)

    # --- building blocks -----------------------------------------------------------

    def new_case(
        self,
        scenario: str,
        jurisdiction: Jurisdiction,
        zone: str = BOGOTA,
        language: Language | None = None,
    ) -> _Case:
        serial = len(self.cases)
        tz = ZoneInfo(zone)
        names = self.data["names"]
        if jurisdiction == "CO":
            language = "es"
            firsts, lasts = names["co_first"], names["co_last"]
        elif language == "es":
            firsts, lasts = names["us_es_first"], names["us_es_last"]
        else:
            language = "en"
            firsts, lasts = names["us_en_first"], names["us_en_last"]
        name = self.unique_name(firsts, lasts, double_last=jurisdiction == "CO")
        login = _ascii(name).lower().replace(" ", ".")

        debtor: dict[str, Any] = {"name": name, "timezone": zone, "language": language}
        if jurisdiction == "US":
            place = self.rng.choice(self.data["us_places"][zone])
            street = self.rng.choice(self.data["us_streets"])
            debtor.update(
                mobile=f"+1{place['area']}55501{serial:02d}",
                email=f"{login}@example.com",
                address=f"{self.rng.randint(100, 9899)} {street}, {place['city']}",
            )
        else:
            prefix = self.rng.choice(self.data["co_mobile_prefixes"])
            city = self.rng.choice(self.data["co_places"])
            debtor.update(
                mobile=f"+57{prefix}55501{serial:02d}",
                email=f"{login}@example.co",
                address=f"Calle {self.rng.randint(10, 150)} # {self.rng.randint(5, 99)}-"
                f"{self.rng.randint(10, 99)}, {city}",
                authorized_channels=("sms", "email", "call"),
            )
        if self.rng.random() < 0.3:
            debtor["phone"] = debtor["mobile"]

        case = _Case(
            id=f"D-{1001 + serial}",
            scenario=scenario,
            jurisdiction=jurisdiction,
            zone=tz,
            language=language,
            today=self.now.astimezone(tz).date(),
            debtor=debtor,
        )
        self.cases.append(case)
        return case

    def unique_name(
        self, firsts: Sequence[str], lasts: Sequence[str], *, double_last: bool
    ) -> str:
        while True:
            parts = [self.draw(firsts), self.draw(lasts)]
            if double_last:
                parts.append(self.draw(lasts))
            if len(parts) == 3 and parts[1] == parts[2]:
                continue
            name = " ".join(parts)
            if name not in self.used_names:
                self.used_names.add(name)
                return name

    def draw(self, pool: Sequence[str]) -> str:
        """The next name of a shuffled pool, so names repeat only once it is used up."""
        key = id(pool)
        if key not in self.decks or not self.decks[key]:
            deck = list(pool)
            self.rng.shuffle(deck)
            self.decks[key] = deck
        return self.decks[key].pop()

    def day(self, case: _Case, days_ago: int) -> date:
        return case.today - timedelta(days=days_ago)

    def moment(self, case: _Case, days_ago: int, hour: int, minute: int) -> datetime:
        at = datetime.combine(
            self.day(case, days_ago), time(hour, minute), tzinfo=case.zone
        )
        if at < self.now:
            return at
        # "Today" but later than the seeding moment: shortly before it, still today.
        midnight = datetime.combine(case.today, time(0, 1), tzinfo=case.zone)
        return min(max(self.now - timedelta(minutes=40), midnight), self.now)

    def set_account(
        self,
        case: _Case,
        *,
        days_past_due: int,
        principal: Decimal | None = None,
        late_fees: int = 0,
        collection_fee: bool = False,
        product: int | None = None,
        time_barred: bool = False,
        legal_action_intended: bool = False,
        legal_process_open: bool = False,
        negative_notice_days_ago: int | None = None,
    ) -> None:
        rng = self.rng
        creditors = self.data["creditors"][case.jurisdiction]
        chosen = creditors[product] if product is not None else rng.choice(creditors)
        if principal is None:
            if case.jurisdiction == "US":
                principal = Decimal(rng.randint(18_000, 950_000)) / 100
            else:
                principal = Decimal(rng.randrange(450_000, 9_800_000, 10_000))
        case.principal = principal

        due = self.day(case, days_past_due)
        late_fee = Decimal(str(chosen.get("late_fee", "0")))
        if case.jurisdiction == "US" and late_fee > 0:
            for _ in range(min(late_fees, days_past_due // 30)):
                case.fees.append(Fee(kind="late_fee", amount=case.money(late_fee)))
        if case.jurisdiction == "CO" and collection_fee:
            fee = (principal * Decimal("0.1") / 1000).quantize(Decimal(1)) * 1000
            case.fees.append(Fee(kind="gastos_de_cobranza", amount=case.money(fee)))

        notice = (
            self.day(case, negative_notice_days_ago)
            if negative_notice_days_ago is not None
            else None
        )
        prefix = "CRG" if case.jurisdiction == "US" else "GDP"
        case.account = {
            "id": f"ACC-{case.id[2:]}",
            "creditor": chosen["creditor"],
            "product": chosen["product"],
            "due_date": due,
            "delinquent_since": due + timedelta(days=1),
            "time_barred": time_barred,
            "legal_action_intended": legal_action_intended,
            "legal_process_open": legal_process_open,
            "negative_report_notice_sent_at": notice,
            "reference": f"{prefix}-{rng.randint(100000, 999999)}",
        }

    def channels(self, case: _Case) -> list[Channel]:
        if case.jurisdiction == "CO":
            return list(case.debtor.get("authorized_channels", ()))
        opted_out = case.debtor.get("opted_out_channels", ())
        return [c for c in ("call", "call", "sms", "email") if c not in opted_out]

    def standard_history(
        self, case: _Case, *, placed_days_ago: int, quiet_days: int
    ) -> None:
        """The first notice at placement, then a few attempts, none in the quiet days."""
        first: Channel = "letter" if case.jurisdiction == "US" else "email"
        self.attempt(
            case, placed_days_ago, first, "delivered", key=f"{first}_delivered"
        )
        channels = self.channels(case) or ["letter"]
        count = max(1, min(6, (placed_days_ago - quiet_days) // 12))
        low, high = quiet_days + 1, placed_days_ago - 1
        if high < low:
            return
        for days_ago in sorted(
            self.rng.sample(range(low, high + 1), min(count, high - low + 1))
        ):
            channel = self.rng.choice(channels)
            if channel == "call":
                outcome: Outcome = self.rng.choice(
                    ("no_answer", "no_answer", "no_answer", "voicemail", "conversation")
                )
            else:
                outcome = "delivered"
            self.attempt(case, days_ago, channel, outcome, background=True)

    def attempt(
        self,
        case: _Case,
        days_ago: int,
        channel: Channel,
        outcome: Outcome,
        *,
        direction: Literal["outbound", "inbound"] = "outbound",
        hour: int | None = None,
        key: str | None = None,
        background: bool = False,
    ) -> None:
        rng = self.rng
        if background and case.jurisdiction == "CO":
            # Background history respects Colombia's calendar: no Sunday contact.
            while self.day(case, days_ago).weekday() == 6:
                days_ago += 1
        if hour is None:
            hour = (
                rng.randint(9, 17) if case.jurisdiction == "CO" else rng.randint(9, 19)
            )
        at = self.moment(case, days_ago, hour, rng.randint(0, 59))

        if key is None:
            if direction == "inbound":
                key = "inbound_conversation"
            elif channel == "call":
                key = f"call_{outcome}"
            else:
                key = f"{channel}_delivered"
        summaries = self.data["attempt_summaries"][case.notes_language]
        agents = self.data["agents"][case.jurisdiction]
        case.attempts.append(
            ContactAttempt(
                at=at,
                channel=channel,
                direction=direction,
                outcome=outcome,
                agent="" if direction == "inbound" else rng.choice(agents),
                summary=summaries.get(key, ""),
            )
        )

    def note(
        self,
        case: _Case,
        key: str,
        days_ago: int,
        *,
        kind: NoteKind = "general",
        **values: Any,
    ) -> None:
        text = self.data["notes"][case.notes_language][key].format(**values)
        case.notes.append(
            Note(
                at=self.moment(
                    case, days_ago, self.rng.randint(9, 17), self.rng.randint(0, 59)
                ),
                author=self.rng.choice(self.data["agents"][case.jurisdiction]),
                text=" ".join(text.split()),
                kind=kind,
            )
        )

    def promise(
        self,
        case: _Case,
        *,
        due_in: int,
        made_days_ago: int,
        status: PromiseStatus,
        share: str,
    ) -> None:
        fraction = Decimal(share)
        if status == "kept":
            fraction = min(fraction, Decimal("0.5"))  # a kept promise leaves a balance
        amount = self.round_amount(case, case.balance() * fraction)
        due = case.today + timedelta(days=due_in)
        case.promises.append(
            PromiseToPay(
                amount=case.money(amount),
                due=due,
                made_at=self.moment(case, made_days_ago, 12, 30),
                status=status,
            )
        )
        if status == "kept":
            case.payments.append(Payment(at=due, amount=case.money(amount)))
            case.principal -= amount
        shown = case.money(amount).format(case.notes_language)
        key = f"promise_{status}"
        note_days_ago = made_days_ago if status == "pending" else max(0, -due_in - 1)
        self.note(case, key, note_days_ago, amount=shown, date=due.isoformat())

    def plan(
        self,
        case: _Case,
        *,
        total: int,
        paid: int,
        status: Literal["active", "broken"],
        next_due_in: int,
        missed: int = 0,
    ) -> None:
        remaining = total - paid
        instalment = self.round_amount(case, case.balance() / remaining)
        step = self.step
        for k in range(paid):
            paid_on = case.today + timedelta(days=next_due_in - step * (paid - k))
            if status == "broken":
                paid_on -= timedelta(days=step * missed)
            case.payments.append(
                Payment(at=min(paid_on, case.today), amount=case.money(instalment))
            )
        case.account["payment_plan"] = PaymentPlan(
            instalment=case.money(instalment),
            frequency="monthly",
            next_due=case.today + timedelta(days=next_due_in),
            instalments_total=total,
            instalments_paid=paid,
            status=status,
            missed_instalments=missed,
        )

    def round_amount(self, case: _Case, amount: Decimal) -> Decimal:
        if case.jurisdiction == "CO":
            return (amount / 1000).quantize(Decimal(1), rounding=ROUND_HALF_UP) * 1000
        return amount.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)

    def finish(self, case: _Case) -> SeedDebtor:
        balance = case.balance()
        paid = sum((p.amount.amount for p in case.payments), Decimal(0))
        account = Account(
            balance=case.money(balance),
            original_amount=case.money(case.principal + paid),
            fees=tuple(case.fees),
            **case.account,
        )
        debtor = Debtor(id=case.id, jurisdiction=case.jurisdiction, **case.debtor)
        return SeedDebtor(
            scenario=case.scenario,
            debtor=debtor,
            account=account,
            contact_attempts=sorted(case.attempts, key=lambda a: a.at),
            promises=case.promises,
            disputes=case.disputes,
            payments=sorted(case.payments, key=lambda p: p.at),
            notes=sorted(case.notes, key=lambda n: n.at),
        )
