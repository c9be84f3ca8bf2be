"""Deterministic reading of a call transcript: turns, promises, requests, dispute.

The transcript is data. Nothing in it is ever followed as an instruction; it is only
matched against the cue tables in :mod:`copilot.summaries._cues`.

Promises are tracked across turns as one *plan under discussion*: a turn that names
amounts (and dates) proposes a plan, a restatement by the other side confirms it, a
rejection drops it, a correction replaces it, and a turn with only dates completes a
plan that lacked them. What is agreed when the call ends is the promise set.
"""

from __future__ import annotations

import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict

from copilot.summaries import _cues as cues
from copilot.summaries.dates import DateMention, find_dates
from copilot.summaries.numbers import (
    COUNT_NOUNS,
    AmountMention,
    find_amounts,
    resolve_currency,
)
from copilot.text import fold_aligned

__all__ = [
    "REQUESTS",
    "Extraction",
    "Finding",
    "Offer",
    "Speaker",
    "Turn",
    "extract",
    "parse_turns",
]

log = logging.getLogger(__name__)

Speaker = Literal["agent", "debtor", "other"]

REQUESTS: tuple[str, ...] = (
    "cease_contact",
    "no_work_contact",
    "channel_opt_out",
    "callback",
    "payment_plan",
    "validation",
    "hardship",
    "attorney",
)

_LABELS: dict[str, Speaker] = {
    "agent": "agent",
    "agente": "agent",
    "collector": "agent",
    "gestor": "agent",
    "gestora": "agent",
    "asesor": "agent",
    "asesora": "agent",
    "rep": "agent",
    "debtor": "debtor",
    "deudor": "debtor",
    "deudora": "debtor",
    "customer": "debtor",
    "cliente": "debtor",
    "consumer": "debtor",
    "titular": "debtor",
}
_LINE = re.compile(r"^[ \t]*([A-Za-zÁÉÍÓÚáéíóú]+)[ \t]*:[ \t]?")


class Turn(BaseModel):
    """One speaker's line, with its offsets in the transcript (``text`` only)."""

    model_config = ConfigDict(frozen=True)

    index: int
    speaker: Speaker
    text: str
    start: int
    end: int


def parse_turns(transcript: str) -> list[Turn]:
    """Split a transcript into turns; unlabeled lines continue the previous turn."""
    turns: list[Turn] = []
    offset = 0
    for line in transcript.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        match = _LINE.match(body)
        label = match.group(1).lower() if match else ""
        if match and label in _LABELS:
            start = offset + match.end()
            turns.append(
                Turn(
                    index=len(turns),
                    speaker=_LABELS[label],
                    text=body[match.end() :],
                    start=start,
                    end=offset + len(body),
                )
            )
        elif body.strip() and turns:
            last = turns[-1]
            end = offset + len(body)
            turns[-1] = last.model_copy(
                update={"text": transcript[last.start : end], "end": end}
            )
        elif body.strip():
            turns.append(
                Turn(
                    index=0,
                    speaker="other",
                    text=body,
                    start=offset,
                    end=offset + len(body),
                )
            )
        offset += len(line)
    return turns


@dataclass(frozen=True)
class Offer:
    """An amount and date named together in one turn (either may be missing)."""

    amount: Decimal | None
    currency: str
    date: date | None
    expression: str | None
    turn: int
    speaker: Speaker


@dataclass(frozen=True)
class Finding:
    """A request, dispute or detail found in the debtor's words, with its evidence."""

    kind: str
    turn: int
    start: int
    end: int
    text: str
    detail: str = ""


@dataclass
class Extraction:
    """Everything read from one call, before it is phrased as a summary."""

    turns: list[Turn]
    promises: list[Offer]
    requests: list[str]
    disputed: bool
    findings: list[Finding] = field(default_factory=list)
    hardship_reason: str | None = None
    payment_method: str | None = None
    creditor: str | None = None
    opted_out_channel: str | None = None
    preferred_channel: str | None = None
    callback_date: date | None = None


# --- amounts and dates in one turn -------------------------------------------------


