"""A loopback emulator of Zoho CRM v8 and its accounts server, for tests and the benchmark.

One threaded stdlib HTTP server answers both hosts by path: ``/oauth/v2/token`` is the
accounts server, ``/crm/v8/...`` the API domain. It serves what the connector uses --
token refresh, field metadata, single records, search, related lists, COQL (a small but
honest interpreter), creates of Tasks/Calls/Notes, the current user and the org -- with
Zoho's shapes: ``{"data": [...], "info": {...}}`` for records, ``{"code", "details",
"message", "status": "error"}`` for errors, per-record results inside ``data[]`` for
writes, 204 with no body when nothing matches.

Faults: ``inject(kind, times=1, **kw)`` with kind ``expired_token``, ``rate_limit``
(``retry_after=``), ``server_error``, ``slow`` (``seconds=``), ``malformed`` and
``lost_response`` (the write is applied, then a 500 goes back).
"""

from __future__ import annotations

import json
import os
import re
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

__all__ = ["CLIENT_ID", "CLIENT_SECRET", "REFRESH_TOKEN", "ZohoEmulator", "bench_setup"]

CLIENT_ID = "1000.EMULATORCLIENT"
CLIENT_SECRET = "emulator-client-secret"  # noqa: S105 (a test fixture)
REFRESH_TOKEN = "1000.emulator.refresh"  # noqa: S105 (a test fixture)
ORG_ID = "60012345678"
OTHER_ORG_ID = "60099999999"

# --- seed data ---------------------------------------------------------------------

_TEXT, _BOOL, _DATE, _DT, _CUR, _INT, _DEC = (
    "text",
    "boolean",
    "date",
    "datetime",
    "currency",
    "integer",
    "double",
)
_JSON_TYPES = {
    "text": "string",
    "email": "string",
    "phone": "string",
    "textarea": "string",
    "picklist": "string",
    "boolean": "boolean",
    "date": "string",
    "datetime": "string",
    "currency": "double",
    "integer": "integer",
    "double": "double",
    "multiselectpicklist": "jsonarray",
    "lookup": "jsonobject",
    "ownerlookup": "jsonobject",
    "bigint": "string",
}

CONTACT_FIELDS: dict[str, str] = {
    "First_Name": _TEXT,
    "Last_Name": _TEXT,
    "Full_Name": _TEXT,
    "Email": "email",
    "Secondary_Email": "email",
    "Phone": "phone",
    "Mobile": "phone",
    "Mailing_Street": _TEXT,
    "Mailing_City": _TEXT,
    "Owner": "ownerlookup",
    "Created_Time": _DT,
    "Modified_Time": _DT,
    # custom fields of a collections org
    "Employer": _TEXT,
    "Debtor_Time_Zone": "picklist",
    "Preferred_Language": "picklist",
    "Jurisdiction": "picklist",
    "Attorney_Represented": _BOOL,
    "Attorney_Name": _TEXT,
    "Cease_Requested": _BOOL,
    "Disputed": _BOOL,
    "Dispute_Reason": "textarea",
    "Dispute_Opened_On": _DATE,
    "Verification_Sent_On": _DATE,
    "Employer_Prohibits_Contact": _BOOL,
    "Opted_Out_Channels": "multiselectpicklist",
    "Authorized_Channels": "multiselectpicklist",
    "Preferred_Hours": _TEXT,
    "Hardship": _BOOL,
    "Account_Number": _TEXT,
    "Creditor": _TEXT,
    "Product_Type": "picklist",
    "Original_Amount": _CUR,
    "Balance": _CUR,
    "Currency": "picklist",
    "Due_Date": _DATE,
    "Delinquent_Since": _DATE,
    "Late_Fees": _CUR,
    "Collection_Fees": _CUR,
    "Plan_Instalment": _CUR,
    "Plan_Frequency": "picklist",
    "Plan_Next_Due": _DATE,
    "Plan_Instalments_Total": _INT,
    "Plan_Instalments_Paid": _INT,
    "Plan_Status": "picklist",
    "Plan_Missed_Instalments": _INT,
    "Time_Barred": _BOOL,
    "Legal_Action_Intended": _BOOL,
    "Legal_Process_Open": _BOOL,
    "Negative_Report_Notice_On": _DATE,
    "Promise_Amount": _CUR,
    "Promise_Due": _DATE,
    "Promise_Made_At": _DT,
    "Promise_Status": "picklist",
    "Last_Payment_Amount": _CUR,
    "Last_Payment_On": _DATE,
    "Priority_Score": _DEC,
}
CALL_FIELDS: dict[str, str] = {
    "Subject": _TEXT,
    "Call_Type": "picklist",
    "Call_Start_Time": _DT,
    "Call_Duration": _TEXT,
    "Call_Result": "picklist",
    "Description": "textarea",
    "Who_Id": "lookup",
    "What_Id": "lookup",
    "Owner": "ownerlookup",
    "Created_Time": _DT,
    "Modified_Time": _DT,
    "Copilot_Key": _TEXT,
}
TASK_FIELDS: dict[str, str] = {
    "Subject": _TEXT,
    "Due_Date": _DATE,
    "Status": "picklist",
    "Description": "textarea",
    "Who_Id": "lookup",
    "What_Id": "lookup",
    "Owner": "ownerlookup",
    "Closed_Time": _DT,
    "Created_Time": _DT,
    "Modified_Time": _DT,
    "Copilot_Key": _TEXT,
    "Copilot_Channel": "picklist",
}
NOTE_FIELDS: dict[str, str] = {
    "Note_Title": _TEXT,
    "Note_Content": "textarea",
    "Parent_Id": "lookup",
    "Owner": "ownerlookup",
    "Created_Time": _DT,
    "Modified_Time": _DT,
}
MANDATORY = {
    "Calls": ("Subject", "Call_Type", "Call_Start_Time", "Call_Duration"),
    "Tasks": ("Subject",),
    "Notes": ("Note_Content", "Parent_Id"),
}
SYSTEM_FIELDS = {
    "id",
    "Created_Time",
    "Modified_Time",
    "Created_By",
    "Modified_By",
    "Closed_Time",
    "$se_module",
    "Owner",
    "Full_Name",
}

