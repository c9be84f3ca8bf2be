"""Moving a draft from agent to lead to CRM, recording every step.

States::

    drafted ──submit──► submitted ──approve──► approved ──write──► written_back
       ▲                   │  │                   │
       └─request_changes───┘  └──reject──► rejected └──fail──► write_back_failed ─retry─┘

The compliance check runs on submit and again at approval, against a fresh CRM context:
the contact window may have closed or a cease request arrived since the agent drafted.
Approval commits before the CRM is called, so a slow or failing CRM loses nothing; the
write-back carries an idempotency key so a retry never creates a second activity.
"""

from __future__ import annotations

import difflib
import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, and_, or_, select, update
from sqlalchemy.orm import Session

from connectors.base import Connector
from copilot.domain import Activity, DebtorContext, Draft, Violation
from copilot.errors import (
    ConflictError,
    ConnectorError,
    InputError,
    NotFoundError,
    PermissionDeniedError,
)
from copilot.workflow import audit
from copilot.workflow.models import DraftEvent, DraftRecord, User, WriteBack, utcnow

__all__ = [
    "CheckOutcome",
    "Checker",
    "approve",
    "create_draft",
    "edit_draft",
    "get_draft",
    "list_drafts",
    "reject",
    "request_changes",
    "retry_due_write_backs",
    "submit",
    "write_back",
]

log = logging.getLogger(__name__)

EDITABLE_BY_AGENT = ("drafted", "changes_requested")
RETRY_DELAYS_S = (30, 120, 600, 1800, 3600)
SEND_LEASE_S = 300
"""How long one worker's claim on a write-back lasts before another may take it up."""


@dataclass
class CheckOutcome:
    """What the compliance engine said about a draft at one moment."""

    violations: list[Violation]
    next_allowed_at: datetime | None

    @property
    def blocked(self) -> bool:
        """True when a blocking violation was found."""
        return any(v.severity == "block" for v in self.violations)


Checker = Callable[[DraftRecord, DebtorContext, datetime], CheckOutcome]
"""Checks a draft's text against the debtor's context at a moment."""


def compliance_checker(record: DraftRecord, context: DebtorContext, now: datetime) -> CheckOutcome:
    """The default checker: the compliance engine with the active rule packs."""
    from copilot.compliance import Proposal, get_engine

    proposal = Proposal.from_context(
        context, channel=record.channel, language=record.language, text=record.text,
        send_at=now,
    )
    result = get_engine().check(proposal)
    return CheckOutcome(list(result.violations), result.next_allowed_at)


def _require_role(user: User, *roles: str) -> None:
    if user.role not in roles:
        raise PermissionDeniedError(
            f"This needs the {' or '.join(roles)} role; {user.email} is {user.role}."
        )


def _event(
    session: Session, record: DraftRecord, actor: User | None, action: str,
    to_status: str, *, reason: str | None = None, diff: str | None = None,
) -> None:
    event = DraftEvent(
        draft_id=record.id, actor_id=actor.id if actor else None, action=action,
        from_status=record.status, to_status=to_status, reason=reason,
        text=record.text, diff=diff,
    )
    _move(session, record, to_status)
    session.add(event)
    record.status = to_status
    audit.append(
        session, actor=actor.email if actor else "system", action=f"draft.{action}",
        subject=f"draft:{record.id}",
        data={"debtor_id": record.debtor_id, "status": to_status, "reason": reason,
              "channel": record.channel},
    )


def _move(session: Session, record: DraftRecord, to_status: str) -> None:
    """Change the stored status only if nobody changed it since *record* was read."""
    # Two leads deciding at once both read "submitted"; the conditional update lets the
    # first decision stand and refuses the second instead of overwriting it.
    moved = session.execute(
        update(DraftRecord)
        .where(DraftRecord.id == record.id, DraftRecord.status == record.status)
        .values(status=to_status)
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], moved).rowcount != 1:
        now = session.scalar(select(DraftRecord.status).where(DraftRecord.id == record.id))
        raise ConflictError(
            f"Draft {record.id} became {now} meanwhile (someone else acted on it); "
            "reload it to see the latest state."
        )


