"""Rule kinds: the code behind the rules; packs give them their settings.

Each kind has a settings model (validated when a pack loads) and answers two questions
about a proposed contact: which hits it finds, and, for the kinds that depend on time,
the earliest moment at or after a given one when it would no longer object.

Every settings field declares how it may be tightened by a company pack (``tighten`` in
its metadata): ``le`` (a lower number is stricter), ``ge``, ``superset``, ``subset``,
``true`` (may only become true), ``false`` or ``same``. Fields without it are free.
"""

from __future__ import annotations

import logging
import string
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from functools import lru_cache
from typing import TYPE_CHECKING, Any, ClassVar, Literal
from zoneinfo import ZoneInfo

import holidays
from pydantic import BaseModel, ConfigDict, Field, field_validator

from copilot.compliance.facts import detect_language, find_dates
from copilot.domain import Channel, Money, RecipientRole

if TYPE_CHECKING:
    from copilot.compliance.context import CheckContext

__all__ = ["KINDS", "Hit", "Kind", "KindSettings", "loosened"]

log = logging.getLogger(__name__)

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
ChannelName = Channel
RoleName = RecipientRole
AccountFlag = Literal["time_barred", "legal_action_intended", "legal_process_open"]
DebtorFlag = Literal[
    "attorney_represented",
    "cease_requested",
    "disputed",
    "verification_sent",
    "employer_prohibits_contact",
]
Category = Literal["timing", "standing", "text"]

_ALL_CHANNELS: list[ChannelName] = ["call", "sms", "email", "letter", "voicemail"]
_NEVER_SEARCH_DAYS = 400


def _t(direction: str) -> Any:
    return Field(json_schema_extra={"tighten": direction})


@dataclass(slots=True)
class Hit:
    """One finding of a check: where, which setting decided it, and message values."""

    setting: str
    span: tuple[int, int] | None = None
    params: dict[str, Any] = field(default_factory=dict)


def check_message_templates(
    value: dict[Any, str] | None,
) -> dict[Any, str] | None:
    """Refuse a violation message whose {placeholders} cannot be filled in."""
    for language, template in (value or {}).items():
        try:
            fields = [f for _, f, _, _ in string.Formatter().parse(template) if f]
        except ValueError as exc:
            raise ValueError(
                f"message {language}: {exc}; write {{{{ and }}}} for a literal brace"
            ) from exc
        for name in fields:
            if not name.isidentifier():
                raise ValueError(
                    f"message {language}: {{{name}}} is not a plain placeholder name"
                )
    return value


