"""Signing in: local accounts and sessions, API tokens, CSRF, roles, CRM embedding.

Every unsafe request (POST, PUT, PATCH, DELETE) made with a session cookie must carry the
session's CSRF token, as a ``csrf_token`` form field or an ``X-CSRF-Token`` header.
Requests authenticated with ``Authorization: Bearer <API token>`` carry no cookie and so
need none. Failed sign-ins are counted in the audit log, so the limit holds across
worker processes.
"""

from __future__ import annotations

import functools
import hmac
import logging
import secrets
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar, cast

from flask import (
    Blueprint,
    Flask,
    abort,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from copilot.errors import CopilotError, PermissionDeniedError
from copilot.web.services import services
from copilot.workflow import audit
from copilot.workflow import users as accounts
from copilot.workflow.db import Database
from copilot.workflow.models import AuditEntry, User, utcnow

__all__ = ["DEMO_USERS", "bp", "current_user", "database", "init_auth", "local_target",
           "login_user", "requires"]

log = logging.getLogger(__name__)

bp = Blueprint("auth", __name__)

F = TypeVar("F", bound=Callable[..., Any])

DEMO_USERS = (
    ("agent@demo.example", "Alex Agent", "agent", "demo-agent-2026"),
    ("lead@demo.example", "Lee Lead", "lead", "demo-lead-2026"),
    ("admin@demo.example", "Ada Admin", "admin", "demo-admin-2026"),
)
_UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
_WINDOW = timedelta(minutes=5)


class TooManyAttemptsError(CopilotError):
    status = 429
    code = "too_many_attempts"


def database() -> Database:
    """The workflow database of the current app."""
    svc = services()
    return cast(Database, svc.get("db", lambda: Database.from_settings(svc.settings)))


def current_user() -> User | None:
    """The signed-in user of this request, if any."""
    return cast(User | None, g.get("user"))


def csrf_token() -> str:
    """This session's CSRF token (created on first use)."""
    token = session.get("csrf")
    if not token:
        token = secrets.token_urlsafe(32)
        session["csrf"] = token
    return str(token)


def login_user(user: User) -> None:
    """Start a fresh session for *user* (a new CSRF token, no fixation)."""
    session.clear()
    session.permanent = True
    session["uid"] = user.id
    session["lang"] = user.ui_language
    csrf_token()


def local_target(target: str | None, fallback: str) -> str:
    """*target* when it is a path on this site, else *fallback* (no open redirects)."""
    value = target or ""
    # Browsers drop tabs and newlines and read a backslash as a slash, so "/\t/x.com"
    # and "/\\x.com" would leave the site just like "//x.com".
    if (
        not value.startswith("/")
        or value.startswith("//")
        or "\\" in value
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value)
    ):
        return fallback
    return value


def _load_user() -> None:
    g.user = None
    g.via_token = False
    header = request.headers.get("Authorization", "")
    if header.startswith("Bearer "):
        with database().session() as s:
            g.user = accounts.find_by_token(s, header.removeprefix("Bearer ").strip())
        if g.user is None:
            raise PermissionDeniedError(
                "The API token is unknown or disabled. Issue a new one with "
                "`copilot users token EMAIL`."
            )
        g.via_token = True
        return
    uid = session.get("uid")
    if uid is not None:
        with database().session() as s:
            user = s.get(User, uid)
        if user is not None and user.active:
            g.user = user
        else:
            # A disabled account is signed out for good, not swapped for the demo agent.
            session.clear()
            session["signed_out"] = True


def _check_csrf() -> None:
    if request.method not in _UNSAFE or g.get("via_token"):
        return
    from copilot.web.embed import CSRF_EXEMPT  # embed imports this module

    if request.endpoint in CSRF_EXEMPT:
        return  # signed by the CRM instead
    sent = request.form.get("csrf_token") or request.headers.get("X-CSRF-Token", "")
    expected = session.get("csrf", "")
    if not expected or not hmac.compare_digest(str(sent), str(expected)):
        abort(400, description="The form expired or did not come from this site "
                               "(missing CSRF token). Reload the page and try again.")


