"""Reading policy files and splitting them along their own structure.

Every supported format is reduced to the same shape: a list of blocks, each either a
heading (with its level) or a paragraph. The splitter then makes one passage per section
(the text under the deepest heading), cutting long sections at paragraph boundaries, so
a passage never mixes two headings and always knows its heading path.

Metadata comes from YAML front matter (Markdown and text) or a sidecar file named
``<file>.meta.yaml`` beside any file: ``title``, ``jurisdiction`` (US, CO, or ANY),
``language`` (en, es), ``effective_date`` (YYYY-MM-DD) and ``owner``.
"""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import yaml

from copilot.errors import InputError
from copilot.text import fold

__all__ = [
    "SUPPORTED_SUFFIXES",
    "Block",
    "DocumentMetadata",
    "ParsedDocument",
    "PassageDraft",
    "detect_language",
    "parse_file",
    "split_passages",
    "split_sentences",
    "tokenize",
]

log = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = (".md", ".markdown", ".txt", ".html", ".htm", ".pdf", ".docx")
SIDECAR_SUFFIX = ".meta.yaml"
MAX_PASSAGE_CHARS = 1500
JURISDICTIONS = ("US", "CO", "ANY")


@dataclass(frozen=True)
class Block:
    """A heading (level >= 1) or a paragraph (level 0) in reading order."""

    level: int
    text: str


@dataclass
class DocumentMetadata:
    """What the front matter or sidecar says about a document."""

    title: str | None = None
    jurisdiction: str = "ANY"
    language: str | None = None
    effective_date: date | None = None
    owner: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """A JSON-ready view."""
        return {
            "title": self.title,
            "jurisdiction": self.jurisdiction,
            "language": self.language,
            "effective_date": self.effective_date.isoformat()
            if self.effective_date
            else None,
            "owner": self.owner,
        }


@dataclass
class ParsedDocument:
    """A file read into blocks, with its metadata and the hash of its bytes."""

    doc: str
    path: Path
    blocks: list[Block]
    metadata: DocumentMetadata
    content_hash: str


@dataclass
class PassageDraft:
    """A passage before it is stored: text, heading path and its content hash."""

    heading_path: list[str]
    text: str
    ordinal: int
    language: str
    content_hash: str = field(default="")

    @property
    def heading(self) -> str:
        """The passage's own heading (the deepest one)."""
        return self.heading_path[-1] if self.heading_path else ""


# --- metadata ---------------------------------------------------------------------

_FRONT_MATTER = re.compile(r"\A---\s*\n(.*?)\n---\s*(?:\n|\Z)", re.DOTALL)


def _metadata_from(raw: dict[str, Any], source: str) -> DocumentMetadata:
    meta = DocumentMetadata()
    if not isinstance(raw, dict):
        raise InputError(
            f"{source}: the metadata must be a YAML mapping of key: value."
        )
    if raw.get("title"):
        meta.title = str(raw["title"]).strip()
    jurisdiction = str(raw.get("jurisdiction") or "ANY").strip().upper()
    if jurisdiction not in JURISDICTIONS:
        raise InputError(
            f"{source}: jurisdiction {jurisdiction!r} is not one of US, CO or ANY."
        )
    meta.jurisdiction = jurisdiction
    if raw.get("language"):
        language = str(raw["language"]).strip().lower()[:2]
        if language not in ("en", "es"):
            raise InputError(f"{source}: language {language!r} is not en or es.")
        meta.language = language
    effective = raw.get("effective_date") or raw.get("effective")
    if effective:
        if isinstance(effective, date):
            meta.effective_date = effective
        else:
            try:
                meta.effective_date = date.fromisoformat(str(effective).strip())
            except ValueError as exc:
                raise InputError(
                    f"{source}: effective_date {effective!r} is not a YYYY-MM-DD date."
                ) from exc
    if raw.get("owner"):
        meta.owner = str(raw["owner"]).strip()
    return meta


def _split_front_matter(text: str, source: str) -> tuple[dict[str, Any], str]:
    match = _FRONT_MATTER.match(text)
    if not match:
        return {}, text
    try:
        raw = yaml.safe_load(match.group(1)) or {}
    except yaml.YAMLError as exc:
        raise InputError(
            f"{source}: the front matter is not valid YAML ({exc})."
        ) from exc
    return raw, text[match.end() :]


