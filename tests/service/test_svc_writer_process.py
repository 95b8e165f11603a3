"""The writer process and the workers' side of it: a real WriterServer on a real Unix socket and a real database,
answered through RemoteWriter exactly as a gunicorn worker does."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path

import pytest
from sqlalchemy import func, select

from diagnoser.store import wire
from diagnoser.store.analysis import analyse
from diagnoser.store.base import utcnow
from diagnoser.store.db import make_engine, make_sessionmaker, writing
from diagnoser.store.ingest import NewReport
from diagnoser.store.models import Group, Report, Token
from diagnoser.store.remote_writer import RemoteWriter, StoreUnavailable
from diagnoser.store.tokens import TokenRevoked, create_token
from diagnoser.store.writer import BatchWriter
from diagnoser.store.writer_process import WriterServer
from svc_helpers import KERAS_TRACEBACK


class Served:
    def __init__(self, url: str, socket_path: str) -> None:
        self.url = url
        self.socket_path = socket_path
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        with writing(self.sessions) as session:
            token, _ = create_token(session, "vision", "ingest")
            self.project_id, self.token_id = token.project_id, token.id
        self.server = WriterServer(url, socket_path)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()
        self.fallback = BatchWriter(self.sessions)
        self.writer = RemoteWriter(socket_path, fallback=self.fallback, write_timeout=10)

    def report(self, text: str = KERAS_TRACEBACK, **meta: str) -> NewReport:
        return NewReport(project_id=self.project_id, received_at=utcnow(), traceback=text, analysis=analyse(text),
                         meta=dict(meta), token_id=self.token_id, inputs={"x": {"shape": [None, 28, 28]}})

    def stored(self) -> int:
        with self.sessions() as session:
            return session.scalar(select(func.count(Report.id))) or 0

    def stop(self) -> None:
        self.writer.close()
        self.server.stop()
        self.thread.join(40)
        self.engine.dispose()


@pytest.fixture
def served(db_url: str, tmp_path: Path) -> Iterator[Served]:
    served = Served(db_url, str(tmp_path / "writer.sock"))
    yield served
    served.stop()


def test_a_report_round_trips_through_the_wire_unchanged():
    analysis = analyse(KERAS_TRACEBACK)
    report = NewReport(project_id=3, received_at=utcnow(), traceback=KERAS_TRACEBACK, analysis=analysis,
                       summary="Model: x", source="import keras", inputs={"x": [1, None, 2.5, True]},
                       meta={"run_id": "r1", "tags": {"a": "b"}})
    frame = wire.encode_report(report, 7, 123.5)
    (length,) = wire.HEADER.unpack_from(frame)
    assert length == len(frame) - wire.HEADER.size
    back, token_id, deadline = wire.decode_request(frame[wire.HEADER.size:], wire.AnalysisCache())
    assert (token_id, deadline) == (7, 123.5)
    for name in ("project_id", "received_at", "traceback", "summary", "source", "inputs", "meta"):
        assert getattr(back, name) == getattr(report, name), name
    assert back.analysis.diagnoses == analysis.diagnoses and back.analysis.fingerprint == analysis.fingerprint


def test_a_frame_of_another_release_or_garbage_is_refused_not_misread():
    with pytest.raises(wire.WireError, match=wire.PROTOCOL_MISMATCH):
        wire.decode_request(__import__("marshal").dumps((wire.PROTOCOL + 1, "anything")), wire.AnalysisCache())
    with pytest.raises(wire.WireError):
        wire.decode_request(b"\x00garbage", wire.AnalysisCache())


def test_reports_are_stored_by_the_writer_process_and_answered_once_committed(served):
    first = served.writer.write(served.report(run_id="a"), timeout=10)
    second = served.writer.write(served.report(run_id="b"), timeout=10)
    assert first.group_status == "new" and second.group_status == "existing"
    assert first.group_id == second.group_id and second.report_id > first.report_id
    assert served.stored() == 2 and served.fallback.written == 0  # all of it through the writer process
    with served.sessions() as session:
        assert session.scalar(select(Group.count).where(Group.id == first.group_id)) == 2
        run_ids = set(session.scalars(select(Report.run_id)))
    assert run_ids == {"a", "b"}


def test_many_threads_share_one_writer_process(served):
    answers: list[object] = []
    lock = threading.Lock()

    def post(i: int) -> None:
        result = served.writer.write(served.report(f"ValueError: case {'abc'[i % 3]}", run_id=str(i)), timeout=10)
        with lock:
            answers.append(result)

    threads = [threading.Thread(target=post, args=(i,)) for i in range(24)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 24 and served.stored() == 24
    assert len({a.report_id for a in answers}) == 24  # type: ignore[attr-defined]
    assert sum(a.group_status == "new" for a in answers) == 3  # type: ignore[attr-defined]
    assert served.server.committer.batches < 24  # reports that arrived together were committed together


def test_a_token_revoked_after_it_was_verified_stores_nothing(served):
    assert served.writer.write(served.report(), timeout=10).report_id
    with writing(served.sessions) as session:
        session.get(Token, served.token_id).revoked_at = utcnow()
    with pytest.raises(TokenRevoked):
        served.writer.write(served.report(), timeout=10)
    assert served.stored() == 1


def test_a_report_past_its_deadline_is_not_stored(served):
    with pytest.raises(FutureTimeout):
        served.writer.write(served.report(), timeout=-1.0)  # its deadline has passed when the writer reads it
    assert served.stored() == 0


def test_without_the_writer_process_the_worker_writes_itself(served, tmp_path):
    writer = RemoteWriter(str(tmp_path / "nobody-listens.sock"), fallback=served.fallback)
    stored = writer.write(served.report(), timeout=10)
    assert stored.group_status == "new" and served.stored() == 1 and served.fallback.written == 1
    served.writer.write(served.report(), timeout=10)  # the writer process and a worker's own writer agree
    assert served.stored() == 2


def test_a_writer_process_that_dies_is_replaced_by_the_workers_own_writer(served):
    assert served.writer.write(served.report(), timeout=10).group_status == "new"
    served.server.stop_grace = 0.0  # gone at once, its connections cut, as in a crash
    served.server.stop()
    served.thread.join(40)  # its connections are closed now
    stored = served.writer.write(served.report(), timeout=10)
    assert stored.group_status == "existing" and served.stored() == 2 and served.fallback.written == 1


def test_a_writer_that_hangs_up_before_answering_is_a_503_not_a_silent_loss(tmp_path):
    path = str(tmp_path / "rude.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(path)
    listener.listen(1)

    def rude() -> None:
        conn, _ = listener.accept()
        conn.recv(1 << 20)
        conn.close()  # took the report, never answered: its fate is unknown

    thread = threading.Thread(target=rude, daemon=True)
    thread.start()

    class NoFallback:
        def write(self, report: NewReport, timeout: float) -> None:
            raise AssertionError("a report already sent must not be written again")

    writer = RemoteWriter(path, fallback=NoFallback())  # type: ignore[arg-type]
    report = NewReport(project_id=1, received_at=utcnow(), traceback="ValueError: x", analysis=analyse("ValueError: x"))
    with pytest.raises(StoreUnavailable):
        writer.write(report, timeout=5)
    thread.join(5)
    listener.close()


def test_the_writer_process_stops_after_its_workers_hang_up(served):
    served.writer.write(served.report(), timeout=10)
    started = time.monotonic()
    served.writer.close()  # the worker's connections go away, as when it exits
    served.server.stop()
    served.thread.join(10)
    assert not served.thread.is_alive() and time.monotonic() - started < 5


def test_a_report_near_the_body_limit_crosses_the_socket_whole(served):
    text = KERAS_TRACEBACK + "\n" + "x = layer(x)  # a long log line\n" * 28_000  # ~900 KB, many socket reads
    stored = served.writer.write(served.report(text), timeout=10)
    with served.sessions() as session:
        assert session.get(Report, stored.report_id).traceback == text
