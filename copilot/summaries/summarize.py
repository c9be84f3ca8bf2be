"""Call summaries: deterministic facts, prose from templates, optional model polish.

The facts (promises, requests, dispute, agent violations, next steps) always come from
:mod:`copilot.summaries.extract` and the compliance engine. A chat model, when given,
may only rephrase the summary prose; if its text drops a fact, the template prose stays.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field

from copilot.domain import Money, Violation
from copilot.errors import CopilotError, InputError
from copilot.summaries.dates import NAMED_DAYS
from copilot.summaries.extract import Extraction, Turn, extract
from copilot.summaries.numbers import locale_currency, strip_accents

__all__ = [
    "AgentViolation",
    "CallSummary",
    "NextStep",
    "PromiseOut",
    "jurisdiction_for",
    "prompts_dir",
    "scan_agent_turns",
    "summarize_call",
]

log = logging.getLogger(__name__)

Scanner = Callable[..., Sequence[Violation]]

_QUOTE_CHARS = 90


def prompts_dir() -> Path:
    """The repository's ``prompts/summary`` directory."""
    return Path(__file__).resolve().parents[2] / "prompts" / "summary"


@lru_cache(maxsize=1)
def _templates() -> dict[str, Any]:
    path = prompts_dir() / "templates.yaml"
    with path.open(encoding="utf-8") as handle:
        data: dict[str, Any] = yaml.safe_load(handle)
    return data


def jurisdiction_for(timezone: str) -> Literal["US", "CO"]:
    """The rule pack for a call: CO for America/Bogota, US otherwise."""
    return "CO" if timezone == "America/Bogota" else "US"


class PromiseOut(BaseModel):
    """A payment the debtor agreed to by the end of the call."""

    model_config = ConfigDict(frozen=True)

    amount: Decimal
    currency: str
    date: date
    expression: str | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI shape: amount as a JSON number, date as ISO text."""
        amount: int | float = (
            int(self.amount)
            if self.amount == self.amount.to_integral_value()
            else float(self.amount)
        )
        return {
            "amount": amount,
            "currency": self.currency,
            "date": self.date.isoformat(),
        }


class AgentViolation(BaseModel):
    """A compliance rule the agent's own words broke, with its transcript span."""

    model_config = ConfigDict(frozen=True)

    rule: str
    message: str
    span: tuple[int, int] | None = None
    severity: str = "block"

    def to_json_dict(self) -> dict[str, Any]:
        """The CLI shape."""
        return {
            "rule": self.rule,
            "message": self.message,
            "span": list(self.span) if self.span else None,
        }


class NextStep(BaseModel):
    """A machine-friendly suggested action with a label in the call's language."""

    model_config = ConfigDict(frozen=True)

    action: str
    label: str


class CallSummary(BaseModel):
    """What a call produced: summary prose and the facts behind it."""

    model_config = ConfigDict(frozen=True)

    language: str
    summary: str
    promises: tuple[PromiseOut, ...] = ()
    requests: tuple[str, ...] = ()
    disputed: bool = False
    agent_violations: tuple[AgentViolation, ...] = ()
    next_steps: tuple[NextStep, ...] = ()
    engine: str = "rules"
    compliance_checked: bool = True
    timings_ms: dict[str, float] = Field(default_factory=dict)

    def to_json_dict(self) -> dict[str, Any]:
        """The ``copilot summarize`` output shape."""
        return {
            "summary": self.summary,
            "promises": [p.to_json_dict() for p in self.promises],
            "requests": list(self.requests),
            "disputed": self.disputed,
            "agent_violations": [v.to_json_dict() for v in self.agent_violations],
            "next_steps": [s.model_dump() for s in self.next_steps],
        }


# --- agent violations ------------------------------------------------------------


def _default_scanner() -> Scanner:
    # Imported here: the compliance engine loads its rule packs on first use, and a
    # summary without a violation check must never pass silently.
    from copilot.compliance import scan_text

    return scan_text


