"""Next steps: a ranked, explainable list of what to do for a debtor, and when.

The ranking is deterministic: each candidate action gets a score from named factors
(a broken promise, days past due, the balance, dispute and cease state, the last
contact's outcome), and every factor that moved the score is listed as a reason. The
compliance engine says when each channel is next lawful; an action that cannot happen
now sinks below those that can, and says when it could.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from connectors.priority import usd_equivalent
from copilot.domain import Citation, DebtorContext

__all__ = ["ACTIONS", "NextStep", "rank_next_steps"]

ACTIONS = (
    "call", "sms", "email", "letter", "payment_plan_offer", "hardship_pause",
    "send_validation", "wait", "escalate_legal_review", "close",
)
_CHANNEL = {"call": "call", "sms": "sms", "email": "email", "letter": "letter",
            "payment_plan_offer": "any", "hardship_pause": "any",
            "send_validation": "letter"}
_ANY_ORDER = ("call", "sms", "email", "letter")
_REASONS = Path(__file__).with_name("reasons.yaml")
_DRAFT_GOAL = {"call": "reminder", "sms": "reminder", "email": "reminder",
               "letter": "reminder", "payment_plan_offer": "plan_offer",
               "hardship_pause": "hardship"}
_POLICY_QUERY = {
    "call": "telephone call frequency hours",
    "sms": "text message electronic communication opt out",
    "email": "email electronic communication opt out",
    "letter": "letter written notice",
    "payment_plan_offer": "payment plan instalments arrangement",
    "hardship_pause": "hardship pause reduced payments",
    "send_validation": "dispute verification validation notice",
    "wait": "contact frequency waiting period",
    "escalate_legal_review": "escalation from pre-legal to legal collection",
    "close": "cease communication request close account",
}


@dataclass
class NextStep:
    """One recommended action with its score, timing and reasons."""

    action: str
    score: float
    allowed_now: bool
    allowed_at: datetime | None
    reasons: list[str] = field(default_factory=list)
    blocked_by: list[str] = field(default_factory=list)
    draft: dict[str, str] | None = None
    citation: Citation | None = None

    def to_json_dict(self) -> dict[str, Any]:
        """The API and ``--json`` shape."""
        return {
            "action": self.action,
            "score": round(self.score, 1),
            "allowed_now": self.allowed_now,
            "allowed_at": self.allowed_at.isoformat() if self.allowed_at else None,
            "why": self.reasons,
            "blocked_by": self.blocked_by,
            "would_draft": self.draft,
            "citation": self.citation.model_dump(mode="json") if self.citation else None,
        }


def _moment(value: Any) -> datetime | None:
    """A window's next_allowed_at (ISO text or datetime) as a datetime."""
    return datetime.fromisoformat(value) if isinstance(value, str) else value


@lru_cache(maxsize=1)
def _catalogue() -> dict[str, dict[str, str]]:
    data: dict[str, dict[str, str]] = yaml.safe_load(_REASONS.read_text("utf-8"))
    return data


def _reason(key: str, language: str, **params: Any) -> str:
    """One reason, in *language* (English when that language has none)."""
    entry = _catalogue()[key]
    return entry.get(language, entry["en"]).format(**params)


