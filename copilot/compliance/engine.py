"""The compliance engine: loads the rule packs and checks proposed contacts against them."""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from copilot.compliance.context import CheckContext
from copilot.compliance.kinds import Hit, PhraseFamilyKind, RequiredDisclosure
from copilot.compliance.models import AccountFacts, CheckResult, Proposal
from copilot.compliance.packs import (
    CompiledCheck,
    CompiledRule,
    PackError,
    PackFile,
    RuleSet,
    assemble,
    read_pack,
)
from copilot.config import Settings, get_settings
from copilot.domain import CHANNELS, DebtorContext, Violation
from copilot.errors import ConfigError, InputError

__all__ = [
    "DEFAULT_PACKS_DIR",
    "Engine",
    "get_engine",
    "limited_content_business_name",
    "required_disclosures",
    "scan_text",
    "validate_pack",
]

log = logging.getLogger(__name__)

DEFAULT_PACKS_DIR = Path(__file__).resolve().parents[2] / "policies" / "rules"
JURISDICTIONS = ("US", "CO")
_DEFAULT_ZONES = {"US": "America/New_York", "CO": "America/Bogota"}
_MAX_STEPS = 100
_NEVER = {"en": "never on this channel", "es": "nunca por este canal"}


class _Defaults(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return ""


def _render(template: str, params: dict[str, Any], ui: str) -> str:
    values = _Defaults()
    for key, value in params.items():
        values[key] = (
            (value.get(ui) or value.get("en", "")) if isinstance(value, dict) else value
        )
    try:
        return template.format_map(values)
    except (ValueError, IndexError):
        return template


def _pack_files(extra_dir: Path | None) -> list[Path]:
    files = [
        p
        for p in sorted(DEFAULT_PACKS_DIR.glob("*.yaml"))
        if not p.name.endswith(".example.yaml")
    ]
    if extra_dir is not None and extra_dir.is_dir():
        files += sorted(extra_dir.glob("*.yaml"))
    return files


class Engine:
    """Checks proposals against the active rule packs of their jurisdiction."""

    def __init__(self, extra_dir: Path | None = None) -> None:
        self.extra_dir = extra_dir
        self._files: dict[Path, PackFile] = {}
        self._rulesets: dict[str, RuleSet] = {}
        self._errors: dict[Path, list[str]] = {}
        self._lock = threading.Lock()
        self.reload()
        if not self._rulesets:
            raise ConfigError(
                "No rule pack could be loaded: "
                + "; ".join(self.errors)
                + f". Check the YAML files in {DEFAULT_PACKS_DIR}."
            )

    # --- packs ---------------------------------------------------------------------

    def reload(self) -> list[str]:
        """Re-read the pack files; a pack that fails keeps its previous version active."""
        with self._lock:
            files: dict[Path, PackFile] = {}
            errors: dict[Path, list[str]] = {}
            names: dict[str, Path] = {}
            for path in _pack_files(self.extra_dir):
                pack, problems = read_pack(path)
                if pack is not None and pack.name in names:
                    problems = [
                        f"{path}:1: pack name {pack.name!r} is already used by "
                        f"{names[pack.name]}"
                    ]
                    pack = None
                if pack is None:
                    errors[path] = problems
                    pack = self._files.get(path)
                if pack is not None:
                    files[path] = pack
                    names[pack.name] = path

            rulesets: dict[str, RuleSet] = {}
            for jurisdiction in JURISDICTIONS:
                built = self._build(jurisdiction, files, errors)
                if built is not None:
                    rulesets[jurisdiction] = built
                elif jurisdiction in self._rulesets:
                    rulesets[jurisdiction] = self._rulesets[jurisdiction]

            # Remember only versions that were accepted, so a later failure falls back
            # to the last good one rather than to a refused one.
            active = {p.path: p for rs in rulesets.values() for p in rs.packs}
            for path in errors:
                if path in active:
                    files[path] = active[path]
                else:
                    files.pop(path, None)

            self._files, self._rulesets, self._errors = files, rulesets, errors
            for path, problems in errors.items():
                log.warning("rule pack %s refused: %s", path.name, "; ".join(problems))
            return self.errors

    def _build(
        self,
        jurisdiction: str,
        files: dict[Path, PackFile],
        errors: dict[Path, list[str]],
    ) -> RuleSet | None:
        try:
            ruleset, refused = assemble(jurisdiction, list(files.values()))
        except PackError as exc:
            errors.setdefault(Path(f"<{jurisdiction}>"), []).extend(exc.errors)
            return None
        fallback = {
            p: self._files[p]
            for p in refused
            if p in self._files and self._files[p] is not files[p]
        }
        if fallback:
            retry = {**files, **fallback}
            try:
                ruleset, _ = assemble(jurisdiction, list(retry.values()))
            except PackError as exc:
                # The previous versions no longer fit either: the refused packs stay
                # out, and the reason is reported with the rest rather than dropped.
                errors.setdefault(Path(f"<{jurisdiction}>"), []).extend(exc.errors)
        for path, problems in refused.items():
            errors.setdefault(path, []).extend(
                p for p in problems if p not in errors.get(path, [])
            )
        return ruleset

    @property
    def errors(self) -> list[str]:
        """``file:line: reason`` for every pack refused at the last load."""
        return [problem for problems in self._errors.values() for problem in problems]

    @property
    def packs(self) -> list[dict[str, Any]]:
        """The active packs: name, file, jurisdiction, overlay flag, description."""
        active = {p.path for rs in self._rulesets.values() for p in rs.packs}
        return [
            {
                "name": p.name,
                "file": str(p.path),
                "jurisdiction": p.definition.jurisdiction,
                "overlay": p.definition.overlay,
                "description": p.definition.description,
                "active": p.path in active,
            }
            for p in self._files.values()
        ]

    def rules(self, jurisdiction: str) -> dict[str, dict[str, Any]]:
        """Every rule in force for *jurisdiction*, with its settings and their packs."""
        ruleset = self.ruleset(jurisdiction)
        out: dict[str, dict[str, Any]] = {}
        for rule in ruleset.rules:
            out[rule.id] = {
                "severity": rule.severity,
                "citation": rule.citation,
                "pack": rule.pack,
                "checks": {
                    check.name: {
                        "settings": check.kind.settings.model_dump(exclude={"message"}),
                        "packs": {
                            name: check.pack_for(name)
                            for name in type(check.kind.settings).model_fields
                            if name != "message"
                        },
                    }
                    for check in rule.checks
                },
            }
        return out

    def rule_ids(self, jurisdiction: str) -> list[str]:
        """Ids of every rule in force for *jurisdiction*, in pack order."""
        return [rule.id for rule in self.ruleset(jurisdiction).rules]

    def contact_rule_ids(self, jurisdiction: str) -> set[str]:
        """Rules about whether and when a contact may happen, which no rewording fixes."""
        return {
            rule.id
            for rule in self.ruleset(jurisdiction).rules
            if rule.checks and all(
                check.kind.effective_category() in ("timing", "standing")
                for check in rule.checks
            )
        }

    def ruleset(self, jurisdiction: str) -> RuleSet:
        """The compiled rules for *jurisdiction*."""
        ruleset = self._rulesets.get(jurisdiction)
        if ruleset is None:
            raise ConfigError(
                f"No rule pack for {jurisdiction} is active. Check the packs in "
                f"{DEFAULT_PACKS_DIR}"
                + (f": {'; '.join(self.errors)}" if self.errors else ".")
            )
        return ruleset

    # --- checks --------------------------------------------------------------------

    def check(self, proposal: Proposal, ui_language: str = "en") -> CheckResult:
        """Check one proposed contact against every rule of its jurisdiction."""
        ruleset = self.ruleset(proposal.jurisdiction)
        ctx = CheckContext(proposal, ruleset)

        found: list[tuple[CompiledRule, CompiledCheck, Hit]] = []
        hits_by_check: dict[int, list[Hit]] = {}
        for rule in ruleset.rules:
            seen: set[tuple[int, int] | None] = set()
            for check in rule.checks:
                hits = check.kind.hits(ctx)
                hits_by_check[id(check)] = hits
                for hit in hits:
                    if hit.span in seen:
                        continue
                    seen.add(hit.span)
                    found.append((rule, check, hit))

        next_at = self._next_allowed(ctx, ruleset, hits_by_check)
        violations = [
            self._violation(rule, check, hit, next_at, ctx, ui_language)
            for rule, check, hit in found
        ]
        allowed = not any(v.severity == "block" for v in violations)
        return CheckResult(
            allowed=allowed, violations=violations, next_allowed_at=next_at
        )

    def _violation(
        self,
        rule: CompiledRule,
        check: CompiledCheck,
        hit: Hit,
        next_at: datetime | None,
        ctx: CheckContext,
        ui: str,
    ) -> Violation:
        params = dict(hit.params)
        params["next"] = (
            f"{next_at:%Y-%m-%d %H:%M} ({ctx.proposal.debtor.timezone})"
            if next_at
            else _NEVER
        )
        template = (check.message or rule.message).get(ui) or rule.message.get("en", "")
        setting = f"{rule.id}.{check.name}.{hit.setting}"
        pack = check.pack_for(hit.setting)
        if hit.setting == "severity":
            pack = rule.severity_pack
        return Violation(
            rule=rule.id,
            severity=rule.severity,
            message=_render(template, params, ui),
            citation=rule.citation,
            span=hit.span,
            pack=pack,
            setting=setting,
        )

    def _next_allowed(
        self,
        ctx: CheckContext,
        ruleset: RuleSet,
        hits_by_check: dict[int, list[Hit]] | None = None,
    ) -> datetime | None:
        timing = []
        for rule in ruleset.rules:
            if rule.severity != "block":
                continue
            for check in rule.checks:
                category = check.kind.effective_category()
                if category == "standing":
                    hits = (
                        hits_by_check.get(id(check))
                        if hits_by_check is not None
                        else None
                    )
                    if hits is None:
                        hits = check.kind.hits(ctx)
                    if hits:
                        return None
                elif category == "timing":
                    timing.append(check.kind)
        moment = ctx.proposal.send_at
        for _ in range(_MAX_STEPS):
            later: datetime | None = moment
            for kind in timing:
                later = kind.earliest(ctx, later) if later is not None else None
            if later is None:
                return None
            if later == moment:
                return moment.astimezone(ctx.zone)
            moment = later
        return None

    def next_allowed(
        self, context: DebtorContext, channel: str, after: datetime
    ) -> datetime | None:
        """The earliest moment at or after *after* that *channel* may reach the debtor.

        None means never: a standing flag (cease, attorney, opt-out, channel not
        authorized) forbids the channel whatever the time.
        """
        proposal = Proposal.from_context(
            context,
            channel=channel,
            language=context.debtor.language,
            text="",
            send_at=after,
        )
        ruleset = self.ruleset(proposal.jurisdiction)
        return self._next_allowed(CheckContext(proposal, ruleset), ruleset)

    def contact_windows(
        self, context: DebtorContext, now: datetime
    ) -> dict[str, dict[str, Any]]:
        """Per channel: allowed now, next allowed moment, and the rule ids in the way."""
        windows: dict[str, dict[str, Any]] = {}
        for channel in CHANNELS:
            proposal = Proposal.from_context(
                context,
                channel=channel,
                language=context.debtor.language,
                text="",
                send_at=now,
            )
            ruleset = self.ruleset(proposal.jurisdiction)
            ctx = CheckContext(proposal, ruleset)
            reasons = [
                rule.id
                for rule in ruleset.rules
                if rule.severity == "block"
                and any(
                    check.kind.effective_category() in ("timing", "standing")
                    and check.kind.hits(ctx)
                    for check in rule.checks
                )
            ]
            next_at = self._next_allowed(ctx, ruleset)
            windows[channel] = {
                "allowed_now": not reasons,
                "next_allowed_at": next_at.isoformat() if next_at else None,
                "reasons": reasons,
            }
        return windows

    # --- helpers for drafting and call summaries ------------------------------------

    def scan_text(
        self,
        text: str,
        *,
        language: str,
        jurisdiction: str,
        account: dict[str, Any] | None = None,
        ui_language: str | None = None,
    ) -> list[Violation]:
        """Phrase-family violations in *text* alone (threats, abuse, deception...)."""
        ruleset = self.ruleset(jurisdiction)
        try:
            facts = AccountFacts.model_validate({"balance": 0, **(account or {})})
        except ValueError as exc:
            raise InputError(
                f"The account given to scan_text is not valid: {exc}"
            ) from exc
        proposal = Proposal.model_validate(
            {
                "jurisdiction": jurisdiction,
                "channel": "call",
                "language": language,
                "send_at": datetime.now(UTC),
                "text": text,
                "debtor": {"timezone": _DEFAULT_ZONES.get(jurisdiction, "UTC")},
                "account": facts,
            }
        )
        ctx = CheckContext(proposal, ruleset)
        violations = []
        for rule in ruleset.rules:
            seen: set[tuple[int, int] | None] = set()
            for check in rule.checks:
                if not isinstance(check.kind, PhraseFamilyKind):
                    continue
                for hit in check.kind.hits(ctx):
                    if hit.span not in seen:
                        seen.add(hit.span)
                        violations.append(
                            self._violation(
                                rule, check, hit, None, ctx, ui_language or language
                            )
                        )
        violations.sort(key=lambda v: v.span or (0, 0))
        return violations

    def required_disclosures(
        self, jurisdiction: str, channel: str, language: str, first_contact: bool
    ) -> list[str]:
        """The exact wording a draft must carry to pass the disclosure rules.

        Voicemails get none: a drafted voicemail should be a limited-content message
        (see :meth:`limited_content_business_name`).
        """
        ruleset = self.ruleset(jurisdiction)
        wordings = []
        for rule in ruleset.rules:
            for check in rule.checks:
                kind = check.kind
                if not isinstance(kind, RequiredDisclosure):
                    continue
                if channel not in kind.settings.channels or channel == "voicemail":
                    continue
                key = kind.wording_key(channel, first_contact)
                wording = ruleset.disclosures.get(key, {})
                text = wording.get(language) or wording.get("en")
                if text:
                    wordings.append(text)
        return wordings

    def limited_content_business_name(self, jurisdiction: str) -> str | None:
        """The neutral business name a limited-content voicemail may use."""
        check = self.ruleset(jurisdiction).limited_content_check
        return check.settings.business_name or None if check is not None else None


_ENGINES: dict[str, Engine] = {}
_ENGINES_LOCK = threading.Lock()


def get_engine(settings: Settings | None = None) -> Engine:
    """The process-wide engine for these settings (packs loaded once)."""
    settings = settings or get_settings()
    extra = settings.rule_packs_dir
    key = str(extra) if extra else ""
    with _ENGINES_LOCK:
        engine = _ENGINES.get(key)
        if engine is None:
            engine = _ENGINES[key] = Engine(extra)
        return engine


def scan_text(
    text: str,
    *,
    language: str,
    jurisdiction: str,
    account: dict[str, Any] | None = None,
) -> list[Violation]:
    """Phrase-family violations in an agent's own words (for call summaries)."""
    return get_engine().scan_text(
        text, language=language, jurisdiction=jurisdiction, account=account
    )


def required_disclosures(
    jurisdiction: str, channel: str, language: str, first_contact: bool
) -> list[str]:
    """The disclosure wording a draft must carry (insert it verbatim)."""
    return get_engine().required_disclosures(
        jurisdiction, channel, language, first_contact
    )


def limited_content_business_name(jurisdiction: str) -> str | None:
    """The neutral business name for limited-content voicemails, e.g. ``CRG``."""
    return get_engine().limited_content_business_name(jurisdiction)


def validate_pack(path: Path | str, settings: Settings | None = None) -> list[str]:
    """Errors (``file:line: reason``) the pack at *path* would be refused with; [] if fine."""
    path = Path(path)
    pack, errors = read_pack(path)
    if pack is None:
        return errors
    extra = (settings or get_settings()).rule_packs_dir
    others = [
        p
        for p in (
            read_pack(f)[0] for f in _pack_files(extra) if f.resolve() != path.resolve()
        )
        if p is not None and p.name != pack.name
    ]
    scope = pack.definition.jurisdiction
    problems: list[str] = []
    for jurisdiction in JURISDICTIONS if scope == "any" else (scope,):
        try:
            _, refused = assemble(jurisdiction, [*others, pack])
        except PackError as exc:
            problems += [e for e in exc.errors if e not in problems]
            continue
        problems += [e for e in refused.get(pack.path, []) if e not in problems]
    return problems