def _sidecar(path: Path) -> dict[str, Any]:
    sidecar = path.with_name(path.name + SIDECAR_SUFFIX)
    if not sidecar.is_file():
        return {}
    try:
        raw = yaml.safe_load(sidecar.read_text(encoding="utf-8")) or {}
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise InputError(
            f"{sidecar.name}: the sidecar metadata cannot be read ({exc})."
        ) from exc
    if not isinstance(raw, dict):
        raise InputError(f"{sidecar.name}: the sidecar must be a YAML mapping.")
    return raw


# --- parsers ----------------------------------------------------------------------

_MD_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")


def _blocks_from_markdown(text: str) -> list[Block]:
    blocks: list[Block] = []
    paragraph: list[str] = []
    in_fence = False

    def flush() -> None:
        if paragraph:
            joined = " ".join(line.strip() for line in paragraph).strip()
            if joined:
                blocks.append(Block(0, joined))
            paragraph.clear()

    for line in text.splitlines():
        if line.strip().startswith("```"):
            in_fence = not in_fence
            continue
        heading = None if in_fence else _MD_HEADING.match(line)
        if heading:
            flush()
            blocks.append(Block(len(heading.group(1)), heading.group(2).strip()))
        elif not line.strip():
            flush()
        elif re.match(r"^\s*([-*+]|\d+[.)])\s+", line) and paragraph:
            # a list item starts its own paragraph so items are not glued together
            flush()
            paragraph.append(line)
        else:
            paragraph.append(line)
    flush()
    return blocks


def _looks_like_heading(line: str) -> bool:
    stripped = line.strip()
    if not stripped or len(stripped) > 80 or stripped[-1] in ".,;:?!)":
        return False
    if re.match(
        r"^(\d+(\.\d+)*\.?|[IVX]+\.|art[íi]culo\s+\d+|section\s+\d+)\s+\S",
        stripped,
        re.I,
    ):
        return True
    words = stripped.split()
    return len(words) <= 8 and stripped[0].isupper() and not stripped.endswith("-")


def _blocks_from_plain(text: str) -> list[Block]:
    """Plain text: a short unpunctuated line alone before a paragraph is a heading."""
    blocks: list[Block] = []
    for chunk in re.split(r"\n\s*\n", text):
        lines = [line for line in chunk.splitlines() if line.strip()]
        if not lines:
            continue
        if lines[0].lstrip().startswith("#"):
            blocks.extend(_blocks_from_markdown(chunk))
            continue
        if _looks_like_heading(lines[0]) and (len(lines) == 1 or len(lines[0]) < 60):
            blocks.append(Block(2, lines[0].strip()))
            lines = lines[1:]
        body = " ".join(line.strip() for line in lines).strip()
        if body:
            blocks.append(Block(0, body))
    return blocks


def _blocks_from_html(raw: bytes) -> tuple[list[Block], str | None]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(raw, "html.parser")
    for tag in soup(["script", "style", "nav", "footer"]):
        tag.decompose()
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    language = None
    if soup.html and soup.html.get("lang"):
        language = str(soup.html.get("lang"))[:2].lower()
    blocks: list[Block] = []
    body = soup.body or soup
    for element in body.find_all(
        ["h1", "h2", "h3", "h4", "h5", "h6", "p", "li", "td", "pre"]
    ):
        text = " ".join(element.get_text(" ", strip=True).split())
        if not text:
            continue
        if element.name and element.name.startswith("h") and len(element.name) == 2:
            blocks.append(Block(int(element.name[1]), text))
        elif element.find_parent(["p", "li", "td"]) is None:
            blocks.append(Block(0, text))
    if not any(block.level == 1 for block in blocks) and title:
        blocks.insert(0, Block(1, title))
    return blocks, language


def _blocks_from_pdf(path: Path) -> list[Block]:
    from pypdf import PdfReader
    from pypdf.errors import PdfReadError

    try:
        reader = PdfReader(str(path))
        if reader.is_encrypted:
            try:
                if not reader.decrypt(""):
                    raise InputError(
                        f"{path.name}: the PDF is encrypted; save an unlocked copy."
                    )
            except InputError:
                raise
            except Exception as exc:
                raise InputError(
                    f"{path.name}: the PDF is encrypted; save an unlocked copy."
                ) from exc
        pages = [page.extract_text() or "" for page in reader.pages]
    except PdfReadError as exc:
        raise InputError(
            f"{path.name}: the PDF cannot be read ({exc}). Export it again from its "
            "source, or save the text as Markdown, and ingest it again."
        ) from exc
    return _blocks_from_plain("\n\n".join(pages))


