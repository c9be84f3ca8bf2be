"""A loopback emulator of the HubSpot CRM API, for tests driven by hubspot-api-client.

It serves the endpoints the HubSpot connector uses, with HubSpot's paths, paging
(``paging.next.after``), response shapes (checked against the client's generated models
in tests/test_connector_hubspot.py), error object (``{"status":"error","message",
"correlationId","category"}``) and headers (``Retry-After``, ``X-HubSpot-RateLimit-*``):

- ``GET  /crm/v3/objects/{type}/{id}?properties=&associations=``
- ``POST /crm/v3/objects/{type}/batch/read``
- ``POST /crm/v3/objects/{type}/search`` (query, filterGroups, sorts, after)
- ``POST /crm/v3/objects/{type}`` (create with associations)
- ``GET  /crm/v3/properties/{type}``
- ``GET  /crm/v4/objects/{type}/{id}/associations/{toType}``
- ``POST /oauth/v1/token`` (refresh-token grant)

Faults: ``inject(kind, times=1, **kw)`` with ``expired_token`` (every issued access token
stops working, as when an OAuth token expires or a private-app token is rotated),
``rate_limit`` (``retry_after=``), ``server_error`` (``status=``, ``after_commit=True``
stores a create before failing), ``slow`` (``seconds=``), ``malformed`` and ``missing_scopes`` (403); any fault
takes ``path=`` (exact) or ``path_contains=`` to aim at one endpoint. ``search_lag = True``
keeps new objects out of search results, as HubSpot's search index lags behind writes.
"""

from __future__ import annotations

import json
import re
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = [
    "HubSpotEmulator",
    "bench_setup",
    "CLIENT_ID",
    "CLIENT_SECRET",
    "REFRESH_TOKEN",
]

ACCESS_TOKEN = "pat-na1-emulator-0001"
CLIENT_ID = "emulator-client-id"
CLIENT_SECRET = "emulator-client-secret"
REFRESH_TOKEN = "emulator-refresh-token"

ENGAGEMENTS = ("calls", "emails", "communications", "notes", "tasks")

# (from, to) -> HUBSPOT_DEFINED association type id (hubspot/crm/association_type.py;
# communications from HubSpot's association type table).
ASSOCIATION_TYPES = {
    ("calls", "contacts"): 194,
    ("contacts", "calls"): 193,
    ("emails", "contacts"): 198,
    ("contacts", "emails"): 197,
    ("notes", "contacts"): 202,
    ("contacts", "notes"): 201,
    ("tasks", "contacts"): 204,
    ("contacts", "tasks"): 203,
    ("communications", "contacts"): 81,
    ("contacts", "communications"): 82,
    ("deals", "contacts"): 3,
    ("contacts", "deals"): 4,
}
SINGULAR = {
    "contacts": "contact",
    "deals": "deal",
    "calls": "call",
    "emails": "email",
    "notes": "note",
    "tasks": "task",
    "communications": "communication",
}

_STANDARD = {
    "contacts": [
        ("firstname", "string", "text"),
        ("lastname", "string", "text"),
        ("email", "string", "text"),
        ("work_email", "string", "text"),
        ("phone", "string", "phonenumber"),
        ("mobilephone", "string", "phonenumber"),
        ("company", "string", "text"),
        ("address", "string", "text"),
        ("country", "string", "text"),
        ("hs_timezone", "enumeration", "select"),
        ("hs_language", "enumeration", "select"),
        ("hs_object_id", "number", "number"),
        ("createdate", "datetime", "date"),
        ("lastmodifieddate", "datetime", "date"),
    ],
    "deals": [
        ("dealname", "string", "text"),
        ("amount", "number", "number"),
        ("deal_currency_code", "enumeration", "select"),
        ("closedate", "datetime", "date"),
        ("hs_object_id", "number", "number"),
    ],
    "calls": [
        ("hs_timestamp", "datetime", "date"),
        ("hs_call_title", "string", "text"),
        ("hs_call_body", "string", "html"),
        ("hs_call_direction", "enumeration", "select"),
        ("hs_call_status", "enumeration", "select"),
        ("hs_call_disposition", "string", "text"),
        ("hubspot_owner_id", "enumeration", "select"),
    ],
    "emails": [
        ("hs_timestamp", "datetime", "date"),
        ("hs_email_direction", "enumeration", "select"),
        ("hs_email_status", "enumeration", "select"),
        ("hs_email_subject", "string", "text"),
        ("hs_email_text", "string", "textarea"),
        ("hubspot_owner_id", "enumeration", "select"),
    ],
    "communications": [
        ("hs_timestamp", "datetime", "date"),
        ("hs_communication_channel_type", "enumeration", "select"),
        ("hs_communication_logged_from", "enumeration", "select"),
        ("hs_communication_body", "string", "textarea"),
        ("hubspot_owner_id", "enumeration", "select"),
    ],
    "notes": [
        ("hs_timestamp", "datetime", "date"),
        ("hs_note_body", "string", "html"),
        ("hubspot_owner_id", "enumeration", "select"),
    ],
    "tasks": [
        ("hs_timestamp", "datetime", "date"),
        ("hs_task_subject", "string", "text"),
        ("hs_task_body", "string", "html"),
        ("hs_task_status", "enumeration", "select"),
        ("hs_task_type", "enumeration", "select"),
        ("hubspot_owner_id", "enumeration", "select"),
    ],
}

