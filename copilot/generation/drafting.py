"""Drafting: approved template, optional personalisation, compliance check, repair.

The filled template is always made first and checked; it is the draft when no model is
configured, and the fallback whenever the model's version breaks a rule the template
did not. Mandatory disclosures are added by code after the model writes, so the model
cannot drop them. A model's text is accepted only if it introduces no violation the
template did not have (a wrong language counts), within a bounded number of repairs.
Rules about the *contact* itself (hours, frequency, cease, attorney) cannot be fixed by
rewording: they are reported with the moment the channel opens again.
"""

from __future__ import annotations

import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

from connectors.base import Connector
from copilot.config import Settings
from copilot.domain import Citation, DebtorContext, Draft, Violation
from copilot.errors import CopilotError, InputError, ProviderError
from copilot.generation.library import CHANNELS, GOALS, TemplateLibrary
from copilot.generation.redaction import Redactor
from copilot.generation.values import company_profile, template_values

__all__ = ["DraftRequest", "DraftResult", "Drafter", "ensure_disclosures"]

log = logging.getLogger(__name__)

PROMPTS = Path(__file__).resolve().parents[2] / "prompts" / "draft"
TONES = ("firm", "neutral", "warm")
MAX_REPAIRS = 2
MAX_CHARS = {"sms": 320, "email": 1500, "letter": 2500, "call": 1200}
MAX_TOKENS = {"sms": 120, "email": 400, "letter": 480, "call": 300}

# What to ask the policy knowledge base for: one question per aspect of the draft, so
# each citation is the passage that governs that aspect.
_GOAL_QUERIES = {
    "reminder": "tone of collection messages respectful plain language",
    "plan_offer": "payment plans instalments how to offer a plan",
    "promise_follow_up": "payment plans promises to pay missed instalment follow up",
    "hardship": "hardship job loss illness pause reduced payments",
    "settlement": "settlements lump sum discount authority",
}
_FLAG_QUERIES = {
    "disputed": "disputed debts verification before collecting",
    "cease_requested": "requests to stop contact cease communication",
    "attorney_represented": "debtor represented by an attorney",
}
_CHANNEL_QUERIES = {
    "sms": "opting out of text messages and email electronic communications",
    "email": "opting out of text messages and email electronic communications",
    "letter": "identifying ourselves as a debt collector in every communication",
    "call": "call frequency limits and contact hours",
}


@dataclass
class DraftRequest:
    """What the agent asked for."""

    debtor_id: str
    channel: str
    language: str
    tone: str = "neutral"
    goal: str = "reminder"
    agent: str = ""
    send_at: datetime | None = None

    def validate(self) -> None:
        """Refuse unknown channels, languages, tones and goals with a clear sentence."""
        if self.channel not in CHANNELS:
            raise InputError(f"Unknown channel {self.channel!r}; choose one of "
                             f"{', '.join(CHANNELS)}.")
        if self.language not in ("en", "es"):
            raise InputError(f"Unknown language {self.language!r}; choose en or es.")
        if self.tone not in TONES:
            raise InputError(f"Unknown tone {self.tone!r}; choose one of {', '.join(TONES)}.")
        if self.goal not in GOALS:
            raise InputError(f"Unknown goal {self.goal!r}; choose one of {', '.join(GOALS)}.")


