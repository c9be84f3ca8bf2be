"""The JSON API used by the sidebar's scripts and by integrations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from copilot.errors import ConflictError, InputError
from copilot.web.auth import requires
from copilot.web.services import services

__all__ = ["bp"]

bp = Blueprint("api", __name__, url_prefix="/api")


def _limit(default: int, maximum: int = 200) -> int:
    raw = request.args.get("limit", str(default))
    try:
        value = int(raw)
    except ValueError as exc:
        raise InputError(f"limit must be a whole number, not {raw!r}.") from exc
    if not 1 <= value <= maximum:
        raise InputError(f"limit must be between 1 and {maximum}, not {value}.")
    return value


@bp.get("/health")
def health() -> ResponseReturnValue:
    """Liveness and what the app is wired to."""
    svc = services()
    return jsonify(
        {
            "status": "ok",
            "connector": svc.settings.connector,
            "llm_provider": svc.settings.llm_provider,
        }
    )


@bp.get("/debtors")
@requires()
def list_debtors() -> ResponseReturnValue:
    """Search debtors with ?q=, or list the work queue when q is empty."""
    query = request.args.get("q", "").strip()
    limit = _limit(50)
    connector = services().connector
    found = connector.search_debtors(query, limit) if query else connector.list_work_queue(
        limit
    )
    return jsonify({"debtors": [s.model_dump(mode="json") for s in found]})


@bp.get("/debtors/<debtor_id>")
@requires()
def get_debtor(debtor_id: str) -> ResponseReturnValue:
    """The debtor's whole context as the CRM has it."""
    context = services().connector.fetch_context(debtor_id)
    body: dict[str, Any] = context.model_dump(mode="json")
    return jsonify(body)


# --- drafts, approvals and the rest, for integrations (API tokens) --------------------


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True)
    if not isinstance(data, dict):
        raise InputError("Send a JSON object in the request body "
                         "(Content-Type: application/json).")
    return data


def _optional_text() -> str | None:
    """The optional edited ``text`` of a submit or approve body (no body is fine)."""
    data = request.get_json(silent=True) if request.get_data(cache=True).strip() else {}
    if not isinstance(data, dict):
        raise InputError("Send a JSON object in the request body, such as {} or "
                         '{"text": "..."} (Content-Type: application/json).')
    text = data.get("text")
    if text is not None and not isinstance(text, str):
        raise InputError("The field 'text' must be a string when given.")
    return text


def _field(data: dict[str, Any], name: str, default: str | None = None) -> str:
    value = data.get(name, default)
    if not isinstance(value, str) or not value.strip():
        raise InputError(f"The field {name!r} is required and must be a non-empty string.")
    return value


def _user() -> Any:
    from copilot.web.auth import current_user

    user = current_user()
    assert user is not None
    return user


def _record_json(record: Any) -> dict[str, Any]:
    job = record.write_back
    return {
        "id": record.id,
        "debtor_id": record.debtor_id,
        "status": record.status,
        "channel": record.channel,
        "language": record.language,
        "tone": record.tone,
        "goal": record.goal,
        "subject": record.subject,
        "text": record.text,
        "engine": record.engine,
        "template_id": record.template_id,
        "fallback_reason": record.fallback_reason,
        "citations": record.citations,
        "violations": record.violations,
        "next_allowed_at": record.next_allowed_at.isoformat()
        if record.next_allowed_at else None,
        "agent": record.agent.email,
        "created_at": record.created_at.isoformat(),
        "write_back": None if job is None else {
            "status": job.status, "attempts": job.attempts,
            "activity_id": job.activity_id, "last_error": job.last_error,
        },
        "events": [
            {"action": e.action, "status": e.to_status, "reason": e.reason,
             "at": e.at.isoformat(), "by": e.actor.email if e.actor else "system"}
            for e in record.events
        ],
    }


@bp.post("/drafts")
@requires()
def create_draft() -> ResponseReturnValue:
    """Draft a checked message for a debtor (persisted before any model runs)."""
    from copilot.generation.drafting import DraftRequest
    from copilot.web.auth import database
    from copilot.web.drafting_store import persist_callback
    from copilot.workflow import drafts as workflow

    data, user = _body(), _user()
    wanted = DraftRequest(
        debtor_id=_field(data, "debtor_id"), channel=_field(data, "channel"),
        language=_field(data, "language"), tone=_field(data, "tone", "neutral"),
        goal=_field(data, "goal", "reminder"), agent=user.name,
    )
    wanted.validate()
    svc = services()
    context = svc.connector.fetch_context(wanted.debtor_id)
    persist = persist_callback(database(), user, context, svc.settings.connector)
    result = svc.drafter(persist=persist).draft(wanted)
    with database().session() as session:
        record = workflow.get_draft(session, str(result.draft.id), user)
        body = {**result.to_json_dict(), "status": record.status}
    return jsonify(body), 201


@bp.get("/drafts")
@requires()
def list_drafts() -> ResponseReturnValue:
    """Drafts visible to the caller (agents: their own), newest first."""
    from copilot.web.auth import database
    from copilot.workflow import drafts as workflow

    statuses = [s for s in request.args.get("status", "").split(",") if s]
    with database().session() as session:
        records = workflow.list_drafts(session, _user(), statuses=statuses,
                                       limit=_limit(50))
        return jsonify({"drafts": [_record_json(r) for r in records]})


