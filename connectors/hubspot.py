"""HubSpot: contacts are debtors, engagements associated with them are their history.

Requests, through ``hubspot-api-client`` (urllib3 underneath):

- ``fetch_context``: ``GET /crm/v3/objects/contacts/{id}?properties=…&associations=…``,
  then one ``POST /crm/v3/objects/{type}/batch/read`` per engagement type that holds
  something (and ``deals`` when the account lives on a deal), all in parallel: two
  sequential round trips whatever the history holds.
- ``search_debtors`` and ``list_work_queue``: ``POST /crm/v3/objects/contacts/search``,
  paged with ``paging.next.after``.
- ``write_activity``: a search on the idempotency property, then
  ``POST /crm/v3/objects/{notes|calls|tasks|emails|communications}`` with an association
  to the contact.

Retries are ours (:func:`connectors._retry.call_with_retries`), never urllib3's: the
client's transport is built with ``Retry(total=0)``. urllib3 would retry a create below
the idempotency check, so a 5xx returned *after* HubSpot stored the object would create
it twice; at our level every attempt of a write first looks the key up again, and an
attempt that follows an ambiguous failure also reads the contact's associations, which do
not lag like the search index does.

Auth: a private-app token, or an OAuth access token renewed with the refresh-token grant
(``POST /oauth/v1/token``) when a refresh token, client id and secret are configured. A
private-app token cannot be refreshed: on a 401 the token variable is read again, so a
rotated token is picked up without a restart.
"""

from __future__ import annotations

import html
import json
import logging
import os
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Literal, TypeVar
from zoneinfo import available_timezones

import urllib3
import yaml
from hubspot import HubSpot
from hubspot.crm.associations.v4.exceptions import ApiException as _AssociationsError
from hubspot.crm.objects import (
    AssociationSpec,
    BatchReadInputSimplePublicObjectId,
    Filter,
    FilterGroup,
    PublicAssociationsForObject,
    PublicObjectId,
    PublicObjectSearchRequest,
    SimplePublicObjectId,
    SimplePublicObjectInputForCreate,
)
from hubspot.crm.objects.exceptions import ApiException as _ObjectsError
from hubspot.crm.properties.exceptions import ApiException as _PropertiesError
from hubspot.oauth.exceptions import ApiException as _OAuthError
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from urllib3.util.retry import Retry

from connectors._retry import RetryPolicy, call_with_retries, parse_retry_after
from connectors.base import Connector, ConnectorStatus
from copilot.config import Settings
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

__all__ = ["HubSpotConnector", "HubSpotMapping", "load_mapping", "resolve_timezone"]

log = logging.getLogger(__name__)

T = TypeVar("T")

# Each generated package of the client raises its own ApiException class.
ApiException = (_ObjectsError, _PropertiesError, _AssociationsError, _OAuthError)
ApiError = Any  # one of those; the client ships no type hints

_NOTE_KINDS = ("general", "hardship", "dispute", "call", "legal")
_OUTCOMES = ("no_answer", "voicemail", "conversation", "delivered", "failed")


# --- mapping ------------------------------------------------------------------------


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class _DebtorMap(_Strict):
    object: Literal["contacts"] = "contacts"
    properties: dict[str, str | None]
    jurisdictions: dict[Literal["US", "CO"], list[str]]
    default_timezones: dict[Literal["US", "CO"], str] = Field(default_factory=dict)


class _AccountMap(_Strict):
    object: Literal["contacts", "deals"] = "contacts"
    properties: dict[str, str | None]
    default_currency: str = "USD"
    creditor_fallback: str = ""


class _HistoryMap(_Strict):
    types: list[str]
    call_outcomes: dict[str, str] = Field(default_factory=dict)
    call_dispositions: dict[str, str] = Field(default_factory=dict)
    email_outcomes: dict[str, str] = Field(default_factory=dict)
    communication_channels: dict[str, str] = Field(default_factory=dict)
    note_kind_property: str | None = None
    max_per_type: int = Field(default=100, ge=1, le=100)


class _WriteKind(_Strict):
    object: str
    association_type_id: int
    body: str
    subject: str | None = None
    fixed: dict[str, str] = Field(default_factory=dict)


class _WriteMap(_Strict):
    idempotency_property: str
    kind_property: str | None = None
    kinds: dict[Literal["email", "sms", "letter", "call", "note", "task"], _WriteKind]


class _QueueMap(_Strict):
    sort_property: str
    direction: Literal["ASCENDING", "DESCENDING"] = "ASCENDING"


class HubSpotMapping(_Strict):
    """Which HubSpot objects and properties hold the debtor, the debt and the history."""

    debtor: _DebtorMap
    account: _AccountMap
    history: _HistoryMap
    write: _WriteMap
    work_queue: _QueueMap

    def debtor_prop(self, key: str) -> str | None:
        """The contact property mapped to *key*, or None when not tracked."""
        return self.debtor.properties.get(key)

    def account_prop(self, key: str) -> str | None:
        """The contact or deal property mapped to account *key*, or None."""
        return self.account.properties.get(key)

    def required(self) -> dict[str, dict[str, str]]:
        """Every mapped property per object type, with the mapping key that names it."""
        needed: dict[str, dict[str, str]] = {}

        def add(object_type: str, prop: str | None, key: str) -> None:
            if prop:
                needed.setdefault(object_type, {})[prop] = key

        for key, prop in self.debtor.properties.items():
            add(self.debtor.object, prop, f"debtor.properties.{key}")
        for key, prop in self.account.properties.items():
            add(self.account.object, prop, f"account.properties.{key}")
        add(
            self.debtor.object,
            self.work_queue.sort_property,
            "work_queue.sort_property",
        )
        if self.history.note_kind_property and "notes" in self.history.types:
            add("notes", self.history.note_kind_property, "history.note_kind_property")
        for kind, spec in self.write.kinds.items():
            add(
                spec.object,
                self.write.idempotency_property,
                "write.idempotency_property",
            )
            add(spec.object, self.write.kind_property, "write.kind_property")
            add(spec.object, spec.body, f"write.kinds.{kind}.body")
            add(spec.object, spec.subject, f"write.kinds.{kind}.subject")
            for prop in spec.fixed:
                add(spec.object, prop, f"write.kinds.{kind}.fixed")
        return needed