# The custom properties docs/crm/hubspot.md asks an admin to create.
_CUSTOM_CONTACT = [
    ("copilot_attorney_represented", "bool"),
    ("copilot_attorney_name", "string"),
    ("copilot_cease_requested", "bool"),
    ("copilot_disputed", "bool"),
    ("copilot_dispute_reason", "string"),
    ("copilot_dispute_opened_on", "date"),
    ("copilot_verification_sent_on", "date"),
    ("copilot_employer_prohibits_contact", "bool"),
    ("copilot_opted_out_channels", "enumeration"),
    ("copilot_authorized_channels", "enumeration"),
    ("copilot_preferred_hours", "string"),
    ("copilot_hardship", "bool"),
    ("copilot_account_number", "string"),
    ("copilot_creditor", "string"),
    ("copilot_product", "string"),
    ("copilot_original_amount", "number"),
    ("copilot_balance", "number"),
    ("copilot_currency", "enumeration"),
    ("copilot_due_date", "date"),
    ("copilot_delinquent_since", "date"),
    ("copilot_late_fees", "number"),
    ("copilot_collection_fees", "number"),
    ("copilot_plan_instalment", "number"),
    ("copilot_plan_frequency", "enumeration"),
    ("copilot_plan_next_due", "date"),
    ("copilot_plan_instalments_total", "number"),
    ("copilot_plan_instalments_paid", "number"),
    ("copilot_plan_status", "enumeration"),
    ("copilot_plan_missed_instalments", "number"),
    ("copilot_time_barred", "bool"),
    ("copilot_legal_action_intended", "bool"),
    ("copilot_legal_process_open", "bool"),
    ("copilot_negative_report_notice_on", "date"),
    ("copilot_promise_amount", "number"),
    ("copilot_promise_due", "date"),
    ("copilot_promise_made_at", "datetime"),
    ("copilot_promise_status", "enumeration"),
    ("copilot_last_payment_amount", "number"),
    ("copilot_last_payment_on", "date"),
]
_FIELD_TYPES = {
    "bool": ("bool", "booleancheckbox"),
    "string": ("string", "text"),
    "date": ("date", "date"),
    "datetime": ("datetime", "date"),
    "number": ("number", "number"),
    "enumeration": ("enumeration", "select"),
}


def _now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _property(name: str, kind: str, field_type: str, custom: bool) -> dict[str, Any]:
    return {
        "name": name,
        "label": name.replace("_", " ").title(),
        "type": kind,
        "fieldType": field_type,
        "description": "",
        "groupName": "copilot" if custom else "contactinformation",
        "options": [
            {"label": "True", "value": "true", "displayOrder": 0, "hidden": False},
            {"label": "False", "value": "false", "displayOrder": 1, "hidden": False},
        ]
        if kind == "bool"
        else [],
        "displayOrder": -1,
        "calculated": False,
        "externalOptions": False,
        "hasUniqueValue": False,
        "hidden": False,
        "hubspotDefined": not custom,
        "formField": custom,
        "createdAt": "2024-01-10T12:00:00.000Z",
        "updatedAt": "2024-01-10T12:00:00.000Z",
        "archived": False,
        "modificationMetadata": {
            "archivable": custom,
            "readOnlyDefinition": not custom,
            "readOnlyValue": False,
        },
    }


def default_schema() -> dict[str, list[dict[str, Any]]]:
    """Property definitions per object type: HubSpot's standard ones plus ours."""
    schema = {
        t: [_property(n, k, f, custom=False) for n, k, f in props]
        for t, props in _STANDARD.items()
    }
    for name, kind in _CUSTOM_CONTACT:
        schema["contacts"].append(_property(name, *_FIELD_TYPES[kind], custom=True))
    for name, kind in [
        (n, k)
        for n, k in _CUSTOM_CONTACT
        if n.startswith("copilot_") and not n.endswith(("_represented", "_name"))
    ]:
        schema["deals"].append(_property(name, *_FIELD_TYPES[kind], custom=True))
    for t in ENGAGEMENTS:
        for name in ("copilot_idempotency_key", "copilot_activity_kind"):
            schema[t].append(_property(name, "string", "text", custom=True))
    schema["notes"].append(
        _property("copilot_note_kind", "string", "text", custom=True)
    )
    return schema


