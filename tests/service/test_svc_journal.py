"""Reports accepted through journals (store.journal, store.acceptor): a real WriterServer on a real socket and a
real database, workers' journals as real memory-mapped files, exactly as under gunicorn."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from diagnoser.store import journal as journal_module
from diagnoser.store import wire
from diagnoser.store.acceptor import JournalAcceptor
from diagnoser.store.analysis import analyse
from diagnoser.store.base import utcnow
from diagnoser.store.counters import bump_changes, read_changes
from diagnoser.store.db import make_engine, make_sessionmaker, writing
from diagnoser.store.ingest import NewReport
from diagnoser.store.journal import (DONE_SUFFIX, FRAME, JournalAppender, JournalReader, WriterState,
                                     claim_folder)
from diagnoser.store.models import Group, JournalPosition, Report
from diagnoser.store.queries import set_group_status
from diagnoser.store.remote_writer import RemoteWriter
from diagnoser.store.tokens import create_token, revoke_token
from diagnoser.store.writer import BatchWriter
from diagnoser.store.writer_process import WriterServer
from svc_helpers import KERAS_TRACEBACK


def _wait(predicate, seconds: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return predicate()


class Served:
    """A writer process (in a thread) that journals, and one worker's writer with its acceptor."""

    def __init__(self, url: str, folder: Path) -> None:
        self.url, self.folder = url, folder
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        with writing(self.sessions) as session:
            token, self.secret = create_token(session, "vision", "ingest")
            self.project_id, self.token_id = token.project_id, token.id
        self.socket_path = str(folder / "writer.sock")
        self.start()
        self.acceptor = JournalAcceptor(folder / "journal", self.sessions)
        self.writer = RemoteWriter(self.socket_path, fallback=BatchWriter(self.sessions), write_timeout=10,
                                   acceptor=self.acceptor)
        assert _wait(lambda: self.acceptor.state() is not None), "the writer never published a usable state"

    def start(self) -> None:
        self.server = WriterServer(self.url, self.socket_path, journal_dir=self.folder / "journal")
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop_server(self) -> None:
        self.writer.close()  # the worker's connections: the writer waits for them otherwise
        self.server.stop()
        self.thread.join(40)
        Path(self.socket_path).unlink(missing_ok=True)

    def report(self, text: str = KERAS_TRACEBACK) -> NewReport:
        return NewReport(project_id=self.project_id, received_at=utcnow(), traceback=text, analysis=analyse(text),
                         token_id=self.token_id, meta={"run_id": "r1"})

    def stored(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count(Report.id))) or 0

    def close(self) -> None:
        self.writer.close()
        self.stop_server()
        self.engine.dispose()


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    s = Served(db_url, tmp_path)
    yield s
    s.close()


def test_the_first_report_of_a_group_waits_for_its_commit_and_the_next_ones_are_journaled(served):
    first = served.writer.write(served.report(), timeout=10)
    assert first.group_status == "new"
    assert served.stored() == 1  # answered once committed
    answers = [served.writer.write(served.report(), timeout=10) for _ in range(50)]
    assert {a.group_status for a in answers} == {"existing"} and {a.group_id for a in answers} == {first.group_id}
    assert len({a.report_id for a in answers} | {first.report_id}) == 51  # ids reserved ahead, never shared
    assert list(served.folder.joinpath("journal").glob("*.journal")), "nothing was journaled"
    served.writer.sync()  # what a read does first
    assert served.stored() == 51
    with served.sessions() as session:
        ids = set(session.scalars(select(Report.id)).all())
        group = session.get(Group, first.group_id)
    assert ids == {a.report_id for a in answers} | {first.report_id}  # stored under the ids answered
    assert group is not None and group.count == 51


def test_a_change_stops_the_journal_path_until_a_commit_teaches_it_again(served):
    first = served.writer.write(served.report(), timeout=10)
    assert served.writer.write(served.report(), timeout=10).group_status == "existing"
    served.writer.sync()
    with writing(served.sessions) as session:  # resolved through the API (api.group_update does the same)
        assert set_group_status(session, _team(served), first.group_id, "resolved") is not None
        changes = read_changes(session)
    served.writer.announce(changes)
    regressed = served.writer.write(served.report(), timeout=10)
    assert regressed.group_status == "regressed"  # exact: decided by the database, not from memory
    assert served.writer.write(served.report(), timeout=10).group_status == "existing"
    # A change made elsewhere (another machine, the CLI) reaches the workers through the writer within ms.
    with writing(served.sessions) as session:
        bump_changes(session)
    assert _wait(lambda: served.acceptor.changes() == changes + 1, 1)