def scan_agent_turns(
    turns: Sequence[Turn],
    *,
    language: str,
    jurisdiction: str,
    scanner: Scanner | None = None,
) -> list[AgentViolation]:
    """Run the compliance engine over the agent's own lines; spans map to the transcript."""
    scan = scanner or _default_scanner()
    pieces: list[tuple[int, int, Turn]] = []
    parts: list[str] = []
    cursor = 0
    for turn in turns:
        if turn.speaker != "agent":
            continue
        pieces.append((cursor, cursor + len(turn.text), turn))
        parts.append(turn.text)
        cursor += len(turn.text) + 1
    if not parts:
        return []
    text = "\n".join(parts)

    found = scan(text, language=language, jurisdiction=jurisdiction, account=None)
    violations: list[AgentViolation] = []
    seen: set[str] = set()
    for violation in found:
        # Facts rules compare against an account ledger; a call transcript has none.
        if violation.rule.startswith("fact.") or violation.rule in seen:
            continue
        seen.add(violation.rule)
        violations.append(
            AgentViolation(
                rule=violation.rule,
                message=violation.message,
                span=_map_span(violation.span, pieces),
                severity=violation.severity,
            )
        )
    return violations


def _map_span(
    span: tuple[int, int] | None, pieces: list[tuple[int, int, Turn]]
) -> tuple[int, int] | None:
    if span is None:
        return None
    start, end = span
    for low, high, turn in pieces:
        if low <= start <= high:
            return turn.start + start - low, turn.start + min(end, high) - low
    return None


# --- prose -----------------------------------------------------------------------


def _format_date(day: date, language: str) -> str:
    lang = _templates()[language]
    return str(lang["date"]).format(
        weekday=lang["weekdays"][day.weekday()],
        month=lang["months"][day.month - 1],
        day=day.day,
        year=day.year,
    )


def _expression(text: str | None, language: str) -> str:
    if not text:
        return ""
    text = text.strip()
    first = strip_accents(text.split()[0]) if text.split() else ""
    if language == "en" and first in NAMED_DAYS:
        return text
    # Lowercase a sentence-initial capital ("This Friday"), not a name ("March 1").
    if len(text) > 1 and text[0].isupper() and text[1:2].islower():
        return text[0].lower() + text[1:]
    return text


def _quote(text: str) -> str:
    text = " ".join(text.split()).strip(" .,;:")
    if len(text) <= _QUOTE_CHARS:
        return text
    return text[:_QUOTE_CHARS].rsplit(" ", 1)[0] + "…"


def _reason_clause(reason: str) -> str:
    """The part of the debtor's sentence that names the hardship."""
    from copilot.summaries import _cues as cues

    folded = strip_accents(reason)
    match = cues.HARDSHIP_CIRCUMSTANCE.search(folded)
    if not match:
        return reason
    start = max(folded.rfind(mark, 0, match.start()) for mark in (":", ",", ";", "..."))
    return reason[start + 1 if start >= 0 else 0 :]