class KindSettings(BaseModel):
    """Settings every check has."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    message: dict[Literal["en", "es"], str] | None = None

    _valid_message = field_validator("message")(check_message_templates)


class Kind:
    """Base of the rule kinds."""

    name: ClassVar[str]
    category: ClassVar[Category] = "text"
    Settings: ClassVar[type[KindSettings]]

    def __init__(self, settings: KindSettings) -> None:
        self.settings = settings

    def hits(self, ctx: CheckContext) -> list[Hit]:
        """What this check finds wrong with the proposal."""
        raise NotImplementedError

    def earliest(self, ctx: CheckContext, moment: datetime) -> datetime | None:
        """The first moment at or after *moment* this check allows; None for never."""
        return moment

    def families(self) -> list[str]:
        """Phrase families this check refers to, for validation."""
        return []

    def effective_category(self) -> Category:
        """Whether the check depends on time, on standing flags or on the text."""
        return self.category


# --- helpers -----------------------------------------------------------------------


def _parse_hhmm(value: str) -> time:
    hours, minutes = value.split(":")
    hour, minute = int(hours), int(minutes)
    if hour == 24 and minute == 0:
        return time(23, 59, 59, 999999)
    return time(hour, minute)


def _parse_range(value: str) -> tuple[time, time]:
    start, end = value.replace("–", "-").split("-")
    return _parse_hhmm(start.strip()), _parse_hhmm(end.strip())


def _midnight(day: date, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, time(0), tzinfo=zone)


@lru_cache(maxsize=64)
def _holiday_calendar(country: str, year: int) -> holidays.HolidayBase:
    return holidays.country_holidays(country, years=year)


def holiday_name(country: str, day: date) -> str | None:
    """The public holiday on *day* in *country*, or None."""
    calendar = _holiday_calendar(country, day.year)
    name = calendar.get(day)
    return str(name) if name else None


# --- timing kinds ------------------------------------------------------------------


class ContactWindowSettings(KindSettings):
    channels: list[ChannelName] = _t("superset")
    hours: dict[str, str] = _t("hours")
    preferred_hours: Literal["replace", "ignore"] = "replace"

    @field_validator("hours")
    @classmethod
    def _valid_hours(cls, value: dict[str, str]) -> dict[str, str]:
        for day, window in value.items():
            if day not in DAY_NAMES:
                raise ValueError(
                    f"unknown day {day!r}; use one of {', '.join(DAY_NAMES)}"
                )
            try:
                start, end = _parse_range(window)
            except ValueError as exc:
                raise ValueError(f"{day}: {window!r} is not HH:MM-HH:MM") from exc
            if start >= end:
                raise ValueError(f"{day}: the window {window!r} ends before it starts")
        return value


class ContactWindow(Kind):
    """Contact only within local hours, per weekday, or the debtor's own hours."""

    name = "contact_window"
    category = "timing"
    Settings = ContactWindowSettings
    settings: ContactWindowSettings

    def __init__(self, settings: KindSettings) -> None:
        super().__init__(settings)
        self._table = {
            DAY_NAMES.index(day): _parse_range(window)
            for day, window in self.settings.hours.items()
        }

    def _intervals(
        self, ctx: CheckContext, day: date
    ) -> list[tuple[time, time]] | None:
        preferred = ctx.proposal.debtor.preferred_hours
        if preferred is not None and self.settings.preferred_hours == "replace":
            start, end = preferred.start, preferred.end
            if start < end:
                return [(start, end)]
            return [(time(0), end), (start, time(23, 59, 59, 999999))]
        window = self._table.get(day.weekday())
        return None if window is None else [window]

    def _uses_preferred(self, ctx: CheckContext) -> bool:
        return (
            ctx.proposal.debtor.preferred_hours is not None
            and self.settings.preferred_hours == "replace"
        )

    def _earliest_in(
        self, ctx: CheckContext, zone: ZoneInfo, moment: datetime
    ) -> datetime | None:
        local = moment.astimezone(zone)
        for offset in range(15):
            day = local.date() + timedelta(days=offset)
            intervals = self._intervals(ctx, day)
            if intervals is None:
                return moment if offset == 0 else _midnight(day, zone)
            for start, end in intervals:
                start_at = datetime.combine(day, start, tzinfo=zone)
                end_at = datetime.combine(day, end, tzinfo=zone)
                candidate = max(moment, start_at)
                if candidate < end_at:
                    return candidate
        return None

    def earliest(self, ctx: CheckContext, moment: datetime) -> datetime | None:
        if ctx.proposal.channel not in self.settings.channels:
            return moment
        for _ in range(8):
            moved = False
            for zone in ctx.zones:
                later = self._earliest_in(ctx, zone, moment)
                if later is None:
                    return None
                if later != moment:
                    moment, moved = later, True
            if not moved:
                break
        return moment

    def hits(self, ctx: CheckContext) -> list[Hit]:
        send_at = ctx.proposal.send_at
        if self.earliest(ctx, send_at) == send_at:
            return []
        intervals = self._intervals(ctx, ctx.local.date()) or []
        window = ", ".join(f"{s:%H:%M}–{e:%H:%M}" for s, e in intervals)
        setting = "preferred_hours" if self._uses_preferred(ctx) else "hours"
        return [
            Hit(
                setting,
                params={"local_time": f"{ctx.local:%H:%M}", "window": window or "—"},
            )
        ]


class ClosedDaysSettings(KindSettings):
    channels: list[ChannelName] = _t("superset")
    weekdays: list[Literal["mon", "tue", "wed", "thu", "fri", "sat", "sun"]] = _t(
        "superset"
    )
    holidays: str | None = Field(default=None, json_schema_extra={"tighten": "set"})


