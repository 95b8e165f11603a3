"""One writer process for all web workers: they hand it their reports over a Unix socket, it stores them in
group-committed transactions and answers each with where it went.

Why a process of its own: with a writer thread in each web worker, the workers took turns on SQLite's write lock,
and each writer re-acquired its worker's GIL after every SQLite call against sixteen request threads, holding the
write lock all the while: the machine sat 15-20% idle under load while requests waited. One single-threaded
process owns its GIL, never waits on another writer, and gathers every worker's reports into one batch, so a
batch grows with the load instead of being split across workers.

Nothing rests on it alone: a supervisor restarts it when it dies, a worker that cannot reach it writes through its
own in-process writer meanwhile (the cross-process file lock and the database's upsert keep that correct), and an
answer is sent only after the commit.

It also writes the workers' journals (store.journal): reports a worker accepted without waiting, because it knew
their group and token already. Those are read every few milliseconds, written in the same batches, each batch
saving how far into each journal it got; a worker's read asks it first to write everything journaled so far
(a sync), so what was answered 201 is what every read sees.
"""

from __future__ import annotations

import argparse
import logging
import os
import selectors
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import exc as sa_exc

from diagnoser.store import wire
from diagnoser.store.db import make_engine, make_sessionmaker
from diagnoser.store.ingest import prepare
from diagnoser.store.journal_import import IDLE_POLL_SECONDS, JOURNAL_POLL_SECONDS, JournalImport, Journaled, \
    store_with_positions
from diagnoser.store.positions import JournalOutOfOrder
from diagnoser.store.tokens import TokenRevoked
from diagnoser.store.writer import BatchCommitter, Pending

log = logging.getLogger("diagnoser.writer")

# Under load, commits are at least this far apart, so a batch gathers what arrives meanwhile: a transaction costs
# ~0.3 ms of CPU however few reports it holds, and one report more costs ~0.05 ms. After a quiet spell the first
# report is written at once (its wait would buy nothing), so this costs latency only when it buys throughput.
COMMIT_INTERVAL_SECONDS = 0.005
JOURNAL_COMMIT_SECONDS = 0.025  # the same when no one waits for the batch (journaled reports only)
ACTIVE_SECONDS = 1.0  # a connection that sent a report this recently may send another soon
STOP_GRACE_SECONDS = 30.0  # how long a stopping writer keeps answering workers that are still finishing requests
RECV_BYTES = 256 * 1024
WITHDRAW_SECONDS = 0.2  # after telling workers to stop journaling, before the last read of the journals


class _Client:
    """One worker thread's connection: bytes received but not yet a whole frame."""

    __slots__ = ("sock", "buffer", "last_sent", "waiting")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buffer = bytearray()
        self.last_sent = 0.0  # when it last sent a report (time.monotonic())
        self.waiting = 0  # its reports not answered yet


class _Waiting(Pending):
    """A report from a worker, with where to send the answer and until when it is still wanted."""

    __slots__ = ("client", "deadline")

    def __init__(self, report: wire.NewReport, client: _Client, deadline: float) -> None:
        super().__init__(report)
        self.client = client
        self.deadline = deadline


def refusal_of(error: BaseException) -> tuple[str, str]:
    """The wire reason for a report the database did not store."""
    if isinstance(error, TokenRevoked):
        return wire.REVOKED, "the token was revoked"
    if isinstance(error, (sa_exc.OperationalError, sa_exc.InterfaceError, sa_exc.TimeoutError,
                          JournalOutOfOrder)) or (
            isinstance(error, sa_exc.DBAPIError) and error.connection_invalidated):
        return wire.UNAVAILABLE, type(error).__name__
    return wire.REFUSED, type(error).__name__