def _candidates(
    context: DebtorContext, now: datetime, language: str = "en"
) -> dict[str, tuple[float, list[str]]]:
    """Base score and reasons per action, from the account's facts alone."""
    debtor, account = context.debtor, context.account
    today = now.astimezone(debtor.zone).date()
    dpd = account.days_past_due(today)
    balance = usd_equivalent(context.account.balance)
    scores: dict[str, tuple[float, list[str]]] = {}

    def add(action: str, points: float, key: str, **params: Any) -> None:
        score, reasons = scores.get(action, (0.0, []))
        scores[action] = (score + points, [*reasons, _reason(key, language, **params)])

    if debtor.cease_requested:
        add("close", 90, "cease")
        if account.legal_action_intended or account.legal_process_open:
            add("escalate_legal_review", 60, "legal_intended")
        return scores
    if debtor.attorney_represented:
        add("wait", 85, "attorney")
        return scores
    if debtor.disputed and not debtor.verification_sent:
        add("send_validation", 95, "dispute_open")
        add("wait", 40, "dispute_pause")
        return scores

    broken = [p for p in context.promises if p.status == "broken"]
    pending = sorted((p for p in context.promises if p.status == "pending"),
                     key=lambda p: p.due)
    plan = account.payment_plan
    last = context.contact_attempts[-1] if context.contact_attempts else None

    for action in ("call", "sms", "email", "letter"):
        add(action, 20, "keep_moving")
    if dpd > 0:
        add("call", min(dpd, 180) / 6, "days_past_due", days=dpd)
        add("sms", min(dpd, 180) / 9, "days_past_due", days=dpd)
    if balance > Decimal(1000):
        add("call", 8, "large_balance")
    if broken:
        add("call", 25, "broken_promises", count=len(broken))
    if plan is not None and plan.status == "broken":
        add("call", 20, "plan_broken")
        add("payment_plan_offer", 30, "plan_rebuild")
    if pending:
        days = (pending[0].due - today).days
        if days <= 3:
            add("sms", 30, "promise_due", days=max(days, 0))
    if debtor.hardship:
        add("hardship_pause", 55, "hardship")
        add("payment_plan_offer", 20, "hardship_plan")
    elif dpd > 60 and (plan is None or plan.status != "active"):
        add("payment_plan_offer", 35, "no_plan")
    if account.time_barred:
        add("letter", 10, "time_barred_letter")
        add("close", 30, "time_barred_close")
    elif account.legal_action_intended and dpd > 180:
        add("escalate_legal_review", 45, "escalate")
    if last is not None and last.outcome == "conversation":
        add("email", 5, "follow_up_writing")
    if "sms" in debtor.opted_out_channels:
        scores.pop("sms", None)
    if "email" in debtor.opted_out_channels or not debtor.email:
        scores.pop("email", None)
    return scores


def _best_channel(context: DebtorContext, windows: dict[str, Any]) -> str:
    """The first channel open now (else the first to open) the debtor has not refused."""
    usable = [c for c in _ANY_ORDER if c not in context.debtor.opted_out_channels]
    open_now = [c for c in usable if windows.get(c, {}).get("allowed_now")]
    if open_now:
        return open_now[0]
    # Compare moments, not their ISO text: offsets differ across a DST change.
    timed = [
        (opens, c)
        for c in usable
        if (opens := _moment(windows.get(c, {}).get("next_allowed_at"))) is not None
    ]
    if timed:
        return min(timed)[1]
    return usable[0] if usable else "letter"


def rank_next_steps(
    context: DebtorContext, engine: Any, *, now: datetime | None = None,
    knowledge: Any | None = None, limit: int = 6, language: str = "en",
) -> list[NextStep]:
    """Ranked next actions, each with when it is allowed, why, and what it would draft."""
    moment = now or datetime.now(UTC)
    steps: list[NextStep] = []
    windows = engine.contact_windows(context, moment)
    for action, (score, reasons) in _candidates(context, moment, language).items():
        channel = _CHANNEL.get(action)
        if channel == "any":
            channel = _best_channel(context, windows)
        allowed_now, blocked_by = True, []
        allowed_at: datetime | None = moment
        if channel is not None:
            window = windows.get(channel, {})
            allowed_now = bool(window.get("allowed_now", False))
            allowed_at = _moment(window.get("next_allowed_at"))
            blocked_by = list(window.get("reasons", []))
            if not allowed_now:
                score -= 50
                if allowed_at is not None and allowed_at - moment > timedelta(days=3):
                    score -= 20
        draft = None
        if action in _DRAFT_GOAL and channel is not None:
            draft = {"channel": channel, "goal": _DRAFT_GOAL[action],
                     "language": context.debtor.language}
        steps.append(NextStep(action=action, score=score, allowed_now=allowed_now,
                              allowed_at=allowed_at, reasons=reasons,
                              blocked_by=blocked_by, draft=draft))
    contacts = [s for s in steps if s.action in _CHANNEL]
    if contacts and not any(s.allowed_now for s in contacts) and all(
        s.action != "wait" for s in steps
    ):
        opens = [s.allowed_at for s in contacts if s.allowed_at is not None]
        first = min(opens) if opens else None
        reason = (_reason("nothing_open", language, when=first.isoformat()) if first
                  else _reason("nothing_open_never", language))
        steps.append(NextStep(action="wait", score=50, allowed_now=True,
                              allowed_at=moment, reasons=[reason]))
    steps.sort(key=lambda s: (-s.score, ACTIONS.index(s.action)))
    steps = steps[:limit]
    if knowledge is not None:
        for step in steps:
            found = knowledge.search(_POLICY_QUERY[step.action], k=1,
                                     jurisdiction=context.debtor.jurisdiction)
            step.citation = found[0].citation() if found else None
    return steps
