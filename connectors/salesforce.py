"""The Salesforce connector, over simple-salesforce.

Auth is the OAuth refresh-token grant against ``COPILOT_SALESFORCE_LOGIN_URL``.
simple-salesforce has no refresh grant and cannot refresh a session it was handed, so
this module posts the grant itself, builds ``Salesforce(session_id=..., instance_url=...)``
and, when Salesforce answers 401 ``INVALID_SESSION_ID``, refreshes once, rebuilds the
client and tries again.

A debtor's context is one SOQL query on the debtor object with child subqueries (the
account, Tasks, promises, payments, disputes, Notes); child sets longer than a page are
completed through ``nextRecordsUrl``. Which objects and fields hold what is read from the
YAML mapping (``connectors/mappings/salesforce.yaml``), checked against Salesforce's
describe before first use.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal, InvalidOperation
from importlib.resources import files
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import requests
import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from requests.adapters import HTTPAdapter
from simple_salesforce.api import Salesforce
from simple_salesforce.exceptions import (
    SalesforceError,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)
from simple_salesforce.format import format_soql, quote_soql_value

from connectors._retry import RetryPolicy, call_with_retries, parse_retry_after
from connectors.base import Connector, ConnectorStatus
from connectors.priority import score_context
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
    "SalesforceConnector",
    "SalesforceMapping",
    "load_mapping",
    "parse_limit_info",
]

log = logging.getLogger(__name__)

T = TypeVar("T")

NAME = "salesforce"
_SALESFORCE_ID = re.compile(r"^[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?$")
_LIMIT_INFO = re.compile(r"(?P<name>[\w-]+)=(?P<used>\d+)/(?P<total>\d+)")
_MAPPING_HINT = (
    "Fix the mapping (connectors/mappings/salesforce.yaml, or the copy named by "
    "COPILOT_SALESFORCE_MAPPING) or add the field in Salesforce Setup."
)


# ---------------------------------------------------------------------------------------
# Mapping


class _MapModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DebtorMap(_MapModel):
    object: str = "Contact"
    fields: dict[str, str | list[str] | None]
    jurisdiction_values: dict[str, str] = Field(default_factory=dict)
    language_values: dict[str, str] = Field(default_factory=dict)
    default_timezone: dict[str, str] = Field(default_factory=dict)


class AccountMap(_MapModel):
    object: str
    relationship: str
    debtor_lookup: str
    fields: dict[str, str | None]
    fees: dict[str, str] = Field(default_factory=dict)
    default_currency: dict[str, str] = Field(default_factory=dict)


class ChildMap(_MapModel):
    object: str
    relationship: str
    debtor_lookup: str | None = None
    limit: int = Field(default=100, ge=1, le=2000)
    fields: dict[str, str | None]
    outcome_values: dict[str, str] = Field(default_factory=dict)


class WorkQueueMap(_MapModel):
    candidates: int = Field(default=200, ge=1, le=2000)


class SalesforceMapping(_MapModel):
    """Which Salesforce objects and fields hold the debtor's data."""

    debtor: DebtorMap
    account: AccountMap
    history: ChildMap
    promises: ChildMap | None = None
    payments: ChildMap | None = None
    disputes: ChildMap | None = None
    notes: ChildMap | None = None
    work_queue: WorkQueueMap = Field(default_factory=WorkQueueMap)

    def children(self) -> dict[str, ChildMap]:
        """The mapped child sets by role, skipping the ones turned off."""
        found = {"history": self.history, "promises": self.promises,
                 "payments": self.payments, "disputes": self.disputes,
                 "notes": self.notes}
        return {role: child for role, child in found.items() if child is not None}


_REQUIRED = {
    "debtor": ("name", "jurisdiction"),
    "account": ("balance", "due_date"),
    "history": ("at", "idempotency_key"),
}


def load_mapping(path: Path | None = None) -> SalesforceMapping:
    """Read the YAML mapping at *path*, or the packaged default."""
    where = str(path) if path else "the packaged connectors/mappings/salesforce.yaml"
    try:
        if path is None:
            text = (files("connectors") / "mappings" / "salesforce.yaml").read_text("utf-8")
        else:
            text = Path(path).read_text("utf-8")
        raw = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(
            f"The Salesforce mapping {where} cannot be read ({exc.strerror}). "
            "Set COPILOT_SALESFORCE_MAPPING to a readable YAML file."
        ) from exc
    except yaml.YAMLError as exc:
        raise ConfigError(
            f"The Salesforce mapping {where} is not valid YAML ({exc}). Fix the file."
        ) from exc
    try:
        mapping = SalesforceMapping.model_validate(raw)
    except ValidationError as exc:
        first = exc.errors()[0]
        place = ".".join(str(p) for p in first["loc"])
        raise ConfigError(
            f"The Salesforce mapping {where} is malformed at {place}: {first['msg']}. "
            "Compare it with the packaged connectors/mappings/salesforce.yaml."
        ) from exc
    for section, names in _REQUIRED.items():
        fields = getattr(mapping, section).fields
        for name in names:
            if not fields.get(name):
                raise ConfigError(
                    f"The Salesforce mapping {where} leaves {section}.fields.{name} empty; "
                    "the copilot cannot work without it. Name the Salesforce field."
                )
    return mapping


# ---------------------------------------------------------------------------------------
# Small helpers


def parse_limit_info(header: str | None) -> dict[str, tuple[int, int]]:
    """``Sforce-Limit-Info`` as ``{"api-usage": (used, total), ...}``."""
    if not header:
        return {}
    return {m["name"]: (int(m["used"]), int(m["total"])) for m in _LIMIT_INFO.finditer(header)}


def _error_items(content: Any) -> list[tuple[str, str]]:
    # Salesforce sends a list of {"message", "errorCode"}; be lenient with anything else.
    items = content if isinstance(content, list) else [content]
    found = []
    for item in items:
        if isinstance(item, dict):
            found.append((str(item.get("errorCode") or item.get("error") or ""),
                          str(item.get("message") or item.get("error_description") or "")))
    return found


