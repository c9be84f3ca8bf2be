"""The approved template library: reviewed wordings per channel, goal and language.

Packaged templates live in ``policies/templates/<language>.yaml``; an admin adds
templates as YAML files in ``<data dir>/templates/`` and retires any template by id
(recorded in ``<data dir>/templates/retired.yaml``). Letters reuse the email wordings
inside the letter frame of ``policies/templates/letter_frame.yaml``.
"""

from __future__ import annotations

import hashlib
import logging
import string
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

from copilot.errors import InputError, NotFoundError

__all__ = ["Template", "TemplateLibrary"]

log = logging.getLogger(__name__)

PACKAGED = Path(__file__).resolve().parents[2] / "policies" / "templates"
CHANNELS = ("sms", "email", "letter", "call")
GOALS = ("reminder", "plan_offer", "promise_follow_up", "hardship", "settlement")
TONES = ("warm", "neutral", "firm", "any")


@dataclass(frozen=True)
class Template:
    """One approved wording."""

    id: str
    channel: str
    goal: str
    language: str
    tone: str
    text: str
    subject: str | None = None
    source: str = "packaged"

    @property
    def fields(self) -> set[str]:
        """The placeholders the wording needs."""
        names = set()
        for part in (self.text, self.subject or ""):
            names |= {f for _, f, _, _ in string.Formatter().parse(part) if f}
        return names

    def render(self, values: dict[str, str]) -> tuple[str | None, str]:
        """(subject, text) with every placeholder filled."""
        missing = self.fields - set(values)
        if missing:
            raise KeyError(", ".join(sorted(missing)))
        subject = self.subject.format_map(values) if self.subject else None
        return subject, self.text.format_map(values).strip()


def _parse(path: Path, source: str) -> list[Template]:
    """The templates of one file, parsed again only when the file changed."""
    stat = path.stat()
    return list(_parse_version(str(path), source, stat.st_mtime_ns, stat.st_size))


@lru_cache(maxsize=64)
def _parse_version(name: str, source: str, mtime_ns: int, size: int) -> tuple[Template, ...]:
    # Keyed by the file's version: a drafter builds a library per request, and parsing
    # every YAML file each time cost ~25 ms a draft. Templates are frozen, so sharing is safe.
    return tuple(_read(Path(name), source))


@lru_cache(maxsize=8)
def _letter_frame(name: str, mtime_ns: int) -> dict[str, str]:
    frame: dict[str, str] = yaml.safe_load(Path(name).read_text("utf-8"))
    return frame


def _read(path: Path, source: str) -> list[Template]:
    try:
        data: dict[str, Any] = yaml.safe_load(path.read_text("utf-8")) or {}
    except yaml.YAMLError as exc:
        raise InputError(f"The template file {path} is not valid YAML: {exc}") from exc
    language = data.get("language")
    out = []
    for number, item in enumerate(data.get("templates", []), start=1):
        where = f"{path.name}, template {number}"
        for key in ("id", "channel", "goal", "text"):
            if not item.get(key):
                raise InputError(f"{where} has no {key}.")
        if item["channel"] not in CHANNELS or item["goal"] not in GOALS:
            raise InputError(f"{where}: unknown channel or goal "
                             f"({item['channel']}, {item['goal']}).")
        tone = item.get("tone", "any")
        if tone not in TONES:
            raise InputError(f"{where}: tone must be one of {', '.join(TONES)}.")
        lang = item.get("language", language)
        if lang not in ("en", "es"):
            raise InputError(f"{where}: language must be en or es.")
        out.append(Template(id=item["id"], channel=item["channel"], goal=item["goal"],
                            language=lang, tone=tone, text=item["text"],
                            subject=item.get("subject"), source=source))
    return out