class ClosedDays(Kind):
    """No contact on closed weekdays or public holidays, in the debtor's calendar."""

    name = "closed_days"
    category = "timing"
    Settings = ClosedDaysSettings
    settings: ClosedDaysSettings

    def _closed(self, day: date) -> tuple[str, str] | None:
        if DAY_NAMES[day.weekday()] in self.settings.weekdays:
            return ("weekdays", DAY_NAMES[day.weekday()])
        if self.settings.holidays:
            name = holiday_name(self.settings.holidays, day)
            if name:
                return ("holidays", name)
        return None

    def earliest(self, ctx: CheckContext, moment: datetime) -> datetime | None:
        if ctx.proposal.channel not in self.settings.channels:
            return moment
        local = moment.astimezone(ctx.zone)
        day = local.date()
        for _ in range(30):
            if self._closed(day) is None:
                return moment if day == local.date() else _midnight(day, ctx.zone)
            day += timedelta(days=1)
        return None

    def hits(self, ctx: CheckContext) -> list[Hit]:
        if ctx.proposal.channel not in self.settings.channels:
            return []
        closed = self._closed(ctx.local.date())
        if closed is None:
            return []
        setting, what = closed
        if setting == "weekdays":
            reason = {"en": _WEEKDAY_EN[what], "es": _WEEKDAY_ES[what]}
        else:
            reason = {"en": f"a public holiday ({what})", "es": f"festivo ({what})"}
        return [
            Hit(
                setting,
                params={"local_date": ctx.local.date().isoformat(), "reason": reason},
            )
        ]


_WEEKDAY_EN = dict(
    zip(
        DAY_NAMES,
        (
            "a Monday",
            "a Tuesday",
            "a Wednesday",
            "a Thursday",
            "a Friday",
            "a Saturday",
            "a Sunday",
        ),
        strict=True,
    )
)
_WEEKDAY_ES = dict(
    zip(
        DAY_NAMES,
        ("lunes", "martes", "miércoles", "jueves", "viernes", "sábado", "domingo"),
        strict=True,
    )
)


class FrequencyCapSettings(KindSettings):
    applies_to: list[ChannelName] = _t("superset")
    counted_channels: list[ChannelName] = _t("superset")
    max_attempts: int = Field(ge=0, json_schema_extra={"tighten": "le"})
    window_days: int = Field(ge=1, le=366, json_schema_extra={"tighten": "ge"})


class FrequencyCap(Kind):
    """At most N outbound attempts within W consecutive local days, this one included."""

    name = "frequency_cap"
    category = "timing"
    Settings = FrequencyCapSettings
    settings: FrequencyCapSettings

    def _count(self, days: list[date], day: date) -> int:
        first = day - timedelta(days=self.settings.window_days - 1)
        return sum(1 for d in days if first <= d <= day)

    def _days(self, ctx: CheckContext) -> list[date]:
        counted = self.settings.counted_channels
        return [
            d
            for d, e in ctx.history_local
            if e.direction == "outbound" and e.channel in counted
        ]

    def earliest(self, ctx: CheckContext, moment: datetime) -> datetime | None:
        if ctx.proposal.channel not in self.settings.applies_to:
            return moment
        if self.settings.max_attempts == 0:
            return None
        days = self._days(ctx)
        start = moment.astimezone(ctx.zone).date()
        for offset in range(self.settings.window_days + 2):
            day = start + timedelta(days=offset)
            if self._count(days, day) < self.settings.max_attempts:
                return moment if offset == 0 else _midnight(day, ctx.zone)
        return None

    def hits(self, ctx: CheckContext) -> list[Hit]:
        send_at = ctx.proposal.send_at
        if self.earliest(ctx, send_at) == send_at:
            return []
        count = self._count(self._days(ctx), ctx.local.date()) + 1
        return [
            Hit(
                "max_attempts",
                params={
                    "count": count,
                    "max_attempts": self.settings.max_attempts,
                    "window_days": self.settings.window_days,
                },
            )
        ]


class ChannelSpreadSettings(KindSettings):
    applies_to: list[ChannelName] = _t("superset")
    counted_channels: list[ChannelName] = _t("superset")
    aliases: dict[ChannelName, ChannelName] = Field(default_factory=dict)
    max_channels: int = Field(ge=1, json_schema_extra={"tighten": "le"})
    window_days: int = Field(ge=1, le=366, json_schema_extra={"tighten": "ge"})


