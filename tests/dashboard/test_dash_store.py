"""The dashboard's store functions on hand-made rollups: the overview's ranking visits groups by their all-time count
and stops early; it must rank exactly as summing every group's days in the window would."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from diagnoser.store.dashboard import overview
from diagnoser.store.db import make_engine, make_sessionmaker, reading, writing
from diagnoser.store.models import Group, GroupDay, Project, Team


def test_the_ranking_is_exact_whatever_the_all_time_counts(db_url: str) -> None:
    rng = random.Random(3)
    now = datetime.now(UTC)
    today = now.date()
    engine = make_engine(db_url)
    sessions = make_sessionmaker(engine)
    try:
        with writing(sessions) as session:
            team = Team(name="t")
            other = Team(name="other")
            session.add_all([team, other])
            session.flush()
            projects = [Project(team_id=team.id, name="p"), Project(team_id=other.id, name="q")]
            session.add_all(projects)
            session.flush()
            for n in range(300):
                # big old groups (many reports long ago, few lately) among small recent ones
                old = rng.randint(0, 5000) if n % 7 == 0 else 0
                days = {today - timedelta(days=rng.randint(0, 40)): rng.randint(1, 30) for _ in range(rng.randint(1, 8))}
                days[today - timedelta(days=80)] = old + 1
                project = projects[1] if n % 11 == 0 else projects[0]
                group = Group(project_id=project.id, fingerprint=f"f{n}", title=f"g{n}", exception_type="E",
                              first_seen=now - timedelta(days=80), last_seen=now - timedelta(days=min(
                                  (today - d).days for d in days)), count=sum(days.values()), status="open",
                              message="")
                session.add(group)
                session.flush()
                session.add_all(GroupDay(group_id=group.id, day=d, count=c) for d, c in days.items())
        with reading(sessions) as session:
            for window in (7, 30, 90):
                since = today - timedelta(days=window - 1)
                expected = session.execute(
                    select(GroupDay.group_id, func.sum(GroupDay.count).label("n"))
                    .join(Group, Group.id == GroupDay.group_id).join(Project, Project.id == Group.project_id)
                    .where(Project.team_id == team.id, GroupDay.day >= since)
                    .group_by(GroupDay.group_id).order_by(func.sum(GroupDay.count).desc(), GroupDay.group_id.desc())
                    .limit(20)
                ).all()
                got = [(r["id"], r["window_count"]) for r in overview(session, team.id, window, now=now)["ranked"]]
                assert got == [(g, int(n)) for g, n in expected], window
                totals = overview(session, team.id, window, now=now)
                assert totals["total"] == sum(sum(s["counts"]) for s in totals["chart"])
    finally:
        engine.dispose()