AGENT = {"name": "Ana Torres", "id": "5725767000000301001", "email": "ana@example.com"}
ADMIN = {
    "name": "Integration User",
    "id": "5725767000000301002",
    "email": "crm-admin@example.com",
}


def _contact(rid: str, **values: Any) -> dict[str, Any]:
    record = {name: None for name in CONTACT_FIELDS}
    record.update(
        {
            "id": rid,
            "Owner": dict(AGENT),
            "Created_Time": "2026-06-01T09:00:00-05:00",
            "Modified_Time": "2026-11-28T10:00:00-05:00",
        }
    )
    record.update(values)
    record["Full_Name"] = " ".join(
        p for p in (record.get("First_Name"), record.get("Last_Name")) if p
    )
    return record


def seed() -> dict[str, dict[str, dict[str, Any]]]:
    """A handful of US and CO debtors, shaped like the demo CRM's."""
    contacts = [
        _contact(
            "5725767000000412001",
            First_Name="María Fernanda",
            Last_Name="López",
            Email="mf.lopez@example.co",
            Mobile="+57 300 555 0101",
            Debtor_Time_Zone="America/Bogota",
            Preferred_Language="Spanish",
            Jurisdiction="CO",
            Employer="Textiles Andinos",
            Hardship=True,
            Opted_Out_Channels=["Email"],
            Authorized_Channels=["SMS", "Phone"],
            Preferred_Hours="09:00-12:00",
            Account_Number="CO-88231",
            Creditor="Banco Ejemplo",
            Product_Type="Credit card",
            Original_Amount=Decimal("1500000"),
            Balance=Decimal("1250000"),
            Currency="COP",
            Due_Date="2026-09-15",
            Delinquent_Since="2026-09-16",
            Late_Fees=Decimal("45000"),
            Promise_Amount=Decimal("300000"),
            Promise_Due="2026-12-05",
            Promise_Made_At="2026-11-20T10:15:00-05:00",
            Promise_Status="Pending",
            Last_Payment_Amount=Decimal("100000"),
            Last_Payment_On="2026-10-30",
            Priority_Score=Decimal("87.5"),
        ),
        _contact(
            "5725767000000412002",
            First_Name="James",
            Last_Name="Carter",
            Email="jcarter@example.com",
            Secondary_Email="james.carter@work.example",
            Phone="+1 312 555 0142",
            Debtor_Time_Zone="America/Chicago",
            Preferred_Language="English",
            Jurisdiction="US",
            Employer="Midwest Freight",
            Employer_Prohibits_Contact=True,
            Account_Number="US-10442",
            Creditor="Example Auto Finance",
            Product_Type="Auto loan",
            Original_Amount=Decimal("5400.00"),
            Balance=Decimal("1240.50"),
            Currency="USD",
            Due_Date="2026-10-01",
            Plan_Instalment=Decimal("155.00"),
            Plan_Frequency="Monthly",
            Plan_Next_Due="2026-12-10",
            Plan_Instalments_Total=8,
            Plan_Instalments_Paid=2,
            Plan_Status="Active",
            Priority_Score=Decimal("64"),
        ),
        _contact(
            "5725767000000412003",
            First_Name="Linda",
            Last_Name="Nguyen",
            Email="linda.nguyen@example.com",
            Phone="+1 415 555 0199",
            Debtor_Time_Zone="America/Los_Angeles",
            Preferred_Language="en",
            Jurisdiction="United States",
            Attorney_Represented=True,
            Attorney_Name="Saul Counsel LLP",
            Account_Number="US-20991",
            Creditor="Example Bank",
            Product_Type="Personal loan",
            Balance=Decimal("3890.10"),
            Currency="USD",
            Due_Date="2026-07-20",
            Legal_Action_Intended=True,
            Priority_Score=Decimal("91"),
        ),
        _contact(
            "5725767000000412004",
            First_Name="Andrés",
            Last_Name="Gómez",
            Email="andres.gomez@example.co",
            Mobile="+57 310 555 0177",
            Debtor_Time_Zone="America/Bogota",
            Preferred_Language="es",
            Jurisdiction="Colombia",
            Disputed=True,
            Dispute_Reason="No reconoce la deuda",
            Dispute_Opened_On="2026-11-02",
            Verification_Sent_On="2026-11-10",
            Account_Number="CO-90112",
            Creditor="Telco Ejemplo",
            Balance=Decimal("480000"),
            Currency="COP",
            Due_Date="2026-08-30",
            Time_Barred=False,
            Priority_Score=Decimal("40"),
        ),
        _contact(
            "5725767000000412005",
            First_Name="Robert",
            Last_Name="Miles",
            Email="rmiles@example.com",
            Phone="+1 212 555 0100",
            Debtor_Time_Zone="America/New_York",
            Preferred_Language="English",
            Jurisdiction="US",
            Cease_Requested=True,
            Account_Number="US-30007",
            Creditor="Example Bank",
            Balance=Decimal("0"),
            Currency="USD",
            Due_Date="2026-05-01",
            Priority_Score=Decimal("5"),
        ),
        _contact(
            "5725767000000412006",
            First_Name="Pat",
            Last_Name="Supplier",
            Email="pat@vendor.example",
        ),
    ]
    known = contacts[0]["id"]
    calls = [
        _activity(
            "Calls",
            "5725767000000521001",
            known,
            Subject="Reminder call",
            Call_Type="Outbound",
            Call_Start_Time="2026-11-18T09:30:00-05:00",
            Call_Duration="00:00",
            Call_Result="No response/Busy",
        ),
        _activity(
            "Calls",
            "5725767000000521002",
            known,
            Subject="Promise to pay",
            Call_Type="Outbound",
            Call_Start_Time="2026-11-20T10:15:00-05:00",
            Call_Duration="06:12",
            Call_Result="Interested",
            Description="Promised 300.000 COP on 5 Dec.",
        ),
        _activity(
            "Calls",
            "5725767000000521003",
            known,
            Subject="Debtor called back",
            Call_Type="Inbound",
            Call_Start_Time="2026-11-25T16:40:00-05:00",
            Call_Duration="03:05",
        ),
        _activity(
            "Calls",
            "5725767000000521004",
            contacts[1]["id"],
            Subject="Plan check",
            Call_Type="Outbound",
            Call_Start_Time="2026-11-22T14:00:00-06:00",
            Call_Duration="04:00",
            Call_Result="Left Voicemail",
        ),
    ]
    tasks = [
        _activity(
            "Tasks",
            "5725767000000631001",
            known,
            Subject="SMS reminder sent",
            Status="Completed",
            Due_Date="2026-11-27",
            Copilot_Channel="sms",
            Closed_Time="2026-11-27T11:00:00-05:00",
        ),
        _activity(
            "Tasks",
            "5725767000000631002",
            known,
            Subject="Check bank transfer",
            Status="Not Started",
            Due_Date="2026-12-06",
        ),
    ]
    notes = [
        _note(
            "5725767000000741001",
            known,
            "Hardship",
            "Lost her job in October; asked for a smaller instalment.",
            "2026-11-20T10:30:00-05:00",
        ),
        _note(
            "5725767000000741002",
            known,
            "Preferences",
            "Prefers WhatsApp-style short texts in the morning.",
            "2026-11-21T08:00:00-05:00",
        ),
    ]
    return {
        "Contacts": {c["id"]: c for c in contacts},
        "Calls": {c["id"]: c for c in calls},
        "Tasks": {t["id"]: t for t in tasks},
        "Notes": {n["id"]: n for n in notes},
    }


