"""Money amounts said in a call, in digits or words, English or Spanish.

A collector's call is full of numbers that are not money (phone numbers, times, counts
of instalments, days of the month). This module only reads numbers; deciding which of
them are a promise is the job of :mod:`copilot.summaries.extract`.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from copilot.domain import Money
from copilot.text import fold, fold_aligned

__all__ = [
    "AmountMention",
    "find_amounts",
    "locale_currency",
    "parse_amount",
    "strip_accents",
]

log = logging.getLogger(__name__)


strip_accents = fold


def locale_currency(timezone: str) -> str:
    """The currency of a call's market: COP for Colombia, USD otherwise."""
    return "COP" if timezone == "America/Bogota" else "USD"


# --- vocabulary (accent-free, lowercase) ------------------------------------------

# fmt: off
_EN_UNITS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6,
    "seven": 7, "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12,
    "thirteen": 13, "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17,
    "eighteen": 18, "nineteen": 19,
}
_EN_TENS = {
    "twenty": 20, "thirty": 30, "forty": 40, "fourty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90,
}
_EN_SCALES = {"thousand": 1000, "million": 1_000_000, "grand": 1000, "k": 1000}

_ES_UNITS = {
    "cero": 0, "un": 1, "uno": 1, "una": 1, "dos": 2, "tres": 3, "cuatro": 4,
    "cinco": 5, "seis": 6, "siete": 7, "ocho": 8, "nueve": 9, "diez": 10, "once": 11,
    "doce": 12, "trece": 13, "catorce": 14, "quince": 15, "dieciseis": 16,
    "diecisiete": 17, "dieciocho": 18, "diecinueve": 19, "veinte": 20,
    "veintiun": 21, "veintiuno": 21, "veintiuna": 21, "veintidos": 22,
    "veintitres": 23, "veinticuatro": 24, "veinticinco": 25, "veintiseis": 26,
    "veintisiete": 27, "veintiocho": 28, "veintinueve": 29,
}
_ES_TENS = {
    "treinta": 30, "cuarenta": 40, "cincuenta": 50, "sesenta": 60, "setenta": 70,
    "ochenta": 80, "noventa": 90,
}
_ES_HUNDREDS = {
    "cien": 100, "ciento": 100, "doscientos": 200, "doscientas": 200,
    "trescientos": 300, "trescientas": 300, "cuatrocientos": 400,
    "cuatrocientas": 400, "quinientos": 500, "quinientas": 500,
    "seiscientos": 600, "seiscientas": 600, "setecientos": 700, "setecientas": 700,
    "ochocientos": 800, "ochocientas": 800, "novecientos": 900, "novecientas": 900,
}
_ES_SCALES = {"mil": 1000, "millon": 1_000_000, "millones": 1_000_000, "k": 1000}

_CURRENCY_WORDS = {
    "dollar": "USD", "dollars": "USD", "buck": "USD", "bucks": "USD", "usd": "USD",
    "dolar": "USD", "dolares": "USD",
    "peso": "COP", "pesos": "COP", "cop": "COP", "barras": "COP", "lucas": "COP",
}
_CENT_WORDS = {"cent", "cents", "centavo", "centavos"}
# fmt: on

# Nouns that make a small number a count ("two payments", "dos cuotas").
COUNT_NOUNS = frozenset(
    {
        "payment",
        "payments",
        "pieces",
        "piece",
        "parts",
        "part",
        "instalment",
        "instalments",
        "installment",
        "installments",
        "days",
        "day",
        "weeks",
        "week",
        "months",
        "month",
        "years",
        "year",
        "times",
        "hours",
        "minutes",
        "people",
        "pago",
        "pagos",
        "cuota",
        "cuotas",
        "partes",
        "parte",
        "dias",
        "dia",
        "semanas",
        "semana",
        "meses",
        "mes",
        "anos",
        "veces",
        "horas",
        "minutos",
        "abonos",
        "abono",
        "hijos",
        "personas",
        "quincenas",
    }
)

_TOKEN = re.compile(r"\$|\d+(?:[.,]\d+)*|[a-z]+|[^\sa-z\d]")
_PHONE = re.compile(r"\+?\(?\d{2,3}\)?[\s.-]\d{3}[\s.-]\d{4}|\+\d[\d\s-]{8,}\d")
_TIME = re.compile(
    r"\b\d{1,2}(?::\d{2})\s*(?:am|pm|a\.m\.|p\.m\.)?|\b\d{1,2}\s*(?:am|pm|a\.m\.|p\.m\.)"
)
_PERCENT = re.compile(r"\d+(?:[.,]\d+)?\s*(?:%|percent|por ciento)")