class ChannelSpread(Kind):
    """At most N distinct channels within W consecutive local days, this one included."""

    name = "channel_spread"
    category = "timing"
    Settings = ChannelSpreadSettings
    settings: ChannelSpreadSettings

    def _alias(self, channel: str) -> str:
        aliases: dict[str, str] = {
            str(k): str(v) for k, v in self.settings.aliases.items()
        }
        return aliases.get(channel, channel)

    def _channels(self, ctx: CheckContext, day: date) -> set[str]:
        first = day - timedelta(days=self.settings.window_days - 1)
        used = {
            self._alias(e.channel)
            for d, e in ctx.history_local
            if e.direction == "outbound"
            and e.channel in self.settings.counted_channels
            and first <= d <= day
        }
        used.add(self._alias(ctx.proposal.channel))
        return used

    def earliest(self, ctx: CheckContext, moment: datetime) -> datetime | None:
        if ctx.proposal.channel not in self.settings.applies_to:
            return moment
        start = moment.astimezone(ctx.zone).date()
        for offset in range(self.settings.window_days + 2):
            day = start + timedelta(days=offset)
            if len(self._channels(ctx, day)) <= self.settings.max_channels:
                return moment if offset == 0 else _midnight(day, ctx.zone)
        return None

    def hits(self, ctx: CheckContext) -> list[Hit]:
        send_at = ctx.proposal.send_at
        if self.earliest(ctx, send_at) == send_at:
            return []
        used = sorted(self._channels(ctx, ctx.local.date()))
        return [
            Hit(
                "max_channels",
                params={
                    "channels": ", ".join(used),
                    "max_channels": self.settings.max_channels,
                    "window_days": self.settings.window_days,
                },
            )
        ]


class PauseAfterSettings(KindSettings):
    applies_to: list[ChannelName] = _t("superset")
    trigger_channels: list[ChannelName] = _t("superset")
    trigger_outcomes: list[
        Literal["no_answer", "voicemail", "conversation", "delivered", "failed"]
    ] = _t("superset")
    days: int = Field(ge=1, le=366, json_schema_extra={"tighten": "ge"})


class PauseAfter(Kind):
    """No contact for N days after an event; the event's day is day 1."""

    name = "pause_after"
    category = "timing"
    Settings = PauseAfterSettings
    settings: PauseAfterSettings

    def _triggers(self, ctx: CheckContext) -> list[date]:
        s = self.settings
        return [
            d
            for d, e in ctx.history_local
            if e.channel in s.trigger_channels and e.outcome in s.trigger_outcomes
        ]

    def _blocking(self, triggers: list[date], day: date) -> list[date]:
        span = self.settings.days - 1
        return [t for t in triggers if t <= day <= t + timedelta(days=span)]

    def earliest(self, ctx: CheckContext, moment: datetime) -> datetime | None:
        if ctx.proposal.channel not in self.settings.applies_to:
            return moment
        triggers = self._triggers(ctx)
        day = moment.astimezone(ctx.zone).date()
        blocking = self._blocking(triggers, day)
        if not blocking:
            return moment
        while blocking:
            day = max(blocking) + timedelta(days=self.settings.days)
            blocking = self._blocking(triggers, day)
        return _midnight(day, ctx.zone)

    def hits(self, ctx: CheckContext) -> list[Hit]:
        send_at = ctx.proposal.send_at
        if self.earliest(ctx, send_at) == send_at:
            return []
        trigger = max(self._blocking(self._triggers(ctx), ctx.local.date()))
        return [
            Hit(
                "days",
                params={
                    "trigger_date": trigger.isoformat(),
                    "days": self.settings.days,
                },
            )
        ]


# --- standing kinds ------------------------------------------------------------------


class FlagBlockSettings(KindSettings):
    flag: DebtorFlag = _t("same")
    unless_flags: list[DebtorFlag] = Field(
        default_factory=list, json_schema_extra={"tighten": "subset"}
    )
    except_roles: list[RoleName] = Field(
        default_factory=list, json_schema_extra={"tighten": "subset"}
    )
    except_families: list[str] = Field(
        default_factory=list, json_schema_extra={"tighten": "subset"}
    )
    except_channels: list[ChannelName] = Field(
        default_factory=list, json_schema_extra={"tighten": "subset"}
    )
    requires_families: list[str] = Field(
        default_factory=list, json_schema_extra={"tighten": "subset"}
    )


class FlagBlock(Kind):
    """A debtor flag forbids the contact, save for listed roles or allowed notices."""

    name = "flag_block"
    category = "standing"
    Settings = FlagBlockSettings
    settings: FlagBlockSettings

    def families(self) -> list[str]:
        return [*self.settings.except_families, *self.settings.requires_families]

    def effective_category(self) -> Category:
        return "text" if self.settings.requires_families else "standing"

    def hits(self, ctx: CheckContext) -> list[Hit]:
        s, debtor = self.settings, ctx.proposal.debtor
        if not getattr(debtor, s.flag):
            return []
        if any(getattr(debtor, f) for f in s.unless_flags):
            return []
        if ctx.proposal.recipient.role in s.except_roles:
            return []
        if s.requires_families and not any(ctx.has(f) for f in s.requires_families):
            return []
        channel_ok = not s.except_channels or ctx.proposal.channel in s.except_channels
        if (
            s.except_families
            and channel_ok
            and any(ctx.has(f) for f in s.except_families)
        ):
            return []
        return [Hit("flag", params={"flag": s.flag})]