_BOUNDARY = re.compile(r"[.;!?:,¿¡]|\b(?:and|y|but|pero|then|luego|or|o)\b|\.\.\.")




def _clauses(folded: str, protected: list[tuple[int, int]]) -> list[int]:
    """Positions where a new clause starts, ignoring separators inside amounts/dates."""
    cuts = [
        m.start()
        for m in _BOUNDARY.finditer(folded)
        if not any(s <= m.start() < e for s, e in protected)
    ]
    return cuts


def _clause_of(pos: int, cuts: list[int]) -> int:
    return sum(1 for c in cuts if c <= pos)


def _clause_text(folded: str, index: int, cuts: list[int]) -> str:
    bounds = [0, *cuts, len(folded)]
    return folded[bounds[index] : bounds[index + 1]]


@dataclass
class _TurnReading:
    offers: list[Offer]
    dates: list[DateMention]
    count_hint: int | None


def _amount_role(
    mention: AmountMention, folded: str, cuts: list[int], speaker: Speaker
) -> str:
    """'offer', 'balance', 'past', 'refused', 'count' or 'other' for one number."""
    after = folded[mention.end : mention.end + 30].split()
    next_word = after[0] if after else ""
    if not mention.has_currency_marker:
        if mention.value < 10 or next_word in COUNT_NOUNS:
            return "count"
    before = folded[max(0, mention.start - 40) : mention.start]
    if cues.IDENTIFIER.search(before):
        return "other"
    clause = _clause_text(folded, _clause_of(mention.start, cuts), cuts)
    if cues.PAST.search(clause):
        return "past"
    if cues.REFUSED.search(clause):
        return "refused"
    if cues.BALANCE.search(clause):
        if speaker == "debtor" and cues.COMMITMENT.search(clause):
            return "offer"
        return "balance"
    return "offer"


def _read_turn(turn: Turn, call_date: date, language: str, local: str) -> _TurnReading:
    folded = fold_aligned(turn.text)
    dates = [d for d in find_dates(turn.text, call_date, language)]
    date_spans = [(d.start, d.end) for d in dates]
    mentions = find_amounts(turn.text, language, exclude=date_spans)
    cuts = _clauses(folded, [(m.start, m.end) for m in mentions] + date_spans)

    count_hint: int | None = None
    money: list[AmountMention] = []
    for mention in mentions:
        role = _amount_role(mention, folded, cuts, turn.speaker)
        if role == "count" and 2 <= mention.value <= 12:
            count_hint = int(mention.value)
        if role == "offer":
            money.append(mention)
    money = _after_correction(money, folded)
    resolved: list[DateMention] = []
    for said in dates:
        # "Monday the 22nd" names one day twice.
        if said.value is not None and not (
            resolved and resolved[-1].value == said.value
        ):
            resolved.append(said)
    resolved = _after_correction(resolved, folded)
    if cues.EACH.search(folded) and count_hint is None and len(money) == 1:
        count_hint = len(resolved)

    offers = _pair(money, resolved, cuts, count_hint, turn, local)
    return _TurnReading(offers=offers, dates=resolved, count_hint=count_hint)


_Mention = TypeVar("_Mention", AmountMention, DateMention)


def _after_correction(items: list[_Mention], folded: str) -> list[_Mention]:
    """Within one turn, 'sorry, I mean 250' drops what came before the correction."""
    marks = [m.start() for m in cues.CORRECTION.finditer(folded)]
    if not marks or len(items) < 2:
        return items
    last_mark = max(marks)
    later = [i for i in items if i.start > last_mark]
    earlier = [i for i in items if i.start <= last_mark]
    if later and earlier:
        return later
    return items


