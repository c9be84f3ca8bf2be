"""Rewrite the configuration table in README.md from the settings' own help texts."""

from __future__ import annotations

import re
from pathlib import Path

from copilot.config import setting_docs

README = Path(__file__).resolve().parents[1] / "README.md"


def table() -> str:
    """The Markdown table of every setting."""
    rows = ["| variable | default | what it does |", "|---|---|---|"]
    for env, default, help_text in setting_docs():
        shown = f"`{default}`" if default else ""
        rows.append(f"| `{env}` | {shown} | {help_text.replace('|', '/')} |")
    return "\n".join(rows)


def main() -> None:
    """Replace the text between the settings markers."""
    text = README.read_text()
    new = re.sub(
        r"(<!-- settings:start -->).*?(<!-- settings:end -->)",
        lambda m: m.group(1) + "\n" + table() + "\n" + m.group(2),
        text,
        flags=re.S,
    )
    README.write_text(new)


if __name__ == "__main__":
    main()
