"""The append-only audit log, each entry chained to the previous one by SHA-256.

An entry's hash covers the previous entry's hash and the entry's own content, so
changing, removing or reordering any entry breaks every hash after it; ``verify``
finds the first break. Appends are serialized (a PostgreSQL advisory lock, SQLite's
single writer) so that two workers never chain onto the same predecessor.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from copilot.workflow.models import AuditEntry, utcnow

__all__ = ["GENESIS", "ChainReport", "append", "entry_hash", "export_csv", "verify"]

GENESIS = "0" * 64
_ADVISORY_KEY = 7_214_993_101
_local_lock = threading.Lock()


def entry_hash(
    prev_hash: str, at: datetime, actor: str, action: str, subject: str, data: Any
) -> str:
    """The hash of one entry given its predecessor's."""
    canonical = json.dumps(
        {
            "prev": prev_hash,
            "at": at.isoformat(timespec="microseconds"),
            "actor": actor,
            "action": action,
            "subject": subject,
            "data": data,
        },
        sort_keys=True,
        ensure_ascii=False,
        separators=(",", ":"),
        default=str,
    )
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def append(
    session: Session, *, actor: str, action: str, subject: str = "",
    data: dict[str, Any] | None = None,
) -> AuditEntry:
    """Add an entry at the end of the chain (committed with the caller's session)."""
    payload = json.loads(json.dumps(data or {}, default=str))
    with _local_lock:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _ADVISORY_KEY})
        last = session.scalars(
            select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)
        ).first()
        prev = last.hash if last else GENESIS
        at = utcnow()
        entry = AuditEntry(
            at=at, actor=actor, action=action, subject=subject, data=payload,
            prev_hash=prev, hash=entry_hash(prev, at, actor, action, subject, payload),
        )
        session.add(entry)
        session.flush()
    return entry


@dataclass
class ChainReport:
    """The outcome of verifying the chain."""

    ok: bool
    entries: int
    first_bad_id: int | None = None
    problem: str = ""


def verify(session: Session) -> ChainReport:
    """Recompute every hash in order; report the first entry that does not match."""
    prev = GENESIS
    count = 0
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        count += 1
        if entry.prev_hash != prev:
            return ChainReport(False, count, entry.id,
                               "its previous-hash does not match the entry before it")
        expected = entry_hash(prev, entry.at, entry.actor, entry.action, entry.subject,
                              entry.data)
        if expected != entry.hash:
            return ChainReport(False, count, entry.id, "its content was changed")
        prev = entry.hash
    return ChainReport(True, count)


def export_csv(session: Session) -> str:
    """The whole log as CSV, oldest first, with the hashes to re-verify it."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["id", "at", "actor", "action", "subject", "data", "prev_hash", "hash"])
    for entry in session.scalars(select(AuditEntry).order_by(AuditEntry.id)):
        writer.writerow([
            entry.id, entry.at.isoformat(), entry.actor, entry.action, entry.subject,
            json.dumps(entry.data, ensure_ascii=False, sort_keys=True),
            entry.prev_hash, entry.hash,
        ])
    return buffer.getvalue()
