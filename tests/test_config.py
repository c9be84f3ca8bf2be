"""Settings: read from COPILOT_*, documented once, secrets never stored."""

from __future__ import annotations

from pathlib import Path

import pytest

from copilot.config import Settings, secret, setting_docs
from copilot.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]


def test_settings_come_from_prefixed_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_LLM_PROVIDER", "local")
    monkeypatch.setenv("COPILOT_CRM_MAX_RETRIES", "5")

    settings = Settings()

    assert settings.llm_provider == "local"
    assert settings.crm_max_retries == 5


def test_an_invalid_provider_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COPILOT_LLM_PROVIDER", "gpt-magic")

    with pytest.raises(ValueError, match="llm_provider"):
        Settings()


def test_defaults_keep_everything_in_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)

    assert settings.effective_database_url == f"sqlite:///{tmp_path / 'copilot.db'}"
    assert settings.chroma_path == tmp_path / "chroma"
    assert settings.llm_provider == "none"
    assert settings.connector == "demo"


def test_redaction_defaults_on_only_for_external_models(tmp_path: Path) -> None:
    assert Settings(data_dir=tmp_path, llm_provider="openai").redaction_enabled
    assert not Settings(data_dir=tmp_path, llm_provider="local").redaction_enabled
    assert Settings(
        data_dir=tmp_path, llm_provider="local", redact_personal_data=True
    ).redaction_enabled


def test_data_dir_that_is_a_file_gets_a_clear_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")

    with pytest.raises(ConfigError, match="COPILOT_DATA_DIR"):
        Settings(data_dir=blocker).ensure_data_dir()


def test_secret_names_the_variable_to_set(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("HUBSPOT_TOKEN", raising=False)

    with pytest.raises(ConfigError, match="HUBSPOT_TOKEN"):
        secret("HUBSPOT_TOKEN", "The HubSpot connector")


def test_secret_values_are_not_part_of_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-should-never-appear")

    dumped = Settings().model_dump_json()

    assert "sk-should-never-appear" not in dumped


def test_every_setting_has_help_and_is_in_the_readme() -> None:
    readme = (ROOT / "README.md").read_text()

    for env, _default, help_text in setting_docs():
        assert help_text, f"{env} has no help text"
        assert env in readme, f"{env} is missing from the README's configuration table"
