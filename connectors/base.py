"""The interface every CRM connector implements, and the plugin registry.

A connector is registered under the entry-point group ``collection_copilot.connectors``
(``name = "package.module:ConnectorClass"``); the built-in ones are registered the same
way in this project's ``pyproject.toml``, so an outside package adds a CRM exactly as we
do. A connector class is built with :meth:`Connector.from_settings`.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from typing import TYPE_CHECKING, ClassVar

from copilot.domain import Activity, DebtorContext, DebtorSummary, WriteResult
from copilot.errors import ConfigError

if TYPE_CHECKING:
    from copilot.config import Settings

__all__ = [
    "ENTRY_POINT_GROUP",
    "Connector",
    "ConnectorStatus",
    "available_connectors",
    "connector_class",
    "get_connector",
]

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "collection_copilot.connectors"


@dataclass
class ConnectorStatus:
    """Health of a connector, for the admin page and start-up checks."""

    name: str
    ok: bool
    detail: str = ""
    problems: list[str] = field(default_factory=list)


class Connector(ABC):
    """One CRM, seen through the four things the copilot needs from it."""

    name: ClassVar[str] = ""
    label: ClassVar[str] = ""

    @classmethod
    @abstractmethod
    def from_settings(cls, settings: Settings) -> Connector:
        """Build the connector from settings (secrets are read from the environment)."""

    @abstractmethod
    def fetch_context(self, debtor_id: str) -> DebtorContext:
        """The debtor's whole context: flags, account ledger, contacts, promises, notes.

        Raises :class:`~copilot.errors.CRMNotFoundError` (or ``NotFoundError``) for an
        unknown id.
        """

    @abstractmethod
    def search_debtors(self, query: str, limit: int = 20) -> list[DebtorSummary]:
        """Debtors whose name, id, email or phone matches *query*."""

    @abstractmethod
    def list_work_queue(self, limit: int = 50) -> list[DebtorSummary]:
        """Debtors to work next, most urgent first."""

    @abstractmethod
    def write_activity(self, activity: Activity) -> WriteResult:
        """Record approved work on the debtor; idempotent on ``activity.idempotency_key``.

        A second call with the same key returns the first result with ``created=False``
        and creates nothing.
        """

    def check(self) -> ConnectorStatus:
        """Verify credentials and mapping; connectors override with a real probe."""
        return ConnectorStatus(name=self.name, ok=True, detail="no check implemented")

    def close(self) -> None:
        """Release connections."""
        return None


def _entry_points() -> dict[str, str]:
    return {ep.name: ep.value for ep in entry_points(group=ENTRY_POINT_GROUP)}


def available_connectors() -> list[str]:
    """Names of every registered connector."""
    return sorted(_entry_points())


def connector_class(name: str) -> type[Connector]:
    """The connector class registered under *name*."""
    found = [ep for ep in entry_points(group=ENTRY_POINT_GROUP) if ep.name == name]
    if not found:
        known = ", ".join(available_connectors()) or "none"
        raise ConfigError(
            f"No CRM connector named {name!r} is installed (known: {known}). "
            "Set COPILOT_CONNECTOR to one of them, or install the plugin that provides it."
        )
    cls = found[0].load()
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise ConfigError(
            f"The plugin {found[0].value} registered as connector {name!r} is not a "
            "Connector subclass."
        )
    return cls


def get_connector(settings: Settings, name: str | None = None) -> Connector:
    """Build the configured (or named) connector."""
    chosen = name or settings.connector
    log.debug("building connector %s", chosen)
    return connector_class(chosen).from_settings(settings)
