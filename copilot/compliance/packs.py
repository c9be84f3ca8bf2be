"""Rule packs: YAML files that configure the rule kinds, validated with file and line.

A *base* pack (``common.yaml``, ``us.yaml``, ``co.yaml``) defines rules. An *overlay*
pack (``overlay: true``, a company's house rules) may only tighten what the base packs
define: lower caps, narrower hours, more phrases, ``warn`` to ``block``; it may also add
rules of its own. Anything that would loosen a setting is refused with its line.
"""

from __future__ import annotations

import copy
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from copilot.compliance.kinds import (
    KINDS,
    Kind,
    KindSettings,
    LimitedContent,
    check_message_templates,
    loosened,
)
from copilot.compliance.phrases import Family, Grammar, compile_family
from copilot.errors import ConfigError

__all__ = [
    "CompiledCheck",
    "CompiledRule",
    "PackError",
    "PackFile",
    "RuleSet",
    "assemble",
    "read_pack",
]

log = logging.getLogger(__name__)

_RULE_ID_RE = re.compile(r"^[a-z][a-z0-9_]*(?:\.[a-z0-9_]+)+$")
Lang = Literal["en", "es"]


class PackError(ConfigError):
    """A rule pack failed validation; ``errors`` lists ``file:line: reason``."""

    def __init__(self, errors: list[str]) -> None:
        super().__init__(
            "A rule pack failed validation: "
            + "; ".join(errors)
            + ". Fix the pack; the previous packs stay active.",
            details={"errors": errors},
        )
        self.errors = errors


# --- file schema -----------------------------------------------------------------------


class _Def(BaseModel):
    model_config = ConfigDict(extra="forbid")


class PhraseDef(_Def):
    en: list[str] = Field(default_factory=list)
    es: list[str] = Field(default_factory=list)
    negation_aware: bool | None = None
    rights_aware: bool | None = None


class LanguageDef(_Def):
    negation_window: int = Field(default=5, ge=1, le=12)
    negators: dict[Lang, list[str]] = Field(default_factory=dict)
    resets: dict[Lang, list[str]] = Field(default_factory=dict)
    stopwords: dict[Lang, list[str]] = Field(default_factory=dict)


class RuleDef(_Def):
    severity: Literal["block", "warn"] | None = None
    citation: str | None = None
    message: dict[Lang, str] | None = None
    checks: dict[str, dict[str, Any]] = Field(default_factory=dict)

    _valid_message = field_validator("message")(check_message_templates)


class PackDef(_Def):
    pack: str = Field(pattern=r"^[a-z][a-z0-9_.-]*$")
    jurisdiction: Literal["US", "CO", "any"]
    overlay: bool = False
    description: str = ""
    language: LanguageDef | None = None
    phrases: dict[str, PhraseDef] = Field(default_factory=dict)
    disclosures: dict[str, dict[Lang, str]] = Field(default_factory=dict)
    rules: dict[str, RuleDef] = Field(default_factory=dict)


@dataclass
class PackFile:
    """One pack file that passed its own validation."""

    path: Path
    definition: PackDef
    lines: dict[tuple[Any, ...], int]

    @property
    def name(self) -> str:
        """The pack's name."""
        return self.definition.pack

    def where(self, *path: Any) -> str:
        """``file:line`` of the deepest known node along *path*."""
        keys = tuple(path)
        while keys and keys not in self.lines:
            keys = keys[:-1]
        return f"{self.path}:{self.lines.get(keys, 1)}"