class WriterServer:
    def __init__(self, database_url: str, socket_path: str, batch_max: int = 200,
                 stop_grace: float = STOP_GRACE_SECONDS, journal_dir: Path | None = None) -> None:
        self.stop_grace = stop_grace
        self._engine = make_engine(database_url)
        self.committer = BatchCommitter(make_sessionmaker(self._engine), store=store_with_positions)
        self.batch_max = batch_max
        self.socket_path = socket_path
        self._analyses = wire.AnalysisCache()
        self._selector = selectors.DefaultSelector()
        self._ready: list[_Waiting | Journaled] = []
        self._syncs: list[_Client] = []  # clients waiting for everything journaled to be written
        self._journals = (JournalImport(journal_dir, self._engine, self.committer.dialect)
                          if journal_dir is not None else None)
        self._clients: set[_Client] = set()
        self._stopping_since: float | None = None
        self._last_commit = 0.0
        self._parent = os.getppid()
        self._listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self._listener.bind(socket_path)
        self._listener.listen(256)
        self._listener.setblocking(False)
        self._selector.register(self._listener, selectors.EVENT_READ, None)

    @property
    def journaled(self) -> int:
        """Reports written from journals."""
        return self._journals.written if self._journals is not None else 0

    def stop(self, *_: object) -> None:
        """Stop once the workers are gone (they may still be finishing requests), or after a grace period."""
        if self._stopping_since is None:
            self._stopping_since = time.monotonic()

    # --- journals -------------------------------------------------------------------------------------------------

    def _poll(self) -> None:
        """Queue what the journals hold now (store.journal_import looks every few milliseconds)."""
        if self._journals is not None:
            self._ready.extend(self._journals.poll(self.batch_max - len(self._ready),
                                                   stopping=self._stopping_since is not None))

    def _read_everything(self) -> bool:
        """Queue every journal entry appended until now (that fits in a batch); False when there was none."""
        if self._journals is None:
            return False
        entries = self._journals.read(self.batch_max, everything=True)
        self._ready.extend(entries)
        return bool(entries)

    def _sync(self) -> None:
        """Write everything journaled until now, then answer the clients that asked (a read follows)."""
        for _ in range(10_000):
            if not self._ready and not self._read_everything():
                break
            self._write_ready()
            if self._journals is not None and not self._journals.healthy:
                break
        syncs, self._syncs = self._syncs, []
        for client in syncs:
            self._answer(client, wire.encode_synced())

    # --- the loop ---------------------------------------------------------------------------------------------------

    def serve_forever(self) -> None:
        if self._journals is not None:
            self._journals.open()
        try:
            while not self._should_exit():
                self._poll()
                wait = self._wait()
                if self._ready and wait > 0:
                    # Sleep rather than wake for every report that arrives meanwhile: one wake-up then reads
                    # everything that came, instead of a wake-up, a poll and a read per report.
                    time.sleep(wait)
                    wait = 0.0
                for key, _ in self._selector.select(wait):
                    if key.data is None:
                        self._accept()
                    else:
                        self._receive(key.data)
                if self._syncs:
                    self._sync()
                self._poll()
                if self._ready and self._wait() == 0:
                    self._last_commit = time.monotonic()
                    self._write_ready()
            self._drain_journals()
        finally:
            self.close()

    def _drain_journals(self) -> None:
        """Stopping: tell the workers (if any are left) to journal no more, give an append that had already
        decided to go ahead the time to land, then write what the journals hold, if the database lets us. What
        cannot be written now is written by the next writer to start on this folder."""
        if self._journals is None or self._journals.reader is None:
            return
        self._journals.withdraw()
        time.sleep(WITHDRAW_SECONDS)
        deadline = time.monotonic() + self.stop_grace
        while time.monotonic() < deadline:
            self._journals.healthy = True
            self._read_everything()
            if not self._ready:
                break
            self._write_ready()
            if not self._journals.healthy:
                time.sleep(0.5)
        if self._journals.pending():
            log.warning("stopping with journal entries not written yet: the next start writes them")
        self._journals.clean_up(force=True)

    def _wait(self) -> float:
        """How long to wait for more reports before writing the ready ones (when there are none: until the next
        look at the journals)."""
        if not self._ready:
            if self._journals is None:
                return 1.0
            return JOURNAL_POLL_SECONDS if self._journals.active else IDLE_POLL_SECONDS
        if len(self._ready) >= self.batch_max or self._stopping_since is not None:
            return 0.0
        now = time.monotonic()
        if not any(isinstance(w, _Waiting) for w in self._ready):
            # Journaled reports only: answered already, nobody waits, so fewer, larger batches (a read that
            # needs them asks for a sync, which writes at once).
            return max(0.0, self._last_commit + JOURNAL_COMMIT_SECONDS - now)
        if all(c.waiting for c in self._clients if now - c.last_sent < ACTIVE_SECONDS):
            return 0.0  # every recently active worker thread is waiting for us: nothing more will come
        return max(0.0, self._last_commit + COMMIT_INTERVAL_SECONDS - now)

    def _should_exit(self) -> bool:
        if os.getppid() != self._parent:  # the gunicorn master is gone: so are its workers
            return not self._ready
        if self._stopping_since is None:
            return False
        if self._ready:
            return False
        return not self._clients or time.monotonic() - self._stopping_since >= self.stop_grace

    def close(self) -> None:
        if self._journals is not None:
            self._journals.close()
        for client in list(self._clients):
            self._drop(client)
        try:
            self._selector.unregister(self._listener)
        except (KeyError, ValueError):
            pass
        self._listener.close()
        self._selector.close()
        self.committer.close()
        self._engine.dispose()

    def _accept(self) -> None:
        try:
            sock, _ = self._listener.accept()
        except (BlockingIOError, InterruptedError):
            return
        sock.setblocking(False)
        client = _Client(sock)
        self._clients.add(client)
        self._selector.register(sock, selectors.EVENT_READ, client)

    def _drop(self, client: _Client) -> None:
        if client in self._clients:
            self._clients.discard(client)
            try:
                self._selector.unregister(client.sock)
            except (KeyError, ValueError):
                pass
            client.sock.close()

    def _receive(self, client: _Client) -> None:
        try:
            data = client.sock.recv(RECV_BYTES)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            data = b""
        if not data:  # the worker closed it; a partial frame in the buffer was never a report
            self._drop(client)
            return
        buffer = client.buffer
        buffer += data
        header = wire.HEADER.size
        while len(buffer) >= header:
            (length,) = wire.HEADER.unpack_from(buffer)
            if length > wire.MAX_FRAME:
                log.warning("dropping a connection that sent a %d-byte frame", length)
                self._drop(client)
                return
            if len(buffer) < header + length:
                break
            body = bytes(buffer[header:header + length])
            del buffer[:header + length]
            self._accept_frame(client, body)

    def _accept_frame(self, client: _Client, body: bytes) -> None:
        client.last_sent = time.monotonic()
        client.waiting += 1  # until answered
        try:
            request = wire.decode_request(body, self._analyses)
        except wire.WireError as error:
            reason = wire.PROTOCOL_MISMATCH if str(error) == wire.PROTOCOL_MISMATCH else wire.REFUSED
            self._answer(client, wire.encode_refusal(reason, str(error)))
            return
        if request is None:
            self._syncs.append(client)
            return
        report, token_id, deadline = request
        report.token_id = token_id
        try:
            prepare(report, self.committer.dialect)
        except Exception:  # noqa: BLE001 - the write prepares it again and fails that report alone
            report.prepared = None
        self._ready.append(_Waiting(report, client, deadline))

    def _write_ready(self) -> None:
        batch, self._ready = self._ready[:self.batch_max], self._ready[self.batch_max:]
        now = time.monotonic()
        wanted: list[Pending] = []
        journaled: list[Journaled] = []
        for waiting in batch:
            if isinstance(waiting, Journaled):
                waiting.set_running_or_notify_cancel()
                wanted.append(waiting)
                journaled.append(waiting)
                continue
            if waiting.client not in self._clients:
                continue  # its worker hung up: it answered 503 already, so nothing must be stored
            if waiting.deadline < now:
                self._answer(waiting.client, wire.encode_refusal(wire.EXPIRED, "not written before its deadline"))
            else:
                waiting.set_running_or_notify_cancel()
                wanted.append(waiting)
        if not wanted:
            return
        self.committer.write(wanted)
        if self._journals is not None:
            errors = [p.exception(timeout=0) for p in wanted]
            unavailable = any(e is not None and refusal_of(e)[0] == wire.UNAVAILABLE for e in errors)
            if self._journals.after_batch(journaled, unavailable):  # read again from the saved positions
                self._ready = [w for w in self._ready if not isinstance(w, Journaled)]
            if not self._ready:
                self._journals.clean_up()
        for pending in wanted:
            if not isinstance(pending, _Waiting):
                continue
            error = pending.exception(timeout=0)
            if error is None:
                self._answer(pending.client, wire.encode_stored(pending.result(timeout=0)))
            else:
                reason, detail = refusal_of(error)
                if reason == wire.REFUSED:
                    log.error("the database refused a report: %s", error)
                self._answer(pending.client, wire.encode_refusal(reason, detail))

    def _answer(self, client: _Client, frame: bytes) -> None:
        client.waiting -= 1
        if client not in self._clients:
            return
        try:
            client.sock.sendall(frame)  # tiny, and its worker thread is waiting for it: the buffer is empty
        except OSError:
            self._drop(client)


