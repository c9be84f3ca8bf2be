"""``copilot users`` and ``copilot audit``."""

from __future__ import annotations

import json
import sys

import click

from copilot.config import get_settings
from copilot.workflow import audit as audit_log
from copilot.workflow import users as accounts
from copilot.workflow.db import Database
from copilot.workflow.models import ROLES

__all__ = ["audit", "users"]


def _db() -> Database:
    return Database.from_settings(get_settings())


@click.group()
def users() -> None:
    """Add, list and disable user accounts (roles: agent, lead, admin)."""


@users.command("add")
@click.argument("email")
@click.option("--name", default="", help="Display name.")
@click.option("--role", type=click.Choice(ROLES), required=True, help="The user's role.")
@click.option(
    "--password", prompt=True, hide_input=True, confirmation_prompt=True,
    envvar="COPILOT_NEW_USER_PASSWORD", help="At least 10 characters (or set "
    "COPILOT_NEW_USER_PASSWORD).",
)
@click.option("--language", type=click.Choice(["en", "es"]), default="en",
              help="The user's interface language.")
def add(email: str, name: str, role: str, password: str, language: str) -> None:
    """Create an account."""
    with _db().session() as session:
        user = accounts.add_user(session, email=email, name=name, role=role,
                                 password=password, actor="cli", ui_language=language)
        click.echo(f"Added {user.email} as {user.role}.")


@users.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_(as_json: bool) -> None:
    """List accounts."""
    with _db().session() as session:
        rows = [
            {"email": u.email, "name": u.name, "role": u.role, "active": u.active}
            for u in accounts.list_users(session)
        ]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        state = "active" if row["active"] else "disabled"
        click.echo(f"{row['email']:<32} {row['role']:<6} {state:<9} {row['name']}")


@users.command("disable")
@click.argument("email")
def disable(email: str) -> None:
    """Disable an account (it can no longer sign in or use its token)."""
    with _db().session() as session:
        accounts.disable_user(session, email, actor="cli")
    click.echo(f"Disabled {email}.")


@users.command("token")
@click.argument("email")
def token(email: str) -> None:
    """Issue a new API token for an account (printed once; replaces the old one)."""
    with _db().session() as session:
        value = accounts.issue_api_token(session, email, actor="cli")
    click.echo(value)


@click.group()
def audit() -> None:
    """Export and verify the hash-chained audit log."""


@audit.command("verify")
def verify() -> None:
    """Recompute the chain; exit 1 at the first broken entry."""
    with _db().session() as session:
        report = audit_log.verify(session)
    if report.ok:
        click.echo(f"Audit chain intact: {report.entries} entries verified.")
        return
    click.echo(
        f"Audit chain BROKEN at entry {report.first_bad_id}: {report.problem} "
        f"({report.entries} entries read).", err=True,
    )
    sys.exit(1)


@audit.command("export")
@click.option("--output", "-o", type=click.Path(dir_okay=False), default="-",
              help="CSV file to write (default: standard output).")
def export(output: str) -> None:
    """Export the audit log as CSV."""
    with _db().session() as session:
        text = audit_log.export_csv(session)
    if output == "-":
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8", newline="") as handle:
            handle.write(text)
        click.echo(f"Wrote {output}.")
