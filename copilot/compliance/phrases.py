"""Phrase families: precompiled patterns that read negation and rights statements.

A match does not count when a negator stands, in the same clause and within a few words,
before it ("we will **not** sue you", "**nunca** lo visitaremos"), unless a reset word
sits between them ("if you do not **pay** we will sue" is still a threat). A family
marked ``rights_aware`` also ignores matches that follow a rights statement in the same
clause ("you have the right to consult an attorney").
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = ["Family", "Grammar", "PhraseMatch", "compile_family"]

_TOKEN_RE = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?", re.UNICODE)
_CLAUSE_BREAK_RE = re.compile(
    r"[.;:!?¿¡,\n()]|\b(?:but|pero|however|sin embargo)\b", re.I
)
_LOOKBACK_CHARS = 120


@dataclass(frozen=True, slots=True)
class PhraseMatch:
    """One counted occurrence of a family in a text."""

    family: str
    span: tuple[int, int]
    text: str


@dataclass(frozen=True, slots=True)
class Grammar:
    """The words that negate or reset a negation, merged over the languages."""

    negators: frozenset[str]
    resets: frozenset[str]
    window: int = 5

    def negated(self, text: str, start: int) -> bool:
        """True when the words just before *start*, in its clause, negate what follows."""
        head = text[max(0, start - _LOOKBACK_CHARS) : start]
        breaks = list(_CLAUSE_BREAK_RE.finditer(head))
        if breaks:
            head = head[breaks[-1].end() :]
        tokens = [t.lower() for t in _TOKEN_RE.findall(head)][-self.window :]
        for token in reversed(tokens):
            if token in self.resets:
                return False
            if token in self.negators or token.endswith("n't"):
                return True
        return False


@dataclass(frozen=True, slots=True)
class Family:
    """A named set of patterns, compiled into one alternation."""

    name: str
    regex: re.Pattern[str] | None
    negation_aware: bool = True
    rights_aware: bool = True

    def find(
        self, text: str, grammar: Grammar, rights: Family | None = None
    ) -> list[PhraseMatch]:
        """The matches of this family in *text* that count (not negated, not a right)."""
        if self.regex is None:
            return []
        found: list[PhraseMatch] = []
        for match in self.regex.finditer(text):
            start = match.start()
            if self.negation_aware and grammar.negated(text, start):
                continue
            if (
                self.rights_aware
                and rights is not None
                and _after_right(text, start, rights)
            ):
                continue
            found.append(PhraseMatch(self.name, match.span(), match.group(0)))
        return found


def _after_right(text: str, start: int, rights: Family) -> bool:
    head = text[max(0, start - _LOOKBACK_CHARS) : start]
    breaks = list(re.finditer(r"[.;:!?\n]", head))
    if breaks:
        head = head[breaks[-1].end() :]
    return rights.regex is not None and rights.regex.search(head) is not None


def compile_family(
    name: str,
    patterns: Iterable[str],
    *,
    negation_aware: bool = True,
    rights_aware: bool = True,
) -> Family:
    """Compile *patterns* (any languages) into one case-insensitive family."""
    parts: Sequence[str] = [f"(?:{p})" for p in patterns]
    regex = re.compile("|".join(parts), re.IGNORECASE | re.UNICODE) if parts else None
    return Family(name, regex, negation_aware, rights_aware)
