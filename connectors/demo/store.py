"""The demo CRM's SQLite file: schema, seeding, reads and idempotent writes.

One short-lived connection per operation, so the store is safe to share between the web
app's threads; SQLite itself serialises writers. A reset builds the new portfolio in a
temporary file and swaps it in, so a reader never sees half a portfolio.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

from pydantic import TypeAdapter

from connectors.demo.seed import SEED, SeedDebtor, generate_portfolio
from copilot.domain import (
    Account,
    Activity,
    Channel,
    ContactAttempt,
    Debtor,
    Dispute,
    Note,
    Payment,
    PromiseToPay,
    WriteResult,
)
from copilot.errors import NotFoundError, StoreError
from copilot.text import fold

__all__ = ["SCHEMA_VERSION", "DebtorRecord", "DemoStore", "normalize"]

log = logging.getLogger(__name__)

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE debtors (
    id TEXT PRIMARY KEY,
    scenario TEXT NOT NULL,
    search_text TEXT NOT NULL,
    phone_digits TEXT NOT NULL,
    debtor_json TEXT NOT NULL,
    account_json TEXT NOT NULL,
    promises_json TEXT NOT NULL,
    disputes_json TEXT NOT NULL,
    payments_json TEXT NOT NULL,
    notes_json TEXT NOT NULL
);
CREATE TABLE contact_attempts (
    id INTEGER PRIMARY KEY,
    debtor_id TEXT NOT NULL REFERENCES debtors(id),
    at TEXT NOT NULL,
    attempt_json TEXT NOT NULL,
    activity_id TEXT
);
CREATE INDEX contact_attempts_debtor ON contact_attempts (debtor_id, at);
CREATE TABLE activities (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    id TEXT UNIQUE,
    debtor_id TEXT NOT NULL REFERENCES debtors(id),
    idempotency_key TEXT NOT NULL UNIQUE,
    kind TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    occurred_at TEXT NOT NULL,
    draft_id TEXT,
    author TEXT NOT NULL,
    recorded_at TEXT NOT NULL
);
CREATE INDEX activities_debtor ON activities (debtor_id, seq);
"""

_CONTACT_KINDS = {"sms", "email", "letter", "call"}

_promises = TypeAdapter(list[PromiseToPay])
_disputes = TypeAdapter(list[Dispute])
_payments = TypeAdapter(list[Payment])
_notes = TypeAdapter(list[Note])


normalize = fold


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


@dataclass(frozen=True)
class DebtorRecord:
    """Everything stored about one debtor."""

    scenario: str
    debtor: Debtor
    account: Account
    contact_attempts: list[ContactAttempt]
    promises: list[PromiseToPay]
    disputes: list[Dispute]
    payments: list[Payment]
    notes: list[Note]