def _seed() -> list[dict[str, Any]]:
    """Debtors shaped like the demo CRM's: US and CO, with timezone-aware histories."""
    return [
        {
            "id": "101",
            "properties": {
                "firstname": "Dana",
                "lastname": "Whitfield",
                "email": "dana.whitfield@example.com",
                "phone": "+1 312 555 0142",
                "mobilephone": "+1 312 555 0143",
                "company": "Lakeshore Logistics",
                "address": "1420 W Addison St, Chicago, IL",
                "country": "United States",
                "hs_timezone": "america_slash_chicago",
                "hs_language": "en",
                "copilot_account_number": "LN-40017",
                "copilot_creditor": "Prairie Bank",
                "copilot_product": "personal loan",
                "copilot_original_amount": "3000.00",
                "copilot_balance": "1240.50",
                "copilot_currency": "USD",
                "copilot_due_date": "2026-09-15",
                "copilot_delinquent_since": "2026-09-16",
                "copilot_late_fees": "35.00",
                "copilot_hardship": "true",
                "copilot_opted_out_channels": "sms",
                "copilot_preferred_hours": "09:00-12:00",
                "copilot_promise_amount": "200.00",
                "copilot_promise_due": "2026-12-05",
                "copilot_promise_made_at": "2026-11-20T16:05:00.000Z",
                "copilot_promise_status": "pending",
            },
            "calls": [
                (
                    "2026-11-18T15:02:00.000Z",
                    "OUTBOUND",
                    "NO_ANSWER",
                    None,
                    "First call",
                ),
                (
                    "2026-11-20T16:00:00.000Z",
                    "OUTBOUND",
                    "COMPLETED",
                    "f240bbac-87c9-4f6e-bf70-924b57d47db7",
                    "Promise to pay $200",
                ),
                (
                    "2026-11-24T22:30:00.000Z",
                    "INBOUND",
                    "COMPLETED",
                    None,
                    "Called back",
                ),
            ],
            "emails": [
                ("2026-11-19T14:00:00.000Z", "EMAIL", "SENT", "Your account LN-40017")
            ],
            "communications": [("2026-11-17T13:00:00.000Z", "SMS", "Reminder sent")],
            "notes": [
                (
                    "2026-11-20T16:10:00.000Z",
                    "<p>Lost job in October; asked for a plan.</p>",
                    "hardship",
                ),
                ("2026-11-21T09:00:00.000Z", "<div>Letter 1 mailed.</div>", None),
            ],
        },
        {
            "id": "102",
            "properties": {
                "firstname": "Carlos",
                "lastname": "Restrepo",
                "email": "carlos.restrepo@example.co",
                "phone": "+57 604 555 0199",
                "mobilephone": "+57 300 555 0199",
                "country": "Colombia",
                "hs_timezone": "america_slash_bogota",
                "hs_language": "es",
                "copilot_account_number": "CO-7781",
                "copilot_creditor": "Banco Andino",
                "copilot_balance": "1250000",
                "copilot_currency": "COP",
                "copilot_due_date": "2026-08-01",
                "copilot_plan_instalment": "250000",
                "copilot_plan_frequency": "monthly",
                "copilot_plan_next_due": "2026-12-10",
                "copilot_plan_instalments_total": "5",
                "copilot_plan_instalments_paid": "1",
                "copilot_plan_status": "active",
                "copilot_last_payment_amount": "250000",
                "copilot_last_payment_on": "2026-11-10",
            },
            "calls": [
                (
                    "2026-11-10T14:00:00.000Z",
                    "OUTBOUND",
                    "COMPLETED",
                    None,
                    "Acuerdo de pago",
                ),
            ],
            "notes": [("2026-11-10T14:20:00.000Z", "Acordó plan de 5 cuotas.", None)],
        },
        {
            "id": "103",
            "properties": {
                "firstname": "Jordan",
                "lastname": "Ellis",
                "email": "j.ellis@example.com",
                "phone": "+1 212 555 0170",
                "country": "US",
                "hs_timezone": "America/New_York",
                "hs_language": "en",
                "copilot_balance": "480.00",
                "copilot_currency": "USD",
                "copilot_due_date": "2026-10-01",
                "copilot_cease_requested": "true",
                "copilot_attorney_represented": "true",
                "copilot_attorney_name": "Morgan & Pike LLP",
            },
            "calls": [("2026-10-20T18:00:00.000Z", "OUTBOUND", "BUSY", None, "Busy")],
        },
        {
            "id": "104",
            "properties": {
                "firstname": "Lucía",
                "lastname": "Martínez",
                "email": "lucia.m@example.co",
                "country": "CO",
                "hs_timezone": "america_slash_bogota",
                "hs_language": "es",
                "copilot_balance": "830000",
                "copilot_currency": "COP",
                "copilot_due_date": "2026-11-20",
                "copilot_disputed": "true",
                "copilot_dispute_reason": "No reconoce el cargo de octubre",
                "copilot_dispute_opened_on": "2026-11-22",
            },
        },
        {
            "id": "105",
            "properties": {
                "firstname": "Priya",
                "lastname": "Natarajan",
                "email": "priya.n@example.com",
                "phone": "+1 415 555 0123",
                "country": "United States",
                "hs_timezone": "america_slash_los_angeles",
                "copilot_balance": "2210.00",
                "copilot_currency": "USD",
                "copilot_due_date": "2026-07-01",
                "copilot_time_barred": "false",
                "copilot_legal_action_intended": "true",
            },
            "emails": [
                ("2026-11-02T17:00:00.000Z", "EMAIL", "BOUNCED", "Balance notice")
            ],
            # The same debt as a deal, for mappings with account.object: deals.
            "deals": [
                {
                    "dealname": "Auto loan AL-5512",
                    "amount": "2210.00",
                    "deal_currency_code": "USD",
                    "copilot_account_number": "AL-5512",
                    "copilot_creditor": "Golden Gate Auto Finance",
                    "copilot_balance": "2210.00",
                    "copilot_currency": "USD",
                    "copilot_due_date": "2026-07-01",
                    "copilot_legal_action_intended": "true",
                }
            ],
        },
        {
            "id": "106",
            "properties": {
                "firstname": "Sam",
                "lastname": "Whitfield",
                "email": "sam@vendor.example",
                "country": "United States",
                "company": "Vendor Co",
            },
        },
    ]