def _render(
    extraction: Extraction,
    promises: Sequence[PromiseOut],
    violations: Sequence[AgentViolation],
    transcript: str,
    language: str,
    call_date: date,
) -> tuple[str, list[NextStep]]:
    lang = _templates()[language]
    sentences: list[str] = []
    call_day = _format_date(call_date, language)
    if extraction.creditor:
        sentences.append(
            lang["opening_creditor"].format(
                call_day=call_day, creditor=extraction.creditor
            )
        )
    else:
        sentences.append(lang["opening"].format(call_day=call_day))

    items = [
        lang["promise_item"].format(
            amount=Money.of(p.amount, p.currency).format(language),
            date=_format_date(p.date, language),
            expression=_expression(p.expression, language),
        )
        for p in promises
    ]
    joined_items = lang["promise_join"].join(items)
    method = (
        lang["method"].format(method=extraction.payment_method)
        if extraction.payment_method
        else ""
    )
    if len(promises) == 1:
        sentences.append(lang["promise_one"].format(items=joined_items, method=method))
    elif promises:
        sentences.append(
            lang["promise_many"].format(
                count=len(promises), items=joined_items, method=method
            )
        )
    else:
        sentences.append(lang["no_promise"])

    if extraction.disputed:
        sentences.append(lang["disputed"])
    if extraction.hardship_reason:
        key = "hardship" if "hardship" in extraction.requests else "reason"
        sentences.append(
            lang[key].format(reason=_quote(_reason_clause(extraction.hardship_reason)))
            + "."
        )

    phrases = []
    channels = lang["channels"]
    for name in extraction.requests:
        if name == "channel_opt_out":
            phrase = lang["request"]["channel_opt_out"].format(
                channel=channels.get(extraction.opted_out_channel or "call", "")
            )
            if (
                extraction.preferred_channel
                and extraction.preferred_channel != extraction.opted_out_channel
            ):
                phrase += lang["request"]["channel_preference"].format(
                    channel=channels.get(extraction.preferred_channel, "")
                )
        elif name == "callback" and extraction.callback_date:
            phrase = lang["request"]["callback_on"].format(
                date=_format_date(extraction.callback_date, language)
            )
        else:
            phrase = lang["request"][name]
        phrases.append(phrase)
    if phrases:
        sentences.append(
            lang["requests"].format(items=lang["request_join"].join(phrases))
        )

    if violations:
        quoted = [
            lang["violation_item"].format(
                rule=v.rule,
                quote=_span_quote(transcript, v.span) if v.span else _quote(v.message),
            )
            for v in violations
        ]
        sentences.append(lang["violations"].format(items="; ".join(quoted)))

    steps = _next_steps(extraction, promises, violations, lang, joined_items)
    return " ".join(sentences), steps