def _activity(module: str, rid: str, who: str, **values: Any) -> dict[str, Any]:
    fields = CALL_FIELDS if module == "Calls" else TASK_FIELDS
    record: dict[str, Any] = {name: None for name in fields}
    record.update(
        {
            "id": rid,
            "Who_Id": {"id": who, "name": ""},
            "Owner": dict(AGENT),
            "Created_Time": values.get("Call_Start_Time")
            or "2026-11-20T08:00:00-05:00",
            "Modified_Time": "2026-11-28T10:00:00-05:00",
        }
    )
    record.update(values)
    return record


def _note(rid: str, parent: str, title: str, content: str, at: str) -> dict[str, Any]:
    return {
        "id": rid,
        "Note_Title": title,
        "Note_Content": content,
        "Parent_Id": {
            "module": {"api_name": "Contacts", "id": "1"},
            "id": parent,
            "name": "",
        },
        "Owner": dict(AGENT),
        "Created_Time": at,
        "Modified_Time": at,
        "$se_module": "Contacts",
    }


def field_metadata(
    fields: dict[str, str], custom_from: str | None = None
) -> list[dict]:
    """Zoho-shaped field metadata for a module."""
    rows = []
    custom = False
    for index, (name, data_type) in enumerate(fields.items()):
        custom = custom or name == custom_from or name.startswith("Copilot_")
        rows.append(
            {
                "api_name": name,
                "field_label": name.replace("_", " "),
                "display_label": name.replace("_", " "),
                "data_type": data_type,
                "json_type": _JSON_TYPES[data_type],
                "id": str(5725767000000100000 + index),
                "custom_field": custom,
                "visible": True,
                "read_only": name in SYSTEM_FIELDS,
                "system_mandatory": name in ("Last_Name", "Subject", "Note_Content"),
                "length": 255,
            }
        )
    return rows


# --- COQL --------------------------------------------------------------------------


class CoqlError(Exception):
    """A COQL query Zoho would refuse; carries Zoho's code and details."""

    def __init__(self, code: str, message: str, details: dict[str, Any]) -> None:
        super().__init__(message)
        self.code, self.message, self.details = code, message, details


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:\\.|[^'\\])*')|(?P<num>-?\d+(?:\.\d+)?)"
    r"|(?P<op>!=|<>|>=|<=|=|>|<)|(?P<punct>[(),*])|(?P<word>[A-Za-z_$][\w$.]*))"
)


