"""The input and output contract of a compliance check (``copilot check``)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

from copilot.domain import (
    Channel,
    DebtorContext,
    HourWindow,
    Jurisdiction,
    Language,
    RecipientRole,
    Violation,
)

__all__ = [
    "AccountFacts",
    "CheckResult",
    "DatedAmount",
    "DebtorFacts",
    "FeeFact",
    "HistoryEntry",
    "PlanFact",
    "Proposal",
    "Recipient",
]


class _Strict(BaseModel):
    # Unknown keys are refused: a misspelt flag ("cease_requestd") silently ignored
    # would let an unlawful contact through.
    model_config = ConfigDict(extra="forbid", frozen=True)


class Recipient(_Strict):
    """Who the contact goes to."""

    role: RecipientRole = "debtor"
    address: str | None = None


class DebtorFacts(_Strict):
    """The debtor's flags that limit contact."""

    name: str = ""
    timezone: str
    other_timezones: tuple[str, ...] = ()
    """Further zones the debtor may be in; contact must be convenient in all of them."""
    attorney_represented: bool = False
    cease_requested: bool = False
    disputed: bool = False
    verification_sent: bool = False
    employer_prohibits_contact: bool = False
    work_email: str | None = None
    opted_out_channels: tuple[Channel, ...] = ()
    authorized_channels: tuple[Channel, ...] = ()
    preferred_hours: HourWindow | None = None

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        _zone(value)
        return value

    @field_validator("other_timezones")
    @classmethod
    def _known_zones(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for name in value:
            _zone(name)
        return value


def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown IANA time zone {name!r}") from exc


class FeeFact(_Strict):
    """A fee recorded on the account."""

    kind: str
    amount: Decimal


class PlanFact(_Strict):
    """The recorded payment plan."""

    instalment: Decimal
    next_due: date | None = None


class DatedAmount(_Strict):
    """A recorded promise to pay or payment: an amount and its date."""

    amount: Decimal
    date: date


class AccountFacts(_Strict):
    """The account ledger as the check sees it (amounts in major units)."""

    balance: Decimal
    currency: str = Field(default="USD", pattern=r"^[A-Z]{3}$")
    due_date: date | None = None
    fees: tuple[FeeFact, ...] = ()
    payment_plan: PlanFact | None = None
    time_barred: bool = False
    legal_action_intended: bool = False
    legal_process_open: bool = False
    negative_report_notice_sent_at: date | None = None
    promises: tuple[DatedAmount, ...] = ()
    """Optional: pending promises to pay, so a follow-up may cite them."""
    payments: tuple[DatedAmount, ...] = ()
    """Optional: payments received, so a thank-you may cite them."""


class HistoryEntry(_Strict):
    """An earlier contact attempt."""

    at: AwareDatetime
    channel: Channel
    direction: Literal["outbound", "inbound"]
    outcome: Literal["no_answer", "voicemail", "conversation", "delivered", "failed"]


class Proposal(_Strict):
    """One proposed contact: the input of a check, exactly the ``copilot check`` line."""

    jurisdiction: Jurisdiction
    channel: Channel
    language: Language
    send_at: AwareDatetime
    first_contact: bool = False
    text: str = ""
    recipient: Recipient = Recipient()
    debtor: DebtorFacts
    account: AccountFacts
    history: tuple[HistoryEntry, ...] = ()

    @classmethod
    def from_context(
        cls,
        context: DebtorContext,
        *,
        channel: str,
        language: str,
        text: str,
        send_at: datetime,
        recipient_role: str = "debtor",
        first_contact: bool | None = None,
    ) -> Proposal:
        """Build a proposal from the CRM's view of a debtor."""
        debtor, account = context.debtor, context.account
        history = [
            {
                "at": a.at,
                "channel": a.channel,
                "direction": a.direction,
                "outcome": a.outcome,
            }
            for a in context.contact_attempts
        ]
        if first_contact is None:
            first_contact = not any(
                a.direction == "outbound" for a in context.contact_attempts
            )
        plan = account.payment_plan
        data: dict[str, Any] = {
            "jurisdiction": debtor.jurisdiction,
            "channel": channel,
            "language": language,
            "send_at": send_at,
            "first_contact": first_contact,
            "text": text,
            "recipient": {
                "role": recipient_role,
                "address": _address_for(context, channel, recipient_role),
            },
            "debtor": {
                "name": debtor.name,
                "timezone": debtor.timezone,
                "attorney_represented": debtor.attorney_represented,
                "cease_requested": debtor.cease_requested,
                "disputed": debtor.disputed,
                "verification_sent": debtor.verification_sent,
                "employer_prohibits_contact": debtor.employer_prohibits_contact,
                "work_email": debtor.work_email,
                "opted_out_channels": debtor.opted_out_channels,
                "authorized_channels": debtor.authorized_channels,
                "preferred_hours": debtor.preferred_hours,
            },
            "account": {
                "balance": account.balance.amount,
                "currency": account.balance.currency,
                "due_date": account.due_date,
                "fees": [
                    {"kind": f.kind, "amount": f.amount.amount} for f in account.fees
                ],
                "payment_plan": (
                    {"instalment": plan.instalment.amount, "next_due": plan.next_due}
                    if plan is not None
                    else None
                ),
                "time_barred": account.time_barred,
                "legal_action_intended": account.legal_action_intended,
                "legal_process_open": account.legal_process_open,
                "negative_report_notice_sent_at": account.negative_report_notice_sent_at,
                "promises": [
                    {"amount": p.amount.amount, "date": p.due}
                    for p in context.promises
                    if p.status == "pending"
                ],
                "payments": [
                    {"amount": p.amount.amount, "date": p.at} for p in context.payments
                ],
            },
            "history": history,
        }
        return cls.model_validate(data)


def _address_for(context: DebtorContext, channel: str, role: str) -> str | None:
    if role != "debtor":
        return None
    debtor = context.debtor
    if channel == "email":
        return debtor.email
    if channel == "letter":
        return debtor.address
    if channel == "sms":
        return debtor.mobile or debtor.phone
    return debtor.phone or debtor.mobile


class CheckResult(BaseModel):
    """What a check found: allowed or not, the violations, and when the channel opens."""

    model_config = ConfigDict(frozen=True)

    allowed: bool
    violations: list[Violation]
    next_allowed_at: datetime | None

    def to_json_dict(self, *, provenance: bool = False) -> dict[str, Any]:
        """The ``copilot check`` output shape (add ``pack`` and ``setting`` on request)."""
        violations = []
        for v in self.violations:
            item: dict[str, Any] = {
                "rule": v.rule,
                "severity": v.severity,
                "message": v.message,
                "citation": v.citation,
                "span": list(v.span) if v.span is not None else None,
            }
            if provenance:
                item["pack"] = v.pack
                item["setting"] = v.setting
            violations.append(item)
        return {
            "allowed": self.allowed,
            "violations": violations,
            "next_allowed_at": (
                self.next_allowed_at.isoformat() if self.next_allowed_at else None
            ),
        }
