"""The ``copilot`` command line.

Commands live in the feature modules and are loaded lazily, so ``copilot check`` does not
pay for importing Chroma or a language model. Every :class:`~copilot.errors.CopilotError`
becomes one sentence on standard error and exit code 2; nothing prints a traceback unless
``--debug`` is given.
"""

from __future__ import annotations

import importlib
import logging
import sys
from typing import Any

import click

from copilot.errors import CopilotError

__all__ = ["main"]

log = logging.getLogger(__name__)

# name -> ("module:attribute", one-line help); each attribute is a click command or
# group. The help is repeated here so that `copilot --help` imports nothing heavy.
COMMANDS: dict[str, tuple[str, str]] = {
    "serve": ("copilot.web.cli:serve", "Run the sidebar, lead queue and admin web app."),
    "demo": ("connectors.demo.cli:demo", "Manage the demo CRM portfolio (reset, list)."),
    "draft": ("copilot.generation.cli:draft", "Draft a checked message for a debtor."),
    "next-steps": (
        "copilot.generation.cli:next_steps",
        "Rank the next actions for a debtor, with when and why.",
    ),
    "summarize": (
        "copilot.summaries.cli:summarize",
        "Summarize call transcripts: promises, requests, disputes.",
    ),
    "check": (
        "copilot.compliance.cli:check",
        "Check proposed contacts against the rule packs.",
    ),
    "policies": (
        "copilot.knowledge.cli:policies",
        "Ingest, list, search and version policy documents.",
    ),
    "templates": (
        "copilot.generation.cli:templates",
        "List and manage the approved template library.",
    ),
    "users": ("copilot.workflow.cli:users", "Add, list and disable user accounts."),
    "audit": ("copilot.workflow.cli:audit", "Export and verify the audit log."),
    "connectors": (
        "copilot.web.cli:connectors_command",
        "List CRM connectors and check the active one.",
    ),
    "settings": (
        "copilot.web.cli:settings_command",
        "Show every setting with its value and help.",
    ),
}


class LazyGroup(click.Group):
    """A group whose subcommands are imported only when used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        entry = COMMANDS.get(cmd_name)
        if entry is None:
            return None
        target = entry[0]
        module_name, attr = target.split(":")
        module = importlib.import_module(module_name)
        command = getattr(module, attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][1]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CopilotError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc.message}", err=True)
            ctx.exit(2)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            ctx.exit(130)
        except Exception as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            log.error("unexpected %s in %s", type(exc).__name__, ctx.invoked_subcommand)
            click.echo(
                f"Error: an unexpected {type(exc).__name__} occurred ({exc}). "
                "Run again with `copilot --debug ...` for the full trace and report it.",
                err=True,
            )
            ctx.exit(3)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--debug", is_flag=True, help="Show full tracebacks and DEBUG logs.")
@click.version_option(package_name="collection-copilot")
@click.pass_context
def main(ctx: click.Context, debug: bool) -> None:
    """Collection Copilot: drafts, next steps and call summaries for collectors,
    checked against the law and your company's rules.

    Configuration comes from COPILOT_* environment variables; `copilot settings`
    lists them. Exit codes: 0 success, 1 a check blocked something, 2 bad input or
    a reported error, 3 an unexpected failure.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


if __name__ == "__main__":  # pragma: no cover
    main()
