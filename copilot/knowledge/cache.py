"""The embedding cache: the vector of every text a model has embedded, by content hash.

Embedding is the slow part of indexing (a few texts per second on a small CPU), and the
same text always gives the same vector, so vectors are kept under the SHA-256 of the text
they encode, per model name. The cache is derived data: losing it costs time, never
correctness.

It lives in ``embeddings.db`` inside COPILOT_EMBEDDINGS_CACHE (default: the data
directory). Several data directories and processes may share one cache: SQLite in WAL
mode lets readers work while one writer commits, and a busy timeout makes concurrent
writers wait for each other instead of failing. A damaged cache file is moved aside and
rebuilt; a cache that cannot be written at all is one clear error naming the setting.
"""

from __future__ import annotations

import logging
import sqlite3
import threading
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from copilot.config import Settings
from copilot.errors import StoreError

__all__ = ["CACHE_FILE", "EmbeddingCache", "cache_path"]

log = logging.getLogger(__name__)

CACHE_FILE = "embeddings.db"
_BUSY_TIMEOUT_MS = 30_000
_CHUNK = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS embeddings (
    model TEXT NOT NULL,
    text_hash TEXT NOT NULL,
    vector BLOB NOT NULL,
    PRIMARY KEY (model, text_hash)
) WITHOUT ROWID;
"""


def cache_path(settings: Settings) -> Path:
    """The cache file the settings point at."""
    return (settings.embeddings_cache or settings.data_dir) / CACHE_FILE


def _unusable(path: Path, exc: BaseException) -> StoreError:
    return StoreError(
        f"The embedding cache {path} cannot be opened ({exc}). Point "
        "COPILOT_EMBEDDINGS_CACHE (or COPILOT_DATA_DIR) at a writable directory."
    )


class EmbeddingCache:
    """A SQLite table of (model, text hash) -> float32 vector, safe to share."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._broken = False
        self._conn = self._open_or_rebuild()

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(
            str(self.path),
            check_same_thread=False,
            timeout=_BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,
        )
        try:
            conn.execute(f"PRAGMA busy_timeout = {_BUSY_TIMEOUT_MS}")
            conn.execute("PRAGMA journal_mode = WAL")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.executescript(_SCHEMA)
            conn.execute("SELECT model FROM embeddings LIMIT 1").fetchall()
        except BaseException:
            conn.close()
            raise
        return conn

    def _open_or_rebuild(self) -> sqlite3.Connection:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise _unusable(self.path, exc) from exc
        try:
            return self._connect()
        except sqlite3.OperationalError as exc:
            # cannot open or lock the file: not damage, so nothing is moved away
            raise _unusable(self.path, exc) from exc
        except sqlite3.DatabaseError as exc:
            damaged = exc
        try:
            # another process may have rebuilt it in the meantime
            return self._connect()
        except sqlite3.DatabaseError:
            pass
        aside = self.path.with_name(f"{self.path.name}.damaged-{int(time.time())}")
        log.warning(
            "the embedding cache %s is damaged (%s); moved it to %s and starting an "
            "empty one (texts will be embedded again)",
            self.path,
            damaged,
            aside.name,
        )
        try:
            self.path.replace(aside)
            for suffix in ("-wal", "-shm"):
                self.path.with_name(self.path.name + suffix).unlink(missing_ok=True)
            return self._connect()
        except (OSError, sqlite3.Error) as exc:
            raise _unusable(self.path, exc) from exc

    def close(self) -> None:
        """Close the connection."""
        with self._lock:
            self._conn.close()

    def _failed(self, operation: str, exc: sqlite3.Error) -> None:
        # A cache failure must not stop indexing: the vectors are computed instead.
        if not self._broken:
            log.warning(
                "the embedding cache %s failed to %s (%s); embedding without it. Move "
                "the file away or set COPILOT_EMBEDDINGS_CACHE to fix it.",
                self.path,
                operation,
                exc,
            )
        self._broken = True

    def get(self, model: str, hashes: Sequence[str]) -> dict[str, np.ndarray]:
        """Cached vectors of *model* for whichever of *hashes* are known."""
        found: dict[str, np.ndarray] = {}
        unique = list(dict.fromkeys(hashes))
        with self._lock:
            try:
                for start in range(0, len(unique), _CHUNK):
                    chunk = unique[start : start + _CHUNK]
                    marks = ",".join("?" * len(chunk))
                    rows = self._conn.execute(
                        "SELECT text_hash, vector FROM embeddings "  # noqa: S608
                        f"WHERE model = ? AND text_hash IN ({marks})",
                        (model, *chunk),
                    ).fetchall()
                    for text_hash, blob in rows:
                        found[text_hash] = np.frombuffer(blob, dtype=np.float32)
            except sqlite3.Error as exc:
                self._failed("read", exc)
        return found

    def put(
        self, model: str, vectors: Mapping[str, Sequence[float] | np.ndarray]
    ) -> None:
        """Store vectors of *model* under their text hashes."""
        if not vectors:
            return
        rows = [
            (model, key, np.asarray(vector, dtype=np.float32).tobytes())
            for key, vector in vectors.items()
        ]
        with self._lock:
            try:
                self._conn.execute("BEGIN IMMEDIATE")
                try:
                    self._conn.executemany(
                        "INSERT OR REPLACE INTO embeddings (model, text_hash, vector) "
                        "VALUES (?, ?, ?)",
                        rows,
                    )
                except BaseException:
                    self._conn.execute("ROLLBACK")
                    raise
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                self._failed("write", exc)

    def count(self, model: str | None = None) -> int:
        """How many vectors are cached (for one model, or all)."""
        sql = "SELECT COUNT(*) FROM embeddings"
        params: tuple[str, ...] = ()
        if model is not None:
            sql += " WHERE model = ?"
            params = (model,)
        with self._lock:
            try:
                return int(self._conn.execute(sql, params).fetchone()[0])
            except sqlite3.Error as exc:
                self._failed("count", exc)
                return 0
