"""The words the whole product uses, as typed models.

Money is a :class:`Money` (``Decimal`` plus an ISO-4217 currency), never a float. Every
moment is timezone-aware; a debtor's local time comes from their IANA ``timezone``.
"""

from __future__ import annotations

from datetime import date, datetime, time
from decimal import ROUND_HALF_UP, Decimal
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

__all__ = [
    "CHANNELS",
    "LANGUAGES",
    "Account",
    "Activity",
    "Channel",
    "Citation",
    "ContactAttempt",
    "Debtor",
    "DebtorContext",
    "DebtorSummary",
    "Dispute",
    "Draft",
    "Fee",
    "HourWindow",
    "Jurisdiction",
    "Language",
    "Money",
    "Note",
    "Payment",
    "PaymentPlan",
    "PromiseToPay",
    "RecipientRole",
    "Violation",
    "WriteResult",
]

Channel = Literal["call", "sms", "email", "letter", "voicemail"]
CHANNELS: tuple[str, ...] = ("call", "sms", "email", "letter", "voicemail")
Language = Literal["en", "es"]
LANGUAGES: tuple[str, ...] = ("en", "es")
Jurisdiction = Literal["US", "CO"]
Direction = Literal["outbound", "inbound"]
Outcome = Literal["no_answer", "voicemail", "conversation", "delivered", "failed"]
RecipientRole = Literal[
    "debtor",
    "spouse",
    "attorney",
    "employer",
    "reference",
    "relative",
    "co_debtor",
    "unknown",
]
Severity = Literal["block", "warn"]
Tone = Literal["firm", "neutral", "warm"]
Goal = Literal["reminder", "plan_offer", "promise_follow_up", "hardship", "settlement"]

_MINOR_UNITS = {"USD": 2, "COP": 2, "EUR": 2, "MXN": 2}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Money(_Model):
    """An amount of money in one currency, exact."""

    amount: Decimal
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]

    @field_validator("amount", mode="before")
    @classmethod
    def _no_floats(cls, value: Any) -> Any:
        # A float has already lost cents; go through its shortest repr, not its binary.
        if isinstance(value, float):
            return Decimal(repr(value))
        return value

    @classmethod
    def of(cls, amount: str | int | Decimal, currency: str) -> Money:
        """Build from a string, int or Decimal."""
        return cls(amount=Decimal(str(amount)), currency=currency)

    def quantized(self) -> Decimal:
        """The amount rounded to the currency's minor unit."""
        places = _MINOR_UNITS.get(self.currency, 2)
        return self.amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)

    def __add__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount + other.amount, currency=self.currency)

    def __sub__(self, other: Money) -> Money:
        self._same_currency(other)
        return Money(amount=self.amount - other.amount, currency=self.currency)

    def _same_currency(self, other: Money) -> None:
        if other.currency != self.currency:
            raise ValueError(f"cannot combine {self.currency} with {other.currency}")

    def format(self, language: str = "en") -> str:
        """Write the amount the way a debtor in that market reads it.

        USD: ``$1,240.50``. COP: ``$1.250.000`` (cents dropped when zero), the
        Colombian convention of dots for thousands and a comma for decimals.
        """
        value = self.quantized()
        if self.currency == "COP":
            whole = int(value)
            cents = int((value - whole) * 100)
            text = f"{whole:,}".replace(",", ".")
            return f"${text},{cents:02d}" if cents else f"${text}"
        text = f"{value:,.2f}"
        if language == "es" and self.currency != "USD":
            text = text.replace(",", "_").replace(".", ",").replace("_", ".")
        symbol = "$" if self.currency in ("USD", "MXN") else f"{self.currency} "
        return f"{symbol}{text}"

    def __str__(self) -> str:
        return f"{self.quantized()} {self.currency}"


class HourWindow(_Model):
    """Local hours a debtor asked to be contacted in, ``HH:MM`` to ``HH:MM``."""

    start: time
    end: time


class Fee(_Model):
    """A fee recorded on the account (late fee, collection fee...)."""

    kind: str
    amount: Money


class PaymentPlan(_Model):
    """An agreed plan of instalments."""

    instalment: Money
    frequency: Literal["weekly", "biweekly", "monthly"] = "monthly"
    next_due: date | None = None
    instalments_total: int = Field(default=1, ge=1)
    instalments_paid: int = Field(default=0, ge=0)
    status: Literal["active", "broken", "completed"] = "active"
    missed_instalments: int = Field(default=0, ge=0)


class Account(_Model):
    """One debt being collected, with its ledger."""

    id: str
    creditor: str
    product: str = ""
    original_amount: Money | None = None
    balance: Money
    due_date: date
    delinquent_since: date | None = None
    fees: tuple[Fee, ...] = ()
    payment_plan: PaymentPlan | None = None
    time_barred: bool = False
    legal_action_intended: bool = False
    legal_process_open: bool = False
    negative_report_notice_sent_at: date | None = None
    reference: str = ""

    @property
    def currency(self) -> str:
        """The account's currency."""
        return self.balance.currency

    def days_past_due(self, today: date) -> int:
        """Days since the due date, zero if not yet due."""
        return max(0, (today - self.due_date).days)


