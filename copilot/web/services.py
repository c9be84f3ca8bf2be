"""The long-lived objects one web app shares across requests, built lazily.

Each is created on first use and kept for the life of the app, so a request never pays
for loading a model or opening the vector store twice. Tests swap any of them by
assigning the attribute before the first request.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from flask import Flask, current_app

from connectors.base import Connector, get_connector
from copilot.config import Settings

__all__ = ["Services", "services"]

log = logging.getLogger(__name__)


class Services:
    """Connector, compliance engine, knowledge base and model of one app."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._connector: Connector | None = None
        self._extra: dict[str, Any] = {}

    @property
    def connector(self) -> Connector:
        """The active CRM connector."""
        with self._lock:
            if self._connector is None:
                self._connector = get_connector(self.settings)
            return self._connector

    @connector.setter
    def connector(self, value: Connector) -> None:
        self._connector = value

    @property
    def knowledge(self) -> Any:
        """The policy knowledge base (copilot.knowledge.KnowledgeBase)."""
        from copilot.knowledge import KnowledgeBase

        return self.get("knowledge", lambda: KnowledgeBase.from_settings(self.settings))

    @property
    def compliance(self) -> Any:
        """The compliance engine with the active rule packs."""
        from copilot.compliance import get_engine

        return self.get("compliance", lambda: get_engine(self.settings))

    @property
    def model(self) -> Any:
        """The configured chat model, or None for templates only."""
        from copilot.providers import check_provider, get_chat_model

        def build() -> Any:
            check_provider(self.settings)
            return get_chat_model(self.settings)

        return self.get("model", build)

    def drafter(self, persist: Any = None) -> Any:
        """A Drafter wired to this app's connector, knowledge base, engine and model."""
        from copilot.generation.drafting import Drafter

        return Drafter(
            self.settings, self.connector, knowledge=self.knowledge,
            engine=self.compliance, model=self.model, persist=persist,
        )

    def get(self, name: str, factory: Any) -> Any:
        """A named shared object, built once by *factory()*."""
        with self._lock:
            if name not in self._extra:
                self._extra[name] = factory()
            return self._extra[name]

    def set(self, name: str, value: Any) -> None:
        """Replace a named shared object (tests, reloads)."""
        with self._lock:
            self._extra[name] = value

    def close(self) -> None:
        """Release what the services hold."""
        if self._connector is not None:
            self._connector.close()


def services(app: Flask | None = None) -> Services:
    """The services of *app* (default: the current app)."""
    target = app or current_app
    result: Services = target.extensions["copilot"]
    return result
