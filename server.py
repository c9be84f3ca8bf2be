"""The Flask application entry: ``create_app()`` wires settings, services and blueprints.

Run it with ``copilot serve`` (waitress), or in production with gunicorn:
``gunicorn -w 4 'server:create_app()'``.
"""

from __future__ import annotations

import logging
import os
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from flask import Flask, g, request

from copilot.config import Settings, get_settings
from copilot.domain import Money
from copilot.web import admin, agent, api, auth, embed, queue, sidebar
from copilot.web.errors import register_error_handlers
from copilot.web.i18n import translate, ui_language
from copilot.web.services import Services, services

__all__ = ["create_app"]

log = logging.getLogger(__name__)

_PACKAGE_DIR = Path(__file__).resolve().parent / "copilot" / "web"


def _secret_key(settings: Settings) -> str:
    """The session-signing key: from the environment, else one kept in the data dir."""
    from_env = os.environ.get(settings.secret_key_env, "").strip()
    if from_env:
        return from_env
    path = settings.ensure_data_dir() / "secret_key"
    if not path.exists():
        path.write_text(secrets.token_urlsafe(48))
        path.chmod(0o600)
    return path.read_text().strip()


def create_app(
    test_config: Mapping[str, Any] | None = None, settings: Settings | None = None
) -> Flask:
    """Build the web app: sidebar, lead queue, admin and JSON API."""
    settings = settings or get_settings()
    app = Flask(
        "copilot.web",
        template_folder=str(_PACKAGE_DIR / "templates"),
        static_folder=str(_PACKAGE_DIR / "static"),
    )
    app.config.from_mapping(
        SECRET_KEY=_secret_key(settings),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        JSON_SORT_KEYS=False,
        MAX_CONTENT_LENGTH=20 * 1024 * 1024,
    )
    if test_config:
        app.config.update(test_config)

    app.extensions["copilot"] = Services(settings)
    register_error_handlers(app)
    auth.init_auth(app)
    app.register_blueprint(api.bp)
    app.register_blueprint(sidebar.bp)
    app.register_blueprint(agent.bp)
    app.register_blueprint(queue.bp)
    app.register_blueprint(admin.bp)
    app.register_blueprint(embed.bp)

    @app.before_request
    def _language() -> None:
        g.ui_language = ui_language(settings.ui_language)

    @app.context_processor
    def _globals() -> dict[str, Any]:
        svc = services()
        return {
            "t": translate,
            "ui_lang": getattr(g, "ui_language", "en"),
            "connector_name": svc.settings.connector,
            "engine_name": svc.settings.llm_provider,
            "flag_label": _flag_label,
        }

    for noisy in ("httpx", "urllib3"):  # their INFO lines carry URLs with searched names
        if logging.getLogger(noisy).level == logging.NOTSET:
            logging.getLogger(noisy).setLevel(logging.WARNING)

    app.add_template_filter(_money, "money")
    app.after_request(_security_headers(settings))
    app.jinja_env.globals["has_endpoint"] = lambda name: name in app.view_functions
    return app


_CRM_FRAME_ORIGINS = {
    "salesforce": "https://*.force.com https://*.salesforce.com "
    "https://*.lightning.force.com https://*.visualforce.com",
    "hubspot": "https://app.hubspot.com https://app-eu1.hubspot.com "
    "https://app-na2.hubspot.com",
    "zoho": "https://crm.zoho.com https://crm.zoho.eu https://crm.zoho.in "
    "https://crm.zoho.com.au https://crm.zoho.jp https://crm.zohocloud.ca "
    "https://*.zappsusercontent.com https://*.zappsusercontent.eu",
    "demo": "",
}


def _security_headers(settings: Settings) -> Any:
    """Local assets only, and framing only by the active CRM's domains."""
    ancestors = settings.frame_ancestors
    if ancestors is None:
        ancestors = _CRM_FRAME_ORIGINS.get(settings.connector, "")
    policy = (
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; form-action 'self' ; base-uri 'none'; "
        f"frame-ancestors 'self' {ancestors}".rstrip()
    )

    def add(response: Any) -> Any:
        if request.endpoint != "static":  # pages and API answers carry personal data
            response.headers.setdefault("Cache-Control", "no-store")
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return add


def _money(value: Money, language: str = "en") -> str:
    return value.format(language)


def _flag_label(flag: str) -> str:
    if flag.startswith("opted_out:"):
        return translate("opted_out", channel=flag.split(":", 1)[1])
    return translate(f"flag.{flag}")
