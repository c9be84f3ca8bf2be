"""Money amounts, dates and language found in a draft, for checking against the ledger.

Amounts are read in the forms collectors write in the US and Colombia: ``$1,240.50``,
``1240.5 USD``, ``US$ 1.240,50``, ``COP 1.250.000``, ``$1'250.000``, ``1,25 millones de
pesos``. Dates: ``15/12/2026`` (day first in Spanish), ``11/15/2026`` (month first in
English), ``2026-12-15``, ``December 15[, 2026]``, ``15 de diciembre [de 2026]``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation

__all__ = ["FoundAmount", "FoundDate", "detect_language", "find_amounts", "find_dates"]

_NUM = r"\d{1,3}(?:['.,]\d{3})+(?:[.,]\d{1,2})?(?!\d)|\d+(?:[.,]\d{1,2})?(?!\d)"
_MULT = r"millones|mill[oó]n|millions?|mil"
_SUFFIX_CUR = r"USD|COP|d[oó]lares|dollars|pesos(?:\s+colombianos)?"

_AMOUNT_RE = re.compile(
    rf"(?P<pcur>US\$|USD|COP|COL\$|\$)\s?(?P<pnum>{_NUM})"
    rf"(?:\s+(?P<pmult>{_MULT})\b)?(?:\s+(?:de\s+)?(?P<pcur2>{_SUFFIX_CUR})\b)?"
    rf"|(?<![\w$.,'])(?P<snum>{_NUM})\s*(?:(?P<smult>{_MULT})\s+)?(?:de\s+)?"
    rf"(?P<scur>{_SUFFIX_CUR})\b",
    re.IGNORECASE,
)

_MONTHS_EN = {
    name: index
    for index, names in enumerate(
        [
            ("january", "jan"),
            ("february", "feb"),
            ("march", "mar"),
            ("april", "apr"),
            ("may",),
            ("june", "jun"),
            ("july", "jul"),
            ("august", "aug"),
            ("september", "sep", "sept"),
            ("october", "oct"),
            ("november", "nov"),
            ("december", "dec"),
        ],
        start=1,
    )
    for name in names
}
_MONTHS_ES = {
    name: index
    for index, name in enumerate(
        [
            "enero",
            "febrero",
            "marzo",
            "abril",
            "mayo",
            "junio",
            "julio",
            "agosto",
            "septiembre",
            "octubre",
            "noviembre",
            "diciembre",
        ],
        start=1,
    )
}
_MONTHS_ES["setiembre"] = 9

_EN_MONTH = "|".join(sorted(_MONTHS_EN, key=len, reverse=True))
_ES_MONTH = "|".join(sorted(_MONTHS_ES, key=len, reverse=True))

# A date never spans a line break: "ref. 10" above "December 9" is no date.
_DATE_RE = re.compile(
    r"(?P<iso>\b(?P<iy>\d{4})-(?P<im>\d{2})-(?P<id>\d{2})\b)"
    r"|(?P<num>\b(?P<na>\d{1,2})[/.](?P<nb>\d{1,2})[/.](?P<ny>\d{4}|\d{2})\b)"
    rf"|(?P<en>\b(?P<emon>{_EN_MONTH})\.?[ \t\u00a0]+(?P<eday>\d{{1,2}})(?:st|nd|rd|th)?\b"
    r"(?:,?[ \t\u00a0]+(?P<eyear>\d{4})\b)?)"
    rf"|(?P<en2>\b(?P<e2day>\d{{1,2}})(?:st|nd|rd|th)?[ \t\u00a0]+(?:of[ \t\u00a0]+)?(?P<e2mon>{_EN_MONTH})\b"
    r"(?:,?[ \t\u00a0]+(?P<e2year>\d{4})\b)?)"
    rf"|(?P<es>\b(?P<sday>\d{{1,2}})[ \t\u00a0]+de[ \t\u00a0]+(?P<smon>{_ES_MONTH})\b"
    r"(?:[ \t\u00a0]+(?:de|del)[ \t\u00a0]+(?P<syear>\d{4})\b)?)",
)

_WORD_RE = re.compile(r"[^\W\d_]+", re.UNICODE)
_MONEY_WORD = re.compile(r"\b(?:dollars?|d[oó]lares|pesos?|bucks)\b", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class FoundAmount:
    """A money amount written in a text."""

    value: Decimal
    currency: str | None
    """ISO code when the text says it, None for a bare ``$``."""
    span: tuple[int, int]
    text: str


@dataclass(frozen=True, slots=True)
class FoundDate:
    """A calendar date written in a text."""

    value: date
    span: tuple[int, int]
    text: str


def parse_number(raw: str) -> Decimal:
    """Read a number written with either thousands convention (``1.250,50``, ``1,250.50``)."""
    text = raw.replace("'", "")
    seps = [(i, ch) for i, ch in enumerate(text) if ch in ".,"]
    if not seps:
        return Decimal(text)
    kinds = {ch for _, ch in seps}
    last_pos, last_ch = seps[-1]
    decimals = len(text) - last_pos - 1
    if len(kinds) == 2 or (text.count(last_ch) == 1 and decimals != 3):
        whole = re.sub(r"[.,]", "", text[:last_pos])
        return Decimal(f"{whole}.{text[last_pos + 1 :]}")
    return Decimal(re.sub(r"[.,]", "", text))


def _currency(token: str | None) -> str | None:
    if not token:
        return None
    token = token.lower()
    if token in ("us$", "usd") or token.startswith(("dólar", "dolar", "dollar")):
        return "USD"
    if token in ("cop", "col$") or token.startswith("peso"):
        return "COP"
    return None


def find_amounts(text: str) -> list[FoundAmount]:
    """Every money amount in *text*, with its span."""
    found: list[FoundAmount] = []
    for match in _AMOUNT_RE.finditer(text):
        groups = match.groupdict()
        if groups["pnum"] is not None:
            raw, mult = groups["pnum"], groups["pmult"]
            currency = _currency(groups["pcur"]) or _currency(groups["pcur2"])
        else:
            raw, mult = groups["snum"], groups["smult"]
            currency = _currency(groups["scur"])
        try:
            value = parse_number(raw)
        except InvalidOperation:
            continue
        if mult:
            mult = mult.lower()
            value *= Decimal(1000) if mult == "mil" else Decimal(1_000_000)
        found.append(FoundAmount(value, currency, match.span(), match.group(0)))
    return found + _amounts_in_words(text, [a.span for a in found])


def _amounts_in_words(text: str, taken: list[tuple[int, int]]) -> list[FoundAmount]:
    """Money written in words ("nine hundred seventy dollars", "doscientos mil pesos").

    Only numbers said with a currency count: a bare "two" is not money. The reader is
    the call-summary one, so both features understand the same phrasings.
    """
    if not _MONEY_WORD.search(text):
        return []
    from copilot.summaries.numbers import find_amounts as find_spoken

    found: list[FoundAmount] = []
    for language in ("en", "es"):
        for mention in find_spoken(text, language):
            span = (mention.start, mention.end)
            overlaps = any(s < span[1] and span[0] < e for s, e in taken)
            if not mention.words_only or mention.currency is None or overlaps:
                continue
            taken.append(span)
            found.append(FoundAmount(mention.value, mention.currency, span,
                                     text[span[0]:span[1]]))
    return found


def _year_near(month: int, day: int, reference: date) -> date | None:
    """The date with that month and day closest to *reference*."""
    best: date | None = None
    for year in (reference.year - 1, reference.year, reference.year + 1):
        try:
            candidate = date(year, month, day)
        except ValueError:
            continue
        if best is None or abs((candidate - reference).days) < abs(
            (best - reference).days
        ):
            best = candidate
    return best


def _full_year(raw: str) -> int:
    year = int(raw)
    return year + 2000 if year < 100 else year


def find_dates(text: str, *, day_first: bool, reference: date) -> list[FoundDate]:
    """Every calendar date in *text*; a date without a year takes the one nearest *reference*."""
    found: list[FoundDate] = []
    lowered = text.lower()
    if len(lowered) != len(text):  # a rare character changed length; keep spans exact
        lowered = text
    for match in _DATE_RE.finditer(lowered):
        g = match.groupdict()
        value: date | None = None
        try:
            if g["iso"]:
                value = date(int(g["iy"]), int(g["im"]), int(g["id"]))
            elif g["num"]:
                a, b, year = int(g["na"]), int(g["nb"]), _full_year(g["ny"])
                if a > 12:
                    day, month = a, b
                elif b > 12:
                    month, day = a, b
                else:
                    day, month = (a, b) if day_first else (b, a)
                value = date(year, month, day)
            elif g["en"]:
                original = text[match.start("emon")]
                if original.islower() and g["emon"] in ("may", "mar"):
                    continue  # "you may 2..." is a verb, not a month
                month, day = _MONTHS_EN[g["emon"].lower()], int(g["eday"])
                value = (
                    date(int(g["eyear"]), month, day)
                    if g["eyear"]
                    else _year_near(month, day, reference)
                )
            elif g["en2"]:
                month, day = _MONTHS_EN[g["e2mon"].lower()], int(g["e2day"])
                value = (
                    date(int(g["e2year"]), month, day)
                    if g["e2year"]
                    else _year_near(month, day, reference)
                )
            elif g["es"]:
                month, day = _MONTHS_ES[g["smon"].lower()], int(g["sday"])
                value = (
                    date(int(g["syear"]), month, day)
                    if g["syear"]
                    else _year_near(month, day, reference)
                )
        except ValueError:
            value = None
        if value is not None:
            start, end = match.span()
            found.append(FoundDate(value, (start, end), text[start:end]))
    return found


def detect_language(
    text: str, stopwords: dict[str, frozenset[str]], *, min_words: int, margin: float
) -> str | None:
    """The language *text* is clearly written in, by stop-word counts; None if unclear."""
    words = [w.lower() for w in _WORD_RE.findall(text)]
    if len(words) < min_words:
        return None
    scores = {
        lang: sum(1 for w in words if w in vocab) for lang, vocab in stopwords.items()
    }
    ranked = sorted(scores.items(), key=lambda item: item[1], reverse=True)
    if len(ranked) < 2:
        return ranked[0][0] if ranked and ranked[0][1] else None
    (best, top), (_, second) = ranked[0], ranked[1]
    if top >= 3 and top >= margin * max(second, 1):
        return best
    return None