def _tokens(query: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    query = query.strip()
    while pos < len(query):
        match = _TOKEN.match(query, pos)
        if not match or match.end() == pos:
            raise CoqlError(
                "SYNTAX_ERROR",
                "error occured while parsing the query",
                {"near": query[pos : pos + 10]},
            )
        kind = match.lastgroup or ""
        out.append((kind, match.group(kind)))
        pos = match.end()
    return out


class _Parser:
    def __init__(self, query: str) -> None:
        self.items = _tokens(query)
        self.pos = 0

    def peek(self) -> str:
        return self.items[self.pos][1].lower() if self.pos < len(self.items) else ""

    def take(self) -> tuple[str, str]:
        if self.pos >= len(self.items):
            raise CoqlError("SYNTAX_ERROR", "unexpected end of query", {})
        item = self.items[self.pos]
        self.pos += 1
        return item

    def expect(self, word: str) -> None:
        kind, value = self.take()
        if value.lower() != word:
            raise CoqlError("SYNTAX_ERROR", f"expected {word}", {"near": value})

    def value(self) -> Any:
        kind, raw = self.take()
        if kind == "str":
            return re.sub(r"\\(.)", r"\1", raw[1:-1])
        if kind == "num":
            return Decimal(raw)
        if raw.lower() in ("true", "false"):
            return raw.lower() == "true"
        if raw.lower() == "null":
            return None
        raise CoqlError("SYNTAX_ERROR", "a value was expected", {"near": raw})

    def condition(self) -> Any:
        node = self.conjunction()
        while self.peek() == "or":
            self.take()
            node = ("or", node, self.conjunction())
        return node

    def conjunction(self) -> Any:
        node = self.factor()
        while self.peek() == "and":
            self.take()
            node = ("and", node, self.factor())
        return node

    def factor(self) -> Any:
        if self.peek() == "(":
            self.take()
            node = self.condition()
            self.expect(")")
            return node
        kind, name = self.take()
        if kind != "word":
            raise CoqlError("SYNTAX_ERROR", "a field was expected", {"near": name})
        word = self.peek()
        if word == "is":
            self.take()
            negate = self.peek() == "not"
            if negate:
                self.take()
            self.expect("null")
            return ("notnull" if negate else "null", name)
        negate = word == "not"
        if negate:
            self.take()
            word = self.peek()
        if word == "like":
            self.take()
            return ("notlike" if negate else "like", name, self.value())
        if word == "in":
            self.take()
            self.expect("(")
            values = [self.value()]
            while self.peek() == ",":
                self.take()
                values.append(self.value())
            self.expect(")")
            return ("notin" if negate else "in", name, values)
        kind, op = self.take()
        if kind != "op":
            raise CoqlError("SYNTAX_ERROR", "an operator was expected", {"near": op})
        return ("cmp", name, op, self.value())


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return value.get("id")
    return value


def _compare(left: Any, op: str, right: Any) -> bool:
    left = _plain(left)
    if left is None or right is None:
        both = left is None and right is None
        if op == "=":
            return both
        return not both if op in ("!=", "<>") else False
    if isinstance(right, Decimal) or isinstance(left, (int, float, Decimal)):
        try:
            left, right = Decimal(str(left)), Decimal(str(right))
        except ArithmeticError:
            return False
    elif isinstance(right, bool):
        left = bool(left)
    else:
        left, right = str(left), str(right)
    return {
        "=": left == right,
        "!=": left != right,
        "<>": left != right,
        ">": left > right,
        "<": left < right,
        ">=": left >= right,
        "<=": left <= right,
    }[op]


def _matches(node: Any, record: dict[str, Any]) -> bool:
    kind = node[0]
    if kind == "and":
        return _matches(node[1], record) and _matches(node[2], record)
    if kind == "or":
        return _matches(node[1], record) or _matches(node[2], record)
    value = _plain(record.get(node[1]))
    if kind == "null":
        return value in (None, "", [])
    if kind == "notnull":
        return value not in (None, "", [])
    if kind in ("like", "notlike"):
        pattern = "^" + re.escape(str(node[2])).replace("%", ".*") + "$"
        found = value is not None and re.match(pattern, str(value), re.I) is not None
        return found if kind == "like" else not found
    if kind in ("in", "notin"):
        inside = any(_compare(value, "=", v) for v in node[2])
        return inside if kind == "in" else not inside
    return _compare(value, node[2], node[3])


def _fields_in(node: Any) -> Iterator[str]:
    if node[0] in ("and", "or"):
        yield from _fields_in(node[1])
        yield from _fields_in(node[2])
    else:
        yield node[1]


def run_coql(
    query: str,
    modules: dict[str, dict[str, dict[str, Any]]],
    fields: dict[str, dict[str, str]],
) -> tuple[list[dict[str, Any]], bool]:
    """Evaluate a COQL SELECT against the store: (rows, more_records)."""
    parser = _Parser(query)
    parser.expect("select")
    columns = []
    while True:
        kind, name = parser.take()
        if kind != "word":
            raise CoqlError("SYNTAX_ERROR", "a column was expected", {"near": name})
        columns.append(name)
        if parser.peek() != ",":
            break
        parser.take()
    if len(columns) > 50:
        raise CoqlError(
            "LIMIT_EXCEEDED",
            "select columns limit exceeded",
            {"by": len(columns) - 50, "limit": 50},
        )
    parser.expect("from")
    module = parser.take()[1]
    if module not in modules:
        raise CoqlError(
            "INVALID_QUERY",
            "invalid module given",
            {"module": module, "reason": "invalid module given"},
        )
    if parser.peek() != "where":
        raise CoqlError(
            "SYNTAX_ERROR",
            "where clause is mandatory",
            {"clause": "where", "near": parser.peek()},
        )
    parser.take()
    condition = parser.condition()
    order: list[tuple[str, bool]] = []
    offset, count = 0, 200
    if parser.peek() == "order":
        parser.take()
        parser.expect("by")
        while True:
            name = parser.take()[1]
            desc = False
            if parser.peek() in ("asc", "desc"):
                desc = parser.take()[1].lower() == "desc"
            order.append((name, desc))
            if parser.peek() != ",":
                break
            parser.take()
    if parser.peek() == "limit":
        parser.take()
        first = int(parser.value())
        if parser.peek() == ",":
            parser.take()
            offset, count = first, int(parser.value())
        else:
            count = first
            if parser.peek() == "offset":
                parser.take()
                offset = int(parser.value())
    if parser.pos != len(parser.items):
        raise CoqlError("SYNTAX_ERROR", "unexpected token", {"near": parser.peek()})
    if count > 2000:
        raise CoqlError(
            "LIMIT_EXCEEDED", "limit exceeded", {"by": count - 2000, "limit": 2000}
        )
    known = set(fields[module]) | {"id"}
    for name in [*columns, *_fields_in(condition), *(n for n, _ in order)]:
        if name.split(".")[0] not in known:
            raise CoqlError(
                "INVALID_QUERY",
                "invalid column given",
                {"column_name": name, "reason": "invalid column given"},
            )

    rows = [r for r in modules[module].values() if _matches(condition, r)]
    for name, desc in reversed(order):
        present = [r for r in rows if _plain(r.get(name)) is not None]
        absent = [r for r in rows if _plain(r.get(name)) is None]
        present.sort(key=lambda r, n=name: _sort_key(r.get(n)), reverse=desc)
        rows = present + absent
    window = rows[offset : offset + count]
    selected = []
    for record in window:
        row = {}
        for name in columns:
            value = record.get(name)
            row[name] = {"id": value["id"]} if isinstance(value, dict) else value
        row["id"] = record["id"]
        selected.append(row)
    return selected, offset + count < len(rows)


def _sort_key(value: Any) -> Any:
    value = _plain(value)
    if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool):
        return (0, Decimal(str(value)), "")
    return (1, Decimal(0), str(value))


