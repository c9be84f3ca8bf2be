"""A bilingual glossary of collection terms that carries a question across languages.

The packaged embedders cross languages unevenly: e5 often ranks the right English passage
tenth for a Spanish question, and the lexical index cannot cross at all. So a question is
also searched in a rough translation made of the glossary terms it names: "¿Cuántos días
tiene el deudor para pagar una oferta?" becomes "how many day debtor payment offer". The
terms live in ``policies/glossary.yaml``. Matching ignores case, accents and stop words;
a glossary word matches any question word that starts with it less its last two letters
(at least five letters kept), so "instalment" matches "instalments" and "grabación"
matches "grabaciones", while a short word must match whole or with a plural ending.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import yaml

from copilot.errors import ConfigError
from copilot.knowledge.ingest import _STOP, detect_language
from copilot.text import fold

__all__ = ["DEFAULT_GLOSSARY", "Glossary", "load_glossary"]

log = logging.getLogger(__name__)

DEFAULT_GLOSSARY = Path(__file__).resolve().parents[2] / "policies" / "glossary.yaml"
_LANGUAGES = ("en", "es")


def _words(text: str) -> list[str]:
    return [w for w in re.findall(r"[a-z0-9]+", fold(text)) if w not in _STOP]


def _stem(word: str) -> str:
    return word if len(word) <= 5 else word[: max(5, len(word) - 2)]


def _matches(stem: str, word: str) -> bool:
    if len(stem) <= 5:
        return word in (stem, stem + "s", stem + "es") or (
            len(stem) == 5 and word.startswith(stem)
        )
    return word.startswith(stem)


@dataclass(frozen=True)
class _Term:
    concept: int
    language: str
    stems: tuple[str, ...]


class Glossary:
    """Concepts, each a list of English and a list of Spanish terms."""

    def __init__(self, concepts: list[dict[str, list[str]]]) -> None:
        self.concepts = concepts
        self._terms: list[_Term] = []
        for number, concept in enumerate(concepts):
            for language in _LANGUAGES:
                for term in concept.get(language, []):
                    stems = tuple(_stem(word) for word in _words(term))
                    if stems:
                        self._terms.append(_Term(number, language, stems))

    def __len__(self) -> int:
        return len(self.concepts)

    def translate(self, query: str, language: str | None = None) -> str:
        """The glossary terms *query* names, in the other language ('' if none)."""
        source = language or detect_language(query)
        target = "es" if source == "en" else "en"
        words = _words(query)
        found: dict[int, int] = {}
        for term in self._terms:
            if term.language != source or term.concept in found:
                continue
            width = len(term.stems)
            for start in range(len(words) - width + 1):
                window = words[start : start + width]
                if all(_matches(s, w) for s, w in zip(term.stems, window, strict=True)):
                    found[term.concept] = start
                    break
        ordered = sorted(found, key=lambda concept: (found[concept], concept))
        return " ".join(
            self.concepts[c][target][0] for c in ordered if self.concepts[c].get(target)
        )


def _read(path: Path) -> list[dict[str, list[str]]]:
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(
            f"The search glossary {path} cannot be read ({exc})."
        ) from exc
    if not isinstance(raw, list) or not all(
        isinstance(entry, dict)
        and all(isinstance(entry.get(lang, []), list) for lang in _LANGUAGES)
        for entry in raw
    ):
        raise ConfigError(
            f"The search glossary {path} must be a list of {{en: [...], es: [...]}} entries."
        )
    return [
        {lang: [str(term) for term in entry.get(lang, [])] for lang in _LANGUAGES}
        for entry in raw
    ]


@lru_cache(maxsize=4)
def load_glossary(path: Path = DEFAULT_GLOSSARY) -> Glossary:
    """The glossary at *path*; an empty one (with a warning) if the file is absent."""
    if not path.is_file():
        log.warning("no search glossary at %s; questions are not translated", path)
        return Glossary([])
    return Glossary(_read(path))
