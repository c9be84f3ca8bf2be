"""``copilot check``: check proposed contacts given as JSON or JSON Lines."""

from __future__ import annotations

import json
from typing import IO, Any

import click
from pydantic import ValidationError

from copilot.compliance.engine import get_engine
from copilot.compliance.models import Proposal
from copilot.config import get_settings

__all__ = ["check", "parse_inputs"]

EXIT_ALLOWED, EXIT_BLOCKED, EXIT_BAD_INPUT = 0, 1, 2


def parse_inputs(text: str) -> list[tuple[int, dict[str, Any] | str]]:
    """Split input into (line number, object or error): one JSON object, or JSON Lines."""
    stripped = text.strip()
    if not stripped:
        return [(1, "the input is empty; give one JSON object or JSON Lines")]
    try:
        whole = json.loads(stripped)
    except json.JSONDecodeError:
        whole = None
    if isinstance(whole, dict):
        return [(1, whole)]

    items: list[tuple[int, dict[str, Any] | str]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            items.append(
                (
                    number,
                    f"line {number}: not valid JSON ({exc.msg} at column {exc.colno})",
                )
            )
            continue
        if not isinstance(value, dict):
            items.append(
                (
                    number,
                    f"line {number}: expected a JSON object, got "
                    f"{type(value).__name__}",
                )
            )
            continue
        items.append((number, value))
    return items


def _validation_message(number: int, exc: ValidationError) -> str:
    parts = []
    for error in exc.errors()[:5]:
        where = ".".join(str(p) for p in error["loc"]) or "input"
        parts.append(f"{where}: {error['msg']}")
    more = len(exc.errors()) - 5
    suffix = f" (and {more} more)" if more > 0 else ""
    return f"line {number}: " + "; ".join(parts) + suffix


def _human(index: int, result: dict[str, Any]) -> str:
    if "error" in result:
        return f"#{index}  BAD INPUT  {result['error']}"
    status = "allowed" if result["allowed"] else "BLOCKED"
    lines = [
        f"#{index}  {status}  next allowed: {result['next_allowed_at'] or 'never'}"
    ]
    for v in result["violations"]:
        span = f" @{v['span'][0]}-{v['span'][1]}" if v["span"] else ""
        lines.append(f"    {v['severity']:5} {v['rule']}{span}: {v['message']}")
        lines.append(f"          {v['citation']}  [{v['pack']}: {v['setting']}]")
    return "\n".join(lines)


@click.command("check")
@click.argument("source", type=click.File("r", encoding="utf-8"), default="-")
@click.option(
    "--json", "as_json", is_flag=True, help="Print one JSON result per input line."
)
@click.option(
    "--lang",
    "ui_language",
    type=click.Choice(["en", "es"]),
    default=None,
    help="Language of the messages (default: COPILOT_UI_LANGUAGE).",
)
def check(source: IO[str], as_json: bool, ui_language: str | None) -> None:
    """Check proposed contacts (FILE or - for stdin: one JSON object or JSON Lines).

    Prints one result per input, in order. Exit code 0 when all are allowed, 1 when any
    is blocked, 2 when any input is malformed (its result is {"error": ...}).
    """
    settings = get_settings()
    engine = get_engine(settings)
    ui = ui_language or settings.ui_language
    bad = blocked = False

    for index, (number, item) in enumerate(parse_inputs(source.read()), start=1):
        result: dict[str, Any]
        if isinstance(item, str):
            result, bad = {"error": item}, True
        else:
            try:
                proposal = Proposal.model_validate(item)
            except ValidationError as exc:
                result, bad = {"error": _validation_message(number, exc)}, True
            else:
                outcome = engine.check(proposal, ui_language=ui)
                blocked = blocked or not outcome.allowed
                result = outcome.to_json_dict(provenance=not as_json)
        if as_json:
            click.echo(json.dumps(result, ensure_ascii=False))
        else:
            click.echo(_human(index, result))

    raise click.exceptions.Exit(
        EXIT_BAD_INPUT if bad else EXIT_BLOCKED if blocked else EXIT_ALLOWED
    )
