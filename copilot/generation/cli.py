"""``copilot draft``, ``copilot next-steps`` and ``copilot templates``."""

from __future__ import annotations

import json
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from copilot.config import Settings, get_settings
from copilot.domain import Draft
from copilot.generation.library import CHANNELS, GOALS, TemplateLibrary

__all__ = ["build_drafter", "draft", "next_steps", "templates"]


def _knowledge(settings: Settings) -> Any:
    from copilot.knowledge import KnowledgeBase

    kb = KnowledgeBase.from_settings(settings)
    kb.ensure_defaults()
    return kb


def _journal(settings: Settings) -> Any:
    """Persist each draft as JSON in the data directory before and after the model."""
    folder = settings.ensure_data_dir() / "drafts"
    folder.mkdir(exist_ok=True)

    def save(draft: Draft) -> None:
        path = folder / f"{draft.id}.json"
        path.write_text(draft.model_dump_json(indent=2), encoding="utf-8")

    return save


def build_drafter(settings: Settings, *, persist: Any = None) -> Any:
    """A Drafter wired to the configured connector, knowledge base and model."""
    from connectors.base import get_connector
    from copilot.generation.drafting import Drafter
    from copilot.providers import check_provider, get_chat_model

    check_provider(settings)
    return Drafter(
        settings, get_connector(settings), knowledge=_knowledge(settings),
        model=get_chat_model(settings), persist=persist,
    )


@click.command()
@click.option("--debtor", "debtor_id", required=True, help="Debtor id in the CRM.")
@click.option("--channel", type=click.Choice(CHANNELS), required=True)
@click.option("--language", type=click.Choice(["en", "es"]), required=True)
@click.option("--tone", type=click.Choice(["firm", "neutral", "warm"]), default="neutral",
              show_default=True)
@click.option("--goal", type=click.Choice(GOALS), default="reminder", show_default=True)
@click.option("--send-at", default=None,
              help="ISO-8601 moment the message would go out (default: now).")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
def draft(debtor_id: str, channel: str, language: str, tone: str, goal: str,
          send_at: str | None, as_json: bool) -> None:
    """Draft a message for a debtor from the approved templates, personalised by the
    configured model when there is one, and checked against the rule packs."""
    from copilot.generation.drafting import DraftRequest

    settings = get_settings()
    moment = _moment(send_at)
    drafter = build_drafter(settings, persist=_journal(settings))
    result = drafter.draft(DraftRequest(debtor_id=debtor_id, channel=channel,
                                        language=language, tone=tone, goal=goal,
                                        send_at=moment))
    if as_json:
        click.echo(json.dumps(result.to_json_dict(), ensure_ascii=False))
        return
    body = result.draft
    if body.subject:
        click.echo(f"Subject: {body.subject}")
    click.echo(body.text)
    click.echo("")
    click.echo(f"engine: {body.engine} (template {body.template_id})")
    if body.fallback_reason:
        click.echo(f"fallback: {body.fallback_reason}")
    if result.allowed_now:
        click.echo("checks: allowed")
    else:
        when = result.next_allowed_at.isoformat() if result.next_allowed_at else "never"
        click.echo(f"checks: BLOCKED now; next allowed {when}")
    for violation in body.violations:
        click.echo(f"  [{violation.severity}] {violation.rule}: {violation.message}")
    for citation in body.citations:
        click.echo(f"  cites {citation.doc} › {citation.heading} (v{citation.version})")


def _moment(raw: str | None) -> datetime | None:
    if raw is None:
        return None
    from copilot.errors import InputError

    try:
        value = datetime.fromisoformat(raw)
    except ValueError as exc:
        raise InputError(f"--send-at {raw!r} is not an ISO-8601 moment.") from exc
    if value.tzinfo is None:
        raise InputError("--send-at needs a UTC offset, e.g. 2027-03-16T09:30:00-05:00.")
    return value


@click.command("next-steps")
@click.option("--debtor", "debtor_id", required=True, help="Debtor id in the CRM.")
@click.option("--at", "at", default=None, help="ISO-8601 moment to plan from (default: now).")
@click.option("--lang", "language", type=click.Choice(["en", "es"]), default="en",
              show_default=True, help="Language of the reasons.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def next_steps(debtor_id: str, at: str | None, language: str, as_json: bool) -> None:
    """Rank the next actions for a debtor, each with when it is allowed and why."""
    from connectors.base import get_connector
    from copilot.compliance import get_engine
    from copilot.generation.next_steps import rank_next_steps

    settings = get_settings()
    context = get_connector(settings).fetch_context(debtor_id)
    steps = rank_next_steps(context, get_engine(settings), now=_moment(at),
                            knowledge=_knowledge(settings), language=language)
    if as_json:
        click.echo(json.dumps({"debtor_id": debtor_id,
                               "steps": [s.to_json_dict() for s in steps]},
                              ensure_ascii=False))
        return
    for number, step in enumerate(steps, start=1):
        when = "now" if step.allowed_now else (
            step.allowed_at.isoformat() if step.allowed_at else "not allowed")
        click.echo(f"{number}. {step.action} (score {step.score:.0f}; {when})")
        for reason in step.reasons:
            click.echo(f"     - {reason}")
        if step.blocked_by:
            click.echo(f"     blocked by: {', '.join(step.blocked_by)}")
        if step.citation:
            click.echo(f"     policy: {step.citation.doc} › {step.citation.heading}")


@click.group()
def templates() -> None:
    """List, add, retire and restore approved templates."""


@templates.command("list")
@click.option("--all", "include_retired", is_flag=True, help="Include retired ones.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def list_templates(include_retired: bool, as_json: bool) -> None:
    """List templates by id."""
    library = TemplateLibrary(get_settings().data_dir)
    retired = library.retired
    rows = [{"id": t.id, "channel": t.channel, "goal": t.goal, "language": t.language,
             "tone": t.tone, "source": t.source, "retired": t.id in retired}
            for t in library.all(include_retired=include_retired)]
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        mark = " (retired)" if row["retired"] else ""
        click.echo(f"{row['id']:<32} {row['tone']:<6} {row['source']}{mark}")


@templates.command("add")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def add_template(path: Path) -> None:
    """Validate a YAML template file and add its templates."""
    added = TemplateLibrary(get_settings().ensure_data_dir()).add(path)
    click.echo(f"Added {len(added)} template(s): {', '.join(t.id for t in added)}")


@templates.command("retire")
@click.argument("template_id")
def retire_template(template_id: str) -> None:
    """Stop using a template."""
    TemplateLibrary(get_settings().ensure_data_dir()).retire(template_id)
    click.echo(f"Retired {template_id}.")


@templates.command("restore")
@click.argument("template_id")
def restore_template(template_id: str) -> None:
    """Use a retired template again."""
    TemplateLibrary(get_settings().ensure_data_dir()).restore(template_id)
    click.echo(f"Restored {template_id}.")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(draft())
