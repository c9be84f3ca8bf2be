"""Hybrid retrieval: two dense models at two granularities and BM25, fused by query type.

The measurements in the team's retrieval notes, and those in ``bench/bench_retrieval.py``
on two question sets, shaped this design:

* Reciprocal-rank fusion of dense and BM25 hurt paraphrased and cross-language questions,
  because BM25 ranks are noise when no word is shared. So the lexical score only weighs
  in strongly when the question holds something meant literally (a number, a citation
  such as ``1006.14`` or ``artículo 3``, a code or an acronym) that occurs in the corpus;
  otherwise it is a light tie-breaker.
* The two packaged multilingual models fail on different questions (e5 on cross-language
  ones, USE on some paraphrases), and both gain from sentence granularity. So three dense
  signals are z-scored over the candidates and averaged: e5 on the whole passage, and e5
  and USE on each sentence (prefixed by its heading), a passage taking its best sentence.
* e5 crosses languages poorly, so the question is embedded together with its rough
  translation from the bilingual glossary (:mod:`copilot.knowledge.glossary`).

Candidates come from Chroma (nearest passages and nearest sentences) and from BM25; they
are then rescored exactly from the cached vectors of the active passages.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from pydantic import ConfigDict

from copilot.knowledge.glossary import Glossary, load_glossary
from copilot.knowledge.ingest import exact_terms, tokenize
from copilot.knowledge.registry import Registry, StoredPassage
from copilot.knowledge.store import (
    VectorStore,
    passage_text_for_embedding,
    sentence_units,
)

__all__ = ["HybridSearcher", "PolicyRetriever", "ScoringConfig", "ScoredPassage"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ScoringConfig:
    """Weights of the fused score; the defaults are the measured best."""

    e5_weight: float = 1.0
    e5_sentence_weight: float = 1.0
    use_weight: float = 1.0
    translate: bool = True
    lexical_strong: float = 2.0
    lexical_weak: float = 0.25
    candidates: int = 40
    center: bool = True
    overview_penalty: float = 0.5


@dataclass
class ScoredPassage:
    """A passage with its fused score and the parts that made it."""

    passage: StoredPassage
    score: float
    parts: dict[str, float] = field(default_factory=dict)


class _Index:
    """In-memory view of the active passages: vectors, sentence map and BM25."""

    def __init__(self, registry: Registry, store: VectorStore, generation: int) -> None:
        self.generation = generation
        self.passages = registry.active_passages()
        self.position = {p.passage_id: i for i, p in enumerate(self.passages)}
        # The cache answers for every vector it holds; anything it lost is embedded again.
        self.e5 = self._rows(
            store.passage_embeddings.vectors(
                [passage_text_for_embedding(p) for p in self.passages]
            )
        )
        units = [
            (i, unit) for i, p in enumerate(self.passages) for unit in sentence_units(p)
        ]
        texts = [unit for _, unit in units]
        self.unit_owner = np.array([i for i, _ in units], dtype=np.int64)
        self.use = self._rows(store.sentence_embeddings.vectors(texts))
        self.e5_units = self._rows(store.passage_embeddings.vectors(texts))
        # The mean vector of a corpus is mostly "this is a policy text in language X";
        # removing it spreads the compressed cosines apart.
        self.e5_mean = self.e5.mean(axis=0) if len(self.e5) else np.zeros(1, np.float32)
        self.use_mean = (
            self.use.mean(axis=0) if len(self.use) else np.zeros(1, np.float32)
        )
        self.e5_units_mean = (
            self.e5_units.mean(axis=0)
            if len(self.e5_units)
            else np.zeros(1, np.float32)
        )
        self.e5_centered = _normalize(self.e5 - self.e5_mean)
        self.use_centered = _normalize(self.use - self.use_mean)
        self.e5_units_centered = _normalize(self.e5_units - self.e5_units_mean)
        docs_with_sections = {p.doc for p in self.passages if len(p.heading_path) > 1}
        self.overview = np.array(
            [
                len(p.heading_path) == 1 and p.doc in docs_with_sections
                for p in self.passages
            ],
            dtype=bool,
        )

        self.bm25: Any = None
        corpus = [
            tokenize(" ".join(p.heading_path) + " " + p.text) for p in self.passages
        ]
        self.vocabulary: set[str] = {token for tokens in corpus for token in tokens}
        if self.passages:
            import bm25s

            # bm25s sets its own logger to DEBUG on import
            logging.getLogger("bm25s").setLevel(logging.WARNING)
            self.bm25 = bm25s.BM25()
            self.bm25.index(corpus, show_progress=False)

    @staticmethod
    def _rows(matrix: np.ndarray) -> np.ndarray:
        return matrix if len(matrix) else np.zeros((0, 1), dtype=np.float32)

    def best_unit(self, scores: np.ndarray, rows: np.ndarray) -> np.ndarray:
        """Per candidate row, the best score among its sentence units (-1 if none)."""
        best = np.full(len(self.passages), -1.0, dtype=np.float32)
        if scores.size:
            np.maximum.at(best, self.unit_owner, scores.astype(np.float32))
        out: np.ndarray = best[rows]
        return out

    def lexical(self, tokens: list[str]) -> np.ndarray:
        known = [t for t in tokens if t in self.vocabulary]
        if self.bm25 is None or not known:
            return np.zeros(len(self.passages), dtype=np.float32)
        return np.asarray(self.bm25.get_scores(known), dtype=np.float32)


def _normalize(matrix: np.ndarray) -> np.ndarray:
    norms = np.linalg.norm(matrix, axis=-1, keepdims=True)
    out: np.ndarray = (matrix / np.maximum(norms, 1e-12)).astype(np.float32)
    return out


def _zscore(values: np.ndarray) -> np.ndarray:
    if values.size < 2:
        return np.zeros_like(values)
    spread = float(values.std())
    if spread < 1e-9:
        return np.zeros_like(values)
    return (values - float(values.mean())) / spread


def _as_of_number(as_of: date) -> int:
    return as_of.year * 10000 + as_of.month * 100 + as_of.day


class HybridSearcher:
    """Dense + lexical search over the active passages, with filters."""

    def __init__(
        self,
        registry: Registry,
        store: VectorStore,
        config: ScoringConfig | None = None,
    ) -> None:
        self.registry = registry
        self.store = store
        self.config = config or ScoringConfig()
        self.glossary: Glossary = load_glossary()
        self._index: _Index | None = None
        self._lock = threading.Lock()

    def index(self) -> _Index:
        """The in-memory index, rebuilt when the registry changed."""
        generation = self.registry.generation()
        with self._lock:
            if self._index is None or self._index.generation != generation:
                self._index = _Index(self.registry, self.store, generation)
            return self._index

    @staticmethod
    def _where(
        jurisdiction: str | None, language: str | None, as_of: date
    ) -> dict[str, Any]:
        clauses: list[dict[str, Any]] = [{"effective": {"$lte": _as_of_number(as_of)}}]
        if jurisdiction:
            clauses.append({"jurisdiction": {"$in": [jurisdiction.upper(), "ANY"]}})
        if language:
            clauses.append({"language": language})
        return clauses[0] if len(clauses) == 1 else {"$and": clauses}

    @staticmethod
    def _allowed(
        passage: StoredPassage,
        jurisdiction: str | None,
        language: str | None,
        as_of: date,
    ) -> bool:
        if jurisdiction and passage.jurisdiction not in (jurisdiction.upper(), "ANY"):
            return False
        if language and passage.language != language:
            return False
        return not (
            passage.effective_date and passage.effective_date > as_of.isoformat()
        )

    def search(
        self,
        query: str,
        *,
        k: int = 4,
        jurisdiction: str | None = None,
        language: str | None = None,
        as_of: date | None = None,
        config: ScoringConfig | None = None,
    ) -> list[ScoredPassage]:
        """The *k* best passages for *query* under the filters, best first."""
        cfg = config or self.config
        index = self.index()
        if not index.passages or not query.strip():
            return []
        as_of = as_of or date.today()
        where = self._where(jurisdiction, language, as_of)

        dense_query = query
        if cfg.translate:
            dense_query = f"{query} {self.glossary.translate(query)}".strip()
        e5_query = np.asarray(
            self.store.passage_embeddings.embed_query(dense_query), np.float32
        )
        use_query = np.asarray(
            self.store.sentence_embeddings.embed_query(dense_query), np.float32
        )
        tokens = tokenize(query)
        lexical = index.lexical(tokens)

        candidates: dict[str, None] = {}
        for pid, _ in self.store.search(
            "passages", e5_query.tolist(), cfg.candidates, where
        ):
            candidates[pid] = None
        for pid, _ in self.store.search(
            "sentences", use_query.tolist(), cfg.candidates * 3, where
        ):
            candidates[pid] = None
        allowed = [
            i
            for i, p in enumerate(index.passages)
            if lexical[i] > 0 and self._allowed(p, jurisdiction, language, as_of)
        ]
        for i in sorted(allowed, key=lambda i: -lexical[i])[: cfg.candidates]:
            candidates[index.passages[i].passage_id] = None
        rows = np.array(
            [index.position[pid] for pid in candidates if pid in index.position],
            dtype=np.int64,
        )
        if rows.size == 0:
            return []

        if cfg.center:
            e5_scores = index.e5_centered[rows] @ _normalize(e5_query - index.e5_mean)
            e5_units = index.e5_units_centered @ _normalize(
                e5_query - index.e5_units_mean
            )
            use_units = index.use_centered @ _normalize(use_query - index.use_mean)
        else:
            e5_scores = index.e5[rows] @ e5_query
            e5_units = index.e5_units @ e5_query
            use_units = index.use @ use_query
        e5_sentence_scores = index.best_unit(e5_units, rows)
        use_scores = index.best_unit(use_units, rows)

        lexical_rows = lexical[rows]
        peak = float(lexical_rows.max()) if lexical_rows.size else 0.0
        lexical_norm = lexical_rows / peak if peak > 0 else np.zeros_like(lexical_rows)
        literal = [t for t in exact_terms(query) if t in index.vocabulary]
        lexical_weight = cfg.lexical_strong if literal else cfg.lexical_weak

        weights = cfg.e5_weight + cfg.e5_sentence_weight + cfg.use_weight
        dense = (
            cfg.e5_weight * _zscore(e5_scores)
            + cfg.e5_sentence_weight * _zscore(e5_sentence_scores)
            + cfg.use_weight * _zscore(use_scores)
        ) / max(weights, 1e-9)
        fused = dense + lexical_weight * lexical_norm
        fused = fused - cfg.overview_penalty * index.overview[rows]
        order = np.argsort(-fused, kind="stable")[:k]
        return [
            ScoredPassage(
                passage=index.passages[int(rows[j])],
                score=float(fused[j]),
                parts={
                    "e5": float(e5_scores[j]),
                    "e5_sentence": float(e5_sentence_scores[j]),
                    "use": float(use_scores[j]),
                    "bm25": float(lexical_rows[j]),
                    "lexical_weight": lexical_weight,
                },
            )
            for j in order
        ]


class PolicyRetriever(BaseRetriever):
    """LangChain retriever over the policy knowledge base."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    knowledge_base: Any
    k: int = 4
    jurisdiction: str | None = None
    language: str | None = None
    as_of: date | None = None

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        passages = self.knowledge_base.search(
            query,
            k=self.k,
            jurisdiction=self.jurisdiction,
            language=self.language,
            as_of=self.as_of,
        )
        return [passage.to_document() for passage in passages]
