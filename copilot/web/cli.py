"""``copilot serve``, ``copilot connectors`` and ``copilot settings``."""

from __future__ import annotations

import json
import logging
from urllib.parse import urlsplit, urlunsplit

import click

from copilot.config import Settings, get_settings, setting_docs

__all__ = ["connectors_command", "serve", "settings_command"]

log = logging.getLogger(__name__)


@click.command()
@click.option("--host", default=None, help="Address to bind (default COPILOT_HOST).")
@click.option("--port", default=None, type=int, help="Port to bind (default COPILOT_PORT).")
@click.option(
    "--connector",
    default=None,
    help="CRM connector to use: demo, salesforce, hubspot, zoho (default COPILOT_CONNECTOR).",
)
@click.option("--threads", default=8, show_default=True, help="Worker threads (waitress).")
def serve(host: str | None, port: int | None, connector: str | None, threads: int) -> None:
    """Run the sidebar, lead queue and admin web app on waitress."""
    from waitress import serve as waitress_serve

    from connectors.base import connector_class

    base = get_settings()
    overrides = {k: v for k, v in {"host": host, "port": port, "connector": connector}.items()
                 if v is not None}
    settings = Settings(**{**base.model_dump(), **overrides})
    settings.ensure_data_dir()
    connector_class(settings.connector)  # fail fast on an unknown connector

    from copilot.web import startup
    from server import create_app

    app = create_app(settings=settings)
    startup.run_all(app)
    logging.getLogger("waitress").setLevel(logging.WARNING)
    from copilot.web.retrier import WriteBackRetrier

    WriteBackRetrier(app).start()
    click.echo(
        f"Collection Copilot is running at http://{settings.host}:{settings.port}/sidebar "
        f"(CRM: {settings.connector}, text engine: {settings.llm_provider}). "
        "Press Ctrl+C to stop."
    )
    waitress_serve(app, host=settings.host, port=settings.port, threads=threads)



@click.command("connectors")
@click.option("--check", "run_check", is_flag=True, help="Probe the active connector.")
def connectors_command(run_check: bool) -> None:
    """List the installed CRM connectors; with --check, probe the active one."""
    from connectors.base import available_connectors, get_connector

    settings = get_settings()
    for name in available_connectors():
        marker = "*" if name == settings.connector else " "
        click.echo(f"{marker} {name}")
    if run_check:
        status = get_connector(settings).check()
        click.echo(f"{status.name}: {'ok' if status.ok else 'FAILED'} {status.detail}")
        for problem in status.problems:
            click.echo(f"  - {problem}")
        if not status.ok:
            raise SystemExit(2)


@click.command("settings")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
def settings_command(as_json: bool) -> None:
    """Show every setting: environment variable, current value and help."""
    current = get_settings().model_dump(mode="json")
    rows = []
    for env, default, help_text in setting_docs():
        name = env.removeprefix("COPILOT_").lower()
        rows.append({"env": env, "value": _without_password(current.get(name)),
                     "default": default, "help": help_text})
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        click.echo(f"{row['env']}={row['value'] if row['value'] is not None else ''}")
        click.echo(f"    {row['help']}")


def _without_password(value: object) -> object:
    """A URL setting with its password replaced by ***; anything else as it is."""
    if not isinstance(value, str) or "://" not in value:
        return value
    parts = urlsplit(value)
    if not parts.password:
        return value
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))
