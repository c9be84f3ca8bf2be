"""The workflow tables (SQLAlchemy 2, typed). Schema changes go through Alembic."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, Text, TypeDecorator
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

__all__ = [
    "DRAFT_STATES",
    "ROLES",
    "AuditEntry",
    "Base",
    "DraftEvent",
    "DraftRecord",
    "User",
    "WriteBack",
    "utcnow",
]

ROLES = ("agent", "lead", "admin")
DRAFT_STATES = (
    "drafted",
    "submitted",
    "changes_requested",
    "approved",
    "rejected",
    "written_back",
    "write_back_failed",
)


def utcnow() -> datetime:
    """Now, aware, in UTC."""
    return datetime.now(UTC)


class AwareDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite too)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are not stored")
        return value.astimezone(UTC)

    def process_result_value(
        self, value: datetime | None, dialect: Dialect
    ) -> datetime | None:
        if value is None:
            return None
        return value if value.tzinfo else value.replace(tzinfo=UTC)


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(default=True)
    ui_language: Mapped[str] = mapped_column(String(2), default="en")
    api_token_hash: Mapped[str | None] = mapped_column(String(128), index=True)
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)


class DraftRecord(Base):
    __tablename__ = "drafts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    debtor_id: Mapped[str] = mapped_column(String(64), index=True)
    debtor_name: Mapped[str] = mapped_column(String(200), default="")
    agent_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    connector: Mapped[str] = mapped_column(String(32))
    jurisdiction: Mapped[str] = mapped_column(String(2), default="US")
    channel: Mapped[str] = mapped_column(String(16))
    language: Mapped[str] = mapped_column(String(2))
    tone: Mapped[str] = mapped_column(String(16), default="neutral")
    goal: Mapped[str] = mapped_column(String(32), default="reminder")
    subject: Mapped[str | None] = mapped_column(String(300))
    text: Mapped[str] = mapped_column(Text)
    original_text: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(24), index=True, default="drafted")
    engine: Mapped[str] = mapped_column(String(120), default="template")
    template_id: Mapped[str | None] = mapped_column(String(120))
    fallback_reason: Mapped[str | None] = mapped_column(Text)
    citations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    violations: Mapped[list[Any]] = mapped_column(JSON, default=list)
    flags: Mapped[list[Any]] = mapped_column(JSON, default=list)
    next_allowed_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    checked_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    created_at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(
        AwareDateTime(), default=utcnow, onupdate=utcnow
    )

    agent: Mapped[User] = relationship(foreign_keys=[agent_id])
    events: Mapped[list[DraftEvent]] = relationship(
        back_populates="draft", order_by="DraftEvent.id", cascade="all, delete-orphan"
    )
    write_back: Mapped[WriteBack | None] = relationship(
        back_populates="draft", cascade="all, delete-orphan"
    )

    @property
    def blocking(self) -> list[dict[str, Any]]:
        """The blocking violations found at the last check."""
        return [v for v in self.violations if v.get("severity") == "block"]

    @property
    def warnings(self) -> list[dict[str, Any]]:
        """The warnings a lead must acknowledge."""
        return [v for v in self.violations if v.get("severity") == "warn"]


class DraftEvent(Base):
    """One transition: who, when, why, and the text at that moment."""

    __tablename__ = "draft_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), index=True)
    actor_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    action: Mapped[str] = mapped_column(String(32))
    from_status: Mapped[str | None] = mapped_column(String(24))
    to_status: Mapped[str] = mapped_column(String(24))
    reason: Mapped[str | None] = mapped_column(Text)
    text: Mapped[str] = mapped_column(Text)
    diff: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)

    draft: Mapped[DraftRecord] = relationship(back_populates="events")
    actor: Mapped[User | None] = relationship()


class WriteBack(Base):
    """The one write of an approved draft to the CRM, retried until it lands."""

    __tablename__ = "write_backs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    draft_id: Mapped[str] = mapped_column(ForeignKey("drafts.id"), unique=True)
    idempotency_key: Mapped[str] = mapped_column(String(128), unique=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str | None] = mapped_column(Text)
    next_attempt_at: Mapped[datetime | None] = mapped_column(AwareDateTime())
    activity_id: Mapped[str | None] = mapped_column(String(128))
    written_at: Mapped[datetime | None] = mapped_column(AwareDateTime())

    draft: Mapped[DraftRecord] = relationship(back_populates="write_back")


class AuditEntry(Base):
    """An append-only log entry, chained to the previous one by hash."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(AwareDateTime(), default=utcnow)
    actor: Mapped[str] = mapped_column(String(254))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject: Mapped[str] = mapped_column(String(128), default="")
    data: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)
