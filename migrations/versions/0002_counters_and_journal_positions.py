"""counters and journal positions

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-29 15:10:00

Report ids now come from the `report_id` counter (reserved in blocks, store.counters); it starts after the
largest id already stored, so existing databases go on without a gap or a clash.
"""
from __future__ import annotations

import secrets
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0002'
down_revision: str | None = '0001'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    counters = op.create_table('counters',
    sa.Column('name', sa.String(length=32), nullable=False),
    sa.Column('value', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('name', name=op.f('pk_counters'))
    )
    op.create_table('journal_positions',
    sa.Column('journal', sa.String(length=255), nullable=False),
    sa.Column('position', sa.BigInteger(), nullable=False),
    sa.PrimaryKeyConstraint('journal', name=op.f('pk_journal_positions'))
    )
    next_id = op.get_bind().execute(sa.text("SELECT coalesce(max(id), 0) + 1 FROM reports")).scalar_one()
    # database_id: tells this database from one made again under the same URL (store.journal keeps journals
    # of another database out of this one).
    op.bulk_insert(counters, [{"name": "report_id", "value": next_id}, {"name": "changes", "value": 0},
                              {"name": "database_id", "value": secrets.randbits(62)}])


def downgrade() -> None:
    op.drop_table('journal_positions')
    op.drop_table('counters')