def _blocks_from_docx(path: Path) -> tuple[list[Block], dict[str, Any]]:
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    try:
        document = docx.Document(str(path))
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        raise InputError(
            f"{path.name}: the Word file cannot be read ({exc}). Open it in Word and "
            "save it again as .docx (not .doc), then ingest it again."
        ) from exc
    blocks: list[Block] = []
    for paragraph in document.paragraphs:
        text = " ".join(paragraph.text.split())
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        if style == "Title":
            blocks.append(Block(1, text))
        elif style.startswith("Heading"):
            level = style.removeprefix("Heading").strip()
            blocks.append(Block(min(int(level) if level.isdigit() else 1, 6), text))
        else:
            blocks.append(Block(0, text))
    core = document.core_properties
    raw: dict[str, Any] = {}
    if core.title:
        raw["title"] = core.title
    if core.language:
        raw["language"] = core.language[:2]
    return blocks, raw


def _decode(raw: bytes, name: str) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise InputError(
        f"{name}: the text is neither UTF-8 nor Windows-1252."
    )  # pragma: no cover


def parse_file(path: Path) -> ParsedDocument:
    """Read one policy file into blocks and metadata, or raise InputError saying why not."""
    suffix = path.suffix.lower()
    if suffix not in SUPPORTED_SUFFIXES:
        raise InputError(
            f"{path.name}: unsupported file type {suffix or '(none)'}; "
            f"use one of {', '.join(SUPPORTED_SUFFIXES)}."
        )
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(
            f"{path.name}: the file cannot be read ({exc.strerror})."
        ) from exc
    if not raw.strip():
        raise InputError(f"{path.name}: the file is empty.")

    front: dict[str, Any] = {}
    language_hint: str | None = None
    if suffix in (".md", ".markdown"):
        front, body = _split_front_matter(_decode(raw, path.name), path.name)
        blocks = _blocks_from_markdown(body)
    elif suffix == ".txt":
        front, body = _split_front_matter(_decode(raw, path.name), path.name)
        blocks = _blocks_from_plain(body)
    elif suffix in (".html", ".htm"):
        blocks, language_hint = _blocks_from_html(raw)
    elif suffix == ".pdf":
        blocks = _blocks_from_pdf(path)
    else:
        blocks, front = _blocks_from_docx(path)

    merged = {**front, **_sidecar(path)}
    if language_hint and "language" not in merged and language_hint in ("en", "es"):
        merged["language"] = language_hint
    metadata = _metadata_from(merged, path.name)
    if metadata.title is None:
        metadata.title = next((b.text for b in blocks if b.level == 1), None)
    if not any(block.level == 0 for block in blocks):
        raise InputError(
            f"{path.name}: the file has no text to index (empty or scanned?)."
        )

    digest = hashlib.sha256(raw)
    digest.update(repr(sorted(metadata.as_dict().items())).encode())
    return ParsedDocument(
        doc=path.name,
        path=path,
        blocks=blocks,
        metadata=metadata,
        content_hash=digest.hexdigest(),
    )


# --- splitting --------------------------------------------------------------------

_SENTENCE_END = re.compile(r"(?<=[.!?;])\s+(?=[\"«¿¡(]?[A-ZÁÉÍÓÚÑ0-9])")


def split_sentences(text: str) -> list[str]:
    """Split a paragraph into sentences (good enough for policy prose)."""
    return [part.strip() for part in _SENTENCE_END.split(text) if part.strip()]


def _chunk(paragraphs: list[str], limit: int) -> list[str]:
    pieces: list[str] = []
    for paragraph in paragraphs:
        if len(paragraph) <= limit:
            pieces.append(paragraph)
            continue
        current = ""
        for sentence in split_sentences(paragraph):
            if current and len(current) + len(sentence) + 1 > limit:
                pieces.append(current)
                current = sentence
            else:
                current = f"{current} {sentence}".strip()
        if current:
            pieces.append(current)
    chunks: list[str] = []
    current = ""
    for piece in pieces:
        if current and len(current) + len(piece) + 2 > limit:
            chunks.append(current)
            current = piece
        else:
            current = f"{current}\n\n{piece}" if current else piece
    if current:
        chunks.append(current)
    return chunks


