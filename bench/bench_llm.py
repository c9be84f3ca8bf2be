"""Benchmark the language-model providers: `python bench/bench_llm.py [--runs 3]`.

Measures the local GGUF in process (cold start, time to first token, prefill and
generation speed, JSON-grammar speed) and, when llama-cpp-python's server extras are
installed, the same model behind its OpenAI-compatible server on loopback, reached
through ChatOpenAI. Prints one table; nothing leaves the machine.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Annotated

_started = time.perf_counter()

import httpx  # noqa: E402
from langchain_core.language_models import BaseChatModel  # noqa: E402
from langchain_core.messages import BaseMessage, HumanMessage, SystemMessage  # noqa: E402
from pydantic import BaseModel, Field  # noqa: E402

from copilot.config import Settings  # noqa: E402
from copilot.providers import (  # noqa: E402
    LocalChatModel,
    call_model,
    call_structured,
    get_chat_model,
    packaged_gguf_path,
)

FILLER = (
    "The account was opened in March. The customer paid on time for a year, then missed "
    "two instalments after a change of job, and asked for a smaller monthly payment. "
)


class Intent(BaseModel):
    intent: Annotated[str, Field(max_length=40)]
    amount: float
    weekday: Annotated[str, Field(max_length=12)]


def short_prompt() -> list[BaseMessage]:
    # A fresh nonce first defeats llama.cpp's prompt-prefix cache between runs.
    return [
        SystemMessage(f"[{uuid.uuid4().hex[:8]}] You are a helpful assistant."),
        HumanMessage(
            "Write a long, friendly paragraph reminding a customer of a payment."
        ),
    ]


def long_prompt(repeats: int) -> list[BaseMessage]:
    return [
        SystemMessage(f"[{uuid.uuid4().hex[:8]}] You summarise customer notes."),
        HumanMessage(FILLER * repeats + "Summarise the notes above in one sentence."),
    ]


def first_token_s(model: BaseChatModel, messages: list[BaseMessage]) -> float:
    started = time.perf_counter()
    for chunk in model.stream(messages, max_tokens=8):
        if chunk.text:
            return time.perf_counter() - started
    return float("nan")


def generation_tps(model: BaseChatModel, tokens: int) -> float:
    """Output tokens per second of decoding, the first token's latency removed."""
    messages = short_prompt()
    first: float | None = None
    count = 0
    for chunk in model.stream(messages, max_tokens=tokens):
        if chunk.text:
            count += 1
            if first is None:
                first = time.perf_counter()
    end = time.perf_counter()
    if first is None or count < 2:
        return float("nan")
    # Chunks are tokens on both paths (llama.cpp streams one token per chunk).
    return (count - 1) / (end - first) if end > first else float("nan")


def prefill_tps(model: BaseChatModel, repeats: int) -> float:
    _, usage = call_model(model, long_prompt(repeats), max_tokens=1)
    return usage["input_tokens"] / (usage["duration_ms"] / 1000)


def json_tps(model: BaseChatModel) -> float:
    messages = [
        HumanMessage(
            f"[{uuid.uuid4().hex[:8]}] The debtor wrote: I will pay 200 dollars on Friday. "
            "Give the intent, the amount and the weekday as JSON."
        )
    ]
    _, usage = call_structured(model, messages, Intent, max_tokens=120)
    return usage["output_tokens"] / (usage["duration_ms"] / 1000)


def median(runs: int, measure: Callable[[], float]) -> float:
    return statistics.median(measure() for _ in range(runs))


def bench_engine(
    model: BaseChatModel, runs: int, tokens: int, repeats: int
) -> dict[str, float]:
    return {
        "time to first token (s)": median(
            runs, lambda: first_token_s(model, short_prompt())
        ),
        "prefill (tok/s)": median(runs, lambda: prefill_tps(model, repeats)),
        "generation (tok/s)": median(runs, lambda: generation_tps(model, tokens)),
        "JSON grammar (tok/s)": median(runs, lambda: json_tps(model)),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_server(
    gguf: Path, threads: int, log_path: Path
) -> tuple[subprocess.Popen[bytes], str, float]:
    port = free_port()
    started = time.perf_counter()
    log = log_path.open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(gguf),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--n_ctx",
            "2048",
            "--n_batch",
            "512",
            "--n_threads",
            str(threads),
            "--n_threads_batch",
            str(threads),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE"),
        },
    )
    log.close()
    base_url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"llama_cpp.server exited: {log_path.read_text()[-1000:]}"
            )
        try:
            if httpx.get(f"{base_url}/models", timeout=1).status_code == 200:
                return process, base_url, time.perf_counter() - started
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    process.terminate()
    raise RuntimeError("llama_cpp.server did not start within 90 s")


def stop_server(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=3, help="repetitions; the median is shown"
    )
    parser.add_argument("--tokens", type=int, default=128, help="tokens to generate")
    parser.add_argument(
        "--prompt-repeats",
        type=int,
        default=16,
        help="filler paragraphs in the prefill prompt (~37 tokens each)",
    )
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--model", help="GGUF path (default: the packaged SmolLM2)")
    parser.add_argument(
        "--no-server", action="store_true", help="skip the loopback server"
    )
    args = parser.parse_args()

    settings = Settings(
        llm_provider="local",
        llm_model=args.model,
        llm_threads=args.threads,
        llm_temperature=0.0,
        llm_max_tokens=args.tokens,
    )
    local = get_chat_model(settings)
    assert isinstance(local, LocalChatModel)

    # Cold start: interpreter imports + model load + first streamed token.
    load_s = local.load()
    first_s = first_token_s(local, short_prompt())
    cold = {
        "cold start to first token (s)": time.perf_counter() - _started,
        "model load (s)": load_s,
    }
    results: dict[str, dict[str, float]] = {
        "local": {
            **cold,
            "first token after load (s)": first_s,
            **bench_engine(local, args.runs, args.tokens, args.prompt_repeats),
        },
    }

    gguf = Path(local.model_path)
    if not args.no_server and packaged_gguf_path() is not None:
        try:
            import llama_cpp.server.app  # noqa: F401
        except ImportError:
            print(
                "llama-cpp-python[server] is not installed: skipping the server column."
            )
        else:
            with tempfile.TemporaryDirectory() as tmp:
                process, base_url, start_s = start_server(
                    gguf, args.threads, Path(tmp) / "server.log"
                )
                try:
                    remote = get_chat_model(
                        Settings(
                            llm_provider="openai",
                            llm_model="local",
                            llm_base_url=base_url,
                            llm_temperature=0.0,
                            llm_max_tokens=args.tokens,
                        )
                    )
                    assert remote is not None
                    first = first_token_s(remote, short_prompt())
                    results["openai via llama_cpp.server"] = {
                        "cold start to first token (s)": start_s + first,
                        "model load (s)": start_s,
                        "first token after load (s)": first,
                        **bench_engine(
                            remote, args.runs, args.tokens, args.prompt_repeats
                        ),
                    }
                finally:
                    stop_server(process)

    engines = list(results)
    metrics = list(results["local"])
    width = max(len(m) for m in metrics)
    print(f"model: {gguf.name}   threads: {args.threads}   runs: {args.runs} (median)")
    print(f"{'metric':<{width}}  " + "  ".join(f"{e:>28}" for e in engines))
    for metric in metrics:
        cells = "  ".join(
            f"{results[e].get(metric, float('nan')):>28.2f}" for e in engines
        )
        print(f"{metric:<{width}}  {cells}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
