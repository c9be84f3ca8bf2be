"""The registry of policy documents, their versions and passages.

A small SQLite file in the data directory (``policies.db``) is the source of truth:
Chroma holds only the vectors of the active version of each document, and can be rebuilt
from here without embedding anything again, because every vector is kept in the
embedding cache (:mod:`copilot.knowledge.cache`) under the hash of the text it encodes.

Passage ids are content addressed (document, heading path and text), so a passage that
did not change between two versions keeps its id and its vectors.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from copilot.errors import StoreError

__all__ = ["Registry", "StoredPassage", "VersionRow"]

log = logging.getLogger(__name__)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS documents (
    doc TEXT PRIMARY KEY,
    active_version INTEGER,
    updated_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS versions (
    doc TEXT NOT NULL,
    version INTEGER NOT NULL,
    content_hash TEXT NOT NULL,
    source TEXT NOT NULL,
    metadata TEXT NOT NULL,
    ingested_at TEXT NOT NULL,
    PRIMARY KEY (doc, version)
);
CREATE TABLE IF NOT EXISTS passages (
    passage_id TEXT PRIMARY KEY,
    doc TEXT NOT NULL,
    heading_path TEXT NOT NULL,
    text TEXT NOT NULL,
    language TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS version_passages (
    doc TEXT NOT NULL,
    version INTEGER NOT NULL,
    ordinal INTEGER NOT NULL,
    passage_id TEXT NOT NULL,
    PRIMARY KEY (doc, version, ordinal)
);
CREATE TABLE IF NOT EXISTS state (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""


@dataclass(frozen=True)
class StoredPassage:
    """A passage as the registry keeps it, tied to one version of its document."""

    passage_id: str
    doc: str
    version: int
    ordinal: int
    heading_path: list[str]
    text: str
    language: str
    jurisdiction: str
    effective_date: str | None

    @property
    def heading(self) -> str:
        """The passage's own heading."""
        return self.heading_path[-1] if self.heading_path else ""


