"""The agent's sidebar: the work queue, search, and one debtor's context."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from flask import Blueprint, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from copilot.domain import DebtorContext
from copilot.web.auth import requires
from copilot.web.services import services

__all__ = ["bp", "context_view"]

bp = Blueprint("sidebar", __name__)


@bp.get("/")
def index() -> ResponseReturnValue:
    """Send people to the sidebar."""
    return redirect(url_for("sidebar.queue"))


@bp.get("/sidebar")
@requires()
def queue() -> ResponseReturnValue:
    """The work queue, or search results when ?q= is given."""
    query = request.args.get("q", "").strip()
    connector = services().connector
    debtors = connector.search_debtors(query, 50) if query else connector.list_work_queue(
        50
    )
    return render_template("queue.html", debtors=debtors, query=query)


def context_view(context: DebtorContext, now: datetime | None = None) -> dict[str, Any]:
    """Facts the debtor page shows, derived once from the CRM context."""
    moment = now or datetime.now(UTC)
    debtor, account = context.debtor, context.account
    local = debtor.local(moment)
    flags = debtor.flags()
    if account.time_barred:
        flags.append("time_barred")
    if account.legal_process_open:
        flags.append("legal_process_open")
    return {
        "local_time": local.strftime("%a %d %b %Y %H:%M %Z"),
        "days_past_due": account.days_past_due(local.date()),
        "flags": flags,
        "history": list(reversed(context.contact_attempts)),
    }


@bp.get("/sidebar/debtors/<debtor_id>")
@requires()
def debtor(debtor_id: str) -> ResponseReturnValue:
    """One debtor's context: who, how much, since when, history and flags."""
    context = services().connector.fetch_context(debtor_id)
    return render_template("debtor.html", ctx=context, view=context_view(context))
