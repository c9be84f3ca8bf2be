"""Keeping a draft in the workflow store while it is generated, and checking it there.

The sidebar stores the filled template as soon as the drafter has it, before the model
runs, so a crash or a timeout loses nothing; when generation ends the same row gets the
final text, engine, violations and fallback reason. The checker here runs the engine of
the web app's settings and words its messages in the reader's UI language.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, cast

from sqlalchemy import CursorResult, update
from sqlalchemy.orm import Session

from copilot.domain import DebtorContext, Draft
from copilot.errors import NotFoundError
from copilot.workflow import drafts as workflow
from copilot.workflow.db import Database
from copilot.workflow.models import DraftEvent, DraftRecord, User

__all__ = ["engine_checker", "persist_callback", "update_generated"]

log = logging.getLogger(__name__)


def update_generated(session: Session, draft_id: str, draft: Draft) -> DraftRecord:
    """Replace a still-drafted record's generated text and checks with *draft*'s."""
    record = session.get(DraftRecord, draft_id)
    if record is None:
        raise NotFoundError(f"No draft {draft_id} to update.")
    # The agent may submit the stored text while the model is still writing: the new
    # text lands only if the row is still drafted now, and holds the row until commit.
    still_drafted = session.execute(
        update(DraftRecord)
        .where(DraftRecord.id == draft_id, DraftRecord.status == "drafted")
        .values(status="drafted")
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], still_drafted).rowcount != 1:
        session.refresh(record)
        log.warning("draft %s moved on to %s before generation ended; kept as is",
                    draft_id, record.status)
        return record
    changed = record.text != draft.text
    record.text = draft.text
    record.original_text = draft.text
    record.subject = draft.subject
    record.engine = draft.engine
    record.fallback_reason = draft.fallback_reason
    record.citations = [c.model_dump(mode="json") for c in draft.citations]
    record.violations = [v.model_dump(mode="json") for v in draft.violations]
    if not changed:
        return record
    session.add(DraftEvent(draft_id=record.id, actor_id=record.agent_id,
                           action="generated", from_status="drafted",
                           to_status="drafted", text=draft.text,
                           reason=f"engine {draft.engine}"))
    return record


def persist_callback(
    database: Database, agent: User, context: DebtorContext, connector: str
) -> Callable[[Draft], None]:
    """A Drafter ``persist`` hook: create the record first, update it afterwards."""

    def persist(draft: Draft) -> None:
        with database.session() as session:
            if draft.id and session.get(DraftRecord, draft.id) is not None:
                update_generated(session, draft.id, draft)
                return
            owner = session.get(User, agent.id)
            assert owner is not None
            workflow.create_draft(session, agent=owner, context=context, draft=draft,
                                  connector=connector)
        log.info("stored draft %s for debtor %s", draft.id, context.debtor.id)

    return persist


def engine_checker(engine: object, ui_language: str) -> workflow.Checker:
    """A workflow checker using *engine*, with messages in *ui_language*."""

    def check(record: DraftRecord, context: DebtorContext,
              now: datetime) -> workflow.CheckOutcome:
        from copilot.compliance import Proposal

        proposal = Proposal.from_context(
            context, channel=record.channel, language=record.language, text=record.text,
            send_at=now,
        )
        result = engine.check(proposal, ui_language=ui_language)  # type: ignore[attr-defined]
        return workflow.CheckOutcome(list(result.violations), result.next_allowed_at)

    return check