_REQUIRED_KEYS = {
    "debtor": ("last_name", "country"),
    "account": ("balance", "due_date"),
}


def load_mapping(path: Path | None = None) -> HubSpotMapping:
    """Read the YAML mapping (the packaged one unless *path* is given)."""
    where = str(path) if path else "the packaged connectors/mappings/hubspot.yaml"
    try:
        if path is None:
            text = (
                resources.files("connectors") / "mappings" / "hubspot.yaml"
            ).read_text(encoding="utf-8")
        else:
            text = Path(path).read_text(encoding="utf-8")
        mapping = HubSpotMapping.model_validate(yaml.safe_load(text))
    except OSError as exc:
        raise ConfigError(
            f"The HubSpot mapping {where} cannot be read ({exc.strerror}). "
            "Fix COPILOT_HUBSPOT_MAPPING or unset it to use the packaged mapping."
        ) from exc
    except (yaml.YAMLError, ValidationError) as exc:
        raise CRMMappingError(
            f"The HubSpot mapping {where} is not valid: {exc}. "
            "Compare it with docs/crm/hubspot.md."
        ) from exc

    for section, keys in _REQUIRED_KEYS.items():
        props = getattr(mapping, section).properties
        for key in keys:
            if not props.get(key):
                raise CRMMappingError(
                    f"The HubSpot mapping {where} leaves {section}.properties.{key} "
                    "empty, but the copilot cannot work without it. Name the HubSpot "
                    "property that holds it."
                )
    return mapping


# --- value parsing ------------------------------------------------------------------


@lru_cache(maxsize=1)
def _zone_index() -> dict[str, str]:
    return {_zone_key(zone): zone for zone in available_timezones()}


def _zone_key(value: str) -> str:
    value = value.strip().lower().replace("_slash_", "/")
    return re.sub(r"[^a-z0-9/]", "", value)


def resolve_timezone(value: str | None) -> str | None:
    """An IANA zone from HubSpot's ``hs_timezone`` value (``america_slash_bogota``) or a name."""
    if not value:
        return None
    return _zone_index().get(_zone_key(value))


def _is_true(value: str | None) -> bool:
    return (value or "").strip().lower() in ("true", "yes", "1", "on", "y")


def _parse_date(value: str | None) -> date | None:
    moment = _parse_datetime(value)
    return moment.date() if moment else None


def _parse_datetime(value: str | None) -> datetime | None:
    if not value or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return datetime.fromtimestamp(int(value) / 1000, tz=UTC)
    if len(value) == 10:
        return datetime.fromisoformat(value).replace(tzinfo=UTC)
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _parse_decimal(value: str | None) -> Decimal | None:
    if value is None or not value.strip():
        return None
    return Decimal(value.strip())


def _channels(value: str | None) -> tuple[Any, ...]:
    parts = [p.strip().lower() for p in re.split(r"[;,]", value or "")]
    return tuple(p for p in parts if p in CHANNELS)


def _hours(value: str | None) -> HourWindow | None:
    match = re.fullmatch(r"\s*(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})\s*", value or "")
    if not match:
        return None
    start, end = (datetime.strptime(part, "%H:%M").time() for part in match.groups())
    return HourWindow(start=start, end=end)