@bp.get("/drafts/<draft_id>")
@requires()
def get_draft(draft_id: str) -> ResponseReturnValue:
    """One draft with its history and write-back."""
    from copilot.web.auth import database
    from copilot.workflow import drafts as workflow

    with database().session() as session:
        return jsonify(_record_json(workflow.get_draft(session, draft_id, _user())))


@bp.post("/drafts/<draft_id>/submit")
@requires()
def submit_draft(draft_id: str) -> ResponseReturnValue:
    """Submit for approval (optionally with edited text); 409 with reasons if blocked."""
    from copilot.web.agent import fresh_checker
    from copilot.web.auth import database
    from copilot.workflow import drafts as workflow

    text, user = _optional_text(), _user()
    with database().session() as session:
        record = workflow.get_draft(session, draft_id, user)
        if text is not None:
            workflow.edit_draft(session, draft_id, user, text=text)
        context = services().connector.fetch_context(record.debtor_id)
    with database().session() as session:
        try:
            workflow.submit(session, draft_id, user, context=context,
                            checker=fresh_checker())
        except ConflictError:
            session.commit()  # keep the record of the blocked attempt
            raise
        return jsonify(_record_json(workflow.get_draft(session, draft_id, user)))


@bp.post("/drafts/<draft_id>/approve")
@requires("lead", "admin")
def approve_draft(draft_id: str) -> ResponseReturnValue:
    """Approve (optionally edited) and write back to the CRM once; 409 if blocked."""
    from copilot.web.agent import fresh_checker
    from copilot.web.auth import database
    from copilot.workflow import drafts as workflow

    text, lead = _optional_text(), _user()
    with database().session() as session:
        record = workflow.get_draft(session, draft_id, lead)
        context = services().connector.fetch_context(record.debtor_id)
    with database().session() as session:
        try:
            workflow.approve(session, draft_id, lead, context=context, edited_text=text,
                             checker=fresh_checker())
        except ConflictError:
            session.commit()  # keep the record of the blocked attempt
            raise
    with database().session() as session:
        workflow.write_back(session, draft_id, services().connector)
    with database().session() as session:
        return jsonify(_record_json(workflow.get_draft(session, draft_id, lead)))


@bp.post("/drafts/<draft_id>/request-changes")
@requires("lead", "admin")
def request_changes(draft_id: str) -> ResponseReturnValue:
    """Send a draft back to its agent with a reason."""
    from copilot.web.auth import database
    from copilot.workflow import drafts as workflow

    reason = _field(_body(), "reason")
    with database().session() as session:
        record = workflow.request_changes(session, draft_id, _user(), reason=reason)
        return jsonify(_record_json(record))


@bp.post("/drafts/<draft_id>/reject")
@requires("lead", "admin")
def reject(draft_id: str) -> ResponseReturnValue:
    """Reject a draft with a reason."""
    from copilot.web.auth import database
    from copilot.workflow import drafts as workflow

    reason = _field(_body(), "reason")
    with database().session() as session:
        record = workflow.reject(session, draft_id, _user(), reason=reason)
        return jsonify(_record_json(record))


@bp.get("/debtors/<debtor_id>/next-steps")
@requires()
def next_steps(debtor_id: str) -> ResponseReturnValue:
    """Ranked next actions with when and why."""
    from copilot.generation.next_steps import rank_next_steps
    from copilot.web.agent import knowledge_or_none

    svc = services()
    language = request.args.get("lang", "en")
    if language not in ("en", "es"):
        raise InputError(f"lang must be en or es, not {language!r}.")
    steps = rank_next_steps(svc.connector.fetch_context(debtor_id), svc.compliance,
                            knowledge=knowledge_or_none(), language=language)
    return jsonify({"debtor_id": debtor_id, "steps": [s.to_json_dict() for s in steps]})


@bp.get("/debtors/<debtor_id>/contact-windows")
@requires()
def contact_windows(debtor_id: str) -> ResponseReturnValue:
    """When each channel is next allowed for the debtor."""
    from datetime import UTC, datetime

    svc = services()
    context = svc.connector.fetch_context(debtor_id)
    windows = svc.compliance.contact_windows(context, datetime.now(UTC))
    return jsonify({"debtor_id": debtor_id, "channels": windows})


@bp.post("/summaries")
@requires()
def summarize() -> ResponseReturnValue:
    """Summarize one call transcript (the `copilot summarize` contract)."""
    from datetime import date

    from copilot.summaries import summarize_call

    data = _body()
    try:
        call_date = date.fromisoformat(_field(data, "call_date"))
    except ValueError as exc:
        raise InputError("call_date must be a date like 2027-03-16.") from exc
    summary = summarize_call(_field(data, "language"), call_date,
                             _field(data, "timezone"), _field(data, "transcript"))
    return jsonify(summary.to_json_dict())


@bp.post("/check")
@requires()
def check() -> ResponseReturnValue:
    """Check one proposed contact (the `copilot check` input contract)."""
    from pydantic import ValidationError

    from copilot.compliance import Proposal

    try:
        proposal = Proposal.model_validate(_body())
    except ValidationError as exc:
        raise InputError(f"The proposed contact is not valid: {exc.errors()[0]['msg']} "
                         f"at {'.'.join(str(p) for p in exc.errors()[0]['loc'])}.") from exc
    result = services().compliance.check(proposal)
    return jsonify(result.to_json_dict())
