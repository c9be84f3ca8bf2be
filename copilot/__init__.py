"""Collection Copilot: a compliance-first assistant for pre-legal debt collectors."""

__version__ = "0.1.0"
