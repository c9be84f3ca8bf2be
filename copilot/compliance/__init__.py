"""The compliance engine: legal limits and company rules as code.

Rule *kinds* live in :mod:`copilot.compliance.kinds`; YAML rule packs in
``policies/rules/`` configure them. Call :func:`get_engine` and
:meth:`Engine.check` with a :class:`Proposal`, or ``copilot check`` on the command line.
"""

from copilot.compliance.engine import (
    Engine,
    get_engine,
    limited_content_business_name,
    required_disclosures,
    scan_text,
    validate_pack,
)
from copilot.compliance.models import CheckResult, Proposal
from copilot.compliance.packs import PackError

__all__ = [
    "CheckResult",
    "Engine",
    "PackError",
    "Proposal",
    "get_engine",
    "limited_content_business_name",
    "required_disclosures",
    "scan_text",
    "validate_pack",
]