class DemoStore:
    """The demo portfolio in one SQLite file, created on first use."""

    def __init__(
        self,
        path: Path,
        *,
        clock: Callable[[], datetime] | None = None,
        prepare_dir: Callable[[], object] | None = None,
    ) -> None:
        self.path = path
        self.clock = clock or (lambda: datetime.now(UTC))
        self._prepare_dir = prepare_dir
        self._lock = threading.Lock()
        self._ready = False

    # --- lifecycle -----------------------------------------------------------------

    def ensure(self) -> None:
        """Create and seed the database if it does not exist; check it once if it does."""
        if self._ready:
            return
        with self._lock:
            if self._ready:
                return
            self._make_dir()
            if not self.path.exists():
                log.info("demo CRM: seeding a new portfolio")
                self._seed()
            self._check_schema()
            self._ready = True

    def reset(self) -> int:
        """Regenerate the portfolio as of now, discarding written activities."""
        with self._lock:
            self._make_dir()
            count = self._seed()
            self._check_schema()
            self._ready = True
        return count

    def _make_dir(self) -> None:
        if self._prepare_dir is not None:
            self._prepare_dir()
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)

    def _seed(self) -> int:
        now = self.clock()
        portfolio = generate_portfolio(now)
        tmp = self.path.with_name(self.path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        connection = sqlite3.connect(tmp, isolation_level=None)
        try:
            # One transaction for the whole portfolio: a single sync to disk.
            connection.execute("BEGIN")
            for statement in _SCHEMA.split(";"):
                if statement.strip():
                    connection.execute(statement)
            connection.executemany(
                "INSERT INTO meta (key, value) VALUES (?, ?)",
                [
                    ("schema_version", SCHEMA_VERSION),
                    ("seeded_at", now.isoformat()),
                    ("seed", str(SEED)),
                ],
            )
            for item in portfolio:
                self._insert(connection, item)
            connection.execute("COMMIT")
        finally:
            connection.close()
        os.replace(tmp, self.path)
        log.info("demo CRM: seeded %d debtors", len(portfolio))
        return len(portfolio)

    @staticmethod
    def _insert(connection: sqlite3.Connection, item: SeedDebtor) -> None:
        debtor = item.debtor
        searchable = [
            debtor.id,
            debtor.name,
            debtor.email or "",
            debtor.work_email or "",
        ]
        phones = " ".join(_digits(p) for p in (debtor.phone, debtor.mobile) if p)
        connection.execute(
            "INSERT INTO debtors VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                debtor.id,
                item.scenario,
                normalize(" ".join(searchable)),
                phones,
                debtor.model_dump_json(),
                item.account.model_dump_json(),
                _promises.dump_json(item.promises).decode(),
                _disputes.dump_json(item.disputes).decode(),
                _payments.dump_json(item.payments).decode(),
                _notes.dump_json(item.notes).decode(),
            ),
        )
        connection.executemany(
            "INSERT INTO contact_attempts (debtor_id, at, attempt_json) VALUES (?, ?, ?)",
            [
                (debtor.id, a.at.astimezone(UTC).isoformat(), a.model_dump_json())
                for a in item.contact_attempts
            ],
        )

    def _check_schema(self) -> None:
        with self._connect() as connection:
            row = connection.execute(
                "SELECT value FROM meta WHERE key = 'schema_version'"
            ).fetchone()
        if row is None or row[0] != SCHEMA_VERSION:
            raise StoreError(
                f"The demo CRM database at {self.path} was made by another version of "
                "Collection Copilot; run `copilot demo reset`."
            )

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        uri = self.path.resolve().as_uri() + "?mode=rw"
        try:
            connection = sqlite3.connect(
                uri, uri=True, timeout=10, isolation_level=None
            )
        except sqlite3.Error as exc:
            raise StoreError(
                f"The demo CRM database at {self.path} cannot be opened ({exc}); check "
                "COPILOT_DATA_DIR or run `copilot demo reset`."
            ) from exc
        try:
            yield connection
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(
                    f"The demo CRM database at {self.path} is busy; try again."
                ) from exc
            raise self._corrupt(exc) from exc
        except sqlite3.DatabaseError as exc:
            raise self._corrupt(exc) from exc
        finally:
            connection.close()

    def _corrupt(self, exc: Exception) -> StoreError:
        log.warning("demo CRM database unusable: %s", type(exc).__name__)
        return StoreError(
            f"The demo CRM database at {self.path} is corrupt ({exc}); "
            "run `copilot demo reset`."
        )

    # --- reads ---------------------------------------------------------------------

    def seeded_at(self) -> datetime:
        """When the portfolio was generated."""
        self.ensure()
        with self._connect() as connection:
            row = connection.execute(
                "SELECT value FROM meta WHERE key = 'seeded_at'"
            ).fetchone()
        return datetime.fromisoformat(row[0])

    def count(self) -> int:
        """How many debtors the portfolio holds."""
        self.ensure()
        with self._connect() as connection:
            row = connection.execute("SELECT count(*) FROM debtors").fetchone()
        return int(row[0])

    def ids(self) -> list[str]:
        """Every debtor id, in order."""
        self.ensure()
        with self._connect() as connection:
            rows = connection.execute("SELECT id FROM debtors ORDER BY id").fetchall()
        return [row[0] for row in rows]

    def record(self, debtor_id: str) -> DebtorRecord:
        """One debtor's full record, with written activities folded in."""
        records = self._records("WHERE d.id = ?", (debtor_id,))
        if not records:
            raise NotFoundError(
                f"The demo CRM has no debtor with id {debtor_id!r}. "
                "Run `copilot demo list` to see the ids it holds."
            )
        return records[0]

    def all_records(self) -> list[DebtorRecord]:
        """Every debtor's record, in id order."""
        return self._records("", ())

    def records(self, debtor_ids: list[str]) -> list[DebtorRecord]:
        """The records of the given debtors that exist, in id order."""
        if not debtor_ids:
            return []
        marks = ", ".join("?" for _ in debtor_ids)
        return self._records(f"WHERE d.id IN ({marks})", tuple(debtor_ids))

    def search(self, query: str) -> list[str]:
        """Ids of debtors whose id, name, e-mail or phone matches every word of *query*."""
        self.ensure()
        clauses: list[str] = []
        params: list[str] = []
        for token in normalize(query).split():
            if any(c.isalpha() for c in token) or not _digits(token):
                clauses.append("search_text LIKE ? ESCAPE '\\'")
                params.append(f"%{_escape_like(token)}%")
            else:
                clauses.append("(phone_digits LIKE ? OR search_text LIKE ?)")
                params += [f"%{_digits(token)}%", f"%{_escape_like(token)}%"]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
        with self._connect() as connection:
            rows = connection.execute(
                f"SELECT id FROM debtors {where} ORDER BY id", params
            ).fetchall()
        return [row[0] for row in rows]

    def _records(self, where: str, params: tuple[str, ...]) -> list[DebtorRecord]:
        self.ensure()
        with self._connect() as connection:
            rows = connection.execute(
                "SELECT d.id, d.scenario, d.debtor_json, d.account_json, d.promises_json, "
                f"d.disputes_json, d.payments_json, d.notes_json FROM debtors d {where} "
                "ORDER BY d.id",
                params,
            ).fetchall()
            ids = [row[0] for row in rows]
            attempts = self._attempts(connection, ids if where else None)
            written = self._activity_notes(connection, ids if where else None)
        return [
            DebtorRecord(
                scenario=row[1],
                debtor=Debtor.model_validate_json(row[2]),
                account=Account.model_validate_json(row[3]),
                contact_attempts=attempts.get(row[0], []),
                promises=_promises.validate_json(row[4]),
                disputes=_disputes.validate_json(row[5]),
                payments=_payments.validate_json(row[6]),
                notes=[*_notes.validate_json(row[7]), *written.get(row[0], [])],
            )
            for row in rows
        ]

    @staticmethod
    def _attempts(
        connection: sqlite3.Connection, ids: list[str] | None
    ) -> dict[str, list[ContactAttempt]]:
        sql = "SELECT debtor_id, attempt_json FROM contact_attempts"
        params: list[str] = []
        if ids is not None:
            sql += f" WHERE debtor_id IN ({', '.join('?' for _ in ids)})"
            params = ids
        found: dict[str, list[ContactAttempt]] = {}
        for debtor_id, raw in connection.execute(sql + " ORDER BY at, id", params):
            found.setdefault(debtor_id, []).append(
                ContactAttempt.model_validate_json(raw)
            )
        return found

    @staticmethod
    def _activity_notes(
        connection: sqlite3.Connection, ids: list[str] | None
    ) -> dict[str, list[Note]]:
        sql = (
            "SELECT debtor_id, kind, subject, body, occurred_at, author FROM activities "
            "WHERE kind IN ('note', 'call')"
        )
        params: list[str] = []
        if ids is not None:
            sql += f" AND debtor_id IN ({', '.join('?' for _ in ids)})"
            params = ids
        found: dict[str, list[Note]] = {}
        for debtor_id, kind, subject, body, occurred_at, author in connection.execute(
            sql + " ORDER BY seq", params
        ):
            text = f"{subject}: {body}" if subject else body
            note = Note(
                at=datetime.fromisoformat(occurred_at),
                author=author,
                text=text,
                kind="call" if kind == "call" else "general",
            )
            found.setdefault(debtor_id, []).append(note)
        return found

    def activities(self, debtor_id: str) -> list[dict[str, Any]]:
        """The activities written back for one debtor, oldest first."""
        self.ensure()
        with self._connect() as connection:
            connection.row_factory = sqlite3.Row
            rows = connection.execute(
                "SELECT id, debtor_id, idempotency_key, kind, subject, body, occurred_at, "
                "draft_id, author, recorded_at FROM activities WHERE debtor_id = ? "
                "ORDER BY seq",
                (debtor_id,),
            ).fetchall()
        return [dict(row) for row in rows]

    # --- writes --------------------------------------------------------------------

    def write_activity(self, activity: Activity) -> WriteResult:
        """Store *activity* once per idempotency key; a contact joins the history."""
        self.ensure()
        with self._connect() as connection:
            connection.execute("BEGIN IMMEDIATE")
            try:
                result = self._write(connection, activity)
            except BaseException:
                connection.execute("ROLLBACK")
                raise
            connection.execute("COMMIT")
        return result

    def _write(self, connection: sqlite3.Connection, activity: Activity) -> WriteResult:
        earlier = connection.execute(
            "SELECT id, debtor_id FROM activities WHERE idempotency_key = ?",
            (activity.idempotency_key,),
        ).fetchone()
        if earlier is not None:
            if earlier[1] != activity.debtor_id:
                log.warning(
                    "idempotency key reused for another debtor; kept the first write"
                )
            return WriteResult(activity_id=earlier[0], created=False)

        known = connection.execute(
            "SELECT 1 FROM debtors WHERE id = ?", (activity.debtor_id,)
        ).fetchone()
        if known is None:
            raise NotFoundError(
                f"The demo CRM has no debtor with id {activity.debtor_id!r}. "
                "Run `copilot demo list` to see the ids it holds."
            )

        cursor = connection.execute(
            "INSERT INTO activities (debtor_id, idempotency_key, kind, subject, body, "
            "occurred_at, draft_id, author, recorded_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                activity.debtor_id,
                activity.idempotency_key,
                activity.kind,
                activity.subject,
                activity.body,
                activity.occurred_at.isoformat(),
                activity.draft_id,
                activity.author,
                self.clock().isoformat(),
            ),
        )
        activity_id = f"ACT-{cursor.lastrowid:05d}"
        connection.execute(
            "UPDATE activities SET id = ? WHERE seq = ?",
            (activity_id, cursor.lastrowid),
        )

        if activity.kind in _CONTACT_KINDS:
            # A written call is a call summary: the debtor was reached.
            attempt = ContactAttempt(
                at=activity.occurred_at,
                channel=cast(Channel, activity.kind),
                direction="outbound",
                outcome="conversation" if activity.kind == "call" else "delivered",
                agent=activity.author,
                summary=activity.subject,
            )
            connection.execute(
                "INSERT INTO contact_attempts (debtor_id, at, attempt_json, activity_id) "
                "VALUES (?, ?, ?, ?)",
                (
                    activity.debtor_id,
                    activity.occurred_at.astimezone(UTC).isoformat(),
                    attempt.model_dump_json(),
                    activity_id,
                ),
            )
        return WriteResult(activity_id=activity_id, created=True)


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
