"""The policy knowledge base on the packaged models, in both Chroma modes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from langchain_core.embeddings import Embeddings

from copilot.config import Settings
from copilot.domain import Citation
from copilot.embeddings import E5Embeddings
from copilot.errors import InputError, NotFoundError, StoreError
from copilot.knowledge import KnowledgeBase
from copilot.knowledge.base import DEFAULT_POLICY_DIR
from copilot.knowledge.cli import policies
from copilot.knowledge.ingest import (
    detect_language,
    exact_terms,
    parse_file,
    split_passages,
    tokenize,
)
from tests.knowledge_helpers import (
    chroma_server,
    make_docx,
    make_encrypted_pdf,
    make_pdf,
)

US_RULES = """---
jurisdiction: US
language: en
owner: Compliance
---
# US limits

## Call frequency

A collector may not place more than seven calls within seven consecutive days about one
debt. Citation: 12 CFR 1006.14(b)(2).

## Contact hours

Calls are allowed between 8 in the morning and 9 in the evening, local time.
"""

CO_RULES = """---
jurisdiction: CO
---
# Reglas de Colombia

## Horario

Solo se contacta de lunes a viernes entre las 7:00 y las 19:00, según el artículo 3 de la
Ley 2300 de 2023.

## Reporte negativo

El reporte a las centrales de riesgo exige una comunicación previa enviada al menos veinte
días antes.
"""

FUTURE = """---
effective_date: 2099-01-01
---
# Holiday campaign

## Seasonal greetings

