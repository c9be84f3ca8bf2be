"""The knowledge base: versioned policy documents, searchable with citations."""

from __future__ import annotations

import difflib
import hashlib
import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal

from langchain_core.documents import Document
from langchain_core.embeddings import Embeddings
from langchain_core.retrievers import BaseRetriever

from copilot.config import Settings
from copilot.domain import Citation
from copilot.errors import CopilotError, InputError, NotFoundError, StoreError
from copilot.knowledge.cache import EmbeddingCache, cache_path
from copilot.knowledge.ingest import (
    SIDECAR_SUFFIX,
    SUPPORTED_SUFFIXES,
    parse_file,
    split_passages,
)
from copilot.knowledge.registry import Registry, StoredPassage
from copilot.knowledge.retriever import HybridSearcher, PolicyRetriever, ScoringConfig
from copilot.knowledge.store import VectorStore

__all__ = [
    "DEFAULT_POLICY_DIR",
    "DocumentInfo",
    "FileOutcome",
    "IngestReport",
    "KnowledgeBase",
    "Passage",
]

log = logging.getLogger(__name__)

DEFAULT_POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"

# Bump when the texts handed to the embedders change, so Chroma is refilled.
EMBEDDING_LAYOUT = "2"


@dataclass(frozen=True)
class Passage:
    """A policy passage returned by search, with what a citation needs."""

    doc: str
    heading: str
    heading_path: list[str]
    text: str
    score: float
    version: int
    language: str
    jurisdiction: str
    passage_id: str

    def citation(self) -> Citation:
        """The citation that traces a statement to this exact passage version."""
        excerpt = self.text if len(self.text) <= 240 else self.text[:237] + "..."
        return Citation(
            doc=self.doc,
            heading=self.heading,
            version=self.version,
            passage_id=self.passage_id,
            jurisdiction=self.jurisdiction,
            excerpt=excerpt,
        )

    def to_document(self) -> Document:
        """The passage as a LangChain document (metadata carries the citation)."""
        return Document(
            page_content=self.text,
            id=self.passage_id,
            metadata={
                "doc": self.doc,
                "heading": self.heading,
                "heading_path": " > ".join(self.heading_path),
                "version": self.version,
                "language": self.language,
                "jurisdiction": self.jurisdiction,
                "passage_id": self.passage_id,
                "score": self.score,
            },
        )

    def as_dict(self) -> dict[str, Any]:
        """The JSON shape of ``copilot policies search --json``."""
        return {
            "doc": self.doc,
            "heading": self.heading,
            "text": self.text,
            "score": round(self.score, 4),
            "version": self.version,
            "language": self.language,
            "jurisdiction": self.jurisdiction,
            "passage_id": self.passage_id,
        }

    @classmethod
    def from_stored(cls, stored: StoredPassage, score: float = 0.0) -> Passage:
        """Build from a registry row."""
        return cls(
            doc=stored.doc,
            heading=stored.heading,
            heading_path=list(stored.heading_path),
            text=stored.text,
            score=score,
            version=stored.version,
            language=stored.language,
            jurisdiction=stored.jurisdiction,
            passage_id=stored.passage_id,
        )


Status = Literal["added", "updated", "unchanged", "skipped", "failed"]


@dataclass
class FileOutcome:
    """What happened to one file of an ingest batch."""

    path: str
    doc: str
    status: Status
    version: int | None = None
    passages: int = 0
    embedded: int = 0
    reason: str = ""


@dataclass
class IngestReport:
    """Per-file outcomes of one ingest call."""

    files: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def skipped(self) -> list[FileOutcome]:
        """Files that were not ingested, with the reason."""
        return [f for f in self.files if f.status in ("skipped", "failed")]

    @property
    def changed(self) -> list[FileOutcome]:
        """Files that produced a new version."""
        return [f for f in self.files if f.status in ("added", "updated")]

    @property
    def ok(self) -> bool:
        """True when no file was skipped or failed."""
        return not self.skipped


@dataclass(frozen=True)
class VersionInfo:
    """One version of a document, for listings."""

    version: int
    passages: int
    ingested_at: str
    source: str
    content_hash: str


@dataclass(frozen=True)
class DocumentInfo:
    """A document as `copilot policies list` shows it."""

    doc: str
    title: str | None
    active_version: int | None
    passages: int
    jurisdiction: str
    language: str | None
    effective_date: str | None
    owner: str | None
    versions: list[VersionInfo]

    @property
    def status(self) -> str:
        """``active`` or ``removed``."""
        return "active" if self.active_version is not None else "removed"