def _pair(
    money: list[AmountMention],
    dates: list[DateMention],
    cuts: list[int],
    count_hint: int | None,
    turn: Turn,
    local: str,
) -> list[Offer]:
    def offer(amount: AmountMention | None, when: DateMention | None) -> Offer:
        return Offer(
            amount=amount.value if amount else None,
            currency=resolve_currency(amount, local) if amount else local,
            date=when.value if when else None,
            expression=when.expression if when else None,
            turn=turn.index,
            speaker=turn.speaker,
        )

    if not money:
        return []
    pairs: list[tuple[AmountMention, DateMention | None]] = []
    free_money: list[AmountMention] = []
    used_dates: set[int] = set()
    for amount in money:
        clause = _clause_of(amount.start, cuts)
        candidates = [
            i
            for i, d in enumerate(dates)
            if i not in used_dates and _clause_of(d.start, cuts) == clause
        ]
        if candidates:
            used_dates.add(candidates[0])
            pairs.append((amount, dates[candidates[0]]))
        else:
            free_money.append(amount)
    free_dates = [d for i, d in enumerate(dates) if i not in used_dates]
    if len(free_money) == 1 and len(free_dates) > 1 and count_hint == len(free_dates):
        # "two payments of 460,000: one on the 15th and one at month end"
        pairs += [(free_money[0], d) for d in free_dates]
    else:
        for i, amount in enumerate(free_money):
            pairs.append((amount, free_dates[i] if i < len(free_dates) else None))
    pairs.sort(key=lambda p: p[0].start)
    return [offer(a, d) for a, d in pairs]


# --- the plan under discussion -------------------------------------------------------


@dataclass
class _Plan:
    offers: list[Offer]
    proposer: Speaker
    stated_at: int
    accepted: set[str] = field(default_factory=set)


def _same_amounts(a: list[Offer], b: list[Offer]) -> bool:
    return Counter(o.amount for o in a) == Counter(o.amount for o in b)


def _inherit_dates(new: list[Offer], old: list[Offer]) -> list[Offer]:
    if len(new) != len(old):
        return new
    return [
        n if n.date is not None else _with_date(n, o.date, o.expression)
        for n, o in zip(new, old, strict=True)
    ]


def _with_date(offer: Offer, when: date | None, expression: str | None) -> Offer:
    return Offer(
        offer.amount, offer.currency, when, expression, offer.turn, offer.speaker
    )


def _track_promises(
    turns: list[Turn], call_date: date, language: str, local: str
) -> list[Offer]:
    plan: _Plan | None = None
    kept: list[Offer] = []
    pending_dates: tuple[int, list[DateMention]] | None = None

    for turn in turns:
        if turn.speaker == "other":
            continue
        reading = _read_turn(turn, call_date, language, local)
        folded = fold_aligned(turn.text)
        offers = reading.offers
        responding = plan is not None and _responds_to(turns, turn, plan)

        if plan is not None and responding and cues.REJECT.search(folded):
            rejected = {o.amount for o in plan.offers}
            counter = [o for o in offers if o.amount not in rejected]
            if counter:
                plan = _Plan(
                    _inherit_dates(counter, plan.offers), turn.speaker, turn.index
                )
                plan.accepted.add(turn.speaker)
            elif (
                reading.dates and not offers and len(reading.dates) == len(plan.offers)
            ):
                moved = [
                    _with_date(o, d.value, d.expression)
                    for o, d in zip(plan.offers, reading.dates, strict=True)
                ]
                plan = _Plan(moved, turn.speaker, turn.index, {turn.speaker})
            else:
                plan = None
            continue

        if offers:
            if pending_dates and all(o.date is None for o in offers):
                at, dates = pending_dates
                if turn.index - at <= 2 and len(dates) == len(offers):
                    offers = [
                        _with_date(o, d.value, d.expression)
                        for o, d in zip(offers, dates, strict=True)
                    ]
            pending_dates = None
            if plan is not None and _same_amounts(offers, plan.offers):
                offers = _inherit_dates(offers, plan.offers)
                if [o.date for o in offers] == [o.date for o in plan.offers]:
                    plan.accepted.add(turn.speaker)
                    plan.stated_at = turn.index
                else:
                    plan = _Plan(offers, turn.speaker, turn.index, {turn.speaker})
                continue
            if (
                plan is not None
                and "debtor" in plan.accepted
                and cues.ADDITION.search(folded)
            ):
                kept += plan.offers
                plan = None
            if plan is not None:
                offers = _inherit_dates(offers, plan.offers)
            plan = _Plan(offers, turn.speaker, turn.index)
            if not (turn.speaker == "debtor" and cues.TENTATIVE.search(folded)):
                plan.accepted.add(turn.speaker)
            continue

        if reading.dates and plan is not None:
            missing = [i for i, o in enumerate(plan.offers) if o.date is None]
            if missing and not cues.REJECT.search(folded):
                filled = list(plan.offers)
                for i, d in zip(missing, reading.dates, strict=False):
                    filled[i] = _with_date(filled[i], d.value, d.expression)
                plan.offers = filled
                plan.stated_at = turn.index
                plan.accepted.add(turn.speaker)
                continue
            if (
                cues.CORRECTION.search(folded)
                and len(plan.offers) == 1
                and len(reading.dates) == 1
            ):
                only = reading.dates[0]
                plan = _Plan(
                    [_with_date(plan.offers[0], only.value, only.expression)],
                    turn.speaker,
                    turn.index,
                    {turn.speaker},
                )
                continue
        elif reading.dates and plan is None and not cues.REJECT.search(folded):
            pending_dates = (turn.index, reading.dates)

        if (
            plan is not None
            and turn.speaker not in plan.accepted
            and responding
            and cues.ACCEPT.search(folded)
        ):
            plan.accepted.add(turn.speaker)

    if plan is not None and "debtor" in plan.accepted:
        kept += plan.offers
    promises = [o for o in kept if o.amount is not None and o.date is not None]
    return sorted(promises, key=lambda o: (o.date or call_date, o.turn))


