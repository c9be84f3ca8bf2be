"""Reversible redaction of personal data before text leaves for an external model.

Names and addresses known from the CRM, phone numbers, emails, and long digit runs
(account and card numbers) become placeholders such as ``[PERSON_1]``; the result is
restored by swapping them back. Amounts and dates are kept: the model needs them to
write, and they are checked against the ledger afterwards anyway.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from copilot.domain import DebtorContext

__all__ = ["Redactor"]

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
_PHONE = re.compile(r"(?<![\w$])(?:\+?\d{1,3}[\s.-]?)?(?:\(\d{2,4}\)[\s.-]?)?\d{3}[\s.-]?\d{4}\b"
                    r"|(?<![\w$])\+?\d[\d\s().-]{8,}\d\b")
_LONG_DIGITS = re.compile(r"(?<![\w$.,])\d(?:[ -]?\d){7,}(?![\w.,]\d)")


@dataclass
class Redactor:
    """Swaps personal data for numbered placeholders, and back."""

    names: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)
    mapping: dict[str, str] = field(default_factory=dict)

    @classmethod
    def for_context(cls, context: DebtorContext) -> Redactor:
        """A redactor that knows the debtor's names and address."""
        debtor = context.debtor
        names = [debtor.name, *debtor.name.split()]
        for other in (debtor.attorney_name, debtor.employer):
            if other:
                names.append(other)
        addresses = [a for a in (debtor.address,) if a]
        unique = sorted({n for n in names if len(n) > 2}, key=len, reverse=True)
        return cls(names=unique, addresses=addresses)

    def _placeholder(self, kind: str, value: str) -> str:
        for key, original in self.mapping.items():
            if original == value and key.startswith(f"[{kind}_"):
                return key
        count = sum(1 for key in self.mapping if key.startswith(f"[{kind}_")) + 1
        key = f"[{kind}_{count}]"
        self.mapping[key] = value
        return key

    def redact(self, text: str) -> str:
        """The text with personal data replaced."""
        for address in self.addresses:
            if address in text:
                text = text.replace(address, self._placeholder("ADDRESS", address))
        text = _EMAIL.sub(lambda m: self._placeholder("EMAIL", m.group()), text)
        text = _PHONE.sub(lambda m: self._placeholder("PHONE", m.group()), text)
        text = _LONG_DIGITS.sub(lambda m: self._placeholder("NUMBER", m.group()), text)
        for name in self.names:
            pattern = re.compile(rf"\b{re.escape(name)}\b", re.IGNORECASE)
            text = pattern.sub(lambda m: self._placeholder("PERSON", m.group()), text)
        return text

    def restore(self, text: str) -> str:
        """The text with every placeholder put back."""
        for key in sorted(self.mapping, key=len, reverse=True):
            text = text.replace(key, self.mapping[key])
        return text
