"""The agent's tools in the sidebar: contact windows, next steps, composer, summaries.

Every page works as a plain HTML form. ``copilot.js`` upgrades the composer: it posts
the same form with ``Accept: text/event-stream`` and shows the text as it streams, then
the checked result. The draft row exists in the workflow store before the model runs.
"""

from __future__ import annotations

import difflib
import json
import logging
import queue
import re
import threading
from collections.abc import Iterator
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import (
    Blueprint,
    Flask,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask.typing import ResponseReturnValue

from copilot.domain import DebtorContext
from copilot.errors import ConflictError, CopilotError, InputError
from copilot.generation.drafting import TONES, DraftRequest
from copilot.generation.library import CHANNELS, GOALS
from copilot.web.auth import current_user, database, requires
from copilot.web.drafting_store import engine_checker, persist_callback
from copilot.web.i18n import translate
from copilot.web.services import services
from copilot.workflow import drafts as workflow
from copilot.workflow.models import DRAFT_STATES, DraftRecord, User

__all__ = ["bp", "diff_words", "fresh_checker", "format_moment", "knowledge_or_none"]

log = logging.getLogger(__name__)

bp = Blueprint("agent", __name__)

_STREAM_WAIT_S = 30.0


# --- helpers shared by the lead queue and admin ---------------------------------------


def knowledge_or_none() -> Any:
    """The app's policy knowledge base, or None (with a warning) when it cannot open."""
    try:
        return services().knowledge
    except CopilotError as exc:
        log.warning("policy knowledge base unavailable (%s); no citations", exc.code)
        return None


def fresh_checker() -> workflow.Checker:
    """The compliance check of this app, worded in the reader's language."""
    from flask import g

    return engine_checker(services().compliance, getattr(g, "ui_language", "en"))


def format_moment(value: datetime | str | None, timezone: str | None = None) -> str:
    """A moment as the reader sees it: in *timezone* when given, else UTC."""
    if value is None or value == "":
        return ""
    moment = datetime.fromisoformat(value) if isinstance(value, str) else value
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    zone = ZoneInfo(timezone) if timezone else UTC
    local = moment.astimezone(zone)
    return f"{local:%Y-%m-%d %H:%M} {local.tzname()}"


def diff_words(before: str, after: str) -> list[tuple[str, str]]:
    """Word-level differences as (kind, text) pieces: same, del or ins."""
    old = re.findall(r"\S+|\s+", before)
    new = re.findall(r"\S+|\s+", after)
    pieces: list[tuple[str, str]] = []
    matcher = difflib.SequenceMatcher(a=old, b=new, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            pieces.append(("same", "".join(old[i1:i2])))
            continue
        if i2 > i1:
            pieces.append(("del", "".join(old[i1:i2])))
        if j2 > j1:
            pieces.append(("ins", "".join(new[j1:j2])))
    return pieces


def _age(moment: datetime) -> str:
    seconds = max(0, int((datetime.now(UTC) - moment).total_seconds()))
    if seconds < 3600:
        return translate("age.minutes", n=seconds // 60)
    if seconds < 86400:
        return translate("age.hours", n=seconds // 3600)
    return translate("age.days", n=seconds // 86400)


@bp.record_once
def _register_filters(state: Any) -> None:
    app: Flask = state.app
    app.add_template_filter(format_moment, "moment")
    app.add_template_filter(_age, "age")
    app.add_template_global(diff_words, "diff_words")
    app.add_template_global(agent_panel, "agent_panel")
    app.jinja_env.globals.update(CHANNELS=CHANNELS, GOALS=GOALS, TONES=TONES,
                                 DRAFT_STATES=DRAFT_STATES)


# --- the debtor page's tools ----------------------------------------------------------


def agent_panel(context: DebtorContext) -> dict[str, Any]:
    """What the sidebar shows beside a debtor: windows, next steps, composer, drafts."""
    from copilot.generation.next_steps import rank_next_steps

    svc = services()
    now = datetime.now(UTC)
    engine = svc.compliance
    windows = engine.contact_windows(context, now)
    from flask import g

    language = getattr(g, "ui_language", "en")
    try:
        steps = rank_next_steps(context, engine, now=now, knowledge=knowledge_or_none(),
                                language=language)
    except CopilotError as exc:
        log.warning("next steps without citations (%s)", exc.code)
        steps = rank_next_steps(context, engine, now=now, language=language)
    user = current_user()
    assert user is not None
    with database().session() as session:
        mine = [
            {"id": r.id, "channel": r.channel, "status": r.status, "goal": r.goal,
             "created_at": r.created_at}
            for r in workflow.list_drafts(session, user, limit=50)
            if r.debtor_id == context.debtor.id
        ][:5]
    chosen = {
        "channel": request.args.get("channel") or "",
        "goal": request.args.get("goal") or "reminder",
        "language": request.args.get("language") or context.debtor.language,
        "tone": request.args.get("tone") or "neutral",
    }
    if chosen["channel"] not in CHANNELS:
        chosen["channel"] = next(
            (c for c in ("sms", "email", "letter", "call") if windows[c]["allowed_now"]),
            "letter",
        )
    return {
        "windows": [{"channel": c, **windows[c]} for c in CHANNELS if c in windows],
        "steps": steps,
        "drafts": mine,
        "chosen": chosen,
        "today": context.debtor.local(now).date().isoformat(),
    }


# --- composing ------------------------------------------------------------------------


def _draft_request(debtor_id: str, user: User) -> DraftRequest:
    form = request.form
    wanted = DraftRequest(
        debtor_id=debtor_id,
        channel=form.get("channel", ""),
        language=form.get("language", ""),
        tone=form.get("tone", "neutral"),
        goal=form.get("goal", "reminder"),
        agent=user.name,
    )
    wanted.validate()
    return wanted


def _sse(event: str, data: dict[str, Any]) -> str:
    return f"event: {event}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


def _wants_stream() -> bool:
    return "text/event-stream" in request.headers.get("Accept", "")


@bp.post("/sidebar/debtors/<debtor_id>/drafts")
@requires()
def compose(debtor_id: str) -> ResponseReturnValue:
    """Draft a message: streamed as server-sent events, or as a plain redirect."""
    user = current_user()
    assert user is not None
    wanted = _draft_request(debtor_id, user)
    svc = services()
    context = svc.connector.fetch_context(debtor_id)
    events: queue.Queue[tuple[str, Any]] = queue.Queue()
    store = persist_callback(database(), user, context, svc.settings.connector)

    def persist(draft: Any) -> None:
        store(draft)
        events.put(("stored", {"draft_id": draft.id}))

    drafter = svc.drafter(persist=persist)
    if not _wants_stream():
        result = drafter.draft(wanted)
        return redirect(url_for("agent.draft", draft_id=result.draft.id), 303)

    def work() -> None:
        try:
            result = drafter.draft(wanted, on_token=lambda t: events.put(("token", t)))
            events.put(("result", result.draft.id))
        except CopilotError as exc:
            events.put(("error", exc.message))
        except Exception:
            log.exception("drafting for debtor %s failed", debtor_id)
            events.put(("error", translate("draft_failed")))

    threading.Thread(target=work, name=f"draft-{debtor_id}", daemon=True).start()
    timeout = svc.settings.llm_timeout_s * 3 + _STREAM_WAIT_S

    def stream() -> Iterator[str]:
        yield _sse("started", {"engine": svc.settings.llm_provider})
        announced = False
        while True:
            try:
                kind, payload = events.get(timeout=timeout)
            except queue.Empty:
                yield _sse("error", {"message": translate("draft_timeout")})
                return
            if kind == "stored" and not announced:
                announced = True
                yield _sse("stored", payload)
            elif kind == "token":
                yield _sse("token", {"text": payload})
            elif kind == "error":
                yield _sse("error", {"message": payload})
                return
            elif kind == "result":
                with database().session() as session:
                    record = workflow.get_draft(session, payload, user)
                    html = render_template("_draft_panel.html", record=record,
                                           editable=True)
                    text = record.text
                yield _sse("done", {"draft_id": payload, "text": text, "html": html,
                                    "url": url_for("agent.draft", draft_id=payload)})
                return

    return Response(stream_with_context(stream()), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


# --- one draft ------------------------------------------------------------------------


@bp.get("/sidebar/drafts/<draft_id>")
@requires()
def draft(draft_id: str) -> ResponseReturnValue:
    """The agent's draft: text to edit, citations, checks, history, submit."""
    user = current_user()
    assert user is not None
    with database().session() as session:
        record = workflow.get_draft(session, draft_id, user)
        return render_template("composer.html", record=record,
                               editable=_editable(record, user))


def _editable(record: DraftRecord, user: User) -> bool:
    return record.status in workflow.EDITABLE_BY_AGENT and record.agent_id == user.id


@bp.post("/sidebar/drafts/<draft_id>")
@requires()
def save(draft_id: str) -> ResponseReturnValue:
    """Save the agent's edits, and submit for approval when asked to."""
    user = current_user()
    assert user is not None
    action = request.form.get("action", "save")
    text = request.form.get("text", "").replace("\r\n", "\n")  # browsers send CRLF
    subject = request.form.get("subject")
    blocked: ConflictError | None = None
    with database().session() as session:
        record = workflow.get_draft(session, draft_id, user)
        new_subject = subject is not None and subject != (record.subject or "")
        if text and (text != record.text or new_subject):
            workflow.edit_draft(session, draft_id, user, text=text, subject=subject)
        if action == "submit":
            context = services().connector.fetch_context(record.debtor_id)
            try:
                workflow.submit(session, draft_id, user, context=context,
                                checker=fresh_checker())
            except ConflictError as exc:
                if exc.details.get("violations") is None:
                    raise
                blocked = exc
        if blocked is not None:
            return render_template("composer.html", record=record, blocked=blocked,
                                   editable=_editable(record, user)), 409
    flash(translate("flash.submitted" if action == "submit" else "flash.saved"), "ok")
    return redirect(url_for("agent.draft", draft_id=draft_id), 303)


@bp.get("/sidebar/drafts")
@requires()
def my_drafts() -> ResponseReturnValue:
    """The signed-in user's drafts and their statuses."""
    user = current_user()
    assert user is not None
    status = request.args.get("status", "")
    statuses = [status] if status in DRAFT_STATES else []
    with database().session() as session:
        records = workflow.list_drafts(session, user, statuses=statuses, limit=200)
        if user.role != "agent":
            records = [r for r in records if r.agent_id == user.id]
        return render_template("my_drafts.html", records=records, status=status)


# --- call summaries -------------------------------------------------------------------


@bp.post("/sidebar/debtors/<debtor_id>/summary")
@requires()
def summarize(debtor_id: str) -> ResponseReturnValue:
    """Summarize a pasted call transcript for this debtor."""
    from copilot.summaries import summarize_call

    context = services().connector.fetch_context(debtor_id)
    transcript = request.form.get("transcript", "").strip()
    language = request.form.get("language") or context.debtor.language
    raw_date = request.form.get("call_date") or context.debtor.local(
        datetime.now(UTC)).date().isoformat()
    if not transcript:
        raise InputError(translate("summary.empty"))
    try:
        call_date = date.fromisoformat(raw_date)
    except ValueError as exc:
        raise InputError(translate("summary.bad_date", value=raw_date)) from exc
    from copilot.generation.redaction import Redactor

    redactor = (Redactor.for_context(context) if services().settings.redaction_enabled
                else None)
    result = summarize_call(language, call_date, context.debtor.timezone, transcript,
                            model=services().model, redactor=redactor)
    return render_template("call_summary.html", ctx=context, result=result,
                           transcript=transcript, call_date=call_date.isoformat(),
                           language=language)
