"""The admin pages: policies, rule packs, templates, users, connector, audit log.

Every change an admin makes here is appended to the audit log (user changes are logged
by the workflow's user functions themselves).
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from pathlib import Path
from typing import Any

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    url_for,
)
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from werkzeug.datastructures import FileStorage
from werkzeug.utils import secure_filename

from copilot.errors import ConfigError, InputError
from copilot.web.agent import knowledge_or_none
from copilot.web.auth import current_user, database, requires
from copilot.web.i18n import translate
from copilot.web.services import services
from copilot.workflow import audit
from copilot.workflow import users as accounts
from copilot.workflow.models import ROLES, AuditEntry

__all__ = ["bp"]

log = logging.getLogger(__name__)

bp = Blueprint("admin", __name__, url_prefix="/admin")

AUDIT_PAGE = 200


def _actor() -> str:
    user = current_user()
    assert user is not None
    return user.email


def _record(action: str, subject: str, data: dict[str, Any] | None = None) -> None:
    with database().session() as session:
        audit.append(session, actor=_actor(), action=action, subject=subject, data=data)


def _upload(field: str, suffixes: tuple[str, ...]) -> FileStorage:
    upload = request.files.get(field)
    if upload is None or not upload.filename:
        raise InputError(translate("admin.no_file"))
    name = secure_filename(upload.filename)
    if not name.lower().endswith(suffixes):
        raise InputError(translate("admin.bad_file", name=name,
                                   suffixes=", ".join(suffixes)))
    upload.filename = name
    return upload


def _library() -> Any:
    from copilot.generation.library import TemplateLibrary

    return TemplateLibrary(services().settings.data_dir)


@bp.get("")
@requires("admin")
def index() -> ResponseReturnValue:
    """Links to each admin page, with the connector's health at a glance."""
    return render_template("admin.html", status=services().connector.check())


# --- policy documents -----------------------------------------------------------------


@bp.get("/policies")
@requires("admin")
def policies() -> ResponseReturnValue:
    """Policy documents with their versions."""
    knowledge = knowledge_or_none()
    documents = knowledge.list_documents() if knowledge is not None else []
    return render_template("admin_policies.html", documents=documents,
                           available=knowledge is not None)


@bp.post("/policies")
@requires("admin")
def upload_policy() -> ResponseReturnValue:
    """Ingest an uploaded policy document (a new version when it changed)."""
    from copilot.knowledge.ingest import SUPPORTED_SUFFIXES

    upload = _upload("document", tuple(SUPPORTED_SUFFIXES))
    folder = services().settings.ensure_data_dir() / "uploads" / "policies"
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / str(upload.filename)
    upload.save(path)
    knowledge = services().knowledge
    report = knowledge.ingest([path])
    for outcome in report.files:
        _record("policy.ingested", f"policy:{outcome.doc}",
                {"status": outcome.status, "version": outcome.version,
                 "passages": outcome.passages})
        if outcome.status in ("skipped", "failed"):
            flash(translate("admin.policy_skipped", doc=outcome.doc,
                            reason=outcome.reason), "block")
        else:
            flash(translate("admin.policy_ingested", doc=outcome.doc,
                            status=outcome.status, version=outcome.version or "-",
                            passages=outcome.passages), "ok")
    return redirect(url_for("admin.policies"), 303)


@bp.post("/policies/<doc>/restore")
@requires("admin")
def restore_policy(doc: str) -> ResponseReturnValue:
    """Make an earlier version of a document active again."""
    raw = request.form.get("version", "")
    version = int(raw) if raw.isdigit() else None
    restored = services().knowledge.restore(doc, version)
    _record("policy.restored", f"policy:{doc}", {"version": restored})
    flash(translate("admin.policy_restored", doc=doc, version=restored), "ok")
    return redirect(url_for("admin.policies"), 303)


@bp.get("/policies/<doc>/diff")
@requires("admin")
def policy_diff(doc: str) -> ResponseReturnValue:
    """What changed between two versions of a document."""
    try:
        v1, v2 = int(request.args["v1"]), int(request.args["v2"])
    except (KeyError, ValueError) as exc:
        raise InputError(translate("admin.diff_versions")) from exc
    changes = services().knowledge.diff(doc, v1, v2)
    return render_template("admin_policy_diff.html", doc=doc, v1=v1, v2=v2,
                           changes=changes)


# --- rule packs -----------------------------------------------------------------------


@bp.get("/rules")
@requires("admin")
def rules() -> ResponseReturnValue:
    """The active rule packs, their rules and settings, and load errors."""
    engine = services().compliance
    jurisdiction = request.args.get("jurisdiction", "US").upper()
    if jurisdiction not in ("US", "CO"):
        jurisdiction = "US"
    return render_template("admin_rules.html", packs=engine.packs, errors=engine.errors,
                           rules=engine.rules(jurisdiction), jurisdiction=jurisdiction,
                           packs_dir=services().settings.rule_packs_dir)


def _check_pack(upload: FileStorage, folder: Path) -> tuple[Path, list[str]]:
    from copilot.compliance import validate_pack

    path = folder / str(upload.filename)
    upload.save(path)
    return path, validate_pack(path, services().settings)


