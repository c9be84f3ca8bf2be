"""The bilingual search glossary that carries questions across languages."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from copilot.errors import ConfigError
from copilot.knowledge.glossary import DEFAULT_GLOSSARY, Glossary, load_glossary
from copilot.knowledge.store import heading_for_embedding


@pytest.fixture(scope="module")
def glossary() -> Glossary:
    return load_glossary(DEFAULT_GLOSSARY)


@pytest.mark.parametrize(
    ("question", "expected"),
    [
        ("¿Cuántas cuotas tiene un plan de pago?", ["instalment", "payment plan"]),
        ("¿Se puede llamar en un día festivo?", ["call", "holiday"]),
        ("How long are call recordings stored?", ["llamada", "grabación", "conservar"]),
        ("Can we text a debtor at work?", ["mensaje de texto", "deudor", "trabajo"]),
    ],
    ids=[
        "spanish plural instalments",
        "spanish holiday",
        "english plural recordings",
        "english debtor at work",
    ],
)
def test_questions_gain_the_other_languages_terms(
    glossary: Glossary, question: str, expected: list[str]
) -> None:
    translated = glossary.translate(question)
    for term in expected:
        assert term in translated


def test_a_question_without_glossary_terms_gains_nothing(glossary: Glossary) -> None:
    assert glossary.translate("What colour is the sky over Lisbon?") == ""


def test_short_words_match_whole_not_as_prefixes() -> None:
    small = Glossary([{"en": ["day"], "es": ["día"]}, {"en": ["fee"], "es": ["gasto"]}])
    assert small.translate("Every day counts", "en") == "día"
    assert small.translate("daylight and feedback", "en") == ""


def test_a_missing_glossary_is_empty_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="copilot.knowledge.glossary"):
        empty = load_glossary(tmp_path / "nope.yaml")
    assert len(empty) == 0 and empty.translate("¿Cuántas cuotas?") == ""
    assert "no search glossary" in caplog.text


def test_a_malformed_glossary_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "glossary.yaml"
    path.write_text("en: not a list of entries\n", encoding="utf-8")
    with pytest.raises(ConfigError, match="glossary.yaml"):
        load_glossary(path)


@pytest.mark.parametrize(
    ("heading", "expected"),
    [
        ("Contact hours (us.contact_time)", "Contact hours"),
        ("Horario de contacto (co.contact_hours)", "Horario de contacto"),
        ("Tone", "Tone"),
        ("(12 CFR 1006.14)", "(12 CFR 1006.14)"),
    ],
    ids=[
        "rule id dropped",
        "spanish rule id dropped",
        "plain heading kept",
        "never empty",
    ],
)
def test_embedders_see_headings_without_asides(heading: str, expected: str) -> None:
    assert heading_for_embedding(heading) == expected