def _first_error(content: Any) -> tuple[str, str]:
    items = _error_items(content)
    return items[0] if items else ("", str(content)[:200])


def _decimal(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _date(value: Any) -> date | None:
    if not value:
        return None
    return date.fromisoformat(str(value)[:10])


def _datetime(value: Any) -> datetime | None:
    if not value:
        return None
    moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _channels(value: Any) -> tuple[Any, ...]:
    if not value:
        return ()
    names = [part.strip().lower() for part in str(value).split(";")]
    return tuple(dict.fromkeys(n for n in names if n in CHANNELS))


def _hours(value: Any) -> HourWindow | None:
    match = re.match(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$", str(value or ""))
    if not match:
        return None
    a, b, c, d = (int(g) for g in match.groups())
    try:
        return HourWindow(start=time(a, b), end=time(c, d))
    except ValueError:
        return None


def _lookup_value(table: dict[str, str], value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    for key, mapped in table.items():
        if key.casefold() == text.casefold():
            return mapped
    return None


class _TimeoutAdapter(HTTPAdapter):
    """Gives every request a timeout; simple-salesforce's ``create`` passes none."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__()
        self.timeout_s = timeout_s

    def send(self, request: Any, stream: bool = False, timeout: Any = None,
             verify: Any = True, cert: Any = None, proxies: Any = None) -> Any:
        return super().send(request, stream=stream,
                            timeout=self.timeout_s if timeout is None else timeout,
                            verify=verify, cert=cert, proxies=proxies)


class _SessionExpired(Exception):
    """Salesforce said INVALID_SESSION_ID; the caller refreshes and tries once more."""


@dataclass
class _Fields:
    """Mapped field names by role, for one object."""

    names: dict[str, str | list[str] | None]

    def get(self, record: dict[str, Any], role: str) -> Any:
        name = self.names.get(role)
        if not name:
            return None
        if isinstance(name, list):
            parts = [str(record.get(n)).strip() for n in name if record.get(n)]
            return ", ".join(p for p in parts if p) or None
        return record.get(name)

    def select(self, *extra: str) -> list[str]:
        chosen: list[str] = ["Id"]
        for name in self.names.values():
            if isinstance(name, list):
                chosen.extend(name)
            elif name:
                chosen.append(name)
        chosen.extend(extra)
        return list(dict.fromkeys(chosen))


# ---------------------------------------------------------------------------------------
# The connector


class SalesforceConnector(Connector):
    """Salesforce through simple-salesforce, with an OAuth refresh token.

    A *session* passed in (e.g. one that trusts a test CA) is used as is, plus a default
    timeout adapter and a response hook that reads ``Sforce-Limit-Info``.
    """

    name = NAME
    label = "Salesforce"

    def __init__(
        self,
        *,
        login_url: str,
        api_version: str = "59.0",
        mapping: SalesforceMapping | None = None,
        client_id_env: str = "SALESFORCE_CLIENT_ID",
        client_secret_env: str = "SALESFORCE_CLIENT_SECRET",  # noqa: S107
        refresh_token_env: str = "SALESFORCE_REFRESH_TOKEN",  # noqa: S107
        instance_url: str | None = None,
        timeout_s: float = 15.0,
        retry: RetryPolicy | None = None,
        session: requests.Session | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.login_url = login_url.rstrip("/")
        self.api_version = api_version
        self.mapping = mapping or load_mapping()
        self.env_names = (client_id_env, client_secret_env, refresh_token_env)
        self.configured_instance_url = instance_url
        self.timeout_s = timeout_s
        self.retry = retry or RetryPolicy()
        self.clock = clock or (lambda: datetime.now(UTC))
        self.session = session or requests.Session()
        adapter = _TimeoutAdapter(timeout_s)
        self.session.mount("https://", adapter)
        self.session.mount("http://", adapter)
        self.session.hooks["response"].append(self._on_response)
        self.api_usage: dict[str, tuple[int, int]] = {}
        self.instance_url: str | None = None
        self._sf: Salesforce | None = None
        self._lock = threading.Lock()
        self._local = threading.local()
        self._validated = False
        self._warned: set[str] = set()
        self._debtor_relationship = self.mapping.account.debtor_lookup.replace("__c", "__r")

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        *,
        session: requests.Session | None = None,
        retry: RetryPolicy | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> SalesforceConnector:
        """Build from ``COPILOT_SALESFORCE_*``; secrets are read when first needed."""
        return cls(
            login_url=settings.salesforce_login_url,
            api_version=settings.salesforce_api_version,
            mapping=load_mapping(settings.salesforce_mapping),
            client_id_env=settings.salesforce_client_id_env,
            client_secret_env=settings.salesforce_client_secret_env,
            refresh_token_env=settings.salesforce_refresh_token_env,
            instance_url=settings.salesforce_instance_url,
            timeout_s=settings.crm_timeout_s,
            retry=retry or RetryPolicy(max_retries=settings.crm_max_retries),
            session=session,
            clock=clock,
        )

    # --- transport --------------------------------------------------------------------

    def _on_response(self, response: requests.Response, *args: Any, **kwargs: Any) -> None:
        self._local.last = response
        usage = parse_limit_info(response.headers.get("Sforce-Limit-Info"))
        if usage:
            self.api_usage = usage
            used, total = usage.get("api-usage", (0, 0))
            log.debug("salesforce api usage %d/%d", used, total)

    def _last_retry_after(self) -> float | None:
        last = getattr(self._local, "last", None)
        return parse_retry_after(last.headers.get("Retry-After")) if last is not None else None

    def _fetch_token(self) -> tuple[str, str]:
        client_id_env, client_secret_env, refresh_token_env = self.env_names
        form = {
            "grant_type": "refresh_token",
            "client_id": secret(client_id_env, "Salesforce (connected app consumer key)"),
            "client_secret": secret(client_secret_env,
                                    "Salesforce (connected app consumer secret)"),
            "refresh_token": secret(refresh_token_env, "Salesforce (OAuth refresh token)"),
        }
        url = f"{self.login_url}/services/oauth2/token"
        try:
            response = self.session.post(url, data=form, timeout=self.timeout_s,
                                         headers={"Accept": "application/json"})
        except requests.Timeout as exc:
            raise CRMUnavailableError(
                f"The Salesforce login server did not answer within {self.timeout_s:g} s. "
                "Try again; if it persists, check COPILOT_SALESFORCE_LOGIN_URL."
            ) from exc
        except requests.RequestException as exc:
            raise CRMUnavailableError(
                f"The Salesforce login server at {self.login_url} cannot be reached "
                f"({type(exc).__name__}). Check COPILOT_SALESFORCE_LOGIN_URL and the network."
            ) from exc

        if response.status_code == 429 or response.status_code >= 500:
            error: ConnectorError = CRMUnavailableError(
                f"The Salesforce login server failed ({response.status_code}). Try again "
                "in a minute."
            )
            if response.status_code == 429:
                error = CRMRateLimitedError(
                    "The Salesforce login server asked us to slow down (429).",
                    retry_after_s=parse_retry_after(response.headers.get("Retry-After")),
                )
            raise error
        try:
            body = response.json()
        except ValueError as exc:
            raise ConnectorError(
                f"The Salesforce login server answered {response.status_code} with a body "
                "that is not JSON. Check COPILOT_SALESFORCE_LOGIN_URL."
            ) from exc
        if response.status_code != 200 or not isinstance(body, dict) \
                or "access_token" not in body:
            code, message = _first_error(body)
            raise CRMAuthError(
                f"Salesforce refused the refresh token ({response.status_code} {code}: "
                f"{message}). Authorize the connected app again and put the new refresh "
                f"token in {refresh_token_env} (and check {client_id_env} and "
                f"{client_secret_env})."
            )
        instance_url = str(body.get("instance_url") or self.configured_instance_url or "")
        if not instance_url:
            raise ConnectorError(
                "Salesforce issued a token without an instance URL. Set "
                "COPILOT_SALESFORCE_INSTANCE_URL."
            )
        log.info("salesforce token refreshed for %s", instance_url)
        return str(body["access_token"]), instance_url

    def _client(self, stale: Salesforce | None = None) -> Salesforce:
        with self._lock:
            if self._sf is None or self._sf is stale:
                token, instance_url = self._fetch_token()
                self.instance_url = instance_url.rstrip("/")
                self._sf = Salesforce(
                    session_id=token,
                    instance_url=self.instance_url,
                    session=self.session,
                    version=self.api_version,
                    parse_float=Decimal,
                )
            return self._sf

    def _translate(self, operation: str, call: Callable[[], T]) -> T:
        try:
            return call()
        except SalesforceExpiredSession as exc:
            raise _SessionExpired() from exc
        except SalesforceRefusedRequest as exc:
            code, message = _first_error(exc.content)
            if code == "REQUEST_LIMIT_EXCEEDED":
                raise CRMRateLimitedError(
                    f"Salesforce refused {operation}: the org's API request limit is "
                    f"reached ({message}). Wait, or ask the admin to raise the limit.",
                    retry_after_s=self._last_retry_after(),
                ) from exc
            raise CRMAuthError(
                f"Salesforce refused {operation} (403 {code}: {message}). Give the "
                "integration user access to the mapped objects and fields."
            ) from exc
        except SalesforceResourceNotFound as exc:
            code, message = _first_error(exc.content)
            raise CRMNotFoundError(
                f"Salesforce has no such record for {operation} ({code}: {message})."
            ) from exc
        except SalesforceMalformedRequest as exc:
            code, message = _first_error(exc.content)
            if code in ("INVALID_FIELD", "INVALID_TYPE", "INVALID_FIELD_FOR_INSERT_UPDATE"):
                raise CRMMappingError(
                    f"Salesforce rejected {operation} because of the mapping ({code}: "
                    f"{message.strip()}). {_MAPPING_HINT}"
                ) from exc
            if code in ("INVALID_CROSS_REFERENCE_KEY", "MALFORMED_ID",
                        "INVALID_QUERY_FILTER_OPERATOR"):
                raise CRMNotFoundError(
                    f"Salesforce does not know the record used in {operation} ({code}: "
                    f"{message})."
                ) from exc
            raise ConnectorError(
                f"Salesforce rejected {operation} (400 {code}: {message})."
            ) from exc
        except SalesforceGeneralError as exc:
            code, message = _first_error(exc.content)
            retry_after = self._last_retry_after()
            if exc.status == 429:
                raise CRMRateLimitedError(
                    f"Salesforce asked us to slow down during {operation} (429).",
                    retry_after_s=retry_after,
                ) from exc
            if exc.status >= 500:
                error = CRMUnavailableError(
                    f"Salesforce failed during {operation} ({exc.status} {code}). Try "
                    "again in a minute; your work in the sidebar is kept."
                )
                setattr(error, "retry_after_s", retry_after)  # noqa: B010
                raise error from exc
            raise ConnectorError(
                f"Salesforce answered {exc.status} to {operation} ({code}: {message})."
            ) from exc
        except SalesforceError as exc:
            raise ConnectorError(
                f"Salesforce answered {exc.status} to {operation}."
            ) from exc
        except requests.Timeout as exc:
            raise CRMUnavailableError(
                f"Salesforce did not answer {operation} within {self.timeout_s:g} s. Try "
                "again; raise COPILOT_CRM_TIMEOUT_S if the org is slow."
            ) from exc
        except requests.RequestException as exc:
            raise CRMUnavailableError(
                f"Salesforce cannot be reached for {operation} ({type(exc).__name__}). "
                "Check the network and the instance URL."
            ) from exc
        except ValueError as exc:
            raise ConnectorError(
                f"Salesforce sent a response to {operation} that is not valid JSON. Try "
                "again; if it persists, check the instance URL."
            ) from exc
        except (KeyError, TypeError) as exc:
            raise ConnectorError(
                f"Salesforce sent a response to {operation} in an unexpected shape "
                f"({type(exc).__name__}: {exc})."
            ) from exc

    def _run(self, operation: str, call: Callable[[Salesforce], T]) -> T:
        """Run *call* with a client: refresh once on an expired session, retry outages."""

        def attempt() -> T:
            client = self._client()
            try:
                return self._translate(operation, lambda: call(client))
            except _SessionExpired:
                log.info("salesforce session expired during %s; refreshing", operation)
            client = self._client(stale=client)
            try:
                return self._translate(operation, lambda: call(client))
            except _SessionExpired as exc:
                raise CRMAuthError(
                    "Salesforce rejected a freshly refreshed session (401). Check that the "
                    "connected app's OAuth policies allow API access for this user."
                ) from exc

        return call_with_retries(operation, attempt, self.retry, connector=NAME)

    # --- mapping validation -----------------------------------------------------------

    def _mapped_objects(self) -> list[str]:
        mapping = self.mapping
        names = [mapping.debtor.object, mapping.account.object]
        names += [child.object for child in mapping.children().values()]
        return list(dict.fromkeys(names))

    def _describe_all(self, client: Salesforce) -> dict[str, dict[str, Any] | None]:
        """Describe every mapped object in one composite batch request."""
        objects = self._mapped_objects()
        batch = {"batchRequests": [
            {"method": "GET", "url": f"v{self.api_version}/sobjects/{name}/describe"}
            for name in objects
        ]}
        answer: Any = client.restful("composite/batch", method="POST", json=batch)
        found: dict[str, dict[str, Any] | None] = {}
        for name, result in zip(objects, answer["results"], strict=True):
            status = int(result.get("statusCode", 0))
            if status == 200:
                found[name] = result["result"]
            elif status == 404:
                found[name] = None
            else:
                code, message = _first_error(result.get("result"))
                raise ConnectorError(
                    f"Salesforce could not describe {name} ({status} {code}: {message}). "
                    "Check the integration user's access to it."
                )
        return found

    def _describe_problems(self, client: Salesforce) -> tuple[list[str], str | None]:
        mapping = self.mapping
        problems: list[str] = []
        described = self._describe_all(client)

        def describe(sobject: str) -> dict[str, Any] | None:
            info = described.get(sobject)
            if info is None and f"no object {sobject}" not in " ".join(problems):
                problems.append(f"Salesforce has no object {sobject}")
            return info

        def check_fields(sobject: str, section: str, names: Iterable[tuple[str, Any]]) -> None:
            info = describe(sobject)
            if info is None:
                return
            known = {f["name"].lower() for f in info.get("fields", [])}
            for role, name in names:
                for one in (name if isinstance(name, list) else [name]):
                    if one and one.lower() not in known:
                        problems.append(f"{sobject} has no field {one} ({section}.{role})")

        check_fields(mapping.debtor.object, "debtor.fields", mapping.debtor.fields.items())
        account = mapping.account
        check_fields(account.object, "account.fields",
                     [*account.fields.items(), ("debtor_lookup", account.debtor_lookup),
                      *((f"fees.{n}", n) for n in account.fees)])
        children = {"account": (account.object, account.relationship)}
        for role, child in mapping.children().items():
            lookups = [("debtor_lookup", child.debtor_lookup)] if child.debtor_lookup else []
            check_fields(child.object, f"{role}.fields", [*child.fields.items(), *lookups])
            children[role] = (child.object, child.relationship)

        debtor_info = describe(mapping.debtor.object) or {}
        relationships = {
            str(r.get("relationshipName") or "").lower(): r
            for r in debtor_info.get("childRelationships", [])
        }
        for role, (sobject, relationship) in children.items():
            found = relationships.get(relationship.lower())
            if debtor_info and (found is None or found.get("childSObject") != sobject):
                problems.append(
                    f"{mapping.debtor.object} has no child relationship {relationship} to "
                    f"{sobject} ({role}.relationship)"
                )

        lookup_relationship = None
        for spec in (describe(account.object) or {}).get("fields", []):
            if spec["name"].lower() == account.debtor_lookup.lower():
                lookup_relationship = spec.get("relationshipName")
        return problems, lookup_relationship

    def _ensure_mapping(self) -> None:
        if self._validated:
            return
        problems, relationship = self._run("describe", self._describe_problems)
        if problems:
            raise CRMMappingError(
                "The Salesforce mapping does not match the org: " + "; ".join(problems)
                + f". {_MAPPING_HINT}",
                details={"problems": problems},
            )
        if relationship:
            self._debtor_relationship = relationship
        self._validated = True

    def check(self) -> ConnectorStatus:
        """Log in, describe every mapped object and report what is missing."""
        try:
            self._validated = False
            self._ensure_mapping()
        except CRMMappingError as exc:
            return ConnectorStatus(name=NAME, ok=False, detail=exc.message,
                                   problems=list(exc.details.get("problems", [])))
        except (ConnectorError, ConfigError) as exc:
            return ConnectorStatus(name=NAME, ok=False, detail=exc.message,
                                   problems=[exc.message])
        used, total = self.api_usage.get("api-usage", (0, 0))
        detail = f"connected to {self.instance_url}; mapping matches"
        if total:
            detail += f"; API usage {used}/{total} today"
        return ConnectorStatus(name=NAME, ok=True, detail=detail)

    # --- SOQL -------------------------------------------------------------------------

    def _child_subquery(self, child: ChildMap, order: str | None, descending: bool) -> str:
        fields = _Fields(dict(child.fields)).select()
        text = f"SELECT {', '.join(fields)} FROM {child.relationship}"
        if order:
            text += f" ORDER BY {order} {'DESC' if descending else 'ASC'}"
        return f"({text} LIMIT {child.limit})"

    def _account_fields(self) -> list[str]:
        return _Fields(dict(self.mapping.account.fields)).select(*self.mapping.account.fees)

    def _account_subquery(self) -> str:
        due = self.mapping.account.fields["due_date"]
        return (f"(SELECT {', '.join(self._account_fields())} FROM "
                f"{self.mapping.account.relationship} ORDER BY {due} ASC NULLS LAST)")

    def _context_query(self, debtor_id: str) -> str:
        mapping = self.mapping
        parts = _Fields(dict(mapping.debtor.fields)).select()
        parts.append(self._account_subquery())
        orders = {
            "history": (mapping.history.fields.get("created") or "CreatedDate", True),
            "promises": ((mapping.promises.fields.get("due") if mapping.promises else None),
                         True),
            "payments": ((mapping.payments.fields.get("at") if mapping.payments else None),
                         True),
            "disputes": ((mapping.disputes.fields.get("opened_at")
                          if mapping.disputes else None), True),
            "notes": ((mapping.notes.fields.get("at") if mapping.notes else None), True),
        }
        for role, child in mapping.children().items():
            order, descending = orders[role]
            parts.append(self._child_subquery(child, order, descending))
        return format_soql(
            "SELECT {:literal} FROM {:literal} WHERE Id = {}",
            ", ".join(parts), mapping.debtor.object, debtor_id,
        )

    def _complete_children(self, client: Salesforce, record: dict[str, Any]) -> None:
        # A child set longer than one page arrives with done=false and its own cursor.
        for value in record.values():
            if isinstance(value, dict) and value.get("done") is False:
                page = value
                while not page.get("done", True) and page.get("nextRecordsUrl"):
                    page = client.query_more(page["nextRecordsUrl"], identifier_is_url=True)
                    value["records"].extend(page["records"])
                value["done"] = True

    # --- reading ----------------------------------------------------------------------

    def fetch_context(self, debtor_id: str) -> DebtorContext:
        """The debtor's whole context in one SOQL query (plus pages of long child sets)."""
        if not _SALESFORCE_ID.match(debtor_id):
            raise CRMNotFoundError(
                f"Salesforce has no debtor {debtor_id!r}: a Salesforce id is 15 or 18 letters "
                "and digits. Open the sidebar from the debtor's record."
            )
        self._ensure_mapping()
        soql = self._context_query(debtor_id)

        def call(client: Salesforce) -> list[dict[str, Any]]:
            records: list[dict[str, Any]] = client.query(soql)["records"]
            if records:
                self._complete_children(client, records[0])
            return records

        records = self._run("fetch_context", call)
        if not records:
            raise CRMNotFoundError(
                f"Salesforce has no {self.mapping.debtor.object} with id {debtor_id}. Check "
                "the record, or that the integration user can see it."
            )
        return self._context(records[0])

    def search_debtors(self, query: str, limit: int = 20) -> list[DebtorSummary]:
        """Debtors whose name, email or phone contains *query* (or whose id it is)."""
        text = query.strip()
        if not text:
            return []
        self._ensure_mapping()
        debtor = _Fields(dict(self.mapping.debtor.fields))
        like = "'%" + format_soql("{:like}", text) + "%'"
        conditions = [
            f"{debtor.names[role]} LIKE {like}"
            for role in ("name", "email", "phone", "mobile")
            if isinstance(debtor.names.get(role), str)
        ]
        if _SALESFORCE_ID.match(text):
            conditions.append(f"Id = {quote_soql_value(text)}")
        soql = (
            f"SELECT {', '.join(debtor.select())}, {self._account_subquery()} "
            f"FROM {self.mapping.debtor.object} WHERE {' OR '.join(conditions)} "
            f"ORDER BY {debtor.names['name']} ASC LIMIT {max(1, min(limit, 200))}"
        )
        records = self._run("search_debtors",
                            lambda client: client.query_all(soql)["records"])
        now = self.clock()
        found = []
        for record in records:
            accounts = (record.get(self.mapping.account.relationship) or {}).get("records", [])
            summary = self._summary(record, self._pick_account(accounts), now, [], [])
            if summary is not None:
                found.append(summary)
        return found

    def list_work_queue(self, limit: int = 50) -> list[DebtorSummary]:
        """Open accounts, oldest due date first, ranked by the demo CRM's score.

        Three queries: the candidate accounts with their debtors' fields, the pending
        and broken promises of those debtors, and their Tasks of the last eight days.
        """
        self._ensure_mapping()
        mapping = self.mapping
        account = mapping.account
        relation = self._debtor_relationship
        debtor_fields = _Fields(dict(mapping.debtor.fields)).select()
        select = self._account_fields() + [account.debtor_lookup] + [
            f"{relation}.{name}" for name in debtor_fields
        ]
        balance, due = account.fields["balance"], account.fields["due_date"]
        accounts_soql = (
            f"SELECT {', '.join(dict.fromkeys(select))} FROM {account.object} "
            f"WHERE {balance} > 0 ORDER BY {due} ASC NULLS LAST "
            f"LIMIT {mapping.work_queue.candidates}"
        )
        now = self.clock()

        def call(client: Salesforce) -> tuple[list[dict[str, Any]], ...]:
            rows: list[dict[str, Any]] = client.query_all(accounts_soql)["records"]
            debtor_ids = list(dict.fromkeys(r[account.debtor_lookup] for r in rows
                                            if r.get(account.debtor_lookup)))
            promises: list[dict[str, Any]] = []
            tasks: list[dict[str, Any]] = []
            if debtor_ids and mapping.promises is not None:
                promises = client.query_all(self._promises_soql(debtor_ids))["records"]
            if debtor_ids:
                tasks = client.query_all(self._recent_tasks_soql(debtor_ids, now))["records"]
            return rows, promises, tasks

        rows, promise_rows, task_rows = self._run("list_work_queue", call)
        promises_by_debtor: dict[str, list[dict[str, Any]]] = {}
        for row in promise_rows:
            promises_by_debtor.setdefault(str(row.get(self._promise_lookup())), []).append(row)
        tasks_by_debtor: dict[str, list[dict[str, Any]]] = {}
        for row in task_rows:
            tasks_by_debtor.setdefault(str(row.get(self._history_lookup())), []).append(row)

        seen: set[str] = set()
        queue = []
        for row in rows:
            debtor_record = row.get(relation)
            debtor_id = row.get(account.debtor_lookup)
            if not debtor_record or not debtor_id or debtor_id in seen:
                continue
            seen.add(debtor_id)
            summary = self._summary(
                dict(debtor_record, Id=debtor_id), row, now,
                promises_by_debtor.get(debtor_id, []), tasks_by_debtor.get(debtor_id, []),
            )
            if summary is not None:
                queue.append(summary)
        queue.sort(key=lambda s: (-s.priority, s.id))
        return queue[:limit]

    def _promise_lookup(self) -> str:
        promises = self.mapping.promises
        return (promises.debtor_lookup if promises else None) or \
            self.mapping.account.debtor_lookup

    def _history_lookup(self) -> str:
        return self.mapping.history.debtor_lookup or "WhoId"

    def _promises_soql(self, debtor_ids: list[str]) -> str:
        promises = self.mapping.promises
        assert promises is not None  # noqa: S101 - guarded by the caller
        lookup = self._promise_lookup()
        fields = _Fields(dict(promises.fields)).select(lookup)
        status = promises.fields.get("status")
        where = f"{lookup} IN {quote_soql_value(debtor_ids)}"
        if status:
            where += f" AND {status} IN ('Pending', 'Broken')"
        return f"SELECT {', '.join(fields)} FROM {promises.object} WHERE {where}"

    def _recent_tasks_soql(self, debtor_ids: list[str], now: datetime) -> str:
        history = self.mapping.history
        lookup = self._history_lookup()
        fields = _Fields(dict(history.fields)).select(lookup)
        created = history.fields.get("created") or "CreatedDate"
        since = quote_soql_value(now - timedelta(days=8))
        return (f"SELECT {', '.join(fields)} FROM {history.object} WHERE {lookup} IN "
                f"{quote_soql_value(debtor_ids)} AND {created} >= {since}")


    # --- building domain objects ------------------------------------------------------

    def _jurisdiction(self, record: dict[str, Any]) -> Literal["US", "CO"]:
        debtor = self.mapping.debtor
        raw = _Fields(dict(debtor.fields)).get(record, "jurisdiction")
        value = _lookup_value(debtor.jurisdiction_values, raw) or (
            str(raw).upper() if raw else None)
        if value not in ("US", "CO"):
            raise CRMMappingError(
                f"{debtor.object} {record.get('Id')} has jurisdiction {raw!r}, which the "
                "mapping does not turn into US or CO. Add it under debtor.jurisdiction_values."
            )
        return "US" if value == "US" else "CO"

    def _debtor(self, record: dict[str, Any]) -> Debtor:
        debtor_map = self.mapping.debtor
        fields = _Fields(dict(debtor_map.fields))
        jurisdiction = self._jurisdiction(record)
        timezone = fields.get(record, "timezone")
        if not timezone:
            timezone = debtor_map.default_timezone.get(jurisdiction, "UTC")
            if record.get("Id") not in self._warned:
                self._warned.add(str(record.get("Id")))
                log.warning("salesforce debtor %s has no time zone; using %s",
                            record.get("Id"), timezone)
        language = _lookup_value(debtor_map.language_values,
                                 fields.get(record, "language"))
        if language not in ("en", "es"):
            language = "es" if jurisdiction == "CO" else "en"

        def text(role: str) -> str | None:
            value = fields.get(record, role)
            return str(value) if value not in (None, "") else None

        return Debtor(
            id=str(record["Id"]),
            name=str(fields.get(record, "name") or record["Id"]),
            jurisdiction=jurisdiction,
            timezone=str(timezone),
            language=language,
            phone=text("phone"),
            mobile=text("mobile"),
            email=text("email"),
            work_email=text("work_email"),
            address=text("address"),
            employer=text("employer"),
            attorney_represented=bool(fields.get(record, "attorney_represented")),
            attorney_name=text("attorney_name"),
            cease_requested=bool(fields.get(record, "cease_requested")),
            disputed=bool(fields.get(record, "disputed")),
            verification_sent=bool(fields.get(record, "verification_sent")),
            employer_prohibits_contact=bool(fields.get(record, "employer_prohibits_contact")),
            opted_out_channels=_channels(fields.get(record, "opted_out_channels")),
            authorized_channels=_channels(fields.get(record, "authorized_channels")),
            preferred_hours=_hours(fields.get(record, "preferred_hours")),
            hardship=bool(fields.get(record, "hardship")),
        )

    def _currency(self, record: dict[str, Any], role_field: str | None,
                  jurisdiction: str) -> str:
        value = record.get(role_field) if role_field else None
        if value:
            return str(value).upper()
        return self.mapping.account.default_currency.get(
            jurisdiction, "COP" if jurisdiction == "CO" else "USD")

    def _pick_account(self, accounts: list[dict[str, Any]]) -> dict[str, Any] | None:
        balance = self.mapping.account.fields["balance"] or ""
        open_ones = [a for a in accounts if (_decimal(a.get(balance)) or 0) > 0]
        chosen = open_ones or accounts
        return chosen[0] if chosen else None

    def _account(self, record: dict[str, Any], jurisdiction: str) -> Account:
        account_map = self.mapping.account
        fields = _Fields(dict(account_map.fields))
        currency = self._currency(record, account_map.fields.get("currency"), jurisdiction)

        def money(role: str) -> Money | None:
            amount = _decimal(fields.get(record, role))
            return None if amount is None else Money(amount=amount, currency=currency)

        balance = money("balance")
        due = _date(fields.get(record, "due_date"))
        if balance is None or due is None:
            raise CRMMappingError(
                f"{account_map.object} {record.get('Id')} has no balance or due date. Fill "
                f"{account_map.fields['balance']} and {account_map.fields['due_date']} in "
                "Salesforce."
            )
        fees = tuple(
            Fee(kind=kind, amount=Money(amount=amount, currency=currency))
            for name, kind in account_map.fees.items()
            if (amount := _decimal(record.get(name))) is not None and amount > 0
        )
        plan = None
        instalment = money("plan_instalment")
        if instalment is not None and instalment.amount > 0:
            frequency = str(fields.get(record, "plan_frequency") or "monthly").lower()
            status = str(fields.get(record, "plan_status") or "active").lower()
            plan = PaymentPlan(
                instalment=instalment,
                frequency=frequency if frequency in ("weekly", "biweekly", "monthly")
                else "monthly",
                next_due=_date(fields.get(record, "plan_next_due")),
                instalments_total=max(1, int(_decimal(
                    fields.get(record, "plan_instalments_total")) or 1)),
                instalments_paid=max(0, int(_decimal(
                    fields.get(record, "plan_instalments_paid")) or 0)),
                status=status if status in ("active", "broken", "completed")
                else "active",
                missed_instalments=max(0, int(_decimal(
                    fields.get(record, "plan_missed_instalments")) or 0)),
            )
        return Account(
            id=str(record["Id"]),
            creditor=str(fields.get(record, "creditor") or ""),
            product=str(fields.get(record, "product") or ""),
            original_amount=money("original_amount"),
            balance=balance,
            due_date=due,
            delinquent_since=_date(fields.get(record, "delinquent_since")),
            fees=fees,
            payment_plan=plan,
            time_barred=bool(fields.get(record, "time_barred")),
            legal_action_intended=bool(fields.get(record, "legal_action_intended")),
            legal_process_open=bool(fields.get(record, "legal_process_open")),
            negative_report_notice_sent_at=_date(
                fields.get(record, "negative_report_notice_sent_at")),
            reference=str(fields.get(record, "reference") or ""),
        )

    def _contact_attempt(self, record: dict[str, Any]) -> ContactAttempt | None:
        history = self.mapping.history
        fields = _Fields(dict(history.fields))
        channel = str(fields.get(record, "channel") or "").lower()
        if channel not in CHANNELS:
            subtype = str(fields.get(record, "subtype") or "")
            channel = {"Call": "call", "Email": "email"}.get(subtype, "")
        if not channel:
            return None
        at = _datetime(fields.get(record, "at") or fields.get(record, "created"))
        if at is None:
            return None
        outcome = _lookup_value(history.outcome_values, fields.get(record, "outcome"))
        if outcome is None:
            outcome = {"call": "no_answer", "voicemail": "voicemail"}.get(channel,
                                                                          "delivered")
        direction = str(fields.get(record, "direction") or "").lower()
        return ContactAttempt(
            at=at,
            channel=channel,
            direction="inbound" if direction == "inbound" else "outbound",
            outcome=outcome,
            summary=str(fields.get(record, "subject") or ""),
        )

    def _context(self, record: dict[str, Any]) -> DebtorContext:
        mapping = self.mapping

        def rows(child: ChildMap | None) -> list[dict[str, Any]]:
            if child is None:
                return []
            return list((record.get(child.relationship) or {}).get("records", []))

        try:
            debtor = self._debtor(record)
            chosen = self._pick_account(
                (record.get(mapping.account.relationship) or {}).get("records", []))
            if chosen is None:
                raise CRMNotFoundError(
                    f"{mapping.debtor.object} {debtor.id} has no {mapping.account.object}: "
                    "there is no debt to collect on this record."
                )
            account = self._account(chosen, debtor.jurisdiction)
            currency = account.currency
            attempts = [a for r in rows(mapping.history)
                        if (a := self._contact_attempt(r)) is not None]
            promises = [p for r in rows(mapping.promises)
                        if (p := self._promise(r, currency)) is not None]
            payments = []
            if mapping.payments is not None:
                fields = _Fields(dict(mapping.payments.fields))
                for row in rows(mapping.payments):
                    amount, at = _decimal(fields.get(row, "amount")), _date(
                        fields.get(row, "at"))
                    if amount is None or at is None:
                        continue
                    row_currency = fields.get(row, "currency")
                    payments.append(Payment(at=at, amount=Money(
                        amount=amount, currency=str(row_currency or currency).upper())))
            disputes = []
            if mapping.disputes is not None:
                fields = _Fields(dict(mapping.disputes.fields))
                for row in rows(mapping.disputes):
                    opened = _date(fields.get(row, "opened_at"))
                    if opened is None:
                        continue
                    status = str(fields.get(row, "status") or "open").lower()
                    disputes.append(Dispute(
                        opened_at=opened, reason=str(fields.get(row, "reason") or ""),
                        status=status if status in ("open", "verified", "resolved")
                        else "open",
                        verification_sent_at=_date(fields.get(row, "verification_sent_at")),
                    ))
            notes = []
            if mapping.notes is not None:
                fields = _Fields(dict(mapping.notes.fields))
                for row in rows(mapping.notes):
                    at = _datetime(fields.get(row, "at"))
                    body = str(fields.get(row, "text") or "").strip()
                    if at is None or not body:
                        continue
                    title = str(fields.get(row, "title") or "").strip()
                    first = title.split()[0].lower().rstrip(":") if title else ""
                    kind = first if first in ("hardship", "dispute", "call", "legal") \
                        else "general"
                    notes.append(Note(at=at, text=body, kind=kind))
        except ValidationError as exc:
            raise ConnectorError(
                f"Salesforce record {record.get('Id')} holds a value the copilot cannot "
                f"read ({exc.errors()[0]['loc']}: {exc.errors()[0]['msg']}). Correct it in "
                "Salesforce or adjust the mapping."
            ) from exc
        except (ValueError, TypeError) as exc:
            raise ConnectorError(
                f"Salesforce record {record.get('Id')} holds a value the copilot cannot "
                f"read ({exc}). Correct it in Salesforce or adjust the mapping."
            ) from exc
        return DebtorContext(
            debtor=debtor, account=account, contact_attempts=tuple(attempts),
            promises=tuple(promises), disputes=tuple(disputes), payments=tuple(payments),
            notes=tuple(notes), source=NAME, fetched_at=self.clock(),
        )

    def _promise(self, row: dict[str, Any], currency: str) -> PromiseToPay | None:
        promises = self.mapping.promises
        if promises is None:
            return None
        fields = _Fields(dict(promises.fields))
        amount, due = _decimal(fields.get(row, "amount")), _date(fields.get(row, "due"))
        made = _datetime(fields.get(row, "made_at"))
        if amount is None or due is None or made is None:
            return None
        status = str(fields.get(row, "status") or "pending").lower()
        row_currency = str(fields.get(row, "currency") or currency).upper()
        return PromiseToPay(
            amount=Money(amount=amount, currency=row_currency), due=due, made_at=made,
            status=status if status in ("pending", "kept", "broken") else "pending",
        )

    def _summary(self, record: dict[str, Any], account_row: dict[str, Any] | None,
                 now: datetime, promise_rows: list[dict[str, Any]],
                 task_rows: list[dict[str, Any]]) -> DebtorSummary | None:
        if account_row is None:
            return None
        try:
            debtor = self._debtor(record)
            account = self._account(account_row, debtor.jurisdiction)
            context = DebtorContext(
                debtor=debtor, account=account,
                contact_attempts=tuple(a for r in task_rows
                                       if (a := self._contact_attempt(r)) is not None),
                promises=tuple(p for r in promise_rows
                               if (p := self._promise(r, account.currency)) is not None),
                source=NAME,
            )
        except (CRMMappingError, ValidationError, ValueError) as exc:
            log.warning("salesforce skips debtor %s in a list: %s", record.get("Id"),
                        type(exc).__name__)
            return None
        # The demo CRM's score, so every CRM ranks the queue the same way.
        score = score_context(context, now)
        flags = debtor.flags() + [
            name for name, on in (
                ("time_barred", account.time_barred),
                ("legal_action_intended", account.legal_action_intended),
                ("legal_process_open", account.legal_process_open),
            ) if on
        ]
        return DebtorSummary(
            id=debtor.id, name=debtor.name, jurisdiction=debtor.jurisdiction,
            language=debtor.language, balance=account.balance, due_date=account.due_date,
            flags=tuple(flags), priority=score.priority, reason=score.reason,
        )


    # --- writing ----------------------------------------------------------------------

    def _task_fields(self, activity: Activity) -> dict[str, Any]:
        names = self.mapping.history.fields
        label = {"email": "Email", "sms": "SMS", "letter": "Letter", "call": "Call",
                 "note": "Note", "task": "Task"}[activity.kind]
        values: dict[str, Any] = {
            "WhoId": activity.debtor_id,
            "Subject": f"{label}: {activity.subject}"[:255],
            "Description": activity.body[:32000],
            "ActivityDate": activity.occurred_at.date().isoformat(),
            "Status": "Completed",
        }
        mapped: dict[str, Any] = {
            "subtype": {"call": "Call", "email": "Email"}.get(activity.kind, "Task"),
            "channel": activity.kind if activity.kind in CHANNELS else None,
            "idempotency_key": activity.idempotency_key,
        }
        if activity.kind == "call":
            mapped["direction"] = "Outbound"
            outcome = next((k for k, v in self.mapping.history.outcome_values.items()
                            if v == "conversation"), None)
            mapped["outcome"] = outcome
        for role, value in mapped.items():
            name = names.get(role)
            if name and value is not None:
                values[name] = value
        return values

    def write_activity(self, activity: Activity) -> WriteResult:
        """Record *activity* as a completed Task on the debtor, once per idempotency key."""
        if not _SALESFORCE_ID.match(activity.debtor_id):
            raise CRMNotFoundError(
                f"Salesforce has no debtor {activity.debtor_id!r} to write to: a Salesforce "
                "id is 15 or 18 letters and digits."
            )
        self._ensure_mapping()
        history = self.mapping.history
        key_field = history.fields["idempotency_key"] or ""
        lookup = format_soql(
            "SELECT Id FROM {:literal} WHERE {:literal} = {} LIMIT 1",
            history.object, key_field, activity.idempotency_key,
        )
        values = self._task_fields(activity)

        def call(client: Salesforce) -> tuple[str, bool]:
            found = client.query(lookup)["records"]
            if found:
                return str(found[0]["Id"]), False
            try:
                result = getattr(client, history.object).create(values)
            except SalesforceMalformedRequest as exc:
                code, _ = _first_error(exc.content)
                if code != "DUPLICATE_VALUE":
                    raise
                # Another writer created it between our lookup and create.
                found = client.query(lookup)["records"]
                if not found:
                    raise
                return str(found[0]["Id"]), False
            if not result.get("success", True) or not result.get("id"):
                raise KeyError("id")
            return str(result["id"]), True

        activity_id, created = self._run("write_activity", call)
        log.info("salesforce %s %s for debtor %s (created=%s)", history.object,
                 activity_id, activity.debtor_id, created)
        url = f"{self.instance_url}/{activity_id}" if self.instance_url else None
        return WriteResult(activity_id=activity_id, created=created, url=url)

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()
