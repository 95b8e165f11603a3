"""A web worker's side of the writer process (store.writer_process): a report the worker can answer alone goes to
its thread's journal (store.acceptor); any other is sent over the thread's Unix-socket connection to the writer
process, and the thread blocks until the answer comes, so no thread of the worker writes.

When the writer process cannot be reached (not started, stopped, crashed, another release), reports go to the
worker's own in-process writer instead, and the process is tried again a few seconds later; a report is never
dropped for want of the writer process. Once a report is sent, only the writer's answer decides: if the
connection breaks before it comes, the outcome is unknown and the request answers 503 (a client retry may then
store it twice, never zero times).
"""

from __future__ import annotations

import logging
import os
import socket
import struct
import threading
import time
from concurrent.futures import TimeoutError as FutureTimeout

from diagnoser.store import wire
from diagnoser.store.acceptor import JournalAcceptor
from diagnoser.store.ingest import NewReport, Stored
from diagnoser.store.tokens import TokenRevoked
from diagnoser.store.writer import BatchWriter

log = logging.getLogger(__name__)

RETRY_SECONDS = 5.0  # how long a worker writes itself after the writer process could not be reached
ANSWER_GRACE_SECONDS = 60.0  # beyond the write timeout, for a batch already being committed when it passed


class StoreUnavailable(Exception):
    """The database (or the writer in front of it) could not store the report now; retrying later may work."""


class StoreRefused(Exception):
    """The database refused this report."""


class RemoteWriter:
    def __init__(self, socket_path: str, fallback: BatchWriter, write_timeout: float = 10.0,
                 acceptor: JournalAcceptor | None = None) -> None:
        self.socket_path = socket_path
        self.fallback = fallback
        self.acceptor = acceptor
        # How long a thread waits for an answer before giving up on the writer process (whose deadlines make it
        # answer long before, unless it hangs): the write timeout, plus a commit that was already running then.
        self.answer_limit = write_timeout + ANSWER_GRACE_SECONDS
        self._local = threading.local()
        self._retry_at = 0.0
        self._sockets: set[socket.socket] = set()  # every thread's, so close() reaches them all
        self._sockets_lock = threading.Lock()

    def write(self, report: NewReport, timeout: float) -> Stored:
        """Store `report`: into this thread's journal when the answer is known without the database
        (store.acceptor), else through the writer process, answering once committed (see BatchWriter.write for the
        timeout's meaning)."""
        changes = None
        if self.acceptor is not None:
            accepted = self.acceptor.accept(report)
            if accepted is not None:
                return accepted
            changes = self.acceptor.changes()
        if time.monotonic() < self._retry_at:
            return self.fallback.write(report, timeout)
        try:
            frame = wire.encode_report(report, report.token_id, time.monotonic() + timeout)
        except ValueError:  # a value marshal cannot carry: the in-process writer takes anything the database does
            return self.fallback.write(report, timeout)
        sock = self._send(frame)
        if sock is None:
            return self.fallback.write(report, timeout)
        try:
            answer = wire.decode_answer(self._receive(sock))
        except (OSError, wire.WireError) as error:
            self._close()
            raise StoreUnavailable(f"the writer process did not answer ({type(error).__name__})") from None
        if isinstance(answer, Stored):
            if self.acceptor is not None:
                self.acceptor.learn(report, answer, changes)
            return answer
        if answer is None:
            raise StoreUnavailable("the writer process answered a report with a sync")
        reason, detail = answer
        if reason == wire.PROTOCOL_MISMATCH:  # a writer of another release: this worker writes itself
            self._unreachable(f"it speaks another protocol ({detail})")
            return self.fallback.write(report, timeout)
        if reason == wire.EXPIRED:
            raise FutureTimeout()
        if reason == wire.REVOKED:
            raise TokenRevoked()
        if reason == wire.UNAVAILABLE:
            raise StoreUnavailable(detail)
        raise StoreRefused(detail)

    def sync(self) -> None:
        """Return once every report journaled on this machine until now is in the database, so the read that
        follows sees every report answered 201 (a no-op when nothing is journaled)."""
        if self.acceptor is None or self.acceptor.state() is None or time.monotonic() < self._retry_at:
            return
        sock = self._send(wire.encode_sync())
        if sock is None:
            return
        try:
            answer = wire.decode_answer(self._receive(sock))
        except (OSError, wire.WireError):
            self._close()
            return
        if answer is not None:
            log.warning("the writer process answered a sync with %r", answer)

    def announce(self, changes: int) -> None:
        """See JournalAcceptor.announce."""
        if self.acceptor is not None:
            self.acceptor.announce(changes)

    def _send(self, frame: bytes) -> socket.socket | None:
        """Send `frame` on this thread's connection (made or remade as needed); None when the process is out of
        reach. A send that fails on an old connection is retried once on a new one: a frame cut short is dropped
        by the writer, so it is never stored twice."""
        for _ in range(2):
            sock = self._connection()
            if sock is None:
                return None
            try:
                sock.sendall(frame)
                return sock
            except OSError:
                self._close()
        self._unreachable("its connection broke")
        return None

    def _connection(self) -> socket.socket | None:
        sock: socket.socket | None = getattr(self._local, "sock", None)
        if sock is not None and self._local.pid == os.getpid():
            return sock
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            sock.settimeout(5.0)
            sock.connect(self.socket_path)
            # Blocking, with the time limits set in the kernel rather than by Python: a Python-level timeout polls
            # before every send and receive, and each of those calls hands the GIL to another request thread and
            # waits to get it back, which under load cost more than the write.
            sock.settimeout(None)
            limit = struct.pack("ll", int(self.answer_limit), 0)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, limit)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, limit)
        except OSError as error:
            sock.close()
            self._unreachable(f"{type(error).__name__}: {error.strerror or error}")
            return None
        self._local.sock, self._local.pid, self._local.buffer = sock, os.getpid(), bytearray()
        with self._sockets_lock:
            self._sockets.add(sock)
        return sock

    def _receive(self, sock: socket.socket) -> bytes:
        """One answer frame's body (an answer is a few dozen bytes: usually one recv)."""
        buffer: bytearray = self._local.buffer
        header = wire.HEADER.size
        while True:
            if len(buffer) >= header:
                (length,) = wire.HEADER.unpack_from(buffer)
                if length > wire.MAX_FRAME:
                    raise wire.WireError("oversized answer")
                if len(buffer) >= header + length:
                    body = bytes(buffer[header:header + length])
                    del buffer[:header + length]
                    return body
            data = sock.recv(4096)
            if not data:
                raise ConnectionResetError("the writer process closed the connection")
            buffer += data

    def close(self) -> None:
        """Hang up every thread's connection (a worker that exits), so the writer process need not wait for them."""
        with self._sockets_lock:
            sockets, self._sockets = self._sockets, set()
        for sock in sockets:
            sock.close()

    def _close(self) -> None:
        sock = getattr(self._local, "sock", None)
        if sock is not None:
            sock.close()
            with self._sockets_lock:
                self._sockets.discard(sock)
        self._local.sock = None

    def _unreachable(self, why: str) -> None:
        if time.monotonic() >= self._retry_at:
            log.warning("writer process unreachable (%s); this worker writes its own reports for %.0f s", why,
                        RETRY_SECONDS)
        self._retry_at = time.monotonic() + RETRY_SECONDS