class ChannelPermissionSettings(KindSettings):
    mode: Literal["deny_listed", "allow_listed"] = _t("same")
    aliases: dict[ChannelName, ChannelName] = Field(default_factory=dict)


class ChannelPermission(Kind):
    """The channel must not be opted out of (deny list) or must be authorized (allow list)."""

    name = "channel_permission"
    category = "standing"
    Settings = ChannelPermissionSettings
    settings: ChannelPermissionSettings

    def hits(self, ctx: CheckContext) -> list[Hit]:
        channel = ctx.proposal.channel
        names = {channel, self.settings.aliases.get(channel, channel)}
        debtor = ctx.proposal.debtor
        if self.settings.mode == "deny_listed":
            blocked = bool(names & set(debtor.opted_out_channels))
        else:
            blocked = not (names & set(debtor.authorized_channels))
        return [Hit("mode", params={"channel": channel})] if blocked else []


class RecipientPermissionSettings(KindSettings):
    allowed_roles: list[RoleName] = _t("subset")
    only_if_families: list[str] = Field(
        default_factory=list, json_schema_extra={"tighten": "subset"}
    )


class RecipientPermission(Kind):
    """Only some recipient roles may be contacted (or told about the debt)."""

    name = "recipient_permission"
    category = "standing"
    Settings = RecipientPermissionSettings
    settings: RecipientPermissionSettings

    def families(self) -> list[str]:
        return list(self.settings.only_if_families)

    def effective_category(self) -> Category:
        return "text" if self.settings.only_if_families else "standing"

    def hits(self, ctx: CheckContext) -> list[Hit]:
        role = ctx.proposal.recipient.role
        if role in self.settings.allowed_roles:
            return []
        families = self.settings.only_if_families
        if families and not (any(ctx.has(f) for f in families) or ctx.amounts):
            return []
        return [
            Hit("allowed_roles", params={"role": _ROLE_NAMES.get(role, {"en": role})})
        ]


_ROLE_NAMES: dict[str, dict[str, str]] = {
    "debtor": {"en": "the debtor", "es": "el deudor"},
    "spouse": {"en": "spouse", "es": "el cónyuge"},
    "attorney": {"en": "attorney", "es": "el abogado"},
    "employer": {"en": "employer", "es": "el empleador"},
    "reference": {"en": "personal reference", "es": "una referencia personal"},
    "relative": {"en": "relative", "es": "un familiar"},
    "co_debtor": {"en": "co-debtor", "es": "un codeudor"},
    "unknown": {"en": "unknown person", "es": "una persona desconocida"},
}


class WorkAddressSettings(KindSettings):
    work_email_requires_prohibition: bool = _t("false")
    employer_role_when_prohibited: bool = _t("true")


class WorkAddress(Kind):
    """No email to an employer-provided address; no contact via a prohibiting employer."""

    name = "work_address"
    category = "standing"
    Settings = WorkAddressSettings
    settings: WorkAddressSettings

    def hits(self, ctx: CheckContext) -> list[Hit]:
        p, s = ctx.proposal, self.settings
        prohibits = p.debtor.employer_prohibits_contact
        address = (p.recipient.address or "").strip().casefold()
        work = (p.debtor.work_email or "").strip().casefold()
        if p.channel == "email" and work and address == work:
            if prohibits or not s.work_email_requires_prohibition:
                return [
                    Hit(
                        "work_email_requires_prohibition",
                        params={"address": p.recipient.address},
                    )
                ]
        if (
            p.recipient.role == "employer"
            and prohibits
            and s.employer_role_when_prohibited
        ):
            return [
                Hit(
                    "employer_role_when_prohibited",
                    params={"address": p.recipient.address or "employer"},
                )
            ]
        return []


# --- text kinds ----------------------------------------------------------------------


class PhraseFamilySettings(KindSettings):
    families: list[str] = _t("superset")
    channels: list[ChannelName] = Field(
        default_factory=lambda: list(_ALL_CHANNELS),
        json_schema_extra={"tighten": "superset"},
    )
    applies_when_any: list[AccountFlag] = Field(
        default_factory=list, json_schema_extra={"tighten": "applies"}
    )
    allowed_when_any: list[AccountFlag] = Field(
        default_factory=list, json_schema_extra={"tighten": "subset"}
    )
    disallowed_when_any: list[AccountFlag] = Field(
        default_factory=list, json_schema_extra={"tighten": "superset"}
    )
    unless_families: list[str] = Field(
        default_factory=list, json_schema_extra={"tighten": "subset"}
    )
    notice_field: Literal["negative_report_notice_sent_at"] | None = Field(
        default=None, json_schema_extra={"tighten": "keep"}
    )
    notice_min_days: int = Field(default=0, ge=0, json_schema_extra={"tighten": "ge"})


