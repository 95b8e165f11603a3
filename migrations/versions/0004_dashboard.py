"""dashboard: users, daily rollups and breakdowns per group, status history, group messages

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-01 20:00:00

The rollups are filled from the reports already stored, so the dashboard is exact from the first page.
"""
from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

import diagnoser.store.base

revision: str = '0004'
down_revision: str | None = '0003'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('team_id', sa.Integer(), nullable=False),
    sa.Column('email', sa.String(length=320), nullable=False),
    sa.Column('password_hash', sa.String(length=255), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('created_at', diagnoser.store.base.UTCDateTime(), nullable=False),
    sa.Column('disabled_at', diagnoser.store.base.UTCDateTime(), nullable=True),
    sa.Column('last_login_at', diagnoser.store.base.UTCDateTime(), nullable=True),
    sa.ForeignKeyConstraint(['team_id'], ['teams.id'], name=op.f('fk_users_team_id_teams'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('email', name=op.f('uq_users_email'))
    )
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_users_team_id'), ['team_id'], unique=False)
    op.create_table('group_days',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('day', sa.Date(), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_days_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'day', name=op.f('pk_group_days'))
    )
    op.create_table('group_facets',
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('facet', sa.String(length=16), nullable=False),
    sa.Column('value', sa.String(length=300), nullable=False),
    sa.Column('count', sa.Integer(), nullable=False),
    sa.Column('last_seen', diagnoser.store.base.UTCDateTime(), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_group_facets_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('group_id', 'facet', 'value', name=op.f('pk_group_facets'))
    )
    op.create_table('status_changes',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('group_id', sa.Integer(), nullable=False),
    sa.Column('at', diagnoser.store.base.UTCDateTime(), nullable=False),
    sa.Column('actor', sa.String(length=320), nullable=False),
    sa.Column('old_status', sa.String(length=16), nullable=False),
    sa.Column('new_status', sa.String(length=16), nullable=False),
    sa.ForeignKeyConstraint(['group_id'], ['groups.id'], name=op.f('fk_status_changes_group_id_groups'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_status_changes'))
    )
    with op.batch_alter_table('status_changes', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_status_changes_group_id'), ['group_id'], unique=False)
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.add_column(sa.Column('message', sa.Text(), nullable=False, server_default=''))
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.alter_column('message', existing_type=sa.Text(), server_default=None)
    # Pages and windows read the rollups now; an index less for every report to maintain.
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.drop_index('ix_reports_project_id_received_at')
    bind = op.get_bind()
    day = "date(r.received_at)" if bind.dialect.name == "sqlite" else "CAST(r.received_at AS DATE)"
    bind.execute(sa.text(f"INSERT INTO group_days (group_id, day, count) SELECT r.group_id, {day}, count(*) "
                         f"FROM reports r GROUP BY r.group_id, {day}"))
    for facet, column in (("user", 'r."user"'), ("host", "r.hostname")):
        bind.execute(sa.text(
            f"INSERT INTO group_facets (group_id, facet, value, count, last_seen) SELECT r.group_id, '{facet}', "
            f"{column}, count(*), max(r.received_at) FROM reports r WHERE {column} IS NOT NULL "
            f"GROUP BY r.group_id, {column}"))
    version = "r.framework || ' ' || r.framework_version"
    bind.execute(sa.text(
        f"INSERT INTO group_facets (group_id, facet, value, count, last_seen) SELECT r.group_id, 'framework', "
        f"{version}, count(*), max(r.received_at) FROM reports r WHERE r.framework IS NOT NULL AND "
        f"r.framework_version IS NOT NULL GROUP BY r.group_id, {version}"))
    bind.execute(sa.text("UPDATE groups SET message = coalesce((SELECT a.exception_message FROM reports r JOIN "
                         "analyses a ON a.id = r.analysis_id WHERE r.group_id = groups.id ORDER BY r.id DESC "
                         "LIMIT 1), '')"))


def downgrade() -> None:
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.create_index('ix_reports_project_id_received_at', ['project_id', 'received_at'], unique=False)
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_column('message')
    op.drop_table('status_changes')
    op.drop_table('group_facets')
    op.drop_table('group_days')
    with op.batch_alter_table('users', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_users_team_id'))
    op.drop_table('users')
