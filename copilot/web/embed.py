"""Opening the sidebar from inside a CRM: sign the CRM's user in, then show their record.

Each CRM vouches for its user in its own way (see :mod:`copilot.embeds`):

    POST /embed/salesforce        Canvas signed request -> signed in, sent to the record
    GET|POST /embed/hubspot       the app card's signed ``hubspot.fetch`` -> JSON with a
                                  one-time sign-in link
    GET  /embed/link/<token>      that link -> signed in, sent to the record
    POST /embed/zoho/session      the widget's Connection call -> JSON with a widget token
    GET  /embed/zoho              ?token=...&record=... -> signed in, sent to the record

The CRM user is matched by email to an active local account; nobody is created on the
fly, so an administrator decides who may use the copilot. These requests are signed by
the CRM rather than carrying our CSRF token, so :mod:`copilot.web.auth` exempts the
unsafe ones by endpoint name. One-time links and Zoho widget tokens are spent by writing
their nonce to the audit log; a second use finds the first entry and is refused.
"""

from __future__ import annotations

import functools
import logging
import re
import secrets
import time
from collections.abc import Callable
from typing import Any, TypeVar, cast

from flask import Blueprint, current_app, jsonify, redirect, request, url_for
from flask.typing import ResponseReturnValue
from itsdangerous import BadSignature, URLSafeSerializer
from sqlalchemy import func, select

from copilot.config import secret
from copilot.embeds.hubspot import public_request_uri, verify_hubspot_signature_v3
from copilot.embeds.salesforce import canvas_record_id, verify_canvas_signed_request
from copilot.embeds.zoho import verify_widget_token, widget_session
from copilot.errors import ConfigError, CopilotError, PermissionDeniedError
from copilot.web.auth import database, login_user
from copilot.web.services import services
from copilot.workflow import audit
from copilot.workflow.models import AuditEntry, User

__all__ = ["CSRF_EXEMPT", "LINK_TTL_S", "bp", "issue_link"]

log = logging.getLogger(__name__)

bp = Blueprint("embed", __name__, url_prefix="/embed")

F = TypeVar("F", bound=Callable[..., Any])

LINK_TTL_S = 120
CSRF_EXEMPT = frozenset({"embed.salesforce", "embed.hubspot", "embed.zoho_session"})

_LINK_SALT = "copilot.embed.link"
_RECORD_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_LABELS = {"salesforce": "Salesforce", "hubspot": "HubSpot", "zoho": "Zoho CRM"}


def _json_errors(view: F) -> F:
    """Answer a CRM's server-side call with the JSON error shape, whatever it accepts."""

    @functools.wraps(view)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return view(*args, **kwargs)
        except CopilotError as exc:
            log.info(
                "%s %s -> %s %s", request.method, request.path, exc.status, exc.code
            )
            return jsonify(exc.to_dict()), exc.status

    return cast(F, wrapper)


def _require_connector(crm: str) -> None:
    active = services().settings.connector
    if active != crm:
        raise ConfigError(
            f"This copilot is connected to the {active!r} CRM, so it cannot be opened "
            f"from {_LABELS[crm]}. Set COPILOT_CONNECTOR={crm} and restart."
        )


def _local_user(email: str, crm: str) -> User:
    """The active local account of the CRM user with *email*, or a 403 saying what to do."""
    address = (email or "").strip().lower()
    if "@" not in address:
        raise PermissionDeniedError(
            f"{_LABELS[crm]} did not say who you are (no email address came with the "
            "request). Open the copilot from a record in the CRM again."
        )
    with database().session() as s:
        user = s.scalar(select(User).where(func.lower(User.email) == address))
    if user is None:
        raise PermissionDeniedError(
            f"You are signed in to {_LABELS[crm]} as {address}, but no Collection "
            "Copilot account has that email. Ask an administrator to run "
            f"`copilot users add {address} --role agent`, then open the copilot again."
        )
    if not user.active:
        raise PermissionDeniedError(
            f"You are signed in to {_LABELS[crm]} as {address}, but the Collection "
            "Copilot account with that email is disabled. Ask an administrator to "
            "re-enable it, then open the copilot again."
        )
    return user


def _landing(record_id: str | None) -> str:
    if record_id and _RECORD_ID.match(record_id):
        return url_for("sidebar.debtor", debtor_id=record_id)
    return url_for("sidebar.queue")


def _sign_in(user: User, crm: str, record_id: str | None) -> ResponseReturnValue:
    with database().session() as s:
        audit.append(
            s,
            actor=user.email,
            action="auth.embed_login",
            subject=f"user:{user.id}",
            data={"crm": crm},
        )
    login_user(user)
    log.info("signed in from %s: user %s", crm, user.id)
    return redirect(_landing(record_id), code=303)


def _spend_once(kind: str, nonce: str, actor: str) -> None:
    """Record *nonce* as used, or refuse it if it was used before (any worker)."""
    subject = f"{kind}:{nonce}"
    with database().session() as s:
        audit.append(s, actor=actor, action="auth.embed_once", subject=subject)
        uses = s.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == "auth.embed_once", AuditEntry.subject == subject
            )
        )
        if int(uses or 0) > 1:
            raise PermissionDeniedError(
                "This sign-in link was already used; each link works once. Open the "
                "copilot from the CRM record again to get a new one."
            )


def _external(endpoint: str, **values: Any) -> str:
    base = services().settings.public_base_url
    if base:
        return base.rstrip("/") + url_for(endpoint, **values)
    return url_for(endpoint, _external=True, **values)