def _team(served: Served) -> int:
    from diagnoser.store.models import Project

    with served.sessions() as session:
        return session.get(Project, served.project_id).team_id


def test_a_revoked_token_journals_nothing_more(served):
    served.writer.write(served.report(), timeout=10)
    assert served.acceptor.accept(served.report()) is not None
    with writing(served.sessions) as session:
        assert revoke_token(session, served.secret) == 1
    assert _wait(lambda: served.acceptor.accept(served.report()) is None, 2)


def test_journaled_reports_survive_the_writer_and_are_written_once(served):
    served.writer.write(served.report(), timeout=10)
    served.stop_server()  # the writer is gone: nothing can be journaled now
    assert served.acceptor.accept(served.report()) is None
    # Entries journaled while a writer was up but not yet written when it died: simulated by appending directly.
    appender = JournalAppender(served.folder / "journal")
    ids = [served.acceptor.ids.take() for _ in range(5)]
    for report_id in ids:
        appender.append(wire.encode_journal_entry(served.report(), report_id))
    served.start()  # a new writer writes them, once
    assert _wait(lambda: served.stored() == 6)
    served.stop_server()
    served.start()  # and another one, from the saved positions, writes nothing again
    time.sleep(0.3)
    assert served.stored() == 6
    with served.sessions() as session:
        assert ids[0] in set(session.scalars(select(Report.id)).all())
        assert session.scalar(select(func.count(JournalPosition.journal))) >= 1


def test_journals_of_another_database_are_moved_aside_not_written(tmp_path):
    folder = tmp_path / "journal"
    folder.mkdir()
    claim_folder(folder, 1)
    JournalAppender(folder).append(b"anything")
    claim_folder(folder, 2)  # the database was made again under the same URL
    assert not list(folder.glob("*.journal"))
    assert len(list((folder / "other-database-1").glob("*.journal"))) == 1
    claim_folder(folder, 2)  # the same database: nothing moves
    assert (folder / "database.id").read_text().strip() == "2"


def test_a_reader_sees_whole_frames_only_and_a_full_journal_rotates(tmp_path, monkeypatch):
    monkeypatch.setattr(journal_module, "FILE_BYTES", 4096)
    appender = JournalAppender(tmp_path)
    bodies = [os.urandom(900) for _ in range(9)]  # ~4 per file
    for body in bodies:
        appender.append(body)
    assert len(list(tmp_path.glob(f"*{DONE_SUFFIX}"))) == 2 and len(list(tmp_path.glob("*.journal"))) == 1
    reader = JournalReader(tmp_path, {})
    entries = reader.read(100)
    assert sorted(e.body for e in entries) == sorted(bodies) and reader.caught_up
    # A frame whose body is not all there yet (a copy in progress) is not read.
    current = appender._local.file
    start = current.offset
    current.map[start:start + FRAME.size] = FRAME.pack(100, 12345)  # header of a body not copied
    assert reader.read(100) == []
    reader.committed({e.journal: e.end for e in entries})
    assert len(reader.finished(force=True)) == 2  # the full ones, written and done, are deleted
    assert len(list(tmp_path.glob("*"))) == 1


def test_the_state_file_says_when_workers_may_journal(tmp_path):
    state = WriterState(tmp_path / "writer.state", create=True)
    worker_view = WriterState(tmp_path / "writer.state")
    assert not worker_view.usable()
    state.publish(healthy=True, caught_up=True)
    assert worker_view.usable()
    state.publish(healthy=False, caught_up=True)
    assert not worker_view.usable()
    state.publish(healthy=True, caught_up=True)
    state.withdraw()
    assert not worker_view.usable()
    worker_view.raise_changes(7)
    worker_view.raise_changes(3)
    assert state.changes == 7


def test_a_change_number_is_bumped_in_the_changing_transaction(db_url):
    engine = make_engine(db_url)
    try:
        with engine.begin() as connection:
            first = bump_changes(connection)
        with engine.begin() as connection:
            assert bump_changes(connection) == first + 1
    finally:
        engine.dispose()
