"""Dates said in a call, resolved against the day of the call.

Conventions (documented because people disagree about them):

- A bare weekday ("Friday", "el viernes") is its next occurrence after the call day.
- "this Friday" / "este viernes" is the coming one, the call day itself included.
- "next Friday" / "el próximo viernes" / "el viernes que viene" is the first one after
  the call day; "the following Friday", "Friday next week" and "el otro viernes" are the
  one in the following calendar week (Monday to Sunday).
- "a week from Friday" is the coming Friday plus seven days.
- "el 15" / "the 15th" is the next 15th on or after the call day.
- "la quincena" is the 15th or the last day of the month, whichever comes first on or
  after the call day (Colombian pay days).
- "en ocho días" is a week and "en quince días" two weeks, as said in Colombia.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from datetime import date, timedelta

from copilot.text import fold_aligned

__all__ = ["NAMED_DAYS", "DateMention", "find_dates", "resolve_date"]


@dataclass(frozen=True)
class DateMention:
    """A date expression found in text, with its offsets and resolved value."""

    start: int
    end: int
    expression: str
    value: date | None


# fmt: off
_WEEKDAYS = {
    "monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4,
    "saturday": 5, "sunday": 6,
    "lunes": 0, "martes": 1, "miercoles": 2, "jueves": 3, "viernes": 4, "sabado": 5,
    "domingo": 6,
}
_MONTHS = {
    "january": 1, "february": 2, "march": 3, "april": 4, "may": 5, "june": 6,
    "july": 7, "august": 8, "september": 9, "october": 10, "november": 11,
    "december": 12, "jan": 1, "feb": 2, "mar": 3, "apr": 4, "jun": 6, "jul": 7,
    "aug": 8, "sep": 9, "sept": 9, "oct": 10, "nov": 11, "dec": 12,
    "enero": 1, "febrero": 2, "marzo": 3, "abril": 4, "mayo": 5, "junio": 6,
    "julio": 7, "agosto": 8, "septiembre": 9, "setiembre": 9, "octubre": 10,
    "noviembre": 11, "diciembre": 12,
}
_SMALL = {
    "one": 1, "a": 1, "an": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "fourteen": 14, "fifteen": 15,
    "un": 1, "una": 1, "uno": 1, "dos": 2, "tres": 3, "cuatro": 4, "cinco": 5,
    "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "quince": 15,
    "couple": 2, "par": 2,
}
_ORDINALS = {
    "first": 1, "second": 2, "third": 3, "fourth": 4, "fifth": 5, "sixth": 6,
    "seventh": 7, "eighth": 8, "ninth": 9, "tenth": 10, "fifteenth": 15,
    "twentieth": 20, "thirtieth": 30, "primero": 1, "quince": 15, "treinta": 30,
    "veinte": 20, "diez": 10, "cinco": 5,
}
# fmt: on

NAMED_DAYS = frozenset(_WEEKDAYS) | frozenset(_MONTHS)
"""Weekday and month names (accent-free): proper nouns in English."""

_WD = "|".join(sorted(_WEEKDAYS, key=len, reverse=True))
_MO = "|".join(sorted(_MONTHS, key=len, reverse=True))
_NUM = r"\d{1,2}|" + "|".join(sorted(_SMALL, key=len, reverse=True))
_EN_ORD = "first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|fifteenth|twentieth|thirtieth"
_ES_ORD = "primero|cinco|diez|quince|veinte|treinta"


def _rx(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# Each pattern is tried on accent-free lowercase text; earlier patterns win overlaps.
_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    ("iso", _rx(r"\b(\d{4})-(\d{2})-(\d{2})\b")),
    ("slash", _rx(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2,4}))?\b")),
    (
        "month_day",
        _rx(
            rf"\b(?:on\s+)?({_MO})\.?\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?"
        ),
    ),
    (
        "day_of_month",
        _rx(
            rf"\b(?:(?:el|the)\s+)?(\d{{1,2}})(?:st|nd|rd|th)?\s+(?:de|of)\s+({_MO})\b(?:,?\s+(?:de|del)?\s*(\d{{4}}))?"
        ),
    ),
    (
        "day_after_tomorrow",
        _rx(r"\b(?:the\s+)?day\s+after\s+tomorrow\b|\bpasado\s+manana\b"),
    ),
    (
        "week_from",
        _rx(
            rf"\b(?:a|one)\s+week\s+from\s+(today|tomorrow|{_WD})\b|\b(?:de|del)\s+(hoy|manana)\s+en\s+ocho(?:\s+dias)?\b|\b({_WD})\s+(?:en\s+ocho|de\s+la\s+otra\s+semana|de\s+la\s+proxima\s+semana|de\s+la\s+semana\s+que\s+viene)\b"
        ),
    ),
    ("weekday_after_next", _rx(rf"\b({_WD})\s+after\s+next\b")),
    (
        "next_week_weekday",
        _rx(
            rf"\b(?:the\s+following|({_WD})\s+next\s+week|next\s+week\s+on|el\s+otro)\s*({_WD})?\b"
        ),
    ),
    (
        "weekday",
        _rx(
            rf"\b(?:(this\s+coming|this|next|coming|on|el|este|esta|el\s+proximo|proximo|el\s+pr[oó]ximo)\s+)?({_WD})\b(?:\s+(que\s+viene|entrante|proximo))?"
        ),
    ),
    ("today", _rx(r"\b(?:today|tonight|hoy|esta\s+noche|esta\s+tarde)\b")),
    ("tomorrow", _rx(r"\b(?:tomorrow|manana)\b")),
    (
        "in_days",
        _rx(
            rf"\b(?:in|within|en|dentro\s+de)\s+(?:a\s+|the\s+next\s+)?({_NUM})?\s*(?:of\s+)?(days?|weeks?|dias?|semanas?)\b"
        ),
    ),
    (
        "end_of_month",
        _rx(
            rf"\b(?:(?:at\s+|by\s+)?the\s+)?(?:end|last\s+day)\s+of\s+(?:the\s+|this\s+)?(month|next\s+month|{_MO})\b|\b(?:a\s+)?(?:fin(?:ales)?|final)\s+de(?:l)?\s+(?:este\s+)?(mes(?:\s+que\s+viene|\s+entrante)?|proximo\s+mes|{_MO})\b|\b(?:el\s+)?ultimo\s+(?:dia\s+)?(?:de(?:l)?\s+)?(mes|{_MO})\b"
        ),
    ),
    (
        "first_of_next_month",
        _rx(
            r"\b(?:the\s+)?(?:first|1st|beginning)\s+of\s+(?:the\s+)?next\s+month\b|\b(?:el\s+)?primero\s+(?:del?\s+)?(?:mes\s+que\s+viene|proximo\s+mes)\b"
        ),
    ),
    (
        "day_ordinal",
        _rx(
            rf"\bon\s+the\s+({_EN_ORD})\b|\bthe\s+({_EN_ORD})\s+of\s+(?:the|this)\s+month\b"
        ),
    ),
    ("quincena", _rx(r"\b(?:(primera|segunda|proxima|siguiente)\s+)?quincena\b")),
    (
        "day_number",
        _rx(
            rf"\b(?:the|el|el\s+dia|on\s+the|este|del)\s+(\d{{1,2}}|{_ES_ORD})(?:st|nd|rd|th)?\b(?!\s*(?:de\s+|of\s+)?(?:{_MO}))(?:\s+(?:of\s+)?(this|next)\s+month|\s+(?:de\s+este|del\s+proximo)\s+mes)?"
        ),
    ),
]

# Time-of-day uses of "mañana" ("por la mañana", "en la mañana") are not tomorrow.
_MORNING = re.compile(r"\b(?:la|las|por\s+la|en\s+la|de\s+la)\s+$")
_NEGATED = re.compile(r"\b(?:not|no|ni)\s+(?:on\s+|el\s+|this\s+|este\s+)?$")




def _next_weekday(today: date, weekday: int, *, include_today: bool) -> date:
    delta = (weekday - today.weekday()) % 7
    if delta == 0 and not include_today:
        delta = 7
    return today + timedelta(days=delta)


def _week_after(today: date, weekday: int) -> date:
    monday = today - timedelta(days=today.weekday())
    return monday + timedelta(days=7 + weekday)


def _last_day(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(day: date, months: int) -> tuple[int, int]:
    index = day.year * 12 + day.month - 1 + months
    return index // 12, index % 12 + 1


def _next_day_of_month(today: date, dom: int) -> date | None:
    """The next date on or after today whose day of month is ``dom``."""
    for offset in range(0, 3):
        year, month = _add_months(today, offset)
        if dom <= calendar.monthrange(year, month)[1]:
            candidate = date(year, month, dom)
            if candidate >= today:
                return candidate
    return None


def _month_date(today: date, month: int, dom: int, year: int | None) -> date | None:
    """An explicit day and month; without a year, the next such date."""
    try:
        if year is not None:
            return date(year if year > 99 else 2000 + year, month, dom)
        candidate = date(today.year, month, dom)
        if candidate < today - timedelta(days=31):
            candidate = date(today.year + 1, month, dom)
        return candidate
    except ValueError:
        return None


def _number(token: str | None) -> int | None:
    if token is None:
        return None
    if token.isdigit():
        return int(token)
    return _SMALL.get(token) or _ORDINALS.get(token)


def _resolve(kind: str, m: re.Match[str], today: date, language: str) -> date | None:
    g = m.groups()
    if kind == "iso":
        try:
            return date(int(g[0]), int(g[1]), int(g[2]))
        except ValueError:
            return None
    if kind == "slash":
        first, second = int(g[0]), int(g[1])
        year = int(g[2]) if g[2] else None
        day_first = language == "es" or first > 12
        dom, month = (first, second) if day_first else (second, first)
        if not 1 <= month <= 12:
            return None
        return _month_date(today, month, dom, year)
    if kind == "month_day":
        return _month_date(today, _MONTHS[g[0]], int(g[1]), int(g[2]) if g[2] else None)
    if kind == "day_of_month":
        return _month_date(today, _MONTHS[g[1]], int(g[0]), int(g[2]) if g[2] else None)
    if kind == "day_after_tomorrow":
        return today + timedelta(days=2)
    if kind == "week_from":
        anchor = g[0] or g[1] or g[2]
        if anchor in ("today", "hoy"):
            return today + timedelta(days=7)
        if anchor in ("tomorrow", "manana"):
            return today + timedelta(days=8)
        return _next_weekday(today, _WEEKDAYS[anchor], include_today=True) + timedelta(
            7
        )
    if kind == "weekday_after_next":
        return _next_weekday(today, _WEEKDAYS[g[0]], include_today=False) + timedelta(7)
    if kind == "next_week_weekday":
        name = g[0] or g[1]
        if name is None:
            return None
        return _week_after(today, _WEEKDAYS[name])
    if kind == "weekday":
        modifier = (g[0] or "").replace("  ", " ")
        weekday = _WEEKDAYS[g[1]]
        if modifier.startswith("this") or modifier in ("este", "esta"):
            return _next_weekday(today, weekday, include_today=True)
        return _next_weekday(today, weekday, include_today=False)
    if kind == "today":
        return today
    if kind == "tomorrow":
        return today + timedelta(days=1)
    if kind == "in_days":
        unit = g[1]
        count = _number(g[0])
        if count is None:
            if unit.endswith("s"):
                return None
            count = 1
        if unit.startswith(("week", "semana")):
            return today + timedelta(days=7 * count)
        if unit.startswith("dia") and count in (8, 15):
            # "en ocho días" is a week, "en quince días" two.
            return today + timedelta(days=count - 1)
        return today + timedelta(days=count)
    if kind == "end_of_month":
        target = g[0] or g[1] or g[2] or "month"
        if target in _MONTHS:
            month = _MONTHS[target]
            year = today.year if month >= today.month else today.year + 1
            return _last_day(year, month)
        if (
            "next" in target
            or "proximo" in target
            or "viene" in target
            or "entrante" in target
        ):
            year, month = _add_months(today, 1)
            return _last_day(year, month)
        return _last_day(today.year, today.month)
    if kind == "first_of_next_month":
        year, month = _add_months(today, 1)
        return date(year, month, 1)
    if kind == "quincena":
        which = g[0]
        fifteenth = _next_day_of_month(today, 15)
        last = _last_day(today.year, today.month)
        if which == "primera":
            return fifteenth
        if which == "segunda":
            return last
        candidates = [d for d in (fifteenth, last) if d is not None and d >= today]
        if which in ("proxima", "siguiente"):
            candidates = [d for d in candidates if d > today] or candidates
        return min(candidates) if candidates else None
    if kind == "day_ordinal":
        return _next_day_of_month(today, _ORDINALS[g[0] or g[1]])
    if kind == "day_number":
        number = _number(g[0])
        if number is None or not 1 <= number <= 31:
            return None
        if g[1] == "next" or "proximo" in m.group(0):
            year, month = _add_months(today, 1)
            try:
                return date(year, month, number)
            except ValueError:
                return None
        return _next_day_of_month(today, number)
    return None


def find_dates(text: str, call_date: date, language: str) -> list[DateMention]:
    """Every date expression in ``text``, resolved from the call date."""
    folded = fold_aligned(text)
    taken: list[tuple[int, int]] = []
    found: list[DateMention] = []
    for kind, pattern in _PATTERNS:
        for m in pattern.finditer(folded):
            start, end = m.span()
            if any(start < e and s < end for s, e in taken):
                continue
            if (
                kind == "tomorrow"
                and folded[start:end] == "manana"
                and _MORNING.search(folded[:start])
            ):
                continue
            taken.append((start, end))
            if _NEGATED.search(folded[max(0, start - 12) : start]):
                continue
            value = _resolve(kind, m, call_date, language)
            found.append(DateMention(start, end, text[start:end], value))
    found.sort(key=lambda d: d.start)
    return found


def resolve_date(expression: str, call_date: date, language: str) -> date | None:
    """Resolve one date expression ("this Friday", "la quincena") from the call date."""
    for mention in find_dates(expression, call_date, language):
        if mention.value is not None:
            return mention.value
    return None
