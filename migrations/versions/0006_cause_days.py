"""cause_days: reports per project, cause and day, for the overview's chart (filled from group_days)

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01 22:40:00
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = '0006'
down_revision: str | None = '0005'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('cause_days',
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('cause', sa.String(length=64), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_cause_days_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('project_id', 'cause', 'day', name=op.f('pk_cause_days'))
    )
    op.execute(
        "INSERT INTO cause_days (project_id, cause, day, count) "
        "SELECT g.project_id, COALESCE(g.cause, ''), d.day, SUM(d.count) "
        "FROM group_days d JOIN groups g ON g.id = d.group_id "
        "GROUP BY g.project_id, COALESCE(g.cause, ''), d.day"
    )


def downgrade() -> None:
    op.drop_table('cause_days')
