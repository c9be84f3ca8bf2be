"""Retrieval quality: the shared evaluation set and two held-out sets of our own.

* shared: ``shared/eval/policies`` (four documents, sixteen questions).
* held-out: ``tests/knowledge_questions.jsonl``, 24 questions over the packaged default
  policies, written before the search glossary and used to check every tuning step.
* blind: ``tests/knowledge_questions_blind.jsonl``, 16 more questions over the default
  policies, written after the glossary and the weights were frozen and never tuned on;
  its figures are the honest estimate of how retrieval does on new questions.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.config import Settings
from copilot.knowledge import KnowledgeBase
from copilot.knowledge.base import DEFAULT_POLICY_DIR
from copilot.knowledge.evaluation import (
    EvalResult,
    evaluate,
    format_table,
    load_questions,
)

HERE = Path(__file__).resolve().parent


def _eval_dir() -> Path:
    candidates = [Path(__file__).resolve().parents[2] / "shared" / "eval" / "policies"]
    if os.environ.get("COPILOT_SHARED_DIR"):
        candidates.insert(
            0, Path(os.environ["COPILOT_SHARED_DIR"]) / "eval" / "policies"
        )
    for candidate in candidates:
        if (candidate / "questions.jsonl").is_file():
            return candidate
    pytest.fail("shared/eval/policies not found; set COPILOT_SHARED_DIR")


@pytest.fixture(scope="module")
def result(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EvalResult]:
    folder = _eval_dir()
    kb = KnowledgeBase(Settings(data_dir=tmp_path_factory.mktemp("eval") / "data"))
    report = kb.ingest(sorted(folder.glob("*.md")))
    assert len(report.changed) == 4
    outcome = evaluate(kb, load_questions(folder))
    print("\nshared set\n" + format_table(outcome))
    yield outcome
    kb.close()


@pytest.fixture(scope="module")
def defaults_kb(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KnowledgeBase]:
    kb = KnowledgeBase(Settings(data_dir=tmp_path_factory.mktemp("held") / "data"))
    assert kb.ensure_defaults(DEFAULT_POLICY_DIR)
    yield kb
    kb.close()


@pytest.fixture(scope="module")
def held_out(defaults_kb: KnowledgeBase) -> EvalResult:
    outcome = evaluate(defaults_kb, load_questions(HERE / "knowledge_questions.jsonl"))
    print("\nheld-out set\n" + format_table(outcome))
    return outcome


@pytest.fixture(scope="module")
def blind(defaults_kb: KnowledgeBase) -> EvalResult:
    path = HERE / "knowledge_questions_blind.jsonl"
    outcome = evaluate(defaults_kb, load_questions(path))
    print("\nblind set\n" + format_table(outcome))
    return outcome


@pytest.mark.parametrize(
    "group",
    ["overall", "direct", "cross_language", "paraphrase"],
    ids=["overall", "direct", "cross language", "paraphrase"],
)
def test_recall_at_3_meets_the_issue_target(result: EvalResult, group: str) -> None:
    assert result.table()[group]["recall@3"] >= 0.9


def test_mrr_and_recall_at_1(result: EvalResult) -> None:
    overall = result.table()["overall"]
    assert overall["recall@1"] >= 0.75
    assert overall["mrr"] >= 0.85


@pytest.mark.parametrize(
    ("group", "floor"),
    [("overall", 0.9), ("direct", 1.0), ("cross_language", 0.9), ("paraphrase", 0.9)],
    ids=["overall", "direct", "cross language", "paraphrase"],
)
def test_held_out_recall_at_3(held_out: EvalResult, group: str, floor: float) -> None:
    assert held_out.table()[group]["recall@3"] >= floor


@pytest.mark.parametrize(
    ("group", "floor"),
    [("overall", 0.75), ("paraphrase", 0.85), ("cross_language", 0.6)],
    ids=["overall", "paraphrase", "cross language"],
)
def test_blind_recall_at_3_keeps_its_measured_floor(
    blind: EvalResult, group: str, floor: float
) -> None:
    assert blind.table()[group]["recall@3"] >= floor


@pytest.mark.xfail(
    strict=True,
    reason="questions written after tuning miss more: blind recall@3 is 0.75, cross "
    "language 0.62 (b10 'blacklisted forever', b11 'not told beforehand' and b16 "
    "'embargo de salario' rank 4th-5th); the small embedders and the glossary do not "
    "carry these idioms across languages",
)
def test_blind_recall_at_3_meets_the_issue_target(blind: EvalResult) -> None:
    assert blind.table()["overall"]["recall@3"] >= 0.9
