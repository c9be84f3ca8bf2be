"""The facts a template may state, taken from the CRM and written the debtor's way.

Only values recorded on the account reach a template: balance, instalment, fees, due
dates, a pending promise. A template that names a value the debtor does not have (a
promise that does not exist) cannot be filled, and is skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from copilot.domain import DebtorContext, PromiseToPay

__all__ = ["CompanyProfile", "company_profile", "format_date", "template_values"]

POLICIES = Path(__file__).resolve().parents[2] / "policies"

_MONTHS = {
    "en": ["January", "February", "March", "April", "May", "June", "July", "August",
           "September", "October", "November", "December"],
    "es": ["enero", "febrero", "marzo", "abril", "mayo", "junio", "julio", "agosto",
           "septiembre", "octubre", "noviembre", "diciembre"],
}


def format_date(value: date, language: str) -> str:
    """``February 26, 2027`` or ``26 de febrero de 2027``."""
    month = _MONTHS["es" if language == "es" else "en"][value.month - 1]
    if language == "es":
        return f"{value.day} de {month} de {value.year}"
    return f"{month} {value.day}, {value.year}"


@dataclass(frozen=True)
class CompanyProfile:
    """Who is writing, in one jurisdiction."""

    company: str
    voicemail_name: str
    phone: str
    pay_url: str
    hours: dict[str, str]
    address: str


@lru_cache(maxsize=4)
def _profiles(path: str) -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(Path(path).read_text("utf-8"))
    return data


def company_profile(jurisdiction: str, path: Path | None = None) -> CompanyProfile:
    """The company identity used for a jurisdiction (policies/company.yaml)."""
    data = _profiles(str(path or POLICIES / "company.yaml"))[jurisdiction]
    return CompanyProfile(
        company=str(data["company"]), voicemail_name=str(data["voicemail_name"]),
        phone=str(data["phone"]), pay_url=str(data["pay_url"]),
        hours={str(k): str(v) for k, v in data["hours"].items()},
        address=str(data["address"]),
    )


def _pending_promise(context: DebtorContext) -> PromiseToPay | None:
    pending = [p for p in context.promises if p.status == "pending"]
    return min(pending, key=lambda p: p.due) if pending else None


def template_values(
    context: DebtorContext, *, language: str, agent: str, today: date
) -> dict[str, str]:
    """Every placeholder a template may use, filled for this debtor."""
    debtor, account = context.debtor, context.account
    profile = company_profile(debtor.jurisdiction)
    values = {
        "name": debtor.name,
        "first_name": debtor.name.split()[0],
        "company": profile.company,
        "company_address": profile.address,
        "phone": profile.phone,
        "pay_url": profile.pay_url,
        "hours": profile.hours[language],
        "creditor": account.creditor,
        "balance": account.balance.format(language),
        "due_date": format_date(account.due_date, language),
        "agent": agent,
        "today": format_date(today, language),
        "address": debtor.address or "",
        "reference": account.reference or account.id,
    }
    plan = account.payment_plan
    if plan is not None and plan.status == "active":
        values["instalment"] = plan.instalment.format(language)
        if plan.next_due is not None:
            values["next_due"] = format_date(plan.next_due, language)
    promise = _pending_promise(context)
    if promise is not None:
        values["promise_amount"] = promise.amount.format(language)
        values["promise_date"] = format_date(promise.due, language)
    return values