class WriterProcess:
    """The writer process as the gunicorn master sees it: started before the workers fork, stopped after."""

    def __init__(self, process: subprocess.Popen[bytes], socket_path: str, folder: str) -> None:
        self.process = process
        self.socket_path = socket_path
        self.folder = folder

    def stop(self, timeout: float = STOP_GRACE_SECONDS + 5) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


def start_writer_process(batch_max: int, ready_timeout: float = 20.0) -> WriterProcess | None:
    """Start the writer process (it reads the database URL from the same DIAGNOSER_* environment) and wait until it
    listens. None, with the reason logged, when it cannot start: the workers then write themselves."""
    folder = tempfile.mkdtemp(prefix="diagnoser-writer-")  # 0700: only this user's processes may connect
    socket_path = os.path.join(folder, "writer.sock")
    process = subprocess.Popen(
        [sys.executable, "-m", "diagnoser.store.writer_process", "--socket", socket_path, "--batch-max",
         str(batch_max)],
        start_new_session=True,  # a Ctrl-C to the terminal stops the master, which stops this after the workers
    )
    deadline = time.monotonic() + ready_timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            break
        probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        try:
            probe.connect(socket_path)
            return WriterProcess(process, socket_path, folder)
        except OSError:
            time.sleep(0.05)
        finally:
            probe.close()
    log.error("the writer process did not start; each worker writes its own reports")
    WriterProcess(process, socket_path, folder).stop(timeout=5)
    return None


