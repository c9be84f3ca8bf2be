"""Chroma, through langchain-chroma: where the vectors of active passages live.

Two collections hold the active version of every document: passages embedded whole by
the main model (e5 by default) and sentences embedded by the USE model. Chroma never
embeds anything itself (its default embedding function would download a model): vectors
always come from :class:`CachedEmbeddings`, which only computes what the embedding cache
does not already hold.

``COPILOT_CHROMA_URL`` selects a Chroma server; otherwise a persistent directory inside
``COPILOT_DATA_DIR`` is used. Telemetry is off in both modes.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from urllib.parse import urlparse

import numpy as np
from langchain_core.embeddings import Embeddings

from copilot.config import Settings
from copilot.embeddings import embeddings_key
from copilot.errors import StoreError
from copilot.knowledge.cache import EmbeddingCache
from copilot.knowledge.ingest import split_sentences
from copilot.knowledge.registry import StoredPassage

__all__ = [
    "CachedEmbeddings",
    "VectorStore",
    "heading_for_embedding",
    "passage_text_for_embedding",
    "sentence_units",
    "text_hash",
]

log = logging.getLogger(__name__)


def text_hash(text: str) -> str:
    """The cache key of a text."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


_ASIDE = re.compile(r"\s*\([^()]*\)")


def heading_for_embedding(heading: str) -> str:
    """A heading as the dense models see it: without parenthesised asides.

    Asides in headings are references (rule ids, statute numbers) that mean nothing to
    an embedder and, prefixed to every sentence, drown the topic words; the lexical
    index still sees them.
    """
    return _ASIDE.sub("", heading).strip() or heading


def passage_text_for_embedding(passage: StoredPassage) -> str:
    """What the main model sees for a passage: its heading path, then its text."""
    path = " > ".join(heading_for_embedding(h) for h in passage.heading_path)
    return path + "\n" + passage.text


def sentence_units(passage: StoredPassage) -> list[str]:
    """What the sentence models see: the heading, then each sentence prefixed by it."""
    heading = heading_for_embedding(passage.heading)
    units = [heading]
    for paragraph in passage.text.split("\n\n"):
        units.extend(f"{heading}. {s}" for s in split_sentences(paragraph))
    return units


