"""Users, drafts, their events and write-backs, and the audit log.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "users",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("email", sa.String(254), nullable=False, unique=True, index=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("ui_language", sa.String(2), nullable=False),
        sa.Column("api_token_hash", sa.String(128), index=True),
        sa.Column("created_at", TS, nullable=False),
        sa.CheckConstraint("role IN ('agent', 'lead', 'admin')", name="ck_users_role"),
    )
    op.create_table(
        "drafts",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("debtor_id", sa.String(64), nullable=False, index=True),
        sa.Column("debtor_name", sa.String(200), nullable=False),
        sa.Column("agent_id", sa.Integer, sa.ForeignKey("users.id"), nullable=False,
                  index=True),
        sa.Column("connector", sa.String(32), nullable=False),
        sa.Column("jurisdiction", sa.String(2), nullable=False),
        sa.Column("channel", sa.String(16), nullable=False),
        sa.Column("language", sa.String(2), nullable=False),
        sa.Column("tone", sa.String(16), nullable=False),
        sa.Column("goal", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(300)),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("original_text", sa.Text, nullable=False),
        sa.Column("status", sa.String(24), nullable=False, index=True),
        sa.Column("engine", sa.String(120), nullable=False),
        sa.Column("template_id", sa.String(120)),
        sa.Column("fallback_reason", sa.Text),
        sa.Column("citations", sa.JSON, nullable=False),
        sa.Column("violations", sa.JSON, nullable=False),
        sa.Column("flags", sa.JSON, nullable=False),
        sa.Column("next_allowed_at", TS),
        sa.Column("checked_at", TS),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
    )
    op.create_table(
        "draft_events",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("draft_id", sa.String(36), sa.ForeignKey("drafts.id"), nullable=False,
                  index=True),
        sa.Column("actor_id", sa.Integer, sa.ForeignKey("users.id")),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("from_status", sa.String(24)),
        sa.Column("to_status", sa.String(24), nullable=False),
        sa.Column("reason", sa.Text),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("diff", sa.Text),
        sa.Column("at", TS, nullable=False),
    )
    op.create_table(
        "write_backs",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("draft_id", sa.String(36), sa.ForeignKey("drafts.id"), nullable=False,
                  unique=True),
        sa.Column("idempotency_key", sa.String(128), nullable=False, unique=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("last_error", sa.Text),
        sa.Column("next_attempt_at", TS),
        sa.Column("activity_id", sa.String(128)),
        sa.Column("written_at", TS),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(254), nullable=False),
        sa.Column("action", sa.String(64), nullable=False, index=True),
        sa.Column("subject", sa.String(128), nullable=False),
        sa.Column("data", sa.JSON, nullable=False),
        sa.Column("prev_hash", sa.String(64), nullable=False),
        sa.Column("hash", sa.String(64), nullable=False, unique=True),
    )


def downgrade() -> None:
    for table in ("audit_log", "write_backs", "draft_events", "drafts", "users"):
        op.drop_table(table)
