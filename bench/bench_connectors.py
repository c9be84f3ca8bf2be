"""Benchmark the CRM connectors: HTTP requests and latency per operation.

    .venv/bin/python bench/bench_connectors.py [--runs 10] [--delay-ms 50]

For Salesforce, HubSpot and Zoho in turn, starts the loopback emulator with a simulated
network delay per request (``bench_setup``), then times ``fetch_context`` (one debtor's
whole context), ``search_debtors`` and ``list_work_queue`` over warm connectors, counting
the requests each one sends. Prints one table; the issue's target is at most 3 requests
per context.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

CRMS = ("salesforce", "hubspot", "zoho")


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(share * len(ordered) + 0.5) - 1))
    return ordered[rank]


def _measure(
    emulator: Any, call: Callable[[], Any], runs: int
) -> tuple[list[int], list[float]]:
    counts, millis = [], []
    for _ in range(runs):
        before = emulator.request_count
        started = time.perf_counter()
        call()
        millis.append((time.perf_counter() - started) * 1000)
        counts.append(emulator.request_count - before)
    return counts, millis


def bench_crm(name: str, delay_s: float, runs: int) -> list[tuple[str, ...]]:
    """Rows of (crm, operation, requests, median ms, p95 ms) for one CRM."""
    emulator_module = importlib.import_module(f"tests.emulators.{name}")
    connector, debtor_id, emulator = emulator_module.bench_setup(delay_s)
    try:
        context = connector.fetch_context(debtor_id)
        last_name = context.debtor.name.split()[-1]
        operations: dict[str, Callable[[], Any]] = {
            "fetch_context": lambda: connector.fetch_context(debtor_id),
            f"search_debtors({last_name!r})": lambda: connector.search_debtors(
                last_name, 20
            ),
            "list_work_queue(50)": lambda: connector.list_work_queue(50),
        }
        rows = []
        for label, call in operations.items():
            counts, millis = _measure(emulator, call, runs)
            requests = (
                str(counts[0])
                if len(set(counts)) == 1
                else f"{min(counts)}-{max(counts)}"
            )
            rows.append(
                (
                    name,
                    label,
                    requests,
                    f"{statistics.median(millis):.0f}",
                    f"{_percentile(millis, 0.95):.0f}",
                )
            )
        return rows
    finally:
        connector.close()
        emulator.stop()


def main() -> int:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--runs", type=int, default=10, help="Timed runs per operation."
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        default=50.0,
        help="Simulated network delay per request, in milliseconds.",
    )
    parser.add_argument(
        "--crm",
        choices=CRMS,
        action="append",
        help="Only this CRM (repeatable; default all three).",
    )
    args = parser.parse_args()

    rows: list[tuple[str, ...]] = []
    for name in args.crm or CRMS:
        rows.extend(bench_crm(name, args.delay_ms / 1000, args.runs))

    header = ("crm", "operation", "requests", "median ms", "p95 ms")
    widths = [max(len(str(r[i])) for r in [header, *rows]) for i in range(len(header))]
    print(
        f"{args.runs} warm runs per operation, {args.delay_ms:.0f} ms simulated delay "
        "per request"
    )
    for row in [header, tuple("-" * w for w in widths), *rows]:
        print(
            "  ".join(
                str(cell).ljust(w) if i < 2 else str(cell).rjust(w)
                for i, (cell, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
