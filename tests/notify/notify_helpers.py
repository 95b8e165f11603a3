"""Helpers of the notification tests: a clock to move by hand, reports stored as ingest stores them, channels."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from diagnoser.store.analysis import analyse
from diagnoser.store.channels import add_channel
from diagnoser.store.db import reading, writing
from diagnoser.store.ingest import NewReport, Stored, store_batch
from diagnoser.store.models import Delivery, DeliveryAttempt, Group
from diagnoser.store.tokens import get_or_create_project

FIXTURES = Path(__file__).resolve().parents[1] / "service" / "fixtures"
KERAS = (FIXTURES / "keras3_input_rank_missing_channel.txt").read_text()


WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet", "kilo", "lima"]


def other_error(n: int) -> str:
    """A traceback of its own group for each n (the engine knows no cause for it)."""
    word = WORDS[n % len(WORDS)] + ("" if n < len(WORDS) else WORDS[n // len(WORDS) % len(WORDS)])
    return f'Traceback (most recent call last):\n  File "train.py", line 1, in <module>\nValueError: failure {word}'


@dataclass
class Clock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> datetime:
        self.now = self.now + timedelta(seconds=seconds)
        return self.now


def project(sessions: Any, name: str = "vision", team: str = "default") -> tuple[int, int]:
    """(team id, project id), made when new."""
    with writing(sessions) as session:
        p = get_or_create_project(session, team, name)
        return p.team_id, p.id


def report(sessions: Any, project_id: int, text: str = KERAS, at: datetime | None = None, count: int = 1,
           **meta: Any) -> list[Stored]:
    """Store `count` reports of `text` as the web node's writer does (one transaction)."""
    analysis = analyse(text)
    when = at or datetime.now(UTC)
    batch = [NewReport(project_id=project_id, received_at=when, traceback=text, analysis=analysis, meta=dict(meta))
             for _ in range(count)]
    with writing(sessions) as session:
        answers = store_batch(session.connection(), batch)
    assert all(isinstance(a, Stored) for a in answers)
    return answers  # type: ignore[return-value]


def channel(sessions: Any, key: str, team_id: int, url: str, kind: str = "slack", project_id: int | None = None,
            **options: Any) -> int:
    with writing(sessions) as session:
        added = add_channel(session, team_id, kind, url, key, project_id=project_id, allow_private=True, **options)
    return int(added.channel["id"])


def set_status(sessions: Any, group_id: int, status: str) -> None:
    with writing(sessions) as session:
        group = session.get(Group, group_id)
        assert group is not None
        group.status = status


def deliveries(sessions: Any, channel_id: int | None = None) -> list[Delivery]:
    with reading(sessions) as session:
        statement = select(Delivery).order_by(Delivery.id)
        if channel_id is not None:
            statement = statement.where(Delivery.channel_id == channel_id)
        return list(session.scalars(statement).all())


def attempts(sessions: Any, delivery_id: int) -> list[DeliveryAttempt]:
    with reading(sessions) as session:
        return list(session.scalars(select(DeliveryAttempt).where(DeliveryAttempt.delivery_id == delivery_id)
                                    .order_by(DeliveryAttempt.id)).all())


def drain(worker: Any, clock: Clock, rounds: int = 10, step: float = 1.1) -> None:
    """Passes of the worker, the clock moving `step` seconds between them (past the one-a-second spacing)."""
    for _ in range(rounds):
        worker.run_once()
        clock.advance(step)