@bp.post("/rules/validate")
@requires("admin")
def validate_rules() -> ResponseReturnValue:
    """Validate an uploaded pack; activate it too when asked and it is valid."""
    upload = _upload("pack", (".yaml", ".yml"))
    activate = request.form.get("activate") == "1"
    target_dir = services().settings.rule_packs_dir
    with tempfile.TemporaryDirectory() as tmp:
        path, problems = _check_pack(upload, Path(tmp))
        _record("rule_pack.validated", f"rule_pack:{upload.filename}",
                {"problems": len(problems)})
        if problems or not activate:
            return render_template("admin_pack_result.html", name=upload.filename,
                                   problems=problems, activated=False), (
                422 if problems else 200)
        if target_dir is None:
            raise ConfigError(translate("admin.no_packs_dir"))
        target_dir.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target_dir / path.name)
    errors = services().compliance.reload()
    _record("rule_pack.activated", f"rule_pack:{upload.filename}",
            {"reload_errors": len(errors)})
    return render_template("admin_pack_result.html", name=upload.filename,
                           problems=errors, activated=not errors)


@bp.post("/rules/reload")
@requires("admin")
def reload_rules() -> ResponseReturnValue:
    """Read the rule pack files again."""
    errors = services().compliance.reload()
    _record("rule_pack.reloaded", "rule_packs", {"errors": len(errors)})
    flash(translate("admin.rules_reloaded", errors=len(errors)),
          "warn" if errors else "ok")
    return redirect(url_for("admin.rules"), 303)


# --- templates ------------------------------------------------------------------------


@bp.get("/templates")
@requires("admin")
def templates() -> ResponseReturnValue:
    """Every approved template, retired ones marked."""
    library = _library()
    return render_template("admin_templates.html", templates=library.all(True),
                           retired=library.retired)


@bp.post("/templates")
@requires("admin")
def add_templates() -> ResponseReturnValue:
    """Install an uploaded YAML file of templates."""
    upload = _upload("templates", (".yaml", ".yml"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / str(upload.filename)
        upload.save(path)
        added = _library().add(path)
    _record("template.added", f"templates:{upload.filename}",
            {"ids": [t.id for t in added]})
    flash(translate("admin.templates_added", n=len(added)), "ok")
    return redirect(url_for("admin.templates"), 303)


@bp.post("/templates/<template_id>/<verb>")
@requires("admin")
def change_template(template_id: str, verb: str) -> ResponseReturnValue:
    """Retire a template, or restore a retired one."""
    library = _library()
    if verb == "retire":
        library.retire(template_id)
    elif verb == "restore":
        library.restore(template_id)
    else:
        raise InputError(translate("admin.bad_verb", verb=verb))
    _record(f"template.{verb}d", f"template:{template_id}")
    flash(translate(f"admin.template_{verb}d", id=template_id), "ok")
    return redirect(url_for("admin.templates") + f"#t-{template_id}", 303)


# --- users ----------------------------------------------------------------------------


@bp.get("/users")
@requires("admin")
def users() -> ResponseReturnValue:
    """Every account."""
    with database().session() as session:
        return render_template("admin_users.html", users=accounts.list_users(session),
                               roles=ROLES, token=None)


@bp.post("/users")
@requires("admin")
def add_user() -> ResponseReturnValue:
    """Create an account."""
    form = request.form
    with database().session() as session:
        user = accounts.add_user(
            session, email=form.get("email", ""), name=form.get("name", ""),
            role=form.get("role", ""), password=form.get("password", ""),
            actor=_actor(), ui_language=form.get("ui_language", "en"),
        )
        email = user.email
    flash(translate("admin.user_added", email=email), "ok")
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<int:user_id>/disable")
@requires("admin")
def disable_user(user_id: int) -> ResponseReturnValue:
    """Disable an account (it can no longer sign in or use its token)."""
    with database().session() as session:
        email = _email_of(session, user_id)
        if email == _actor():
            raise InputError(translate("admin.not_yourself"))
        accounts.disable_user(session, email, actor=_actor())
    flash(translate("admin.user_disabled", email=email), "ok")
    return redirect(url_for("admin.users"), 303)


@bp.post("/users/<int:user_id>/token")
@requires("admin")
def issue_token(user_id: int) -> ResponseReturnValue:
    """Issue a new API token; it is shown once, on this page only."""
    with database().session() as session:
        email = _email_of(session, user_id)
        token = accounts.issue_api_token(session, email, actor=_actor())
        return render_template("admin_users.html", users=accounts.list_users(session),
                               roles=ROLES, token={"email": email, "value": token})


def _email_of(session: Any, user_id: int) -> str:
    from copilot.errors import NotFoundError
    from copilot.workflow.models import User

    user = session.get(User, user_id)
    if user is None:
        raise NotFoundError(translate("admin.no_user", id=user_id))
    return str(user.email)


# --- connector and audit --------------------------------------------------------------


@bp.get("/connector")
@requires("admin")
def connector() -> ResponseReturnValue:
    """The CRM connector's health."""
    return render_template("admin_connector.html", status=services().connector.check())


@bp.get("/audit")
@requires("admin")
def audit_log() -> ResponseReturnValue:
    """The newest audit entries; ?verify=1 checks the whole chain."""
    with database().session() as session:
        entries = list(session.scalars(
            select(AuditEntry).order_by(AuditEntry.id.desc()).limit(AUDIT_PAGE)))
        report = audit.verify(session) if request.args.get("verify") else None
        return render_template("admin_audit.html", entries=entries, report=report)


@bp.get("/audit.csv")
@requires("admin")
def audit_csv() -> ResponseReturnValue:
    """The whole audit log as a CSV download."""
    with database().session() as session:
        body = audit.export_csv(session)
    return Response(body, mimetype="text/csv", headers={
        "Content-Disposition": "attachment; filename=copilot-audit.csv"})
