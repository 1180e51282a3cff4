"""tickets.cost_cents: what a repair cost, in whole cents (exact), instead of a floating-point cost

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost_cents", sa.BigInteger(), server_default="0", nullable=False))
    op.execute("UPDATE tickets SET cost_cents = CAST(ROUND(CAST(cost * 100 AS NUMERIC)) AS BIGINT)")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("cost")


def downgrade() -> None:
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.add_column(sa.Column("cost", sa.Double(), server_default="0", nullable=False))
    op.execute("UPDATE tickets SET cost = cost_cents / 100.0")
    with op.batch_alter_table("tickets", schema=None) as batch_op:
        batch_op.drop_column("cost_cents")
