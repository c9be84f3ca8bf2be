"""The one exception tree of Collection Copilot.

Every error that can reach a person carries an HTTP status, a stable machine code and a
message that says what went wrong and what to do. The API renders all of them with one
JSON shape, ``{"error": {"code", "message", "status"}}``; the CLI prints the message and
exits non-zero, never with a traceback.

    CopilotError
    ├── ConfigError              500  a setting is missing or wrong
    ├── InputError               400  the request or file is malformed
    ├── NotFoundError            404  unknown debtor, draft, document...
    ├── PermissionDeniedError    403  the user's role does not allow it
    ├── ConflictError            409  the state does not allow it (e.g. blocked approval)
    ├── ProviderError            503  the language model or embeddings are unavailable
    ├── StoreError               503  the database or vector store is unavailable
    └── ConnectorError           502  the CRM failed
        ├── CRMAuthError         502  the CRM refused the credentials
        ├── CRMNotFoundError     404  the CRM has no such record
        ├── CRMRateLimitedError  429  the CRM asked us to slow down
        ├── CRMUnavailableError  503  the CRM is down or timed out
        └── CRMMappingError      500  the field mapping does not match the CRM
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "CRMAuthError",
    "CRMMappingError",
    "CRMNotFoundError",
    "CRMRateLimitedError",
    "CRMUnavailableError",
    "ConfigError",
    "ConflictError",
    "ConnectorError",
    "CopilotError",
    "InputError",
    "NotFoundError",
    "PermissionDeniedError",
    "ProviderError",
    "StoreError",
]


class CopilotError(Exception):
    """Base of every error Collection Copilot reports to a person."""

    status: int = 500
    code: str = "internal_error"

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        """The shared JSON error shape."""
        body: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "status": self.status,
        }
        if self.details:
            body["details"] = self.details
        return {"error": body}


class ConfigError(CopilotError):
    status = 500
    code = "config_error"


class InputError(CopilotError):
    status = 400
    code = "bad_input"


class NotFoundError(CopilotError):
    status = 404
    code = "not_found"


class PermissionDeniedError(CopilotError):
    status = 403
    code = "forbidden"


class ConflictError(CopilotError):
    status = 409
    code = "conflict"


class ProviderError(CopilotError):
    status = 503
    code = "provider_unavailable"


class StoreError(CopilotError):
    status = 503
    code = "store_unavailable"


class ConnectorError(CopilotError):
    status = 502
    code = "crm_error"


class CRMAuthError(ConnectorError):
    status = 502
    code = "crm_auth_refused"


class CRMNotFoundError(ConnectorError):
    status = 404
    code = "crm_not_found"


class CRMRateLimitedError(ConnectorError):
    status = 429
    code = "crm_rate_limited"

    def __init__(
        self,
        message: str,
        *,
        retry_after_s: float | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message, details=details)
        self.retry_after_s = retry_after_s


class CRMUnavailableError(ConnectorError):
    status = 503
    code = "crm_unavailable"


class CRMMappingError(ConnectorError):
    status = 500
    code = "crm_mapping_error"