class PhraseFamilyKind(Kind):
    """Words that threaten, shame, deceive or abuse, unless the account makes them true."""

    name = "phrase_family"
    category = "text"
    Settings = PhraseFamilySettings
    settings: PhraseFamilySettings

    def families(self) -> list[str]:
        return [*self.settings.families, *self.settings.unless_families]

    def hits(self, ctx: CheckContext) -> list[Hit]:
        s, account = self.settings, ctx.proposal.account
        if ctx.proposal.channel not in s.channels:
            return []
        if s.applies_when_any and not any(
            getattr(account, f) for f in s.applies_when_any
        ):
            return []
        allowed = any(getattr(account, f) for f in s.allowed_when_any)
        if allowed and not any(getattr(account, f) for f in s.disallowed_when_any):
            return []
        if s.notice_field:
            sent: date | None = getattr(account, s.notice_field)
            if (
                sent is not None
                and (ctx.reference_date - sent).days >= s.notice_min_days
            ):
                return []
        if any(ctx.has(f) for f in s.unless_families):
            return []
        setting = "notice_min_days" if s.notice_field else "families"
        found = []
        for family in s.families:
            for match in ctx.matches(family):
                found.append(
                    Hit(
                        setting,
                        match.span,
                        {"phrase": match.text, "notice_min_days": s.notice_min_days},
                    )
                )
        return found


class RequiredDisclosureSettings(KindSettings):
    channels: list[ChannelName] = _t("superset")
    first_contact_all_of: list[str] = _t("superset")
    later_any_of: list[str] = _t("keep")
    wording_first: str
    wording_later: str
    exempt_limited_content: bool = _t("false")
    exempt_third_party_without_debt: bool = _t("false")


class RequiredDisclosure(Kind):
    """Statements a text must carry: the full one on a first contact, a short one later."""

    name = "required_disclosure"
    category = "text"
    Settings = RequiredDisclosureSettings
    settings: RequiredDisclosureSettings

    def families(self) -> list[str]:
        return [*self.settings.first_contact_all_of, *self.settings.later_any_of]

    def wording_key(self, channel: str, first_contact: bool) -> str:
        """The pack disclosure key to insert for this channel."""
        template = (
            self.settings.wording_first
            if first_contact
            else self.settings.wording_later
        )
        return template.format(channel=channel)

    def satisfied(self, ctx: CheckContext) -> bool:
        """Whether the text carries what is required."""
        s = self.settings
        full = all(ctx.has(f) for f in s.first_contact_all_of)
        if ctx.proposal.first_contact:
            return full
        return full or any(ctx.has(f) for f in s.later_any_of)

    def hits(self, ctx: CheckContext) -> list[Hit]:
        s, p = self.settings, ctx.proposal
        if p.channel not in s.channels:
            return []
        if (
            s.exempt_limited_content
            and p.channel == "voicemail"
            and ctx.limited_content()
        ):
            return []
        if (
            s.exempt_third_party_without_debt
            and p.recipient.role not in ("debtor", "spouse", "co_debtor", "attorney")
            and not ctx.mentions_debt()
        ):
            return []
        if self.satisfied(ctx):
            return []
        key = self.wording_key(p.channel, p.first_contact)
        wording = ctx.disclosure(key, p.language)
        setting = "first_contact_all_of" if p.first_contact else "later_any_of"
        return [Hit(setting, params={"wording": wording, "channel": p.channel})]


class LimitedContentSettings(KindSettings):
    channels: list[ChannelName] = _t("superset")
    forbidden_families: list[str] = _t("superset")
    forbid_amounts: bool = _t("true")
    business_name: str = ""


