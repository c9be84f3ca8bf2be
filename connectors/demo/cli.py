"""``copilot demo``: reset and list the demo CRM portfolio."""

from __future__ import annotations

import json

import click

from connectors.demo import DemoConnector
from copilot.config import get_settings

__all__ = ["demo"]


def _connector() -> DemoConnector:
    return DemoConnector.from_settings(get_settings())


@click.group()
def demo() -> None:
    """Manage the demo CRM portfolio (reset, list)."""


@demo.command()
def reset() -> None:
    """Regenerate the demo portfolio, dated from today; written activities are dropped."""
    connector = _connector()
    count = connector.reset()
    click.echo(f"Demo CRM reset: {count} debtors in {connector.path}.")


@demo.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option(
    "--jurisdiction",
    type=click.Choice(["US", "CO"], case_sensitive=False),
    help="Only debtors of this jurisdiction.",
)
def list_command(as_json: bool, jurisdiction: str | None) -> None:
    """List the demo debtors: id, name, jurisdiction, balance and flags."""
    connector = _connector()
    summaries = connector.list_debtors()
    scenarios = connector.scenarios()
    if jurisdiction:
        summaries = [s for s in summaries if s.jurisdiction == jurisdiction.upper()]

    if as_json:
        rows = [
            {**s.model_dump(mode="json"), "scenario": scenarios.get(s.id, "")}
            for s in summaries
        ]
        click.echo(json.dumps(rows, ensure_ascii=False, indent=2))
        return

    width = max((len(s.name) for s in summaries), default=4)
    for s in summaries:
        balance = f"{s.balance.format(s.language)} {s.balance.currency}"
        flags = ", ".join(s.flags) or "-"
        click.echo(
            f"{s.id}  {s.name:<{width}}  {s.jurisdiction}  {balance:>18}  {flags}"
        )
