"""The copilot's work: drafts, next steps; grounded in policies, checked by the rules.

- :mod:`~copilot.generation.library`: the approved template library (files);
- :mod:`~copilot.generation.values`: facts from the CRM written the debtor's way;
- :mod:`~copilot.generation.redaction`: reversible placeholders for personal data;
- :mod:`~copilot.generation.drafting`: template, personalise, check, repair or fall back;
- :mod:`~copilot.generation.next_steps`: ranked, explained next actions.
"""

from copilot.generation.drafting import Drafter, DraftRequest, DraftResult
from copilot.generation.library import Template, TemplateLibrary
from copilot.generation.next_steps import NextStep, rank_next_steps

__all__ = [
    "DraftRequest",
    "DraftResult",
    "Drafter",
    "NextStep",
    "Template",
    "TemplateLibrary",
    "rank_next_steps",
]
