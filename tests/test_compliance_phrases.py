"""Phrase families: negation, rights statements, and the literal prefilter's safety."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from copilot.compliance import get_engine
from copilot.compliance.phrases import compile_family
from tests.test_compliance_rules import CASES

SHARED_CASES = Path(__file__).resolve().parents[2] / "shared" / "eval" / "compliance"


def _corpus() -> list[str]:
    texts = [data["text"] for _, _, data, _ in CASES]
    path = SHARED_CASES / "cases.jsonl"
    if path.exists():
        texts += [
            json.loads(line)["input"]["text"]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line
        ]
    texts += ["WE WILL SUE YOU", "Llamaremos a la POLICÍA", "İstanbul deadbeat"]
    return texts


@pytest.mark.parametrize("jurisdiction", ["US", "CO"])
def test_prefilter_and_lowercase_matching_never_change_results(
    jurisdiction: str,
) -> None:
    ruleset = get_engine().ruleset(jurisdiction)
    for text in _corpus():
        for family in ruleset.families.values():
            fast = family.find(text, ruleset.grammar, ruleset.rights, text.lower())
            plain = family.find(text, ruleset.grammar, ruleset.rights, None)
            assert fast == plain, (family.name, text)


def test_families_get_prefilters() -> None:
    families = get_engine().ruleset("US").families
    assert families["criminal_threat"].triggers is not None
    assert "arrest" in families["criminal_threat"].triggers


def test_a_family_with_upper_case_literals_still_matches() -> None:
    family = compile_family("shout", [r"\bSTOP\b"])
    grammar = get_engine().ruleset("US").grammar
    text = "Reply stop to end."
    assert [m.text for m in family.find(text, grammar, None, text.lower())] == ["stop"]


@pytest.mark.parametrize(
    ("text", "counted"),
    [
        pytest.param("We will sue you.", True, id="plain threat"),
        pytest.param("We will not sue you.", False, id="negated"),
        pytest.param("We won't sue you.", False, id="contracted negation"),
        pytest.param("If you do not pay we will sue you.", True, id="condition resets"),
        pytest.param(
            "We did not call, but we will sue you.",
            True,
            id="negation in another clause",
        ),
        pytest.param("Nunca lo demandaremos.", False, id="Spanish negation"),
        pytest.param("Si no paga, lo demandaremos.", True, id="Spanish condition"),
    ],
)
def test_negation(text: str, counted: bool) -> None:
    ruleset = get_engine().ruleset("US")
    found = ruleset.families["legal_threat"].find(
        text, ruleset.grammar, ruleset.rights, text.lower()
    )
    assert bool(found) is counted