def split_passages(
    parsed: ParsedDocument, *, max_chars: int = MAX_PASSAGE_CHARS
) -> list[PassageDraft]:
    """One passage per section (cut at paragraphs when long), with its heading path."""
    sections: list[tuple[list[str], list[str]]] = []
    path: list[tuple[int, str]] = []
    current: list[str] = []

    def close() -> None:
        if current:
            sections.append(([text for _, text in path], list(current)))
            current.clear()

    for block in parsed.blocks:
        if block.level:
            close()
            path = [(level, text) for level, text in path if level < block.level]
            path.append((block.level, block.text))
        else:
            current.append(block.text)
    close()

    language = parsed.metadata.language or detect_language(
        " ".join(block.text for block in parsed.blocks[:40])
    )
    drafts: list[PassageDraft] = []
    for heading_path, paragraphs in sections:
        for text in _chunk(paragraphs, max_chars):
            heading_path_or_title = heading_path or [
                parsed.metadata.title or parsed.doc
            ]
            digest = hashlib.sha256(
                ("\x1f".join(heading_path_or_title) + "\x1e" + text).encode()
            ).hexdigest()
            drafts.append(
                PassageDraft(
                    heading_path=heading_path_or_title,
                    text=text,
                    ordinal=len(drafts),
                    language=language,
                    content_hash=digest,
                )
            )
    return drafts


# --- language and lexical tokens ----------------------------------------------------

_STOP_EN = frozenset(
    "a an and are as at be been but by can do does for from has have how if in into is "
    "it its may must no not of on or our shall should so such than that the their them "
    "then there these they this to was we were what when where which who will with "
    "would you your".split()
)
_STOP_ES = frozenset(
    "a al algo como con cual cuando de del desde donde el ella en entre es esa ese eso "
    "esta este esto estos hay la las le les lo los mas no nos o para pero por que se "
    "ser si sin sobre son su sus tiene un una uno unos y ya".split()
)
_STOP = _STOP_EN | _STOP_ES




def detect_language(text: str) -> str:
    """``en`` or ``es`` by counting each language's stop words (Spanish wins ties on ñ/¿)."""
    words = re.findall(r"[a-záéíóúüñ¿¡]+", text.lower())
    english = sum(word in _STOP_EN for word in words)
    spanish = sum(word in _STOP_ES for word in words)
    spanish += sum(ch in "ñ¿¡áéíóú" for ch in text.lower()) // 3
    return "es" if spanish > english else "en"


# A token is a word, or a number/citation that keeps its inner dots, commas, slashes and
# parenthesised subsections: 1006.14, 1692c(a)(1), 65.000, 7,5, 20/04/2027.
_TOKEN = re.compile(
    r"\d+(?:[.,/:-]\d+)*[a-z]?(?:\([a-z0-9]{1,4}\))*|[a-z][a-z0-9]*(?:-\d+)?"
)


def tokenize(text: str) -> list[str]:
    """Lexical tokens for BM25: folded words cut to five letters, exact numbers/citations."""
    tokens: list[str] = []
    for raw in _TOKEN.findall(fold(text)):
        if raw[0].isdigit():
            tokens.append(raw)
            base = re.split(r"[(]", raw)[0]
            if base != raw:
                tokens.append(base)
            if (
                "." in base
                and base.replace(".", "").isdigit()
                and len(base.split(".")[-1]) == 3
            ):
                tokens.append(base.replace(".", ""))  # 65.000 also as 65000
            continue
        if raw in _STOP or len(raw) < 2:
            continue
        tokens.append(raw if "-" in raw else raw[:5])
    return tokens


def exact_terms(text: str) -> list[str]:
    """Tokens a person means literally: numbers, citations, codes and acronyms."""
    terms = [token for token in tokenize(text) if any(ch.isdigit() for ch in token)]
    for word in re.findall(r"\b[A-ZÁÉÍÓÚÑ]{2,}(?:-\d+)?\b", text):
        terms.extend(tokenize(word))
    for quoted in re.findall(r"[\"“«']([^\"”»']{2,60})[\"”»']", text):
        terms.extend(tokenize(quoted))
    return list(dict.fromkeys(terms))
