"""Score call summaries against the shared development transcripts.

Scoring follows ``shared/eval/README.md``: promises by exact (amount, currency, date)
triples, requests and agent violations as sets, the dispute flag by accuracy, and summary
keywords after lowercasing and removing accents.
"""

from __future__ import annotations

import json
import os
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

from copilot.errors import InputError
from copilot.summaries.numbers import strip_accents
from copilot.summaries.summarize import Scanner, summarize_call

__all__ = ["EvalReport", "evaluate", "keyword_hit", "shared_eval_dir"]


def shared_eval_dir() -> Path:
    """Where the shared evaluation sets live (COPILOT_SHARED_DIR overrides)."""
    here = Path(__file__).resolve()
    candidates: list[Path] = []
    env = os.environ.get("COPILOT_SHARED_DIR")
    if env:
        candidates += [Path(env) / "eval", Path(env)]
    candidates += [
        here.parents[2] / "shared" / "eval",
        here.parents[3] / "shared" / "eval",
    ]
    for candidate in candidates:
        if (candidate / "transcripts" / "cases.jsonl").is_file():
            return candidate
    raise InputError(
        "cannot find the shared evaluation sets; set COPILOT_SHARED_DIR to the directory "
        "that holds eval/transcripts/cases.jsonl."
    )


def _cases_file(path: Path) -> Path:
    for candidate in (path, path / "cases.jsonl", path / "transcripts" / "cases.jsonl"):
        if candidate.is_file():
            return candidate
    raise InputError(f"no cases.jsonl under {path}; pass the transcripts directory.")


@dataclass
class _Counts:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    def add(self, predicted: Counter[Any], expected: Counter[Any]) -> None:
        hit = sum((predicted & expected).values())
        self.tp += hit
        self.fp += sum(predicted.values()) - hit
        self.fn += sum(expected.values()) - hit

    def scores(self) -> dict[str, float]:
        precision = self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0
        recall = self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0
        f1 = (
            2 * precision * recall / (precision + recall) if precision + recall else 0.0
        )
        return {
            "precision": round(precision, 3),
            "recall": round(recall, 3),
            "f1": round(f1, 3),
        }


@dataclass
class EvalReport:
    """Figures over the cases, and what went wrong case by case."""

    cases: int = 0
    promises: _Counts = field(default_factory=_Counts)
    promise_sets_exact: int = 0
    requests: _Counts = field(default_factory=_Counts)
    violations: _Counts = field(default_factory=_Counts)
    disputes_right: int = 0
    keywords_hit: int = 0
    keywords_total: int = 0
    violations_checked: bool = True
    failures: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """The figures as JSON-ready data."""
        n = self.cases or 1
        return {
            "cases": self.cases,
            "promises": {
                **self.promises.scores(),
                "exact_set_share": round(self.promise_sets_exact / n, 3),
            },
            "requests": self.requests.scores(),
            "dispute_accuracy": round(self.disputes_right / n, 3),
            "agent_violations": {
                **self.violations.scores(),
                "checked": self.violations_checked,
            },
            "summary_keywords": {
                "hits": self.keywords_hit,
                "total": self.keywords_total,
                "share": round(self.keywords_hit / (self.keywords_total or 1), 3),
            },
            "failures": self.failures,
        }


_THOUSANDS = re.compile(r"(?<=\d)[.,](?=\d{3}(?!\d))")


def keyword_hit(keyword: str, summary: str) -> bool:
    """Does the summary mention the keyword, under the README's matching rules?"""
    text = strip_accents(summary)
    word = strip_accents(keyword).strip()
    if word.isdigit():
        plain = _THOUSANDS.sub("", text)
        return any(
            re.search(rf"(?<!\d){variant}(?!\d)", plain)
            for variant in (word, word + "000")
        )
    return word in text


def _triple(item: dict[str, Any]) -> tuple[Decimal, str, str]:
    return (
        Decimal(str(item["amount"])).normalize(),
        str(item["currency"]),
        str(item["date"]),
    )


def evaluate(path: Path | None = None, *, scanner: Scanner | None = None) -> EvalReport:
    """Summarize every case in a cases.jsonl and score the results."""
    cases_file = _cases_file(path or shared_eval_dir() / "transcripts")
    report = EvalReport()
    for line in cases_file.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        case = json.loads(line)
        expect = case["expect"]
        result = summarize_call(
            case["language"],
            date.fromisoformat(case["call_date"]),
            case["timezone"],
            case["transcript"],
            scanner=scanner,
        )
        got = result.to_json_dict()
        report.cases += 1
        report.violations_checked = (
            report.violations_checked and result.compliance_checked
        )

        predicted = Counter(_triple(p) for p in got["promises"])
        expected = Counter(_triple(p) for p in expect["promises"])
        report.promises.add(predicted, expected)
        report.promise_sets_exact += predicted == expected
        report.requests.add(
            Counter(set(got["requests"])), Counter(set(expect["requests"]))
        )
        got_rules = {v["rule"] for v in got["agent_violations"]}
        report.violations.add(
            Counter(got_rules), Counter(set(expect["agent_violations"]))
        )
        report.disputes_right += got["disputed"] == expect["disputed"]
        missing = [
            k
            for k in expect["summary_must_mention"]
            if not keyword_hit(k, got["summary"])
        ]
        report.keywords_total += len(expect["summary_must_mention"])
        report.keywords_hit += len(expect["summary_must_mention"]) - len(missing)

        problems: dict[str, Any] = {}
        if predicted != expected:
            problems["promises"] = got["promises"]
        if set(got["requests"]) != set(expect["requests"]):
            problems["requests"] = got["requests"]
        if got["disputed"] != expect["disputed"]:
            problems["disputed"] = got["disputed"]
        if got_rules != set(expect["agent_violations"]):
            problems["agent_violations"] = sorted(got_rules)
        if missing:
            problems["keywords_missing"] = missing
        if problems:
            report.failures.append({"id": case.get("id", ""), **problems})
    return report