@dataclass
class DraftResult:
    """A checked draft and everything needed to explain it."""

    draft: Draft
    context: DebtorContext
    checks_passed: list[str]
    allowed_now: bool
    next_allowed_at: datetime | None
    attempts: list[dict[str, Any]] = field(default_factory=list)
    contact_rules: frozenset[str] = frozenset()

    @property
    def text_violations(self) -> list[Violation]:
        """Violations in the wording itself (rewording could fix them)."""
        return [v for v in self.draft.violations if v.rule not in self.contact_rules]

    @property
    def contact_violations(self) -> list[Violation]:
        """Violations about whether or when this contact may happen at all."""
        return [v for v in self.draft.violations if v.rule in self.contact_rules]

    def to_json_dict(self) -> dict[str, Any]:
        """The API and ``--json`` shape."""
        draft = self.draft
        return {
            "id": draft.id,
            "debtor_id": draft.debtor_id,
            "channel": draft.channel,
            "language": draft.language,
            "tone": draft.tone,
            "goal": draft.goal,
            "subject": draft.subject,
            "text": draft.text,
            "engine": draft.engine,
            "template_id": draft.template_id,
            "fallback_reason": draft.fallback_reason,
            "citations": [c.model_dump(mode="json") for c in draft.citations],
            "violations": [v.model_dump(mode="json") for v in draft.violations],
            "checks_passed": self.checks_passed,
            "text_ok": not self.text_violations,
            "allowed_now": self.allowed_now,
            "next_allowed_at": self.next_allowed_at.isoformat()
            if self.next_allowed_at else None,
            "tokens": {"input": draft.tokens_in, "output": draft.tokens_out},
            "timings_ms": draft.timings_ms,
            "attempts": self.attempts,
        }


def ensure_disclosures(
    text: str, *, jurisdiction: str, channel: str, language: str, first_contact: bool,
    engine: Any | None = None,
) -> str:
    """Append every disclosure the rule packs require that the text lacks.

    *engine* is the compliance engine whose packs decide (default: the process-wide
    one); a drafter passes its own, so the wording it adds is the wording it checks.
    """
    if engine is None:
        from copilot.compliance import get_engine

        engine = get_engine()
    wanted = engine.required_disclosures(jurisdiction, channel, language, first_contact)
    lowered = text.lower()
    missing = [d for d in wanted if d.lower() not in lowered]
    if not missing:
        return text
    separator = " " if channel == "sms" else "\n\n"
    return text.rstrip() + separator + " ".join(missing)


@lru_cache(maxsize=16)
def _read_prompt(name: str, language: str) -> str:
    # Read once per process: the prompts ship with the code and are read on every draft.
    return (PROMPTS / f"{name}.{language}.md").read_text("utf-8")


def _context_for_prompt(context: DebtorContext, language: str) -> str:
    """The facts the model may use; notes are quoted as data."""
    debtor, account = context.debtor, context.account
    lines = [
        f"jurisdiction: {debtor.jurisdiction}",
        f"balance: {account.balance.format(language)}",
        f"hardship: {'yes' if debtor.hardship else 'no'}",
        f"disputed: {'yes' if debtor.disputed else 'no'}",
    ]
    if account.payment_plan is not None:
        lines.append(f"payment plan: {account.payment_plan.status}")
    recent = [a for a in context.contact_attempts if a.outcome == "conversation"][-1:]
    for attempt in recent:
        lines.append(f"last conversation: {attempt.at.date().isoformat()}")
    for note in context.notes[-3:]:
        quoted = json.dumps(note.text[:400], ensure_ascii=False)
        lines.append(f"crm note ({note.kind}): {quoted}")
    return "\n".join(lines)