class CachedEmbeddings(Embeddings):
    """Embeddings that look each text up by hash in the cache before computing it."""

    def __init__(
        self, inner: Embeddings, cache: EmbeddingCache, queries_kept: int = 256
    ) -> None:
        self.inner = inner
        self.cache = cache
        self.model_name = embeddings_key(inner)
        self.computed = 0
        self.queries_kept = queries_kept
        self._queries: OrderedDict[str, tuple[float, ...]] = OrderedDict()
        self._queries_lock = threading.Lock()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """The vectors of *texts* as one float32 matrix, computing only missing ones."""
        keys = [text_hash(text) for text in texts]
        found = self.cache.get(self.model_name, keys)
        missing = list(dict.fromkeys(k for k in keys if k not in found))
        if missing:
            by_key = dict(zip(keys, texts, strict=True))
            started = time.perf_counter()
            fresh = self.inner.embed_documents([by_key[k] for k in missing])
            log.info(
                "embedded %d texts with %s in %.0f ms",
                len(missing),
                self.model_name,
                (time.perf_counter() - started) * 1000,
            )
            self.computed += len(missing)
            computed = {
                k: np.asarray(v, dtype=np.float32)
                for k, v in zip(missing, fresh, strict=True)
            }
            self.cache.put(self.model_name, computed)
            found.update(computed)
        if not keys:
            return np.zeros((0, 1), dtype=np.float32)
        return np.stack([found[k] for k in keys]).astype(np.float32, copy=False)

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Cached vectors, computing and storing only the missing ones."""
        return [row.tolist() for row in self.vectors(texts)] if texts else []

    def embed_query(self, text: str) -> list[float]:
        """A question's vector, kept in memory for the most recent questions.

        Drafts and next steps ask the same fixed questions every time, and embedding a
        question is most of a search's time. Questions never go to the disk cache: an
        agent's own question may name a debtor.
        """
        with self._queries_lock:
            known = self._queries.get(text)
            if known is not None:
                self._queries.move_to_end(text)
                return list(known)
        vector = tuple(float(x) for x in self.inner.embed_query(text))
        with self._queries_lock:
            self._queries[text] = vector
            while len(self._queries) > self.queries_kept:
                self._queries.popitem(last=False)
        return list(vector)


def _client(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if settings.chroma_url:
        url = urlparse(settings.chroma_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise StoreError(
                f"COPILOT_CHROMA_URL={settings.chroma_url!r} is not an http(s) URL; "
                "use e.g. http://127.0.0.1:8000."
            )
        try:
            client = chromadb.HttpClient(
                host=url.hostname,
                port=url.port or (443 if url.scheme == "https" else 8000),
                ssl=url.scheme == "https",
                settings=chroma_settings,
            )
            client.heartbeat()
        except Exception as exc:
            raise StoreError(
                f"The Chroma server at {settings.chroma_url} cannot be reached "
                f"({type(exc).__name__}). Start it (`chroma run`) or fix COPILOT_CHROMA_URL."
            ) from exc
        return client
    path = settings.chroma_path
    try:
        path.mkdir(parents=True, exist_ok=True)
        return chromadb.PersistentClient(path=str(path), settings=chroma_settings)
    except Exception as exc:
        raise StoreError(
            f"The Chroma directory {path} cannot be opened ({type(exc).__name__}: {exc}). "
            "Move it away and run `copilot policies ingest` again, or set "
            "COPILOT_DATA_DIR to another directory."
        ) from exc


class VectorStore:
    """The two Chroma collections of active passages and sentences."""

    def __init__(
        self,
        settings: Settings,
        cache: EmbeddingCache,
        passage_embeddings: Embeddings,
        sentence_embeddings: Embeddings,
    ) -> None:
        from langchain_chroma import Chroma

        self.settings = settings
        self.where = settings.chroma_url or str(settings.chroma_path)
        self.passage_embeddings = CachedEmbeddings(passage_embeddings, cache)
        self.sentence_embeddings = CachedEmbeddings(sentence_embeddings, cache)
        client = _client(settings)
        name = settings.chroma_collection
        if self.passage_embeddings.model_name != "multilingual-e5-small":
            name += "_" + text_hash(self.passage_embeddings.model_name)[:8]
        metadata = {"hnsw:space": "cosine"}
        with self._errors("open"):
            self.passages = Chroma(
                collection_name=name,
                embedding_function=self.passage_embeddings,
                client=client,
                collection_metadata=metadata,
            )
            self.sentences = Chroma(
                collection_name=name + "_sentences",
                embedding_function=self.sentence_embeddings,
                client=client,
                collection_metadata=metadata,
            )

    @contextmanager
    def _errors(self, operation: str) -> Iterator[None]:
        """Turn any Chroma failure into one StoreError naming the setting to fix."""
        try:
            yield
        except StoreError:
            raise
        except Exception as exc:
            setting = (
                "COPILOT_CHROMA_URL" if self.settings.chroma_url else "COPILOT_DATA_DIR"
            )
            raise StoreError(
                f"Chroma failed to {operation} at {self.where} "
                f"({type(exc).__name__}: {exc}). Check {setting}."
            ) from exc

    @staticmethod
    def _metadata(passage: StoredPassage) -> dict[str, Any]:
        effective = int((passage.effective_date or "0000-00-00").replace("-", ""))
        return {
            "passage_id": passage.passage_id,
            "doc": passage.doc,
            "version": passage.version,
            "heading": passage.heading,
            "language": passage.language,
            "jurisdiction": passage.jurisdiction,
            "effective": effective,
        }

    def embed(self, passages: Sequence[StoredPassage]) -> int:
        """Compute (or find cached) every vector these passages need, touching no index.

        Returns how many passages had to be embedded (were not in the cache).
        """
        before = self.passage_embeddings.computed
        self.passage_embeddings.vectors(
            [passage_text_for_embedding(p) for p in passages]
        )
        embedded = self.passage_embeddings.computed - before
        units = [unit for p in passages for unit in sentence_units(p)]
        # both models score sentences: e5 is the better judge of paraphrase, USE of
        # questions asked in the other language
        self.sentence_embeddings.vectors(units)
        self.passage_embeddings.vectors(units)
        return embedded

    def put(self, doc: str, passages: Sequence[StoredPassage]) -> None:
        """Make *passages* the only ones of *doc* in both collections."""
        with self._errors("write"):
            self.delete(doc)
            if not passages:
                return
            self.passages.add_texts(
                [passage_text_for_embedding(p) for p in passages],
                metadatas=[self._metadata(p) for p in passages],
                ids=[p.passage_id for p in passages],
            )
            texts: list[str] = []
            metadatas: list[dict[str, Any]] = []
            ids: list[str] = []
            for p in passages:
                for index, unit in enumerate(sentence_units(p)):
                    texts.append(unit)
                    metadatas.append(self._metadata(p))
                    ids.append(f"{p.passage_id}:{index}")
            self.sentences.add_texts(texts, metadatas=metadatas, ids=ids)

    def delete(self, doc: str) -> None:
        """Remove every vector of *doc*."""
        with self._errors("delete"):
            self.passages.delete(where={"doc": doc})
            self.sentences.delete(where={"doc": doc})

    def count(self) -> int:
        """How many passages the main collection holds."""
        with self._errors("count"):
            return int(self.passages._collection.count())

    def ids(self) -> set[str]:
        """The passage ids in the main collection."""
        with self._errors("read"):
            got = self.passages.get(include=[])
            return set(got["ids"])

    def search(
        self, kind: str, vector: list[float], n: int, where: dict[str, Any] | None
    ) -> list[tuple[str, float]]:
        """(passage id, cosine similarity) of the *n* nearest passages or sentences."""
        collection = self.passages if kind == "passages" else self.sentences
        with self._errors("search"):
            total = collection._collection.count()
            if total == 0:
                return []
            hits = collection.similarity_search_by_vector_with_relevance_scores(
                vector, k=min(n, total), filter=where
            )
        return [
            (doc.metadata["passage_id"], 1.0 - float(distance))
            for doc, distance in hits
        ]