@dataclass(frozen=True)
class VersionRow:
    """One version of a document."""

    doc: str
    version: int
    content_hash: str
    source: str
    metadata: dict[str, Any]
    ingested_at: str
    passage_count: int


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class Registry:
    """SQLite-backed registry of documents, versions, passages and cached vectors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.RLock()
        conn: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), check_same_thread=False, timeout=30)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.executescript(_SCHEMA)
            self._conn = conn
        except (sqlite3.Error, OSError) as exc:
            if conn is not None:
                conn.close()
            raise StoreError(
                f"The policy registry {path} cannot be opened ({exc}). Point "
                "COPILOT_DATA_DIR at a writable directory, or move the damaged file away "
                "and ingest the policies again."
            ) from exc

    def close(self) -> None:
        """Close the database connection."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: all of it happens, or none of it."""
        with self._lock:
            try:
                with self._conn:
                    yield self._conn
            except sqlite3.Error as exc:
                raise StoreError(
                    f"The policy registry {self.path} failed ({exc}). Check "
                    "COPILOT_DATA_DIR (disk full or damaged file?)."
                ) from exc

    def _query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        with self._lock:
            try:
                return list(self._conn.execute(sql, params).fetchall())
            except sqlite3.Error as exc:
                raise StoreError(
                    f"The policy registry {self.path} cannot be read ({exc}). Check "
                    "COPILOT_DATA_DIR, or move the damaged file away and ingest again."
                ) from exc

    # --- generation: bumps on every change, so caches know when to rebuild ---------

    def generation(self) -> int:
        """A counter that changes whenever the set of active passages changes."""
        rows = self._query("SELECT value FROM state WHERE key = 'generation'")
        return int(rows[0][0]) if rows else 0

    def state(self, key: str) -> str | None:
        """A value from the registry's small key-value table."""
        rows = self._query("SELECT value FROM state WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else None

    def set_state(self, key: str, value: str) -> None:
        """Store a value in the registry's small key-value table."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT INTO state (key, value) VALUES (?, ?) ON CONFLICT(key) "
                "DO UPDATE SET value = excluded.value",
                (key, value),
            )

    @staticmethod
    def bump(conn: sqlite3.Connection) -> None:
        """Advance the generation inside a transaction."""
        conn.execute(
            "INSERT INTO state (key, value) VALUES ('generation', '1') ON CONFLICT(key) "
            "DO UPDATE SET value = CAST(value AS INTEGER) + 1"
        )

    # --- documents and versions --------------------------------------------------

    def active_version(self, doc: str) -> int | None:
        """The active version of *doc*, or None if it is unknown or removed."""
        rows = self._query("SELECT active_version FROM documents WHERE doc = ?", (doc,))
        return rows[0][0] if rows else None

    def known(self, doc: str) -> bool:
        """Whether *doc* was ever ingested."""
        return bool(self._query("SELECT 1 FROM documents WHERE doc = ?", (doc,)))

    def latest_version(self, doc: str) -> int:
        """The highest version number of *doc* (0 if none)."""
        rows = self._query("SELECT MAX(version) FROM versions WHERE doc = ?", (doc,))
        return int(rows[0][0] or 0)

    def versions(self, doc: str) -> list[VersionRow]:
        """Every version of *doc*, oldest first."""
        rows = self._query(
            "SELECT v.doc, v.version, v.content_hash, v.source, v.metadata, v.ingested_at, "
            "(SELECT COUNT(*) FROM version_passages p WHERE p.doc = v.doc AND "
            "p.version = v.version) FROM versions v WHERE v.doc = ? ORDER BY v.version",
            (doc,),
        )
        return [
            VersionRow(r[0], r[1], r[2], r[3], json.loads(r[4]), r[5], r[6])
            for r in rows
        ]

    def documents(self) -> list[tuple[str, int | None, str]]:
        """(doc, active version or None, updated at) for every known document."""
        return [
            (r[0], r[1], r[2])
            for r in self._query(
                "SELECT doc, active_version, updated_at FROM documents ORDER BY doc"
            )
        ]

    def save_version(
        self,
        conn: sqlite3.Connection,
        *,
        doc: str,
        version: int,
        content_hash: str,
        source: str,
        metadata: dict[str, Any],
        passages: Sequence[tuple[str, list[str], str, str]],
    ) -> None:
        """Record a new version with its passages (id, heading path, text, language)."""
        conn.execute(
            "INSERT INTO versions (doc, version, content_hash, source, metadata, "
            "ingested_at) VALUES (?, ?, ?, ?, ?, ?)",
            (doc, version, content_hash, source, json.dumps(metadata), _now()),
        )
        for ordinal, (passage_id, heading_path, text, language) in enumerate(passages):
            conn.execute(
                "INSERT OR IGNORE INTO passages (passage_id, doc, heading_path, text, "
                "language) VALUES (?, ?, ?, ?, ?)",
                (
                    passage_id,
                    doc,
                    json.dumps(heading_path, ensure_ascii=False),
                    text,
                    language,
                ),
            )
            conn.execute(
                "INSERT INTO version_passages (doc, version, ordinal, passage_id) "
                "VALUES (?, ?, ?, ?)",
                (doc, version, ordinal, passage_id),
            )

    @staticmethod
    def set_active(conn: sqlite3.Connection, doc: str, version: int | None) -> None:
        """Make *version* the active one (None removes the document from search)."""
        conn.execute(
            "INSERT INTO documents (doc, active_version, updated_at) VALUES (?, ?, ?) "
            "ON CONFLICT(doc) DO UPDATE SET active_version = excluded.active_version, "
            "updated_at = excluded.updated_at",
            (doc, version, _now()),
        )
        Registry.bump(conn)

    # --- passages ------------------------------------------------------------------

    _PASSAGE_SELECT = (
        "SELECT p.passage_id, vp.doc, vp.version, vp.ordinal, p.heading_path, p.text, "
        "p.language, v.metadata FROM version_passages vp "
        "JOIN passages p ON p.passage_id = vp.passage_id "
        "JOIN versions v ON v.doc = vp.doc AND v.version = vp.version "
    )

    @staticmethod
    def _row(r: tuple[Any, ...]) -> StoredPassage:
        metadata = json.loads(r[7])
        return StoredPassage(
            passage_id=r[0],
            doc=r[1],
            version=r[2],
            ordinal=r[3],
            heading_path=json.loads(r[4]),
            text=r[5],
            language=r[6],
            jurisdiction=metadata.get("jurisdiction") or "ANY",
            effective_date=metadata.get("effective_date"),
        )

    def passages(self, doc: str, version: int) -> list[StoredPassage]:
        """The passages of one version of a document, in reading order."""
        rows = self._query(
            self._PASSAGE_SELECT
            + "WHERE vp.doc = ? AND vp.version = ? ORDER BY vp.ordinal",
            (doc, version),
        )
        return [self._row(r) for r in rows]

    def active_passages(self) -> list[StoredPassage]:
        """Every passage of every active document version."""
        rows = self._query(
            self._PASSAGE_SELECT + "JOIN documents d ON d.doc = vp.doc AND "
            "d.active_version = vp.version ORDER BY vp.doc, vp.ordinal"
        )
        return [self._row(r) for r in rows]

    def passage(self, passage_id: str) -> StoredPassage | None:
        """A passage by id, in the active version if it is there, else its latest one."""
        rows = self._query(
            self._PASSAGE_SELECT + "LEFT JOIN documents d ON d.doc = vp.doc "
            "WHERE vp.passage_id = ? ORDER BY (d.active_version = vp.version) DESC, "
            "vp.version DESC LIMIT 1",
            (passage_id,),
        )
        return self._row(rows[0]) if rows else None

    # --- vectors cached here by earlier releases ---------------------------------------

    def take_legacy_vectors(self) -> dict[str, dict[str, np.ndarray]] | None:
        """Vectors an older release cached inside the registry, by model (None: none)."""
        exists = self._query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'embeddings'"
        )
        if not exists:
            return None
        by_model: dict[str, dict[str, np.ndarray]] = {}
        for model, text_hash, blob in self._query(
            "SELECT model, text_hash, vector FROM embeddings"
        ):
            by_model.setdefault(model, {})[text_hash] = np.frombuffer(
                blob, dtype=np.float32
            )
        return by_model

    def drop_legacy_vectors(self) -> None:
        """Remove the old in-registry vector table once its rows are in the cache."""
        with self.transaction() as conn:
            conn.execute("DROP TABLE IF EXISTS embeddings")
