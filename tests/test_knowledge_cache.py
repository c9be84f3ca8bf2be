"""The embedding cache (shared, safe to share, self-healing) and first-run policies."""

from __future__ import annotations

import logging
import sqlite3
import threading
from pathlib import Path

import numpy as np
import pytest

from copilot.config import Settings
from copilot.errors import StoreError
from copilot.knowledge import KnowledgeBase
from copilot.knowledge.cache import CACHE_FILE, EmbeddingCache, cache_path

POLICY = """---
jurisdiction: US
---
# Card payments

## Fees

Card payments never carry a convenience fee. A refund is issued within ten days.

## Receipts

Every payment gets a receipt by email the same day. Paper receipts are mailed on request.
"""


def _settings(root: Path, name: str, cache: Path) -> Settings:
    return Settings(data_dir=root / name, embeddings_cache=cache)


def _policy(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "cards.md"
    path.write_text(POLICY, encoding="utf-8")
    return path


def _computed(kb: KnowledgeBase) -> tuple[int, int]:
    return (
        kb.store.passage_embeddings.computed,
        kb.store.sentence_embeddings.computed,
    )


def test_the_setting_places_the_cache_outside_the_data_dir(tmp_path: Path) -> None:
    shared = _settings(tmp_path, "data", tmp_path / "cache")
    assert cache_path(shared) == tmp_path / "cache" / CACHE_FILE
    private = Settings(data_dir=tmp_path / "data", embeddings_cache=None)
    assert cache_path(private) == tmp_path / "data" / CACHE_FILE


def test_the_environment_variable_sets_the_cache(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COPILOT_EMBEDDINGS_CACHE", str(tmp_path / "elsewhere"))
    assert Settings().embeddings_cache == tmp_path / "elsewhere"


def test_a_second_data_dir_sharing_the_cache_embeds_nothing(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    path = _policy(tmp_path / "corpus")

    first = KnowledgeBase(_settings(tmp_path, "one", cache))
    outcome = first.ingest([path]).files[0]
    assert (outcome.status, outcome.passages, outcome.embedded) == ("added", 2, 2)
    e5_texts, use_texts = _computed(first)
    assert use_texts >= 6  # each heading, then each sentence under it
    assert e5_texts == 2 + use_texts  # e5 reads whole passages and the same sentences
    first.close()

    second = KnowledgeBase(_settings(tmp_path, "two", cache))
    outcome = second.ingest([path]).files[0]
    assert (outcome.status, outcome.embedded) == ("added", 0)
    hit = second.search("¿Cobran una comisión por pagar con tarjeta?", k=1)[0]
    assert (hit.doc, hit.heading) == ("cards.md", "Fees")
    assert _computed(second) == (0, 0)
    second.close()
    assert not (tmp_path / "one" / CACHE_FILE).exists()


def test_a_deleted_cache_is_rebuilt_by_embedding_again(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "data", tmp_path / "cache")
    kb = KnowledgeBase(settings)
    kb.ingest([_policy(tmp_path / "corpus")])
    kb.close()
    for leftover in (tmp_path / "cache").iterdir():
        leftover.unlink()

    reopened = KnowledgeBase(settings)
    hit = reopened.search("is there a surcharge for paying by card", k=1)[0]
    assert hit.heading == "Fees"
    e5_texts, use_texts = _computed(reopened)
    assert use_texts >= 6 and e5_texts == 2 + use_texts
    assert reopened.cache.count() > 2
    reopened.close()


def test_a_damaged_cache_is_moved_aside_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / CACHE_FILE).write_bytes(b"this is not a database" * 200)

    with caplog.at_level(logging.WARNING, logger="copilot.knowledge.cache"):
        kb = KnowledgeBase(_settings(tmp_path, "data", cache))
    assert "damaged" in caplog.text
    assert len(list(cache.glob(f"{CACHE_FILE}.damaged-*"))) == 1
    outcome = kb.ingest([_policy(tmp_path / "corpus")]).files[0]
    assert (outcome.status, outcome.embedded) == ("added", 2)
    e5_texts, use_texts = _computed(kb)
    assert kb.cache.count(kb.store.passage_embeddings.model_name) == e5_texts
    assert kb.cache.count(kb.store.sentence_embeddings.model_name) == use_texts
    kb.close()


def test_an_unusable_cache_location_names_the_setting(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the cache folder should be", encoding="utf-8")
    with pytest.raises(StoreError, match="COPILOT_EMBEDDINGS_CACHE"):
        KnowledgeBase(_settings(tmp_path, "data", blocker))


def test_concurrent_writers_and_readers_share_one_file(tmp_path: Path) -> None:
    path = tmp_path / CACHE_FILE
    errors: list[BaseException] = []

    def work(worker: int) -> None:
        cache = EmbeddingCache(path)  # its own connection, as another process has
        try:
            for batch in range(20):
                keys = [f"{worker}-{batch}-{i}" for i in range(25)]
                cache.put("model", {k: np.full(8, worker, np.float32) for k in keys})
                assert set(cache.get("model", keys)) == set(keys)
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)
        finally:
            cache.close()

    threads = [threading.Thread(target=work, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("SELECT COUNT(*) FROM embeddings").fetchone()[0] == 2000


def test_vectors_cached_in_an_old_registry_move_to_the_cache(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "data", tmp_path / "cache")
    settings.ensure_data_dir()
    vector = np.arange(4, dtype=np.float32)
    with sqlite3.connect(settings.data_dir / "policies.db") as conn:
        conn.execute(
            "CREATE TABLE embeddings (model TEXT NOT NULL, text_hash TEXT NOT NULL, "
            "vector BLOB NOT NULL, PRIMARY KEY (model, text_hash))"
        )
        conn.execute(
            "INSERT INTO embeddings VALUES ('m', 'abc', ?)", (vector.tobytes(),)
        )
    conn.close()

    kb = KnowledgeBase(settings)
    assert np.array_equal(kb.cache.get("m", ["abc"])["abc"], vector)
    kb.close()
    with sqlite3.connect(settings.data_dir / "policies.db") as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    conn.close()
    assert "embeddings" not in tables


def test_first_run_policies_come_from_the_setting(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "house-policies"
    _policy(folder)
    settings = Settings(
        data_dir=tmp_path / "data",
        embeddings_cache=tmp_path / "cache",
        default_policies_dir=folder,
    )
    kb = KnowledgeBase(settings)
    assert kb.ensure_defaults() is True
    assert [d.doc for d in kb.list_documents()] == ["cards.md"]
    kb.close()

    empty = settings.model_copy(
        update={"data_dir": tmp_path / "other", "default_policies_dir": tmp_path}
    )
    kb = KnowledgeBase(empty)
    with caplog.at_level(logging.WARNING, logger="copilot.knowledge.base"):
        assert kb.ensure_defaults() is False
    assert "COPILOT_DEFAULT_POLICIES_DIR" in caplog.text
    kb.close()


class _CountingEmbeddings:
    """A deterministic stand-in that counts the questions it embeds."""

    model_name = "counting"

    def __init__(self) -> None:
        self.queries: list[str] = []

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [[float(len(t)), 1.0] for t in texts]

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return [float(len(text)), 2.0]


def test_repeated_questions_are_embedded_once_and_never_stored(tmp_path: Path) -> None:
    from copilot.knowledge.store import CachedEmbeddings

    inner = _CountingEmbeddings()
    cache = EmbeddingCache(tmp_path / CACHE_FILE)
    embeddings = CachedEmbeddings(inner, cache, queries_kept=2)  # type: ignore[arg-type]

    first = embeddings.embed_query("payment plans")
    first.append(99.0)  # a caller changing its copy leaves the kept vector alone
    assert embeddings.embed_query("payment plans") == [13.0, 2.0]
    assert inner.queries == ["payment plans"]

    embeddings.embed_query("call hours")
    embeddings.embed_query("hardship")  # pushes out the least recently used question
    embeddings.embed_query("payment plans")
    assert inner.queries == ["payment plans", "call hours", "hardship", "payment plans"]
    assert cache.count() == 0, "questions stay in memory only"
    cache.close()
