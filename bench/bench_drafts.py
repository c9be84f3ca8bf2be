"""Benchmark: time to a complete checked draft, per provider available here.

Run: ``.venv/bin/python bench/bench_drafts.py [--repeat N]``. Prints a table with, per
engine, the median and 95th-percentile latency of a checked draft, and for models the
time to first token. The template path (no model) is measured on every demo debtor,
channel and goal; the model paths on a handful of SMS drafts (they are slow on CPU).
Policy retrieval is left out here (see bench_retrieval.py) so the numbers isolate
drafting and checking.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from connectors.demo import DemoConnector  # noqa: E402
from copilot.config import Settings  # noqa: E402
from copilot.errors import NotFoundError  # noqa: E402
from copilot.generation.drafting import Drafter, DraftRequest  # noqa: E402

SEND_AT = datetime(2026, 12, 9, 17, 30, tzinfo=UTC)


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def template_path(settings: Settings, crm: DemoConnector, repeat: int) -> list[float]:
    drafter = Drafter(settings, crm)
    times = []
    ids = [s.id for s in crm.list_debtors()]
    for _ in range(repeat):
        for debtor_id in ids:
            for channel in ("sms", "email", "letter", "call"):
                for goal in ("reminder", "plan_offer"):
                    started = time.perf_counter()
                    try:
                        drafter.draft(DraftRequest(debtor_id=debtor_id, channel=channel,
                                                   language="en", goal=goal,
                                                   send_at=SEND_AT))
                    except NotFoundError:
                        continue
                    times.append((time.perf_counter() - started) * 1000)
    return times


def model_path(settings: Settings, crm: DemoConnector, model: object,
               label: str, n: int) -> tuple[list[float], list[float]]:
    drafter = Drafter(settings, crm, model=model, engine_label=label)  # type: ignore[arg-type]
    totals, firsts = [], []
    for debtor_id in ["D-1001", "D-1011", "D-1014", "D-1044", "D-1045"][:n]:
        started = time.perf_counter()
        first: list[float] = []

        def on_token(_piece: str, first: list[float] = first,
                     started: float = started) -> None:
            if not first:
                first.append((time.perf_counter() - started) * 1000)

        drafter.draft(DraftRequest(debtor_id=debtor_id, channel="sms", language="en",
                                   send_at=SEND_AT), on_token=on_token)
        totals.append((time.perf_counter() - started) * 1000)
        firsts.append(first[0] if first else float("nan"))
    return totals, firsts


def _served_model(tmp: Path) -> tuple[Settings, object, object] | None:
    """The packaged GGUF behind llama.cpp's OpenAI-compatible server, on loopback."""
    import socket
    import subprocess

    import httpx

    from copilot.providers import get_chat_model, packaged_gguf_path

    gguf = packaged_gguf_path()
    if gguf is None:
        print("(openai-compatible server skipped: no packaged GGUF)")
        return None
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = (tmp / "server.log").open("wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--model_alias",
         "smollm2", "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "2048"],
        stdout=log, stderr=subprocess.STDOUT,
    )

    def stop() -> None:
        process.terminate()
        process.wait(timeout=10)
        log.close()

    base = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{base}/models", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            time.sleep(0.3)
    else:
        stop()
        print("(openai-compatible server skipped: it did not start)")
        return None
    settings = Settings(data_dir=tmp, llm_provider="openai", llm_model="smollm2",
                        llm_base_url=base, redact_personal_data=True)
    return settings, get_chat_model(settings), stop


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--model-drafts", type=int, default=3)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp))
        crm = DemoConnector.from_settings(settings)
        times = template_path(settings, crm, args.repeat)
        rows.append(("template (none)", len(times), statistics.median(times),
                     _pct(times, 0.95), None))
        try:
            from copilot.providers import get_chat_model, packaged_gguf_path

            if packaged_gguf_path() is None:
                raise ImportError("no packaged GGUF")
            local = Settings(data_dir=Path(tmp), llm_provider="local")
            model = get_chat_model(local)
            totals, firsts = model_path(local, crm, model, "local SmolLM2", args.model_drafts)
            rows.append(("local SmolLM2-135M", len(totals), statistics.median(totals),
                         _pct(totals, 0.95), statistics.median(firsts)))
        except (ImportError, AttributeError) as exc:
            print(f"(local model skipped: {exc})")
        served = _served_model(Path(tmp))
        if served is not None:
            server_settings, model, stop = served
            try:
                totals, firsts = model_path(server_settings, crm, model,
                                            "openai @ llama_cpp.server", args.model_drafts)
                rows.append(("openai (llama.cpp server)", len(totals),
                             statistics.median(totals), _pct(totals, 0.95),
                             statistics.median(firsts)))
            finally:
                stop()

    print()
    print(f"{'engine':<27} {'drafts':>6} {'median ms':>10} {'p95 ms':>10} {'first token ms':>15}")
    for name, count, median, p95, first in rows:
        shown = f"{first:>15.0f}" if first is not None else f"{'-':>15}"
        print(f"{name:<27} {count:>6} {median:>10.1f} {p95:>10.1f} {shown}")


if __name__ == "__main__":
    main()
