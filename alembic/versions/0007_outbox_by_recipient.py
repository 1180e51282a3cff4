"""outbox: an index by (channel, recipient, created_at), to find what was pushed to a person since their last turn

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_outbox_channel_recipient_created_at", "outbox", ["channel", "recipient", "created_at"])


def downgrade() -> None:
    op.drop_index("ix_outbox_channel_recipient_created_at", table_name="outbox")
