"""The JSON API used by the sidebar's scripts and by integrations."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from flask.typing import ResponseReturnValue

from copilot.errors import InputError
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