class TemplateLibrary:
    """Packaged and admin-added templates, minus the retired ones."""

    def __init__(self, data_dir: Path | None = None, packaged: Path = PACKAGED) -> None:
        self.packaged = packaged
        self.custom_dir = data_dir / "templates" if data_dir else None
        self.reload()

    def reload(self) -> None:
        """Read every template file again."""
        templates: dict[str, Template] = {}
        for path in sorted(self.packaged.glob("*.yaml")):
            if path.name == "letter_frame.yaml":
                continue
            for template in _parse(path, "packaged"):
                templates[template.id] = template
        if self.custom_dir and self.custom_dir.is_dir():
            for path in sorted(self.custom_dir.glob("*.yaml")):
                if path.name == "retired.yaml":
                    continue
                for template in _parse(path, path.name):
                    templates[template.id] = template
        self._all = templates
        frame = self.packaged / "letter_frame.yaml"
        self._letter_frame = _letter_frame(str(frame), frame.stat().st_mtime_ns)

    @property
    def retired(self) -> set[str]:
        """Ids an admin has retired."""
        if not self.custom_dir:
            return set()
        path = self.custom_dir / "retired.yaml"
        if not path.exists():
            return set()
        return set(yaml.safe_load(path.read_text("utf-8")) or [])

    def all(self, include_retired: bool = False) -> list[Template]:
        """Every template, sorted by id."""
        retired = set() if include_retired else self.retired
        return sorted((t for t in self._all.values() if t.id not in retired),
                      key=lambda t: t.id)

    def get(self, template_id: str) -> Template:
        """One template by id."""
        if template_id not in self._all:
            raise NotFoundError(f"No template {template_id}; see `copilot templates list`.")
        return self._all[template_id]

    def candidates(self, channel: str, goal: str, language: str, tone: str) -> list[Template]:
        """Active wordings for a request, the tone's own first."""
        source_channel = "email" if channel == "letter" else channel
        found = [t for t in self.all() if t.channel == source_channel and t.goal == goal
                 and t.language == language]
        exact = [t for t in found if t.tone == tone]
        rest = [t for t in found if t.tone != tone]
        return exact + rest

    def choose(
        self, channel: str, goal: str, language: str, tone: str, values: dict[str, str],
        seed: str = "",
    ) -> Template:
        """The wording to use: matching tone, every placeholder known, stable per seed."""
        usable = [t for t in self.candidates(channel, goal, language, tone)
                  if t.fields <= set(values)]
        if not usable:
            raise NotFoundError(
                f"No approved {language} template for a {channel} with goal {goal} can be "
                "filled for this debtor (a promise follow-up needs a pending promise). "
                "Choose another goal, or ask an admin to add a template."
            )
        best_tone = usable[0].tone
        same = [t for t in usable if t.tone == best_tone]
        digest = int(hashlib.sha256(seed.encode()).hexdigest(), 16)
        return same[digest % len(same)]

    def render(
        self, template: Template, channel: str, language: str, values: dict[str, str]
    ) -> tuple[str | None, str]:
        """(subject, text); letters are wrapped in the letter frame."""
        subject, text = template.render(values)
        if channel == "letter":
            frame = self._letter_frame[language]
            text = frame.format_map({**values, "body": text}).strip()
        return subject, text

    def add(self, path: Path) -> list[Template]:
        """Validate a template file and install it for this data directory."""
        if not self.custom_dir:
            raise InputError("Adding templates needs a data directory.")
        templates = _parse(path, path.name)
        self.custom_dir.mkdir(parents=True, exist_ok=True)
        target = self.custom_dir / path.name
        target.write_text(path.read_text("utf-8"), encoding="utf-8")
        self.reload()
        return templates

    def retire(self, template_id: str) -> None:
        """Stop using a template (it stays on record)."""
        self.get(template_id)
        if not self.custom_dir:
            raise InputError("Retiring templates needs a data directory.")
        self.custom_dir.mkdir(parents=True, exist_ok=True)
        retired = sorted(self.retired | {template_id})
        (self.custom_dir / "retired.yaml").write_text(yaml.safe_dump(retired))

    def restore(self, template_id: str) -> None:
        """Bring a retired template back."""
        self.get(template_id)
        if self.custom_dir:
            retired = sorted(self.retired - {template_id})
            (self.custom_dir / "retired.yaml").write_text(yaml.safe_dump(retired))
