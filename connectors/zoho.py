"""Zoho CRM v8 over plain REST (httpx).

The official SDK is not used at run time: it fetches field metadata before every record
call, keeps its state in a process-global initializer, and silently switches to whatever
``api_domain`` a token response names. This module talks to exactly two hosts, both from
settings: the accounts server of the configured data centre (token refresh) and the API
domain of the same data centre (everything else).

A debtor's context costs four requests sent at once (one round trip): the debtor record,
a COQL query for Calls, a COQL query for Tasks and the Notes related list. The debtor
record is read with a plain GET because COQL caps a query at 50 columns and the default
mapping needs more.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Iterable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from datetime import time as dtime
from decimal import Decimal, InvalidOperation
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

import httpx
import yaml

from connectors._retry import RetryPolicy, call_with_retries, parse_retry_after
from connectors.base import Connector, ConnectorStatus
from copilot.config import secret
from copilot.domain import (
    CHANNELS,
    Account,
    Activity,
    ContactAttempt,
    Debtor,
    DebtorContext,
    DebtorSummary,
    Dispute,
    Fee,
    HourWindow,
    Money,
    Note,
    Payment,
    PaymentPlan,
    PromiseToPay,
    WriteResult,
)
from copilot.errors import (
    ConfigError,
    ConnectorError,
    CRMAuthError,
    CRMMappingError,
    CRMNotFoundError,
    CRMRateLimitedError,
    CRMUnavailableError,
)

if TYPE_CHECKING:
    from copilot.config import Settings

__all__ = [
    "ZohoConnector",
    "ZohoMapping",
    "coql_quote",
    "escape_criteria",
    "load_mapping",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

API_VERSION = "v8"
COQL_MAX_COLUMNS = 50
KEY_MARKER = "[copilot-key:{key}]"
_ID_PATTERN = re.compile(r"^\d{1,30}$")
_EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_PATTERN = re.compile(r"^\+?[\d\s().-]{7,}$")
_TOKEN_MARGIN_S = 60.0
_CHANNEL_WORDS = {
    "sms": "sms",
    "text": "sms",
    "text message": "sms",
    "email": "email",
    "e-mail": "email",
    "correo": "email",
    "call": "call",
    "phone": "call",
    "phone call": "call",
    "llamada": "call",
    "letter": "letter",
    "mail": "letter",
    "carta": "letter",
    "voicemail": "voicemail",
}
_JURISDICTIONS = {
    "us": "US",
    "usa": "US",
    "united states": "US",
    "united states of america": "US",
    "co": "CO",
    "col": "CO",
    "colombia": "CO",
}
_DEFAULT_ZONES = {"US": "America/New_York", "CO": "America/Bogota"}


# --- mapping -----------------------------------------------------------------------


@dataclass(frozen=True)
class ZohoMapping:
    """Which Zoho modules and fields hold the debtor, the debt and its history."""

    module: str
    debtor: Mapping[str, str | None]
    account: Mapping[str, str | None]
    default_currency: str
    calls_module: str
    calls: Mapping[str, str | None]
    call_outcomes: Mapping[str, str]
    tasks_module: str
    tasks: Mapping[str, str | None]
    notes_module: str
    notes_limit: int
    idempotency_field: str
    task_status: str
    priority_field: str | None
    queue_where: str
    source: str = "packaged"

    REQUIRED_DEBTOR: ClassVar[tuple[str, ...]] = ("name", "jurisdiction")
    REQUIRED_ACCOUNT: ClassVar[tuple[str, ...]] = ("balance", "due_date")

    @property
    def link_field(self) -> str:
        """The activity field that points at the debtor (Who_Id for people modules)."""
        return "Who_Id" if self.module in ("Contacts", "Leads") else "What_Id"

    def field(self, section: str, name: str) -> str | None:
        """The Zoho API name mapped to *name* in *section*, or None when unmapped."""
        table = {
            "debtor": self.debtor,
            "account": self.account,
            "calls": self.calls,
            "tasks": self.tasks,
        }[section]
        return table.get(name)

    def required_fields(self) -> dict[str, dict[str, str]]:
        """Module -> {Zoho field: mapping key} for every mapped field."""
        wanted: dict[str, dict[str, str]] = {
            self.module: {},
            self.calls_module: {},
            self.tasks_module: {},
        }
        for section, table in (("debtor", self.debtor), ("account", self.account)):
            for key, api_name in table.items():
                if api_name:
                    wanted[self.module][api_name] = f"{section}.fields.{key}"
        for section, module, table in (
            ("calls", self.calls_module, self.calls),
            ("tasks", self.tasks_module, self.tasks),
        ):
            for key, api_name in table.items():
                if api_name:
                    wanted[module][api_name] = f"history.{section}.fields.{key}"
            wanted[module][self.idempotency_field] = "write_back.idempotency_field"
        if self.priority_field:
            wanted[self.module][self.priority_field] = "work_queue.priority_field"
        return wanted


def _section(data: Mapping[str, Any], *path: str) -> dict[str, Any]:
    node: Any = data
    for part in path:
        node = node.get(part) if isinstance(node, Mapping) else None
        if node is None:
            return {}
    if not isinstance(node, Mapping):
        raise CRMMappingError(
            f"The Zoho mapping's {'.'.join(path)} must be a table of names. "
            "Fix it in the file named by COPILOT_ZOHO_MAPPING."
        )
    return dict(node)


def load_mapping(path: Path | None = None) -> ZohoMapping:
    """Read the YAML mapping (the packaged one when *path* is None)."""
    if path is None:
        text = (
            resources.files("connectors.mappings")
            .joinpath("zoho.yaml")
            .read_text(encoding="utf-8")
        )
        source = "packaged"
    else:
        try:
            text = Path(path).read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(
                f"The Zoho mapping file {path} cannot be read ({exc.strerror}). "
                "Fix COPILOT_ZOHO_MAPPING or remove it to use the packaged mapping."
            ) from exc
        source = str(path)
    try:
        data = yaml.safe_load(text) or {}
    except yaml.YAMLError as exc:
        raise CRMMappingError(
            f"The Zoho mapping {source} is not valid YAML ({exc}). Fix the file."
        ) from exc
    if not isinstance(data, Mapping):
        raise CRMMappingError(f"The Zoho mapping {source} must be a YAML table.")

    debtor = _section(data, "debtor")
    calls = _section(data, "history", "calls")
    tasks = _section(data, "history", "tasks")
    notes = _section(data, "history", "notes")
    write_back = _section(data, "write_back")
    queue = _section(data, "work_queue")
    mapping = ZohoMapping(
        module=str(debtor.get("module") or "Contacts"),
        debtor=_section(data, "debtor", "fields"),
        account=_section(data, "account", "fields"),
        default_currency=str(
            _section(data, "account").get("default_currency") or "USD"
        ),
        calls_module=str(calls.get("module") or "Calls"),
        calls=_section(data, "history", "calls", "fields"),
        call_outcomes={
            str(k): str(v) for k, v in (calls.get("outcomes") or {}).items()
        },
        tasks_module=str(tasks.get("module") or "Tasks"),
        tasks=_section(data, "history", "tasks", "fields"),
        notes_module=str(notes.get("module") or "Notes"),
        notes_limit=int(notes.get("limit") or 50),
        idempotency_field=str(write_back.get("idempotency_field") or "Copilot_Key"),
        task_status=str(write_back.get("task_status") or "Completed"),
        priority_field=queue.get("priority_field") or None,
        queue_where=str(queue.get("where") or "id is not null"),
        source=source,
    )
    for section, names, table in (
        ("debtor", mapping.REQUIRED_DEBTOR, mapping.debtor),
        ("account", mapping.REQUIRED_ACCOUNT, mapping.account),
    ):
        for name in names:
            if not table.get(name):
                raise CRMMappingError(
                    f"The Zoho mapping {source} has no field for {section}.fields.{name}, "
                    "which the copilot cannot work without. Name the Zoho field that "
                    "holds it."
                )
    return mapping


# --- query helpers -----------------------------------------------------------------


def coql_quote(value: str) -> str:
    """A COQL string literal: single quotes, with quotes and backslashes escaped."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def escape_criteria(value: str) -> str:
    """Escape the characters that end a value in a search ``criteria`` expression."""
    return re.sub(r"([\\(),:])", r"\\\1", value)