From the new year on, collectors send a seasonal greeting card before any reminder letter.
"""


def _corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "us_rules.md").write_text(US_RULES, encoding="utf-8")
    (folder / "co_rules.md").write_text(CO_RULES, encoding="utf-8")
    (folder / "future.md").write_text(FUTURE, encoding="utf-8")
    return folder


@pytest.fixture(scope="module", params=["persistent", "server"])
def kb(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[KnowledgeBase]:
    """A knowledge base over the small corpus, once per Chroma mode."""
    root = tmp_path_factory.mktemp(f"kb-{request.param}")
    if request.param == "persistent":
        base = KnowledgeBase(Settings(data_dir=root / "data"))
        base.ingest([_corpus(root / "corpus")])
        yield base
        base.close()
        return
    with chroma_server(root / "chroma-server") as url:
        base = KnowledgeBase(Settings(data_dir=root / "data", chroma_url=url))
        base.ingest([_corpus(root / "corpus")])
        yield base
        base.close()


# --- parsing and splitting ------------------------------------------------------------


def test_markdown_keeps_heading_path_and_front_matter(tmp_path: Path) -> None:
    path = _corpus(tmp_path) / "us_rules.md"
    parsed = parse_file(path)
    passages = split_passages(parsed)
    assert parsed.metadata.jurisdiction == "US"
    assert parsed.metadata.owner == "Compliance"
    assert [p.heading_path for p in passages] == [
        ["US limits", "Call frequency"],
        ["US limits", "Contact hours"],
    ]
    assert "1006.14(b)(2)" in passages[0].text


def test_long_sections_are_cut_at_paragraphs_under_the_same_heading(
    tmp_path: Path,
) -> None:
    paragraphs = "\n\n".join(
        f"Paragraph {i} says something about payment plans." * 8 for i in range(6)
    )
    path = tmp_path / "long.md"
    path.write_text(f"# Long\n\n## Plans\n\n{paragraphs}\n", encoding="utf-8")
    passages = split_passages(parse_file(path), max_chars=900)
    assert len(passages) > 1
    assert {p.heading for p in passages} == {"Plans"}
    assert all(len(p.text) <= 900 for p in passages)


def test_sidecar_metadata_applies_to_any_format(tmp_path: Path) -> None:
    path = tmp_path / "note.txt"
    path.write_text(
        "Payment plans\n\nPlans run for up to twelve months.\n", encoding="utf-8"
    )
    (tmp_path / "note.txt.meta.yaml").write_text(
        "jurisdiction: co\neffective_date: 2027-03-01\n", encoding="utf-8"
    )
    parsed = parse_file(path)
    assert parsed.metadata.jurisdiction == "CO"
    assert parsed.metadata.effective_date == date(2027, 3, 1)
    assert split_passages(parsed)[0].heading == "Payment plans"


@pytest.mark.parametrize(
    ("name", "build", "heading", "needle"),
    [
        (
            "policy.html",
            lambda p: p.write_text(
                "<html lang='es'><body><h1>Política</h1><h2>Quejas</h2>"
                "<p>Toda queja se responde por escrito.</p></body></html>",
                encoding="utf-8",
            ),
            "Quejas",
            "se responde por escrito",
        ),
        (
            "policy.pdf",
            lambda p: p.write_bytes(
                make_pdf(
                    ["Settlement deadlines", "A settlement offer lapses after 42 days."]
                )
            ),
            "Settlement deadlines",
            "42 days",
        ),
        (
            "policy.docx",
            lambda p: make_docx(
                p,
                "Hardship",
                [("Pausing calls", "Calls pause for 30 days after a hardship.")],
            ),
            "Pausing calls",
            "30 days",
        ),
    ],
    ids=["html headings become the path", "pdf text is read", "word heading styles"],
)
def test_other_formats_parse_into_sections(
    tmp_path: Path, name: str, build: object, heading: str, needle: str
) -> None:
    path = tmp_path / name
    build(path)  # type: ignore[operator]
    passages = split_passages(parse_file(path))
    match = [p for p in passages if needle in p.text]
    assert match and match[0].heading == heading


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "see 12 CFR 1006.14(b)(2) today",
            ["see", "12", "cfr", "1006.14(b)(2)", "1006.14", "today"],
        ),
        ("según el artículo 3 de la Ley 2300", ["segun", "artic", "3", "ley", "2300"]),
        ("cuotas de $65.000", ["cuota", "65.000", "65000"]),
    ],
    ids=["citation keeps its dots", "spanish article number", "thousands separator"],
)
def test_tokenizer_keeps_numbers_and_citations(text: str, expected: list[str]) -> None:
    assert tokenize(text) == expected


def test_exact_terms_pick_numbers_codes_and_acronyms() -> None:
    assert exact_terms("What does 1006.14 say about CFPB forms?") == ["1006.14", "cfpb"]
    assert exact_terms("how long are recordings kept") == []


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("The collector must send the notice within five days of the call.", "en"),
        (
            "El asesor debe enviar la comunicación previa dentro de los cinco días.",
            "es",
        ),
    ],
    ids=["english", "spanish"],
)
def test_language_detection(text: str, language: str) -> None:
    assert detect_language(text) == language


# --- ingest: bad input -------------------------------------------------------------------


def test_bad_files_are_reported_by_name_and_the_rest_ingested(
    settings: Settings, tmp_path: Path
) -> None:
    folder = _corpus(tmp_path / "batch")
    (folder / "empty.md").write_text("   \n", encoding="utf-8")
    make_encrypted_pdf(folder / "locked.pdf")
    (folder / "broken.docx").write_bytes(b"not a zip file")
    kb = KnowledgeBase(settings)
    report = kb.ingest([folder, tmp_path / "missing.md"])
    reasons = {f.doc: f.reason for f in report.skipped}
    assert set(reasons) == {"empty.md", "locked.pdf", "broken.docx", "missing.md"}
    assert "empty" in reasons["empty.md"]
    assert "encrypted" in reasons["locked.pdf"]
    assert "cannot be read" in reasons["broken.docx"]
    assert "save it again as .docx" in reasons["broken.docx"]
    assert {f.doc for f in report.changed} == {
        "us_rules.md",
        "co_rules.md",
        "future.md",
    }
    kb.close()


def test_unreachable_server_names_the_setting(tmp_path: Path) -> None:
    from tests.knowledge_helpers import free_port

    settings = Settings(
        data_dir=tmp_path / "data", chroma_url=f"http://127.0.0.1:{free_port()}"
    )
    with pytest.raises(StoreError, match="COPILOT_CHROMA_URL"):
        KnowledgeBase(settings)


def test_corrupt_registry_names_the_data_dir(
    settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copilot.knowledge import registry

    opened: list[sqlite3.Connection] = []
    real_connect = sqlite3.connect

    def connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        opened.append(real_connect(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(registry.sqlite3, "connect", connect)
    settings.ensure_data_dir()
    (settings.data_dir / "policies.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="COPILOT_DATA_DIR"):
        KnowledgeBase(settings)

    assert opened, "the registry was opened"
    for conn in opened:
        with pytest.raises(sqlite3.ProgrammingError, match="closed"):
            conn.execute("SELECT 1")


def test_a_failed_open_closes_what_it_opened(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from copilot.knowledge.cache import EmbeddingCache
    from copilot.knowledge.registry import Registry
    from tests.knowledge_helpers import free_port

    closed: list[str] = []
    for cls in (Registry, EmbeddingCache):
        real_close = cls.close

        def close(self: Any, real: Any = real_close, name: str = cls.__name__) -> None:
            closed.append(name)
            real(self)

        monkeypatch.setattr(cls, "close", close)
    settings = Settings(
        data_dir=tmp_path / "data", chroma_url=f"http://127.0.0.1:{free_port()}"
    )

    with pytest.raises(StoreError, match="COPILOT_CHROMA_URL"):
        KnowledgeBase(settings)

    assert sorted(closed) == ["EmbeddingCache", "Registry"]


class _FailingEmbeddings(Embeddings):
    """e5 that breaks on the second batch, to fail an ingest half-way."""

    model_name = "multilingual-e5-small"

    def __init__(self) -> None:
        self.inner = E5Embeddings()
        self.calls = 0
        self.fail = False

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.fail:
            raise RuntimeError("embedding backend crashed")
        return self.inner.embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def test_a_failed_reingest_leaves_the_previous_version(
    settings: Settings, tmp_path: Path
) -> None:
    embeddings = _FailingEmbeddings()
    kb = KnowledgeBase(settings, embeddings=embeddings)
    path = _corpus(tmp_path / "c") / "us_rules.md"
    kb.ingest([path])
    path.write_text(US_RULES.replace("seven calls", "five calls"), encoding="utf-8")
    embeddings.fail = True
    outcome = kb.ingest([path]).files[0]
    assert outcome.status == "failed"
    assert "previous version" in outcome.reason
    [info] = kb.list_documents()
    assert info.active_version == 1 and len(info.versions) == 1
    hits = kb.search("how many calls per week", k=1)
    assert "seven calls" in hits[0].text
    kb.close()


# --- versions ------------------------------------------------------------------------------


def test_versions_reembed_only_changed_passages(
    settings: Settings, tmp_path: Path
) -> None:
    # a private embedding cache, so the counts do not depend on earlier tests
    kb = KnowledgeBase(settings.model_copy(update={"embeddings_cache": tmp_path}))
    path = _corpus(tmp_path / "c") / "us_rules.md"
    first = kb.ingest([path]).files[0]
    assert (first.status, first.version, first.passages, first.embedded) == (
        "added",
        1,
        2,
        2,
    )

    again = kb.ingest([path]).files[0]
    assert (again.status, again.version, again.embedded) == ("unchanged", 1, 0)

    path.write_text(US_RULES.replace("seven calls", "six calls"), encoding="utf-8")
    second = kb.ingest([path]).files[0]
    assert (second.status, second.version, second.embedded) == ("updated", 2, 1)

    [info] = kb.list_documents()
    assert info.active_version == 2
    assert [(v.version, v.passages) for v in info.versions] == [(1, 2), (2, 2)]
    [change] = kb.diff("us_rules.md", 1, 2)
    assert change["heading"] == "US limits > Call frequency"
    assert "-" in change["diff"] and "six calls" in change["diff"]

    hit = kb.search("how many calls in seven days", k=1)[0]
    assert "six calls" in hit.text and hit.version == 2

    assert kb.restore("us_rules.md") == 1
    hit = kb.search("how many calls in seven days", k=1)[0]
    assert "seven calls" in hit.text and hit.version == 1
    assert kb.passage(hit.passage_id).text == hit.text
    kb.close()


def test_remove_hides_a_document_until_restored(
    settings: Settings, tmp_path: Path
) -> None:
    kb = KnowledgeBase(settings)
    kb.ingest([_corpus(tmp_path / "c")])
    kb.remove("co_rules.md")
    assert all(p.doc != "co_rules.md" for p in kb.search("horario de contacto", k=5))
    assert {d.doc: d.status for d in kb.list_documents()}["co_rules.md"] == "removed"
    assert kb.restore("co_rules.md") == 1
    assert (
        kb.search("horario de contacto", k=1, jurisdiction="CO")[0].doc == "co_rules.md"
    )
    with pytest.raises(NotFoundError, match="Known documents"):
        kb.remove("nope.md")
    with pytest.raises(InputError, match="no version before"):
        kb.restore("co_rules.md")
    kb.close()


def test_a_lost_chroma_directory_is_rebuilt_without_embedding(
    settings: Settings, tmp_path: Path
) -> None:
    import shutil

    from chromadb.api.client import SharedSystemClient

    kb = KnowledgeBase(settings)
    kb.ingest([_corpus(tmp_path / "c")])
    kb.close()
    SharedSystemClient.clear_system_cache()
    shutil.rmtree(settings.chroma_path)
    reopened = KnowledgeBase(settings)
    assert reopened.store.passage_embeddings.computed == 0
    hit = reopened.search("horario de contacto", k=1, jurisdiction="CO")[0]
    assert hit.doc == "co_rules.md"
    assert reopened.store.sentence_embeddings.computed == 0
    reopened.close()


def test_ensure_defaults_ingests_packaged_policies_once(settings: Settings) -> None:
    kb = KnowledgeBase(settings)
    assert kb.ensure_defaults() is True
    docs = {d.doc for d in kb.list_documents()}
    assert {p.name for p in DEFAULT_POLICY_DIR.glob("*.md")} == docs
    assert kb.ensure_defaults() is False
    kb.close()


# --- search, in both Chroma modes ---------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "doc", "heading"),
    [
        (
            "¿Cuántas llamadas por semana puede hacer un cobrador?",
            "us_rules.md",
            "Call frequency",
        ),
        (
            "When must the prior notice be sent before a negative credit report?",
            "co_rules.md",
            "Reporte negativo",
        ),
        ("1006.14", "us_rules.md", "Call frequency"),
        ("artículo 3", "co_rules.md", "Horario"),
    ],
    ids=[
        "spanish question finds english passage",
        "english question finds spanish passage",
        "a regulation section is found lexically",
        "a spanish article number is found lexically",
    ],
)
def test_search_finds_the_section(
    kb: KnowledgeBase, query: str, doc: str, heading: str
) -> None:
    top = kb.search(query, k=1)[0]
    assert (top.doc, top.heading) == (doc, heading)


def test_jurisdiction_and_date_filters(kb: KnowledgeBase) -> None:
    us_only = kb.search("contact hours and schedule", k=5, jurisdiction="US")
    assert us_only and all(p.jurisdiction in ("US", "ANY") for p in us_only)
    assert all(p.doc != "future.md" for p in kb.search("seasonal greeting card", k=5))
    later = kb.search("seasonal greeting card", k=1, as_of=date(2099, 6, 1))
    assert later[0].doc == "future.md"
    spanish = kb.search("calls", k=5, language="es")
    assert spanish and all(p.language == "es" for p in spanish)


def test_citations_name_doc_heading_and_version(kb: KnowledgeBase) -> None:
    passage = kb.search("seven calls within seven days", k=1)[0]
    citation = passage.citation()
    assert isinstance(citation, Citation)
    assert (citation.doc, citation.heading, citation.version) == (
        "us_rules.md",
        "Call frequency",
        1,
    )
    assert citation.passage_id == passage.passage_id
    assert citation.jurisdiction == "US"


def test_as_retriever_is_a_langchain_retriever(kb: KnowledgeBase) -> None:
    documents = kb.as_retriever(k=2, jurisdiction="CO").invoke(
        "¿cuándo se puede llamar?"
    )
    assert len(documents) == 2
    assert all(d.metadata["jurisdiction"] in ("CO", "ANY") for d in documents)
    assert {"doc", "heading", "version", "passage_id"} <= set(documents[0].metadata)


# --- command line ---------------------------------------------------------------------------


def test_cli_ingest_list_and_search_jsonl(tmp_path: Path) -> None:
    runner = CliRunner()
    corpus = _corpus(tmp_path / "c")
    (corpus / "empty.txt").write_text("", encoding="utf-8")
    result = runner.invoke(policies, ["ingest", str(corpus)])
    assert result.exit_code == 0, result.output
    assert "empty.txt" in result.output and "3 changed, 1 skipped" in result.output

    listing = runner.invoke(policies, ["list"])
    assert "us_rules.md" in listing.output and "v1" in listing.output

    lines = "\n".join(
        json.dumps({"id": i, "question": q})
        for i, q in [
            ("a", "What does 1006.14 limit?"),
            ("b", "¿En qué horario se llama?"),
        ]
    )
    result = runner.invoke(policies, ["search", "-", "--k", "2"], input=lines)
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.output.splitlines()]
    assert [r["id"] for r in rows] == ["a", "b"]
    first = rows[0]["passages"][0]
    assert {"doc", "heading", "text", "score", "version", "language"} <= set(first)
    assert (first["doc"], first["heading"]) == ("us_rules.md", "Call frequency")


def test_registry_survives_reopen(settings: Settings, tmp_path: Path) -> None:
    kb = KnowledgeBase(settings)
    kb.ingest([_corpus(tmp_path / "c")])
    kb.close()
    with closing(sqlite3.connect(settings.data_dir / "policies.db")) as conn:
        assert conn.execute("SELECT COUNT(*) FROM documents").fetchone()[0] == 3