# --- the server --------------------------------------------------------------------


class _Fault:
    def __init__(self, kind: str, times: int, options: dict[str, Any]) -> None:
        self.kind, self.times, self.options = kind, times, options


class ZohoEmulator:
    """Zoho CRM v8 and its accounts server on 127.0.0.1, with faults and counters."""

    def __init__(
        self,
        *,
        delay_s: float = 0.0,
        token_api_domain: str | None = None,
        token_ttl_s: int = 3600,
    ) -> None:
        self.delay_s = delay_s
        self.token_api_domain = token_api_domain
        self.token_ttl_s = token_ttl_s
        self.modules = seed()
        self.fields = {
            "Contacts": dict(CONTACT_FIELDS),
            "Calls": dict(CALL_FIELDS),
            "Tasks": dict(TASK_FIELDS),
            "Notes": dict(NOTE_FIELDS),
        }
        self.request_count = 0
        self.token_requests = 0
        self.requests: list[tuple[str, str]] = []
        self.bodies: list[Any] = []
        self._faults: list[_Fault] = []
        self.lose_writes = 0
        self._tokens: dict[str, dict[str, str]] = {}
        self._lock = threading.RLock()
        self._next_id = 5725767000000900000
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------

    def start(self) -> ZohoEmulator:
        """Listen on a free loopback port."""
        handler = type("Handler", (_Handler,), {"emulator": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        self._server.block_on_close = False
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop listening."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:PORT`` -- both the accounts server and the API domain."""
        assert self._server is not None, "start() the emulator first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def __enter__(self) -> ZohoEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- test controls -------------------------------------------------------------

    def inject(self, kind: str, times: int = 1, **options: Any) -> None:
        """Make the next *times* API requests fail in the way *kind* names."""
        if kind == "expired_token":
            with self._lock:
                for token, owner in list(self._tokens.items()):
                    if owner["kind"] == "integration":
                        del self._tokens[token]
            return
        if kind == "lost_response":
            with self._lock:
                self.lose_writes += times
            return
        if kind not in ("rate_limit", "server_error", "slow", "malformed"):
            raise ValueError(f"unknown fault {kind!r}")
        with self._lock:
            self._faults.append(_Fault(kind, times, options))

    def activities(self, debtor_id: str) -> list[dict[str, Any]]:
        """Tasks, Calls and Notes linked to the debtor."""
        found = []
        with self._lock:
            for module in ("Tasks", "Calls", "Notes"):
                for record in self.modules[module].values():
                    links = [
                        record.get("Who_Id"),
                        record.get("What_Id"),
                        record.get("Parent_Id"),
                    ]
                    if any(
                        isinstance(x, dict) and x.get("id") == debtor_id for x in links
                    ):
                        found.append(dict(record, _module=module))
        return found

    def issue_user_token(
        self, email: str, *, org_id: str = ORG_ID, name: str = "Ana Torres"
    ) -> str:
        """An access token as a Zoho connection would hold for that user."""
        token = "1000." + secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = {
                "kind": "user",
                "email": email,
                "org": org_id,
                "name": name,
            }
        return token

    def add_contact(self, **values: Any) -> str:
        """Add a Contacts record, returning its id."""
        rid = self._new_id()
        with self._lock:
            self.modules["Contacts"][rid] = _contact(rid, **values)
        return rid

    def add_calls(self, debtor_id: str, count: int) -> None:
        """Add *count* outbound calls to a debtor (for paging tests)."""
        for n in range(count):
            rid = self._new_id()
            moment = f"2026-10-{1 + n % 28:02d}T{8 + n % 10:02d}:{n % 60:02d}:00-05:00"
            with self._lock:
                self.modules["Calls"][rid] = _activity(
                    "Calls",
                    rid,
                    debtor_id,
                    Subject=f"Call {n}",
                    Call_Type="Outbound",
                    Call_Start_Time=moment,
                    Call_Duration="01:00",
                )

    def _new_id(self) -> str:
        with self._lock:
            self._next_id += 1
            return str(self._next_id)

    def _take_fault(self) -> _Fault | None:
        with self._lock:
            while self._faults:
                fault = self._faults[0]
                if fault.times <= 0:
                    self._faults.pop(0)
                    continue
                fault.times -= 1
                return fault
        return None

    # --- accounts server -------------------------------------------------------------

    def token(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """``POST /oauth/v2/token`` with the refresh-token grant."""
        self.token_requests += 1
        if form.get("grant_type") != "refresh_token":
            return 200, {"error": "unsupported_grant_type"}
        if (
            form.get("client_id") != CLIENT_ID
            or form.get("client_secret") != CLIENT_SECRET
        ):
            return 200, {"error": "invalid_client"}
        if form.get("refresh_token") != REFRESH_TOKEN:
            return 200, {"error": "invalid_code"}
        token = "1000." + secrets.token_hex(16)
        with self._lock:
            self._tokens[token] = {
                "kind": "integration",
                "email": ADMIN["email"],
                "org": ORG_ID,
                "name": ADMIN["name"],
            }
        return 200, {
            "access_token": token,
            "scope": "ZohoCRM.modules.ALL ZohoCRM.settings.fields.READ "
            "ZohoCRM.coql.READ ZohoCRM.users.READ ZohoCRM.org.READ",
            "api_domain": self.token_api_domain or self.base_url,
            "token_type": "Bearer",
            "expires_in": self.token_ttl_s,
        }

    # --- API domain ------------------------------------------------------------------

    def api(
        self,
        method: str,
        path: str,
        query: dict[str, str],
        body: Any,
        token: str | None,
    ) -> tuple[int, Any, dict[str, str]]:
        """Answer one ``/crm/v8`` request: (status, JSON body or None, headers)."""
        if token is None:
            return 401, _error("AUTHENTICATION_FAILURE", "Authentication failed"), {}
        with self._lock:
            owner = self._tokens.get(token)
        if owner is None:
            return 401, _error("INVALID_TOKEN", "invalid oauth token"), {}
        parts = [p for p in path.split("/") if p][2:]  # drop crm, v8
        if parts == ["coql"] and method == "POST":
            return self._coql(body)
        if parts == ["settings", "fields"] and method == "GET":
            return self._field_list(query)
        if parts == ["users"] and method == "GET":
            return self._users(owner, query)
        if parts == ["org"] and method == "GET":
            return 200, {"org": [self._org(owner["org"])]}, {}
        if len(parts) == 1 and method == "POST" and parts[0] in MANDATORY:
            return self._create(parts[0], body)
        if parts and parts[0] not in self.modules:
            return (
                400,
                _error(
                    "INVALID_MODULE",
                    "the module name given seems to be invalid",
                    {"resource_path_index": 0},
                ),
                {},
            )
        if len(parts) == 2 and parts[1] == "search" and method == "GET":
            return self._search(parts[0], query)
        if len(parts) == 2 and method == "GET":
            record = self.modules[parts[0]].get(parts[1])
            if record is None:
                return 204, None, {}
            return 200, {"data": [_public(record)]}, {}
        if len(parts) == 3 and method == "GET" and parts[2] in self.modules:
            return self._related(parts[0], parts[1], parts[2], query)
        return (
            404,
            _error(
                "INVALID_URL_PATTERN",
                "Please check if the URL trying to access is a correct one",
            ),
            {},
        )

    def _coql(self, body: Any) -> tuple[int, Any, dict[str, str]]:
        query = body.get("select_query") if isinstance(body, dict) else None
        if not query:
            return (
                400,
                _error(
                    "REQUIRED_PARAM_MISSING",
                    "select_query is missing",
                    {"param_name": "select_query"},
                ),
                {},
            )
        try:
            with self._lock:
                rows, more = run_coql(query, self.modules, self.fields)
        except CoqlError as exc:
            return 400, _error(exc.code, exc.message, exc.details), {}
        if not rows:
            return 204, None, {}
        return (
            200,
            {"data": rows, "info": {"count": len(rows), "more_records": more}},
            {},
        )

    def _field_list(self, query: dict[str, str]) -> tuple[int, Any, dict[str, str]]:
        module = query.get("module")
        if not module:
            return (
                400,
                _error(
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param_name": "module"},
                ),
                {},
            )
        if module not in self.fields:
            return (
                400,
                _error(
                    "INVALID_MODULE",
                    "the module name given seems to be invalid",
                    {"api_name": "module"},
                ),
                {},
            )
        return 200, {"fields": field_metadata(self.fields[module], "Employer")}, {}

    def _users(
        self, owner: dict[str, str], query: dict[str, str]
    ) -> tuple[int, Any, dict]:
        if query.get("type") != "CurrentUser":
            return (
                400,
                _error(
                    "INVALID_DATA",
                    "only CurrentUser is emulated",
                    {"param_name": "type"},
                ),
                {},
            )
        first, _, last = owner["name"].partition(" ")
        user = {
            "id": "5725767000000301" + str(abs(hash(owner["email"])) % 1000).zfill(3),
            "full_name": owner["name"],
            "first_name": first,
            "last_name": last,
            "email": owner["email"],
            "status": "active",
            "zuid": "70001234",
            "confirm": True,
            "time_zone": "America/Bogota",
        }
        return (
            200,
            {
                "users": [user],
                "info": {"per_page": 200, "count": 1, "page": 1, "more_records": False},
            },
            {},
        )

    def _org(self, org_id: str) -> dict[str, Any]:
        return {
            "id": org_id,
            "company_name": "Cobranzas Ejemplo S.A.S.",
            "domain_name": "org" + org_id,
            "primary_email": "crm-admin@example.com",
            "time_zone": "America/Bogota",
            "currency": "US Dollar - USD",
            "iso_code": "USD",
            "country_code": "CO",
            "zgid": org_id,
        }

    def _search(self, module: str, query: dict[str, str]) -> tuple[int, Any, dict]:
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 200))
        records = list(self.modules[module].values())
        if "criteria" in query:
            try:
                test = _criteria(query["criteria"])
            except ValueError:
                return (
                    400,
                    _error(
                        "INVALID_QUERY",
                        "invalid criteria",
                        {"reason": "invalid criteria"},
                    ),
                    {},
                )
            found = [r for r in records if test(r)]
        elif "email" in query:
            needle = query["email"].lower()
            found = [
                r
                for r in records
                if needle
                in (
                    str(r.get("Email") or "").lower(),
                    str(r.get("Secondary_Email") or "").lower(),
                )
            ]
        elif "phone" in query:
            digits = re.sub(r"\D", "", query["phone"])
            found = [
                r
                for r in records
                if any(
                    digits and digits in re.sub(r"\D", "", str(r.get(f) or ""))
                    for f in ("Phone", "Mobile")
                )
            ]
        elif "word" in query:
            word = query["word"].lower()
            if len(word) < 2:
                return (
                    400,
                    _error(
                        "INVALID_QUERY",
                        "the word must be at least 2 chars",
                        {"param_name": "word"},
                    ),
                    {},
                )
            found = [
                r
                for r in records
                if any(isinstance(v, str) and word in v.lower() for v in r.values())
            ]
        else:
            return (
                400,
                _error(
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param_name": "criteria"},
                ),
                {},
            )
        window = found[(page - 1) * per_page : page * per_page]
        if not window:
            return 204, None, {}
        return (
            200,
            {
                "data": [_public(r) for r in window],
                "info": {
                    "per_page": per_page,
                    "count": len(window),
                    "page": page,
                    "more_records": page * per_page < len(found),
                    "sort_by": "id",
                    "sort_order": "desc",
                },
            },
            {},
        )

    def _related(
        self, module: str, rid: str, related: str, query: dict[str, str]
    ) -> tuple[int, Any, dict]:
        if rid not in self.modules[module]:
            return (
                400,
                _error(
                    "INVALID_DATA",
                    "the related id given seems to be invalid",
                    {"api_name": "id"},
                ),
                {},
            )
        if not query.get("fields"):
            return (
                400,
                _error(
                    "REQUIRED_PARAM_MISSING",
                    "One of the expected parameter is missing",
                    {"param_name": "fields"},
                ),
                {},
            )
        page, per_page = int(query.get("page", 1)), int(query.get("per_page", 200))
        rows = [
            r
            for r in self.modules[related].values()
            if any(
                isinstance(r.get(k), dict) and r[k].get("id") == rid
                for k in ("Parent_Id", "Who_Id", "What_Id")
            )
        ]
        rows.sort(key=lambda r: r.get("Created_Time") or "", reverse=True)
        window = rows[(page - 1) * per_page : page * per_page]
        if not window:
            return 204, None, {}
        wanted = query["fields"].split(",")
        data = [{k: r.get(k) for k in [*wanted, "id"]} for r in window]
        return (
            200,
            {
                "data": data,
                "info": {
                    "per_page": per_page,
                    "count": len(window),
                    "page": page,
                    "more_records": page * per_page < len(rows),
                },
            },
            {},
        )

    def _create(self, module: str, body: Any) -> tuple[int, Any, dict[str, str]]:
        rows = body.get("data") if isinstance(body, dict) else None
        if not isinstance(rows, list) or not rows:
            return (
                400,
                _error(
                    "REQUIRED_PARAM_MISSING", "data is missing", {"param_name": "data"}
                ),
                {},
            )
        results, created = [], False
        for index, row in enumerate(rows):
            problem = self._invalid(module, row, index)
            if problem:
                results.append(problem)
                continue
            rid = self._new_id()
            now = datetime.now(UTC).astimezone().isoformat(timespec="seconds")
            record: dict[str, Any] = {name: None for name in self.fields[module]}
            record.update(row)
            record.update(
                {
                    "id": rid,
                    "Owner": dict(ADMIN),
                    "Created_Time": now,
                    "Modified_Time": now,
                }
            )
            if module == "Tasks" and row.get("Status") == "Completed":
                record["Closed_Time"] = now
            with self._lock:
                self.modules[module][rid] = record
            created = True
            results.append(
                {
                    "code": "SUCCESS",
                    "details": {
                        "Modified_Time": now,
                        "Modified_By": dict(ADMIN),
                        "Created_Time": now,
                        "id": rid,
                        "Created_By": dict(ADMIN),
                    },
                    "message": "record added",
                    "status": "success",
                }
            )
        return (201 if created else 400), {"data": results}, {}

    def _invalid(self, module: str, row: Any, index: int) -> dict[str, Any] | None:
        if not isinstance(row, dict):
            return _record_error(
                "INVALID_DATA", "invalid data", {"json_path": f"$.data[{index}]"}
            )
        for name in MANDATORY[module]:
            if row.get(name) in (None, ""):
                return _record_error(
                    "MANDATORY_NOT_FOUND",
                    "required field not found",
                    {"api_name": name, "json_path": f"$.data[{index}].{name}"},
                )
        for name, value in row.items():
            if name not in self.fields[module] and name != "$se_module":
                return _record_error(
                    "INVALID_DATA",
                    "invalid field",
                    {"api_name": name, "json_path": f"$.data[{index}].{name}"},
                )
            if name in ("Call_Start_Time", "Closed_Time") and value is not None:
                try:
                    if datetime.fromisoformat(str(value)).tzinfo is None:
                        raise ValueError
                except ValueError:
                    return _record_error(
                        "INVALID_DATA",
                        "invalid data",
                        {"api_name": name, "expected_data_type": "datetime"},
                    )
            if name == "Call_Duration" and not re.fullmatch(
                r"\d{1,3}:\d{2}", str(value)
            ):
                return _record_error("INVALID_DATA", "invalid data", {"api_name": name})
        if module != "Notes":
            link = row.get("Who_Id") or row.get("What_Id")
            if not isinstance(link, dict) or not self._exists(link.get("id")):
                return _record_error(
                    "INVALID_DATA",
                    "the id given seems to be invalid",
                    {"api_name": "Who_Id" if "Who_Id" in row else "What_Id"},
                )
        else:
            parent = row.get("Parent_Id")
            if not isinstance(parent, dict) or not self._exists(parent.get("id")):
                return _record_error(
                    "INVALID_DATA",
                    "the id given seems to be invalid",
                    {"api_name": "Parent_Id"},
                )
        return None

    def _exists(self, rid: Any) -> bool:
        return any(rid in records for records in self.modules.values())

    # --- fault handling (called by the handler) --------------------------------------

    def fault_response(self, fault: _Fault) -> tuple[int, bytes, dict[str, str]] | None:
        """The canned reply of a fault, or None when the request should proceed."""
        if fault.kind == "rate_limit":
            retry_after = fault.options.get("retry_after", 1)
            body = _error(
                "TOO_MANY_REQUESTS",
                "The number of requests you have made has exceeded the rate limit",
                {},
            )
            reset = int(time.time() * 1000) + int(float(retry_after) * 1000)
            return (
                429,
                _dump(body),
                {
                    "Retry-After": str(retry_after),
                    "X-RATELIMIT-LIMIT": "100",
                    "X-RATELIMIT-REMAINING": "0",
                    "X-RATELIMIT-RESET": str(reset),
                },
            )
        if fault.kind == "server_error":
            return (
                500,
                _dump(
                    _error(
                        "INTERNAL_ERROR",
                        "Internal Server Error occurred while processing this request",
                    )
                ),
                {},
            )
        if fault.kind == "malformed":
            return 200, b'{"data": [{"id": "57257670', {}
        if fault.kind == "slow":
            time.sleep(float(fault.options.get("seconds", 5)))
        return None


def _error(code: str, message: str, details: dict[str, Any] | None = None) -> dict:
    return {
        "code": code,
        "details": details or {},
        "message": message,
        "status": "error",
    }


def _record_error(code: str, message: str, details: dict[str, Any]) -> dict:
    return {"code": code, "details": details, "message": message, "status": "error"}


def _public(record: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in record.items() if not k.startswith("_")}


def _criteria(text: str) -> Any:
    """A predicate for a search ``criteria`` like ``((A:equals:x)or(B:starts_with:y))``."""
    groups = re.findall(r"\(((?:\\.|[^()\\])+)\)", text)
    joiners = re.findall(r"\)\s*(and|or)\s*\(", text)
    if not groups:
        raise ValueError(text)
    tests = []
    for group in groups:
        parts = re.split(r"(?<!\\):", group, maxsplit=2)
        if len(parts) != 3:
            raise ValueError(group)
        name, op, value = parts
        value = re.sub(r"\\(.)", r"\1", value)
        tests.append((name, op, value))

    def check(record: dict[str, Any], test: tuple[str, str, str]) -> bool:
        name, op, value = test
        field = str(_plain(record.get(name)) or "").lower()
        needle = value.lower()
        return {
            "equals": field == needle,
            "starts_with": field.startswith(needle),
            "contains": needle in field,
        }.get(op, False)

    def predicate(record: dict[str, Any]) -> bool:
        result = check(record, tests[0])
        for joiner, test in zip(joiners, tests[1:], strict=False):
            result = (
                (result and check(record, test))
                if joiner == "and"
                else (result or check(record, test))
            )
        return result

    return predicate


def _dump(body: Any) -> bytes:
    return json.dumps(body, default=_json_default).encode()


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return float(value) if value != value.to_integral() else int(value)
    raise TypeError(type(value).__name__)


class _Handler(BaseHTTPRequestHandler):
    emulator: ZohoEmulator
    protocol_version = "HTTP/1.1"

    def setup(self) -> None:
        super().setup()
        # Without this, a reply written in two pieces waits on delayed ACKs (~40 ms).
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def log_message(self, format: str, *args: Any) -> None:
        return None

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        emu = self.emulator
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        split = urlsplit(self.path)
        query = {k: v[0] for k, v in parse_qs(split.query).items()}
        with emu._lock:
            emu.request_count += 1
            emu.requests.append((method, split.path))
        if emu.delay_s:
            time.sleep(emu.delay_s)

        if split.path == "/oauth/v2/token" and method == "POST":
            form = {k: v[0] for k, v in parse_qs(raw.decode()).items()}
            status, body = emu.token(form)
            self._reply(status, _dump(body))
            return
        if not split.path.startswith("/crm/v8/"):
            self._reply(
                404,
                _dump(
                    _error(
                        "INVALID_URL_PATTERN",
                        "Please check if the URL trying to access is a correct one",
                    )
                ),
            )
            return

        fault = emu._take_fault()
        if fault is not None:
            canned = emu.fault_response(fault)
            if canned is not None:
                self._reply(*canned)
                return
        auth = self.headers.get("Authorization") or ""
        token = (
            auth[len("Zoho-oauthtoken ") :]
            if auth.startswith("Zoho-oauthtoken ")
            else None
        )
        try:
            body = json.loads(raw, parse_float=Decimal) if raw else None
        except ValueError:
            self._reply(400, _dump(_error("INVALID_DATA", "body is not JSON")))
            return
        with emu._lock:
            emu.bodies.append(body)
        status, answer, headers = emu.api(method, split.path, query, body, token)
        is_write = method == "POST" and split.path.rsplit("/", 1)[-1] in MANDATORY
        with emu._lock:
            lose = is_write and status < 300 and emu.lose_writes > 0
            if lose:
                emu.lose_writes -= 1
        if lose:
            self._reply(
                500,
                _dump(
                    _error(
                        "INTERNAL_ERROR",
                        "Internal Server Error occurred while processing this request",
                    )
                ),
            )
            return
        headers = {"X-RATELIMIT-LIMIT": "100", "X-RATELIMIT-REMAINING": "99", **headers}
        self._reply(status, b"" if answer is None else _dump(answer), headers)

    def _reply(
        self, status: int, payload: bytes, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(status)
            if payload:
                self.send_header("Content-Type", "application/json;charset=UTF-8")
            self.send_header("Content-Length", str(len(payload)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            if payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True


# --- the benchmark's entry point ------------------------------------------------------

KNOWN_DEBTOR_ID = "5725767000000412001"


def bench_setup(delay_s: float) -> tuple[Any, str, ZohoEmulator]:
    """A ready Zoho connector over a running emulator with *delay_s* per request."""
    from connectors._retry import RetryPolicy
    from connectors.zoho import ZohoConnector, load_mapping

    emulator = ZohoEmulator(delay_s=delay_s).start()
    os.environ["COPILOT_BENCH_ZOHO_CLIENT_ID"] = CLIENT_ID
    os.environ["COPILOT_BENCH_ZOHO_CLIENT_SECRET"] = CLIENT_SECRET
    os.environ["COPILOT_BENCH_ZOHO_REFRESH_TOKEN"] = REFRESH_TOKEN
    connector = ZohoConnector(
        api_domain=emulator.base_url,
        accounts_url=emulator.base_url,
        mapping=load_mapping(),
        client_id_env="COPILOT_BENCH_ZOHO_CLIENT_ID",
        client_secret_env="COPILOT_BENCH_ZOHO_CLIENT_SECRET",
        refresh_token_env="COPILOT_BENCH_ZOHO_REFRESH_TOKEN",
        timeout_s=5.0,
        retry_policy=RetryPolicy(max_retries=2),
    )
    connector.validate_mapping()
    return connector, KNOWN_DEBTOR_ID, emulator