class LimitedContent(Kind):
    """A voicemail must stay a limited-content message."""

    name = "limited_content"
    category = "text"
    Settings = LimitedContentSettings
    settings: LimitedContentSettings

    def families(self) -> list[str]:
        return list(self.settings.forbidden_families)

    def offending(self, ctx: CheckContext) -> list[Hit]:
        """What in the text goes beyond limited content."""
        found = []
        for family in self.settings.forbidden_families:
            for match in ctx.matches(family):
                found.append(
                    Hit("forbidden_families", match.span, {"phrase": match.text})
                )
        if self.settings.forbid_amounts:
            for amount in ctx.amounts:
                found.append(
                    Hit("forbid_amounts", amount.span, {"phrase": amount.text})
                )
        found.sort(key=lambda h: h.span or (0, 0))
        return found

    def hits(self, ctx: CheckContext) -> list[Hit]:
        if ctx.proposal.channel not in self.settings.channels:
            return []
        found = self.offending(ctx)
        if not found:
            return []
        first = found[0]
        first.params["business_name"] = self.settings.business_name
        return [first]


class AmountCheckSettings(KindSettings):
    allow: list[
        Literal[
            "balance",
            "fees",
            "fee_total",
            "balance_plus_fees",
            "instalment",
            "promises",
            "payments",
        ]
    ] = _t("subset")


class AmountCheck(Kind):
    """Every amount in the text is one the ledger records."""

    name = "amount_check"
    category = "text"
    Settings = AmountCheckSettings
    settings: AmountCheckSettings

    def _known(self, ctx: CheckContext) -> set[Decimal]:
        account, allow = ctx.proposal.account, self.settings.allow
        fees = [f.amount for f in account.fees]
        known: list[Decimal] = []
        if "balance" in allow:
            known.append(account.balance)
        if "fees" in allow:
            known.extend(fees)
        if "fee_total" in allow and fees:
            known.append(sum(fees, Decimal(0)))
        if "balance_plus_fees" in allow and fees:
            known.append(account.balance + sum(fees, Decimal(0)))
        if "instalment" in allow and account.payment_plan is not None:
            known.append(account.payment_plan.instalment)
        if "promises" in allow:
            known.extend(p.amount for p in account.promises)
        if "payments" in allow:
            known.extend(p.amount for p in account.payments)
        return {_cents(v) for v in known}

    def hits(self, ctx: CheckContext) -> list[Hit]:
        amounts = ctx.amounts
        if not amounts:
            return []
        account = ctx.proposal.account
        known = self._known(ctx)
        balance = Money.of(account.balance, account.currency).format(
            ctx.proposal.language
        )
        found = []
        for amount in amounts:
            wrong_currency = (
                amount.currency is not None and amount.currency != account.currency
            )
            if wrong_currency or _cents(amount.value) not in known:
                found.append(
                    Hit(
                        "allow",
                        amount.span,
                        {"amount": amount.text, "balance": balance},
                    )
                )
        return found


def _cents(value: Decimal) -> Decimal:
    return value.quantize(Decimal("0.01"))


class DateCheckSettings(KindSettings):
    allow: list[
        Literal[
            "due_date",
            "plan_next_due",
            "report_notice",
            "history",
            "send_date",
            "promises",
            "payments",
        ]
    ] = _t("subset")


class DateCheck(Kind):
    """Every date in the text is one the account or its history records."""

    name = "date_check"
    category = "text"
    Settings = DateCheckSettings
    settings: DateCheckSettings

    def hits(self, ctx: CheckContext) -> list[Hit]:
        p, allow = ctx.proposal, self.settings.allow
        day_first = p.language == "es" or p.jurisdiction == "CO"
        dates = find_dates(p.text, day_first=day_first, reference=ctx.reference_date)
        if not dates:
            return []
        account = p.account
        recorded: list[date] = []
        if "due_date" in allow and account.due_date:
            recorded.append(account.due_date)
        if (
            "plan_next_due" in allow
            and account.payment_plan
            and account.payment_plan.next_due
        ):
            recorded.append(account.payment_plan.next_due)
        known = set(recorded)
        if "report_notice" in allow and account.negative_report_notice_sent_at:
            known.add(account.negative_report_notice_sent_at)
        if "history" in allow:
            known.update(d for d, _ in ctx.history_local)
        if "send_date" in allow:
            known.add(ctx.local.date())
        if "promises" in allow:
            recorded.extend(p.date for p in account.promises)
            known.update(p.date for p in account.promises)
        if "payments" in allow:
            known.update(p.date for p in account.payments)
        listed = ", ".join(d.isoformat() for d in recorded) or "—"
        return [
            Hit("allow", found.span, {"date": found.text, "known": listed})
            for found in dates
            if found.value not in known
        ]


class LanguageCheckSettings(KindSettings):
    min_words: int = Field(default=6, ge=1, json_schema_extra={"tighten": "le"})
    margin: float = Field(default=1.5, gt=1.0, json_schema_extra={"tighten": "le"})