class _Fault:
    def __init__(self, kind: str, times: int, kw: dict[str, Any]) -> None:
        self.kind = kind
        self.remaining = times
        self.path_contains: str | None = kw.pop("path_contains", None)
        self.path: str | None = kw.pop("path", None)
        self.kw = kw


class _Reply(Exception):
    """Ends a request with this status, body and headers."""

    def __init__(
        self, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(status)
        self.status = status
        self.body = body
        self.headers = headers or {}


def _error(status: int, message: str, category: str, **extra: Any) -> _Reply:
    body = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
        "category": category,
        **extra,
    }
    return _Reply(status, body)


class HubSpotEmulator:
    """A threaded HTTP server on 127.0.0.1 that behaves like HubSpot's CRM API."""

    def __init__(self, delay_s: float = 0.0) -> None:
        self.delay_s = delay_s
        self.schema = default_schema()
        self.objects: dict[str, dict[str, dict[str, Any]]] = {
            t: {} for t in self.schema
        }
        self.links: dict[tuple[str, str], dict[str, list[str]]] = {}
        self.valid_tokens = {ACCESS_TOKEN}
        self.expired_tokens: set[str] = set()
        self.refresh_tokens = {REFRESH_TOKEN}
        self.request_count = 0
        self.search_lag = False
        self._unsearchable: set[tuple[str, str]] = set()
        self.requests: list[tuple[str, str]] = []
        self._faults: list[_Fault] = []
        self._next_id = 9000
        self._lock = threading.RLock()
        self._stopping = threading.Event()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        for debtor in _seed():
            self._seed_debtor(debtor)

    # --- lifecycle ----------------------------------------------------------------

    @property
    def url(self) -> str:
        """Base URL of the running server."""
        assert self._server is not None, "start() the emulator first"
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def start(self) -> HubSpotEmulator:
        """Serve on a free loopback port in a background thread."""
        emulator = self

        class Handler(_Handler):
            owner = emulator

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="hubspot-emulator",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and wake any request sleeping in a fault."""
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # --- test controls ------------------------------------------------------------

    def inject(self, kind: str, times: int = 1, **kw: Any) -> None:
        """Make the next *times* requests misbehave (see the module docstring)."""
        if kind not in (
            "expired_token",
            "rate_limit",
            "server_error",
            "slow",
            "malformed",
            "missing_scopes",
        ):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            if kind == "expired_token":
                self.expired_tokens |= self.valid_tokens
                self.valid_tokens = set()
                return
            self._faults.append(_Fault(kind, times, dict(kw)))

    def issue_token(self, token: str) -> None:
        """Accept *token* from now on (a rotated private-app token)."""
        with self._lock:
            self.valid_tokens.add(token)

    def activities(self, debtor_id: str) -> list[dict[str, Any]]:
        """Every engagement associated with the contact, as stored."""
        with self._lock:
            found = []
            for object_type in ENGAGEMENTS:
                for object_id in self.links.get(("contacts", debtor_id), {}).get(
                    object_type, []
                ):
                    record = self.objects[object_type][object_id]
                    found.append({"type": object_type, **record})
            return found

    @contextmanager
    def counting(self) -> Iterator[list[tuple[str, str]]]:
        """The requests served inside the block."""
        start = len(self.requests)
        seen: list[tuple[str, str]] = []
        yield seen
        seen.extend(self.requests[start:])

    # --- store --------------------------------------------------------------------

    def _new_id(self) -> str:
        self._next_id += 1
        return str(self._next_id)

    def _store(
        self, object_type: str, props: dict[str, Any], object_id: str | None = None
    ) -> dict[str, Any]:
        object_id = object_id or self._new_id()
        now = _now_iso()
        properties = {k: (None if v is None else str(v)) for k, v in props.items()}
        properties["hs_object_id"] = object_id
        if object_type == "contacts":
            properties.setdefault("createdate", now)
            properties["lastmodifieddate"] = now
        else:
            properties.setdefault("hs_createdate", now)
            properties["hs_lastmodifieddate"] = now
        record = {
            "id": object_id,
            "properties": properties,
            "createdAt": now,
            "updatedAt": now,
            "archived": False,
        }
        self.objects[object_type][object_id] = record
        return record

    def _link(self, from_type: str, from_id: str, to_type: str, to_id: str) -> None:
        self.links.setdefault((from_type, from_id), {}).setdefault(to_type, []).append(
            to_id
        )
        self.links.setdefault((to_type, to_id), {}).setdefault(from_type, []).append(
            from_id
        )

    def _seed_debtor(self, debtor: dict[str, Any]) -> None:
        contact = self._store("contacts", debtor["properties"], debtor["id"])
        cid = contact["id"]
        for at, direction, status, disposition, title in debtor.get("calls", []):
            call = self._store(
                "calls",
                {
                    "hs_timestamp": at,
                    "hs_call_direction": direction,
                    "hs_call_status": status,
                    "hs_call_disposition": disposition,
                    "hs_call_title": title,
                    "hubspot_owner_id": "7001",
                },
            )
            self._link("calls", call["id"], "contacts", cid)
        for at, direction, status, subject in debtor.get("emails", []):
            email = self._store(
                "emails",
                {
                    "hs_timestamp": at,
                    "hs_email_direction": direction,
                    "hs_email_status": status,
                    "hs_email_subject": subject,
                },
            )
            self._link("emails", email["id"], "contacts", cid)
        for at, channel, body in debtor.get("communications", []):
            comm = self._store(
                "communications",
                {
                    "hs_timestamp": at,
                    "hs_communication_channel_type": channel,
                    "hs_communication_logged_from": "CRM",
                    "hs_communication_body": body,
                },
            )
            self._link("communications", comm["id"], "contacts", cid)
        for at, body, kind in debtor.get("notes", []):
            note = self._store(
                "notes",
                {
                    "hs_timestamp": at,
                    "hs_note_body": body,
                    "copilot_note_kind": kind,
                },
            )
            self._link("notes", note["id"], "contacts", cid)
        for props in debtor.get("deals", []):
            deal = self._store("deals", props)
            self._link("deals", deal["id"], "contacts", cid)

    def _known(self, object_type: str) -> set[str]:
        return {p["name"] for p in self.schema.get(object_type, [])}

    def _view(
        self, record: dict[str, Any], object_type: str, wanted: list[str]
    ) -> dict[str, Any]:
        defaults = (
            ["createdate", "hs_object_id", "lastmodifieddate"]
            if object_type == "contacts"
            else ["hs_createdate", "hs_lastmodifieddate", "hs_object_id"]
        )
        known = self._known(object_type)
        props = {
            name: record["properties"].get(name)
            for name in dict.fromkeys(defaults + wanted)
            if name in known or name in defaults
        }
        return {
            "id": record["id"],
            "properties": props,
            "createdAt": record["createdAt"],
            "updatedAt": record["updatedAt"],
            "archived": False,
        }

    # --- dispatch -----------------------------------------------------------------

    def handle(self, method: str, raw_path: str, headers: Any, body: bytes) -> _Reply:
        """Answer one request (called from the handler threads)."""
        with self._lock:
            self.request_count += 1
            self.requests.append((method, urlsplit(raw_path).path))
            fault = self._take_fault(raw_path)
        if self.delay_s:
            self._stopping.wait(self.delay_s)
        if fault is not None and fault.kind == "slow":
            self._stopping.wait(float(fault.kw.get("seconds", 5)))
        if fault is not None and fault.kind == "missing_scopes":
            return _error(
                403,
                "This app hasn't been granted all required scopes to make this call.",
                "MISSING_SCOPES",
                errors=[
                    {
                        "message": "One or more of the following scopes are required.",
                        "context": {
                            "requiredGranularScopes": ["crm.objects.contacts.read"]
                        },
                    }
                ],
            )
        if fault is not None and fault.kind == "rate_limit":
            retry_after = fault.kw.get("retry_after", 1)
            reply = _error(
                429,
                "You have reached your ten_secondly_rolling limit.",
                "RATE_LIMITS",
                errorType="RATE_LIMIT",
                policyName="TEN_SECONDLY_ROLLING",
            )
            reply.headers.update(
                {
                    "Retry-After": str(retry_after),
                    "X-HubSpot-RateLimit-Max": "190",
                    "X-HubSpot-RateLimit-Remaining": "0",
                    "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                    "X-HubSpot-RateLimit-Daily": "250000",
                    "X-HubSpot-RateLimit-Daily-Remaining": "249000",
                }
            )
            return reply
        if (
            fault is not None
            and fault.kind == "server_error"
            and not fault.kw.get("after_commit")
        ):
            return _error(
                int(fault.kw.get("status", 500)), "internal error", "INTERNAL_ERROR"
            )

        url = urlsplit(raw_path)
        try:
            if url.path == "/oauth/v1/token" and method == "POST":
                reply = self._token(body)
            else:
                self._authenticate(headers)
                reply = self._route(method, url.path, parse_qs(url.query), body)
        except _Reply as answer:
            reply = answer

        if fault is not None and fault.kind == "server_error":
            return _error(
                int(fault.kw.get("status", 500)), "internal error", "INTERNAL_ERROR"
            )
        if fault is not None and fault.kind == "malformed":
            return _Reply(200, b'{"id": "101", "properties": {"firstname": ')
        reply.headers.setdefault("X-HubSpot-RateLimit-Max", "190")
        reply.headers.setdefault("X-HubSpot-RateLimit-Remaining", "189")
        return reply

    def _take_fault(self, raw_path: str) -> _Fault | None:
        for fault in self._faults:
            if fault.path_contains and fault.path_contains not in raw_path:
                continue
            if fault.path and fault.path != urlsplit(raw_path).path:
                continue
            fault.remaining -= 1
            if fault.remaining <= 0:
                self._faults.remove(fault)
            return fault
        return None

    def _authenticate(self, headers: Any) -> None:
        auth = headers.get("Authorization") or ""
        token = auth[7:] if auth.startswith("Bearer ") else ""
        with self._lock:
            if token in self.valid_tokens:
                return
            if token in self.expired_tokens:
                raise _error(
                    401,
                    "The OAuth token used to make this call expired 1 second(s) ago.",
                    "EXPIRED_AUTHENTICATION",
                    context={"expiredAt": [_now_iso()]},
                )
        raise _error(
            401,
            "Authentication credentials not found. This API supports OAuth 2.0 "
            "authentication and you can find more details at "
            "https://developers.hubspot.com/docs/methods/auth/oauth-overview",
            "INVALID_AUTHENTICATION",
        )

    def _token(self, body: bytes) -> _Reply:
        form = {k: v[0] for k, v in parse_qs(body.decode()).items()}
        if (
            form.get("grant_type") != "refresh_token"
            or form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
            or form.get("refresh_token") not in self.refresh_tokens
        ):
            raise _Reply(
                400,
                {
                    "status": "BAD_REFRESH_TOKEN",
                    "message": "missing or unknown refresh token",
                    "correlationId": str(uuid.uuid4()),
                    "requestId": str(uuid.uuid4()),
                },
            )
        token = f"emu-oauth-{uuid.uuid4().hex[:12]}"
        with self._lock:
            self.valid_tokens.add(token)
        return _Reply(
            200,
            {
                "token_type": "bearer",
                "refresh_token": form["refresh_token"],
                "access_token": token,
                "expires_in": 1800,
            },
        )

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: bytes
    ) -> _Reply:
        def params(name: str) -> list[str]:
            return [p for v in query.get(name, []) for p in v.split(",") if p]

        if m := re.fullmatch(r"/crm/v3/properties/(\w+)", path):
            if method == "GET":
                return self._properties(m[1])
        if m := re.fullmatch(r"/crm/v3/objects/(\w+)/batch/read", path):
            if method == "POST":
                return self._batch_read(m[1], self._json(body))
        if m := re.fullmatch(r"/crm/v3/objects/(\w+)/search", path):
            if method == "POST":
                return self._search(m[1], self._json(body))
        if m := re.fullmatch(r"/crm/v3/objects/(\w+)/([^/]+)", path):
            if method == "GET":
                return self._get(
                    m[1], m[2], params("properties"), params("associations")
                )
        if m := re.fullmatch(r"/crm/v3/objects/(\w+)", path):
            if method == "POST":
                return self._create(m[1], self._json(body))
        if m := re.fullmatch(r"/crm/v4/objects/(\w+)/([^/]+)/associations/(\w+)", path):
            if method == "GET":
                limit = int((query.get("limit") or ["500"])[0])
                after = int((query.get("after") or ["0"])[0])
                return self._associations_v4(m[1], m[2], m[3], limit, after)
        raise _error(
            404, f"Unable to route {method} request for {path}", "OBJECT_NOT_FOUND"
        )

    @staticmethod
    def _json(body: bytes) -> dict[str, Any]:
        try:
            data = json.loads(body or b"{}")
        except ValueError:
            raise _error(
                400, "Invalid input JSON on line 1", "VALIDATION_ERROR"
            ) from None
        if not isinstance(data, dict):
            raise _error(
                400, "Invalid input JSON: expected an object", "VALIDATION_ERROR"
            )
        return data

    def _type(self, object_type: str) -> str:
        if object_type not in self.objects:
            raise _error(
                400,
                f"Unable to infer object type from: {object_type}",
                "VALIDATION_ERROR",
            )
        return object_type

    # --- endpoints ----------------------------------------------------------------

    def _properties(self, object_type: str) -> _Reply:
        return _Reply(200, {"results": self.schema[self._type(object_type)]})

    def _get(
        self, object_type: str, object_id: str, props: list[str], assoc: list[str]
    ) -> _Reply:
        with self._lock:
            record = self.objects[self._type(object_type)].get(object_id)
            if record is None or record["archived"]:
                raise _error(
                    404,
                    "Object not found.  objectId are usually numeric.",
                    "OBJECT_NOT_FOUND",
                    context={"id": [object_id]},
                )
            view = self._view(record, object_type, props)
            linked = self.links.get((object_type, object_id), {})
            associations = {}
            for to_type in assoc:
                ids = linked.get(to_type, [])
                if ids:
                    label = (
                        f"{SINGULAR[object_type]}_to_{SINGULAR.get(to_type, to_type)}"
                    )
                    associations[to_type] = {
                        "results": [{"id": i, "type": label} for i in ids[:100]]
                    }
            if associations:
                view["associations"] = associations
            return _Reply(200, view)

    def _batch_read(self, object_type: str, body: dict[str, Any]) -> _Reply:
        started = _now_iso()
        props = list(body.get("properties") or [])
        inputs = body.get("inputs")
        if not isinstance(inputs, list) or len(inputs) > 100:
            raise _error(400, "inputs must hold 1 to 100 ids", "VALIDATION_ERROR")
        with self._lock:
            store = self.objects[self._type(object_type)]
            results, missing = [], []
            for item in inputs:
                record = store.get(str(item.get("id")))
                if record is None:
                    missing.append(str(item.get("id")))
                else:
                    results.append(self._view(record, object_type, props))
        answer: dict[str, Any] = {
            "status": "COMPLETE",
            "results": results,
            "startedAt": started,
            "completedAt": _now_iso(),
        }
        if not missing:
            return _Reply(200, answer)
        answer["numErrors"] = 1
        answer["errors"] = [
            {
                "status": "error",
                "category": "OBJECT_NOT_FOUND",
                "message": f"Could not get some {SINGULAR.get(object_type, object_type).upper()}"
                " objects, they may be deleted or not exist. Check that ids are valid.",
                "context": {"ids": missing},
                "links": {},
                "errors": [],
            }
        ]
        return _Reply(207, answer)

    def _matches_query(self, record: dict[str, Any], query: str) -> bool:
        q = query.lower().strip()
        props = record["properties"]
        for name in (
            "firstname",
            "lastname",
            "email",
            "phone",
            "mobilephone",
            "company",
        ):
            value = (props.get(name) or "").lower()
            if not value:
                continue
            if name in ("phone", "mobilephone"):
                digits = re.sub(r"\D", "", value)
                if q.isdigit() and len(q) >= 4 and q in digits:
                    return True
                continue
            tokens = [value] + re.split(r"[^\w]+", value)
            if any(t.startswith(q) for t in tokens if t):
                return True
        return False

    @staticmethod
    def _compare(
        value: str | None, operator: str, wanted: Any, values: list[str]
    ) -> bool:
        if operator == "HAS_PROPERTY":
            return value not in (None, "")
        if operator == "NOT_HAS_PROPERTY":
            return value in (None, "")
        if value is None:
            return operator in ("NEQ", "NOT_IN")
        if operator == "IN":
            return value.lower() in [v.lower() for v in values]
        if operator == "NOT_IN":
            return value.lower() not in [v.lower() for v in values]
        if operator == "CONTAINS_TOKEN":
            return str(wanted).lower().strip("*") in value.lower()
        left: Any = value
        right: Any = str(wanted)
        try:
            left, right = Decimal(value), Decimal(str(wanted))
        except InvalidOperation:
            left, right = value.lower(), str(wanted).lower()
        return {
            "EQ": left == right,
            "NEQ": left != right,
            "GT": left > right,
            "GTE": left >= right,
            "LT": left < right,
            "LTE": left <= right,
        }.get(operator, False)

    def _search(self, object_type: str, body: dict[str, Any]) -> _Reply:
        object_type = self._type(object_type)
        limit = int(body.get("limit") or 10)
        if limit > 200:
            raise _error(400, "limit must be at most 200", "VALIDATION_ERROR")
        after = int(body.get("after") or 0)
        known = self._known(object_type) | {"hs_object_id"}
        groups = body.get("filterGroups") or []
        for group in groups:
            for f in group.get("filters") or []:
                if f.get("propertyName") not in known:
                    raise _error(
                        400,
                        "There was a problem with the request.",
                        "VALIDATION_ERROR",
                        errors=[
                            {
                                "message": f"Property {f.get('propertyName')} does not exist",
                                "code": "INVALID_PROPERTY",
                            }
                        ],
                    )
        with self._lock:
            found = [
                r
                for r in self.objects[object_type].values()
                if not r["archived"]
                and (object_type, r["id"]) not in self._unsearchable
                and (
                    not body.get("query") or self._matches_query(r, str(body["query"]))
                )
                and (
                    not groups
                    or any(
                        all(
                            self._compare(
                                r["properties"].get(f["propertyName"]),
                                f.get("operator", "EQ"),
                                f.get("value"),
                                list(f.get("values") or []),
                            )
                            for f in g.get("filters") or []
                        )
                        for g in groups
                    )
                )
            ]
            for sort in reversed(body.get("sorts") or []):
                if isinstance(sort, str):
                    name, descending = sort.lstrip("-"), sort.startswith("-")
                else:
                    name = sort.get("propertyName")
                    descending = sort.get("direction") == "DESCENDING"
                found.sort(
                    key=lambda r: (
                        r["properties"].get(name) is None,
                        r["properties"].get(name) or "",
                    ),
                    reverse=descending,
                )
            if not body.get("sorts"):
                found.sort(key=lambda r: int(r["id"]))
            page = found[after : after + limit]
            props = list(body.get("properties") or [])
            answer: dict[str, Any] = {
                "total": len(found),
                "results": [self._view(r, object_type, props) for r in page],
            }
        if after + limit < len(found):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return _Reply(200, answer)

    def _create(self, object_type: str, body: dict[str, Any]) -> _Reply:
        object_type = self._type(object_type)
        props = body.get("properties") or {}
        unknown = sorted(set(props) - self._known(object_type))
        if unknown:
            raise _error(
                400,
                "Property values were not valid: "
                + json.dumps(
                    [
                        {
                            "isValid": False,
                            "message": f'Property "{n}" does not exist',
                            "error": "PROPERTY_DOESNT_EXIST",
                            "name": n,
                        }
                        for n in unknown
                    ]
                ),
                "VALIDATION_ERROR",
            )
        if object_type in ENGAGEMENTS and not props.get("hs_timestamp"):
            raise _error(400, "hs_timestamp is required", "VALIDATION_ERROR")
        links = []
        for association in body.get("associations") or []:
            to_id = str((association.get("to") or {}).get("id"))
            for spec in association.get("types") or []:
                type_id = spec.get("associationTypeId")
                to_type = next(
                    (
                        t
                        for (f, t), i in ASSOCIATION_TYPES.items()
                        if f == object_type and i == type_id
                    ),
                    None,
                )
                if (
                    to_type is None
                    or spec.get("associationCategory") != "HUBSPOT_DEFINED"
                ):
                    raise _error(
                        400,
                        f"{type_id} is not a valid association type id from "
                        f"{object_type}",
                        "VALIDATION_ERROR",
                    )
                if to_id not in self.objects[to_type]:
                    raise _error(
                        404,
                        f"No {to_type} with id {to_id} exists.",
                        "OBJECT_NOT_FOUND",
                        context={"id": [to_id]},
                    )
                links.append((to_type, to_id))
        with self._lock:
            record = self._store(object_type, props)
            if self.search_lag:
                self._unsearchable.add((object_type, record["id"]))
            for to_type, to_id in links:
                self._link(object_type, record["id"], to_type, to_id)
            return _Reply(201, self._view(record, object_type, list(props)))

    def _associations_v4(
        self, object_type: str, object_id: str, to_type: str, limit: int, after: int
    ) -> _Reply:
        with self._lock:
            if object_id not in self.objects[self._type(object_type)]:
                raise _error(
                    404, f"No {object_type} with id {object_id}", "OBJECT_NOT_FOUND"
                )
            ids = self.links.get((object_type, object_id), {}).get(to_type, [])
            type_id = ASSOCIATION_TYPES.get((object_type, to_type), 0)
            page = ids[after : after + limit]
            answer: dict[str, Any] = {
                "results": [
                    {
                        "toObjectId": i,
                        "associationTypes": [
                            {
                                "category": "HUBSPOT_DEFINED",
                                "typeId": type_id,
                                "label": None,
                            }
                        ],
                    }
                    for i in page
                ]
            }
        if after + limit < len(ids):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return _Reply(200, answer)


class _Handler(BaseHTTPRequestHandler):
    owner: HubSpotEmulator
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out as two writes

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return None

    def _serve(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        reply = self.owner.handle(self.command, self.path, self.headers, body)
        payload = (
            reply.body
            if isinstance(reply.body, bytes)
            else json.dumps(reply.body).encode()
        )
        try:
            self.send_response(reply.status)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in reply.headers.items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True

    do_GET = _serve
    do_POST = _serve
    do_PUT = _serve
    do_PATCH = _serve
    do_DELETE = _serve


def bench_setup(delay_s: float) -> tuple[Any, str, HubSpotEmulator]:
    """A HubSpot connector on a started emulator with *delay_s* per request, warmed up."""
    from connectors.hubspot import HubSpotConnector
    from copilot.config import Settings

    emulator = HubSpotEmulator(delay_s=delay_s).start()
    settings = Settings(hubspot_base_url=emulator.url, crm_timeout_s=10.0)
    connector = HubSpotConnector(settings, environ={"HUBSPOT_TOKEN": ACCESS_TOKEN})
    status = connector.check()
    if not status.ok:
        emulator.stop()
        raise RuntimeError(
            f"HubSpot emulator setup failed: {status.detail} {status.problems}"
        )
    return connector, "101", emulator
