"""CRM connectors behind one interface (see :mod:`connectors.base`)."""

from connectors.base import (
    ENTRY_POINT_GROUP,
    Connector,
    ConnectorStatus,
    available_connectors,
    get_connector,
)

__all__ = [
    "ENTRY_POINT_GROUP",
    "Connector",
    "ConnectorStatus",
    "available_connectors",
    "get_connector",
]
