"""``copilot policies``: ingest, list, search, version and evaluate policy documents."""

from __future__ import annotations

import json
import sys
from datetime import date
from pathlib import Path
from typing import Any

import click

from copilot.config import get_settings
from copilot.errors import InputError

__all__ = ["policies"]


def _kb() -> Any:
    from copilot.knowledge import KnowledgeBase

    return KnowledgeBase.from_settings(get_settings())


def _date(value: str | None) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError as exc:
        raise InputError(f"--as-of {value!r} is not a YYYY-MM-DD date.") from exc


@click.group()
def policies() -> None:
    """Ingest, list, search and version policy documents."""


@policies.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
def ingest(paths: tuple[Path, ...]) -> None:
    """Ingest files or folders (md, txt, html, pdf, docx); exactly what is given."""
    report = _kb().ingest(paths)
    for outcome in report.files:
        if outcome.status in ("skipped", "failed"):
            click.echo(f"{outcome.status:<9} {outcome.doc}: {outcome.reason}", err=True)
        else:
            click.echo(
                f"{outcome.status:<9} {outcome.doc} v{outcome.version} "
                f"({outcome.passages} passages, {outcome.embedded} embedded)"
            )
    click.echo(
        f"{len(report.changed)} changed, {len(report.skipped)} skipped, "
        f"{len(report.files)} files in {report.seconds:.1f} s"
    )
    if report.files and len(report.skipped) == len(report.files):
        raise click.exceptions.Exit(2)


@policies.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def list_command(as_json: bool) -> None:
    """Show documents, their versions and passage counts."""
    documents = _kb().list_documents()
    if as_json:
        rows = [
            {
                "doc": d.doc,
                "title": d.title,
                "status": d.status,
                "active_version": d.active_version,
                "passages": d.passages,
                "jurisdiction": d.jurisdiction,
                "language": d.language,
                "effective_date": d.effective_date,
                "owner": d.owner,
                "versions": [
                    {
                        "version": v.version,
                        "passages": v.passages,
                        "ingested_at": v.ingested_at,
                    }
                    for v in d.versions
                ],
            }
            for d in documents
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return
    if not documents:
        click.echo("No policy documents yet. Run `copilot policies ingest PATH`.")
        return
    click.echo(f"{'document':<36}{'active':>7}{'versions':>9}{'passages':>9}  jur lang")
    for d in documents:
        active = f"v{d.active_version}" if d.active_version else "removed"
        click.echo(
            f"{d.doc:<36}{active:>7}{len(d.versions):>9}{d.passages:>9}  "
            f"{d.jurisdiction:<3} {d.language or '-'}"
        )


@policies.command()
@click.argument("doc")
def remove(doc: str) -> None:
    """Take a document out of search (it stays restorable)."""
    _kb().remove(doc)
    click.echo(f"removed {doc}; `copilot policies restore {doc}` brings it back")


@policies.command()
@click.argument("doc")
@click.option(
    "--version", type=int, default=None, help="Version to restore (default: previous)."
)
def restore(doc: str, version: int | None) -> None:
    """Make an earlier version of a document active again."""
    restored = _kb().restore(doc, version)
    click.echo(f"{doc} is at v{restored}")


@policies.command()
@click.argument("doc")
@click.argument("v1", type=int)
@click.argument("v2", type=int)
def diff(doc: str, v1: int, v2: int) -> None:
    """Show what changed between two versions of a document."""
    changes = _kb().diff(doc, v1, v2)
    if not changes:
        click.echo("no differences")
    for change in changes:
        click.echo(f"## {change['heading']} ({change['change']})")
        click.echo(change["diff"])


@policies.command()
@click.argument("query")
@click.option("--k", "k", default=4, show_default=True, help="How many passages.")
@click.option(
    "--jurisdiction",
    type=click.Choice(["US", "CO"], case_sensitive=False),
    default=None,
    help="Keep this jurisdiction's passages and company-wide ones.",
)
@click.option("--language", type=click.Choice(["en", "es"]), default=None)
@click.option(
    "--as-of", "as_of", default=None, help="Date the policies must be in force."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def search(
    query: str,
    k: int,
    jurisdiction: str | None,
    language: str | None,
    as_of: str | None,
    as_json: bool,
) -> None:
    """Search policies; QUERY `-` reads JSON Lines {"id", "question"} from stdin."""
    kb = _kb()
    options: dict[str, Any] = {
        "k": k,
        "jurisdiction": jurisdiction.upper() if jurisdiction else None,
        "language": language,
        "as_of": _date(as_of),
    }
    if query == "-":
        for number, line in enumerate(sys.stdin, start=1):
            if not line.strip():
                continue
            try:
                item = json.loads(line)
                question = str(item["question"])
            except (json.JSONDecodeError, KeyError, TypeError) as exc:
                raise InputError(
                    f'stdin line {number} is not a JSON object with "id" and "question".'
                ) from exc
            passages = kb.search(question, **options)
            click.echo(
                json.dumps(
                    {"id": item.get("id"), "passages": [p.as_dict() for p in passages]},
                    ensure_ascii=False,
                )
            )
        return
    passages = kb.search(query, **options)
    if as_json:
        click.echo(
            json.dumps([p.as_dict() for p in passages], ensure_ascii=False, indent=2)
        )
        return
    if not passages:
        click.echo("No passage found.")
    for rank, p in enumerate(passages, start=1):
        click.echo(
            f"{rank}. {p.doc} v{p.version} > {' > '.join(p.heading_path)} "
            f"[{p.jurisdiction}/{p.language}] score {p.score:.2f}"
        )
        click.echo("   " + p.text.replace("\n", "\n   "))


@policies.command("eval")
@click.argument("directory", required=False, type=click.Path(path_type=Path))
def eval_command(directory: Path | None) -> None:
    """Index an evaluation folder in a scratch store; print recall@1/@3 and MRR."""
    import tempfile

    from copilot.knowledge import KnowledgeBase
    from copilot.knowledge.evaluation import (
        default_eval_dir,
        evaluate,
        format_table,
        load_questions,
    )

    folder = directory or default_eval_dir()
    if folder is None:
        raise InputError(
            "No evaluation set found; pass DIR or set COPILOT_SHARED_DIR to the shared folder."
        )
    questions = load_questions(folder)
    base = get_settings()
    with tempfile.TemporaryDirectory(prefix="copilot-eval-") as scratch:
        # the scratch data dir keeps the real index untouched; the embedding cache is
        # the real one, so only the first run embeds the corpus
        settings = base.model_copy(
            update={
                "data_dir": Path(scratch),
                "chroma_url": None,
                "embeddings_cache": base.embeddings_cache or base.data_dir,
            }
        )
        kb = KnowledgeBase.from_settings(settings)
        report = kb.ingest(sorted(folder.glob("*.md")))
        for outcome in report.skipped:
            click.echo(f"skipped {outcome.doc}: {outcome.reason}", err=True)
        result = evaluate(kb, questions)
        kb.close()
    click.echo(format_table(result))
    misses = [
        f"{qid} (rank {rank or '>10'})"
        for qid, rank in result.ranks.items()
        if not rank or rank > 3
    ]
    if misses:
        click.echo("not in top 3: " + ", ".join(misses))