_LANGUAGE_NAMES = {
    "en": {"en": "English", "es": "Spanish"},
    "es": {"en": "inglés", "es": "español"},
}


class LanguageCheck(Kind):
    """The text is written in the language asked for."""

    name = "language_check"
    category = "text"
    Settings = LanguageCheckSettings
    settings: LanguageCheckSettings

    def hits(self, ctx: CheckContext) -> list[Hit]:
        detected = detect_language(
            ctx.proposal.text,
            ctx.stopwords,
            min_words=self.settings.min_words,
            margin=self.settings.margin,
        )
        asked = ctx.proposal.language
        if detected is None or detected == asked:
            return []
        return [
            Hit(
                "margin",
                params={
                    "detected": {
                        ui: names.get(detected, detected)
                        for ui, names in _LANGUAGE_NAMES.items()
                    },
                    "asked": {
                        ui: names.get(asked, asked)
                        for ui, names in _LANGUAGE_NAMES.items()
                    },
                },
            )
        ]


class FeeCheckSettings(KindSettings):
    families: list[str] = _t("superset")
    fee_kinds: list[str]


class FeeCheck(Kind):
    """Collection fees named in the text must be recorded on the account."""

    name = "fee_check"
    category = "text"
    Settings = FeeCheckSettings
    settings: FeeCheckSettings

    def families(self) -> list[str]:
        return list(self.settings.families)

    def hits(self, ctx: CheckContext) -> list[Hit]:
        kinds = {k.casefold() for k in self.settings.fee_kinds}
        if any(f.kind.casefold() in kinds for f in ctx.proposal.account.fees):
            return []
        return [
            Hit("fee_kinds", m.span, {"phrase": m.text})
            for family in self.settings.families
            for m in ctx.matches(family)
        ]


KINDS: dict[str, type[Kind]] = {
    kind.name: kind
    for kind in (
        ContactWindow,
        ClosedDays,
        FrequencyCap,
        ChannelSpread,
        PauseAfter,
        FlagBlock,
        ChannelPermission,
        RecipientPermission,
        WorkAddress,
        PhraseFamilyKind,
        RequiredDisclosure,
        LimitedContent,
        AmountCheck,
        DateCheck,
        LanguageCheck,
        FeeCheck,
    )
}


# --- tightening ----------------------------------------------------------------------


def _hours_looser(base: dict[str, str], new: dict[str, str]) -> str | None:
    for day, window in base.items():
        if day not in new:
            return f"drops the {day} window {window}"
        b_start, b_end = _parse_range(window)
        n_start, n_end = _parse_range(new[day])
        if n_start < b_start or n_end > b_end:
            return f"widens {day} from {window} to {new[day]}"
    return None


def _applies_looser(base: list[str], new: list[str]) -> str | None:
    if not base:
        return "limits a check that applies always" if new else None
    if new and not set(new) >= set(base):
        return f"applies only when {', '.join(new)} instead of {', '.join(base)}"
    return None


_COMPARE: dict[str, Callable[[Any, Any], str | None]] = {
    "le": lambda b, n: f"raises {b} to {n}" if n > b else None,
    "ge": lambda b, n: f"lowers {b} to {n}" if n < b else None,
    "superset": lambda b, n: (
        f"drops {', '.join(sorted(set(b) - set(n)))}" if not set(n) >= set(b) else None
    ),
    "subset": lambda b, n: (
        f"adds {', '.join(sorted(set(n) - set(b)))}" if not set(n) <= set(b) else None
    ),
    "true": lambda b, n: "turns it off" if b and not n else None,
    "false": lambda b, n: "turns it on" if n and not b else None,
    "same": lambda b, n: f"changes {b} to {n}" if n != b else None,
    "keep": lambda b, n: f"changes {b} to {n}" if n != b else None,
    "set": lambda b, n: f"changes {b} to {n}" if b is not None and n != b else None,
    "hours": _hours_looser,
    "applies": _applies_looser,
}


def loosened(base: KindSettings, new: KindSettings) -> list[tuple[str, str]]:
    """(field, reason) for every setting in *new* that is looser than in *base*."""
    problems = []
    for name, info in type(base).model_fields.items():
        extra = info.json_schema_extra
        direction = extra.get("tighten") if isinstance(extra, dict) else None
        if not isinstance(direction, str):
            continue
        reason = _COMPARE[direction](getattr(base, name), getattr(new, name))
        if reason:
            problems.append((name, reason))
    return problems
