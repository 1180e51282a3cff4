"""estates.phone: the front desk's number, for what a resident cannot do in chat

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-03
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("estates", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone", sa.String(length=40), server_default="", nullable=False))


def downgrade() -> None:
    with op.batch_alter_table("estates", schema=None) as batch_op:
        batch_op.drop_column("phone")
