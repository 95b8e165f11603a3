"""one write path: distinct texts kept once, client event ids, no journal tables

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01 19:00:00

Every report's text (traceback, summary, source, fed shapes) and its diagnoses move to `analyses`, one row per
distinct text of a project; reports keep their metadata and point to it. Reports gain the client's `event_id`
(unique per project: a resend is answered as the first time) and `group_status` (what the report found its group
to be). The journal's tables (`counters`, `journal_positions`) go: ids come from the database again, in arrival
order. Nothing stored is lost: every report keeps its text and diagnoses through its analysis.
"""
from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

import diagnoser.store.base

revision: str = '0003'
down_revision: str | None = '0002'
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BATCH = 1000


def _content_hash(traceback: str, summary: str | None, source: str | None, inputs: Any) -> str:
    # The same digest as diagnoser.store.analysis.content_hash when this was written (kept here so a migration
    # never changes with the code); a difference would only cost one extra analysis row for a text.
    digest = hashlib.blake2b(digest_size=20)
    inputs_text = json.dumps(inputs, sort_keys=True, default=str) if inputs else None
    for part in (traceback, summary, source, inputs_text):
        digest.update(b"\x00" if part is None else b"\x01" + part.encode("utf-8", "surrogatepass") + b"\x02")
    return digest.hexdigest()


def upgrade() -> None:
    op.create_table('analyses',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('project_id', sa.Integer(), nullable=False),
    sa.Column('content_hash', sa.String(length=64), nullable=False),
    sa.Column('traceback', sa.Text(), nullable=False),
    sa.Column('summary', sa.Text(), nullable=True),
    sa.Column('source', sa.Text(), nullable=True),
    sa.Column('inputs', sa.JSON(), nullable=True),
    sa.Column('exception_type', sa.String(length=200), nullable=False),
    sa.Column('exception_message', sa.Text(), nullable=False),
    sa.Column('framework', sa.String(length=64), nullable=True),
    sa.Column('cause', sa.String(length=64), nullable=True),
    sa.Column('fingerprint', sa.String(length=128), nullable=False),
    sa.Column('ruleset_version', sa.String(length=64), nullable=False),
    sa.Column('diagnoses', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['project_id'], ['projects.id'], name=op.f('fk_analyses_project_id_projects'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_analyses')),
    sa.UniqueConstraint('project_id', 'content_hash', name=op.f('uq_analyses_project_id_content_hash'))
    )
    op.create_table('heartbeats',
    sa.Column('node', sa.String(length=255), nullable=False),
    sa.Column('beat_at', diagnoser.store.base.UTCDateTime(), nullable=False),
    sa.PrimaryKeyConstraint('node', name=op.f('pk_heartbeats'))
    )
    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('analysis_id', sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column('event_id', sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column('group_status', sa.String(length=16), nullable=False, server_default='existing'))

    _move_texts_to_analyses()

    with op.batch_alter_table('reports', schema=None) as batch_op:
        batch_op.alter_column('analysis_id', existing_type=sa.Integer(), nullable=False)
        batch_op.alter_column('group_status', existing_type=sa.String(length=16), server_default=None)
        batch_op.create_foreign_key(batch_op.f('fk_reports_analysis_id_analyses'), 'analyses', ['analysis_id'], ['id'], ondelete='CASCADE')
        batch_op.create_index(batch_op.f('ix_reports_analysis_id'), ['analysis_id'], unique=False)
        batch_op.create_index('ix_reports_group_id_id', ['group_id', 'id'], unique=False)
        batch_op.drop_index('ix_reports_group_id')
        batch_op.create_unique_constraint(batch_op.f('uq_reports_event_id_project_id'), ['event_id', 'project_id'])
        for column in ('traceback', 'summary', 'source', 'inputs', 'exception_type', 'exception_message', 'cause',
                       'fingerprint', 'ruleset_version'):
            batch_op.drop_column(column)
    # Every batch updates a recurring cause's row: with no index on what it changes (last_seen), PostgreSQL can
    # update it in place (HOT) instead of adding index entries that every later lookup steps over.
    with op.batch_alter_table('groups', schema=None) as batch_op:
        batch_op.drop_index('ix_groups_project_id_last_seen')
    op.drop_table('diagnoses')
    op.drop_table('journal_positions')
    op.drop_table('counters')
    bind = op.get_bind()
    if bind.dialect.name == 'postgresql':
        bind.execute(sa.text("ALTER TABLE groups SET (fillfactor = 70)"))  # room on each page for HOT updates
    if bind.dialect.name == 'postgresql':  # ids came from the counter table: the sequence must follow them
        for table in ('reports', 'groups', 'analyses'):
            bind.execute(sa.text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                 f"coalesce((SELECT max(id) FROM {table}), 0) + 1, false)"))


def _move_texts_to_analyses() -> None:
    bind = op.get_bind()
    meta = sa.MetaData()
    reports = sa.Table('reports', meta, autoload_with=bind)
    diagnoses = sa.Table('diagnoses', meta, autoload_with=bind)
    analyses = sa.Table('analyses', meta, autoload_with=bind)
    known: dict[tuple[int, str], int] = {}
    last = 0
    while True:
        rows = bind.execute(sa.select(reports).where(reports.c.id > last).order_by(reports.c.id).limit(BATCH)).all()
        if not rows:
            return
        last = rows[-1].id
        by_report: dict[int, list[dict[str, Any]]] = {}
        for d in bind.execute(sa.select(diagnoses).where(diagnoses.c.report_id.in_([r.id for r in rows]))
                              .order_by(diagnoses.c.report_id, diagnoses.c.rank)):
            by_report.setdefault(d.report_id, []).append({
                "cause": d.cause, "confidence": d.confidence, "rule": d.rule, "layer": d.layer,
                "expected": d.expected, "received": d.received, "title": d.title, "explanation": d.explanation,
                "fix": d.fix, "fix_code": d.fix_code, "evidence": d.evidence or [], "fingerprint": d.fingerprint})
        for r in rows:
            key = (r.project_id, _content_hash(r.traceback, r.summary, r.source, r.inputs))
            if key not in known:
                known[key] = bind.execute(analyses.insert().returning(analyses.c.id), {
                    "project_id": r.project_id, "content_hash": key[1], "traceback": r.traceback,
                    "summary": r.summary, "source": r.source, "inputs": r.inputs,
                    "exception_type": r.exception_type or "", "exception_message": r.exception_message or "",
                    "framework": r.framework, "cause": r.cause, "fingerprint": r.fingerprint,
                    "ruleset_version": r.ruleset_version, "diagnoses": by_report.get(r.id, [])}).scalar_one()
            bind.execute(reports.update().where(reports.c.id == r.id).values(analysis_id=known[key]))


def downgrade() -> None:
    raise NotImplementedError("0003 moves every text into analyses; restore a backup to go back")
