"""Phrase families: precompiled patterns that read negation and rights statements.

A match does not count when a negator stands, in the same clause and within a few words,
before it ("we will **not** sue you", "**nunca** lo visitaremos"), unless a reset word
sits between them ("if you do not **pay** we will sue" is still a threat). A family
marked ``rights_aware`` also ignores matches that follow a rights statement in the same
clause ("you have the right to consult an attorney").
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

_sre_c: Any
_sre_p: Any
try:  # the parse tree lets us derive literal prefilters; without it we just scan
    _sre_c = importlib.import_module("re._constants")
    _sre_p = importlib.import_module("re._parser")
except ImportError:  # pragma: no cover - other Python versions
    _sre_c = _sre_p = None

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
    """A named set of patterns, compiled into one alternation.

    ``triggers`` are lower-case literals of which any match must contain at least one;
    a text holding none of them is skipped without running the regular expression.
    """

    name: str
    regex: re.Pattern[str] | None
    negation_aware: bool = True
    rights_aware: bool = True
    triggers: frozenset[str] | None = None
    lower_regex: re.Pattern[str] | None = None

    def find(
        self,
        text: str,
        grammar: Grammar,
        rights: Family | None = None,
        lowered: str | None = None,
    ) -> list[PhraseMatch]:
        """The matches of this family in *text* that count (not negated, not a right)."""
        if self.regex is None:
            return []
        if lowered is None or len(lowered) != len(text):
            lowered, regex = None, self.regex
        else:
            regex = self.lower_regex or self.regex
        if self.triggers is not None and lowered is not None:
            if not any(t in lowered for t in self.triggers):
                return []
        found: list[PhraseMatch] = []
        for match in regex.finditer(lowered if lowered is not None else text):
            start, end = match.span()
            if self.negation_aware and grammar.negated(text, start):
                continue
            if (
                self.rights_aware
                and rights is not None
                and _after_right(text, start, rights)
            ):
                continue
            found.append(PhraseMatch(self.name, (start, end), text[start:end]))
        return found


def _after_right(text: str, start: int, rights: Family) -> bool:
    head = text[max(0, start - _LOOKBACK_CHARS) : start]
    breaks = list(re.finditer(r"[.;:!?\n]", head))
    if breaks:
        head = head[breaks[-1].end() :]
    return rights.regex is not None and rights.regex.search(head) is not None


def _literals(items: list[Any]) -> set[str] | None:
    """Literals of which any match of this parsed sequence contains one, or None."""
    assert _sre_c is not None
    candidates: list[set[str]] = []
    run: list[str] = []

    def flush() -> None:
        if len(run) >= 2:
            candidates.append({"".join(run)})
        run.clear()

    for op, av in items:
        if op is _sre_c.LITERAL:
            run.append(chr(av).lower())
            continue
        flush()
        found: set[str] | None = None
        if op is _sre_c.SUBPATTERN:
            found = _literals(list(av[3]))
        elif op is _sre_c.BRANCH:
            branches = [_literals(list(b)) for b in av[1]]
            if all(branches):
                found = set().union(*branches)  # type: ignore[arg-type]
        elif op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and av[0] >= 1:
            found = _literals(list(av[2]))
        if found:
            candidates.append(found)
    flush()
    if not candidates:
        return None
    return max(candidates, key=lambda c: min(len(x) for x in c))


def _triggers(patterns: list[str]) -> frozenset[str] | None:
    if _sre_p is None:
        return None
    triggers: set[str] = set()
    try:
        for pattern in patterns:
            found = _literals(list(_sre_p.parse(pattern, re.IGNORECASE)))
            if not found:
                return None
            triggers |= found
    except Exception:  # noqa: BLE001 - a prefilter is an optimisation only
        return None
    return frozenset(triggers)


def compile_family(
    name: str,
    patterns: Iterable[str],
    *,
    negation_aware: bool = True,
    rights_aware: bool = True,
) -> Family:
    """Compile *patterns* (any languages) into one case-insensitive family."""
    listed = list(patterns)
    if not listed:
        return Family(name, None, negation_aware, rights_aware)
    source = "|".join(f"(?:{p})" for p in listed)
    regex = re.compile(source, re.IGNORECASE | re.UNICODE)
    triggers = _triggers(listed)
    # Matching lower-cased text without IGNORECASE is about twice as fast; only safe
    # when every literal in the patterns is lower case already.
    lower_regex = (
        re.compile(source) if triggers is not None and _all_lower(listed) else None
    )
    return Family(name, regex, negation_aware, rights_aware, triggers, lower_regex)


def _all_lower(patterns: list[str]) -> bool:
    if _sre_p is None or _sre_c is None:
        return False

    def walk(items: list[Any]) -> bool:
        for op, av in items:
            if op is _sre_c.LITERAL and chr(av) != chr(av).lower():
                return False
            if op is _sre_c.IN and any(
                o is _sre_c.LITERAL and chr(v) != chr(v).lower() for o, v in av
            ):
                return False
            if op is _sre_c.SUBPATTERN and not walk(list(av[3])):
                return False
            if op is _sre_c.BRANCH and not all(walk(list(b)) for b in av[1]):
                return False
            if op in (_sre_c.MAX_REPEAT, _sre_c.MIN_REPEAT) and not walk(list(av[2])):
                return False
            if op in (_sre_c.ASSERT, _sre_c.ASSERT_NOT) and not walk(list(av[1])):
                return False
        return True

    try:
        return all(walk(list(_sre_p.parse(p, 0))) for p in patterns)
    except Exception:  # noqa: BLE001
        return False