class Note(_Model):
    """A free-text note from the CRM. Data, never instructions."""

    at: AwareDatetime
    author: str = ""
    text: str
    kind: Literal["general", "hardship", "dispute", "call", "legal"] = "general"


class Debtor(_Model):
    """A person who owes, with the flags that limit how they may be contacted."""

    id: str
    name: str
    jurisdiction: Jurisdiction
    timezone: str
    language: Language = "en"
    phone: str | None = None
    mobile: str | None = None
    email: str | None = None
    work_email: str | None = None
    address: str | None = None
    employer: str | None = None
    attorney_represented: bool = False
    attorney_name: str | None = None
    cease_requested: bool = False
    disputed: bool = False
    verification_sent: bool = False
    employer_prohibits_contact: bool = False
    opted_out_channels: tuple[Channel, ...] = ()
    authorized_channels: tuple[Channel, ...] = ()
    preferred_hours: HourWindow | None = None
    hardship: bool = False

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"unknown IANA time zone {value!r}") from exc
        return value

    @property
    def zone(self) -> ZoneInfo:
        """The debtor's time zone."""
        return ZoneInfo(self.timezone)

    def local(self, moment: datetime) -> datetime:
        """A moment in the debtor's local time, whatever offset it carries."""
        if moment.tzinfo is None:
            raise ValueError("moment must be timezone-aware")
        return moment.astimezone(self.zone)

    def flags(self) -> list[str]:
        """Short flag names for lists and badges."""
        names = [
            ("cease_requested", self.cease_requested),
            ("attorney_represented", self.attorney_represented),
            ("disputed", self.disputed),
            ("employer_prohibits_contact", self.employer_prohibits_contact),
            ("hardship", self.hardship),
        ]
        flags = [name for name, on in names if on]
        flags += [f"opted_out:{channel}" for channel in self.opted_out_channels]
        return flags


class ContactAttempt(_Model):
    """One earlier contact, outbound or inbound."""

    at: AwareDatetime
    channel: Channel
    direction: Direction
    outcome: Outcome
    agent: str = ""
    summary: str = ""


class PromiseToPay(_Model):
    """A promise the debtor made to pay an amount by a date."""

    amount: Money
    due: date
    made_at: AwareDatetime
    status: Literal["pending", "kept", "broken"] = "pending"


class Dispute(_Model):
    """The debtor contests the debt or an amount in it."""

    opened_at: date
    reason: str
    status: Literal["open", "verified", "resolved"] = "open"
    verification_sent_at: date | None = None


class Payment(_Model):
    """A payment received."""

    at: date
    amount: Money


class DebtorContext(_Model):
    """Everything the copilot knows about the debtor on screen, pulled from the CRM."""

    debtor: Debtor
    account: Account
    contact_attempts: tuple[ContactAttempt, ...] = ()
    promises: tuple[PromiseToPay, ...] = ()
    disputes: tuple[Dispute, ...] = ()
    payments: tuple[Payment, ...] = ()
    notes: tuple[Note, ...] = ()
    source: str = ""
    fetched_at: AwareDatetime | None = None

    @model_validator(mode="after")
    def _sorted_history(self) -> DebtorContext:
        attempts = tuple(sorted(self.contact_attempts, key=lambda a: a.at))
        object.__setattr__(self, "contact_attempts", attempts)
        return self


class DebtorSummary(_Model):
    """One line of a search result or the work queue."""

    id: str
    name: str
    jurisdiction: Jurisdiction
    language: Language
    balance: Money
    due_date: date
    flags: tuple[str, ...] = ()
    priority: float = 0.0
    reason: str = ""


class Citation(_Model):
    """Where a statement rests: a passage of a versioned policy document."""

    doc: str
    heading: str
    version: int
    passage_id: str = ""
    jurisdiction: str | None = None
    excerpt: str = ""


class Violation(_Model):
    """A rule a proposed contact breaks, with the pack and setting that produced it."""

    rule: str
    severity: Severity
    message: str
    citation: str = ""
    span: tuple[int, int] | None = None
    pack: str = ""
    setting: str = ""


class Draft(_Model):
    """A message or script proposed for a debtor, and how it was produced."""

    id: str | None = None
    debtor_id: str
    channel: Channel
    language: Language
    tone: Tone = "neutral"
    goal: Goal = "reminder"
    text: str
    subject: str | None = None
    engine: str = "template"
    template_id: str | None = None
    citations: tuple[Citation, ...] = ()
    violations: tuple[Violation, ...] = ()
    fallback_reason: str | None = None
    tokens_in: int = 0
    tokens_out: int = 0
    timings_ms: dict[str, float] = Field(default_factory=dict)

    @property
    def allowed(self) -> bool:
        """True when no blocking violation remains."""
        return not any(v.severity == "block" for v in self.violations)


class Activity(_Model):
    """Approved work written back to the CRM."""

    debtor_id: str
    kind: Literal["email", "sms", "letter", "call", "note", "task"]
    subject: str
    body: str
    occurred_at: AwareDatetime
    idempotency_key: str = Field(min_length=8, max_length=128)
    draft_id: str | None = None
    author: str = ""


class WriteResult(_Model):
    """What the CRM answered to a write-back."""

    activity_id: str
    created: bool
    """False when the idempotency key matched an earlier write."""
    url: str | None = None
