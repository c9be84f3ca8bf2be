"""Opening the sidebar inside a CRM: verification of each CRM's signed request.

One module per CRM (``salesforce``, ``hubspot``, ``zoho``); each exposes a ``verify_*``
function that raises :class:`copilot.errors.PermissionDeniedError` for a tampered, stale
or unsigned request and returns the identity the CRM vouches for.
"""