@dataclass(frozen=True)
class AmountMention:
    """A number found in text, with where it is and any currency said with it."""

    value: Decimal
    start: int
    end: int
    currency: str | None
    words_only: bool

    @property
    def has_currency_marker(self) -> bool:
        """True when a symbol or currency word was said with the number."""
        return self.currency is not None


@dataclass
class _Tok:
    text: str
    start: int
    end: int


def _digits_value(raw: str) -> Decimal | None:
    """Read a digit string with `.`/`,` separators, either convention."""
    seps = [ch for ch in raw if ch in ".,"]
    if not seps:
        return Decimal(raw)
    last = max(raw.rfind("."), raw.rfind(","))
    tail = raw[last + 1 :]
    if len(set(seps)) == 2:
        whole = re.sub(r"[.,]", "", raw[:last])
        return Decimal(f"{whole}.{tail}")
    if len(seps) > 1 or len(tail) == 3:
        # 1.250.000 or 1,250: separators group thousands.
        return Decimal(re.sub(r"[.,]", "", raw))
    try:
        return Decimal(f"{raw[:last]}.{tail}")
    except InvalidOperation:
        return None


def _word_value(word: str, language: str) -> tuple[str, int] | None:
    """Classify a number word: ('unit'|'tens'|'hundreds'|'hundred'|'scale', value)."""
    if language == "es":
        if word in _ES_UNITS:
            return "unit", _ES_UNITS[word]
        if word in _ES_TENS:
            return "tens", _ES_TENS[word]
        if word in _ES_HUNDREDS:
            return "hundreds", _ES_HUNDREDS[word]
        if word in _ES_SCALES:
            return "scale", _ES_SCALES[word]
        return None
    if word in _EN_UNITS:
        return "unit", _EN_UNITS[word]
    if word in _EN_TENS:
        return "tens", _EN_TENS[word]
    if word == "hundred":
        return "hundred", 100
    if word in _EN_SCALES:
        return "scale", _EN_SCALES[word]
    return None


class _Reader:
    """Accumulates one spoken or written number, token by token."""

    def __init__(self, language: str) -> None:
        self.language = language
        self.total = Decimal(0)
        self.current = Decimal(0)
        self.last_kind = ""
        self.last_scale = 0
        self.digits_seen = False
        self.count = 0

    def value(self) -> Decimal:
        return self.total + self.current

    def feed(self, kind: str, value: Decimal) -> bool:
        """Take one token; False when it cannot continue this number."""
        last = self.last_kind
        if kind == "digits":
            if self.count:
                return False
            self.current = value
            self.digits_seen = True
        elif kind == "unit":
            if last in ("unit", "digits") or (last == "tens" and value >= 10):
                return False
            self.current += value
        elif kind == "tens":
            if last in ("tens", "digits"):
                return False
            if last == "unit":
                # "two seventy-five", "twelve fifty": how people say 275 and 1250.
                if self.language != "en" or self.total or not 1 <= self.current <= 19:
                    return False
                self.current = self.current * 100
            self.current += value
        elif kind == "hundreds":
            if last not in ("", "scale"):
                return False
            self.current += value
        elif kind == "hundred":
            if last not in ("", "unit", "digits", "tens") or self.current >= 100:
                return False
            self.current = (self.current or Decimal(1)) * 100
        elif kind == "scale":
            if last == "scale" and value <= self.last_scale:
                return False
            multiplier = self.current or Decimal(1)
            if self.total and self.total < value:
                self.total = (self.total + self.current) * value
            else:
                self.total += multiplier * value
            self.current = Decimal(0)
            self.last_scale = int(value)
        self.last_kind = kind
        self.count += 1
        return True


def _next_word(tokens: list[_Tok], i: int, language: str) -> tuple[str, int] | None:
    if i + 1 >= len(tokens):
        return None
    return _word_value(tokens[i + 1].text, language)


def _is_run_joiner(tokens: list[_Tok], i: int, language: str, last_kind: str) -> bool:
    """'and'/'y' continue a number only in their usual places."""
    word = tokens[i].text
    nxt = _next_word(tokens, i, language)
    if nxt is None:
        return False
    if language == "en" and word == "and":
        return last_kind in ("hundred", "scale") and nxt[0] in ("unit", "tens")
    if language == "es" and word == "y":
        return last_kind == "tens" and nxt[0] == "unit" and nxt[1] < 10
    return False




def _tokens(text: str) -> list[_Tok]:
    # Hyphenated numbers ("seventy-five") read like "seventy five".
    folded = fold_aligned(text).replace("-", " ")
    return [_Tok(m.group(0), m.start(), m.end()) for m in _TOKEN.finditer(folded)]


def _masked(text: str) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    lowered = fold_aligned(text)
    for pattern in (_PHONE, _TIME, _PERCENT):
        spans += [(m.start(), m.end()) for m in pattern.finditer(lowered)]
    return spans