class Drafter:
    """Makes checked drafts for one app or command run."""

    def __init__(
        self,
        settings: Settings,
        connector: Connector,
        *,
        knowledge: Any | None = None,
        engine: Any | None = None,
        model: BaseChatModel | None = None,
        library: TemplateLibrary | None = None,
        persist: Callable[[Draft], None] | None = None,
        engine_label: str | None = None,
    ) -> None:
        from copilot.compliance import get_engine

        self.settings = settings
        self.connector = connector
        self.knowledge = knowledge
        self.engine = engine or get_engine(settings)
        self.model = model
        self.library = library or TemplateLibrary(settings.data_dir)
        self.persist = persist
        if engine_label is None and model is not None:
            from copilot.providers import describe_engine

            engine_label = describe_engine(settings)
        self.engine_label = engine_label

    # ----------------------------------------------------------------- pieces
    def citations(self, context: DebtorContext, request: DraftRequest) -> list[Citation]:
        """Policy passages that govern this draft: its goal, its channel, its flags."""
        if self.knowledge is None:
            return []
        questions = [_GOAL_QUERIES[request.goal], _CHANNEL_QUERIES[request.channel]]
        questions += [q for flag, q in _FLAG_QUERIES.items()
                      if flag in context.debtor.flags()]
        if context.debtor.hardship and request.goal != "hardship":
            questions.append(_GOAL_QUERIES["hardship"])
        found: dict[str, Citation] = {}
        for question in questions:
            try:
                passages = self.knowledge.search(
                    question, k=1, jurisdiction=context.debtor.jurisdiction
                )
            except CopilotError as exc:
                log.warning("policy search failed (%s); drafting without it", exc.code)
                return list(found.values())
            for passage in passages:
                found.setdefault(passage.passage_id, passage.citation())
        return list(found.values())

    def check(self, context: DebtorContext, request: DraftRequest, text: str,
              send_at: datetime) -> Any:
        """The compliance engine's verdict on a text."""
        from copilot.compliance import Proposal

        proposal = Proposal.from_context(
            context, channel=request.channel, language=request.language, text=text,
            send_at=send_at,
        )
        return self.engine.check(proposal, ui_language=request.language)

    def _with_disclosures(self, context: DebtorContext, request: DraftRequest,
                          text: str) -> str:
        first = not any(a.direction == "outbound" for a in context.contact_attempts)
        return ensure_disclosures(
            text, jurisdiction=context.debtor.jurisdiction, channel=request.channel,
            language=request.language, first_contact=first, engine=self.engine,
        )

    # ----------------------------------------------------------------- main
    def draft(
        self, request: DraftRequest, on_token: Callable[[str], None] | None = None
    ) -> DraftResult:
        """Make one checked draft."""
        request.validate()
        timings: dict[str, float] = {}
        started = time.perf_counter()

        context = self.connector.fetch_context(request.debtor_id)
        timings["context_ms"] = _ms(started)
        send_at = request.send_at or datetime.now(UTC)

        mark = time.perf_counter()
        citations = self.citations(context, request)
        timings["retrieval_ms"] = _ms(mark)

        mark = time.perf_counter()
        agent = request.agent or ("el equipo" if request.language == "es" else "The team")
        values = template_values(context, language=request.language, agent=agent,
                                 today=send_at.astimezone(context.debtor.zone).date())
        template = self.library.choose(
            request.channel, request.goal, request.language, request.tone, values,
            seed=f"{context.debtor.id}|{request.channel}|{request.goal}|{send_at.date()}",
        )
        subject, base_text = self.library.render(template, request.channel,
                                                 request.language, values)
        base_text = self._with_disclosures(context, request, base_text)
        base_check = self.check(context, request, base_text, send_at)
        timings["template_ms"] = _ms(mark)

        draft = Draft(
            id=str(uuid.uuid4()), debtor_id=context.debtor.id, channel=request.channel,
            language=request.language, tone=request.tone, goal=request.goal,
            text=base_text, subject=subject, engine="template", template_id=template.id,
            citations=tuple(citations), violations=tuple(base_check.violations),
        )
        attempts: list[dict[str, Any]] = []
        if self.model is not None:
            if self.persist is not None:
                self.persist(draft)  # before the slow, fallible model call
            mark = time.perf_counter()
            draft = self._personalise(context, request, draft, base_check, send_at,
                                      citations, attempts, on_token)
            timings["model_ms"] = _ms(mark)
        timings["total_ms"] = _ms(started)
        draft = draft.model_copy(update={"timings_ms": timings})
        if self.persist is not None:
            self.persist(draft)

        violated = {v.rule for v in draft.violations}
        return DraftResult(
            draft=draft,
            context=context,
            checks_passed=[r for r in self._rule_ids(context.debtor.jurisdiction)
                           if r not in violated],
            allowed_now=draft.allowed,
            next_allowed_at=base_check.next_allowed_at,
            attempts=attempts,
            contact_rules=frozenset(
                self.engine.contact_rule_ids(context.debtor.jurisdiction)
            ),
        )

    def _rule_ids(self, jurisdiction: str) -> list[str]:
        return list(self.engine.rule_ids(jurisdiction))

    def _personalise(
        self, context: DebtorContext, request: DraftRequest, base: Draft, base_check: Any,
        send_at: datetime, citations: list[Citation], attempts: list[dict[str, Any]],
        on_token: Callable[[str], None] | None,
    ) -> Draft:
        assert self.model is not None
        redactor = (Redactor.for_context(context) if self.settings.redaction_enabled
                    else None)
        profile = company_profile(context.debtor.jurisdiction)
        passages = "\n".join(f"- {c.heading}: {c.excerpt[:300]}" for c in citations) or "-"
        template_text = base.text
        system = _read_prompt("system", request.language).format(company=profile.company)
        user = _read_prompt("user", request.language).format(
            channel=request.channel, tone=request.tone, goal=request.goal,
            max_chars=MAX_CHARS[request.channel],
            context=_context_for_prompt(context, request.language),
            passages=passages, template=template_text,
        )
        if redactor is not None:
            system, user = redactor.redact(system), redactor.redact(user)
        messages: list[BaseMessage] = [SystemMessage(system), HumanMessage(user)]
        allowed = {v.rule for v in base_check.violations}
        tokens_in = tokens_out = 0
        reason = ""
        for attempt in range(1 + MAX_REPAIRS):
            try:
                text, usage = self._generate(
                    messages, on_token if attempt == 0 else None,
                    max_tokens=min(self.settings.llm_max_tokens,
                                   MAX_TOKENS[request.channel]),
                )
            except ProviderError as exc:
                reason = f"the model failed ({exc.message})"
                attempts.append({"attempt": attempt + 1, "error": exc.code})
                break
            tokens_in += usage.get("input_tokens", 0)
            tokens_out += usage.get("output_tokens", 0)
            if redactor is not None:
                text = redactor.restore(text)
            text = _clean_model_text(text)
            if not text:
                reason = "the model returned no text"
                attempts.append({"attempt": attempt + 1, "new_violations": ["empty"]})
                continue
            text = self._with_disclosures(context, request, text)
            verdict = self.check(context, request, text, send_at)
            new = [v for v in verdict.violations if v.rule not in allowed]
            attempts.append({"attempt": attempt + 1,
                             "new_violations": sorted({v.rule for v in new})})
            if not new:
                return base.model_copy(update={
                    "text": text, "engine": self.engine_label or "model",
                    "violations": tuple(verdict.violations), "tokens_in": tokens_in,
                    "tokens_out": tokens_out,
                })
            reason = "the model's text broke " + ", ".join(sorted({v.rule for v in new}))
            feedback = "\n".join(f"- {v.rule}: {v.message}" for v in new)
            repair = _read_prompt("repair", request.language).format(violations=feedback)
            if redactor is not None:
                repair = redactor.redact(repair)
            messages = [*messages, AIMessage(redactor.redact(text) if redactor else text),
                        HumanMessage(repair)]
        log.info("draft %s fell back to template %s", base.id, base.template_id)
        return base.model_copy(update={
            "fallback_reason": f"Used the approved template because {reason}.",
            "tokens_in": tokens_in, "tokens_out": tokens_out,
        })

    def _generate(
        self, messages: list[BaseMessage], on_token: Callable[[str], None] | None,
        max_tokens: int,
    ) -> tuple[str, dict[str, int]]:
        from copilot.providers import call_model

        assert self.model is not None
        return call_model(self.model, messages, on_token=on_token, max_tokens=max_tokens)


def _clean_model_text(text: str) -> str:
    """Strip wrapping quotes and stray role labels small models like to add."""
    cleaned = text.strip().strip('"“”').strip()
    for prefix in ("Rewritten message:", "Mensaje:", "Message:", "Assistant:"):
        if cleaned.lower().startswith(prefix.lower()):
            cleaned = cleaned[len(prefix):].strip()
    return cleaned


def _ms(since: float) -> float:
    return round((time.perf_counter() - since) * 1000, 2)
