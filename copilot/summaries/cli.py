"""``copilot summarize``: call transcripts in, one JSON line per call out."""

from __future__ import annotations

import json
import logging
import sys
from datetime import date, datetime
from pathlib import Path
from typing import Any

import click

from copilot.errors import CopilotError, InputError
from copilot.summaries.evaluate import evaluate
from copilot.summaries.summarize import summarize_call

__all__ = ["summarize"]

log = logging.getLogger(__name__)

_FIELDS = ("language", "call_date", "timezone", "transcript")


def _read_source(source: str) -> str:
    if source == "-":
        return sys.stdin.read()
    path = Path(source)
    if not path.is_file():
        raise InputError(
            f"no such file: {source}. Give a JSON Lines file, a text file or '-'."
        )
    return path.read_text(encoding="utf-8")


def _record(line: str) -> tuple[str, date, str, str]:
    """Validate one JSON Lines record; raises InputError naming the problem."""
    try:
        data = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"not valid JSON ({exc.msg} at column {exc.colno})") from exc
    if not isinstance(data, dict):
        raise InputError("each line must be a JSON object")
    missing = [name for name in _FIELDS if not isinstance(data.get(name), str)]
    if missing:
        raise InputError(f"missing or non-text field(s): {', '.join(missing)}")
    try:
        call_date = date.fromisoformat(data["call_date"])
    except ValueError as exc:
        raise InputError(f"call_date {data['call_date']!r} is not YYYY-MM-DD") from exc
    return data["language"], call_date, data["timezone"], data["transcript"]


def _redactor() -> Any:
    """A fresh redactor when the settings say text must be redacted for the model."""
    from copilot.config import get_settings
    from copilot.generation.redaction import Redactor

    return Redactor() if get_settings().redaction_enabled else None


def _model(use_model: bool | None) -> Any:
    from copilot.config import get_settings

    settings = get_settings()
    if use_model is False or (use_model is None and settings.llm_provider == "none"):
        return None
    from copilot.providers import get_chat_model

    return get_chat_model(settings)


def _print_eval(path: Path, as_json: bool) -> None:
    report = evaluate(path).to_dict()
    if as_json:
        click.echo(json.dumps(report, ensure_ascii=False))
        return
    promises = report["promises"]
    requests = report["requests"]
    violations = report["agent_violations"]
    keywords = report["summary_keywords"]
    click.echo(f"cases                  {report['cases']}")
    click.echo(
        f"promises               P {promises['precision']:.3f}  R {promises['recall']:.3f}  "
        f"F1 {promises['f1']:.3f}  exact sets {promises['exact_set_share']:.3f}"
    )
    click.echo(
        f"requests               P {requests['precision']:.3f}  R {requests['recall']:.3f}  "
        f"F1 {requests['f1']:.3f}"
    )
    click.echo(f"dispute accuracy       {report['dispute_accuracy']:.3f}")
    checked = "" if violations["checked"] else "  (compliance engine unavailable)"
    click.echo(
        f"agent violations       P {violations['precision']:.3f}  R {violations['recall']:.3f}  "
        f"F1 {violations['f1']:.3f}{checked}"
    )
    click.echo(f"summary keywords       {keywords['hits']}/{keywords['total']}")
    for failure in report["failures"]:
        click.echo(f"  miss {json.dumps(failure, ensure_ascii=False)}")


@click.command()
@click.argument("source", required=False, default="-")
@click.option(
    "--json", "as_json", is_flag=True, help="JSON Lines output (the default)."
)
@click.option(
    "--text", "as_text", is_flag=True, help="Readable output instead of JSON."
)
@click.option(
    "--language", type=click.Choice(["en", "es"]), help="For a plain text file."
)
@click.option(
    "--call-date",
    type=click.DateTime(formats=["%Y-%m-%d"]),
    help="For a plain text file: the call's date, YYYY-MM-DD.",
)
@click.option(
    "--timezone", help="For a plain text file: the IANA zone, e.g. America/Bogota."
)
@click.option(
    "--eval",
    "eval_path",
    type=click.Path(exists=True, path_type=Path),
    help="Score against a cases.jsonl (or its directory) and print the figures.",
)
@click.option(
    "--model/--no-model",
    "use_model",
    default=None,
    help="Let the configured language model rephrase the prose (default: when "
    "COPILOT_LLM_PROVIDER is not none). Facts never come from the model.",
)
@click.pass_context
def summarize(
    ctx: click.Context,
    source: str,
    as_json: bool,
    as_text: bool,
    language: str | None,
    call_date: datetime | None,
    timezone: str | None,
    eval_path: Path | None,
    use_model: bool | None,
) -> None:
    """Summarize call transcripts: promises, requests, disputes, agent violations.

    SOURCE is a JSON Lines file (or - for standard input) of objects with language,
    call_date, timezone and transcript; or a plain transcript file with --language,
    --call-date and --timezone. Prints one JSON object per call. A malformed line prints
    {"error": ...}; the others still run, and the exit code is 2.
    """
    if eval_path is not None:
        _print_eval(eval_path, as_json)
        return

    content = _read_source(source)
    model = _model(use_model)
    plain = any(v is not None for v in (language, call_date, timezone))
    if plain:
        if language is None or call_date is None or timezone is None:
            raise InputError(
                "a plain text transcript needs --language, --call-date and --timezone."
            )
        records: list[tuple[int, str | None]] = [(1, None)]
    else:
        records = [
            (n, line) for n, line in enumerate(content.splitlines(), 1) if line.strip()
        ]

    malformed = 0
    for number, line in records:
        try:
            if line is None:
                assert (
                    language is not None
                    and call_date is not None
                    and timezone is not None
                )
                args = (language, call_date.date(), timezone, content)
            else:
                args = _record(line)
            result = summarize_call(*args, model=model, redactor=_redactor())
        except CopilotError as exc:
            malformed += 1
            click.echo(
                json.dumps(
                    {"error": f"line {number}: {exc.message}"}, ensure_ascii=False
                )
            )
            continue
        if as_text and not as_json:
            click.echo(_as_text(result.to_json_dict()))
        else:
            click.echo(json.dumps(result.to_json_dict(), ensure_ascii=False))
    if malformed:
        log.warning("%d malformed input line(s)", malformed)
        ctx.exit(2)


def _as_text(data: dict[str, Any]) -> str:
    lines = [data["summary"]]
    for promise in data["promises"]:
        lines.append(
            f"  promise: {promise['amount']} {promise['currency']} on {promise['date']}"
        )
    if data["requests"]:
        lines.append(f"  requests: {', '.join(data['requests'])}")
    if data["disputed"]:
        lines.append("  disputed")
    for violation in data["agent_violations"]:
        lines.append(f"  agent violation: {violation['rule']}")
    lines += [f"  next: {step['action']}" for step in data["next_steps"]]
    return "\n".join(lines)
