"""inbound_messages: a message is kept as it came (payload) while it waits to be handled

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.add_column(sa.Column("payload", sa.JSON().with_variant(postgresql.JSONB(), "postgresql")))
        batch_op.create_index("ix_inbound_messages_outcome_handled_at", ["outcome", "handled_at"])


def downgrade() -> None:
    op.execute("DELETE FROM inbound_messages WHERE outcome = 'waiting'")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.drop_index("ix_inbound_messages_outcome_handled_at")
        batch_op.drop_column("payload")
