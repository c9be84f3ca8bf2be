"""The team lead's approval queue: review, approve, send back, reject, write back.

An approval runs the rules again on a context fetched from the CRM at that moment, and
commits before the CRM is written to; the write-back happens right after, in its own
transaction, and a failure stays visible here with a retry button.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from flask import Blueprint, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from copilot.errors import ConflictError, CopilotError, NotFoundError
from copilot.web.agent import fresh_checker
from copilot.web.auth import current_user, database, local_target, requires
from copilot.web.i18n import translate
from copilot.web.services import services
from copilot.workflow import drafts as workflow
from copilot.workflow.models import DraftRecord, User
from copilot.workflow.users import list_users

__all__ = ["AGES", "FLAGS", "bp"]

log = logging.getLogger(__name__)

bp = Blueprint("queue", __name__, url_prefix="/queue")

AGES = {"1h": timedelta(hours=1), "4h": timedelta(hours=4), "1d": timedelta(days=1),
        "3d": timedelta(days=3)}
FLAGS = ("cease_requested", "attorney_represented", "disputed",
         "employer_prohibits_contact", "hardship")
_WRITE_BACK_STATES = ("approved", "write_back_failed")


def _lead() -> User:
    user = current_user()
    assert user is not None
    return user


def _filters() -> dict[str, str]:
    args = request.args
    return {name: args.get(name, "") for name in ("agent", "channel", "age", "flag")}


@bp.get("")
@requires("lead", "admin")
def index() -> ResponseReturnValue:
    """Submitted drafts, filtered; write-backs waiting or failed."""
    lead = _lead()
    chosen = _filters()
    agent_id = int(chosen["agent"]) if chosen["agent"].isdigit() else None
    with database().session() as session:
        waiting = workflow.list_drafts(
            session, lead, statuses=["submitted"], agent_id=agent_id,
            channel=chosen["channel"] or None, older_than=AGES.get(chosen["age"]),
            flag=chosen["flag"] or None,
        )
        writes = workflow.list_drafts(session, lead, statuses=list(_WRITE_BACK_STATES))
        agents = [u for u in list_users(session) if u.role == "agent"]
        return render_template("approvals.html", drafts=waiting, writes=writes,
                               agents=agents, chosen=chosen, ages=list(AGES),
                               flags=FLAGS)


@bp.get("/drafts/<draft_id>")
@requires("lead", "admin")
def review(draft_id: str) -> ResponseReturnValue:
    """One draft with its citations, checks, diff, history and write-back."""
    with database().session() as session:
        record = workflow.get_draft(session, draft_id, _lead())
        return render_template("queue_draft.html", record=record)


def _approve_one(draft_id: str, lead: User, edited_text: str | None) -> ConflictError | None:
    """Approve with a fresh context; returns the blocking error, if any."""
    with database().session() as session:
        record = workflow.get_draft(session, draft_id, lead)
        context = services().connector.fetch_context(record.debtor_id)
        try:
            workflow.approve(session, draft_id, lead, context=context,
                             edited_text=edited_text, checker=fresh_checker())
        except ConflictError as exc:
            if exc.details.get("violations") is None:
                raise
            return exc  # the blocked attempt is recorded and committed
    return None


def _write_back(draft_id: str) -> str:
    """Write one approved draft to the CRM; returns the write-back status."""
    with database().session() as session:
        job = workflow.write_back(session, draft_id, services().connector)
        return job.status


def _flash_write(status: str, done: str, failed: str) -> None:
    """Tell the lead how the write-back went, or that another request is doing it."""
    if status == "done":
        flash(translate(done), "ok")
    elif status == "sending":
        flash(translate("flash.write_in_progress"), "warn")
    else:
        flash(translate(failed), "warn")


@bp.post("/drafts/<draft_id>/approve")
@requires("lead", "admin")
def approve(draft_id: str) -> ResponseReturnValue:
    """Approve as is, or edit and approve; then write back to the CRM."""
    lead = _lead()
    text = request.form.get("text")
    blocked = _approve_one(draft_id, lead, text.replace("\r\n", "\n") if text else None)
    if blocked is not None:
        with database().session() as session:
            record = workflow.get_draft(session, draft_id, lead)
            return render_template("queue_draft.html", record=record, blocked=blocked,
                                   edited=text), 409
    _flash_write(_write_back(draft_id), "flash.approved_written",
                 "flash.approved_write_failed")
    return redirect(url_for("queue.review", draft_id=draft_id), 303)


@bp.post("/drafts/<draft_id>/request-changes")
@requires("lead", "admin")
def request_changes(draft_id: str) -> ResponseReturnValue:
    """Send the draft back to its agent with a reason."""
    with database().session() as session:
        workflow.request_changes(session, draft_id, _lead(),
                                 reason=request.form.get("reason", ""))
    flash(translate("flash.changes_requested"), "ok")
    return redirect(url_for("queue.index"), 303)


@bp.post("/drafts/<draft_id>/reject")
@requires("lead", "admin")
def reject(draft_id: str) -> ResponseReturnValue:
    """Reject the draft for good, with a reason."""
    with database().session() as session:
        workflow.reject(session, draft_id, _lead(), reason=request.form.get("reason", ""))
    flash(translate("flash.rejected"), "ok")
    return redirect(url_for("queue.index"), 303)


@bp.post("/approve-clean")
@requires("lead", "admin")
def approve_clean() -> ResponseReturnValue:
    """Approve the chosen drafts that had no violation at their last check."""
    lead = _lead()
    chosen = request.form.getlist("draft_id")
    approved: list[str] = []
    skipped: list[str] = []
    for draft_id in chosen:
        with database().session() as session:
            record = session.get(DraftRecord, draft_id)
            clean = record is not None and record.status == "submitted" and not (
                record.violations
            )
        if not clean:
            skipped.append(draft_id)
            continue
        blocked: CopilotError | None
        try:
            blocked = _approve_one(draft_id, lead, None)
        except CopilotError as exc:
            # One draft the CRM cannot serve, or that another lead just decided, must
            # not strand the drafts approved before it without their write-backs.
            log.warning("bulk approval skipped draft %s (%s)", draft_id, exc.code)
            blocked = exc
        (skipped if blocked is not None else approved).append(draft_id)
    written = sum(_write_back(d) == "done" for d in approved)
    flash(translate("flash.bulk", approved=len(approved), written=written,
                    skipped=len(skipped)), "ok" if not skipped else "warn")
    return redirect(url_for("queue.index"), 303)


@bp.post("/drafts/<draft_id>/write-back")
@requires("lead", "admin")
def retry_one(draft_id: str) -> ResponseReturnValue:
    """Try the CRM write-back of one approved draft again now."""
    with database().session() as session:
        record = workflow.get_draft(session, draft_id, _lead())
        if record.write_back is None:
            raise NotFoundError(translate("no_write_back"))
    _flash_write(_write_back(draft_id), "flash.written", "flash.write_failed")
    target = local_target(request.form.get("next"),
                          url_for("queue.review", draft_id=draft_id))
    return redirect(target, 303)


@bp.post("/write-backs/retry")
@requires("lead", "admin")
def retry_due() -> ResponseReturnValue:
    """Retry every write-back whose next attempt is due."""
    with database().session() as session:
        jobs = workflow.retry_due_write_backs(session, services().connector)
        done = sum(j.status == "done" for j in jobs)
        total = len(jobs)
    flash(translate("flash.retried", done=done, total=total), "ok")
    return redirect(url_for("queue.index"), 303)