def _responds_to(turns: list[Turn], turn: Turn, plan: _Plan) -> bool:
    """True when the plan was last stated in the other side's latest turn."""
    for earlier in reversed(turns[: turn.index]):
        if earlier.speaker != turn.speaker and earlier.speaker != "other":
            return earlier.index == plan.stated_at
    return False


# --- requests, dispute, details -----------------------------------------------------


_SENTENCE = re.compile(r"[^.!?¿¡;]+[.!?;]*")


def _sentences(turn: Turn) -> list[tuple[int, str]]:
    folded = fold_aligned(turn.text)
    return [
        (m.start(), m.group(0))
        for m in _SENTENCE.finditer(folded)
        if m.group(0).strip()
    ]


def _channel(text: str) -> str | None:
    for name, pattern in cues.CHANNEL_WORDS.items():
        if re.search(pattern, text):
            return name
    return None


def _finding(kind: str, turn: Turn, start: int, end: int, detail: str = "") -> Finding:
    return Finding(
        kind,
        turn.index,
        turn.start + start,
        turn.start + end,
        turn.text[start:end],
        detail,
    )


def _read_requests(turns: list[Turn], call_date: date, language: str) -> list[Finding]:
    found: list[Finding] = []
    previous_agent = ""
    for turn in turns:
        if turn.speaker == "agent":
            previous_agent = fold_aligned(turn.text)
            continue
        if turn.speaker != "debtor":
            continue
        for offset, sentence in _sentences(turn):
            end = offset + len(sentence)
            no_contact = cues.NO_CONTACT_VERB.search(sentence)
            if no_contact:
                if cues.WORKPLACE.search(sentence):
                    found.append(_finding("no_work_contact", turn, offset, end))
                elif cues.CEASE.search(sentence) and not _channel(
                    sentence[no_contact.end() :]
                ):
                    found.append(_finding("cease_contact", turn, offset, end))
                else:
                    after = sentence[no_contact.start() :]
                    channel = _channel(after) or "call"
                    found.append(
                        _finding("channel_opt_out", turn, offset, end, channel)
                    )
            elif cues.CEASE.search(sentence):
                found.append(_finding("cease_contact", turn, offset, end))
            preference = cues.PREFERENCE.search(sentence)
            if preference:
                preferred = _channel(sentence[preference.start() :])
                if preferred:
                    found.append(
                        _finding("preferred_channel", turn, offset, end, preferred)
                    )
            if cues.CALLBACK.search(sentence):
                when = find_dates(turn.text[offset:end], call_date, language)
                detail = next((str(d.value) for d in when if d.value), "")
                found.append(_finding("callback", turn, offset, end, detail))
            if cues.PAYMENT_PLAN.search(sentence):
                found.append(_finding("payment_plan", turn, offset, end))
            if cues.VALIDATION.search(sentence):
                found.append(_finding("validation", turn, offset, end))
            attorney = cues.ATTORNEY.search(sentence)
            if attorney and not cues.NEGATED_BEFORE.search(
                sentence[: attorney.start()]
            ):
                found.append(_finding("attorney", turn, offset, end))
            if cues.DISPUTE.search(sentence):
                found.append(_finding("dispute", turn, offset, end))
            circumstance = cues.HARDSHIP_CIRCUMSTANCE.search(sentence)
            if circumstance:
                found.append(_finding("circumstance", turn, offset, end))
            if cues.INABILITY.search(sentence):
                found.append(_finding("inability", turn, offset, end))
            if cues.RELIEF.search(sentence):
                found.append(_finding("relief", turn, offset, end))
            elif (
                offset == 0
                and cues.AFFIRM.search(sentence)
                and cues.RELIEF.search(previous_agent)
            ):
                found.append(_finding("relief", turn, offset, end))
    return found


