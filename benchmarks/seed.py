"""Seed a database with a team's worth of crashes for the dashboard benchmark (and for a look at the pages).

    python benchmarks/seed.py --database-url sqlite:////tmp/dash.db --reports 1000000
    python benchmarks/seed.py --database-url postgresql+psycopg://postgres@127.0.0.1:54329/diagnoser_dash

The database is emptied first (SQLite: the file is replaced; PostgreSQL: the public schema is dropped) and migrated.
One team ("bench") with 3 projects and about 2,000 groups over 90 days, skewed as real crashes are: group sizes
follow a Zipf law (the largest few hold most reports), the large ones recur every day, the tail starts at random
days. Texts are the real tracebacks of tests/fixtures/real, diagnosed once each by the engine, so the pages show
real diagnoses. Reports, analyses, groups and the rollups (group_days, group_facets, cause_days) are bulk-inserted
and agree with each other exactly, as the ingest transaction keeps them. An admin bench@example.com (password
"bench-password") logs in.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import bindparam, text

from diagnoser.store.analysis import analyse
from diagnoser.store.base import Base
from diagnoser.store.db import is_sqlite, make_engine, make_sessionmaker, writing
from diagnoser.store.migrate import upgrade
from diagnoser.store.models import AnalysisRow, Group, GroupDay, GroupFacet, Project, Report, Team, table
from diagnoser.store.users import create_user

EMAIL, PASSWORD = "bench@example.com", "bench-password"
USERS = [f"user{i:02d}" for i in range(40)]
HOSTS = [f"gpu-node-{i:03d}" for i in range(200)]
FRAMEWORKS = [("keras3", "3.15.1"), ("keras3", "3.8.0"), ("tf_keras2", "2.15.0"), ("torch", "2.5.1"),
              ("torch", "2.13.0"), ("torch", "2.0.1"), ("keras3", "3.4.1"), ("tf_keras2", "2.21.0")]
CHUNK = 20_000


def reset(url: str) -> None:
    if is_sqlite(url):
        path = Path(url.split("///", 1)[1])
        for suffix in ("", "-wal", "-shm"):
            Path(str(path) + suffix).unlink(missing_ok=True)
    else:
        engine = make_engine(url)
        with engine.begin() as conn:
            conn.execute(text("DROP SCHEMA IF EXISTS public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        engine.dispose()
    upgrade(url)


def _texts() -> list[dict[str, Any]]:
    cases = [json.loads(line) for line in (ROOT / "tests/fixtures/real/cases.jsonl").read_text().splitlines()]
    out = []
    for case in cases:
        stderr = case.get("stderr") or ""
        start = stderr.find("Traceback (most recent call last)")
        traceback = stderr[start:] if start >= 0 else stderr
        if traceback.strip():
            out.append({"traceback": traceback[-20000:], "summary": case.get("stdout_summary") or None,
                        "source": case.get("snippet") or None})
    return out


def seed(url: str, reports: int, groups: int = 2000, projects: int = 3, days: int = 90, rng_seed: int = 7,
         now: datetime | None = None) -> dict[str, Any]:
    """Fill the (emptied, migrated) database; what was made, and the ids the benchmark visits."""
    rng = random.Random(rng_seed)
    now = (now or datetime.now(UTC)).replace(microsecond=0)
    start = now - timedelta(days=days) + timedelta(seconds=1)
    engine = make_engine(url)
    sessions = make_sessionmaker(engine)
    with writing(sessions) as session:
        create_user(session, "bench", EMAIL, "admin", PASSWORD)
        team_id = session.query(Team.id).filter(Team.name == "bench").scalar()
        for name in ("vision", "nlp", "speech")[:projects]:
            session.add(Project(team_id=team_id, name=name))
    texts = _texts()
    analyses = [analyse(t["traceback"], summary=t["summary"], source=t["source"], cache=False) for t in texts]

    # Group sizes: Zipf weights over the groups, drawn for every report; reports in time order (ids follow time).
    weights = [1.0 / (i + 1) ** 1.15 for i in range(groups)]
    chosen = rng.choices(range(groups), weights=weights, k=reports)
    sizes = Counter(chosen)
    span = (now - start).total_seconds()
    # The big groups recur from the start; a tail group lives from a random day on.
    begins = [0.0 if i < 50 else rng.random() * 0.95 for i in range(groups)]
    times = sorted((begins[g] + rng.random() * (1 - begins[g]), g) for g in chosen)
    del chosen

    with engine.begin() as conn:
        project_ids = [r[0] for r in conn.execute(text("SELECT id FROM projects ORDER BY id"))]
        analysis_rows, group_rows = [], []
        for g in range(groups):
            a = analyses[g % len(analyses)]
            t = texts[g % len(texts)]
            project_id = project_ids[g % len(project_ids)]
            # A sixth of the groups are undiagnosed errors (cause null), as a real team's tail is.
            undiagnosed = g % 6 == 5
            diagnoses = [] if undiagnosed else a.diagnoses
            message = f"{a.exception_message[:300]} (variant {g})"
            analysis_rows.append({
                "id": g + 1, "project_id": project_id, "content_hash": f"bench-{g}", "traceback": t["traceback"],
                "summary": t["summary"], "source": t["source"], "inputs": None, "exception_type": a.exception_type,
                "exception_message": message, "framework": a.framework,
                "cause": None if undiagnosed else a.cause, "fingerprint": f"bench-{g}",
                "ruleset_version": a.ruleset_version, "diagnoses": diagnoses,
            })
            title = (f"{a.exception_type}: {message}" if undiagnosed else (a.title or a.exception_type))[:1000]
            group_rows.append({
                "id": g + 1, "project_id": project_id, "fingerprint": f"bench-{g}",
                "cause": None if undiagnosed else a.cause,
                "rule": None if undiagnosed else (a.best or {}).get("rule"), "title": f"{title} #{g}",
                "exception_type": a.exception_type, "first_seen": now, "last_seen": start, "count": 0,
                "status": rng.choice(["open"] * 8 + ["resolved", "ignored", "regressed"]), "previous_status": "open",
                "message": message,
            })
        conn.execute(table(Group).insert(), group_rows)
        conn.execute(table(AnalysisRow).insert(), analysis_rows)

    day_counts: Counter[tuple[int, Any]] = Counter()
    facets: dict[tuple[int, str, str], list[Any]] = {}
    firsts: dict[int, datetime] = {}
    lasts: dict[int, datetime] = {}
    group_users = {g: rng.sample(USERS, k=min(len(USERS), 1 + sizes[g] // 2000 + rng.randint(0, 3)))
                   for g in range(groups)}
    group_hosts = {g: rng.sample(HOSTS, k=min(len(HOSTS), 1 + sizes[g] // 500 + rng.randint(0, 5)))
                   for g in range(groups)}
    group_fw = {g: rng.sample(FRAMEWORKS, k=rng.randint(1, 3)) for g in range(groups)}
    seen: set[int] = set()
    started = time.perf_counter()
    report_id = 0
    postgres = not is_sqlite(url)
    with engine.begin() as conn:
        batch: list[tuple[Any, ...]] = []
        for fraction, g in times:
            report_id += 1
            at = start + timedelta(seconds=fraction * span)
            user, host = rng.choice(group_users[g]), rng.choice(group_hosts[g])
            framework, version = rng.choice(group_fw[g])
            tags = {"exp": str(rng.randint(1, 30))}
            status = "existing" if g in seen else "new"
            seen.add(g)
            batch.append((report_id, project_ids[g % len(project_ids)], g + 1, g + 1, None, at, status, host, user,
                          f"run-{report_id // 7}", "train.py", framework, version, "3.11.7", None, None,
                          json.dumps(tags)))
            day_counts[(g + 1, at.date())] += 1
            firsts.setdefault(g + 1, at)
            lasts[g + 1] = at
            for facet, value in (("user", user), ("host", host), ("framework", f"{framework} {version}"),
                                 ("tag", f"exp={tags['exp']}")):
                entry = facets.setdefault((g + 1, facet, value), [0, at])
                entry[0] += 1
                entry[1] = at
            if len(batch) >= CHUNK:
                _insert_reports(conn, batch, postgres)
                batch = []
        if batch:
            _insert_reports(conn, batch, postgres)
        conn.execute(table(GroupDay).insert(), [{"group_id": g, "day": d, "count": n}
                                                 for (g, d), n in sorted(day_counts.items())])
        conn.execute(table(GroupFacet).insert(), [
            {"group_id": g, "facet": f, "value": v, "count": n, "last_seen": last}
            for (g, f, v), (n, last) in sorted(facets.items())])
        conn.execute(text(
            "INSERT INTO cause_days (project_id, cause, day, count) "
            "SELECT g.project_id, COALESCE(g.cause, ''), d.day, SUM(d.count) FROM group_days d "
            "JOIN groups g ON g.id = d.group_id GROUP BY g.project_id, COALESCE(g.cause, ''), d.day"))
        groups_table = table(Group)
        conn.execute(
            groups_table.update().where(groups_table.c.id == bindparam("gid")).values(
                count=bindparam("n"), first_seen=bindparam("first"), last_seen=bindparam("last")),
            [{"gid": g, "n": sizes[g - 1], "first": firsts[g], "last": lasts[g]} for g in sorted(firsts)],
        )
        # Groups no report fell into: not a group at all.
        empty = [g + 1 for g in range(groups) if g + 1 not in firsts]
        if empty:
            conn.execute(table(AnalysisRow).delete().where(table(AnalysisRow).c.id.in_(empty)))
            conn.execute(groups_table.delete().where(groups_table.c.id.in_(empty)))
        if postgres:
            for name in ("groups", "analyses", "reports"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                                  f"(SELECT coalesce(max(id), 1) FROM {name}))"))
    if postgres:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    elapsed = time.perf_counter() - started
    engine.dispose()
    ranked = sorted(sizes.items(), key=lambda kv: -kv[1])
    return {
        "reports": reports, "groups": len(firsts), "group_days": len(day_counts), "group_facets": len(facets),
        "largest_group": ranked[0][0] + 1, "largest_share": ranked[0][1] / max(1, reports),
        "tail_group": ranked[-1][0] + 1, "top10_share": sum(n for _, n in ranked[:10]) / max(1, reports),
        "latest_report": report_id, "seconds": elapsed,
    }


def _insert_reports(conn: Any, rows: list[tuple[Any, ...]], postgres: bool) -> None:
    columns = ("id", "project_id", "group_id", "analysis_id", "event_id", "received_at", "group_status",
               "hostname", "user", "run_id", "script", "framework", "framework_version", "python_version",
               "versions", "git_commit", "tags")
    if postgres:  # COPY: the bulk path of PostgreSQL
        raw = conn.connection.dbapi_connection
        quoted = ", ".join(f'"{c}"' for c in columns)
        with raw.cursor() as cursor, cursor.copy(f"COPY reports ({quoted}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row([v.replace(tzinfo=None) if isinstance(v, datetime) else v for v in row])
        return
    reports = table(Report)
    conn.execute(reports.insert(), [dict(zip(columns, row, strict=True)) | {"tags": json.loads(row[-1])}
                                    for row in rows])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="sqlite:////tmp/diagnoser-dash.db")
    parser.add_argument("--reports", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=2000)
    args = parser.parse_args()
    reset(args.database_url)
    info = seed(args.database_url, args.reports, args.groups)
    print(json.dumps(info, default=str))


if __name__ == "__main__":
    _ = Base  # every model is imported by diagnoser.store.models
    main()