def _node_lines(
    node: yaml.Node, path: tuple[Any, ...], out: dict[tuple[Any, ...], int]
) -> None:
    out[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            child = (*path, key.value)
            out[child] = key.start_mark.line + 1
            _node_lines(value, child, out)
            out[child] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_lines(item, (*path, index), out)


def read_pack(path: Path) -> tuple[PackFile | None, list[str]]:
    """Parse and validate one pack file on its own; errors read ``file:line: reason``."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        return None, [f"{path}:1: cannot be read ({exc.strerror})"]
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        return None, [f"{path}:{line}: not valid YAML ({exc.problem})"]
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _node_lines(node, (), lines)
    if not isinstance(data, dict):
        return None, [
            f"{path}:1: a pack must be a mapping with pack, jurisdiction and rules"
        ]

    try:
        definition = PackDef.model_validate(data)
    except ValidationError as exc:
        pack = PackFile(
            path, PackDef.model_construct(pack="", jurisdiction="any"), lines
        )
        return None, [
            f"{pack.where(*e['loc'])}: {_loc(e['loc'])}{e['msg']}" for e in exc.errors()
        ]

    pack = PackFile(path, definition, lines)
    errors = _check_patterns(pack)
    if not definition.overlay:
        errors += _check_base_rules(pack)
    elif definition.language is not None:
        errors.append(
            f"{pack.where('language')}: an overlay pack cannot change the "
            "negation or stop words; put them in a base pack"
        )
    return (None, errors) if errors else (pack, [])


def _loc(loc: tuple[Any, ...]) -> str:
    return ".".join(str(part) for part in loc) + ": " if loc else ""


def _check_patterns(pack: PackFile) -> list[str]:
    errors = []
    for name, phrase in pack.definition.phrases.items():
        for lang in ("en", "es"):
            for index, pattern in enumerate(getattr(phrase, lang)):
                try:
                    re.compile(pattern)
                except re.error as exc:
                    errors.append(
                        f"{pack.where('phrases', name, lang, index)}: pattern "
                        f"{pattern!r} of family {name} is not a valid regular "
                        f"expression ({exc.msg})"
                    )
    return errors


def _validate_settings(
    pack: PackFile, rule_id: str, check: str, raw: dict[str, Any]
) -> tuple[KindSettings | None, list[str]]:
    kind_name = raw.get("kind")
    if kind_name not in KINDS:
        known = ", ".join(sorted(KINDS))
        return None, [
            f"{pack.where('rules', rule_id, 'checks', check, 'kind')}: unknown "
            f"rule kind {kind_name!r} in {rule_id}.{check}; use one of {known}"
        ]
    try:
        return KINDS[kind_name].Settings.model_validate(raw), []
    except ValidationError as exc:
        return None, [
            f"{pack.where('rules', rule_id, 'checks', check, *e['loc'])}: "
            f"{rule_id}.{check}.{_loc(e['loc'])}{e['msg']}"
            for e in exc.errors()
        ]


def _check_base_rules(pack: PackFile) -> list[str]:
    errors = []
    for rule_id, rule in pack.definition.rules.items():
        where = pack.where("rules", rule_id)
        if not _RULE_ID_RE.match(rule_id):
            errors.append(
                f"{where}: rule id {rule_id!r} must look like 'us.contact_time'"
            )
        missing = [
            n for n in ("severity", "citation", "message") if getattr(rule, n) is None
        ]
        if missing:
            errors.append(f"{where}: rule {rule_id} lacks {', '.join(missing)}")
        elif rule.message is not None and set(rule.message) != {"en", "es"}:
            errors.append(
                f"{pack.where('rules', rule_id, 'message')}: rule {rule_id} "
                "needs a message in both en and es"
            )
        if not rule.checks:
            errors.append(f"{where}: rule {rule_id} has no checks")
        for check, raw in rule.checks.items():
            errors += _validate_settings(pack, rule_id, check, raw)[1]
    return errors


# --- assembly --------------------------------------------------------------------------


@dataclass
class CompiledCheck:
    """One check of a rule, ready to run."""

    name: str
    kind: Kind
    message: dict[str, str] | None
    provenance: dict[str, str]
    """setting field -> name of the pack that set it last."""
    pack: str

    def pack_for(self, setting: str) -> str:
        """The pack that decided *setting*."""
        return self.provenance.get(setting, self.pack)


@dataclass
class CompiledRule:
    """A rule id with its severity, citation, messages and checks."""

    id: str
    severity: Literal["block", "warn"]
    citation: str
    message: dict[str, str]
    pack: str
    checks: list[CompiledCheck]
    severity_pack: str = ""


@dataclass
class RuleSet:
    """The rules in force for one jurisdiction, from its base packs and overlays."""

    jurisdiction: str
    rules: list[CompiledRule]
    families: dict[str, Family]
    grammar: Grammar
    rights: Family | None
    stopwords: dict[str, frozenset[str]]
    disclosures: dict[str, dict[str, str]]
    packs: list[PackFile]
    limited_content_check: LimitedContent | None = None
    family_patterns: dict[str, dict[str, list[str]]] = field(default_factory=dict)

    def rule(self, rule_id: str) -> CompiledRule:
        """The rule with that id."""
        for rule in self.rules:
            if rule.id == rule_id:
                return rule
        raise KeyError(rule_id)


@dataclass
class _State:
    phrases: dict[str, dict[str, Any]] = field(default_factory=dict)
    negators: set[str] = field(default_factory=set)
    resets: set[str] = field(default_factory=set)
    stopwords: dict[str, set[str]] = field(default_factory=dict)
    window: int = 5
    disclosures: dict[str, dict[str, str]] = field(default_factory=dict)
    rules: dict[str, dict[str, Any]] = field(default_factory=dict)
    packs: list[PackFile] = field(default_factory=list)


def _merge_phrases(state: _State, pack: PackFile) -> None:
    for name, phrase in pack.definition.phrases.items():
        entry = state.phrases.setdefault(
            name, {"en": [], "es": [], "negation_aware": True, "rights_aware": True}
        )
        entry["en"] = [*entry["en"], *phrase.en]
        entry["es"] = [*entry["es"], *phrase.es]
        if phrase.negation_aware is not None and not pack.definition.overlay:
            entry["negation_aware"] = phrase.negation_aware
        if phrase.rights_aware is not None and not pack.definition.overlay:
            entry["rights_aware"] = phrase.rights_aware


def _add_base(state: _State, pack: PackFile) -> list[str]:
    errors = []
    definition = pack.definition
    _merge_phrases(state, pack)
    if definition.language is not None:
        lang = definition.language
        state.window = lang.negation_window
        for words in lang.negators.values():
            state.negators.update(w.lower() for w in words)
        for words in lang.resets.values():
            state.resets.update(w.lower() for w in words)
        for code, words in lang.stopwords.items():
            state.stopwords.setdefault(code, set()).update(w.lower() for w in words)
    for key, wording in definition.disclosures.items():
        state.disclosures[key] = {str(lang): text for lang, text in wording.items()}
    for rule_id, rule in definition.rules.items():
        if rule_id in state.rules:
            other = state.rules[rule_id]["pack"]
            errors.append(
                f"{pack.where('rules', rule_id)}: rule {rule_id} is already "
                f"defined by pack {other}; use an overlay pack to change it"
            )
            continue
        state.rules[rule_id] = _new_rule(pack, rule_id, rule)
    state.packs.append(pack)
    return errors


def _new_rule(pack: PackFile, rule_id: str, rule: RuleDef) -> dict[str, Any]:
    return {
        "severity": rule.severity,
        "severity_pack": pack.name,
        "citation": rule.citation,
        "message": dict(rule.message or {}),
        "pack": pack.name,
        "checks": {
            name: {
                "raw": dict(raw),
                "provenance": {},
                "pack": pack.name,
                "line": pack.where("rules", rule_id, "checks", name),
            }
            for name, raw in rule.checks.items()
        },
    }


def _add_overlay(state: _State, pack: PackFile) -> list[str]:
    errors: list[str] = []
    definition = pack.definition
    _merge_phrases(state, pack)
    for key, wording in definition.disclosures.items():
        state.disclosures.setdefault(key, {}).update(
            {str(lang): text for lang, text in wording.items()}
        )
    for rule_id, rule in definition.rules.items():
        where = pack.where("rules", rule_id)
        if rule_id not in state.rules:
            if (
                not _RULE_ID_RE.match(rule_id)
                or rule.severity is None
                or not rule.checks
            ):
                errors.append(
                    f"{where}: rule {rule_id} is not defined by a base pack; a new "
                    "rule needs an id like 'company.x', severity, citation, "
                    "message (en, es) and checks"
                )
                continue
            for check, raw in rule.checks.items():
                errors += _validate_settings(pack, rule_id, check, raw)[1]
            if rule.message is None or set(rule.message) != {"en", "es"}:
                errors.append(f"{where}: rule {rule_id} needs a message in en and es")
            state.rules[rule_id] = _new_rule(pack, rule_id, rule)
            state.rules[rule_id]["citation"] = rule.citation or ""
            continue
        target = state.rules[rule_id]
        if rule.severity is not None:
            if target["severity"] == "block" and rule.severity == "warn":
                errors.append(
                    f"{pack.where('rules', rule_id, 'severity')}: {rule_id} "
                    "cannot go from block to warn in an overlay pack"
                )
            else:
                target["severity"], target["severity_pack"] = rule.severity, pack.name
        if rule.citation is not None:
            target["citation"] = rule.citation
        if rule.message is not None:
            target["message"].update(rule.message)
        for check, partial in rule.checks.items():
            errors += _overlay_check(pack, rule_id, check, target, partial)
    state.packs.append(pack)
    return errors


def _overlay_check(
    pack: PackFile,
    rule_id: str,
    check: str,
    target: dict[str, Any],
    partial: dict[str, Any],
) -> list[str]:
    where = pack.where("rules", rule_id, "checks", check)
    existing = target["checks"].get(check)
    if existing is None:
        if "kind" not in partial:
            return [
                f"{where}: {rule_id} has no check {check!r}; a new check needs a kind"
            ]
        errs = _validate_settings(pack, rule_id, check, partial)[1]
        if not errs:
            target["checks"][check] = {
                "raw": dict(partial),
                "provenance": {},
                "pack": pack.name,
                "line": where,
            }
        return errs
    if "kind" in partial and partial["kind"] != existing["raw"]["kind"]:
        return [
            f"{pack.where('rules', rule_id, 'checks', check, 'kind')}: cannot change "
            f"the kind of {rule_id}.{check}"
        ]
    merged = {**existing["raw"], **partial}
    settings, errs = _validate_settings(pack, rule_id, check, merged)
    if settings is None:
        return errs
    kind = KINDS[merged["kind"]]
    base = kind.Settings.model_validate(existing["raw"])
    problems = [
        f"{pack.where('rules', rule_id, 'checks', check, name)}: {rule_id}.{check}.{name} "
        f"would loosen the rule ({reason}); an overlay pack may only tighten"
        for name, reason in loosened(base, settings)
        if name in partial
    ]
    if problems:
        return problems
    existing["raw"] = merged
    for name in partial:
        existing["provenance"][name] = pack.name
    return []


def _compile(jurisdiction: str, state: _State) -> tuple[RuleSet, list[str]]:
    families = {
        name: compile_family(
            name,
            [*d["en"], *d["es"]],
            negation_aware=d["negation_aware"],
            rights_aware=d["rights_aware"],
        )
        for name, d in state.phrases.items()
    }
    errors: list[str] = []
    rules: list[CompiledRule] = []
    lcm: LimitedContent | None = None
    for rule_id, rule in state.rules.items():
        checks = []
        for name, entry in rule["checks"].items():
            raw = entry["raw"]
            kind_cls = KINDS[raw["kind"]]
            settings = kind_cls.Settings.model_validate(raw)
            kind = kind_cls(settings)
            missing = [f for f in kind.families() if f not in families]
            if missing:
                errors.append(
                    f"{entry['line']}: {rule_id}.{name} refers to unknown phrase "
                    f"famil{'y' if len(missing) == 1 else 'ies'} "
                    f"{', '.join(missing)}"
                )
                continue
            if isinstance(kind, LimitedContent) and lcm is None:
                lcm = kind
            message = (
                {str(k): v for k, v in settings.message.items()}
                if settings.message
                else None
            )
            checks.append(
                CompiledCheck(
                    name, kind, message, dict(entry["provenance"]), entry["pack"]
                )
            )
        rules.append(
            CompiledRule(
                rule_id,
                rule["severity"],
                rule["citation"] or "",
                rule["message"],
                rule["pack"],
                checks,
                rule["severity_pack"],
            )
        )
    grammar = Grammar(frozenset(state.negators), frozenset(state.resets), state.window)
    ruleset = RuleSet(
        jurisdiction=jurisdiction,
        rules=rules,
        families=families,
        grammar=grammar,
        rights=families.get("rights_statement"),
        stopwords={k: frozenset(v) for k, v in state.stopwords.items()},
        disclosures=state.disclosures,
        packs=list(state.packs),
        limited_content_check=lcm,
        family_patterns={
            n: {"en": d["en"], "es": d["es"]} for n, d in state.phrases.items()
        },
    )
    return ruleset, errors


def assemble(
    jurisdiction: str, packs: list[PackFile]
) -> tuple[RuleSet, dict[Path, list[str]]]:
    """Build the rule set for *jurisdiction*; overlays that fail are left out, with errors.

    Raises :class:`PackError` when the base packs themselves do not fit together.
    """
    relevant = [p for p in packs if p.definition.jurisdiction in ("any", jurisdiction)]
    bases = sorted(
        (p for p in relevant if not p.definition.overlay),
        key=lambda p: (p.definition.jurisdiction != "any", p.path.name),
    )
    overlays = sorted(
        (p for p in relevant if p.definition.overlay), key=lambda p: p.path.name
    )
    if not any(p.definition.jurisdiction == jurisdiction for p in bases):
        raise PackError([f"no base rule pack for {jurisdiction} was loaded"])

    state = _State()
    base_errors: list[str] = []
    for pack in bases:
        base_errors += _add_base(state, pack)
    ruleset, compile_errors = _compile(jurisdiction, state)
    if base_errors or compile_errors:
        raise PackError(base_errors + compile_errors)

    refused: dict[Path, list[str]] = {}
    for pack in overlays:
        trial = copy.deepcopy(state)
        errors = _add_overlay(trial, pack)
        if not errors:
            candidate, errors = _compile(jurisdiction, trial)
        if errors:
            refused[pack.path] = errors
            log.warning(
                "rule pack %s refused for %s: %d errors",
                pack.path.name,
                jurisdiction,
                len(errors),
            )
            continue
        state, ruleset = trial, candidate
    return ruleset, refused
