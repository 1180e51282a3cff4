"""dispatch: approvals waiting on a ticket, when it was assigned, staff chat contacts

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('staff_contacts',
    sa.Column('channel', sa.String(length=16), nullable=False),
    sa.Column('user', sa.String(length=64), nullable=False),
    sa.Column('staff_id', sa.Integer(), nullable=False),
    sa.Column('seen_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['staff_id'], ['staff.id'], name=op.f('fk_staff_contacts_staff_id_staff')),
    sa.PrimaryKeyConstraint('channel', 'user', name=op.f('pk_staff_contacts'))
    )
    with op.batch_alter_table('staff_contacts', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_staff_contacts_staff_id'), ['staff_id'], unique=False)

    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.add_column(sa.Column(
            'pending_approval',
            sa.JSON().with_variant(postgresql.JSONB(astext_type=sa.Text()), 'postgresql'),
            nullable=True,
        ))
        batch_op.add_column(sa.Column('assigned_at', sa.DateTime(timezone=True), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table('tickets', schema=None) as batch_op:
        batch_op.drop_column('assigned_at')
        batch_op.drop_column('pending_approval')
    with op.batch_alter_table('staff_contacts', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_staff_contacts_staff_id'))
    op.drop_table('staff_contacts')
