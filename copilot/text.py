"""Accent- and case-free text for matching ("Muñoz" finds "munoz", "Bogotá" "bogota")."""

from __future__ import annotations

import unicodedata

__all__ = ["fold", "fold_aligned"]


def fold(text: str) -> str:
    """Case-folded text without diacritics."""
    decomposed = unicodedata.normalize("NFKD", text.casefold())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def fold_aligned(text: str) -> str:
    """Like :func:`fold`, but exactly as long as *text*, so offsets carry over."""
    return "".join((fold(ch) or " ")[:1] for ch in text)