def _span_quote(transcript: str, span: tuple[int, int]) -> str:
    """The sentence around a span, cut to a short window (at word edges) that keeps it."""
    start, end = span
    left = max(transcript.rfind(mark, 0, start) for mark in (".", "!", "?", "\n", ":"))
    right_marks = [
        i for mark in (".", "!", "?", "\n") if (i := transcript.find(mark, end)) >= 0
    ]
    low, high = left + 1, min(right_marks) if right_marks else len(transcript)
    if high - low <= _QUOTE_CHARS:
        return _quote(transcript[low:high])
    window_low = max(low, start - _QUOTE_CHARS // 2)
    window_high = min(high, max(end, window_low + _QUOTE_CHARS))
    if window_low > low:
        window_low = transcript.find(" ", window_low, start) + 1 or window_low
    if window_high < high:
        cut = transcript.rfind(" ", end, window_high)
        window_high = cut if cut > 0 else window_high
    text = " ".join(transcript[window_low:window_high].split()).strip(" .,;:")
    prefix = "…" if window_low > low else ""
    suffix = "…" if window_high < high else ""
    return f"{prefix}{text}{suffix}"


def _next_steps(
    extraction: Extraction,
    promises: Sequence[PromiseOut],
    violations: Sequence[AgentViolation],
    lang: dict[str, Any],
    promise_items: str,
) -> list[NextStep]:
    labels = lang["next_steps"]
    requests = set(extraction.requests)
    steps: list[NextStep] = []

    def add(action: str, **values: str) -> None:
        steps.append(NextStep(action=action, label=labels[action].format(**values)))

    if "cease_contact" in requests:
        add("stop_contact")
    if extraction.disputed:
        add("pause_collection")
    if extraction.disputed or "validation" in requests:
        add("send_validation")
    if "attorney" in requests:
        add("request_attorney_details")
    if "no_work_contact" in requests:
        add("flag_no_work_contact")
    if "channel_opt_out" in requests:
        add(
            "update_channel_preferences",
            channel=lang["channels"].get(extraction.opted_out_channel or "call", ""),
        )
    if promises:
        add("confirm_promise", items=promise_items)
    if "payment_plan" in requests:
        add("record_payment_plan" if len(promises) > 1 else "offer_payment_plan")
    if "hardship" in requests:
        add("review_hardship")
    if "callback" in requests:
        add("schedule_callback")
    if violations:
        add("review_call_quality")
    if not steps:
        add("follow_up")
    return steps


# --- model polish ----------------------------------------------------------------


def _facts_block(summary: CallSummary) -> str:
    facts = summary.to_json_dict()
    facts.pop("summary")
    facts.pop("next_steps")
    return yaml.safe_dump(
        facts, allow_unicode=True, sort_keys=False, default_flow_style=None
    )


def _must_keep(
    summary: str, promises: Sequence[PromiseOut], language: str
) -> list[str]:
    keep = [Money.of(p.amount, p.currency).format(language) for p in promises]
    keep += [str(p.date.day) for p in promises]
    return keep


def _polish(
    model: Any, draft: CallSummary, language: str, redactor: Any = None
) -> str | None:
    """Ask the model to rephrase; None if it fails or drops a fact.

    With a *redactor*, personal data leaves as placeholders and is put back after.
    """
    from langchain_core.messages import HumanMessage

    from copilot.providers import call_model

    template = (prompts_dir() / f"rewrite_{language}.md").read_text(encoding="utf-8")
    prompt = template.replace("{facts}", _facts_block(draft)).replace(
        "{summary}", draft.summary
    )
    if redactor is not None:
        prompt = redactor.redact(prompt)
    try:
        text, _ = call_model(model, [HumanMessage(content=prompt)])
    except CopilotError as exc:  # a model failure must never lose the summary
        log.warning(
            "summary model call failed (%s); keeping the rule-based summary", exc.code
        )
        return None
    text = (redactor.restore(text) if redactor is not None else text).strip()
    folded = strip_accents(text)
    if not text or len(text) > 4 * len(draft.summary) + 200:
        return None
    for fact in _must_keep(draft.summary, draft.promises, language):
        if strip_accents(fact) not in folded:
            return None
    for rule in (v.rule for v in draft.agent_violations):
        if rule not in text:
            return None
    return text


# --- entry point -----------------------------------------------------------------


def _check_inputs(language: str, timezone: str, transcript: str) -> None:
    if language not in ("en", "es"):
        raise InputError(f"language must be 'en' or 'es', not {language!r}.")
    try:
        ZoneInfo(timezone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise InputError(
            f"unknown IANA time zone {timezone!r}; use e.g. America/Bogota or America/New_York."
        ) from exc
    if not transcript.strip():
        raise InputError(
            "the transcript is empty; give lines starting with 'Agent:' or 'Debtor:'."
        )


def summarize_call(
    language: str,
    call_date: date,
    timezone: str,
    transcript: str,
    model: Any = None,
    *,
    scanner: Scanner | None = None,
    redactor: Any = None,
) -> CallSummary:
    """Summarize one call: promises, requests, dispute, agent violations, next steps.

    *redactor* (a :class:`copilot.generation.redaction.Redactor`) hides personal data
    from the model; pass one whenever the model is an external service.
    """
    _check_inputs(language, timezone, transcript)
    started = time.perf_counter()
    currency = locale_currency(timezone)

    extraction = extract(
        transcript, call_date=call_date, language=language, currency=currency
    )
    promises = [
        PromiseOut(
            amount=o.amount, currency=o.currency, date=o.date, expression=o.expression
        )
        for o in extraction.promises
        if o.amount is not None and o.date is not None
    ]
    violations = scan_agent_turns(
        extraction.turns,
        language=language,
        jurisdiction=jurisdiction_for(timezone),
        scanner=scanner,
    )
    text, steps = _render(
        extraction, promises, violations, transcript, language, call_date
    )
    extracted_ms = (time.perf_counter() - started) * 1000

    summary = CallSummary(
        language=language,
        summary=text,
        promises=tuple(promises),
        requests=tuple(extraction.requests),
        disputed=extraction.disputed,
        agent_violations=tuple(violations),
        next_steps=tuple(steps),
        timings_ms={"extract": round(extracted_ms, 2)},
    )
    if model is None:
        return summary

    polished = _polish(model, summary, language, redactor)
    if polished is None:
        return summary
    return summary.model_copy(update={"summary": polished, "engine": "model"})
