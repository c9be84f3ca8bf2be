"""Work done once before the web app serves: each feature registers a hook here.

A hook takes the Flask app. Hooks run in registration order; a failing hook stops
start-up with its error, because serving half-prepared is worse than not serving.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["register", "run_all"]

log = logging.getLogger(__name__)

_HOOKS: list[tuple[str, Callable[[Any], None]]] = []


def register(name: str, hook: Callable[[Any], None]) -> None:
    """Add a start-up hook (idempotent by name)."""
    if all(existing != name for existing, _ in _HOOKS):
        _HOOKS.append((name, hook))


def run_all(app: Any) -> None:
    """Run the built-in hooks, then every registered one."""
    from copilot.web.auth import ensure_demo_users

    register("demo users", ensure_demo_users)
    register("default policies", ensure_default_policies)
    for name, hook in _HOOKS:
        log.info("start-up: %s", name)
        hook(app)


def ensure_default_policies(app: Any) -> None:
    """Index the packaged policy documents when the knowledge base is empty."""
    from copilot.web.services import services

    knowledge = services(app).knowledge
    if knowledge.ensure_defaults():
        log.warning("the policy index was empty: indexed the default policies")
