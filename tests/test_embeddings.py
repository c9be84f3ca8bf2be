"""The packaged embedding models and the provider factory."""

from __future__ import annotations

import numpy as np
import pytest

from copilot.config import Settings
from copilot.embeddings import E5Embeddings, USEEmbeddings, get_embeddings
from copilot.errors import ConfigError


def _cos(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.mark.parametrize(
    ("model", "dimension"),
    [(E5Embeddings(), 384), (USEEmbeddings(), 512)],
    ids=["e5 gives 384 normalized dims", "USE gives 512 normalized dims"],
)
def test_vectors_are_normalized(
    model: E5Embeddings | USEEmbeddings, dimension: int
) -> None:
    vectors = model.embed_documents(["The smallest instalment is $28.", "Hola"])
    assert len(vectors) == 2
    assert all(len(v) == dimension for v in vectors)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert model.embed_documents([]) == []


def test_e5_uses_query_and_passage_prefixes() -> None:
    model = E5Embeddings()
    text = "how long are recordings kept"
    as_query = model.embed_query(text)
    as_passage = model.embed_documents([text])[0]
    assert _cos(as_query, as_passage) < 0.999  # different prefixes, different vectors


@pytest.mark.parametrize(
    "model",
    [E5Embeddings(), USEEmbeddings()],
    ids=["e5 crosses languages", "USE crosses languages"],
)
def test_spanish_question_lands_near_the_english_passage(
    model: E5Embeddings | USEEmbeddings,
) -> None:
    question = model.embed_query(
        "¿Cuánto tiempo se guardan las grabaciones de las llamadas?"
    )
    on_topic, off_topic = model.embed_documents(
        [
            "Call recordings are kept for 38 months and then deleted.",
            "Card payments never carry a convenience fee.",
        ]
    )
    assert _cos(question, on_topic) > _cos(question, off_topic)


def test_factory_defaults_to_the_packaged_model(settings: Settings) -> None:
    assert isinstance(get_embeddings(settings), E5Embeddings)


def test_factory_builds_openai_embeddings_without_tiktoken(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    configured = settings.model_copy(
        update={
            "embeddings_provider": "openai",
            "llm_base_url": "http://127.0.0.1:9/v1",
        }
    )
    embeddings = get_embeddings(configured)
    assert embeddings.tiktoken_enabled is False  # type: ignore[attr-defined]
    assert embeddings.check_embedding_ctx_length is False  # type: ignore[attr-defined]
    assert embeddings.model == "text-embedding-3-small"  # type: ignore[attr-defined]


def test_factory_names_the_missing_key(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    configured = settings.model_copy(update={"embeddings_provider": "openai"})
    with pytest.raises(ConfigError, match="OPENAI_API_KEY"):
        get_embeddings(configured)