def _diff(before: str, after: str) -> str | None:
    if before == after:
        return None
    lines = difflib.unified_diff(
        before.splitlines(), after.splitlines(), "before", "after", lineterm=""
    )
    return "\n".join(lines)


def _store_check(record: DraftRecord, outcome: CheckOutcome, now: datetime) -> None:
    record.violations = [v.model_dump(mode="json") for v in outcome.violations]
    record.next_allowed_at = outcome.next_allowed_at
    record.checked_at = now


def create_draft(
    session: Session, *, agent: User, context: DebtorContext, draft: Draft,
    connector: str,
) -> DraftRecord:
    """Persist a new draft for the agent (before or after generation fills it)."""
    _require_role(agent, "agent", "lead", "admin")
    record = DraftRecord(
        id=draft.id or str(uuid.uuid4()), debtor_id=context.debtor.id,
        debtor_name=context.debtor.name, agent_id=agent.id, connector=connector,
        jurisdiction=context.debtor.jurisdiction, channel=draft.channel,
        language=draft.language, tone=draft.tone, goal=draft.goal, subject=draft.subject,
        text=draft.text, original_text=draft.text, status="drafted", engine=draft.engine,
        template_id=draft.template_id, fallback_reason=draft.fallback_reason,
        citations=[c.model_dump(mode="json") for c in draft.citations],
        violations=[v.model_dump(mode="json") for v in draft.violations],
        flags=context.debtor.flags(),
    )
    session.add(record)
    session.flush()
    session.add(DraftEvent(draft_id=record.id, actor_id=agent.id, action="draft",
                           from_status=None, to_status="drafted", text=record.text))
    audit.append(session, actor=agent.email, action="draft.created",
                 subject=f"draft:{record.id}",
                 data={"debtor_id": record.debtor_id, "channel": record.channel,
                       "engine": record.engine})
    return record


def get_draft(session: Session, draft_id: str, user: User) -> DraftRecord:
    """A draft the user may see (agents see only their own)."""
    record = session.get(DraftRecord, draft_id)
    if record is None or (user.role == "agent" and record.agent_id != user.id):
        raise NotFoundError(f"No draft {draft_id} is visible to you.")
    return record


def list_drafts(
    session: Session, user: User, *, statuses: Sequence[str] = (),
    agent_id: int | None = None, channel: str | None = None,
    older_than: timedelta | None = None, flag: str | None = None, limit: int = 200,
) -> list[DraftRecord]:
    """Drafts visible to the user, newest first, filtered."""
    query = select(DraftRecord).order_by(DraftRecord.created_at.desc()).limit(limit)
    if user.role == "agent":
        query = query.where(DraftRecord.agent_id == user.id)
    elif agent_id is not None:
        query = query.where(DraftRecord.agent_id == agent_id)
    if statuses:
        query = query.where(DraftRecord.status.in_(list(statuses)))
    if channel:
        query = query.where(DraftRecord.channel == channel)
    if older_than is not None:
        query = query.where(DraftRecord.created_at <= utcnow() - older_than)
    records = list(session.scalars(query))
    if flag:
        records = [r for r in records if flag in r.flags]
    return records


def edit_draft(
    session: Session, draft_id: str, user: User, *, text: str, subject: str | None = None
) -> DraftRecord:
    """The agent revises their own draft while it is theirs to change."""
    record = get_draft(session, draft_id, user)
    # Every role: text changed after submission would reach the CRM unchecked.
    if record.status not in EDITABLE_BY_AGENT:
        raise ConflictError(
            f"Draft {draft_id} is {record.status}; it can be edited only while drafted "
            "or after a lead asks for changes."
        )
    if record.agent_id != user.id:
        raise PermissionDeniedError(
            f"Draft {draft_id} belongs to {record.agent.email}; only its author edits it. "
            "A lead changes the text while approving it."
        )
    if not text.strip():
        raise InputError("The draft text is empty; write the message before saving.")
    diff = _diff(record.text, text)
    record.text = text
    if subject is not None:
        record.subject = subject
    _event(session, record, user, "edit", record.status, diff=diff)
    return record


