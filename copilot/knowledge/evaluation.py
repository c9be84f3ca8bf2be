"""Retrieval evaluation on the shared question set: recall@1, recall@3 and MRR.

The shared set lives in ``shared/eval/policies/`` (four documents and
``questions.jsonl``); a second, held-out set over the packaged default policies is in
``tests/knowledge_questions.jsonl``. A question is a hit at k when a passage from the
expected document under the expected ``## `` heading (or one of the ``also`` pairs, for a
section that exists in two translations) is among the first k results.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from copilot.errors import InputError
from copilot.knowledge.base import KnowledgeBase
from copilot.knowledge.retriever import ScoringConfig

__all__ = [
    "EvalResult",
    "Question",
    "default_eval_dir",
    "evaluate",
    "format_table",
    "load_questions",
]

_DEPTH = 10


@dataclass(frozen=True)
class Question:
    """One retrieval question with the section that answers it."""

    id: str
    language: str
    kind: str
    question: str
    doc: str
    heading: str
    also: tuple[tuple[str, str], ...] = ()

    def answered_by(self, doc: str, heading: str) -> bool:
        """Whether a passage from *doc* under *heading* answers this question."""
        return (doc, heading) == (self.doc, self.heading) or (doc, heading) in self.also


@dataclass
class EvalResult:
    """Rank of the expected section for each question (None when below the depth)."""

    ranks: dict[str, int | None] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)

    def metrics(self, ids: Iterable[str]) -> dict[str, float]:
        """recall@1, recall@3 and MRR over the given question ids."""
        chosen = list(ids)
        if not chosen:
            return {"n": 0, "recall@1": 0.0, "recall@3": 0.0, "mrr": 0.0}
        ranks = [self.ranks[i] for i in chosen]
        return {
            "n": len(chosen),
            "recall@1": sum(r == 1 for r in ranks) / len(chosen),
            "recall@3": sum(r is not None and r <= 3 for r in ranks) / len(chosen),
            "mrr": sum(1 / r for r in ranks if r) / len(chosen),
        }

    def table(self) -> dict[str, dict[str, float]]:
        """Metrics for every group (overall, each kind, each language pair)."""
        return {name: self.metrics(ids) for name, ids in self.groups.items()}


def default_eval_dir() -> Path | None:
    """The shared policy evaluation set: COPILOT_SHARED_DIR, else ../shared next to the repo."""
    candidates = []
    if os.environ.get("COPILOT_SHARED_DIR"):
        candidates.append(Path(os.environ["COPILOT_SHARED_DIR"]) / "eval" / "policies")
    candidates.append(
        Path(__file__).resolve().parents[3] / "shared" / "eval" / "policies"
    )
    return next((c for c in candidates if (c / "questions.jsonl").is_file()), None)


def load_questions(directory: Path) -> list[Question]:
    """Read questions from a JSON Lines file, or ``questions.jsonl`` in a folder."""
    path = directory / "questions.jsonl" if directory.is_dir() else directory
    if not path.is_file():
        raise InputError(
            f"{directory} has no questions.jsonl; point at shared/eval/policies."
        )
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        raw: dict[str, Any] = json.loads(line)
        questions.append(
            Question(
                id=raw["id"],
                language=raw["language"],
                kind=raw["kind"],
                question=raw["question"],
                doc=raw["expect"]["doc"],
                heading=raw["expect"]["heading"],
                also=tuple(
                    (alt["doc"], alt["heading"])
                    for alt in raw["expect"].get("also", [])
                ),
            )
        )
    return questions


def evaluate(
    kb: KnowledgeBase, questions: list[Question], config: ScoringConfig | None = None
) -> EvalResult:
    """Search every question and record where its expected section ranks."""
    languages = {d.doc: d.language for d in kb.list_documents()}
    result = EvalResult(groups={"overall": []})
    for q in questions:
        hits = kb.searcher.search(q.question, k=_DEPTH, config=config)
        rank = next(
            (
                i + 1
                for i, hit in enumerate(hits)
                if q.answered_by(hit.passage.doc, hit.passage.heading)
            ),
            None,
        )
        result.ranks[q.id] = rank
        doc_language = languages.get(q.doc) or next(
            (h.passage.language for h in hits if h.passage.doc == q.doc), "?"
        )
        for group in ("overall", q.kind, f"{q.language}->{doc_language}"):
            result.groups.setdefault(group, []).append(q.id)
    return result


def format_table(result: EvalResult) -> str:
    """A plain-text table of the metrics by group."""
    lines = [f"{'group':<16}{'n':>4}{'recall@1':>10}{'recall@3':>10}{'MRR':>8}"]
    for name, m in result.table().items():
        lines.append(
            f"{name:<16}{m['n']:>4}{m['recall@1']:>10.2f}{m['recall@3']:>10.2f}{m['mrr']:>8.3f}"
        )
    return "\n".join(lines)
