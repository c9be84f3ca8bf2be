"""Benchmark and score the compliance engine on the shared development cases.

Run: ``.venv/bin/python bench/bench_compliance.py [--inputs 10000]``

Prints checks per second on one core and p50/p99 latency of one check (JSON parsing and
validation included, as ``copilot check`` does it), on the 40 development cases replicated
to N inputs; then per-rule precision and recall on the development set.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from copilot.compliance import Proposal
from copilot.compliance.engine import Engine


def _cases_file() -> Path:
    shared = os.environ.get("COPILOT_SHARED_DIR")
    base = Path(shared) if shared else Path(__file__).resolve().parents[2] / "shared"
    return base / "eval" / "compliance" / "cases.jsonl"


def _pin_to_one_core() -> str:
    if hasattr(os, "sched_setaffinity"):
        core = min(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {core})
        return f"pinned to core {core}"
    return "not pinned (no sched_setaffinity)"


def bench(engine: Engine, lines: list[str], inputs: int) -> dict[str, float]:
    """Time parse + validate + check for *inputs* lines cycled from *lines*."""
    for line in lines:  # warm caches (zones, holidays, regexes)
        engine.check(Proposal.model_validate_json(line))
    latencies: list[int] = []
    cpu_latencies: list[int] = []
    cpu_started = time.process_time()
    started = time.perf_counter()
    for index in range(inputs):
        line = lines[index % len(lines)]
        t0 = time.perf_counter_ns()
        c0 = time.thread_time_ns()
        engine.check(Proposal.model_validate_json(line)).to_json_dict()
        cpu_latencies.append(time.thread_time_ns() - c0)
        latencies.append(time.perf_counter_ns() - t0)
    elapsed = time.perf_counter() - started
    cpu = time.process_time() - cpu_started
    latencies.sort()
    cpu_latencies.sort()
    return {
        "cpu_p50_ms": cpu_latencies[len(cpu_latencies) // 2] / 1e6,
        "cpu_p99_ms": cpu_latencies[int(len(cpu_latencies) * 0.99) - 1] / 1e6,
        "inputs": inputs,
        "seconds": elapsed,
        "checks_per_s": inputs / elapsed,
        "checks_per_cpu_s": inputs / cpu,
        "p50_ms": latencies[len(latencies) // 2] / 1e6,
        "p99_ms": latencies[int(len(latencies) * 0.99) - 1] / 1e6,
        "max_ms": latencies[-1] / 1e6,
        "mean_ms": statistics.fmean(latencies) / 1e6,
    }


def score(engine: Engine, cases: list[dict[str, Any]]) -> None:
    """Print per-rule precision/recall, micro averages and clean-case false positives."""
    tp: Counter[str] = Counter()
    fp: Counter[str] = Counter()
    fn: Counter[str] = Counter()
    allowed_right = clean_flagged = clean_blocked = clean = 0
    for case in cases:
        result = engine.check(Proposal.model_validate(case["input"]))
        got = {v.rule for v in result.violations}
        expected = set(case["expect"]["violations"])
        ok_extra = set(case["expect"].get("also_ok", []))
        for rule in got & expected:
            tp[rule] += 1
        for rule in got - expected - ok_extra:
            fp[rule] += 1
        for rule in expected - got:
            fn[rule] += 1
        allowed_right += result.allowed == case["expect"]["allowed"]
        if not expected:
            clean += 1
            clean_flagged += bool(got)
            clean_blocked += not result.allowed

    rules = sorted(set(tp) | set(fp) | set(fn))
    print(
        f"\n{'rule':34} {'TP':>3} {'FP':>3} {'FN':>3} {'precision':>10} {'recall':>7}"
    )
    for rule in rules:
        p = tp[rule] / (tp[rule] + fp[rule]) if tp[rule] + fp[rule] else float("nan")
        r = tp[rule] / (tp[rule] + fn[rule]) if tp[rule] + fn[rule] else float("nan")
        print(
            f"{rule:34} {tp[rule]:>3} {fp[rule]:>3} {fn[rule]:>3} {p:>10.2f} {r:>7.2f}"
        )
    total_tp, total_fp, total_fn = sum(tp.values()), sum(fp.values()), sum(fn.values())
    micro_p = total_tp / (total_tp + total_fp) if total_tp + total_fp else float("nan")
    micro_r = total_tp / (total_tp + total_fn) if total_tp + total_fn else float("nan")
    print(
        f"{'micro-average':34} {total_tp:>3} {total_fp:>3} {total_fn:>3} "
        f"{micro_p:>10.2f} {micro_r:>7.2f}"
    )
    print(
        f"\nallowed accuracy: {allowed_right}/{len(cases)}; clean cases with any id: "
        f"{clean_flagged}/{clean}; clean cases blocked: {clean_blocked}/{clean}"
    )


def main() -> int:
    """Run the benchmark and the scoring."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=10_000)
    args = parser.parse_args()

    path = _cases_file()
    if not path.exists():
        print(f"{path} not found; set COPILOT_SHARED_DIR", file=sys.stderr)
        return 2
    cases = [
        json.loads(line)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip()
    ]
    lines = [json.dumps(case["input"]) for case in cases]

    pinned = _pin_to_one_core()
    t0 = time.perf_counter()
    engine = Engine()
    load_ms = (time.perf_counter() - t0) * 1000
    figures = bench(engine, lines, args.inputs)

    print(
        f"compliance benchmark: {len(cases)} dev cases replicated to {args.inputs} "
        f"inputs, one process, {pinned}"
    )
    print(f"{'metric':24} {'value':>12}")
    print(f"{'pack load (ms)':24} {load_ms:>12.1f}")
    print(f"{'total (s)':24} {figures['seconds']:>12.2f}")
    print(f"{'checks per second':24} {figures['checks_per_s']:>12.0f}")
    print(f"{'checks per CPU second':24} {figures['checks_per_cpu_s']:>12.0f}")
    print(f"{'p50 latency (ms)':24} {figures['p50_ms']:>12.3f}")
    print(f"{'p99 latency (ms)':24} {figures['p99_ms']:>12.3f}")
    print(f"{'mean latency (ms)':24} {figures['mean_ms']:>12.3f}")
    print(f"{'p50 CPU time (ms)':24} {figures['cpu_p50_ms']:>12.3f}")
    print(f"{'p99 CPU time (ms)':24} {figures['cpu_p99_ms']:>12.3f}")
    print(f"{'max latency (ms)':24} {figures['max_ms']:>12.3f}")
    score(engine, cases)
    return 0


if __name__ == "__main__":
    sys.exit(main())