def _api_name_ok(name: str) -> bool:
    return bool(re.fullmatch(r"\$?[A-Za-z][A-Za-z0-9_]*", name))


# --- the connector -----------------------------------------------------------------


@dataclass
class _Token:
    value: str = ""
    expires_at: float = 0.0
    generation: int = 0


@dataclass
class _Reply:
    status: int
    body: Any
    headers: Mapping[str, str] = field(default_factory=dict)


class ZohoConnector(Connector):
    """Zoho CRM v8: debtors in Contacts (or a custom module), history in Calls/Tasks/Notes."""

    name: ClassVar[str] = "zoho"
    label: ClassVar[str] = "Zoho CRM"

    def __init__(
        self,
        *,
        api_domain: str,
        accounts_url: str,
        mapping: ZohoMapping,
        client_id_env: str = "ZOHO_CLIENT_ID",
        client_secret_env: str = "ZOHO_CLIENT_SECRET",  # noqa: S107 (a variable name)
        refresh_token_env: str = "ZOHO_REFRESH_TOKEN",  # noqa: S107 (a variable name)
        timeout_s: float = 15.0,
        retry_policy: RetryPolicy | None = None,
        transport: httpx.BaseTransport | None = None,
        coql_page_size: int = 200,
        max_history: int = 400,
    ) -> None:
        self.api_domain = api_domain.rstrip("/")
        self.accounts_url = accounts_url.rstrip("/")
        self.mapping = mapping
        self._env = (client_id_env, client_secret_env, refresh_token_env)
        self._retry = retry_policy or RetryPolicy()
        self._timeout_s = timeout_s
        self._http = httpx.Client(
            timeout=timeout_s,
            transport=transport,
            follow_redirects=False,
            trust_env=False,
        )
        self._token = _Token()
        self._token_lock = threading.Lock()
        self._validated = False
        self._validate_lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None
        self._org_id: str | None = None
        self._warned_domain = False
        self.coql_page_size = max(1, min(coql_page_size, 2000))
        self.max_history = max_history

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        transport: httpx.BaseTransport | None = None,
        retry_policy: RetryPolicy | None = None,
    ) -> ZohoConnector:
        """Build from ``COPILOT_ZOHO_*`` settings; secrets stay in their env variables."""
        return cls(
            api_domain=settings.zoho_api_domain,
            accounts_url=settings.zoho_accounts_url,
            mapping=load_mapping(settings.zoho_mapping),
            client_id_env=settings.zoho_client_id_env,
            client_secret_env=settings.zoho_client_secret_env,
            refresh_token_env=settings.zoho_refresh_token_env,
            timeout_s=settings.crm_timeout_s,
            retry_policy=retry_policy
            or RetryPolicy(max_retries=settings.crm_max_retries),
            transport=transport,
        )

    # --- auth --------------------------------------------------------------------

    def _access_token(self) -> _Token:
        with self._token_lock:
            if self._token.value and time.monotonic() < self._token.expires_at:
                return self._token
            return self._refresh_locked()

    def _refresh_after(self, stale: _Token) -> _Token:
        with self._token_lock:
            if self._token.generation != stale.generation and self._token.value:
                return self._token
            return self._refresh_locked()

    def _refresh_locked(self) -> _Token:
        client_id = secret(self._env[0], "The Zoho connector")
        client_secret = secret(self._env[1], "The Zoho connector")
        refresh_token = secret(self._env[2], "The Zoho connector")
        url = f"{self.accounts_url}/oauth/v2/token"
        started = time.perf_counter()
        try:
            response = self._http.post(
                url,
                data={
                    "grant_type": "refresh_token",
                    "client_id": client_id,
                    "client_secret": client_secret,
                    "refresh_token": refresh_token,
                },
            )
        except httpx.TimeoutException as exc:
            raise CRMUnavailableError(
                f"Zoho's accounts server ({self.accounts_url}) did not answer within "
                f"{self._timeout_s:g}s. Try again; if it persists, check "
                "COPILOT_ZOHO_ACCOUNTS_URL and the network."
            ) from exc
        except httpx.TransportError as exc:
            raise CRMUnavailableError(
                f"Zoho's accounts server ({self.accounts_url}) cannot be reached "
                f"({type(exc).__name__}). Check COPILOT_ZOHO_ACCOUNTS_URL."
            ) from exc
        log.info(
            "zoho token refresh status=%s in %.0f ms",
            response.status_code,
            (time.perf_counter() - started) * 1000,
        )
        if response.status_code == 429 or response.status_code >= 500:
            raise CRMUnavailableError(
                f"Zoho's accounts server answered {response.status_code} to a token "
                "refresh. Try again in a minute."
            )
        try:
            body = response.json()
        except ValueError as exc:
            raise ConnectorError(
                f"Zoho's accounts server answered {response.status_code} with a body "
                "that is not JSON. Check COPILOT_ZOHO_ACCOUNTS_URL points at "
                "https://accounts.zoho.<your data centre>."
            ) from exc
        if (
            not isinstance(body, dict)
            or "error" in body
            or not body.get("access_token")
        ):
            reason = (
                body.get("error", "no access token") if isinstance(body, dict) else "?"
            )
            raise CRMAuthError(
                f"Zoho's accounts server refused the refresh token ({reason}). Generate a "
                f"new refresh token in the API console of the same data centre as "
                f"{self.accounts_url}, then set {self._env[2]} (and {self._env[0]}, "
                f"{self._env[1]}) and reload the sidebar."
            )
        self._check_api_domain(body.get("api_domain"))
        expires_in = float(body.get("expires_in") or 3600)
        self._token = _Token(
            value=str(body["access_token"]),
            expires_at=time.monotonic() + max(expires_in - _TOKEN_MARGIN_S, 1.0),
            generation=self._token.generation + 1,
        )
        return self._token

    def _check_api_domain(self, announced: Any) -> None:
        # A token response names the API domain of the user's data centre. Following it
        # would let one wrong or sandbox token move debtor data to another host, so the
        # configured domain always wins and a disagreement is only reported.
        if not announced or str(announced).rstrip("/") == self.api_domain:
            return
        if not self._warned_domain:
            log.warning(
                "zoho token response names api_domain %s but COPILOT_ZOHO_API_DOMAIN is "
                "%s; keeping the configured domain",
                announced,
                self.api_domain,
            )
            self._warned_domain = True

    # --- transport ---------------------------------------------------------------

    def _send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        token: str | None = None,
    ) -> _Reply:
        """One request with at most one token refresh; errors classified, no retry."""
        url = f"{self.api_domain}/crm/{API_VERSION}{path}"
        current = None if token else self._access_token()
        for attempt in (1, 2):
            value = token or (current.value if current else "")
            headers = {"Authorization": f"Zoho-oauthtoken {value}"}
            started = time.perf_counter()
            try:
                response = self._http.request(
                    method, url, params=params, json=body, headers=headers
                )
            except httpx.TimeoutException as exc:
                raise CRMUnavailableError(
                    f"Zoho CRM did not answer within {self._timeout_s:g}s. Try again; if "
                    "it persists raise COPILOT_CRM_TIMEOUT_S or check status.zoho.com."
                ) from exc
            except httpx.TransportError as exc:
                raise CRMUnavailableError(
                    f"Zoho CRM at {self.api_domain} cannot be reached "
                    f"({type(exc).__name__}). Check COPILOT_ZOHO_API_DOMAIN."
                ) from exc
            log.debug(
                "zoho %s %s -> %s in %.0f ms",
                method,
                path,
                response.status_code,
                (time.perf_counter() - started) * 1000,
            )
            if (
                response.status_code == 401
                and attempt == 1
                and token is None
                and current is not None
                and _error_code(response) in ("INVALID_TOKEN", "")
            ):
                current = self._refresh_after(current)
                continue
            return self._classify(response, path, user_token=token is not None)
        raise AssertionError("unreachable")  # pragma: no cover

    def _classify(
        self, response: httpx.Response, path: str, *, user_token: bool
    ) -> _Reply:
        status = response.status_code
        remaining = response.headers.get("X-RATELIMIT-REMAINING")
        if remaining is not None:
            log.debug("zoho rate limit remaining %s", remaining)
        if status == 204 or (200 <= status < 300 and not response.content.strip()):
            return _Reply(status, None, response.headers)
        body = _parse_json(response)
        if 200 <= status < 300:
            if body is _MALFORMED or not isinstance(body, dict):
                raise ConnectorError(
                    f"Zoho CRM answered {path} with a body that is not the JSON object "
                    "it documents. Try again; if it persists, check "
                    "COPILOT_ZOHO_API_DOMAIN points at Zoho's API host."
                )
            return _Reply(status, body, response.headers)

        info = body if isinstance(body, dict) else {}
        if "code" not in info and isinstance(info.get("data"), list) and info["data"]:
            first = info["data"][0]
            info = first if isinstance(first, dict) else {}
        code = str(info.get("code") or "")
        message = str(info.get("message") or "")
        details: dict[str, Any] = (
            info["details"] if isinstance(info.get("details"), dict) else {}
        )
        described = f"{code or status}" + (f": {message}" if message else "")
        if status == 429:
            raise CRMRateLimitedError(
                f"Zoho CRM asked us to slow down ({described}). The copilot retries on "
                "its own; wait a minute if the sidebar still shows this.",
                retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
                details={"code": code},
            )
        if status >= 500:
            raise CRMUnavailableError(
                f"Zoho CRM failed with {status} ({described}). Try again in a minute; "
                "check status.zoho.com if it persists."
            )
        if status in (401, 403):
            if user_token:
                raise CRMAuthError(f"Zoho refused the user's token ({described}).")
            hint = {
                "OAUTH_SCOPE_MISMATCH": "Regenerate the refresh token with the scopes "
                "listed in docs/crm/zoho.md",
                "NO_PERMISSION": "Give the integration user's profile access to that "
                "module",
            }.get(code, f"Set {self._env[2]} to a refresh token of this data centre")
            raise CRMAuthError(
                f"Zoho CRM refused the request ({status} {described}). "
                f"{hint}, then reload the sidebar."
            )
        if status == 404:
            if code == "INVALID_URL_PATTERN":
                raise ConnectorError(
                    f"Zoho CRM does not know the URL {path} ({described}). Check "
                    "COPILOT_ZOHO_API_DOMAIN and the module names in the Zoho mapping."
                )
            raise CRMNotFoundError(f"Zoho CRM has nothing at {path} ({described}).")
        if code in ("INVALID_QUERY", "INVALID_MODULE", "SYNTAX_ERROR") or (
            code in ("INVALID_DATA", "MANDATORY_NOT_FOUND")
            and details.get("api_name") not in (None, "id")
        ):
            named = (
                details.get("column_name")
                or details.get("api_name")
                or details.get("module")
                or "?"
            )
            raise CRMMappingError(
                f"Zoho CRM rejected the field or module {named!r} ({described}). Fix the "
                f"Zoho mapping ({self.mapping.source}) to use API names that exist.",
                details={"code": code, "field": str(named)},
            )
        if code == "INVALID_DATA" and details.get("api_name") == "id":
            raise CRMNotFoundError(f"Zoho CRM has no record at {path} ({described}).")
        raise ConnectorError(
            f"Zoho CRM rejected {path} ({status} {described}).", details={"code": code}
        )

    def _request(self, operation: str, method: str, path: str, **kw: Any) -> _Reply:
        """One logical call with retries for rate limits and outages."""
        return call_with_retries(
            operation,
            lambda: self._send(method, path, **kw),
            self._retry,
            connector=self.name,
        )

    # --- COQL and paging -----------------------------------------------------------

    def _coql_page(self, query: str) -> tuple[list[dict[str, Any]], bool]:
        reply = self._send("POST", "/coql", body={"select_query": query})
        if reply.body is None:
            return [], False
        data = reply.body.get("data") or []
        info = reply.body.get("info") or {}
        if not isinstance(data, list):
            raise ConnectorError("Zoho CRM answered a COQL query without a data list.")
        return [r for r in data if isinstance(r, dict)], bool(info.get("more_records"))

    def _coql(self, operation: str, base: str, *, limit: int) -> list[dict[str, Any]]:
        """Run ``base`` (a query without LIMIT), paging with ``LIMIT offset, count``."""
        rows: list[dict[str, Any]] = []
        offset = 0
        while len(rows) < limit:
            count = min(self.coql_page_size, limit - len(rows))
            query = f"{base} limit {offset}, {count}"
            page, more = call_with_retries(
                operation,
                lambda q=query: self._coql_page(q),  # type: ignore[misc]
                self._retry,
                connector=self.name,
            )
            rows.extend(page)
            offset += len(page)
            if not more or not page:
                break
        return rows

    def _related_notes(self, record_id: str) -> list[dict[str, Any]]:
        """The Notes related list, paged with page/per_page."""
        rows: list[dict[str, Any]] = []
        page = 1
        per_page = min(self.mapping.notes_limit, 200)
        while len(rows) < self.mapping.notes_limit:
            reply = self._request(
                "notes",
                "GET",
                f"/{self.mapping.module}/{record_id}/{self.mapping.notes_module}",
                params={
                    "fields": "Note_Title,Note_Content,Created_Time,Owner",
                    "page": page,
                    "per_page": per_page,
                },
            )
            if reply.body is None:
                break
            rows.extend(r for r in reply.body.get("data") or [] if isinstance(r, dict))
            if not (reply.body.get("info") or {}).get("more_records"):
                break
            page += 1
        return rows[: self.mapping.notes_limit]

    # --- mapping validation --------------------------------------------------------

    def module_fields(self, module: str) -> dict[str, dict[str, Any]]:
        """Zoho's field metadata for *module*, keyed by API name."""
        reply = self._request(
            "fields", "GET", "/settings/fields", params={"module": module}
        )
        fields = (reply.body or {}).get("fields") or []
        return {str(f.get("api_name")): f for f in fields if isinstance(f, dict)}

    def mapping_problems(self) -> list[str]:
        """Every mapped field Zoho does not have, as sentences naming it."""
        problems: list[str] = []
        for module, wanted in self.mapping.required_fields().items():
            try:
                have = self.module_fields(module)
            except CRMMappingError as exc:
                problems.append(f"Zoho has no module {module!r} ({exc.message})")
                continue
            for api_name, key in sorted(wanted.items(), key=lambda kv: kv[1]):
                if not _api_name_ok(api_name) or api_name not in have:
                    problems.append(
                        f"{key} names {module}.{api_name}, which Zoho CRM does not have"
                    )
        return problems

    def validate_mapping(self) -> None:
        """Check the mapping against Zoho's field metadata, once; raise on a mismatch."""
        if self._validated:
            return
        with self._validate_lock:
            if self._validated:
                return
            problems = self.mapping_problems()
            if problems:
                raise CRMMappingError(
                    "The Zoho mapping does not match this Zoho CRM: "
                    + "; ".join(problems)
                    + f". Fix the field API names in {self.mapping.source} "
                    "(Setup > Developer Hub > APIs > API names) or create the fields.",
                    details={"problems": problems},
                )
            self._validated = True

    def check(self) -> ConnectorStatus:
        """Refresh a token and compare the mapping with Zoho's field metadata."""
        try:
            self._access_token()
            problems = self.mapping_problems()
        except ConnectorError as exc:
            return ConnectorStatus(
                name=self.name, ok=False, detail=exc.message, problems=[exc.message]
            )
        except ConfigError as exc:
            return ConnectorStatus(
                name=self.name, ok=False, detail=exc.message, problems=[exc.message]
            )
        if problems:
            return ConnectorStatus(
                name=self.name,
                ok=False,
                detail="the Zoho mapping does not match",
                problems=problems,
            )
        self._validated = True
        return ConnectorStatus(
            name=self.name,
            ok=True,
            detail=f"Zoho CRM at {self.api_domain}, module {self.mapping.module}",
        )

    # --- reading -----------------------------------------------------------------

    def _executor(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="zoho")
        return self._pool

    def _history_query(
        self,
        module: str,
        fields: Iterable[str | None],
        debtor_id: str,
        order_by: str | None,
    ) -> str:
        columns = sorted({f for f in fields if f} | {self.mapping.idempotency_field})
        query = (
            f"select {', '.join(columns[:COQL_MAX_COLUMNS])} from {module} "
            f"where {self.mapping.link_field} = {coql_quote(debtor_id)}"
        )
        if order_by:
            query += f" order by {order_by} desc"
        return query

    def fetch_context(self, debtor_id: str) -> DebtorContext:
        """The debtor's record, calls, written contacts and notes, in one round trip."""
        if not _ID_PATTERN.match(debtor_id):
            raise CRMNotFoundError(
                f"Zoho CRM has no debtor {debtor_id!r}: Zoho record ids are digits. "
                "Open the sidebar from a debtor's record."
            )
        self.validate_mapping()
        m = self.mapping
        calls_q = self._history_query(
            m.calls_module, m.calls.values(), debtor_id, m.calls.get("at")
        )
        tasks_q = self._history_query(
            m.tasks_module, m.tasks.values(), debtor_id, "Modified_Time"
        )
        started = time.perf_counter()
        pool = self._executor()
        jobs: dict[str, Future[Any]] = {
            "record": pool.submit(
                self._request, "fetch_debtor", "GET", f"/{m.module}/{debtor_id}"
            ),
            "calls": pool.submit(self._coql, "calls", calls_q, limit=self.max_history),
            "tasks": pool.submit(self._coql, "tasks", tasks_q, limit=self.max_history),
            "notes": pool.submit(self._related_notes, debtor_id),
        }
        record_reply = _result(jobs["record"], others=jobs.values())
        data = (record_reply.body or {}).get("data") or []
        if not data:
            for job in jobs.values():
                job.cancel()
            raise CRMNotFoundError(
                f"Zoho CRM has no {m.module} record {debtor_id}. It may have been "
                "deleted or merged; search for the debtor again."
            )
        record = data[0]
        calls = _result(jobs["calls"], others=jobs.values())
        tasks = _result(jobs["tasks"], others=jobs.values())
        notes = _result(jobs["notes"], others=jobs.values())
        log.info(
            "zoho fetch_context %s: %d calls, %d tasks, %d notes in %.0f ms",
            debtor_id,
            len(calls),
            len(tasks),
            len(notes),
            (time.perf_counter() - started) * 1000,
        )
        return self._context(record, calls, tasks, notes)

    def _context(
        self,
        record: dict[str, Any],
        calls: list[dict[str, Any]],
        tasks: list[dict[str, Any]],
        notes: list[dict[str, Any]],
    ) -> DebtorContext:
        debtor = self._debtor(record)
        account = self._account(record)
        attempts = [a for a in (self._call_attempt(c) for c in calls) if a]
        attempts += [a for a in (self._task_attempt(t) for t in tasks) if a]
        return DebtorContext(
            debtor=debtor,
            account=account,
            contact_attempts=tuple(attempts),
            promises=self._promises(record, account.currency),
            disputes=self._disputes(record, debtor.disputed),
            payments=self._payments(record, account.currency),
            notes=tuple(n for n in (self._note(n) for n in notes) if n),
            source=self.name,
            fetched_at=datetime.now(UTC),
        )

    def _get(self, record: Mapping[str, Any], section: str, name: str) -> Any:
        api_name = self.mapping.field(section, name)
        return record.get(api_name) if api_name else None

    def _debtor(self, record: dict[str, Any]) -> Debtor:
        def g(name: str) -> Any:
            return self._get(record, "debtor", name)

        record_id = str(record.get("id"))
        name = _text(g("name")) or " ".join(
            p for p in (_text(g("first_name")), _text(g("last_name"))) if p
        )
        jurisdiction = _jurisdiction(
            g("jurisdiction"), record_id, self.mapping.debtor.get("jurisdiction")
        )
        zone = _text(g("timezone"))
        if not zone:
            zone = _DEFAULT_ZONES[jurisdiction]
            log.warning("zoho debtor %s has no time zone; assuming %s", record_id, zone)
        disputed = bool(g("disputed"))
        try:
            return Debtor(
                id=record_id,
                name=name or record_id,
                jurisdiction=jurisdiction,
                timezone=zone,
                language=_language(g("language")),
                phone=_text(g("phone")),
                mobile=_text(g("mobile")),
                email=_text(g("email")),
                work_email=_text(g("work_email")),
                address=_text(g("address")),
                employer=_text(g("employer")),
                attorney_represented=bool(g("attorney_represented")),
                attorney_name=_text(g("attorney_name")),
                cease_requested=bool(g("cease_requested")),
                disputed=disputed,
                verification_sent=bool(g("verification_sent_on")),
                employer_prohibits_contact=bool(g("employer_prohibits_contact")),
                opted_out_channels=_channels(g("opted_out_channels")),
                authorized_channels=_channels(g("authorized_channels")),
                preferred_hours=_hours(g("preferred_hours")),
                hardship=bool(g("hardship")),
            )
        except ValueError as exc:
            raise CRMMappingError(
                f"Zoho record {record_id} does not describe a valid debtor ({exc}). "
                "Fix the record, or the Zoho mapping if it reads the wrong fields."
            ) from exc

    def _money(
        self, record: Mapping[str, Any], name: str, currency: str
    ) -> Money | None:
        amount = _decimal(self._get(record, "account", name))
        return None if amount is None else Money(amount=amount, currency=currency)

    def _currency(self, record: Mapping[str, Any]) -> str:
        value = _text(self._get(record, "account", "currency"))
        return (value or self.mapping.default_currency).upper()[:3]

    def _account(self, record: dict[str, Any]) -> Account:
        def g(name: str) -> Any:
            return self._get(record, "account", name)

        record_id = str(record.get("id"))
        currency = self._currency(record)
        balance = self._money(record, "balance", currency)
        due = _date(g("due_date"))
        if balance is None or due is None:
            missing = "balance" if balance is None else "due_date"
            raise CRMMappingError(
                f"Zoho record {record_id} has no {missing} in field "
                f"{self.mapping.account.get(missing)}. Fill it in Zoho, or map "
                f"account.fields.{missing} to the field that holds it."
            )
        fees = tuple(
            Fee(kind=kind, amount=money)
            for kind, money in (
                ("late_fee", self._money(record, "late_fees", currency)),
                ("collection_fee", self._money(record, "collection_fees", currency)),
            )
            if money is not None and money.amount > 0
        )
        plan = None
        instalment = self._money(record, "plan_instalment", currency)
        if instalment is not None and instalment.amount > 0:
            plan = PaymentPlan(
                instalment=instalment,
                frequency=_choice(
                    g("plan_frequency"), ("weekly", "biweekly", "monthly"), "monthly"
                ),
                next_due=_date(g("plan_next_due")),
                instalments_total=max(_int(g("plan_instalments_total")) or 1, 1),
                instalments_paid=max(_int(g("plan_instalments_paid")) or 0, 0),
                status=_choice(
                    g("plan_status"), ("active", "broken", "completed"), "active"
                ),
                missed_instalments=max(_int(g("plan_missed_instalments")) or 0, 0),
            )
        return Account(
            id=_text(g("reference")) or record_id,
            creditor=_text(g("creditor")) or "",
            product=_text(g("product")) or "",
            original_amount=self._money(record, "original_amount", currency),
            balance=balance,
            due_date=due,
            delinquent_since=_date(g("delinquent_since")),
            fees=fees,
            payment_plan=plan,
            time_barred=bool(g("time_barred")),
            legal_action_intended=bool(g("legal_action_intended")),
            legal_process_open=bool(g("legal_process_open")),
            negative_report_notice_sent_at=_date(g("negative_report_notice_on")),
            reference=_text(g("reference")) or "",
        )

    def _promises(
        self, record: dict[str, Any], currency: str
    ) -> tuple[PromiseToPay, ...]:
        amount = self._money(record, "promise_amount", currency)
        due = _date(self._get(record, "account", "promise_due"))
        if amount is None or due is None:
            return ()
        made = (
            _moment(self._get(record, "account", "promise_made_at"))
            or _moment(record.get("Modified_Time"))
            or datetime.now(UTC)
        )
        status = _choice(
            self._get(record, "account", "promise_status"),
            ("pending", "kept", "broken"),
            "pending",
        )
        return (PromiseToPay(amount=amount, due=due, made_at=made, status=status),)

    def _disputes(self, record: dict[str, Any], disputed: bool) -> tuple[Dispute, ...]:
        if not disputed:
            return ()
        opened = _date(self._get(record, "debtor", "dispute_opened_on"))
        sent = _date(self._get(record, "debtor", "verification_sent_on"))
        return (
            Dispute(
                opened_at=opened or sent or datetime.now(UTC).date(),
                reason=_text(self._get(record, "debtor", "dispute_reason")) or "",
                status="verified" if sent else "open",
                verification_sent_at=sent,
            ),
        )

    def _payments(self, record: dict[str, Any], currency: str) -> tuple[Payment, ...]:
        amount = self._money(record, "last_payment_amount", currency)
        on = _date(self._get(record, "account", "last_payment_on"))
        if amount is None or on is None or amount.amount <= 0:
            return ()
        return (Payment(at=on, amount=amount),)

    def _call_attempt(self, call: dict[str, Any]) -> ContactAttempt | None:
        def g(name: str) -> Any:
            return self._get(call, "calls", name)

        at = _moment(g("at"))
        if at is None:
            return None
        kind = (_text(g("type")) or "Outbound").lower()
        result = _text(g("result")) or ""
        outcome = self.mapping.call_outcomes.get(result, "conversation")
        if kind == "missed":
            outcome = "no_answer"
        if outcome not in (
            "no_answer",
            "voicemail",
            "conversation",
            "delivered",
            "failed",
        ):
            outcome = "conversation"
        return ContactAttempt(
            at=at,
            channel="call",
            direction="outbound" if kind == "outbound" else "inbound",
            outcome=outcome,
            agent=_owner(g("owner")),
            summary=_text(g("subject")) or "",
        )

    def _task_attempt(self, task: dict[str, Any]) -> ContactAttempt | None:
        def g(name: str) -> Any:
            return self._get(task, "tasks", name)

        channel = _CHANNEL_WORDS.get((_text(g("channel")) or "").lower())
        if channel not in ("sms", "email", "letter"):
            return None
        at = _moment(g("at")) or _moment(task.get("Created_Time"))
        if at is None:
            return None
        return ContactAttempt(
            at=at,
            channel=channel,
            direction="outbound",
            outcome="delivered",
            agent=_owner(g("owner")),
            summary=_text(g("subject")) or "",
        )

    def _note(self, note: dict[str, Any]) -> Note | None:
        at = _moment(note.get("Created_Time"))
        text = _text(note.get("Note_Content"))
        if at is None or not text:
            return None
        title = (_text(note.get("Note_Title")) or "").lower()
        kind = next(
            (k for k in ("hardship", "dispute", "legal", "call") if k in title),
            "general",
        )
        return Note(at=at, author=_owner(note.get("Owner")), text=text, kind=kind)

    # --- lists -------------------------------------------------------------------

    def _summary(self, record: dict[str, Any], rank: int) -> DebtorSummary | None:
        try:
            debtor = self._debtor(record)
            currency = self._currency(record)
            balance = self._money(record, "balance", currency)
            due = _date(self._get(record, "account", "due_date"))
        except (CRMMappingError, ValueError) as exc:
            log.warning(
                "zoho record %s skipped in a list: %s",
                record.get("id"),
                type(exc).__name__,
            )
            return None
        if balance is None or due is None:
            return None
        priority = (
            _decimal(record.get(self.mapping.priority_field or ""))
            if (self.mapping.priority_field)
            else None
        )
        flags = debtor.flags()
        return DebtorSummary(
            id=debtor.id,
            name=debtor.name,
            jurisdiction=debtor.jurisdiction,
            language=debtor.language,
            balance=balance,
            due_date=due,
            flags=tuple(flags),
            priority=float(priority) if priority is not None else float(-rank),
            reason=f"{balance.format(debtor.language)} due {due.isoformat()}",
        )

    def _summary_columns(self) -> list[str]:
        m = self.mapping
        names = [
            m.debtor.get(k)
            for k in (
                "name",
                "first_name",
                "last_name",
                "jurisdiction",
                "language",
                "timezone",
                "cease_requested",
                "attorney_represented",
                "disputed",
                "employer_prohibits_contact",
                "hardship",
                "opted_out_channels",
            )
        ]
        names += [m.account.get(k) for k in ("balance", "currency", "due_date")]
        names.append(m.priority_field)
        return sorted({n for n in names if n})[:COQL_MAX_COLUMNS]

    def search_debtors(self, query: str, limit: int = 20) -> list[DebtorSummary]:
        """Debtors matching a name, email, phone or record id."""
        text = query.strip()
        if len(text) < 2:
            return []
        self.validate_mapping()
        limit = max(1, min(limit, 200))
        if _ID_PATTERN.match(text) and len(text) >= 12:
            rows = self._coql(
                "search",
                f"select {', '.join(self._summary_columns())} "
                f"from {self.mapping.module} where id = {coql_quote(text)}",
                limit=1,
            )
        else:
            params: dict[str, Any] = {"page": 1, "per_page": limit}
            email_field = self.mapping.debtor.get("email")
            if _EMAIL_PATTERN.match(text) and email_field:
                params["criteria"] = f"({email_field}:equals:{escape_criteria(text)})"
            elif _PHONE_PATTERN.match(text) and sum(c.isdigit() for c in text) >= 7:
                params["phone"] = text
            else:
                params["word"] = text
            reply = self._request(
                "search", "GET", f"/{self.mapping.module}/search", params=params
            )
            rows = list((reply.body or {}).get("data") or [])
        found = [self._summary(r, i) for i, r in enumerate(rows[:limit])]
        return [s for s in found if s]

    def list_work_queue(self, limit: int = 50) -> list[DebtorSummary]:
        """Debtors with a balance, highest priority field first."""
        self.validate_mapping()
        limit = max(1, min(limit, 2000))
        m = self.mapping
        query = (
            f"select {', '.join(self._summary_columns())} from {m.module} "
            f"where {m.queue_where}"
        )
        if m.priority_field:
            query += f" order by {m.priority_field} desc"
        rows = self._coql("work_queue", query, limit=limit)
        found = [self._summary(r, i) for i, r in enumerate(rows)]
        summaries = [s for s in found if s]
        summaries.sort(key=lambda s: s.priority, reverse=True)
        return summaries

    # --- writing -----------------------------------------------------------------

    def _link(self, debtor_id: str) -> dict[str, Any]:
        if self.mapping.link_field == "Who_Id":
            return {"Who_Id": {"id": debtor_id}}
        return {"What_Id": {"id": debtor_id}, "$se_module": self.mapping.module}

    def _find_existing(self, module: str, activity: Activity) -> str | None:
        if module == self.mapping.notes_module:
            marker = KEY_MARKER.format(key=activity.idempotency_key)
            for note in self._related_notes(activity.debtor_id):
                if marker in (note.get("Note_Content") or ""):
                    return str(note.get("id"))
            return None
        key_field = self.mapping.idempotency_field
        rows, _ = self._coql_page(
            f"select id from {module} where {key_field} = "
            f"{coql_quote(activity.idempotency_key)} limit 0, 1"
        )
        return str(rows[0]["id"]) if rows else None

    def _payload(self, module: str, activity: Activity) -> dict[str, Any]:
        m = self.mapping
        if module == m.notes_module:
            return {
                "Note_Title": activity.subject[:120],
                "Note_Content": f"{activity.body}\n\n"
                + KEY_MARKER.format(key=activity.idempotency_key),
                "Parent_Id": {
                    "module": {"api_name": m.module},
                    "id": activity.debtor_id,
                },
            }
        record: dict[str, Any] = {
            "Subject": activity.subject[:255],
            "Description": activity.body,
            m.idempotency_field: activity.idempotency_key,
        }
        record.update(self._link(activity.debtor_id))
        if module == m.calls_module:
            record.update(
                {
                    "Call_Type": "Outbound",
                    "Call_Start_Time": activity.occurred_at.isoformat(
                        timespec="seconds"
                    ),
                    "Call_Duration": "00:00",
                }
            )
        else:
            record.update(
                {
                    "Status": m.task_status,
                    "Due_Date": activity.occurred_at.date().isoformat(),
                }
            )
            channel_field = m.tasks.get("channel")
            if channel_field:
                record[channel_field] = activity.kind
        return record

    def _write_once(self, module: str, activity: Activity) -> WriteResult:
        existing = self._find_existing(module, activity)
        if existing:
            return WriteResult(
                activity_id=existing,
                created=False,
                url=self._record_url(module, existing),
            )
        reply = self._send(
            "POST", f"/{module}", body={"data": [self._payload(module, activity)]}
        )
        results = (reply.body or {}).get("data") or []
        first = results[0] if results and isinstance(results[0], dict) else {}
        if first.get("status") != "success":
            code = str(first.get("code") or "no result")
            details: dict[str, Any] = (
                first["details"] if isinstance(first.get("details"), dict) else {}
            )
            named = details.get("api_name")
            if code in ("INVALID_DATA", "MANDATORY_NOT_FOUND") and named:
                raise CRMMappingError(
                    f"Zoho CRM refused the {module} record: {code} on field {named!r} "
                    f"({first.get('message', '')}). Check that field on {module} "
                    "(type, mandatory, API name) against the Zoho mapping."
                )
            raise ConnectorError(
                f"Zoho CRM did not create the {module} record "
                f"({code}: {first.get('message', '')})."
            )
        new_id = str((first.get("details") or {}).get("id"))
        return WriteResult(
            activity_id=new_id, created=True, url=self._record_url(module, new_id)
        )

    def write_activity(self, activity: Activity) -> WriteResult:
        """Create a Task, Call or Note for the debtor unless its key was written before."""
        if not _ID_PATTERN.match(activity.debtor_id):
            raise CRMNotFoundError(
                f"Zoho CRM has no debtor {activity.debtor_id!r}: record ids are digits."
            )
        self.validate_mapping()
        m = self.mapping
        module = {"call": m.calls_module, "note": m.notes_module}.get(
            activity.kind, m.tasks_module
        )
        # The lookup runs again on every retry: a create whose answer was lost must be
        # found, not repeated.
        result = call_with_retries(
            f"write_{activity.kind}",
            lambda: self._write_once(module, activity),
            self._retry,
            connector=self.name,
        )
        log.info(
            "zoho write %s %s for debtor %s created=%s",
            activity.kind,
            result.activity_id,
            activity.debtor_id,
            result.created,
        )
        return result

    def _record_url(self, module: str, record_id: str) -> str | None:
        match = re.match(r"https://www\.zohoapis\.([a-z.]+)$", self.api_domain)
        if not match:
            return None
        return f"https://crm.zoho.{match.group(1)}/crm/tab/{module}/{record_id}"

    # --- identity (for the widget's connection) ------------------------------------

    def org_id(self) -> str:
        """The id of the Zoho organisation this connector's credentials belong to."""
        if self._org_id is None:
            reply = self._request("org", "GET", "/org")
            self._org_id = _org_from(reply.body)
        return self._org_id

    def identify(self, oauth_token: str) -> dict[str, str]:
        """Who owns *oauth_token* in Zoho: user id, email, name and org id."""

        def once() -> dict[str, str]:
            users = self._send(
                "GET", "/users", params={"type": "CurrentUser"}, token=oauth_token
            )
            org = self._send("GET", "/org", token=oauth_token)
            listed = (users.body or {}).get("users") or []
            if not listed or not isinstance(listed[0], dict):
                raise CRMAuthError("Zoho returned no current user for that token.")
            user = listed[0]
            return {
                "user_id": str(user.get("id") or ""),
                "email": str(user.get("email") or ""),
                "name": str(user.get("full_name") or ""),
                "status": str(user.get("status") or ""),
                "org_id": _org_from(org.body),
            }

        return call_with_retries("identify", once, self._retry, connector=self.name)

    def close(self) -> None:
        """Close the HTTP client and the worker threads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
        self._http.close()


# --- small pure helpers ------------------------------------------------------------

_MALFORMED = object()


def _parse_json(response: httpx.Response) -> Any:
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        return _MALFORMED


def _error_code(response: httpx.Response) -> str:
    body = _parse_json(response)
    if isinstance(body, dict):
        return str(body.get("code") or "")
    return ""


def _result(job: Future[T], *, others: Iterable[Future[Any]]) -> T:
    try:
        return job.result()
    except BaseException:
        for other in others:
            other.cancel()
        raise


def _org_from(body: Any) -> str:
    orgs = (body or {}).get("org") if isinstance(body, dict) else None
    if not orgs or not isinstance(orgs[0], dict) or not orgs[0].get("id"):
        raise ConnectorError("Zoho CRM answered GET /org without an organisation id.")
    return str(orgs[0]["id"])


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, dict):
        value = value.get("name") or value.get("id")
    text = str(value).strip()
    return text or None


def _owner(value: Any) -> str:
    if isinstance(value, dict):
        return str(value.get("name") or value.get("email") or value.get("id") or "")
    return _text(value) or ""


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "" or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _int(value: Any) -> int | None:
    number = _decimal(value)
    return None if number is None else int(number)


def _date(value: Any) -> date | None:
    text = _text(value)
    if not text:
        return None
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _moment(value: Any) -> datetime | None:
    text = _text(value)
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    # Zoho always sends an offset; a bare value would be in the org's zone, unknown here.
    return moment if moment.tzinfo else None


def _choice(value: Any, allowed: tuple[str, ...], default: str) -> str:
    text = (_text(value) or "").lower().replace("-", "").replace(" ", "")
    return text if text in allowed else default


def _language(value: Any) -> str:
    text = (_text(value) or "").lower()
    return (
        "es"
        if text in ("es", "spanish", "español", "espanol") or text.startswith("es")
        else "en"
    )


def _jurisdiction(value: Any, record_id: str, field_name: str | None) -> str:
    text = (_text(value) or "").lower()
    found = _JURISDICTIONS.get(text)
    if found is None:
        raise CRMMappingError(
            f"Zoho record {record_id} has jurisdiction {value!r} in field {field_name}; "
            "the copilot knows US and CO. Fill the field, or map debtor.fields."
            "jurisdiction to the field that holds the country."
        )
    return found


def _channels(value: Any) -> tuple[str, ...]:
    items = (
        value if isinstance(value, list) else (str(value).split(";") if value else [])
    )
    found = []
    for item in items:
        channel = _CHANNEL_WORDS.get(str(item).strip().lower())
        if channel in CHANNELS and channel not in found:
            found.append(channel)
    return tuple(found)


def _hours(value: Any) -> HourWindow | None:
    text = _text(value)
    match = re.fullmatch(r"(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})", text or "")
    if not match:
        return None
    h1, m1, h2, m2 = (int(x) for x in match.groups())
    try:
        return HourWindow(start=dtime(h1, m1), end=dtime(h2, m2))
    except ValueError:
        return None
