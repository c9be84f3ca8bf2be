"""What one check knows while it runs: the proposal, local time, and cached text findings."""

from __future__ import annotations

from datetime import date, datetime
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

from copilot.compliance.facts import FoundAmount, find_amounts
from copilot.compliance.models import HistoryEntry, Proposal
from copilot.compliance.phrases import PhraseMatch

if TYPE_CHECKING:
    from copilot.compliance.packs import RuleSet

__all__ = ["CheckContext", "zone"]


@lru_cache(maxsize=256)
def zone(name: str) -> ZoneInfo:
    """A cached time zone."""
    return ZoneInfo(name)


class CheckContext:
    """The proposal under check, with findings computed once and shared by the rules."""

    def __init__(
        self, proposal: Proposal, ruleset: RuleSet, reference_date: date | None = None
    ) -> None:
        self.proposal = proposal
        self.ruleset = ruleset
        self.zone = zone(proposal.debtor.timezone)
        self.zones = [self.zone, *(zone(z) for z in proposal.debtor.other_timezones)]
        self.local: datetime = proposal.send_at.astimezone(self.zone)
        self.reference_date = reference_date or self.local.date()
        self._matches: dict[str, list[PhraseMatch]] = {}
        self._limited: bool | None = None

    @property
    def stopwords(self) -> dict[str, frozenset[str]]:
        """Stop words per language, for language detection."""
        return self.ruleset.stopwords

    @cached_property
    def history_local(self) -> list[tuple[date, HistoryEntry]]:
        """Earlier attempts with their local calendar day."""
        return [
            (entry.at.astimezone(self.zone).date(), entry)
            for entry in self.proposal.history
        ]

    @cached_property
    def lowered(self) -> str:
        """The text in lower case, for the phrase prefilters."""
        return self.proposal.text.lower()

    @cached_property
    def amounts(self) -> list[FoundAmount]:
        """Money amounts written in the text."""
        return find_amounts(self.proposal.text)

    def matches(self, family: str) -> list[PhraseMatch]:
        """Counted matches of a phrase family (negations and rights left out)."""
        found = self._matches.get(family)
        if found is None:
            fam = self.ruleset.families[family]
            found = fam.find(
                self.proposal.text,
                self.ruleset.grammar,
                self.ruleset.rights,
                self.lowered,
            )
            self._matches[family] = found
        return found

    def has(self, family: str) -> bool:
        """Whether the text holds a counted match of *family*."""
        return bool(self.matches(family))

    def mentions_debt(self) -> bool:
        """Whether the text speaks of a debt (words or an amount)."""
        families = self.ruleset.families
        return bool(self.amounts) or (
            "debt_mention" in families and self.has("debt_mention")
        )

    def limited_content(self) -> bool:
        """Whether the text stays within a limited-content voicemail."""
        if self._limited is None:
            check = self.ruleset.limited_content_check
            self._limited = check is not None and not check.offending(self)
        return self._limited

    def disclosure(self, key: str, language: str) -> str:
        """The pack's wording for a disclosure, in *language* (English as a fallback)."""
        wording = self.ruleset.disclosures.get(key, {})
        return wording.get(language) or wording.get("en") or key
