"""One JSON error shape for every API error, and friendly pages for the sidebar."""

from __future__ import annotations

import logging

from flask import Flask, Response, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from copilot.errors import CopilotError

__all__ = ["register_error_handlers"]

log = logging.getLogger(__name__)


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == (
        "application/json"
    )


def _render(status: int, code: str, message: str) -> tuple[Response | str, int]:
    if _wants_json():
        body = {"error": {"code": code, "message": message, "status": status}}
        return jsonify(body), status
    return render_template("error.html", status=status, message=message), status


def register_error_handlers(app: Flask) -> None:
    """Render CopilotError, HTTP errors and surprises the same way everywhere."""

    @app.errorhandler(CopilotError)
    def _copilot_error(exc: CopilotError) -> tuple[Response | str, int]:
        log.info("%s %s -> %s %s", request.method, request.path, exc.status, exc.code)
        if _wants_json():
            return jsonify(exc.to_dict()), exc.status
        return _render(exc.status, exc.code, exc.message)

    @app.errorhandler(HTTPException)
    def _http_error(exc: HTTPException) -> tuple[Response | str, int]:
        status = exc.code or 500
        code = (exc.name or "error").lower().replace(" ", "_")
        return _render(status, code, exc.description or exc.name or "Error")

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> tuple[Response | str, int]:
        log.exception("unexpected error on %s %s", request.method, request.path)
        return _render(
            500,
            "internal_error",
            "Something went wrong on our side; the error was logged. "
            "Try again, and tell your administrator if it persists.",
        )
