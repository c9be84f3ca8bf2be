"""The shared development cases (../shared/eval/compliance/cases.jsonl) must all pass."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from copilot.compliance import Proposal, get_engine


def _shared_dir() -> Path:
    override = os.environ.get("COPILOT_SHARED_DIR")
    if override:
        return Path(override) / "eval"
    return Path(__file__).resolve().parents[2] / "shared" / "eval"


CASES_FILE = _shared_dir() / "compliance" / "cases.jsonl"


def _cases() -> list[Any]:
    if not CASES_FILE.parent.is_dir():
        return [
            pytest.param(
                None,
                id="shared eval directory absent",
                marks=pytest.mark.skip(reason=f"{CASES_FILE.parent} is absent"),
            )
        ]
    cases = [
        json.loads(line)
        for line in CASES_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    params = []
    for case in cases:
        expected = ", ".join(case["expect"]["violations"]) or "clean"
        params.append(pytest.param(case, id=f"{case['id']}: {expected}"))
    return params


@pytest.mark.parametrize("case", _cases())
def test_dev_case(case: dict[str, Any]) -> None:
    result = get_engine().check(Proposal.model_validate(case["input"]))
    reported = sorted({v.rule for v in result.violations})
    assert reported == sorted(case["expect"]["violations"]), case["note"]
    assert result.allowed is case["expect"]["allowed"]


def test_dev_set_is_complete() -> None:
    if not CASES_FILE.exists():
        pytest.skip(f"{CASES_FILE} is absent")
    lines = [
        line for line in CASES_FILE.read_text(encoding="utf-8").splitlines() if line
    ]
    assert len(lines) == 40


TRANSCRIPTS_FILE = _shared_dir() / "transcripts" / "cases.jsonl"


def _transcripts() -> list[Any]:
    if not TRANSCRIPTS_FILE.exists():
        return [
            pytest.param(
                None,
                id="shared transcripts absent",
                marks=pytest.mark.skip(reason=f"{TRANSCRIPTS_FILE} is absent"),
            )
        ]
    calls = [
        json.loads(line)
        for line in TRANSCRIPTS_FILE.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    return [
        pytest.param(
            call,
            id=f"{call['id']}: "
            f"{', '.join(call['expect']['agent_violations']) or 'clean'}",
        )
        for call in calls
    ]


@pytest.mark.parametrize("call", _transcripts())
def test_scan_text_finds_the_agent_violations_of_the_shared_transcripts(
    call: dict[str, Any],
) -> None:
    from copilot.compliance import scan_text

    jurisdiction = "CO" if call["timezone"] == "America/Bogota" else "US"
    agent = "\n".join(
        line.removeprefix("Agent: ")
        for line in call["transcript"].splitlines()
        if line.startswith("Agent: ")
    )
    found = scan_text(agent, language=call["language"], jurisdiction=jurisdiction)
    assert sorted({v.rule for v in found}) == sorted(call["expect"]["agent_violations"])