def find_amounts(
    text: str, language: str, *, exclude: list[tuple[int, int]] | None = None
) -> list[AmountMention]:
    """Every number in the text read as an amount, with offsets into ``text``.

    ``exclude`` holds spans (dates, for instance) whose numbers are not amounts; phone
    numbers, clock times and percentages are always skipped.
    """
    blocked = _masked(text) + list(exclude or [])
    tokens = [t for t in _tokens(text) if not any(s <= t.start < e for s, e in blocked)]
    found: list[AmountMention] = []
    i = 0
    while i < len(tokens):
        mention, i = _read_at(tokens, i, language)
        if mention is not None:
            found.append(mention)
    return found


def _classify(tokens: list[_Tok], j: int, language: str) -> tuple[str, Decimal] | None:
    text = tokens[j].text
    if text[0].isdigit():
        value = _digits_value(text)
        return ("digits", value) if value is not None else None
    if language == "es" and text == "medio":
        nxt = _next_word(tokens, j, language)
        if nxt is not None and nxt[0] == "scale" and nxt[1] > 1000:
            return "unit", Decimal("0.5")
        return None
    word = _word_value(text, language)
    if word is None:
        return None
    return word[0], Decimal(word[1])


def _read_number(tokens: list[_Tok], i: int, language: str) -> tuple[_Reader, int]:
    """Read the longest number starting at token ``i``; returns the reader and next i."""
    reader = _Reader(language)
    j = i
    while j < len(tokens):
        tok = tokens[j].text
        if language == "en" and tok == "a" and reader.count == 0:
            nxt = _next_word(tokens, j, language)
            if nxt is None or nxt[0] not in ("hundred", "scale"):
                break
            reader.current = Decimal(1)
            reader.last_kind = "unit"
            reader.count += 1
            j += 1
            continue
        if tok in ("and", "y") and reader.count:
            if (
                language == "es"
                and reader.last_kind == "scale"
                and j + 1 < len(tokens)
                and tokens[j + 1].text == "medio"
            ):
                reader.total += Decimal(reader.last_scale) / 2
                reader.last_kind = "half"
                j += 2
                break
            if _is_run_joiner(tokens, j, language, reader.last_kind):
                j += 1
                continue
            break
        cls = _classify(tokens, j, language)
        if cls is None or not reader.feed(*cls):
            break
        j += 1
    return reader, j


def _read_at(
    tokens: list[_Tok], i: int, language: str
) -> tuple[AmountMention | None, int]:
    start_tok = i
    dollar = tokens[i].text == "$"
    if dollar:
        i += 1
        if i >= len(tokens) or not tokens[i].text[0].isdigit():
            return None, i
    if tokens[i].text in ("k", "grand"):
        return None, i + 1
    reader, j = _read_number(tokens, i, language)
    if reader.count == 0 or (reader.count == 1 and tokens[i].text == "a"):
        return None, i + 1
    end_tok = j - 1
    value = reader.value()
    currency: str | None = "$" if dollar else None
    if j < len(tokens):
        if (
            tokens[j].text == "de"
            and j + 1 < len(tokens)
            and tokens[j + 1].text in _CURRENCY_WORDS
        ):
            j += 1
        if tokens[j].text in _CURRENCY_WORDS:
            currency = _CURRENCY_WORDS[tokens[j].text]
            end_tok = j
            j += 1
            cents, after = _cents_after(tokens, j, language)
            if cents is not None:
                value += cents / 100
                end_tok = after - 1
                j = after
    mention = AmountMention(
        value=value,
        start=tokens[start_tok].start,
        end=tokens[end_tok].end,
        currency=currency,
        words_only=not reader.digits_seen,
    )
    return mention, max(j, start_tok + 1)


def _cents_after(
    tokens: list[_Tok], j: int, language: str
) -> tuple[Decimal | None, int]:
    """Read 'and fifty cents' / 'con cincuenta centavos' after a currency word."""
    if j + 2 < len(tokens) and tokens[j].text in ("and", "con", "y"):
        reader, k = _read_number(tokens, j + 1, language)
        if reader.count and k < len(tokens) and tokens[k].text in _CENT_WORDS:
            return reader.value(), k + 1
    return None, j


def parse_amount(text: str, language: str, currency: str) -> Money | None:
    """Read the first amount in ``text`` ("ciento cincuenta mil pesos", "$1.250.000").

    ``currency`` is the call's local currency, used unless the text names another.
    Returns None when the text holds no number.
    """
    mentions = find_amounts(text, language)
    if not mentions:
        return None
    mention = mentions[0]
    return Money.of(mention.value, resolve_currency(mention, currency))


def resolve_currency(mention: AmountMention, local: str) -> str:
    """The currency a mention is in: the one named, else the call's local one."""
    if mention.currency in ("USD", "COP"):
        return mention.currency
    return local