def _plain_text(value: str | None) -> str:
    text = re.sub(r"<br\s*/?>|</p>|</div>", "\n", value or "", flags=re.IGNORECASE)
    text = html.unescape(re.sub(r"<[^>]+>", "", text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _hubspot_time(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


class _Record:
    """One HubSpot object's properties, read through the mapping with clear errors."""

    def __init__(self, object_type: str, raw: Mapping[str, Any]) -> None:
        self.object_type = object_type
        self.id = str(raw.get("id", ""))
        self.props: dict[str, Any] = dict(raw.get("properties") or {})
        self.raw = raw

    def text(self, prop: str | None) -> str | None:
        if not prop:
            return None
        value = self.props.get(prop)
        if value is None:
            return None
        value = str(value).strip()
        return value or None

    def parsed(
        self, prop: str | None, parse: Callable[[str | None], T], what: str
    ) -> T:
        value = self.text(prop)
        try:
            return parse(value)
        except (ValueError, ArithmeticError, InvalidOperation) as exc:
            raise CRMMappingError(
                f"HubSpot {self.object_type} {self.id}: property {prop} holds a value "
                f"that is not {what}. Fix the value in HubSpot, or map a {what} property "
                "in the HubSpot mapping."
            ) from exc


# --- auth ---------------------------------------------------------------------------


class _Token:
    """The access token in force, renewed by OAuth refresh or by re-reading its variable."""

    def __init__(
        self,
        settings: Settings,
        environ: Mapping[str, str],
        refresh: Callable[..., Any],
    ) -> None:
        self._settings = settings
        self._environ = environ
        self._refresh = refresh
        self._lock = threading.Lock()
        self._value: str | None = None
        self._refresh_token: str | None = None

    def _env(self, name: str) -> str:
        return (self._environ.get(name) or "").strip()

    @property
    def uses_oauth_refresh(self) -> bool:
        """True when a refresh token, client id and secret are all configured."""
        s = self._settings
        return all(
            self._env(name)
            for name in (
                s.hubspot_refresh_token_env,
                s.hubspot_client_id_env,
                s.hubspot_client_secret_env,
            )
        )

    def current(self) -> str:
        """The token to send now."""
        with self._lock:
            if self._value is None:
                self._value = self._env(self._settings.hubspot_token_env) or None
                if self._value is None and self.uses_oauth_refresh:
                    self._value = self._refreshed()
                if self._value is None:
                    name = self._settings.hubspot_token_env
                    raise ConfigError(
                        f"The HubSpot connector needs an access token in the environment "
                        f"variable {name}, which is not set. Export {name} (a private-app "
                        "token) or configure OAuth refresh, and try again."
                    )
            return self._value

    def renew(self, rejected: str) -> bool:
        """Get a token other than *rejected*; False when there is none to get."""
        with self._lock:
            if self._value and self._value != rejected:
                return True  # another thread already renewed it
            if self.uses_oauth_refresh:
                self._value = self._refreshed()
                return True
            fresh = self._env(self._settings.hubspot_token_env)
            if fresh and fresh != rejected:
                log.info("hubspot token: re-read %s", self._settings.hubspot_token_env)
                self._value = fresh
                return True
            return False

    def _refreshed(self) -> str:
        s = self._settings
        refresh_token = self._refresh_token or self._env(s.hubspot_refresh_token_env)
        started = time.perf_counter()
        answer = self._refresh(
            grant_type="refresh_token",
            client_id=self._env(s.hubspot_client_id_env),
            client_secret=self._env(s.hubspot_client_secret_env),
            refresh_token=refresh_token,
        )
        log.info(
            "hubspot oauth refresh ok in %.0f ms",
            (time.perf_counter() - started) * 1000,
        )
        self._refresh_token = answer.get("refresh_token") or refresh_token
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise ConnectorError(
                "HubSpot's token endpoint answered without an access token. "
                "Check COPILOT_HUBSPOT_BASE_URL points at HubSpot's API host."
            )
        return token


# --- connector ----------------------------------------------------------------------


class HubSpotConnector(Connector):
    """Debtors as HubSpot contacts, history as engagements, write-back as engagements."""

    name: ClassVar[str] = "hubspot"
    label: ClassVar[str] = "HubSpot"
    page_size: ClassVar[int] = 100
    remembered_keys: ClassVar[int] = 2000

    def __init__(
        self,
        settings: Settings,
        *,
        mapping: HubSpotMapping | None = None,
        policy: RetryPolicy | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.settings = settings
        self.mapping = mapping or load_mapping(settings.hubspot_mapping)
        self.policy = policy or RetryPolicy(max_retries=settings.crm_max_retries)
        self._environ = os.environ if environ is None else environ
        self._host = settings.hubspot_base_url.rstrip("/")
        self._timeout = settings.crm_timeout_s
        self._apis: dict[str, Any] = {}
        self._apis_lock = threading.Lock()
        self._token = _Token(settings, self._environ, self._oauth_refresh)
        self._pool: ThreadPoolExecutor | None = None
        self._mapping_checked = False
        self._check_lock = threading.Lock()
        # Keys written by this process: HubSpot's search index lags behind writes, so a
        # quick second click would otherwise miss the first write.
        self._written: OrderedDict[str, WriteResult] = OrderedDict()

    @classmethod
    def from_settings(cls, settings: Settings) -> HubSpotConnector:
        """Build the connector from settings; the token is read on first use."""
        return cls(settings)

    # --- plumbing -------------------------------------------------------------------

    def _client(self, token: str | None) -> HubSpot:
        # Retry(total=0): retries happen above, where a write re-checks its key first.
        no_retry = Retry(total=0, redirect=0, raise_on_status=False)
        return HubSpot(access_token=token, host=self._host, retry=no_retry)

    def _api(self, name: str) -> Any:
        with self._apis_lock:
            if name not in self._apis:
                crm = self._client(self._token.current()).crm
                build: dict[str, Callable[[], Any]] = {
                    "objects": lambda: crm.objects.basic_api,
                    "batch": lambda: crm.objects.batch_api,
                    "search": lambda: crm.objects.search_api,
                    "properties": lambda: crm.properties.core_api,
                    "associations": lambda: crm.associations.v4.basic_api,
                }
                self._apis[name] = build[name]()
            return self._apis[name]

    def _use_token(self, token: str) -> None:
        with self._apis_lock:
            for api in self._apis.values():
                api.api_client.configuration.access_token = token

    def _oauth_refresh(self, **form: str) -> dict[str, Any]:
        api = self._client(None).oauth.tokens_api
        try:
            raw = api.create(
                **form, _preload_content=False, _request_timeout=self._timeout
            )
            return self._json(raw, "oauth refresh")
        except ApiException as exc:
            if exc.status in (400, 401, 403):
                raise CRMAuthError(
                    f"HubSpot refused the OAuth refresh ({exc.status}: "
                    f"{_error_message(exc)}). Re-authorize the app and set "
                    f"{self.settings.hubspot_refresh_token_env}, then reload the sidebar."
                ) from exc
            raise self._translate(exc, "oauth refresh", "") from exc
        except urllib3.exceptions.HTTPError as exc:
            raise self._unreachable("oauth refresh", exc) from exc

    def _json(self, raw: Any, operation: str) -> dict[str, Any]:
        try:
            data = json.loads(raw.data)
        except (ValueError, UnicodeDecodeError) as exc:
            raise ConnectorError(
                f"HubSpot answered {operation} with a body that is not JSON. "
                "This is usually a proxy or an outage page; try again, and check "
                "COPILOT_HUBSPOT_BASE_URL if it persists."
            ) from exc
        finally:
            raw.release_conn()
        if not isinstance(data, dict):
            raise ConnectorError(
                f"HubSpot answered {operation} with JSON of an unexpected shape. "
                "Check COPILOT_HUBSPOT_BASE_URL points at HubSpot's API host."
            )
        return data

    def _unreachable(self, operation: str, exc: Exception) -> CRMUnavailableError:
        timed_out = isinstance(exc, urllib3.exceptions.TimeoutError) or (
            isinstance(exc, urllib3.exceptions.MaxRetryError)
            and isinstance(exc.reason, urllib3.exceptions.TimeoutError)
        )
        if timed_out:
            return CRMUnavailableError(
                f"HubSpot did not answer {operation} within {self._timeout:g} s. "
                "Try again; raise COPILOT_CRM_TIMEOUT_S if HubSpot is just slow."
            )
        return CRMUnavailableError(
            f"HubSpot cannot be reached for {operation} ({type(exc).__name__}). "
            "Check the network and COPILOT_HUBSPOT_BASE_URL, then try again."
        )

    def _translate(self, exc: ApiError, operation: str, subject: str) -> Exception:
        status = exc.status or 0
        message = _error_message(exc)
        if status in (401, 403):
            if status == 403:
                return CRMAuthError(
                    f"HubSpot refused {operation} (403: {message}). Give the private app "
                    "or OAuth app the scopes listed in docs/crm/hubspot.md and reload "
                    "the sidebar."
                )
            return CRMAuthError(
                f"HubSpot refused the token (401: {message}). Set "
                f"{self.settings.hubspot_token_env} to a valid private-app token (or "
                "configure OAuth refresh) and reload the sidebar."
            )
        if status == 404:
            what = (
                f"HubSpot has no {subject}"
                if subject
                else f"HubSpot found nothing for {operation}"
            )
            return CRMNotFoundError(
                f"{what}. Check the id, or search for the debtor by name."
            )
        if status == 429:
            headers = exc.headers or {}
            retry_after = parse_retry_after(headers.get("Retry-After"))
            return CRMRateLimitedError(
                f"HubSpot's rate limit was reached during {operation}. Wait a moment "
                "and try again; the work on screen is kept.",
                retry_after_s=retry_after,
            )
        if status == 0 or status >= 500:
            return CRMUnavailableError(
                f"HubSpot failed {operation} ({status or 'no answer'}: {message}). "
                "Try again in a minute; the work on screen is kept."
            )
        return ConnectorError(
            f"HubSpot rejected {operation} ({status}: {message}). If a property is "
            "named, compare the HubSpot mapping with the account's properties."
        )

    def _request(
        self, operation: str, call: Callable[[Any], Any], api: str, subject: str = ""
    ) -> dict[str, Any]:
        """One HTTP request, with one token renewal on 401; errors as copilot errors."""
        renewed = False
        while True:
            client = self._api(api)
            token = client.api_client.configuration.access_token
            started = time.perf_counter()
            try:
                raw = call(client)
                data = self._json(raw, operation)
            except ApiException as exc:
                if exc.status == 401 and not renewed and self._token.renew(token):
                    renewed = True
                    self._use_token(self._token.current())
                    continue
                log.info(
                    "hubspot %s failed %s in %.0f ms",
                    operation,
                    exc.status,
                    (time.perf_counter() - started) * 1000,
                )
                raise self._translate(exc, operation, subject) from exc
            except urllib3.exceptions.HTTPError as exc:
                raise self._unreachable(operation, exc) from exc
            log.debug(
                "hubspot %s 2xx in %.0f ms",
                operation,
                (time.perf_counter() - started) * 1000,
            )
            return data

    def _retrying(self, operation: str, call: Callable[[], T]) -> T:
        return call_with_retries(operation, call, self.policy, connector=self.name)

    def _parallel(self, calls: list[Callable[[], T]]) -> list[T]:
        if len(calls) <= 1:
            return [call() for call in calls]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="hubspot")
        futures = [self._pool.submit(call) for call in calls]
        return [future.result() for future in futures]

    # --- mapping check --------------------------------------------------------------

    def _describe(self, object_type: str) -> set[str]:
        data = self._retrying(
            f"describe {object_type}",
            lambda: self._request(
                f"describe {object_type}",
                lambda api: api.get_all(
                    object_type, _preload_content=False, _request_timeout=self._timeout
                ),
                "properties",
                subject=f"object type {object_type}",
            ),
        )
        return {
            str(p.get("name")) for p in data.get("results") or [] if isinstance(p, dict)
        }

    def mapping_problems(self) -> list[str]:
        """Mapped properties that the HubSpot account does not have, one line each."""
        needed = self.mapping.required()
        object_types = sorted(needed)
        found = self._parallel(
            [lambda t=t: self._describe(t) for t in object_types]  # type: ignore[misc]
        )
        problems = []
        for object_type, existing in zip(object_types, found, strict=True):
            for prop, key in sorted(needed[object_type].items()):
                if prop not in existing:
                    problems.append(
                        f"{object_type}.{prop} (mapping {key}) does not exist in HubSpot"
                    )
        return problems

    def _ensure_mapping(self) -> None:
        if self._mapping_checked:
            return
        with self._check_lock:
            if self._mapping_checked:
                return
            problems = self.mapping_problems()
            if problems:
                raise CRMMappingError(
                    "The HubSpot mapping does not match this HubSpot account: "
                    + "; ".join(problems)
                    + ". Create the properties (docs/crm/hubspot.md) or fix the mapping "
                    "(COPILOT_HUBSPOT_MAPPING).",
                    details={"problems": problems},
                )
            self._mapping_checked = True

    def check(self) -> ConnectorStatus:
        """Probe the token and describe every mapped object type."""
        try:
            problems = self.mapping_problems()
        except (ConnectorError, ConfigError) as exc:
            return ConnectorStatus(name=self.name, ok=False, detail=exc.message)
        if problems:
            return ConnectorStatus(
                name=self.name,
                ok=False,
                detail="the HubSpot mapping does not match the account",
                problems=problems,
            )
        self._mapping_checked = True
        return ConnectorStatus(name=self.name, ok=True, detail="token and mapping ok")

    # --- reading --------------------------------------------------------------------

    def _contact_properties(self) -> list[str]:
        props = [p for p in self.mapping.debtor.properties.values() if p]
        if self.mapping.account.object == "contacts":
            props += [p for p in self.mapping.account.properties.values() if p]
        return sorted(set(props))

    def _history_properties(self, object_type: str) -> list[str]:
        common = ["hs_timestamp", "hubspot_owner_id"]
        per_type = {
            "calls": [
                "hs_call_direction",
                "hs_call_status",
                "hs_call_disposition",
                "hs_call_title",
                "hs_call_body",
            ],
            "emails": [
                "hs_email_direction",
                "hs_email_status",
                "hs_email_subject",
            ],
            "communications": [
                "hs_communication_channel_type",
                "hs_communication_body",
            ],
            "notes": ["hs_note_body"],
        }
        extra = [
            self.mapping.write.kind_property,
            self.mapping.write.idempotency_property,
        ]
        if object_type == "notes":
            extra.append(self.mapping.history.note_kind_property)
        return common + per_type.get(object_type, []) + [p for p in extra if p]

    def _batch_read(
        self, object_type: str, ids: list[str], props: list[str]
    ) -> list[_Record]:
        body = BatchReadInputSimplePublicObjectId(
            inputs=[SimplePublicObjectId(id=i) for i in ids],
            properties=props,
            properties_with_history=[],
        )
        operation = f"batch read {object_type}"
        data = self._retrying(
            operation,
            lambda: self._request(
                operation,
                lambda api: api.read(
                    object_type,
                    body,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                ),
                "batch",
            ),
        )
        return [_Record(object_type, r) for r in data.get("results") or []]

    def fetch_context(self, debtor_id: str) -> DebtorContext:
        """The contact, its debt and its history, in two round trips."""
        self._ensure_mapping()
        if not re.fullmatch(r"[0-9A-Za-z_-]{1,64}", debtor_id):
            raise CRMNotFoundError(f"HubSpot has no contact {debtor_id!r}.")
        history_types = list(self.mapping.history.types)
        wanted = history_types + (
            ["deals"] if self.mapping.account.object == "deals" else []
        )
        operation = f"read contact {debtor_id}"
        data = self._retrying(
            operation,
            lambda: self._request(
                operation,
                lambda api: api.get_by_id(
                    self.mapping.debtor.object,
                    debtor_id,
                    properties=self._contact_properties(),
                    associations=wanted,
                    archived=False,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                ),
                "objects",
                subject=f"contact {debtor_id}",
            ),
        )
        contact = _Record("contact", data)
        if not contact.id:
            raise ConnectorError(
                f"HubSpot answered the read of contact {debtor_id} without an id. "
                "Check COPILOT_HUBSPOT_BASE_URL points at HubSpot's API host."
            )

        linked = _associated_ids(data, wanted, self.mapping.history.max_per_type)
        reads: list[tuple[str, list[str]]] = [
            (t, linked[t]) for t in wanted if linked.get(t)
        ]
        results = self._parallel(
            [
                lambda t=t, ids=ids: self._batch_read(  # type: ignore[misc]
                    t,
                    ids,
                    self._history_properties(t)
                    if t != "deals"
                    else sorted(
                        {p for p in self.mapping.account.properties.values() if p}
                    ),
                )
                for t, ids in reads
            ]
        )
        by_type = {
            t: records for (t, _ids), records in zip(reads, results, strict=True)
        }

        if self.mapping.account.object == "deals":
            deals = sorted(by_type.get("deals", []), key=lambda r: r.id)
            if not deals:
                raise CRMNotFoundError(
                    f"HubSpot contact {debtor_id} has no associated deal holding the "
                    "debt. Associate the deal, or set account.object to contacts."
                )
            account_record = deals[0]
        else:
            account_record = contact

        debtor = self._debtor(contact, account_record)
        account = self._account(account_record, contact.id)
        attempts, notes = self._history(by_type)
        return DebtorContext(
            debtor=debtor,
            account=account,
            contact_attempts=tuple(attempts),
            promises=self._promises(account_record, account.currency),
            disputes=self._disputes(contact),
            payments=self._payments(account_record, account.currency),
            notes=tuple(sorted(notes, key=lambda n: n.at)),
            source=self.name,
            fetched_at=datetime.now(UTC),
        )

    def _jurisdiction(
        self, contact: _Record, currency: str | None
    ) -> Literal["US", "CO"]:
        country = (contact.text(self.mapping.debtor_prop("country")) or "").lower()
        for code, names in self.mapping.debtor.jurisdictions.items():
            if country in [n.lower() for n in names]:
                return code
        if not country and currency in ("USD", "COP"):
            return "CO" if currency == "COP" else "US"
        raise CRMMappingError(
            f"HubSpot contact {contact.id} has country {country or '(empty)'!r}, which "
            "matches no jurisdiction in the HubSpot mapping (debtor.jurisdictions). "
            "Set the contact's country, or add the value to the mapping."
        )

    def _currency(self, record: _Record) -> str:
        value = record.text(self.mapping.account_prop("currency"))
        return (value or self.mapping.account.default_currency).upper()

    def _debtor(self, contact: _Record, account_record: _Record) -> Debtor:
        p = self.mapping.debtor_prop
        jurisdiction = self._jurisdiction(contact, self._currency(account_record))
        zone = resolve_timezone(contact.text(p("timezone")))
        if zone is None:
            zone = self.mapping.debtor.default_timezones.get(jurisdiction)
            log.warning(
                "hubspot contact %s has no usable time zone; using %s", contact.id, zone
            )
            if zone is None:
                raise CRMMappingError(
                    f"HubSpot contact {contact.id} has no time zone and the mapping has "
                    f"no default for {jurisdiction}. Set the contact's time zone."
                )
        language = (contact.text(p("language")) or "en")[:2].lower()
        name = " ".join(
            part
            for part in (contact.text(p("first_name")), contact.text(p("last_name")))
            if part
        )
        return Debtor(
            id=contact.id,
            name=name or f"HubSpot contact {contact.id}",
            jurisdiction=jurisdiction,
            timezone=zone,
            language="es" if language == "es" else "en",
            phone=contact.text(p("phone")),
            mobile=contact.text(p("mobile")),
            email=contact.text(p("email")),
            work_email=contact.text(p("work_email")),
            address=contact.text(p("address")),
            employer=contact.text(p("employer")),
            attorney_represented=_is_true(contact.text(p("attorney_represented"))),
            attorney_name=contact.text(p("attorney_name")),
            cease_requested=_is_true(contact.text(p("cease_requested"))),
            disputed=_is_true(contact.text(p("disputed"))),
            verification_sent=contact.text(p("verification_sent_on")) is not None,
            employer_prohibits_contact=_is_true(
                contact.text(p("employer_prohibits_contact"))
            ),
            opted_out_channels=_channels(contact.text(p("opted_out_channels"))),
            authorized_channels=_channels(contact.text(p("authorized_channels"))),
            preferred_hours=_hours(contact.text(p("preferred_hours"))),
            hardship=_is_true(contact.text(p("hardship"))),
        )

    def _money(self, record: _Record, key: str, currency: str) -> Money | None:
        prop = self.mapping.account_prop(key)
        amount = record.parsed(prop, _parse_decimal, "a number")
        return None if amount is None else Money(amount=amount, currency=currency)

    def _account(self, record: _Record, contact_id: str) -> Account:
        a = self.mapping.account_prop
        currency = self._currency(record)
        balance = self._money(record, "balance", currency)
        due = record.parsed(a("due_date"), _parse_date, "a date")
        if balance is None or due is None:
            missing = a("balance") if balance is None else a("due_date")
            raise CRMMappingError(
                f"HubSpot {record.object_type} {record.id} has no value in {missing}, so "
                "it holds no debt the copilot can work. Fill it in HubSpot."
            )
        fees = []
        for kind in ("late_fees", "collection_fees"):
            fee = self._money(record, kind, currency)
            if fee is not None and fee.amount:
                fees.append(Fee(kind=kind.removesuffix("_fees"), amount=fee))
        return Account(
            id=record.text(a("reference")) or record.id or contact_id,
            creditor=record.text(a("creditor"))
            or self.mapping.account.creditor_fallback,
            product=record.text(a("product")) or "",
            original_amount=self._money(record, "original_amount", currency),
            balance=balance,
            due_date=due,
            delinquent_since=record.parsed(
                a("delinquent_since"), _parse_date, "a date"
            ),
            fees=tuple(fees),
            payment_plan=self._plan(record, currency),
            time_barred=_is_true(record.text(a("time_barred"))),
            legal_action_intended=_is_true(record.text(a("legal_action_intended"))),
            legal_process_open=_is_true(record.text(a("legal_process_open"))),
            negative_report_notice_sent_at=record.parsed(
                a("negative_report_notice_on"), _parse_date, "a date"
            ),
            reference=record.text(a("reference")) or "",
        )

    def _plan(self, record: _Record, currency: str) -> PaymentPlan | None:
        a = self.mapping.account_prop
        instalment = self._money(record, "plan_instalment", currency)
        if instalment is None:
            return None

        def count(key: str, default: int) -> int:
            value = record.parsed(a(key), _parse_decimal, "a number")
            return default if value is None else int(value)

        frequency = (record.text(a("plan_frequency")) or "monthly").lower()
        status = (record.text(a("plan_status")) or "active").lower()
        return PaymentPlan(
            instalment=instalment,
            frequency=frequency if frequency in ("weekly", "biweekly") else "monthly",
            next_due=record.parsed(a("plan_next_due"), _parse_date, "a date"),
            instalments_total=max(count("plan_instalments_total", 1), 1),
            instalments_paid=count("plan_instalments_paid", 0),
            status=status if status in ("broken", "completed") else "active",
            missed_instalments=count("plan_missed_instalments", 0),
        )

    def _promises(self, record: _Record, currency: str) -> tuple[PromiseToPay, ...]:
        a = self.mapping.account_prop
        amount = self._money(record, "promise_amount", currency)
        due = record.parsed(a("promise_due"), _parse_date, "a date")
        if amount is None or due is None:
            return ()
        made = record.parsed(a("promise_made_at"), _parse_datetime, "a date and time")
        status = (record.text(a("promise_status")) or "pending").lower()
        return (
            PromiseToPay(
                amount=amount,
                due=due,
                made_at=made or datetime.combine(due, datetime.min.time(), tzinfo=UTC),
                status=status if status in ("kept", "broken") else "pending",
            ),
        )

    def _disputes(self, contact: _Record) -> tuple[Dispute, ...]:
        p = self.mapping.debtor_prop
        if not _is_true(contact.text(p("disputed"))):
            return ()
        opened = contact.parsed(p("dispute_opened_on"), _parse_date, "a date")
        sent = contact.parsed(p("verification_sent_on"), _parse_date, "a date")
        return (
            Dispute(
                opened_at=opened or datetime.now(UTC).date(),
                reason=contact.text(p("dispute_reason")) or "",
                status="verified" if sent else "open",
                verification_sent_at=sent,
            ),
        )

    def _payments(self, record: _Record, currency: str) -> tuple[Payment, ...]:
        amount = self._money(record, "last_payment_amount", currency)
        on = record.parsed(
            self.mapping.account_prop("last_payment_on"), _parse_date, "a date"
        )
        if amount is None or on is None:
            return ()
        return (Payment(at=on, amount=amount),)

    def _history(
        self, by_type: Mapping[str, list[_Record]]
    ) -> tuple[list[ContactAttempt], list[Note]]:
        h = self.mapping.history
        kind_prop = self.mapping.write.kind_property
        attempts: list[ContactAttempt] = []
        notes: list[Note] = []
        for object_type, records in by_type.items():
            for r in records:
                at = r.parsed("hs_timestamp", _parse_datetime, "a date and time")
                if at is None:
                    continue
                author = r.text("hubspot_owner_id") or ""
                if object_type == "calls":
                    outcome = h.call_dispositions.get(
                        r.text("hs_call_disposition") or ""
                    ) or h.call_outcomes.get(
                        r.text("hs_call_status") or "", "no_answer"
                    )
                    attempts.append(
                        ContactAttempt(
                            at=at,
                            channel="call",
                            direction=_direction(
                                r.text("hs_call_direction"), "INBOUND"
                            ),
                            outcome=_outcome(outcome),
                            agent=author,
                            summary=r.text("hs_call_title")
                            or _plain_text(r.text("hs_call_body"))[:280],
                        )
                    )
                elif object_type == "emails":
                    attempts.append(
                        ContactAttempt(
                            at=at,
                            channel="email",
                            direction=_direction(
                                r.text("hs_email_direction"), "INCOMING_EMAIL"
                            ),
                            outcome=_outcome(
                                h.email_outcomes.get(
                                    r.text("hs_email_status") or "", "delivered"
                                )
                            ),
                            agent=author,
                            summary=r.text("hs_email_subject") or "",
                        )
                    )
                elif object_type == "communications":
                    channel = h.communication_channels.get(
                        r.text("hs_communication_channel_type") or ""
                    )
                    if channel in CHANNELS:
                        attempts.append(
                            ContactAttempt(
                                at=at,
                                channel=channel,
                                direction="outbound",
                                outcome="delivered",
                                agent=author,
                                summary=_plain_text(r.text("hs_communication_body"))[
                                    :280
                                ],
                            )
                        )
                elif object_type == "notes":
                    text = _plain_text(r.text("hs_note_body"))
                    if (r.text(kind_prop) or "") == "letter":
                        attempts.append(
                            ContactAttempt(
                                at=at,
                                channel="letter",
                                direction="outbound",
                                outcome="delivered",
                                agent=author,
                                summary=text.splitlines()[0][:280] if text else "",
                            )
                        )
                        continue
                    kind = (r.text(h.note_kind_property) or "general").lower()
                    notes.append(
                        Note(
                            at=at,
                            author=author,
                            text=text or "(empty note)",
                            kind=kind if kind in _NOTE_KINDS else "general",
                        )
                    )
        return attempts, notes

    # --- search and queue -----------------------------------------------------------

    def _search(
        self, request: PublicObjectSearchRequest, operation: str
    ) -> dict[str, Any]:
        return self._retrying(
            operation,
            lambda: self._request(
                operation,
                lambda api: api.do_search(
                    self.mapping.debtor.object,
                    request,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                ),
                "search",
            ),
        )

    def _search_pages(
        self,
        operation: str,
        limit: int,
        *,
        query: str | None = None,
        groups: list[FilterGroup] | None = None,
        sorts: list[dict[str, str]] | None = None,
    ) -> list[_Record]:
        records: list[_Record] = []
        after: str | None = None
        while len(records) < limit:
            request = PublicObjectSearchRequest(
                query=query,
                filter_groups=groups or [],
                sorts=sorts or [],
                properties=self._contact_properties(),
                limit=min(self.page_size, limit - len(records)),
                after=after,
            )
            data = self._search(request, operation)
            records += [_Record("contact", r) for r in data.get("results") or []]
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        return records[:limit]

    def _summary(self, contact: _Record, today: date) -> DebtorSummary | None:
        try:
            account = self._account(contact, contact.id)
            debtor = self._debtor(contact, contact)
        except CRMMappingError as exc:
            log.debug("hubspot contact %s skipped: %s", contact.id, exc.code)
            return None
        days = account.days_past_due(today)
        return DebtorSummary(
            id=debtor.id,
            name=debtor.name,
            jurisdiction=debtor.jurisdiction,
            language=debtor.language,
            balance=account.balance,
            due_date=account.due_date,
            flags=tuple(debtor.flags()),
            priority=float(days),
            reason=f"{days} days past due" if days else "not yet due",
        )

    def _require_contact_accounts(self, what: str) -> None:
        if self.mapping.account.object != "contacts":
            raise CRMMappingError(
                f"{what} reads the debt from the contact, but the HubSpot mapping keeps "
                "it on deals (account.object: deals). Copy the balance and due date to "
                "contact properties, or use the demo work queue."
            )

    def search_debtors(self, query: str, limit: int = 20) -> list[DebtorSummary]:
        """Contacts whose name, email, phone or id matches *query*."""
        self._ensure_mapping()
        self._require_contact_accounts("Search")
        query = query.strip()
        if not query:
            return []
        found = self._search_pages("search contacts", limit, query=query)
        if query.isdigit():
            by_id = FilterGroup(
                filters=[
                    Filter(property_name="hs_object_id", operator="EQ", value=query)
                ]
            )
            found = self._search_pages("search contact id", 1, groups=[by_id]) + found
        today = datetime.now(UTC).date()
        summaries: dict[str, DebtorSummary] = {}
        for record in found:
            summary = self._summary(record, today)
            if summary and summary.id not in summaries:
                summaries[summary.id] = summary
        return list(summaries.values())[:limit]

    def list_work_queue(self, limit: int = 50) -> list[DebtorSummary]:
        """Contacts with a balance, most overdue first."""
        self._ensure_mapping()
        self._require_contact_accounts("The work queue")
        balance = self.mapping.account_prop("balance")
        owing = FilterGroup(
            filters=[Filter(property_name=balance, operator="GT", value="0")]
        )
        q = self.mapping.work_queue
        sort = {"propertyName": q.sort_property, "direction": q.direction}
        records = self._search_pages("work queue", limit, groups=[owing], sorts=[sort])
        today = datetime.now(UTC).date()
        summaries = [s for r in records if (s := self._summary(r, today))]
        return sorted(summaries, key=lambda s: s.priority, reverse=True)

    # --- write-back -----------------------------------------------------------------

    def _find_by_key(self, object_type: str, key: str) -> str | None:
        prop = self.mapping.write.idempotency_property
        request = PublicObjectSearchRequest(
            filter_groups=[
                FilterGroup(
                    filters=[Filter(property_name=prop, operator="EQ", value=key)]
                )
            ],
            properties=[prop],
            limit=1,
        )
        operation = f"find {object_type} by key"
        data = self._request(
            operation,
            lambda api: api.do_search(
                object_type,
                request,
                _preload_content=False,
                _request_timeout=self._timeout,
            ),
            "search",
        )
        results = data.get("results") or []
        return str(results[0]["id"]) if results else None

    def _find_by_association(
        self, object_type: str, contact_id: str, key: str
    ) -> str | None:
        """The contact's engagement carrying *key*, read without the lagging search index."""
        ids: list[str] = []
        after: str | None = None
        while True:
            data = self._request(
                f"list {object_type} of contact",
                lambda api, after=after: api.get_page(  # type: ignore[misc]
                    self.mapping.debtor.object,
                    contact_id,
                    object_type,
                    after=after,
                    limit=500,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                ),
                "associations",
                subject=f"contact {contact_id}",
            )
            ids += [str(r.get("toObjectId")) for r in data.get("results") or []]
            after = ((data.get("paging") or {}).get("next") or {}).get("after")
            if not after:
                break
        prop = self.mapping.write.idempotency_property
        for start in range(0, len(ids), 100):
            chunk = ids[start : start + 100]
            body = BatchReadInputSimplePublicObjectId(
                inputs=[SimplePublicObjectId(id=i) for i in chunk],
                properties=[prop],
                properties_with_history=[],
            )
            data = self._request(
                f"batch read {object_type}",
                lambda api, body=body: api.read(  # type: ignore[misc]
                    object_type,
                    body,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                ),
                "batch",
            )
            for r in data.get("results") or []:
                if (r.get("properties") or {}).get(prop) == key:
                    return str(r["id"])
        return None

    def write_activity(self, activity: Activity) -> WriteResult:
        """Log the approved activity on the contact once, whatever retries happen."""
        self._ensure_mapping()
        key = activity.idempotency_key
        if key in self._written:
            return self._written[key].model_copy(update={"created": False})
        spec = self.mapping.write.kinds.get(activity.kind)
        if spec is None:
            raise CRMMappingError(
                f"The HubSpot mapping has no write.kinds.{activity.kind}, so a "
                f"{activity.kind} cannot be logged. Add it to the mapping."
            )

        properties = {
            "hs_timestamp": _hubspot_time(activity.occurred_at),
            self.mapping.write.idempotency_property: key,
            **spec.fixed,
        }
        if self.mapping.write.kind_property:
            properties[self.mapping.write.kind_property] = activity.kind
        if spec.subject:
            properties[spec.subject] = activity.subject
            properties[spec.body] = activity.body
        else:
            properties[spec.body] = f"{activity.subject}\n\n{activity.body}"
        create = SimplePublicObjectInputForCreate(
            properties=properties,
            associations=[
                PublicAssociationsForObject(
                    to=PublicObjectId(id=activity.debtor_id),
                    types=[
                        AssociationSpec(
                            association_category="HUBSPOT_DEFINED",
                            association_type_id=spec.association_type_id,
                        )
                    ],
                )
            ],
        )
        attempts = 0

        def attempt() -> WriteResult:
            nonlocal attempts
            attempts += 1
            existing = self._find_by_key(spec.object, key)
            if existing is None and attempts > 1:
                existing = self._find_by_association(
                    spec.object, activity.debtor_id, key
                )
            if existing is not None:
                return WriteResult(activity_id=existing, created=False)
            data = self._request(
                f"create {spec.object}",
                lambda api: api.create(
                    spec.object,
                    create,
                    _preload_content=False,
                    _request_timeout=self._timeout,
                ),
                "objects",
                subject=f"contact {activity.debtor_id}",
            )
            return WriteResult(activity_id=str(data.get("id")), created=True)

        try:
            result = self._retrying(f"write {activity.kind}", attempt)
        except CRMNotFoundError as exc:
            raise CRMNotFoundError(
                f"HubSpot has no contact {activity.debtor_id} to log the {activity.kind} "
                "on. Reload the debtor; the approved text is kept."
            ) from exc
        self._written[key] = result
        while len(self._written) > self.remembered_keys:
            self._written.popitem(last=False)
        return result

    def close(self) -> None:
        """Stop the worker threads used for parallel reads."""
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _associated_ids(
    data: Mapping[str, Any], types: Iterable[str], limit: int
) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    associations = data.get("associations") or {}
    for object_type in types:
        entry = associations.get(object_type) or {}
        ids = [str(r.get("id")) for r in entry.get("results") or [] if r.get("id")]
        found[object_type] = list(dict.fromkeys(ids))[:limit]
    return found


def _direction(value: str | None, inbound: str) -> Literal["inbound", "outbound"]:
    return "inbound" if (value or "").upper() == inbound else "outbound"


def _outcome(value: str) -> Any:
    return value if value in _OUTCOMES else "no_answer"


def _error_message(exc: ApiError) -> str:
    """HubSpot's own message from its error object, short and without the body."""
    try:
        body = json.loads(exc.body or "")
    except (TypeError, ValueError):
        return exc.reason or "no details"
    if isinstance(body, dict):
        message = str(body.get("message") or exc.reason or "no details")
        category = body.get("category")
        return f"{category}: {message}"[:300] if category else message[:300]
    return exc.reason or "no details"
