"""Work done once before the web app serves.

A failing step stops start-up with its error, because serving half-prepared is worse
than not serving.
"""

from __future__ import annotations

import logging
from typing import Any

__all__ = ["ensure_default_policies", "run_all"]

log = logging.getLogger(__name__)


def run_all(app: Any) -> None:
    """Create the demo accounts (demo CRM only), then index the default policies."""
    from copilot.web.auth import ensure_demo_users

    for name, step in (("demo users", ensure_demo_users),
                       ("default policies", ensure_default_policies)):
        log.info("start-up: %s", name)
        step(app)


def ensure_default_policies(app: Any) -> None:
    """Index the packaged policy documents when the knowledge base is empty."""
    from copilot.web.services import services

    knowledge = services(app).knowledge
    if knowledge.ensure_defaults():
        log.warning("the policy index was empty: indexed the default policies")