def _collect(paths: Iterable[Path | str]) -> list[tuple[Path, str | None]]:
    """Files to ingest (folders walked), each with a reason to skip it or None."""
    found: list[tuple[Path, str | None]] = []
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if not child.is_file() or child.name.startswith("."):
                    continue
                if child.name.endswith(SIDECAR_SUFFIX):
                    continue
                if child.suffix.lower() in SUPPORTED_SUFFIXES:
                    found.append((child, None))
        elif path.is_file():
            found.append((path, None))
        else:
            found.append((path, "no such file or folder"))
    return found


class KnowledgeBase:
    """Versioned policy passages in Chroma plus a SQLite registry, searched hybrid."""

    def __init__(
        self,
        settings: Settings,
        *,
        embeddings: Embeddings | None = None,
        sentence_embeddings: Embeddings | None = None,
        config: ScoringConfig | None = None,
    ) -> None:
        from copilot.embeddings import USEEmbeddings, get_embeddings

        self.settings = settings
        settings.ensure_data_dir()
        self.registry = Registry(settings.data_dir / "policies.db")
        try:
            self.cache = EmbeddingCache(cache_path(settings))
        except BaseException:
            self.registry.close()
            raise
        try:
            self._adopt_legacy_vectors()
            self.store = VectorStore(
                settings,
                self.cache,
                embeddings or get_embeddings(settings),
                sentence_embeddings or USEEmbeddings(),
            )
            self.searcher = HybridSearcher(self.registry, self.store, config)
            self._write_lock = threading.Lock()
            self._resync_if_needed()
        except BaseException:
            # e.g. an unreachable Chroma server: nothing opened here may stay open
            self.close()
            raise

    @classmethod
    def from_settings(cls, settings: Settings) -> KnowledgeBase:
        """Open the knowledge base the settings point at."""
        return cls(settings)

    def close(self) -> None:
        """Release the registry and cache connections."""
        self.registry.close()
        self.cache.close()

    # --- consistency ---------------------------------------------------------------

    def _adopt_legacy_vectors(self) -> None:
        """Move vectors that older releases kept in the registry into the cache."""
        legacy = self.registry.take_legacy_vectors()
        if legacy is None:
            return
        for model, vectors in legacy.items():
            self.cache.put(model, vectors)
        if legacy:
            log.info(
                "moved %d cached vectors from the registry to %s",
                sum(len(v) for v in legacy.values()),
                self.cache.path,
            )
        self.registry.drop_legacy_vectors()

    def _resync_if_needed(self) -> None:
        """Refill Chroma from the registry when they disagree (new server, lost dir).

        Also when the texts given to the embedders changed between releases
        (``EMBEDDING_LAYOUT``): the vectors in Chroma would then be stale.
        """
        active = self.registry.active_passages()
        expected = {p.passage_id for p in active}
        layout = self.registry.state("embedding_layout")
        current = layout == EMBEDDING_LAYOUT or not self.registry.documents()
        if (
            current
            and self.store.count() == len(expected)
            and self.store.ids() == expected
        ):
            if layout != EMBEDDING_LAYOUT:
                self.registry.set_state("embedding_layout", EMBEDDING_LAYOUT)
            return
        log.warning(
            "Chroma holds a different set of passages or vectors than the registry; "
            "rebuilding it from %d passages",
            len(expected),
        )
        by_doc: dict[str, list[StoredPassage]] = {}
        for passage in active:
            by_doc.setdefault(passage.doc, []).append(passage)
        for doc, _, _ in self.registry.documents():
            passages = by_doc.get(doc, [])
            self.store.embed(passages)
            self.store.put(doc, passages)
        self.registry.set_state("embedding_layout", EMBEDDING_LAYOUT)

    # --- ingest --------------------------------------------------------------------

    def ingest(self, paths: Iterable[Path | str]) -> IngestReport:
        """Ingest files and folders; bad files are reported and skipped."""
        started = time.perf_counter()
        report = IngestReport()
        for path, reason in _collect(paths):
            if reason:
                report.files.append(
                    FileOutcome(str(path), path.name, "skipped", reason=reason)
                )
                continue
            report.files.append(self._ingest_file(path))
        report.seconds = time.perf_counter() - started
        log.info(
            "ingested %d files (%d changed, %d skipped) in %.1f s",
            len(report.files),
            len(report.changed),
            len(report.skipped),
            report.seconds,
        )
        return report

    def _ingest_file(self, path: Path) -> FileOutcome:
        try:
            parsed = parse_file(path)
        except InputError as exc:
            return FileOutcome(str(path), path.name, "skipped", reason=exc.message)
        except Exception as exc:  # a parser library choking on a damaged file
            log.warning("cannot parse %s: %s", path.name, type(exc).__name__)
            return FileOutcome(
                str(path),
                path.name,
                "skipped",
                reason=f"{path.name}: the file cannot be read ({type(exc).__name__}). "
                "Save it again from its editor, or as Markdown, and ingest it again.",
            )
        drafts = split_passages(parsed)
        if not drafts:
            return FileOutcome(
                str(path), parsed.doc, "skipped", reason="no text to index"
            )

        doc = parsed.doc
        parsed.metadata.language = parsed.metadata.language or drafts[0].language
        with self._write_lock:
            active = self.registry.active_version(doc)
            if active is not None:
                current = self.registry.versions(doc)
                row = next(v for v in current if v.version == active)
                if row.content_hash == parsed.content_hash:
                    return FileOutcome(
                        str(path),
                        doc,
                        "unchanged",
                        version=active,
                        passages=row.passage_count,
                    )
            version = self.registry.latest_version(doc) + 1
            metadata = parsed.metadata.as_dict()
            seen: set[str] = set()
            passages: list[StoredPassage] = []
            for draft in drafts:
                pid = hashlib.sha256(
                    f"{doc}\x1f{draft.content_hash}".encode()
                ).hexdigest()[:20]
                if pid in seen:
                    pid = f"{pid}-{draft.ordinal}"
                seen.add(pid)
                passages.append(
                    StoredPassage(
                        passage_id=pid,
                        doc=doc,
                        version=version,
                        ordinal=draft.ordinal,
                        heading_path=draft.heading_path,
                        text=draft.text,
                        language=draft.language,
                        jurisdiction=metadata["jurisdiction"],
                        effective_date=metadata["effective_date"],
                    )
                )
            try:
                embedded = self.store.embed(passages)
            except CopilotError as exc:
                return FileOutcome(str(path), doc, "failed", reason=exc.message)
            except Exception as exc:
                log.warning("embedding %s failed: %s", doc, type(exc).__name__)
                return FileOutcome(
                    str(path),
                    doc,
                    "failed",
                    reason=f"embedding failed ({type(exc).__name__}: {exc}); "
                    "the previous version is still in force",
                )
            self._activate(
                doc, passages, previous=active, new_version=(version, parsed, path)
            )
        status: Status = "added" if active is None and version == 1 else "updated"
        return FileOutcome(
            str(path),
            doc,
            status,
            version=version,
            passages=len(passages),
            embedded=embedded,
        )

    def _activate(
        self,
        doc: str,
        passages: list[StoredPassage],
        *,
        previous: int | None,
        new_version: tuple[int, Any, Path] | None = None,
        target: int | None = None,
    ) -> None:
        """Point Chroma and the registry at *passages*; on failure, restore *previous*."""
        try:
            self.store.put(doc, passages)
            with self.registry.transaction() as conn:
                if new_version is not None:
                    version, parsed, path = new_version
                    self.registry.save_version(
                        conn,
                        doc=doc,
                        version=version,
                        content_hash=parsed.content_hash,
                        source=str(path),
                        metadata=parsed.metadata.as_dict(),
                        passages=[
                            (p.passage_id, p.heading_path, p.text, p.language)
                            for p in passages
                        ],
                    )
                    self.registry.set_active(conn, doc, version)
                else:
                    self.registry.set_active(conn, doc, target)
        except BaseException:
            old = self.registry.passages(doc, previous) if previous is not None else []
            try:
                self.store.put(doc, old)
            except StoreError:
                log.error(
                    "could not put %s back to version %s in Chroma", doc, previous
                )
            raise

    # --- versions ------------------------------------------------------------------

    def list_documents(self) -> list[DocumentInfo]:
        """Every document ever ingested, with its versions and passage counts."""
        out: list[DocumentInfo] = []
        for doc, active, _ in self.registry.documents():
            versions = self.registry.versions(doc)
            shown = next((v for v in versions if v.version == active), versions[-1])
            meta = shown.metadata
            out.append(
                DocumentInfo(
                    doc=doc,
                    title=meta.get("title"),
                    active_version=active,
                    passages=shown.passage_count if active is not None else 0,
                    jurisdiction=meta.get("jurisdiction") or "ANY",
                    language=meta.get("language"),
                    effective_date=meta.get("effective_date"),
                    owner=meta.get("owner"),
                    versions=[
                        VersionInfo(
                            v.version,
                            v.passage_count,
                            v.ingested_at,
                            v.source,
                            v.content_hash,
                        )
                        for v in versions
                    ],
                )
            )
        return out

    def _require(self, doc: str) -> None:
        if not self.registry.known(doc):
            names = ", ".join(d for d, _, _ in self.registry.documents()) or "none"
            raise NotFoundError(
                f"No policy document named {doc!r}. Known documents: {names}. "
                "See `copilot policies list`."
            )

    def remove(self, doc: str) -> None:
        """Take *doc* out of search; its versions stay restorable."""
        self._require(doc)
        with self._write_lock:
            active = self.registry.active_version(doc)
            if active is None:
                return
            self.store.delete(doc)
            with self.registry.transaction() as conn:
                self.registry.set_active(conn, doc, None)

    def restore(self, doc: str, version: int | None = None) -> int:
        """Make an earlier version active again (default: the one before); returns it."""
        self._require(doc)
        with self._write_lock:
            active = self.registry.active_version(doc)
            known = [v.version for v in self.registry.versions(doc)]
            if version is None:
                if active is None:
                    version = known[-1]
                else:
                    earlier = [v for v in known if v < active]
                    if not earlier:
                        raise InputError(
                            f"{doc} has no version before {active} to restore; "
                            "name one with --version."
                        )
                    version = earlier[-1]
            if version not in known:
                raise NotFoundError(
                    f"{doc} has no version {version}; it has versions "
                    f"{', '.join(map(str, known))}."
                )
            passages = self.registry.passages(doc, version)
            self.store.embed(passages)
            self._activate(doc, passages, previous=active, target=version)
            return version

    def passage(self, passage_id: str) -> Passage:
        """A passage by id (for tracing a citation back to its text)."""
        stored = self.registry.passage(passage_id)
        if stored is None:
            raise NotFoundError(f"No policy passage with id {passage_id!r}.")
        return Passage.from_stored(stored)

    def diff(self, doc: str, v1: int, v2: int) -> list[dict[str, str]]:
        """What changed between two versions, passage by passage (by heading)."""
        self._require(doc)
        known = {v.version for v in self.registry.versions(doc)}
        for version in (v1, v2):
            if version not in known:
                raise NotFoundError(f"{doc} has no version {version}.")
        old = {
            " > ".join(p.heading_path): p.text for p in self.registry.passages(doc, v1)
        }
        new = {
            " > ".join(p.heading_path): p.text for p in self.registry.passages(doc, v2)
        }
        changes: list[dict[str, str]] = []
        for heading in list(dict.fromkeys([*old, *new])):
            before, after = old.get(heading), new.get(heading)
            if before == after:
                continue
            change = (
                "added" if before is None else "removed" if after is None else "changed"
            )
            lines = difflib.unified_diff(
                (before or "").splitlines(),
                (after or "").splitlines(),
                fromfile=f"{doc} v{v1}",
                tofile=f"{doc} v{v2}",
                lineterm="",
            )
            changes.append(
                {"heading": heading, "change": change, "diff": "\n".join(lines)}
            )
        return changes

    # --- search --------------------------------------------------------------------

    def search(
        self,
        query: str,
        *,
        k: int = 4,
        jurisdiction: str | None = None,
        language: str | None = None,
        as_of: date | None = None,
    ) -> list[Passage]:
        """The *k* passages that best answer *query*; filters narrow what may be cited.

        ``jurisdiction`` keeps that jurisdiction's passages and company-wide ones (ANY);
        ``language`` keeps passages in that language only; ``as_of`` hides documents
        whose effective date is later (default: today).
        """
        if jurisdiction and jurisdiction.upper() not in ("US", "CO", "ANY"):
            raise InputError(f"Unknown jurisdiction {jurisdiction!r}; use US or CO.")
        started = time.perf_counter()
        hits = self.searcher.search(
            query, k=k, jurisdiction=jurisdiction, language=language, as_of=as_of
        )
        log.debug(
            "policy search: %d hits in %.0f ms",
            len(hits),
            (time.perf_counter() - started) * 1000,
        )
        if not hits and not self.registry.active_passages():
            log.warning(
                "policy search on an empty knowledge base; run `copilot policies ingest`"
            )
        return [Passage.from_stored(hit.passage, hit.score) for hit in hits]

    def as_retriever(
        self,
        k: int = 4,
        jurisdiction: str | None = None,
        language: str | None = None,
        as_of: date | None = None,
    ) -> BaseRetriever:
        """This knowledge base as a LangChain retriever."""
        return PolicyRetriever(
            knowledge_base=self,
            k=k,
            jurisdiction=jurisdiction,
            language=language,
            as_of=as_of,
        )

    def ensure_defaults(self, directory: Path | None = None) -> bool:
        """Ingest the default policies if no document is active; True if it did.

        The folder is *directory*, else COPILOT_DEFAULT_POLICIES_DIR, else the packaged
        ``policies/`` next to the source tree (a wheel does not carry it).
        """
        if any(active is not None for _, active, _ in self.registry.documents()):
            return False
        folder = directory or self.settings.default_policies_dir or DEFAULT_POLICY_DIR
        files = sorted(
            p for p in folder.glob("*") if p.suffix.lower() in SUPPORTED_SUFFIXES
        )
        if not files:
            log.warning(
                "no default policies found in %s; set COPILOT_DEFAULT_POLICIES_DIR to "
                "a folder of policy documents, or run `copilot policies ingest PATH`",
                folder,
            )
            return False
        report = self.ingest(files)
        for outcome in report.skipped:
            log.warning("default policy %s skipped: %s", outcome.doc, outcome.reason)
        return bool(report.changed)
