"""Benchmark the policy knowledge base: ingest throughput and query latency.

    .venv/bin/python bench/bench_retrieval.py [--passages 1000] [--queries 60] [--eval]

Generates a bilingual corpus of N passages (10 sections per document) in a scratch data
directory, ingests it (embedding included, cold embedding cache), ingests it again into a
second data directory that shares the cache, then times searches end to end (query
embedding with both models, Chroma, BM25 and fusion). Prints one table. With ``--eval``
it also prints recall@1, recall@3 and MRR on the shared evaluation set and on the two
held-out sets over the default policies (``tests/knowledge_questions*.jsonl``).
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from pathlib import Path

from copilot.config import Settings
from copilot.knowledge import KnowledgeBase

TOPICS_EN = [
    "payment plans",
    "settlements",
    "call recordings",
    "disputes",
    "hardship",
    "contact hours",
    "fees",
    "credit reports",
    "complaints",
    "escalation",
]
TOPICS_ES = [
    "acuerdos de pago",
    "descuentos",
    "grabaciones",
    "reclamos",
    "dificultades",
    "horarios",
    "gastos de cobranza",
    "centrales de riesgo",
    "quejas",
    "cobro jurídico",
]
VERBS_EN = ["must confirm", "may approve", "reviews", "records", "sends", "pauses"]
VERBS_ES = [
    "debe confirmar",
    "puede aprobar",
    "revisa",
    "registra",
    "envía",
    "suspende",
]
ROLES_EN = ["The collector", "A team lead", "The compliance officer", "The client"]
ROLES_ES = ["El asesor", "El coordinador", "El oficial de cumplimiento", "El cliente"]


def _section(rng: random.Random, spanish: bool, doc: int, index: int) -> str:
    topics, verbs, roles = (
        (TOPICS_ES, VERBS_ES, ROLES_ES) if spanish else (TOPICS_EN, VERBS_EN, ROLES_EN)
    )
    topic = topics[index]
    sentences = []
    for _ in range(4):
        days = rng.randint(2, 90)
        unit = "días" if spanish else "days"
        sentences.append(
            f"{rng.choice(roles)} {rng.choice(verbs)} {topic} "
            f"{'en' if spanish else 'within'} {days} {unit} (rule {doc}.{index}.{days})."
        )
    heading = f"{topic.capitalize()} {doc}-{index}"
    return f"## {heading}\n\n" + " ".join(sentences) + "\n"


def build_corpus(folder: Path, passages: int, seed: int = 7) -> list[str]:
    """Write markdown documents with *passages* sections; return sample questions."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    questions: list[str] = []
    for doc in range(max(1, passages // 10)):
        spanish = doc % 2 == 1
        body = [f"# {'Política' if spanish else 'Policy'} {doc}\n"]
        body += [_section(rng, spanish, doc, i) for i in range(10)]
        (folder / f"policy_{doc:03d}.md").write_text("\n".join(body), encoding="utf-8")
        topic = (TOPICS_EN if not spanish else TOPICS_ES)[doc % 10]
        questions.append(
            f"Who approves {topic}?" if spanish else f"¿Quién aprueba {topic}?"
        )
        questions.append(f"rule {doc}.{doc % 10}")
    return questions


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(share * (len(ordered) - 1))))]


def evaluation_tables() -> None:
    """Print recall@1, recall@3 and MRR on the shared set and the two held-out sets."""
    from copilot.knowledge.base import DEFAULT_POLICY_DIR
    from copilot.knowledge.evaluation import (
        default_eval_dir,
        evaluate,
        format_table,
        load_questions,
    )

    tests = Path(__file__).resolve().parents[1] / "tests"
    shared = default_eval_dir()
    sets = [
        ("held-out", DEFAULT_POLICY_DIR, tests / "knowledge_questions.jsonl"),
        ("blind", DEFAULT_POLICY_DIR, tests / "knowledge_questions_blind.jsonl"),
    ]
    if shared is not None:
        sets.insert(0, ("shared", shared, shared / "questions.jsonl"))
    with tempfile.TemporaryDirectory(prefix="copilot-eval-") as scratch:
        built: dict[Path, KnowledgeBase] = {}
        for name, corpus, questions in sets:
            if corpus not in built:
                settings = Settings(data_dir=Path(scratch) / f"data{len(built)}")
                built[corpus] = KnowledgeBase(settings)
                built[corpus].ingest(sorted(corpus.glob("*.md")))
            result = evaluate(built[corpus], load_questions(questions))
            print(f"{name} set ({questions.name})\n{format_table(result)}\n")
        for kb in built.values():
            kb.close()


def main() -> None:
    """Run the benchmark and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--passages", type=int, default=1000)
    parser.add_argument("--queries", type=int, default=60)
    parser.add_argument(
        "--eval", action="store_true", help="Also print recall on the question sets."
    )
    args = parser.parse_args()
    if args.eval:
        evaluation_tables()

    with tempfile.TemporaryDirectory(prefix="copilot-bench-") as scratch:
        root = Path(scratch)
        questions = build_corpus(root / "corpus", args.passages)
        cache = root / "cache"
        kb = KnowledgeBase(Settings(data_dir=root / "data", embeddings_cache=cache))
        # load both models before timing, so the figures exclude cold starts
        kb.store.passage_embeddings.inner.embed_documents(["warm up"])
        kb.store.sentence_embeddings.inner.embed_documents(["warm up"])

        started = time.perf_counter()
        report = kb.ingest([root / "corpus"])
        ingest_s = time.perf_counter() - started
        stored = sum(f.passages for f in report.changed)

        started = time.perf_counter()
        kb.ingest([root / "corpus"])
        unchanged_s = time.perf_counter() - started

        second = KnowledgeBase(
            Settings(data_dir=root / "data2", embeddings_cache=cache)
        )
        started = time.perf_counter()
        second.ingest([root / "corpus"])
        shared_s = time.perf_counter() - started
        second.close()

        latencies = []
        for question in (questions * 3)[: args.queries]:
            t0 = time.perf_counter()
            kb.search(question, k=4)
            latencies.append((time.perf_counter() - t0) * 1000)
        kb.close()

    rows = [
        ("passages ingested", f"{stored}"),
        ("ingest time (cold cache)", f"{ingest_s:.1f} s"),
        ("ingest throughput", f"{stored / ingest_s:.1f} passages/s"),
        ("re-ingest, unchanged", f"{unchanged_s:.2f} s"),
        ("ingest, new data dir, shared cache", f"{shared_s:.1f} s"),
        ("queries", f"{len(latencies)}"),
        ("query latency p50", f"{statistics.median(latencies):.0f} ms"),
        ("query latency p95", f"{_percentile(latencies, 0.95):.0f} ms"),
    ]
    width = max(len(name) for name, _ in rows)
    print(f"{'metric':<{width}}  value")
    for name, value in rows:
        print(f"{name:<{width}}  {value}")


if __name__ == "__main__":
    main()