def requires(*roles: str) -> Callable[[F], F]:
    """Let only signed-in users with one of *roles* (any role when empty) through."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None and not request.path.startswith("/api/"):
                user = _demo_auto_sign_in()
            if user is None:
                if request.path.startswith("/api/"):
                    abort(401, description="Sign in or send an API token "
                                           "(Authorization: Bearer ...).")
                return redirect(url_for("auth.login", next=request.full_path))
            if roles and user.role not in roles:
                raise PermissionDeniedError(
                    f"This page is for the {' or '.join(roles)} role; you are signed in "
                    f"as {user.role}."
                )
            return view(*args, **kwargs)

        return cast(F, wrapper)

    return decorate


def _login_subject(email: str) -> str:
    """The audit subject of sign-ins to *email*, cut to fit the column."""
    return f"login:{email[:120]}"


def _failed_recently(email: str) -> int:
    with database().session() as s:
        count = s.scalar(
            select(func.count(AuditEntry.id)).where(
                AuditEntry.action == "auth.login_failed",
                AuditEntry.subject == _login_subject(email),
                AuditEntry.at >= utcnow() - _WINDOW,
            )
        )
    return int(count or 0)


@bp.route("/login", methods=["GET", "POST"])
def login() -> ResponseReturnValue:
    """The sign-in form."""
    error = None
    email = ""
    if request.method == "POST":
        email = request.form.get("email", "").strip().lower()
        password = request.form.get("password", "")
        limit = services().settings.login_attempts
        if _failed_recently(email) >= limit:
            raise TooManyAttemptsError(
                "Too many failed sign-ins for this account; wait five minutes and try "
                "again, or ask an admin to check the account."
            )
        with database().session() as s:
            user = accounts.authenticate(s, email, password)
            if user is None:
                # Whoever typed this is unknown; the typed address is only the target.
                audit.append(s, actor="anonymous", action="auth.login_failed",
                             subject=_login_subject(email),
                             data={"ip": request.remote_addr})
            else:
                audit.append(s, actor=user.email, action="auth.login",
                             subject=f"user:{user.id}")
        if user is not None:
            login_user(user)
            return redirect(local_target(request.args.get("next"),
                                         url_for("sidebar.queue")))
        error = "invalid"
    return render_template("login.html", error=error, email=email,
                           demo_users=_demo_hint()), (401 if error else 200)


def _demo_hint() -> list[tuple[str, str, str, str]]:
    settings = services().settings
    return list(DEMO_USERS) if settings.connector == "demo" and settings.demo_users else []


@bp.post("/logout")
def logout() -> ResponseReturnValue:
    """Sign out (and stop the demo's automatic sign-in for this browser)."""
    session.clear()
    session["signed_out"] = True
    return redirect(url_for("auth.login"))


def _demo_auto_sign_in() -> User | None:
    """On the demo CRM only, a newcomer's first visit signs in as the demo agent."""
    settings = services().settings
    if not (settings.connector == "demo" and settings.demo_users
            and settings.demo_auto_sign_in) or session.get("signed_out"):
        return None
    with database().session() as s:
        agent = s.scalar(select(User).where(User.email == DEMO_USERS[0][0]))
        if agent is None or not agent.active:
            return None
        audit.append(s, actor=agent.email, action="auth.demo_auto_sign_in",
                     subject=f"user:{agent.id}")
    login_user(agent)
    g.user = agent
    return agent


def ensure_demo_users(app: Flask) -> None:
    """Create the demo accounts when the demo CRM is active and nobody exists yet."""
    svc = services(app)
    if svc.settings.connector != "demo" or not svc.settings.demo_users:
        return
    with app.app_context():
        with database().session() as s:
            if accounts.list_users(s):
                return
            for email, name, role, password in DEMO_USERS:
                accounts.add_user(s, email=email, name=name, role=role, password=password,
                                  actor="startup")
        log.info("created %d demo accounts", len(DEMO_USERS))


def init_auth(app: Flask) -> None:
    """Wire sessions, CSRF and the current user into *app*."""
    settings = services(app).settings
    app.config.update(
        PERMANENT_SESSION_LIFETIME=timedelta(hours=10),
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_SAMESITE="None" if settings.secure_cookies else "Lax",
        SESSION_COOKIE_NAME="copilot_session",
    )
    app.before_request(_load_user)
    app.before_request(_check_csrf)
    app.jinja_env.globals["csrf_token"] = csrf_token
    app.jinja_env.globals["current_user"] = current_user
    app.register_blueprint(bp)
