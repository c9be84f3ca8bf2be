"""User-interface strings in English and Spanish, kept as data in ``messages/``."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml
from flask import g, request, session

__all__ = ["LANGUAGES", "catalogue", "translate", "ui_language"]

LANGUAGES = ("en", "es")
_DIR = Path(__file__).parent / "messages"


@lru_cache(maxsize=4)
def catalogue(language: str) -> dict[str, str]:
    """All UI strings of one language."""
    data: dict[str, Any] = yaml.safe_load((_DIR / f"{language}.yaml").read_text("utf-8"))
    return {str(k): str(v) for k, v in data.items()}


def ui_language(default: str = "en") -> str:
    """The UI language of this request: ?lang=, then the session, then the browser."""
    chosen = request.args.get("lang")
    if chosen in LANGUAGES:
        session["lang"] = chosen
        return chosen
    stored = session.get("lang")
    if stored in LANGUAGES:
        return str(stored)
    best = request.accept_languages.best_match(LANGUAGES)
    return best or default


def translate(key: str, **values: Any) -> str:
    """The UI string *key* in the request's language, falling back to English."""
    language = getattr(g, "ui_language", "en")
    text = catalogue(language).get(key) or catalogue("en").get(key) or key
    return text.format(**values) if values else text
