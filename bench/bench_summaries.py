"""Time the deterministic call-summary path on the shared development transcripts.

Run: .venv/bin/python bench/bench_summaries.py [--rounds N]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from datetime import date

from copilot.summaries import summarize_call
from copilot.summaries.evaluate import shared_eval_dir


def main() -> None:
    """Print per-call latency (ms) of summarize_call with no model."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=20)
    args = parser.parse_args()

    path = shared_eval_dir() / "transcripts" / "cases.jsonl"
    cases = [
        json.loads(line)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line
    ]
    timings: list[float] = []
    for _ in range(args.rounds):
        for case in cases:
            started = time.perf_counter()
            summarize_call(
                case["language"],
                date.fromisoformat(case["call_date"]),
                case["timezone"],
                case["transcript"],
            )
            timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    print(
        json.dumps(
            {
                "calls": len(timings),
                "mean_ms": round(statistics.fmean(timings), 2),
                "p50_ms": round(timings[len(timings) // 2], 2),
                "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
                "max_ms": round(timings[-1], 2),
            }
        )
    )


if __name__ == "__main__":
    main()