# --- Salesforce Canvas --------------------------------------------------------------


@bp.post("/salesforce")
def salesforce() -> ResponseReturnValue:
    """Canvas app URL: verify the signed request, sign the user in, open the record."""
    _require_connector("salesforce")
    settings = services().settings
    consumer_secret = secret(
        settings.salesforce_client_secret_env, "Verifying Salesforce Canvas requests"
    )
    payload = verify_canvas_signed_request(
        request.form.get("signed_request", ""), consumer_secret
    )

    user_info = payload["context"].get("user") or {}
    user = _local_user(str(user_info.get("email") or ""), "salesforce")
    return _sign_in(user, "salesforce", canvas_record_id(payload))


# --- HubSpot app card ---------------------------------------------------------------


def issue_link(user_id: int, record_id: str | None, *, now: float | None = None) -> str:
    """A signed one-time sign-in token for *user_id*, valid for LINK_TTL_S seconds."""
    issued = int(time.time() if now is None else now)
    body = {
        "u": user_id,
        "r": record_id,
        "e": issued + LINK_TTL_S,
        "n": secrets.token_urlsafe(16),
    }
    return str(_serializer().dumps(body))


def _serializer() -> URLSafeSerializer:
    key = current_app.secret_key
    if not key:
        raise ConfigError("The web app has no SECRET_KEY, so it cannot sign links.")
    return URLSafeSerializer(key, salt=_LINK_SALT)


def _signed_uri() -> str:
    """The URI as the client sent it, which is what HubSpot signed."""
    environ = request.environ
    # Servers differ on whether RAW_URI/REQUEST_URI carry the query; QUERY_STRING is raw.
    raw_path = str(environ.get("RAW_URI") or environ.get("REQUEST_URI") or "")
    path = raw_path.partition("?")[0] or request.script_root + request.path
    query = str(environ.get("QUERY_STRING", ""))
    base = services().settings.public_base_url
    if base:
        return public_request_uri(base, path, query)
    return request.host_url.rstrip("/") + path + (f"?{query}" if query else "")


@bp.route("/hubspot", methods=["GET", "POST"])
@_json_errors
def hubspot() -> ResponseReturnValue:
    """The card's signed ``hubspot.fetch``: answer with a one-time sidebar link."""
    _require_connector("hubspot")
    settings = services().settings
    verify_hubspot_signature_v3(
        method=request.method,
        uri=_signed_uri(),
        body=request.get_data(cache=True),
        timestamp=request.headers.get("X-HubSpot-Request-Timestamp", ""),
        signature=request.headers.get("X-HubSpot-Signature-v3", ""),
        client_secret=secret(
            settings.hubspot_client_secret_env, "Verifying HubSpot card requests"
        ),
    )

    user = _local_user(request.args.get("userEmail", ""), "hubspot")
    record_id = request.args.get("associatedObjectId") or None
    token = issue_link(user.id, record_id)
    return jsonify(
        {"url": _external("embed.link", token=token), "expires_in": LINK_TTL_S}
    )


@bp.get("/link/<token>")
def link(token: str) -> ResponseReturnValue:
    """Spend a one-time link from the HubSpot card: sign in, open the record."""
    try:
        body = _serializer().loads(token)
    except BadSignature as exc:
        raise PermissionDeniedError(
            "This sign-in link is not one the copilot issued (it was changed or cut "
            "short). Open the copilot from the HubSpot record again."
        ) from exc
    if not isinstance(body, dict) or int(body.get("e", 0)) <= time.time():
        raise PermissionDeniedError(
            f"This sign-in link has expired (links last {LINK_TTL_S} seconds). Open the "
            "copilot from the HubSpot record again."
        )

    with database().session() as s:
        user = s.get(User, int(body["u"]))
    if user is None or not user.active:
        raise PermissionDeniedError(
            "The account this link was made for is disabled. Ask an administrator to "
            "re-enable it."
        )
    _spend_once("hubspot-link", str(body["n"]), user.email)
    return _sign_in(user, "hubspot", body.get("r"))


# --- Zoho CRM widget ----------------------------------------------------------------


def _widget_key() -> str:
    return secret(services().settings.zoho_widget_key_env, "Signing Zoho widget tokens")


@bp.post("/zoho/session")
@_json_errors
def zoho_session() -> ResponseReturnValue:
    """The widget's Connection call: exchange the Zoho OAuth token for a widget token."""
    _require_connector("zoho")
    scheme, _, oauth_token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "zoho-oauthtoken":
        oauth_token = ""
    body = request.get_json(silent=True) if request.is_json else None
    values = body if isinstance(body, dict) else request.values
    record_id = str(values.get("record_id") or "") or None

    session = widget_session(
        oauth_token,
        record_id,
        connector=cast(Any, services().connector),
        key=_widget_key(),
    )
    _local_user(session["user_email"], "zoho")
    url = _external("embed.zoho", token=session["token"])
    return jsonify(
        {
            "token": session["token"],
            "expires_in": session["expires_in"],
            "record_id": record_id,
            "url": url,
        }
    )


@bp.get("/zoho")
def zoho() -> ResponseReturnValue:
    """The widget's sidebar frame: verify its token once, sign in, open the record."""
    _require_connector("zoho")
    identity = verify_widget_token(request.args.get("token", ""), _widget_key())

    user = _local_user(identity["user_email"], "zoho")
    _spend_once("zoho-token", identity["nonce"], user.email)
    return _sign_in(user, "zoho", identity["record_id"] or request.args.get("record"))