def _payment_method(turns: list[Turn]) -> str | None:
    for speaker in ("debtor", "agent"):
        for turn in turns:
            if turn.speaker != speaker:
                continue
            folded = fold_aligned(turn.text)
            hits = [
                (m.start(), label)
                for pattern, label in cues.PAYMENT_METHODS
                if (m := re.search(pattern, folded))
            ]
            if hits and (speaker == "debtor" or len(hits) == 1):
                return min(hits)[1]
    return None


def _creditor(turns: list[Turn]) -> str | None:
    for turn in turns:
        if turn.speaker != "agent":
            continue
        match = cues.CREDITOR.search(turn.text)
        if match:
            name = match.group(1).strip(" .,'")
            return re.sub(r"\s+(?:account|card|store|loan|service)$", "", name)
    return None


def _without_instructions(turns: list[Turn]) -> list[Turn]:
    """Turns that address a machine ("ignore previous instructions") say nothing of the
    debt; they are kept out of the facts (as speaker 'other')."""
    kept: list[Turn] = []
    for turn in turns:
        if cues.INSTRUCTION.search(fold_aligned(turn.text)):
            log.warning(
                "turn %d reads as an instruction to a machine; ignored", turn.index
            )
            turn = turn.model_copy(update={"speaker": "other"})
        kept.append(turn)
    return kept


def extract(
    transcript: str, *, call_date: date, language: str, currency: str
) -> Extraction:
    """Read promises, requests, dispute and details from one transcript."""
    turns = parse_turns(transcript)
    spoken = _without_instructions(turns)
    promises = _track_promises(spoken, call_date, language, currency)
    findings = _read_requests(spoken, call_date, language)
    kinds = {f.kind for f in findings}

    requests = [name for name in REQUESTS if name in kinds and name != "hardship"]
    if "circumstance" in kinds and ({"inability", "relief"} & kinds):
        requests.append("hardship")
    elif "relief" in kinds and "inability" in kinds:
        requests.append("hardship")
    requests = [name for name in REQUESTS if name in requests]

    circumstance = next((f for f in findings if f.kind == "circumstance"), None)
    opt_out = next((f for f in findings if f.kind == "channel_opt_out"), None)
    preferred = next((f for f in findings if f.kind == "preferred_channel"), None)
    callback = next((f for f in findings if f.kind == "callback" and f.detail), None)
    log.debug("extracted %d promises, %d requests", len(promises), len(requests))
    return Extraction(
        turns=turns,
        promises=promises,
        requests=requests,
        disputed="dispute" in kinds,
        findings=findings,
        hardship_reason=circumstance.text.strip() if circumstance else None,
        payment_method=_payment_method(turns),
        creditor=_creditor(turns),
        opted_out_channel=opt_out.detail if opt_out else None,
        preferred_channel=preferred.detail if preferred else None,
        callback_date=date.fromisoformat(callback.detail) if callback else None,
    )