def _serve(database_url: str, socket_path: str, batch_max: int, journal_dir: Path | None) -> None:
    """The writer itself: listen on `socket_path` and store what comes until told to stop."""
    Path(socket_path).unlink(missing_ok=True)  # left by a writer that crashed
    server = WriterServer(database_url, socket_path, batch_max, journal_dir=journal_dir)
    signal.signal(signal.SIGTERM, server.stop)
    log.info("writer process listening (pid %d)", os.getpid())
    server.serve_forever()
    log.info("writer process stopped after %d reports in %d batches (%d from journals)", server.committer.written,
             server.committer.batches, server.journaled)
    Path(socket_path).unlink(missing_ok=True)


def _supervise(database_url: str, socket_path: str, batch_max: int, journal_dir: Path | None) -> None:
    """Run the writer in a child process and start a new one when it dies unexpectedly (the workers write
    themselves meanwhile and reconnect within seconds). Stops with its own parent, the gunicorn master."""
    parent = os.getppid()
    stopping = False
    child = 0

    def stop(*_: object) -> None:
        nonlocal stopping
        stopping = True
        if child:
            try:
                os.kill(child, signal.SIGTERM)
            except ProcessLookupError:
                pass

    signal.signal(signal.SIGTERM, stop)
    restarts: list[float] = []
    while not stopping:
        child = os.fork()
        if child == 0:  # the writer: a fresh interpreter state is not needed, nothing was opened yet
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            try:
                _serve(database_url, socket_path, batch_max, journal_dir)
            except BaseException:  # noqa: BLE001 - logged; the supervisor starts another
                log.exception("the writer process failed")
                os._exit(1)
            os._exit(0)
        while True:
            done, status = os.waitpid(child, os.WNOHANG)
            if done:
                break
            if os.getppid() != parent and not stopping:  # the master died without stopping us
                stop()
            time.sleep(0.2)
        if stopping or (os.WIFEXITED(status) and os.WEXITSTATUS(status) == 0):
            return
        now = time.monotonic()
        restarts = [t for t in restarts if now - t < 60] + [now]
        log.error("the writer process died (%s); starting another", _describe(status))
        time.sleep(min(5.0, 0.5 * len(restarts)))  # a writer that keeps dying is not restarted in a tight loop


def _describe(status: int) -> str:
    if os.WIFSIGNALED(status):
        return f"signal {os.WTERMSIG(status)}"
    return f"exit status {os.WEXITSTATUS(status)}"


def main(argv: list[str] | None = None) -> None:
    from diagnoser.settings import SettingsError, load_settings

    parser = argparse.ArgumentParser(prog="python -m diagnoser.store.writer_process", description=__doc__.split("\n")[0])
    parser.add_argument("--socket", required=True, help="Unix socket to listen on")
    parser.add_argument("--batch-max", type=int, default=200)
    parser.add_argument("--no-supervisor", action="store_true", help="serve in this process; do not restart it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s")
    try:
        settings = load_settings()
    except SettingsError as error:
        sys.exit(f"diagnoser writer: {error}")
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    journal_dir = settings.resolved_journal_dir if settings.journal else None
    if args.no_supervisor or not hasattr(os, "fork"):
        _serve(settings.resolved_database_url, args.socket, args.batch_max, journal_dir)
    else:
        _supervise(settings.resolved_database_url, args.socket, args.batch_max, journal_dir)


if __name__ == "__main__":
    main()
