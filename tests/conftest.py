"""Shared fixtures: every test gets its own data directory and fresh settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from copilot.config import Settings, get_settings


@pytest.fixture(scope="session", autouse=True)
def _shared_embeddings_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One embedding cache for the whole session: each text is embedded only once."""
    folder = tmp_path_factory.mktemp("embeddings-cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("COPILOT_EMBEDDINGS_CACHE", str(folder))
        yield folder


@pytest.fixture(autouse=True)
def _isolated_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Point COPILOT_DATA_DIR at a temporary directory so no test touches real data."""
    monkeypatch.setenv("COPILOT_DATA_DIR", str(tmp_path / "data"))
    for name in ("COPILOT_LLM_PROVIDER", "COPILOT_CONNECTOR", "COPILOT_DATABASE_URL",
                 "COPILOT_CHROMA_URL"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    """Settings for a test, with a private data directory."""
    return Settings(data_dir=tmp_path / "data")