def submit(
    session: Session, draft_id: str, agent: User, *, context: DebtorContext,
    checker: Checker = compliance_checker, now: datetime | None = None,
) -> DraftRecord:
    """Send the draft to the approval queue, if the rules allow it."""
    record = get_draft(session, draft_id, agent)
    if record.status not in EDITABLE_BY_AGENT:
        raise ConflictError(f"Draft {draft_id} is {record.status}; it cannot be submitted.")
    moment = now or utcnow()
    outcome = checker(record, context, moment)
    _store_check(record, outcome, moment)
    if outcome.blocked:
        _event(session, record, agent, "submit_blocked", record.status,
               reason=_reasons(outcome))
        session.flush()
        raise _blocked_error("submitted", record, outcome)
    _event(session, record, agent, "submit", "submitted")
    return record


def approve(
    session: Session, draft_id: str, lead: User, *, context: DebtorContext,
    edited_text: str | None = None, checker: Checker = compliance_checker,
    now: datetime | None = None,
) -> DraftRecord:
    """Approve (optionally after editing); the rules run again at this moment."""
    _require_role(lead, "lead", "admin")
    record = get_draft(session, draft_id, lead)
    if record.status != "submitted":
        raise ConflictError(f"Draft {draft_id} is {record.status}; only submitted drafts "
                            "can be approved.")
    diff = None
    if edited_text is not None and edited_text != record.text:
        if not edited_text.strip():
            raise InputError("The edited text is empty.")
        diff = _diff(record.text, edited_text)
        record.text = edited_text
    moment = now or utcnow()
    outcome = checker(record, context, moment)
    _store_check(record, outcome, moment)
    if outcome.blocked:
        _event(session, record, lead, "approval_blocked", "submitted",
               reason=_reasons(outcome), diff=diff)
        session.flush()
        raise _blocked_error("approved", record, outcome)
    _event(session, record, lead, "edit_and_approve" if diff else "approve", "approved",
           diff=diff)
    # The approving request writes back right away; the retrier waits its turn.
    session.add(WriteBack(draft_id=record.id, idempotency_key=f"copilot-draft-{record.id}",
                          status="pending",
                          next_attempt_at=moment + timedelta(seconds=RETRY_DELAYS_S[0])))
    return record


def request_changes(session: Session, draft_id: str, lead: User, *, reason: str) -> DraftRecord:
    """Send the draft back to its agent with what to change."""
    return _lead_decision(session, draft_id, lead, reason, "request_changes",
                          "changes_requested")


def reject(session: Session, draft_id: str, lead: User, *, reason: str) -> DraftRecord:
    """Reject the draft for good, with the reason."""
    return _lead_decision(session, draft_id, lead, reason, "reject", "rejected")


def _lead_decision(
    session: Session, draft_id: str, lead: User, reason: str, action: str, status: str
) -> DraftRecord:
    _require_role(lead, "lead", "admin")
    if not reason.strip():
        raise InputError("Give a reason, so the agent knows what to do.")
    record = get_draft(session, draft_id, lead)
    if record.status != "submitted":
        raise ConflictError(f"Draft {draft_id} is {record.status}, not submitted.")
    _event(session, record, lead, action, status, reason=reason.strip())
    return record


def _reasons(outcome: CheckOutcome) -> str:
    return "; ".join(f"{v.rule}: {v.message}" for v in outcome.violations
                     if v.severity == "block")


