"""Call summaries: promises, requests, disputes and agent violations from transcripts.

The facts are read deterministically (no model needed); a chat model may only rephrase
the summary prose. See :func:`summarize_call`.
"""

from __future__ import annotations

from copilot.summaries.dates import resolve_date
from copilot.summaries.extract import REQUESTS, Turn, parse_turns
from copilot.summaries.numbers import parse_amount
from copilot.summaries.summarize import (
    AgentViolation,
    CallSummary,
    NextStep,
    PromiseOut,
    summarize_call,
)

__all__ = [
    "REQUESTS",
    "AgentViolation",
    "CallSummary",
    "NextStep",
    "PromiseOut",
    "Turn",
    "parse_amount",
    "parse_turns",
    "resolve_date",
    "summarize_call",
]