def _blocked_error(verb: str, record: DraftRecord, outcome: CheckOutcome) -> ConflictError:
    when = (
        f" It would be allowed from {outcome.next_allowed_at.isoformat()}."
        if outcome.next_allowed_at else ""
    )
    details: dict[str, Any] = {
        "violations": [v.model_dump(mode="json") for v in outcome.violations],
        "next_allowed_at": outcome.next_allowed_at.isoformat()
        if outcome.next_allowed_at else None,
    }
    return ConflictError(
        f"Draft {record.id} cannot be {verb} now: {_reasons(outcome)}.{when}",
        details=details,
    )


_KIND = {"sms": "sms", "email": "email", "letter": "letter", "call": "call",
         "voicemail": "call"}


def write_back(
    session: Session, draft_id: str, connector: Connector, *, now: datetime | None = None
) -> WriteBack:
    """Write an approved draft to the CRM once; on failure, schedule a retry.

    When another request or worker is writing the same draft at this moment, nothing is
    sent and the job is returned as that writer left it.
    """
    record = session.get(DraftRecord, draft_id)
    if record is None or record.write_back is None:
        raise NotFoundError(f"Draft {draft_id} has no pending write-back.")
    job = record.write_back
    _send(session, record, job, connector, now or utcnow())
    return job


def _claim(session: Session, job: WriteBack, moment: datetime) -> bool:
    """Take the job for one send, visibly to every worker, before the CRM is called."""
    # A claim lasts SEND_LEASE_S: a worker that died mid-send leaves a claim that
    # expires, and the idempotency key then keeps the late retry from duplicating.
    claimable = or_(
        WriteBack.status.in_(("pending", "failed")),
        and_(WriteBack.status == "sending", WriteBack.next_attempt_at <= moment),
    )
    claimed = session.execute(
        update(WriteBack)
        .where(WriteBack.id == job.id, claimable)
        .values(status="sending", attempts=WriteBack.attempts + 1,
                next_attempt_at=moment + timedelta(seconds=SEND_LEASE_S))
        .execution_options(synchronize_session=False)
    )
    won = cast(CursorResult[Any], claimed).rowcount == 1
    session.commit()
    session.refresh(job)
    return won


def _send(
    session: Session, record: DraftRecord, job: WriteBack, connector: Connector,
    moment: datetime,
) -> bool:
    """Send the job if this caller wins its claim; True when it was sent (or failed)."""
    if job.status == "done" or not _claim(session, job, moment):
        return False
    activity = Activity(
        debtor_id=record.debtor_id, kind=_KIND[record.channel],
        subject=record.subject or f"Collection Copilot: {record.channel} ({record.goal})",
        body=record.text, occurred_at=moment, idempotency_key=job.idempotency_key,
        draft_id=record.id, author=record.agent.email,
    )
    try:
        result = connector.write_activity(activity)
    except ConnectorError as exc:
        job.status = "failed"
        job.last_error = exc.message
        delay = RETRY_DELAYS_S[min(job.attempts - 1, len(RETRY_DELAYS_S) - 1)]
        job.next_attempt_at = moment + timedelta(seconds=delay)
        if record.status != "write_back_failed":
            _event(session, record, None, "write_back_failed", "write_back_failed",
                   reason=exc.message)
        log.warning("write-back of draft %s failed (%s), attempt %d", record.id,
                    exc.code, job.attempts)
        return True
    job.status = "done"
    job.activity_id = result.activity_id
    job.written_at = moment
    job.last_error = None
    job.next_attempt_at = None
    _event(session, record, None, "write_back", "written_back",
           reason=f"CRM activity {result.activity_id}"
           + ("" if result.created else " (already present)"))
    return True


def retry_due_write_backs(
    session: Session, connector: Connector, *, now: datetime | None = None
) -> list[WriteBack]:
    """Retry every write-back whose time has come; returns the ones this call sent."""
    moment = now or utcnow()
    due = session.scalars(
        select(WriteBack).where(
            WriteBack.status.in_(("failed", "pending", "sending")),
            or_(WriteBack.next_attempt_at.is_(None), WriteBack.next_attempt_at <= moment),
        )
    ).all()
    done = []
    for job in due:
        if _send(session, job.draft, job, connector, moment):
            done.append(job)
    return done
